#!/usr/bin/env bats
# htparser.bats: htparser over real TCP on 127.0.0.1, with echo-handler
# (tests/handlers/echo-handler.c) as the root handler.  Each test starts
# its own htparser on a free port; teardown kills it by PID.  Normal
# requests go through curl; exact bytes (malformed input, pipelining,
# 100-continue, duplex) through the python3 client `rawhttp` of
# helper.bash.  A rejected request is always followed, in the same
# write, by a second request that must never be answered.

load helper

H='Host: x\r\n'
SMUGGLED='GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'

url() {
	printf 'http://127.0.0.1:%s%s' "$PORT" "$1"
}

# wait_inflight: wait until a request has reached echo-handler (its
# root process has forked a child to serve it).
wait_inflight() {
	local root i
	for ((i = 0; i < 250; i++)); do
		root=$(children_of "$HTPARSER_PID" | head -n 1)
		if [ -n "$root" ] && [ -n "$(children_of "$root")" ]; then
			return 0
		fi
		sleep 0.02
	done
	fail "no request reached the handler"
}

# curl_get PATH [CURL OPTIONS...]: GET with curl; the head goes to
# $TEST_TMP/head (CRs removed), the body to $TEST_TMP/body; prints the
# status code.
curl_get() {
	local path=$1
	shift
	curl -sS -m 10 -D "$TEST_TMP/head.raw" -o "$TEST_TMP/body" \
	    -w '%{http_code}' "$@" "$(url "$path")"
	tr -d '\r' <"$TEST_TMP/head.raw" >"$TEST_TMP/head"
}

# head_field NAME: value of NAME in $TEST_TMP/head (first one).
head_field() {
	header_value "$1" "$(cat "$TEST_TMP/head")"
}

# expect_rejected CODES REQUEST [HTPARSER OPTIONS...]: REQUEST (escapes)
# followed by a smuggled one in the same write gets exactly one
# response whose status matches the regex CODES, not from the handler,
# and the connection is closed.
expect_rejected() {
	local codes=$1 req=$2
	shift 2
	start_htparser "$@"
	run rawhttp -t 5 -s "$req$SMUGGLED" -c
	assert_status 0
	assert_match "$(status_codes "$output")" "^($codes)\$"
	assert_not_contains "$output" smuggled
	assert_not_contains "$output" $'\nmethod '
}

# expect_accepted REQUEST: a complete request (with Connection: close)
# is answered 200 by the handler; its description is in $output.
expect_accepted() {
	start_htparser "$@"
	run rawhttp -t 5 -s "$REQ" -c
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
	assert_contains "$output" $'\nmethod '
}

# ---------------------------------------------------------------------
# Command line

@test "htparser -h prints the usage and exits 0" {
	run timeout 5 "$HTPARSER" -h
	assert_status 0
	assert_match "${output,,}" 'usage'
	assert_contains "$output" PORTSPEC
}

@test "htparser: bad usage exits 2" {
	port=$(free_port)
	run timeout 5 "$HTPARSER" -Z "plain:port=$port,local=127.0.0.1" -- "$ECHO_HANDLER"
	assert_status 2
	run timeout 5 "$HTPARSER" "plain:port=$port,local=127.0.0.1"
	assert_status 2
	run timeout 5 "$HTPARSER" "bogus:port=$port" -- "$ECHO_HANDLER"
	assert_status 2
	run timeout 5 "$HTPARSER" "plain:port=$port,bogus=1" -- "$ECHO_HANDLER"
	assert_status 2
	run timeout 5 "$HTPARSER" -o bogus=1 "plain:port=$port,local=127.0.0.1" -- "$ECHO_HANDLER"
	assert_status 2
	run timeout 5 "$HTPARSER" -o timeout-idle=abc "plain:port=$port,local=127.0.0.1" -- "$ECHO_HANDLER"
	assert_status 2
	run timeout 5 "$HTPARSER" -- "$ECHO_HANDLER"
	assert_status 2
}

@test "htparser -o help lists every option of htparser(1) with its default" {
	local man want got
	run timeout 5 "$HTPARSER" -o help
	assert_status 0
	got=$(printf '%s\n' "$output" | sed -nE 's/^  ([a-z-]+=[0-9.]+) .*/\1/p' | sort)
	man=$ASHD_SRCDIR/doc/htparser.1
	want=$(sed -nE 's/^\.It Cm ([a-z-]+) Ta ([0-9.]+) Ta .*/\1=\2/p' "$man" | sort)
	[ -n "$want" ] || fail "no option table in $man"
	assert_equal "$got" "$want"
	# The usage names them too.
	run timeout 5 "$HTPARSER" -h
	for o in $want; do
		assert_contains "$output" "${o%%=*}"
	done
}

@test "htparser plain:help prints the parameters and exits 0" {
	run timeout 5 "$HTPARSER" plain:help
	assert_status 0
	assert_contains "$output" port
	assert_contains "$output" local
}

@test "htparser: a port in use makes it exit 1" {
	port=$(free_port)
	start_bg "$TEST_TMP/holder.log" python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(30)' "$port"
	wait_port "$port" 5 "$BG_PID"
	run timeout 5 "$HTPARSER" "plain:port=$port,local=127.0.0.1" -- "$ECHO_HANDLER"
	assert_status 1
}

# ---------------------------------------------------------------------
# What the handler receives

@test "GET: method, raw URL, version and rest string reach the handler" {
	start_htparser
	code=$(curl_get '/a/b/c?d=e')
	assert_equal "$code" 200
	body=$(cat "$TEST_TMP/body")
	assert_equal "$(sed -n 1,4p "$TEST_TMP/body")" \
	    $'method GET\nurl /a/b/c?d=e\nversion HTTP/1.1\nrest a/b/c'
	assert_equal "$(head_field Content-Type)" text/plain
	assert_equal "$(head_field Content-Length)" "$(wc -c <"$TEST_TMP/body")"
}

@test "the URL is passed raw, without unescaping" {
	start_htparser
	run raw_request "GET /a%20b/c%2Fd/?x=%41&y=%zz HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
	assert_status 0
	assert_contains "$output" $'\nurl /a%20b/c%2Fd/?x=%41&y=%zz\n'
	assert_contains "$output" $'\nrest a%20b/c%2Fd/\n'
}

@test "dot-segments: resolved in the rest string (RFC 3986 5.2.4), encoded too; the URL stays raw" {
	local t want
	start_htparser
	# target -> rest string
	while read -r t want; do
		[ "$want" = '""' ] && want=
		run raw_request "GET $t HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
		assert_status 0
		assert_equal "$(status_codes "$output")" 200
		assert_contains "$output" $'\nurl '"$t"$'\n'
		assert_contains "$output" $'\nrest '"$want"$'\n'
	done <<'EOF'
/a/./b/../c?x=/../ a/c
/a/b/.. a/
/a/b/. a/b/
/a/%2e/b/%2E%2e/c a/c
/a/b/.%2e/c a/c
/a/b/%2e./c?q a/c
/a/.. ""
/. ""
/a%2fb/../c c
/a%2fb/c a%2fb/c
/.hidden/..x/.../x..y .hidden/..x/.../x..y
/a/%2e%2e%2e/b a/%2e%2e%2e/b
/a%00b/./c a%00b/c
http://x/a/../b?c b
EOF
}

@test "dot-segments: a path above the root, or a dot-segment made by %2f or %00, is 400" {
	local t
	for t in /.. /../x /a/../.. /a/../../etc/passwd /%2e%2e/x /.%2E/x \
	    /a/%2e%2e/%2e%2e/x /a/..%2fx /a%2f..%2fb /..%2F..%2Fetc%2Fpasswd \
	    /a/..%00 /a/.%00/b /a/%2e%2e%00 http://x/../a; do
		expect_rejected 400 "GET $t HTTP/1.1\r\n$H\r\n"
		kill_bg
	done
}

