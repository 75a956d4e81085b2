#!/bin/sh
# hello.sh: the handler of hello.c as a transient handler: one process
# per request, the response socket on standard output, the method, URL
# and rest string as the last three arguments, the headers in REQ_*
# variables (ashd(7)).
method=$1 url=$2 rest=$3
name=$(printf '%s' "$url" | sed -n 's/.*[?&]name=\([A-Za-z0-9_-]*\).*/\1/p' |
    cut -c1-63)
[ -n "$name" ] || name=world
body="Hello, $name!
from: sh
method: $method
rest: $rest
user-agent: ${REQ_USER_AGENT:--}
"
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n'
printf 'Content-Length: %s\r\n\r\n' "$(printf '%s' "$body" | wc -c)"
printf '%s' "$body"	# htparser leaves it out after a HEAD
