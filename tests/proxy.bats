#!/usr/bin/env bats
# proxy.bats: the PROXY protocol on a port with the `proxy` flag, the
# `https` flag, the port handlers that refuse (ssl) or list (help) them,
# and the log lines that name the client and the request.  The headers
# are sent as exact bytes by rawhttp (helper.bash); what htparser made of
# them is what echo-handler shows: its X-Ash-* headers.

load helper

H='Host: x\r\n'
GET="GET /pp HTTP/1.1\\r\\n${H}Connection: close\\r\\n\\r\\n"
# Version 2: signature, then PROXY over TCP4 with 12 address bytes:
# 192.0.2.7:4711 -> 198.51.100.1:443.
SIG='\r\n\r\n\0\r\nQUIT\n'
A4='\xc0\x00\x02\x07\xc6\x33\x64\x01\x12\x67\x01\xbb'

# start_pp FLAGS [OPTIONS...]: htparser on a free port of 127.0.0.1
# with ",FLAGS" after the port, echo-handler as the root handler.
start_pp() {
	local flags=$1 try
	shift
	HTPARSER_LOG=$TEST_TMP/htparser.log
	for try in 1 2 3; do
		PORT=$(free_port)
		start_bg "$HTPARSER_LOG" "$HTPARSER" "$@" \
		    "plain:port=$PORT,local=127.0.0.1${flags:+,$flags}" -- \
		    "$ECHO_HANDLER"
		HTPARSER_PID=$BG_PID
		if wait_port "$PORT" 5 "$HTPARSER_PID"; then
			export PORT HTPARSER_PID
			return 0
		fi
		kill_bg
	done
	fail "htparser did not start: $(cat "$HTPARSER_LOG")"
}

# ash NAME: the value echo-handler shows for the request header NAME in
# $output.
ash() {
	printf '%s\n' "$output" | tr -d '\r' |
	    sed -n "s/^header $1: //p" | head -n 1
}

# expect_addrs CLIENT CPORT SERVER SPORT PROTOCOL: the X-Ash-* headers
# of the answer in $output.
expect_addrs() {
	assert_equal "$(status_codes "$output")" 200
	assert_equal "$(ash X-Ash-Address)" "$1"
	assert_equal "$(ash X-Ash-Port)" "$2"
	assert_equal "$(ash X-Ash-Server-Address)" "$3"
	assert_equal "$(ash X-Ash-Server-Port)" "$4"
	assert_equal "$(ash X-Ash-Protocol)" "$5"
}

# expect_dropped BYTES: the connection is closed without one byte of
# answer (no HTTP error page for a peer that does not speak PROXY).
expect_dropped() {
	run rawhttp -t 5 -s "$1" -c
	assert_status 0
	assert_equal "$output" ""
}

# ---------------------------------------------------------------------
# Port handlers

@test "plain:help lists proxy, https and reuseport; fd:help the fd parameters" {
	run "$HTPARSER" plain:help
	assert_status 0
	assert_match "$output" $'\n  proxy '
	assert_match "$output" $'\n  https '
	assert_match "$output" $'\n  reuseport '
	run "$HTPARSER" fd:help
	assert_status 0
	assert_match "$output" $'\n  fd=N '
	assert_match "$output" $'\n  name=NAME '
	assert_match "$output" $'\n  proxy '
	assert_not_contains "$output" reuseport
}

@test "ssl: is refused with a pointer to the TLS section of htparser(1), exit 2" {
	PORT=$(free_port)
	run "$HTPARSER" "ssl:port=$PORT,cert=/x.pem" -- "$ECHO_HANDLER"
	assert_status 2
	assert_contains "$output" "htparser: ssl: htparser does not do TLS itself"
	assert_contains "$output" "hitch"
	assert_contains "$output" "TLS AND DEPLOYMENT of htparser(1)"
	# ... and that section exists.
	grep -q '^\.Sh TLS AND DEPLOYMENT' "$ASHD_SRCDIR/doc/htparser.1"
	run "$HTPARSER" ssl:help
	assert_status 2
	port_listening "$PORT" && fail "something listens on $PORT"
	return 0
}

@test "flags take no value, fd-only and plain-only parameters are refused, exit 2" {
	local spec
	PORT=$(free_port)
	for spec in "plain:port=$PORT,proxy=1" "plain:port=$PORT,https=yes" \
	    "plain:port=$PORT,fd=3" "fd:fd=3,reuseport" "fd:port=80" \
	    "fd:fd=3,name=web" "fd:fd=x"; do
		run "$HTPARSER" "$spec" -- "$ECHO_HANDLER"
		[ "$status" -eq 2 ] || fail "$spec: exit $status: $output"
		assert_match "$output" '^htparser: (plain|fd): bad '
	done
}

