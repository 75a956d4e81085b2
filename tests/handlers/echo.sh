#!/bin/sh
# echo.sh: a transient test handler in plain sh.
#
# Standard input and output are the response socket; the last three
# arguments are the method, the raw URL and the rest string, and the
# request headers arrive as REQ_* variables.  The answer is a 200
# text/plain response without Content-Length (the server frames it)
# whose body lists every argument, HTTP_VERSION, the REQ_* variables
# sorted, and finally the request body after a "body:" line.
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n'
n=0
for arg in "$@"; do
	n=$((n + 1))
	printf 'arg %d: %s\n' "$n" "$arg"
done
printf 'HTTP_VERSION=%s\n' "$HTTP_VERSION"
env | grep '^REQ_' | LC_ALL=C sort
printf 'body:\n'
exec cat