@test "absolute-form: the target's host is the Host the handler sees (RFC 9112 3.2.2)" {
	local t host want
	start_htparser
	# target, client's Host (- for none: then HTTP/1.0), Host passed on
	while read -r t host want; do
		if [ "$host" = - ]; then
			run raw_request "GET $t HTTP/1.0\r\n\r\n"
		else
			run raw_request "GET $t HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n"
		fi
		assert_status 0
		assert_equal "$(status_codes "$output")" 200
		assert_contains "$output" $'\nurl '"$t"$'\n'
		assert_equal "$(grep -ci '^header host:' <<<"$output")" 1
		assert_contains "$output" $'\nheader Host: '"$want"$'\n'
	done <<'EOF'
http://a.example/x b.example a.example
http://a.example:8080/x?q b.example a.example:8080
HTTPS://A.example b.example:443 A.example
http://[::1]:81/ b.example [::1]:81
http://a.example?q - a.example
/x b.example b.example
EOF
	# A target whose authority is no valid Host is refused.
	for t in http://a:b/x http://a:80:81/ 'http://[::1/'; do
		expect_rejected 400 "GET $t HTTP/1.1\r\n$H\r\n"
		kill_bg
	done
}

@test "the root URL gives an empty rest string" {
	start_htparser
	code=$(curl_get '/?q')
	assert_equal "$code" 200
	assert_equal "$(sed -n 4p "$TEST_TMP/body")" 'rest '
}

@test "headers reach the handler in order, as spelt, values trimmed" {
	start_htparser
	run raw_request "GET /h HTTP/1.1\r\nHost: example.org\r\nX-B: 2\r\nx-a:   1 \t \r\nX-Empty:\r\nX-Inner: a  b\tc\r\nX-B: again\r\nConnection: close\r\n\r\n"
	assert_status 0
	client=$(printf '%s\n' "$output" | grep '^header ' | grep -vi '^header x-ash-' |
	    grep -vi '^header connection:')
	assert_equal "$client" $'header Host: example.org\nheader X-B: 2\nheader x-a: 1\nheader X-Empty: \nheader X-Inner: a  b\tc\nheader X-B: again'
}

@test "client X-Ash-* headers are stripped and the six are added" {
	start_htparser
	curl -sS -m 5 -o "$TEST_TMP/body" -w '%{local_port}' \
	    -H 'X-Ash-Address: 6.6.6.6' -H 'x-ash-protocol: https' \
	    -H 'X-ASH-Bogus: 1' -H 'X-Ashtray: kept' \
	    "$(url /)" >"$TEST_TMP/lport"
	lport=$(cat "$TEST_TMP/lport")
	body=$(cat "$TEST_TMP/body")
	assert_not_contains "$body" 6.6.6.6
	assert_not_contains "$body" https
	assert_not_contains "${body,,}" bogus
	assert_contains "$body" $'\nheader X-Ashtray: kept\n'
	ash=$(grep -i '^header x-ash-' "$TEST_TMP/body" | sed -E 's/(Connection-ID: )[0-9]+$/\1N/')
	assert_equal "$ash" "header X-Ash-Address: 127.0.0.1
header X-Ash-Port: $lport
header X-Ash-Server-Address: 127.0.0.1
header X-Ash-Server-Port: $PORT
header X-Ash-Protocol: http
header X-Ash-Connection-ID: N"
	# Appended after the client's headers.
	assert_equal "$(grep '^header ' "$TEST_TMP/body" | tail -n 6)" \
	    "$(grep -i '^header x-ash-' "$TEST_TMP/body")"
}

@test "X-Ash-Connection-ID is the same on one connection, differs across" {
	start_htparser
	curl -sS -m 5 "$(url /1)" "$(url /2)" >"$TEST_TMP/two"
	curl -sS -m 5 "$(url /3)" >"$TEST_TMP/three"
	ids=$(sed -n 's/^header X-Ash-Connection-ID: //p' "$TEST_TMP/two")
	other=$(sed -n 's/^header X-Ash-Connection-ID: //p' "$TEST_TMP/three")
	assert_match "$ids" '^[0-9]+'$'\n''[0-9]+$'
	assert_equal "$(sed -n 1p <<<"$ids")" "$(sed -n 2p <<<"$ids")"
	assert_match "$other" '^[0-9]+$'
	[ "$other" != "$(sed -n 1p <<<"$ids")" ] || fail "same connection id $other"
}

@test "HTTP/1.0 requests keep their version; any token method passes" {
	start_htparser
	run raw_request "FOO /x HTTP/1.0\r\n\r\n"
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
	assert_contains "$output" $'\nmethod FOO\nurl /x\nversion HTTP/1.0\nrest x\n'
}

@test "POST with Content-Length: body and header reach the handler" {
	start_htparser
	head -c 1048576 /dev/urandom >"$TEST_TMP/up"
	code=$(curl_get '/?echo' --data-binary @"$TEST_TMP/up")
	assert_equal "$code" 200
	cmp "$TEST_TMP/up" "$TEST_TMP/body"
	code=$(curl_get '/p' --data-binary @"$TEST_TMP/up")
	assert_equal "$code" 200
	assert_contains "$(cat "$TEST_TMP/body")" $'\nheader Content-Length: 1048576\n'
	assert_contains "$(cat "$TEST_TMP/body")" $'\nbody-length 1048576'
}

@test "chunked request body is de-chunked for the handler" {
	start_htparser
	head -c 3000000 /dev/urandom >"$TEST_TMP/up"
	code=$(curl_get '/?echo' -H 'Transfer-Encoding: chunked' --data-binary @"$TEST_TMP/up")
	assert_equal "$code" 200
	cmp "$TEST_TMP/up" "$TEST_TMP/body"
	code=$(curl_get '/p' -H 'Transfer-Encoding: chunked' --data-binary @"$TEST_TMP/up")
	assert_equal "$code" 200
	body=$(cat "$TEST_TMP/body")
	assert_contains "$body" $'\nbody-length 3000000'
	assert_not_contains "${body,,}" 'header transfer-encoding'
	assert_not_contains "${body,,}" 'header content-length'
}

@test "chunk extensions and trailers are accepted and dropped" {
	start_htparser
	run raw_request "POST /?echo HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1;q=\"a b\"\r\nhello\r\n6\r\n world\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
	assert_equal "$(body_of "$output")" "hello world0123456789"
}

@test "Transfer-Encoding: Chunked is case-insensitive" {
	start_htparser
	run raw_request "POST /?echo HTTP/1.1\r\n${H}Transfer-Encoding: Chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
	assert_equal "$(body_of "$output")" abc
}

# ---------------------------------------------------------------------
# Connections

@test "keep-alive: curl reuses one connection for two requests" {
	start_htparser
	run curl -sS -m 5 -o /dev/null -o /dev/null -w '%{num_connects} %{http_code}\n' \
	    "$(url /a)" "$(url /b)"
	assert_status 0
	assert_equal "$output" $'1 200\n0 200'
}

@test "pipelining: three requests in one write, three responses in order" {
	start_htparser
	req="GET /p1?sleep=300 HTTP/1.1\r\n$H\r\n"
	req+="POST /p2 HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello"
	req+="GET /p3 HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
	rawhttp -s "$req" -c >"$TEST_TMP/out"
	run resp_framing "$TEST_TMP/out"
	assert_equal "$output" $'200 length\n200 length\n200 length'
	assert_contains "$(cat "$TEST_TMP/out.1")" $'url /p1?sleep=300\n'
	assert_contains "$(cat "$TEST_TMP/out.2")" $'url /p2\n'
	assert_contains "$(cat "$TEST_TMP/out.2")" $'body-length 5'
	assert_contains "$(cat "$TEST_TMP/out.3")" $'url /p3\n'
	assert_equal "$(grep -h Connection-ID "$TEST_TMP"/out.[123] | sort -u | wc -l)" 1
	assert_equal "$(header_value Connection "$(cat "$TEST_TMP/out.h3")")" close
}