# ---------------------------------------------------------------------
# Version 1

@test "v1 TCP4: the header's addresses become X-Ash-*, the request is served" {
	start_pp proxy
	run rawhttp -s "PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\\r\\n$GET" -c
	assert_status 0
	expect_addrs 192.0.2.7 4711 198.51.100.1 443 http
	assert_contains "$output" $'\nurl /pp\n'
}

@test "v1 TCP6: IPv6 addresses as the client and the server" {
	start_pp proxy
	run rawhttp -s "PROXY TCP6 2001:db8::7 2001:DB8:0:0:0:0:0:1 65535 8443\\r\\n$GET" -c
	expect_addrs 2001:db8::7 65535 2001:db8::1 8443 http
}

@test "v1 UNKNOWN: the real connection's addresses stand" {
	start_pp proxy
	run rawhttp -s "PROXY UNKNOWN\\r\\n$GET" -c
	expect_addrs 127.0.0.1 "$(ash X-Ash-Port)" 127.0.0.1 "$PORT" http
	assert_match "$(ash X-Ash-Port)" '^[1-9][0-9]*$'
}

@test "the header may come a byte at a time, the request in the same write as its end" {
	local hdr='PROXY TCP4 192.0.2.7 198.51.100.1 4711 443' ops=() i
	start_pp proxy
	for ((i = 0; i < ${#hdr}; i++)); do
		ops+=(-s "${hdr:i:1}" -w 0.01)
	done
	run rawhttp "${ops[@]}" -s "\\r" -w 0.05 -s "\\n$GET" -c
	expect_addrs 192.0.2.7 4711 198.51.100.1 443 http
}

@test "keep-alive: every request of the connection has the header's addresses; a second header is not one" {
	start_pp proxy
	run rawhttp -s "PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\\r\\nGET /1 HTTP/1.1\\r\\n$H\\r\\n" \
	    -e 'body-length 0\n' -s "GET /2 HTTP/1.1\\r\\n$H\\r\\n" -e 'body-length 0\n' \
	    -s 'PROXY TCP4 203.0.113.9 198.51.100.1 1 443\r\n\r\n' -c
	assert_status 0
	assert_equal "$(status_codes "$output")" "200 200 400"
	assert_equal "$(printf '%s\n' "$output" | grep -c '^header X-Ash-Address: 192.0.2.7')" 2
	assert_not_contains "$output" 203.0.113.9
}

@test "X-Forwarded-For and Forwarded from the client pass untouched and are not trusted" {
	start_pp proxy
	run rawhttp -s "PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\\r\\nGET / HTTP/1.1\\r\\n${H}X-Forwarded-For: 203.0.113.66\\r\\nX-Forwarded-Proto: https\\r\\nForwarded: for=203.0.113.66;proto=https\\r\\nX-Ash-Address: 203.0.113.66\\r\\nConnection: close\\r\\n\\r\\n" -c
	expect_addrs 192.0.2.7 4711 198.51.100.1 443 http
	assert_equal "$(ash X-Forwarded-For)" 203.0.113.66
	assert_equal "$(ash X-Forwarded-Proto)" https
	assert_equal "$(ash Forwarded)" 'for=203.0.113.66;proto=https'
	assert_equal "$(printf '%s\n' "$output" | grep -ci '^header X-Ash-Address')" 1
}

# ---------------------------------------------------------------------
# Version 2

@test "v2 PROXY TCP4: addresses from the binary header" {
	start_pp proxy
	run rawhttp -s "$SIG"'\x21\x11\x00\x0c'"$A4$GET" -c
	expect_addrs 192.0.2.7 4711 198.51.100.1 443 http
}

@test "v2 PROXY TCP6, and AF_UNIX shown as unix:PATH" {
	start_pp proxy
	run rawhttp -s "$SIG"'\x21\x21\x00\x24\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\x12\x67\x1f\x90'"$GET" -c
	expect_addrs 2001:db8::7 4711 ::1 8080 http
	local z10='\0\0\0\0\0\0\0\0\0\0' z100
	z100="$z10$z10$z10$z10$z10$z10$z10$z10$z10$z10"
	run rawhttp -s "$SIG"'\x21\x31\x00\xd8/run/c\0\0'"$z100"'/run/s\0\0'"$z100$GET" -c
	expect_addrs unix:/run/c 0 unix:/run/s 0 http
}

@test "v2 SSL TLV with the client-SSL bit: X-Ash-Protocol https; without the bit: http" {
	start_pp proxy
	# PP2_TYPE_SSL: client 0x01, verify 0, sub-TLV SSL_VERSION "TLSv1.3".
	run rawhttp -s "$SIG"'\x21\x11\x00\x1e'"$A4"'\x20\x00\x0f\x01\0\0\0\0\x21\x00\x07TLSv1.3'"$GET" -c
	expect_addrs 192.0.2.7 4711 198.51.100.1 443 https
	run rawhttp -s "$SIG"'\x21\x11\x00\x14'"$A4"'\x20\x00\x05\x06\0\0\0\0'"$GET" -c
	expect_addrs 192.0.2.7 4711 198.51.100.1 443 http
}

@test "v2 LOCAL (a health check): the real connection's addresses" {
	start_pp proxy
	run rawhttp -s "$SIG"'\x20\x00\x00\x00'"$GET" -c
	expect_addrs 127.0.0.1 "$(ash X-Ash-Port)" 127.0.0.1 "$PORT" http
}

@test "the https flag: X-Ash-Protocol https for every connection, with or without proxy" {
	start_pp https
	run rawhttp -s "$GET" -c
	expect_addrs 127.0.0.1 "$(ash X-Ash-Port)" 127.0.0.1 "$PORT" https
	kill_bg
	start_pp proxy,https
	run rawhttp -s "PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\\r\\n$GET" -c
	expect_addrs 192.0.2.7 4711 198.51.100.1 443 https
	kill_bg
	start_pp ""
	run rawhttp -s "$GET" -c
	assert_equal "$(ash X-Ash-Protocol)" http
}

# ---------------------------------------------------------------------
# Anything else is closed

@test "no header: a plain request is closed unanswered, and the log says why and who" {
	start_pp proxy
	expect_dropped "$GET"
	expect_dropped '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03'
	run cat "$HTPARSER_LOG"
	assert_match "$output" 'htparser: 127\.0\.0\.1:[0-9]+: PROXY header: not a PROXY protocol header; connection closed'
	# Still serving.
	run rawhttp -s "PROXY UNKNOWN\\r\\n$GET" -c
	assert_equal "$(status_codes "$output")" 200
}

@test "malformed headers are closed unanswered: v1 and v2, each kind" {
	local bad
	start_pp proxy
	for bad in 'PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\n' \
	    'PROXY TCP4 192.0.2.07 198.51.100.1 4711 443\r\n' \
	    'PROXY TCP4 192.0.2.7 198.51.100.1 04711 443\r\n' \
	    'PROXY TCP6 192.0.2.7 198.51.100.1 4711 443\r\n' \
	    'PROXY TCP4 192.0.2.7  198.51.100.1 4711 443\r\n' \
	    'PROXY UNKNOWN xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n' \
	    "$SIG"'\x11\x11\x00\x0c'"$A4" \
	    "$SIG"'\x22\x11\x00\x0c'"$A4" \
	    "$SIG"'\x21\x51\x00\x0c'"$A4" \
	    "$SIG"'\x21\x11\x00\x08'"$A4" \
	    "$SIG"'\x21\x11\x20\x00'"$A4" \
	    "$SIG"'\x21\x11\x00\x10'"$A4"'\x20\x00\x09\x01' \
	    "$SIG"'\x21\x11\x00\x13'"$A4"'\x03\x00\x04\x00\x00\x00\x00'; do
		run rawhttp -t 5 -s "$bad$GET" -c
		[ "$status" -eq 0 ] && [ -z "$output" ] ||
		    fail "$bad: status $status, answered: $output"
	done
	run cat "$HTPARSER_LOG"
	for bad in 'malformed version 1 line' 'header too long' \
	    'bad version 2 version or command' 'bad version 2 address family' \
	    'version 2 address block too short' 'malformed version 2 TLV' \
	    'version 2 CRC32C mismatch'; do
		assert_contains "$output" "PROXY header: $bad; connection closed"
	done
}

@test "time limit: a header that stops half-way is closed after timeout-head" {
	local t0 t1
	start_pp proxy -o timeout-head=1
	t0=$(now_ms)
	run rawhttp -t 10 -s 'PROXY TCP4 192.0.2.7 198' -c
	t1=$(now_ms)
	# Closed (not left open until rawhttp gives up), without a word.
	assert_status 0
	assert_equal "$output" ""
	[ $((t1 - t0)) -ge 900 ] || fail "closed after $((t1 - t0)) ms"
	run cat "$HTPARSER_LOG"
	assert_contains "$output" 'PROXY header: incomplete after the time limit'
}

@test "time limit: the header and the first request head share timeout-head" {
	local t0 t1
	# The header completes 2 s after the start.  Shared, the limit ends
	# 3 s after the start; started anew after the header, it would end
	# 2 s later.
	start_pp proxy -o timeout-head=3
	t0=$(now_ms)
	run rawhttp -t 10 -s 'PROXY UNKNOWN' -w 2 -s '\r\nGET / HTTP/1.1\r\n' -c
	t1=$(now_ms)
	assert_status 0
	assert_equal "$(status_codes "$output")" 408
	[ $((t1 - t0)) -ge 2900 ] && [ $((t1 - t0)) -lt 4700 ] ||
	    fail "closed after $((t1 - t0)) ms"
}

@test "a connection closed in the middle of its header is logged; one closed before any byte is not" {
	start_pp proxy
	run rawhttp -s 'PROXY TCP4 192' -S -c
	run rawhttp -S -c
	sleep 0.2
	run cat "$HTPARSER_LOG"
	assert_equal "$(grep -c 'PROXY header' "$HTPARSER_LOG")" 1
	assert_contains "$output" 'PROXY header: connection closed before its end'
}

# ---------------------------------------------------------------------
# Several htparsers on one port

@test "reuseport: a second htparser binds the same port; without it, it cannot" {
	local first
	start_pp reuseport
	first=$HTPARSER_PID
	start_bg "$TEST_TMP/second.log" "$HTPARSER" -p "$TEST_TMP/second.pid" \
	    "plain:port=$PORT,local=127.0.0.1,reuseport" -- "$ECHO_HANDLER"
	second=$BG_PID
	for i in $(seq 100); do [ -s "$TEST_TMP/second.pid" ] && break; sleep 0.05; done
	[ -s "$TEST_TMP/second.pid" ] || fail "second htparser: $(cat "$TEST_TMP/second.log")"
	proc_alive "$first"
	assert_equal "$(grep -ciE 'error|cannot' "$TEST_TMP/second.log")" 0
	# Both listen: the kernel spreads connections over the two.
	assert_equal "$(awk -v p="$(printf ':%04X' "$PORT")" '$2 ~ p"$" && $4 == "0A"' /proc/net/tcp | wc -l)" 2
	run curl -sS -m 5 "http://127.0.0.1:$PORT/r"
	assert_contains "$output" 'url /r'
	# Without the flag the port is taken.
	run "$HTPARSER" "plain:port=$PORT,local=127.0.0.1" -- "$ECHO_HANDLER"
	assert_status 1
	assert_contains "$output" 'Address already in use'
}

@test "reuseport without the rights to turn on the migration of queued connections: a warning says so" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to start htparser as nobody"
	command -v setpriv >/dev/null 2>&1 || skip "setpriv (util-linux) is not installed"
	[ "$(cat /proc/sys/net/ipv4/tcp_migrate_req 2>/dev/null)" != 1 ] ||
	    skip "net.ipv4.tcp_migrate_req is 1: the kernel migrates anyway"
	PORT=$(free_port)
	chmod o+rx "$TEST_TMP"
	# The program itself: valgrind's wrapper keeps its logs where nobody
	# cannot write.
	start_bg "$TEST_TMP/nobody.log" setpriv --reuid=nobody --regid=nogroup \
	    --clear-groups "$ASHD_BUILDDIR/htparser/htparser" \
	    "plain:port=$PORT,local=127.0.0.1,reuseport" -- "$ECHO_HANDLER"
	wait_port "$PORT" 5 "$BG_PID"
	run cat "$TEST_TMP/nobody.log"
	assert_contains "$output" 'htparser: reuseport: cannot turn on the migration of queued connections ('
	assert_contains "$output" 'net.ipv4.tcp_migrate_req is 0'
	# As root, no warning (the port above is still taken: another one).
	start_pp reuseport
	! grep -q 'reuseport' "$HTPARSER_LOG"
}

# ---------------------------------------------------------------------
# Log lines name the client and the request

@test "error lines name the client address and port, the method and the URL" {
	start_pp ""
	run rawhttp -s "GET /gone?close HTTP/1.1\\r\\n${H}Connection: close\\r\\n\\r\\n" -c
	run rawhttp -s "GET /bad?partial HTTP/1.1\\r\\n${H}Connection: close\\r\\n\\r\\n" -c
	sleep 0.2
	run cat "$HTPARSER_LOG"
	assert_match "$output" 'htparser: 127\.0\.0\.1:[0-9]+ GET /gone\?close: handler closed without a complete response head'
	assert_match "$output" 'htparser: 127\.0\.0\.1:[0-9]+ GET /bad\?partial: handler closed without a complete response head'
}

@test "behind a proxy, error lines name the real client" {
	start_pp proxy
	run rawhttp -s "PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\\r\\nPOST /x?close HTTP/1.1\\r\\n${H}Content-Length: 0\\r\\n\\r\\n" -c
	sleep 0.2
	run cat "$HTPARSER_LOG"
	assert_contains "$output" 'htparser: 192.0.2.7:4711 POST /x?close: handler closed without'
}
