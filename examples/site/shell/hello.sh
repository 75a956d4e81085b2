#!/bin/sh
# A transient handler: the last three arguments are the method, the
# raw URL and the rest string; request headers are in REQ_* variables.
method=$1 url=$2 rest=$3
name=$(printf '%s' "$url" | sed -n 's/.*[?&]name=\([A-Za-z0-9_-]*\).*/\1/p')
[ -n "$name" ] || name=world
body="Hello, $name!
You asked for $url ($method), rest string \"$rest\", via ${REQ_HOST:-no host}.
"
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n'
printf 'Content-Length: %s\r\n\r\n' "$(printf '%s' "$body" | wc -c)"
[ "$method" = HEAD ] || printf '%s' "$body"
