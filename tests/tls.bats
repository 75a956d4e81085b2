#!/usr/bin/env bats
# tls.bats: TLS end to end with real software.  A TLS terminator (hitch,
# or haproxy in TCP mode) takes https from curl with a certificate the
# test makes with openssl, and hands the connection to htparser on a
# `proxy` port with a PROXY v2 header; behind htparser, dirplex serves a
# page, a CGI script (through the shipped configuration's callcgi) and a
# large file (through sendfile).  The configurations are the ones
# htparser(1) shows in TLS AND DEPLOYMENT.

load helper

setup() {
	common_setup
	# hitch and haproxy are in sbin.
	PATH=$PATH:/usr/sbin:/sbin
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	SERVER_LOG=$TEST_TMP/server.log
	command -v openssl >/dev/null 2>&1 ||
	    skip "openssl is not installed"
	make_site
	make_cert
}

teardown() {
	common_teardown
}

# The site: a page, a CGI script that shows what it was given, and a
# large file of random bytes.
make_site() {
	SITE=$TEST_TMP/site
	mkdir -p "$SITE"
	echo '<p>hello over TLS</p>' >"$SITE/index.html"
	cat >"$SITE/env.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
printf 'HTTPS=%s\nREMOTE_ADDR=%s\nREMOTE_PORT=%s\nSERVER_PORT=%s\n' \
    "${HTTPS-}" "$REMOTE_ADDR" "$REMOTE_PORT" "$SERVER_PORT"
printf 'HTTP_X_FORWARDED_FOR=%s\n' "${HTTP_X_FORWARDED_FOR-}"
EOF
	chmod 755 "$SITE/env.cgi"
	head -c $((8 * 1024 * 1024 + 17)) /dev/urandom >"$SITE/big.bin"
}

# A self-signed certificate for localhost and 127.0.0.1, and the PEM
# file hitch and haproxy take (certificate, then key).
make_cert() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$TEST_TMP/key.pem" -out "$TEST_TMP/cert.pem" \
	    -days 2 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	    >"$TEST_TMP/openssl.log" 2>&1 ||
	    fail "openssl: $(cat "$TEST_TMP/openssl.log")"
	cat "$TEST_TMP/cert.pem" "$TEST_TMP/key.pem" >"$TEST_TMP/site.pem"
	chmod 644 "$TEST_TMP/site.pem"
}

# start_backend [FLAGS]: htparser on a free port (BPORT) of 127.0.0.1
# with `proxy` (and FLAGS), dirplex serving the site.
start_backend() {
	BPORT=$(free_port)
	start_bg "$SERVER_LOG" "$HTPARSER" \
	    "plain:port=$BPORT,local=127.0.0.1,proxy${1:+,$1}" -- dirplex "$SITE"
	wait_port "$BPORT" 5 "$BG_PID"
}

# start_hitch: hitch on a free port (PORT) in front of the backend,
# PROXY v2 to it.
start_hitch() {
	command -v hitch >/dev/null 2>&1 || skip "hitch is not installed"
	PORT=$(free_port)
	{
		echo "frontend = \"[127.0.0.1]:$PORT\""
		echo "backend = \"[127.0.0.1]:$BPORT\""
		echo "pem-file = \"$TEST_TMP/site.pem\""
		echo "write-proxy-v2 = on"
		echo 'alpn-protos = "http/1.1"'
		echo "workers = 1"
		echo "daemon = off"
		# hitch will not run its workers as root.
		[ "$(id -u)" -ne 0 ] || echo 'user = "nobody"'
	} >"$TEST_TMP/hitch.conf"
	start_bg "$TEST_TMP/hitch.log" hitch --config="$TEST_TMP/hitch.conf"
	wait_port "$PORT" 10 "$BG_PID" || fail "hitch: $(cat "$TEST_TMP/hitch.log")"
}

# start_haproxy [SEND]: haproxy in TCP mode on a free port (PORT), TLS
# there, PROXY v2 with the SSL TLV (send-proxy-v2-ssl, or SEND) to the
# backend.
start_haproxy() {
	command -v haproxy >/dev/null 2>&1 || skip "haproxy is not installed"
	PORT=$(free_port)
	cat >"$TEST_TMP/haproxy.cfg" <<EOF
global
	log stderr format raw local0 info
defaults
	mode tcp
	log global
	timeout connect 5s
	timeout client 30s
	timeout server 30s
frontend tls
	bind 127.0.0.1:$PORT ssl crt $TEST_TMP/site.pem alpn http/1.1
	default_backend ashd
backend ashd
	server htparser 127.0.0.1:$BPORT ${1:-send-proxy-v2-ssl}
EOF
	haproxy -c -q -f "$TEST_TMP/haproxy.cfg" || fail "haproxy -c failed"
	start_bg "$TEST_TMP/haproxy.log" haproxy -db -f "$TEST_TMP/haproxy.cfg"
	wait_port "$PORT" 10 "$BG_PID" || fail "haproxy: $(cat "$TEST_TMP/haproxy.log")"
}

