#!/bin/sh
# whoami.cgi: what the instance knows about the client, from the PROXY
# header haproxy sent it (REMOTE_ADDR and REMOTE_PORT are the browser's,
# not haproxy's).
printf 'Content-Type: text/plain\n\n'
printf 'client %s port %s\n' "$REMOTE_ADDR" "$REMOTE_PORT"