@test "HTTP/1.0 closes after the response by default" {
	start_htparser
	run raw_request "GET /one HTTP/1.0\r\n\r\nGET /two HTTP/1.0\r\n\r\n"
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
	assert_contains "$output" $'\nurl /one\n'
	assert_not_contains "$output" /two
	assert_equal "$(header_value Connection "$output")" close
}

@test "HTTP/1.0 keeps the connection with Connection: keep-alive" {
	start_htparser
	rawhttp -s "GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /two HTTP/1.0\r\n\r\nGET /three HTTP/1.0\r\n\r\n" -c >"$TEST_TMP/out"
	run resp_framing "$TEST_TMP/out"
	assert_equal "$output" $'200 length\n200 length'
	assert_equal "$(header_value Connection "$(cat "$TEST_TMP/out.h1")")" keep-alive
	assert_equal "$(header_value Connection "$(cat "$TEST_TMP/out.h2")")" close
	assert_contains "$(cat "$TEST_TMP/out.2")" $'url /two\n'
}

@test "Connection: close from the client is honoured" {
	start_htparser
	code=$(curl_get / -H 'Connection: close')
	assert_equal "$code" 200
	assert_equal "$(head_field Connection)" close
	run raw_request "GET /first HTTP/1.1\r\n${H}Connection: close\r\n\r\n$SMUGGLED"
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
	assert_not_contains "$output" smuggled
}

# ---------------------------------------------------------------------
# Responses

@test "Date and Server are added; a handler's Server is kept" {
	start_htparser
	code=$(curl_get /)
	assert_equal "$code" 200
	assert_equal "$(head_field Server)" ashd-ng/0.1
	assert_match "$(head_field Date)" \
	    '^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3][0-9] (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) 20[0-9]{2} [0-2][0-9]:[0-5][0-9]:[0-6][0-9] GMT$'
	code=$(curl_get '/?header=Server:mine%2F1.0')
	assert_equal "$(head_field Server)" mine/1.0
	assert_equal "$(header_count Server "$(cat "$TEST_TMP/head")")" 1
}

@test "status and reason from the handler reach the client" {
	start_htparser
	code=$(curl_get '/?status=404&header=X-Test:yes')
	assert_equal "$code" 404
	assert_equal "$(head -n 1 "$TEST_TMP/head")" 'HTTP/1.1 404 Not Found'
	assert_equal "$(head_field X-Test)" yes
}

@test "no length from the handler: chunked response on HTTP/1.1" {
	start_htparser
	python3 -c 'import sys; sys.stdout.write(("0123456789abcdef" * 7000)[:100000])' >"$TEST_TMP/expect"
	code=$(curl_get '/?nolength&size=100000')
	assert_equal "$code" 200
	assert_equal "$(head_field Transfer-Encoding)" chunked
	run head_field Content-Length
	assert_status 1
	cmp "$TEST_TMP/expect" "$TEST_TMP/body"
	# Strictly framed, and the connection is reusable afterwards.
	rawhttp -s "GET /?nolength HTTP/1.1\r\n$H\r\nGET /next HTTP/1.1\r\n${H}Connection: close\r\n\r\n" -c >"$TEST_TMP/out"
	run resp_framing "$TEST_TMP/out"
	assert_equal "$output" $'200 chunked\n200 length'
	assert_contains "$(cat "$TEST_TMP/out.1")" $'url /?nolength\n'
	assert_contains "$(cat "$TEST_TMP/out.2")" $'url /next\n'
}

@test "no length from the handler on HTTP/1.0: delimited by the close" {
	start_htparser
	rawhttp -s "GET /?nolength HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /two HTTP/1.0\r\n\r\n" -c >"$TEST_TMP/out"
	run resp_framing "$TEST_TMP/out"
	assert_equal "$output" '200 close'
	assert_contains "$(cat "$TEST_TMP/out.1")" $'url /?nolength\n'
	assert_not_contains "$(cat "$TEST_TMP/out.1")" /two
	assert_equal "$(header_count Transfer-Encoding "$(cat "$TEST_TMP/out.h1")")" 0
	assert_equal "$(header_value Connection "$(cat "$TEST_TMP/out.h1")")" close
}