# https PATH [CURL OPTIONS...]: GET https://127.0.0.1:$PORT/PATH with
# the test's certificate as the only trusted one; body to $TEST_TMP/body,
# prints "CODE LOCALPORT".
https() {
	local path=$1
	shift
	curl -sS -m 30 --cacert "$TEST_TMP/cert.pem" -o "$TEST_TMP/body" \
	    -w '%{http_code} %{local_port}\n' "$@" "https://127.0.0.1:$PORT$path"
}

# The checks both terminators must pass.
check_site() {
	local out code lport
	# The page.
	out=$(https /)
	assert_equal "${out% *}" 200
	assert_equal "$(cat "$TEST_TMP/body")" '<p>hello over TLS</p>'
	# The CGI: HTTPS=on, and the client is curl itself (its own port),
	# not the terminator; X-Forwarded-For passes untouched.
	out=$(https /env.cgi -H 'X-Forwarded-For: 203.0.113.9')
	code=${out% *} lport=${out#* }
	assert_equal "$code" 200
	run cat "$TEST_TMP/body"
	assert_contains "$output" $'HTTPS=on\n'
	assert_contains "$output" $'REMOTE_ADDR=127.0.0.1\n'
	assert_contains "$output" "REMOTE_PORT=$lport"$'\n'
	assert_contains "$output" "SERVER_PORT=$PORT"$'\n'
	assert_contains "$output" 'HTTP_X_FORWARDED_FOR=203.0.113.9'
	# A large download arrives whole.
	out=$(https /big.bin)
	assert_equal "${out% *}" 200
	cmp "$TEST_TMP/body" "$SITE/big.bin"
	# Keep-alive: three requests, one TLS connection, one connection
	# from the terminator (the same REMOTE_PORT each time).
	curl -sS -m 30 --cacert "$TEST_TMP/cert.pem" \
	    -w '%{http_code} %{num_connects}\n' -o /dev/null \
	    "https://127.0.0.1:$PORT/" -o "$TEST_TMP/k1" \
	    "https://127.0.0.1:$PORT/env.cgi" -o "$TEST_TMP/k2" \
	    "https://127.0.0.1:$PORT/env.cgi" >"$TEST_TMP/keep" 2>&1 ||
	    fail "curl: $(cat "$TEST_TMP/keep")"
	assert_equal "$(tr '\n' ' ' <"$TEST_TMP/keep")" '200 1 200 0 200 0 '
	assert_equal "$(grep REMOTE_PORT "$TEST_TMP/k1")" "$(grep REMOTE_PORT "$TEST_TMP/k2")"
}

@test "hitch in front (PROXY v2): the page, HTTPS=on and the real client in a CGI, a large download, keep-alive" {
	start_backend
	start_hitch
	check_site
}

@test "haproxy in TCP mode in front (send-proxy-v2-ssl): the same" {
	start_backend
	start_haproxy
	check_site
}

@test "without the header's SSL TLV nor the https flag, the CGI sees no HTTPS" {
	start_backend
	start_haproxy send-proxy-v2
	https /env.cgi >/dev/null
	run cat "$TEST_TMP/body"
	assert_contains "$output" $'HTTPS=\n'
	# ... and with the https flag on the port, it does again.
	kill_bg
	start_backend https
	start_haproxy send-proxy-v2
	https /env.cgi >/dev/null
	run cat "$TEST_TMP/body"
	assert_contains "$output" $'HTTPS=on\n'
}

@test "a client that talks to the proxy port directly, bypassing the terminator, gets nothing" {
	start_backend
	PORT=$BPORT
	run curl -sS -m 5 "http://127.0.0.1:$BPORT/"
	assert_status 52
	run curl -sS -m 5 -k "https://127.0.0.1:$BPORT/"
	[ "$status" -ne 0 ] || fail "TLS to the proxy port answered"
	grep -q 'PROXY header: not a PROXY protocol header' "$SERVER_LOG"
}
