#!/bin/sh
# A CGI script: callcgi runs it with the request in CGI/1.1 variables
# and the body on standard input; it answers with a CGI header block.
printf 'Content-Type: text/plain; charset=utf-8\n\n'
printf 'Hello from a CGI script.\n\n'
printf 'REQUEST_METHOD=%s\nSCRIPT_NAME=%s\nPATH_INFO=%s\nQUERY_STRING=%s\n' \
    "$REQUEST_METHOD" "$SCRIPT_NAME" "${PATH_INFO-}" "$QUERY_STRING"
printf 'REMOTE_ADDR=%s\nSERVER_NAME=%s\nSERVER_PORT=%s\n' \
    "$REMOTE_ADDR" "$SERVER_NAME" "$SERVER_PORT"
if [ -n "${CONTENT_LENGTH-}" ]; then
	printf '\nThe request body (%s bytes):\n' "$CONTENT_LENGTH"
	head -c "$CONTENT_LENGTH"
	echo
fi