# raw_get VERSION RESPONSE [METHOD]: a request on HTTP/VERSION whose
# handler (tests/hostile/raw-handler.py, started by start_raw) writes
# RESPONSE (escapes; '|' splits it into writes); what the client
# received goes to $TEST_TMP/out.
start_raw() {
	ECHO_HANDLER=$ASHD_SRCDIR/tests/hostile/raw-handler.py start_htparser "$@"
}
raw_get() {
	local q
	q=$(python3 -c 'import codecs, sys, urllib.parse
print(urllib.parse.quote(codecs.escape_decode(sys.argv[1].encode())[0], safe=""))' "$2")
	rawhttp -t 5 -s "${3:-GET} /?$q HTTP/$1\r\n${H}Connection: close\r\n\r\n" -c >"$TEST_TMP/out"
}

@test "response framing: a handler's chunked body is decoded and framed again, chunked on 1.1, by the close on 1.0" {
	local r=$'HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\nX-A: 1\r\n\r\n5\r\nhel|lo\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\nGARBAGE'
	start_raw
	raw_get 1.1 "$r"
	run resp_summary "$TEST_TMP/out"
	assert_equal "$output" '200 chunked 8'
	assert_equal "$(cat "$TEST_TMP/out.1")" helloabc
	assert_equal "$(header_count Transfer-Encoding "$(cat "$TEST_TMP/out.h1")")" 1
	assert_equal "$(header_value X-A "$(cat "$TEST_TMP/out.h1")")" 1
	raw_get 1.0 "$r"
	run resp_summary "$TEST_TMP/out"
	assert_equal "$output" '200 close 8'
	assert_equal "$(cat "$TEST_TMP/out.1")" helloabc
	assert_equal "$(header_count Transfer-Encoding "$(cat "$TEST_TMP/out.h1")")" 0
	assert_equal "$(header_value Connection "$(cat "$TEST_TMP/out.h1")")" close
	# The connection is kept on 1.1 and the next request is served.
	q=$(python3 -c 'import urllib.parse, sys; print(urllib.parse.quote(sys.argv[1], safe=""))' \
	    $'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n')
	rawhttp -s "GET /?$q HTTP/1.1\r\n$H\r\nGET /next HTTP/1.1\r\n${H}Connection: close\r\n\r\n" -c >"$TEST_TMP/out"
	run resp_summary "$TEST_TMP/out"
	assert_equal "$output" $'200 chunked 2\n200 length 10'
	assert_equal "$(cat "$TEST_TMP/out.2")" 'path next'
}

@test "response framing: Transfer-Encoding with Content-Length, or a coding other than chunked, is 502" {
	local te
	start_raw
	for v in 1.1 1.0; do
		raw_get "$v" $'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello'
		run resp_summary "$TEST_TMP/out"
		assert_match "$output" '^502 length [0-9]+$'
		assert_not_contains "$(cat "$TEST_TMP/out")" hello
		for te in 'gzip, chunked' gzip identity 'chunked, chunked' \
		    'chunked\r\nTransfer-Encoding: chunked' ''; do
			raw_get "$v" "HTTP/1.1 200 OK\r\nTransfer-Encoding: $te\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
			run resp_summary "$TEST_TMP/out"
			assert_match "$output" '^502 length [0-9]+$'
			assert_not_contains "$(cat "$TEST_TMP/out")" hello
		done
	done
	assert_contains "$(cat "$HTPARSER_LOG")" 'both Transfer-Encoding and Content-Length'
	assert_contains "$(cat "$HTPARSER_LOG")" 'a transfer coding other than chunked'
}

@test "response framing: a cut or malformed chunked body from the handler never reaches the client complete" {
	start_raw
	for r in '5\r\nhello\r\n' '5\r\nhello\r\nzz\r\n' '5\r\nhelloXX' '5\r\nhello\r\n0\r\n'; do
		raw_get 1.1 "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n$r"
		run resp_summary "$TEST_TMP/out"
		assert_status 1
		assert_match "$output" '^error: response 1: (incomplete chunk line|short chunk)'
		assert_not_contains "$(cat "$TEST_TMP/out")" $'0\r\n\r\n'
	done
	assert_contains "$(cat "$HTPARSER_LOG")" 'malformed chunked body'
	assert_contains "$(cat "$HTPARSER_LOG")" 'ended its chunked response early'
}

@test "response framing: one Content-Length, none on 204; HEAD and 304 keep theirs" {
	start_raw
	raw_get 1.1 $'HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello'
	run resp_summary "$TEST_TMP/out"
	assert_equal "$output" '200 length 5'
	assert_equal "$(header_count Content-Length "$(cat "$TEST_TMP/out.h1")")" 1
	raw_get 1.1 $'HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello'
	assert_equal "$(status_codes "$(cat "$TEST_TMP/out")")" 502
	raw_get 1.1 $'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n'
	assert_equal "$(status_codes "$(cat "$TEST_TMP/out")")" 502
	raw_get 1.1 $'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n'
	run resp_summary "$TEST_TMP/out"
	assert_equal "$output" '204 none 0'
	assert_equal "$(header_count Content-Length "$(cat "$TEST_TMP/out.h1")")" 0
	raw_get 1.1 $'HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n'
	run resp_summary "$TEST_TMP/out"
	assert_equal "$output" '304 none 0'
	assert_equal "$(header_value Content-Length "$(cat "$TEST_TMP/out.h1")")" 7
	raw_get 1.1 $'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' HEAD
	run resp_summary "$TEST_TMP/out" 1
	assert_equal "$output" '200 head 0'
	assert_equal "$(header_count Transfer-Encoding "$(cat "$TEST_TMP/out.h1")")" 0
	assert_equal "$(cat "$TEST_TMP/out.1")" ''
}

@test "HEAD gets the head only, even when the handler writes a body" {
	start_htparser
	rawhttp -s "HEAD /h HTTP/1.1\r\n$H\r\nHEAD /h?nolength HTTP/1.1\r\n$H\r\nGET /g HTTP/1.1\r\n${H}Connection: close\r\n\r\n" -c >"$TEST_TMP/out"
	run resp_framing "$TEST_TMP/out" 1 2
	assert_equal "$output" $'200 head\n200 head\n200 length'
	assert_match "$(header_value Content-Length "$(cat "$TEST_TMP/out.h1")")" '^[1-9][0-9]*$'
	assert_not_contains "$(cat "$TEST_TMP/out")" 'method HEAD'
	assert_contains "$(cat "$TEST_TMP/out.3")" $'method GET\nurl /g\n'
}

@test "HEAD with curl -I" {
	start_htparser
	run curl -sS -m 5 -I "$(url /x)"
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
	assert_not_contains "$output" 'method'
}

@test "204 and 304 responses carry no body" {
	start_htparser
	rawhttp -s "GET /?status=204 HTTP/1.1\r\n$H\r\nGET /?status=304&nolength HTTP/1.1\r\n$H\r\nGET /last HTTP/1.1\r\n${H}Connection: close\r\n\r\n" -c >"$TEST_TMP/out"
	run resp_framing "$TEST_TMP/out"
	assert_equal "$output" $'204 none\n304 none\n200 length'
	assert_contains "$(cat "$TEST_TMP/out.3")" $'url /last\n'
}

@test "a handler head with bare LF line ends is sent with CRLF" {
	start_htparser
	rawhttp -s "GET /?lf&header=X-One:1 HTTP/1.1\r\n${H}Connection: close\r\n\r\n" -c >"$TEST_TMP/out"
	run resp_framing "$TEST_TMP/out"
	assert_equal "$output" '200 length'
	assert_equal "$(header_value X-One "$(cat "$TEST_TMP/out.h1")")" 1
	assert_equal "$(header_value Content-Type "$(cat "$TEST_TMP/out.h1")")" text/plain
	assert_contains "$(cat "$TEST_TMP/out.1")" $'url /?lf&header=X-One:1\n'
}

@test "hop-by-hop headers from the handler are dropped" {
	start_htparser
	code=$(curl_get '/?header=Keep-Alive:timeout=99&header=X-Keep:1')
	assert_equal "$code" 200
	assert_equal "$(header_count Keep-Alive "$(cat "$TEST_TMP/head")")" 0
	assert_equal "$(head_field X-Keep)" 1
}

@test "Expect: 100-continue gets 100 Continue before the body is sent" {
	start_htparser
	run rawhttp -t 3 -s "POST /?echo HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n" \
	    -e 'HTTP/1.1 100 Continue\r\n\r\n' -s hello -c
	assert_status 0
	assert_equal "$(status_codes "$output")" '100 200'
	assert_equal "${output##*$'\r\n\r\n'}" hello
}

@test "Expect: 100-continue on a request without a body sends no 100" {
	start_htparser
	run raw_request "GET / HTTP/1.1\r\n${H}Expect: 100-continue\r\nConnection: close\r\n\r\n"
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
}

@test "a large response to a slow reader keeps htparser's memory bounded" {
	start_htparser
	run python3 -c '
import os, socket, sys, time
pid, port, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def rss():
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
base = peak = rss()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.connect(("127.0.0.1", port))
s.settimeout(10)
s.sendall(b"GET /?size=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % size)
pat = b"0123456789abcdef" * 4200
buf = b""
body = -1
bad = 0
def take(d):
    global buf, body, bad
    if body < 0:
        buf += d
        i = buf.find(b"\r\n\r\n")
        if i < 0:
            return
        head, d = buf[:i].decode(), buf[i + 4:]
        print(head.split("\r\n")[0])
        print("length", [l.split(":")[1].strip() for l in head.split("\r\n") if l.lower().startswith("content-length:")])
        body = 0
    if d and pat[body % 16:body % 16 + len(d)] != d:
        bad += 1
    body += len(d)
slow_until = time.monotonic() + 3
while time.monotonic() < slow_until:
    d = s.recv(2048)
    if not d:
        break
    take(d)
    peak = max(peak, rss())
    time.sleep(0.01)
slow = body
while True:
    d = s.recv(65536)
    if not d:
        break
    take(d)
print("slow-part", "small" if slow < size // 4 else "large:%d" % slow)
print("body", body, "bad", bad)
print("rss-growth-ok", peak - base < 16384)
print("rss-kb base", base, "peak", peak)
' "$HTPARSER_PID" "$PORT" 52428800
	assert_status 0
	assert_equal "$(sed -n 1,5p <<<"$output")" "HTTP/1.1 200 OK
length ['52428800']
slow-part small
body 52428800 bad 0
rss-growth-ok True"
}

@test "duplex: after 101 the connection is a two-way pipe to the handler" {
	start_htparser
	run rawhttp -t 3 -s "GET /?duplex HTTP/1.1\r\n${H}Upgrade: test\r\nConnection: Upgrade\r\n\r\n" \
	    -e '\r\n\r\n' -s 'hello' -e 'HELLO' -s ', world' -e ', WORLD'
	assert_status 0
	assert_equal "$(status_codes "$output")" 101
	assert_equal "$(header_value Upgrade "$output")" test
	assert_equal "$(header_count Transfer-Encoding "$output")" 0
	assert_equal "${output#*$'\r\n\r\n'}" 'HELLO, WORLD'
}

@test "duplex: the client's end-of-file reaches the handler, the connection ends" {
	start_htparser
	run rawhttp -t 3 -s "GET /?duplex HTTP/1.1\r\n${H}Upgrade: test\r\nConnection: Upgrade\r\n\r\n" \
	    -e '\r\n\r\n' -s 'abc\x01def' -S -c
	assert_status 0
	assert_equal "${output#*$'\r\n\r\n'}" $'ABC\x01DEF'
}

# ---------------------------------------------------------------------
# Handler failures

@test "handler closes without a response: 502" {
	start_htparser
	run raw_request "GET /?close HTTP/1.1\r\n$H\r\n$SMUGGLED"
	assert_status 0
	assert_equal "$(status_codes "$output")" 502
	assert_not_contains "$output" smuggled
}

@test "handler closes after half a head: 502" {
	start_htparser
	run raw_request "GET /?partial HTTP/1.1\r\n$H\r\n$SMUGGLED"
	assert_status 0
	assert_equal "$(status_codes "$output")" 502
	assert_not_contains "$output" smuggled
	code=$(curl_get '/?partial')
	assert_equal "$code" 502
}

@test "-o timeout-handler: a silent handler gets 504" {
	start_htparser -o timeout-handler=1
	t0=$(now_ms)
	code=$(curl_get '/?sleep=3000')
	t1=$(now_ms)
	assert_equal "$code" 504
	(( t1 - t0 >= 800 && t1 - t0 < 2800 )) || fail "504 after $((t1 - t0)) ms"
	code=$(curl_get '/?sleep=300')
	assert_equal "$code" 200
}

# ---------------------------------------------------------------------
# Rejected requests: exactly one error response, then the close

@test "reject: Content-Length with Transfer-Encoding (400)" {
	expect_rejected 400 "POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
}

@test "reject: two different Content-Length headers (400)" {
	expect_rejected 400 "POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
}

@test "reject: Content-Length list with different values (400)" {
	expect_rejected 400 "POST / HTTP/1.1\r\n${H}Content-Length: 5, 6\r\n\r\nhello!"
}

@test "reject: Content-Length +5 (400)" {
	expect_rejected 400 "POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello"
}

@test "reject: Content-Length 0x5 (400)" {
	expect_rejected 400 "POST / HTTP/1.1\r\n${H}Content-Length: 0x5\r\n\r\nhello"
}

@test "reject: Content-Length -1 (400)" {
	expect_rejected 400 "POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n"
}

@test "reject: Content-Length 5a (400)" {
	expect_rejected 400 "POST / HTTP/1.1\r\n${H}Content-Length: 5a\r\n\r\nhello"
}

@test "reject: Content-Length that overflows (400 or 413)" {
	expect_rejected '400|413' "POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999999\r\n\r\nhello"
}

@test "reject: Transfer-Encoding gzip, chunked (501)" {
	expect_rejected 501 "POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
}

@test "reject: Transfer-Encoding gzip, chunked not final (400 or 501)" {
	expect_rejected '400|501' "POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n"
}

@test "reject: Transfer-Encoding chunked, chunked (400 or 501)" {
	expect_rejected '400|501' "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"
}

@test "reject: Transfer-Encoding identity (400 or 501)" {
	expect_rejected '400|501' "POST / HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n"
}

@test "reject: bad chunk size zz (400)" {
	expect_rejected 400 "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
}

@test "reject: chunk data not followed by CRLF (400)" {
	expect_rejected 400 "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"
}

@test "reject: chunk size that overflows (400 or 413)" {
	expect_rejected '400|413' "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n10000000000000000000001\r\nhello\r\n0\r\n\r\n"
}

@test "reject: obs-fold (400)" {
	expect_rejected 400 "GET / HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\n"
}

@test "reject: bare CR in a header value (400)" {
	expect_rejected 400 "GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n"
}

@test "reject: NUL byte in a header value (400)" {
	expect_rejected 400 "GET / HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n"
}

@test "reject: NUL byte in the URL (400)" {
	expect_rejected 400 "GET /a\0b HTTP/1.1\r\n$H\r\n"
}

@test "reject: control byte in a header value (400)" {
	expect_rejected 400 "GET / HTTP/1.1\r\n${H}X-A: a\x01b\r\n\r\n"
}

@test "reject: DEL in a header value (400)" {
	expect_rejected 400 "GET / HTTP/1.1\r\n${H}X-A: a\x7fb\r\n\r\n"
}

@test "reject: whitespace before the colon (400)" {
	expect_rejected 400 "GET / HTTP/1.1\r\n${H}X-A : b\r\n\r\n"
}

@test "reject: empty header name (400)" {
	expect_rejected 400 "GET / HTTP/1.1\r\n${H}: b\r\n\r\n"
}

@test "reject: missing Host on HTTP/1.1 (400)" {
	expect_rejected 400 "GET / HTTP/1.1\r\nX-A: b\r\n\r\n"
}

@test "reject: two Host headers (400)" {
	expect_rejected 400 "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"
}

@test "reject: HTTP/2.0 (505)" {
	expect_rejected 505 "GET / HTTP/2.0\r\n$H\r\n"
}

@test "HTTP/1.2 is served as HTTP/1.1 (RFC 9110 2.5); HTTP/3.0 gets 505" {
	start_htparser
	run raw_request "GET /v HTTP/1.2\r\nHost: a\r\nConnection: close\r\n\r\n"
	[[ "$output" == "HTTP/1.1 200 OK"* ]]
	[[ "$output" == *"version HTTP/1.1"* ]]
	expect_rejected 505 "GET / HTTP/3.0\r\n$H\r\n"
}

@test "reject: HTTP/1.x (400)" {
	expect_rejected 400 "GET / HTTP/1.x\r\n$H\r\n"
}

@test "reject: lower-case http/1.1 (400)" {
	expect_rejected 400 "GET / http/1.1\r\n$H\r\n"
}

@test "reject: request line without a version (400)" {
	expect_rejected 400 "GET /\r\n$H\r\n"
}

@test "reject: invalid method token (400)" {
	expect_rejected 400 "G@T / HTTP/1.1\r\n$H\r\n"
}

@test "reject: target not starting with / (400)" {
	expect_rejected 400 "GET foo HTTP/1.1\r\n$H\r\n"
}

@test "reject: Expect other than 100-continue (417)" {
	expect_rejected 417 "POST / HTTP/1.1\r\n${H}Expect: 200-ok\r\nContent-Length: 2\r\n\r\nhi"
}

@test "reject: request line over 8192 bytes (414)" {
	long=$(head -c 9000 /dev/zero | tr '\0' a)
	expect_rejected 414 "GET /$long HTTP/1.1\r\n$H\r\n"
}

@test "a 4000-byte URL is accepted" {
	long=$(head -c 4000 /dev/zero | tr '\0' a)
	REQ="GET /$long HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
	expect_accepted
	assert_contains "$output" $'\nrest '"$long"$'\n'
}

@test "reject: header section over 64 KiB (431)" {
	val=$(head -c 1000 /dev/zero | tr '\0' v)
	hdrs=
	for i in $(seq 70); do hdrs+="X-H$i: $val\r\n"; done
	expect_rejected 431 "GET / HTTP/1.1\r\n$H$hdrs\r\n"
}

@test "reject: more than 100 header fields (431)" {
	hdrs=
	for i in $(seq 150); do hdrs+="X-H$i: 1\r\n"; done
	expect_rejected 431 "GET / HTTP/1.1\r\n$H$hdrs\r\n"
}

@test "-o max-headers: the limit itself is accepted, one more is 431" {
	REQ="GET / HTTP/1.1\r\n${H}X-A: 1\r\nConnection: close\r\n\r\n"
	expect_accepted -o max-headers=3
	kill_bg
	expect_rejected 431 "GET / HTTP/1.1\r\n${H}X-A: 1\r\nX-B: 2\r\nX-C: 3\r\n\r\n" -o max-headers=3
}

@test "-o max-body: a body at the limit passes, one byte more is 413" {
	REQ="POST / HTTP/1.1\r\n${H}Content-Length: 100\r\nConnection: close\r\n\r\n$(head -c 100 /dev/zero | tr '\0' b)"
	expect_accepted -o max-body=100
	assert_contains "$output" $'\nbody-length 100'
	kill_bg
	expect_rejected 413 "POST / HTTP/1.1\r\n${H}Content-Length: 101\r\n\r\n$(head -c 101 /dev/zero | tr '\0' b)" -o max-body=100
}

@test "-o max-body: a chunked body over the limit is 413" {
	chunk=$(head -c 60 /dev/zero | tr '\0' c)
	expect_rejected 413 "POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3c\r\n$chunk\r\n3c\r\n$chunk\r\n0\r\n\r\n" -o max-body=100
}

@test "valid odd bytes pass: tab and obs-text in values" {
	LC_ALL=C
	REQ="GET / HTTP/1.1\r\n${H}X-A: a\tb\xe9c\r\nConnection: close\r\n\r\n"
	expect_accepted
	assert_contains "$output" $'\nheader X-A: a\tb\xe9c\n'
}

@test "error responses: HTML with a length, Date, Server, Connection: close" {
	start_htparser
	rawhttp -s "GET / HTTP/1.1\r\n\r\n" -c >"$TEST_TMP/out"
	run resp_summary "$TEST_TMP/out"
	assert_match "$output" '^400 length [1-9][0-9]*$'
	h=$(cat "$TEST_TMP/out.h1")
	assert_match "$(header_value Content-Type "$h")" '^text/html'
	assert_equal "$(header_value Connection "$h")" close
	assert_equal "$(header_value Server "$h")" ashd-ng/0.1
	header_value Date "$h" >/dev/null
}

# A client that sends its whole body before it reads (as most HTTP
# libraries do): POST PATH with a body of N bytes, the first 1000 then,
# after PAUSE seconds, the rest at full speed; then read to the end.
# Prints "sent S/N STATUS CONNECTION END" (END: eof, or how it failed).
UPLOAD_PY='
import socket, sys, time
port, path, n, pause = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (path.encode(), n))
sent, end, got = 0, "eof", b""
block = b"x" * 65536
try:
    s.sendall(block[:1000]); sent = 1000
    time.sleep(pause)
    while sent < n:
        k = min(len(block), n - sent)
        s.sendall(block[:k]); sent += k
except OSError as e:
    end = "send: " + e.__class__.__name__
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except OSError as e:
    end = (end + ", " if end != "eof" else "") + "recv: " + e.__class__.__name__
head = got.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
conn = [l.split(":", 1)[1].strip() for l in head[1:] if l.lower().startswith("connection:")]
print("sent %d/%d %s %s %s" % (sent, n, head[0].split(" ")[1] if head[0] else "-",
    conn[0] if conn else "-", end))
'

@test "an answer before the whole body says Connection: close, and lingers until the client has sent it" {
	local n=8000000
	start_htparser -o max-body=100000
	# The handler answers 500 without reading; htparser answers 413.
	run python3 -c "$UPLOAD_PY" "$PORT" '/?status=500&noread' 90000 0.3
	assert_equal "$output" "sent 90000/90000 500 close eof"
	run python3 -c "$UPLOAD_PY" "$PORT" / "$n" 0.3
	assert_equal "$output" "sent $n/$n 413 close eof"
	kill_bg
	start_htparser
	run python3 -c "$UPLOAD_PY" "$PORT" '/?status=500&noread' "$n" 0.3
	assert_equal "$output" "sent $n/$n 500 close eof"
	# A body that arrived whole keeps the connection.
	rawhttp -s "POST /?status=500&noread HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello" \
	    -e '\r\n\r\n' -r 0.3 -s "GET /next HTTP/1.1\r\n${H}Connection: close\r\n\r\n" -c >"$TEST_TMP/out"
	run resp_summary "$TEST_TMP/out"
	assert_match "$output" $'^500 length [0-9]+\n200 length [0-9]+$'
	assert_equal "$(header_count Connection "$(cat "$TEST_TMP/out.h1")")" 0
}

# ---------------------------------------------------------------------
# Timeouts

@test "-o timeout-idle: an idle keep-alive connection is closed" {
	start_htparser -o timeout-idle=0.5
	t0=$(now_ms)
	run rawhttp -t 4 -s "GET / HTTP/1.1\r\n$H\r\n" -e 'body-length 0\n' -c
	t1=$(now_ms)
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
	(( t1 - t0 >= 400 && t1 - t0 < 2500 )) || fail "closed after $((t1 - t0)) ms"
}

@test "-o timeout-idle does not cut a request the handler is working on" {
	start_htparser -o timeout-idle=0.5
	code=$(curl_get '/?sleep=1200')
	assert_equal "$code" 200
}

@test "-o timeout-idle/timeout-head: a connection that sends nothing is closed" {
	start_htparser -o timeout-idle=1 -o timeout-head=1
	t0=$(now_ms)
	run rawhttp -t 4 -c
	t1=$(now_ms)
	assert_status 0
	assert_equal "$output" ""
	(( t1 - t0 < 3000 )) || fail "closed after $((t1 - t0)) ms"
}

@test "-o timeout-head: a partial head gets 408 (or a close)" {
	start_htparser -o timeout-head=1
	t0=$(now_ms)
	run rawhttp -t 4 -s "GET / HTTP/1.1\r\n$H" -c
	t1=$(now_ms)
	assert_status 0
	assert_match "$(status_codes "$output")" '^(408)?$'
	assert_not_contains "$output" $'\nmethod '
	(( t1 - t0 >= 800 && t1 - t0 < 3000 )) || fail "closed after $((t1 - t0)) ms"
}

@test "-o timeout-head bounds the whole head, not each read" {
	start_htparser -o timeout-head=1
	ops=(-t 4 -s "GET / HTTP/1.1\r\n$H")
	for i in $(seq 16); do ops+=(-r 0.25 -x -s "X-Drip-$i: x\r\n"); done
	t0=$(now_ms)
	run rawhttp "${ops[@]}" -c
	t1=$(now_ms)
	assert_status 0
	assert_match "$(status_codes "$output")" '^(408)?$'
	(( t1 - t0 < 3000 )) || fail "closed after $((t1 - t0)) ms"
}

@test "-o timeout-body: a stalled request body gets 408 and the close" {
	start_htparser -o timeout-body=1
	t0=$(now_ms)
	run rawhttp -t 4 -s "POST / HTTP/1.1\r\n${H}Content-Length: 10\r\n\r\nhello" -c
	t1=$(now_ms)
	assert_status 0
	assert_equal "$(status_codes "$output")" 408
	(( t1 - t0 >= 800 && t1 - t0 < 3000 )) || fail "closed after $((t1 - t0)) ms"
}

# trickle head|body RATE SECS [BODYLEN]: tests/hostile/trickle.py to
# 127.0.0.1:$PORT.
trickle() {
	python3 "$ASHD_SRCDIR/tests/hostile/trickle.py" "$PORT" "$@"
}

@test "-o min-rate: a head or body trickling below it gets 408; a client above it and a normal one are served" {
	local t0 t pids
	start_htparser -o min-rate=500 -o min-rate-grace=0.5 -o min-rate-window=1
	# 50 bytes a second, a byte every 20 ms: no timeout-body or
	# timeout-head (60 s, 30 s) would ever end them.
	trickle body 50 10 >"$TEST_TMP/body.out" &
	pids=$!
	trickle head 50 10 >"$TEST_TMP/head.out" &
	pids="$pids $!"
	sleep 0.3
	t0=$(now_ms)
	code=$(curl_get /normal)
	t=$(($(now_ms) - t0))
	assert_equal "$code" 200
	((t < 1000 * SLOW)) || fail "a normal request took $t ms"
	# Above the rate (1000 B/s), a 3000-byte body: served.
	run trickle body 1000 8 3000
	assert_match "$output" '^sent 3000 after [0-9.]+ s: 200$'
	wait $pids
	# Cut after the grace time and one window: about 1.5 s.
	assert_match "$(cat "$TEST_TMP/body.out")" '^sent [0-9]+ after [1-4]\.[0-9] s: 408$'
	assert_match "$(cat "$TEST_TMP/head.out")" '^sent [0-9]+ after [1-4]\.[0-9] s: 408$'
	assert_contains "$(cat "$HTPARSER_LOG")" 'request body below min-rate'
	assert_contains "$(cat "$HTPARSER_LOG")" 'request head below min-rate'
	# A connection that sends nothing is closed without an answer.
	t0=$(now_ms)
	run rawhttp -t 10 -c
	t=$(($(now_ms) - t0))
	assert_status 0
	assert_equal "$output" ''
	((t < 5000)) || fail "an empty connection lasted $t ms"
}

@test "-o min-rate: a body htparser holds back (the handler not reading) is not cut; 0 turns it off" {
	ECHO_HANDLER=$ASHD_SRCDIR/tests/hostile/raw-handler.py \
	    start_htparser -o min-rate=500 -o min-rate-grace=0.5 -o min-rate-window=0.5
	# 4 MB at full speed to a handler that reads only after 3 s: the
	# client is stalled by htparser, not the other way round.
	head -c 4000000 /dev/zero >"$TEST_TMP/big"
	run curl -sS -m 20 -H 'Expect:' --data-binary @"$TEST_TMP/big" "$(url /slowread/3)"
	assert_status 0
	assert_equal "$output" 'read 4000000'
	kill_bg
	start_htparser -o min-rate=0 -o min-rate-grace=0.5 -o min-rate-window=0.5
	run trickle body 50 3
	assert_match "$output" '^sent [0-9]+ after 3\.[0-9] s: -$'
}

@test "-o timeout-send: a client that stops reading is dropped" {
	start_htparser -o timeout-send=1
	run python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /?size=52428800 HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(3)
s.settimeout(5)
n = 0
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
    how = "closed"
except ConnectionResetError:
    how = "closed"
except socket.timeout:
    how = "timeout"
print(how, "short" if n < 52428800 else "complete")
' "$PORT"
	assert_status 0
	assert_equal "$output" 'closed short'
}

# ---------------------------------------------------------------------
# Signals and the PID file

@test "SIGTERM: listener closed at once, request in flight completed, exit 0" {
	start_htparser
	curl -sS -m 10 -D "$TEST_TMP/head.raw" -o "$TEST_TMP/body" \
	    -w '%{http_code}' "$(url '/slow?sleep=1500')" >"$TEST_TMP/code" 3>&- &
	cpid=$!
	track_pid "$cpid"
	wait_inflight
	kill -TERM "$HTPARSER_PID"
	wait_port_closed "$PORT" 1
	run curl -sS -m 2 "$(url /new)"
	assert_status 7
	wait "$cpid"
	untrack_pid "$cpid"
	assert_equal "$(cat "$TEST_TMP/code")" 200
	assert_contains "$(cat "$TEST_TMP/body")" $'url /slow?sleep=1500\n'
	assert_equal "$(header_value Connection "$(tr -d '\r' <"$TEST_TMP/head.raw")")" close
	wait_exit "$HTPARSER_PID" 5
	assert_equal "$EXIT_STATUS" 0
}

@test "a second SIGTERM exits at once" {
	start_htparser
	curl -sS -m 10 -o /dev/null "$(url '/slow?sleep=5000')" 3>&- &
	track_pid $!
	wait_inflight
	kill -TERM "$HTPARSER_PID"
	sleep 0.2
	kill -TERM "$HTPARSER_PID"
	wait_exit "$HTPARSER_PID" 1
}

@test "the root handler exiting shuts htparser down, with status 1" {
	# A supervisor must see that the server can no longer serve.
	start_htparser
	root=$(children_of "$HTPARSER_PID")
	assert_match "$root" '^[0-9]+$'
	assert_equal "$(proc_name "$root")" echo-handler
	kill -TERM "$root"
	wait_exit "$HTPARSER_PID" 5
	assert_equal "$EXIT_STATUS" 1
	grep -q 'root handler was killed by signal 15\|root handler closed its socket' \
	    "$HTPARSER_LOG" || fail "not logged: $(cat "$HTPARSER_LOG")"
}

@test "a root handler that cannot be started: exit 1 at once, naming it" {
	PORT=$(free_port)
	run timeout 10 "$HTPARSER" "plain:port=$PORT,local=127.0.0.1" -- \
	    "$TEST_TMP/no-such-handler" arg
	assert_status 1
	assert_contains "$output" "cannot start the root handler $TEST_TMP/no-such-handler: No such file or directory"
	! port_listening "$PORT" || fail "port $PORT still listening"
}

@test "a root handler that exits before serving (configuration error): exit 1" {
	use_build_path
	PORT=$(free_port)
	run timeout 10 "$HTPARSER" "plain:port=$PORT,local=127.0.0.1" -- \
	    dirplex "$TEST_TMP/nonexistent"
	assert_status 1
	assert_contains "$output" "root handler exited with status 2"
	# A shutdown asked for by a signal still exits 0.
	start_htparser
	kill -TERM "$HTPARSER_PID"
	wait_exit "$HTPARSER_PID" 5
	assert_equal "$EXIT_STATUS" 0
}

@test "SIGHUP is passed to the root handler, and is not fatal to htparser" {
	start_htparser
	root=$(children_of "$HTPARSER_PID")
	assert_equal "$(proc_name "$root")" echo-handler
	# echo-handler reports the SIGHUPs it got in its answers.  One at a
	# time: signals sent together may arrive as one.  It catches them
	# once it serves.
	curl -sS -m 5 -o /dev/null "$(url /)"
	for n in 1 2; do
		kill -HUP "$HTPARSER_PID"
		for ((i = 0; i < 100 * SLOW; i++)); do
			out=$(curl -sS -m 5 "$(url /)")
			[[ $out == *$'\nsighup '$n ]] && break
			sleep 0.05
		done
		assert_contains "$out" $'\nsighup '$n
	done
	proc_alive "$HTPARSER_PID" || fail "htparser died of SIGHUP"
	assert_equal "$(children_of "$HTPARSER_PID")" "$root"
}

@test "-p: the pid file is made anew, gets \\n at shutdown, is emptied at exit" {
	printf 'junk\n' >"$TEST_TMP/pid"
	ln "$TEST_TMP/pid" "$TEST_TMP/oldpid"
	start_htparser -p "$TEST_TMP/pid"
	# The port is bound before the root handler starts, the pid file
	# written after.
	for ((i = 0; i < 100 * SLOW; i++)); do
		[ "$(cat "$TEST_TMP/pid")" = "$HTPARSER_PID" ] && break
		sleep 0.05
	done
	printf '%s\n' "$HTPARSER_PID" >"$TEST_TMP/expect"
	cmp "$TEST_TMP/expect" "$TEST_TMP/pid"
	assert_equal "$(cat "$TEST_TMP/oldpid")" junk
	curl -sS -m 10 -o /dev/null "$(url '/slow?sleep=1500')" 3>&- &
	track_pid $!
	wait_inflight
	kill -TERM "$HTPARSER_PID"
	printf '%s\n\n' "$HTPARSER_PID" >"$TEST_TMP/expect"
	for i in $(seq 50); do
		cmp -s "$TEST_TMP/expect" "$TEST_TMP/pid" && break
		sleep 0.02
	done
	cmp "$TEST_TMP/expect" "$TEST_TMP/pid"
	proc_alive "$HTPARSER_PID"
	wait_exit "$HTPARSER_PID" 5
	assert_equal "$EXIT_STATUS" 0
	[ -f "$TEST_TMP/pid" ] && [ ! -s "$TEST_TMP/pid" ] ||
	    fail "pid file not empty: $(od -c "$TEST_TMP/pid")"
}

@test "-f daemonises: the parent exits 0, the pid file names the daemon" {
	PORT=$(free_port)
	start_bg "$TEST_TMP/htparser.log" "$HTPARSER" -f -p "$TEST_TMP/pid" \
	    "plain:port=$PORT,local=127.0.0.1" -- "$ECHO_HANDLER"
	parent=$BG_PID
	wait_exit "$parent" 5
	assert_equal "$EXIT_STATUS" 0
	for i in $(seq 50); do [ -s "$TEST_TMP/pid" ] && break; sleep 0.05; done
	daemon=$(head -n 1 "$TEST_TMP/pid")
	assert_match "$daemon" '^[0-9]+$'
	track_pid "$daemon" 1
	[ "$daemon" != "$parent" ] || fail "the pid file names the parent"
	proc_alive "$daemon"
	wait_port "$PORT" 5
	code=$(curl_get /d)
	assert_equal "$code" 200
	kill -TERM "$daemon"
	for i in $(seq 100); do proc_alive "$daemon" || break; sleep 0.05; done
	if proc_alive "$daemon"; then fail "daemon still running"; fi
	untrack_pid "$daemon"
	[ ! -s "$TEST_TMP/pid" ] || fail "pid file not empty"
}

@test "-r and -u: chroot and drop privileges, pid file still emptied (root only)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	nobody=$(id -u nobody 2>/dev/null) || skip "no user nobody"
	mkdir "$TEST_TMP/jail"
	chmod 755 "$TEST_TMP" "$TEST_TMP/jail"
	# LeakSanitizer (--enable-sanitizers) needs /proc, absent in the jail.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	start_htparser -r "$TEST_TMP/jail" -u nobody -p "$TEST_TMP/pid"
	code=$(curl_get /jailed)
	assert_equal "$code" 200
	assert_equal "$(readlink "/proc/$HTPARSER_PID/root")" "$(cd "$TEST_TMP/jail" && pwd -P)"
	assert_equal "$(awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$HTPARSER_PID/status")" \
	    "$nobody$nobody$nobody$nobody"
	kill -TERM "$HTPARSER_PID"
	wait_exit "$HTPARSER_PID" 5
	assert_equal "$EXIT_STATUS" 0
	[ -f "$TEST_TMP/pid" ] && [ ! -s "$TEST_TMP/pid" ] || fail "pid file not empty"
}

@test "empty -u, -r and -p arguments mean not given" {
	start_htparser -u '' -r '' -p ''
	code=$(curl_get /)
	assert_equal "$code" 200
	assert_equal "$(readlink "/proc/$HTPARSER_PID/root")" /
}

@test "plain:port=P on every address: X-Ash-Server-Address is the address the client reached (asked of the connection, not the listener's wildcard)" {
	local port
	port=$(free_port)
	start_bg "$TEST_TMP/hw.log" "$HTPARSER" "plain:port=$port" \
	    -- "$ECHO_HANDLER"
	wait_port "$port" 5 "$BG_PID"
	run curl -sS -m 5 "http://127.0.0.1:$port/any"
	assert_contains "$output" $'\nheader X-Ash-Server-Address: 127.0.0.1\n'
	assert_contains "$output" $'\nheader X-Ash-Server-Port: '"$port"$'\n'
}

@test "plain:local=::1 listens on IPv6 and reports the IPv6 addresses" {
	local port
	port=$(free_port)
	start_bg "$TEST_TMP/h6.log" "$HTPARSER" "plain:port=$port,local=::1" \
	    -- "$ECHO_HANDLER"
	for _ in $(seq 50); do
		curl -s -g -o /dev/null "http://[::1]:$port/" && break
		sleep 0.1
	done
	run curl -s -g "http://[::1]:$port/six"
	[ "$status" -eq 0 ]
	[[ "$output" == *"rest six"* ]]
	[[ "$output" == *"header X-Ash-Address: ::1"* ]]
	[[ "$output" == *"header X-Ash-Server-Address: ::1"* ]]
	# and not on IPv4
	run curl -s -o /dev/null "http://127.0.0.1:$port/"
	[ "$status" -ne 0 ]
}

@test "plain without local= listens on IPv6 and IPv4, IPv4 shown plainly" {
	local port
	port=$(free_port)
	start_bg "$TEST_TMP/h46.log" "$HTPARSER" "plain:port=$port" \
	    -- "$ECHO_HANDLER"
	wait_port "$port" 5
	run curl -s "http://127.0.0.1:$port/four"
	[[ "$output" == *"header X-Ash-Address: 127.0.0.1"* ]]
	run curl -s -g "http://[::1]:$port/six"
	[[ "$output" == *"header X-Ash-Address: ::1"* ]]
}

@test "2000 idle keep-alive connections cost htparser little memory" {
	[ "${ASHD_SANITIZERS:-no}" != yes ] ||
	    skip "AddressSanitizer's redzones make the figure meaningless"
	[ -z "${ASHD_VALGRIND:-}" ] ||
	    skip "memcheck's shadow memory makes the figure meaningless"
	start_htparser
	run python3 - "$PORT" "$HTPARSER_PID" <<'PY'
import socket, sys, time, resource
port, pid = int(sys.argv[1]), int(sys.argv[2])
def rss():
    for l in open('/proc/%d/status' % pid):
        if l.startswith('VmRSS'):
            return int(l.split()[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
before = rss()
socks = []
for i in range(2000):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(b'GET / HTTP/1.1\r\nHost: a\r\n\r\n')
    socks.append(s)
for s in socks:
    s.settimeout(5)
    if not s.recv(65536).startswith(b'HTTP/1.1 200'):
        sys.exit('no answer')
time.sleep(0.3)
after = rss()
print('%.2f KiB per idle connection' % ((after - before) / 2000.0))
# a new client is still served promptly
t = time.time()
s = socket.create_connection(('127.0.0.1', port))
s.sendall(b'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
s.settimeout(5)
if not s.recv(65536).startswith(b'HTTP/1.1 200') or time.time() - t > 2:
    sys.exit('slow')
sys.exit(0 if after - before < 2000 * 4 else 'too much memory')
PY
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "-S: htparser logs to syslog and sets ASHD_USESYSLOG for the handlers" {
	local port
	port=$(free_port)
	start_bg "$TEST_TMP/s.log" "$HTPARSER" -S "plain:port=$port,local=127.0.0.1" \
	    -- sh -c "env > '$TEST_TMP/env'; exec '$ECHO_HANDLER'"
	wait_port "$port" 5
	run curl -s "http://127.0.0.1:$port/x"
	[[ "$output" == *"rest x"* ]]
	grep -q '^ASHD_USESYSLOG=' "$TEST_TMP/env"
	# Nothing goes to standard error any more.
	kill -TERM "$BG_PID"
	wait_exit "$BG_PID" 5 || true
	! grep -q 'shutting down' "$TEST_TMP/s.log"
}
