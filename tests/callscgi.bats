#!/usr/bin/env bats
# callscgi.bats: callscgi behind htparser and dirplex over real TCP on
# 127.0.0.1.
#
# Each test writes its own configuration ($TEST_TMP/scgi.rc, read with
# `dirplex -N -c`: a persistent `child scgi` running `callscgi ARGS` for
# the files *.scgi) and starts its own htparser on a free port.  The
# SCGI applications are a real server from Debian (uwsgi with its
# python3 plugin, serving tests/wsgi-app.py) and tests/scgi-server.py,
# our own small server that checks every request head strictly, whose
# behaviour the query string selects and whose log ($APP_LOG) shows
# each request from the application's side.
#
# Processes: htparser (with dirplex and callscgi) is started as its own
# process group and killed with it; the applications callscgi starts run
# in process groups of their own, so teardown also kills every process
# it finds below htparser, and the tests track those that must outlive
# callscgi.  TMPDIR is the test's directory, so callscgi's anonymous
# sockets and -i sockets are made there.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	export TMPDIR=$TEST_TMP
	use_build_path
	CALLSCGI=$(ashd_prog callscgi)
	SERVER=$ASHD_SRCDIR/tests/scgi-server.py
	WSGI_APP=$ASHD_SRCDIR/tests/wsgi-app.py
	SERVER_LOG=$TEST_TMP/server.log
	APP_LOG=$TEST_TMP/app.log
	mkdir -p "$TEST_TMP/site"
	SITE=$(cd "$TEST_TMP/site" && pwd -P)
	: >"$SITE/app.scgi"
	HTPARSER_PID=
	[ -x "$CALLSCGI" ] ||
	    fail "$CALLSCGI is missing: make -C $ASHD_BUILDDIR"
}

teardown() {
	local strays
	strays=$(stamped_descendants "$HTPARSER_PID")
	common_teardown
	kill_stamped $strays
	return 0
}

# ---------------------------------------------------------------------
# Helpers of this suite

# start_scgi CALLSCGI-ARGS...: *.scgi goes to one persistent
# `callscgi CALLSCGI-ARGS...`; start the site.
start_scgi() {
	put "$TEST_TMP/scgi.rc" "child scgi" "    exec callscgi $*" \
	    "match" "    filename *.scgi" "    handler scgi"
	start_site -N -c "$TEST_TMP/scgi.rc" "$SITE"
}

# start_srv [CALLSCGI-OPTIONS...] [-- SERVER-ARGS...]: /app.scgi served
# by the test server that callscgi starts (anonymous mode unless the
# options give an address), logging to $APP_LOG.
start_srv() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	start_scgi "${opts[@]}" python3 "$SERVER" --log "$APP_LOG" "$@"
}

# start_app ADDRESS [SERVER-ARGS...]: a test server started here (not
# by callscgi) at ADDRESS (unix:PATH or PORT); sets APP_PID.
start_app() {
	start_test_app "$SERVER" "$@"
}

# callscgi_pid: the callscgi under dirplex (started by the first
# request).
callscgi_pid() {
	children_named "$(dirplex_pid)" callscgi
}

# need_uwsgi: skip unless uwsgi and its python3 plugin are installed
# (./quickstart test installs them).
need_uwsgi() {
	command -v uwsgi >/dev/null 2>&1 &&
	    [ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] ||
	    skip "uwsgi with its python3 plugin is not installed (apt-get install uwsgi uwsgi-plugin-python3)"
	UWSGI="uwsgi --plugin python3 --wsgi-file $WSGI_APP --master --processes 2 --die-on-term --disable-logging"
}

# ---------------------------------------------------------------------
# Command line

@test "callscgi -h prints the usage and exits 0" {
	run timeout 5 "$CALLSCGI" -h
	assert_status 0
	assert_match "${output,,}" usage
	local o
	for o in '-N RETRIES' '-i ID' '-u UNIXPATH' '-t [HOST:]PORT' \
	    '-n PROCESSES' '-m CONNECTIONS' '-T SECONDS' '-hsV' 'PROGRAM'; do
		assert_contains "$output" "$o"
	done
}

@test "callscgi: bad usage exits 2" {
	local a
	run timeout 5 "$CALLSCGI" </dev/null
	assert_status 2
	assert_match "${output,,}" usage
	for a in "-Z prog" "-N" "-N x prog" "-N -1 prog" "-N 4097 prog" \
	    "-n 0 prog" "-n x prog" "-m 0 prog" "-m 1x prog" \
	    "-T 0 prog" "-T abc prog" "-T -1 prog" "-i" "-t nosuchport:x" \
	    "-u $(printf 'x%.0s' {1..200})"; do
		run timeout 5 "$CALLSCGI" $a </dev/null
		[ "$status" -eq 2 ] ||
		    fail "callscgi $a: exit status $status, expected 2: $output"
	done
}

@test "callscgi: stdin that is not a request socket is a runtime error (exit 1), and no program is started" {
	run timeout 5 "$CALLSCGI" -u "$TEST_TMP/none.sock" </dev/null
	assert_status 1
	assert_contains "$output" "not a request socket"
	run timeout 5 "$CALLSCGI" sh -c "touch $TEST_TMP/started" </dev/null
	assert_status 1
	sleep 0.3
	[ ! -e "$TEST_TMP/started" ] || fail "the program was started"
	! ls "$TEST_TMP"/callscgi.* >/dev/null 2>&1 || fail "a socket was made"
}

# ---------------------------------------------------------------------
# A real SCGI server: uwsgi

# GET with a query and PATH_INFO, POST, Status, Location, and 10 MB in
# both directions through uwsgi.
uwsgi_basics() {
	expect '/app.scgi/p/q?a=1' 200
	assert_match "$(body)" '^wsgi ok pid=[0-9]+ method=GET path=/p/q$'
	expect '/app.scgi?env' 200
	assert_equal "$(var SCRIPT_NAME)" /app.scgi
	assert_equal "$(var QUERY_STRING)" env
	assert_equal "$(var SCGI)" 1
	assert_equal "$(var SCRIPT_FILENAME)" "$SITE/app.scgi"
	expect '/app.scgi?echo' 200 --data-binary 'posted body'
	assert_equal "$(body)" 'posted body'
	expect '/app.scgi?status=404%20Not%20Here' 404
	expect '/app.scgi?location=http://example.com/x' 302
	assert_equal "$(field Location)" http://example.com/x
	head -c 10485760 /dev/urandom >"$TEST_TMP/up.bin"
	expect '/app.scgi?echo' 200 --data-binary "@$TEST_TMP/up.bin"
	cmp "$TEST_TMP/up.bin" "$TEST_TMP/body"
	pattern_file "$TEST_TMP/down.exp" 10485760
	expect '/app.scgi?big=10485760' 200
	cmp "$TEST_TMP/down.exp" "$TEST_TMP/body"
}

@test "client mode -t: uwsgi --scgi-socket serves GET, query, PATH_INFO, POST, Status, Location, 10 MB each way" {
	need_uwsgi
	local port
	port=$(free_port)
	start_bg "$TEST_TMP/uwsgi.log" $UWSGI --scgi-socket "127.0.0.1:$port"
	wait_listening "$port" "$BG_PID"
	start_scgi -t "127.0.0.1:$port"
	uwsgi_basics
	# uwsgi was not started by callscgi.
	assert_equal "$(children_of "$(callscgi_pid)")" ""
}

@test "client mode -u: uwsgi on a Unix socket; a chunked upload gets its CONTENT_LENGTH" {
	need_uwsgi
	local sock=$TEST_TMP/uw.sock
	start_bg "$TEST_TMP/uwsgi.log" $UWSGI --scgi-socket "$sock"
	wait_listening "unix:$sock" "$BG_PID"
	start_scgi -u "$sock"
	expect '/app.scgi?env' 200 --data-binary 'hello' \
	    -H 'Transfer-Encoding: chunked'
	assert_equal "$(var CONTENT_LENGTH)" 5
	head -c 3000000 /dev/urandom >"$TEST_TMP/up.bin"
	expect '/app.scgi?echo' 200 --data-binary "@$TEST_TMP/up.bin" \
	    -H 'Transfer-Encoding: chunked'
	cmp "$TEST_TMP/up.bin" "$TEST_TMP/body"
}

@test "anonymous mode: callscgi uwsgi --socket fd://0 serves on callscgi's private socket; uwsgi is its child and dies with it" {
	need_uwsgi
	start_scgi $UWSGI --protocol scgi --socket fd://0
	uwsgi_basics
	local cs master
	cs=$(callscgi_pid)
	master=$(children_named "$cs" uwsgi)
	assert_match "$master" '^[0-9]+$'
	ls "$TEST_TMP"/callscgi.*/sock >/dev/null
	stop_site "$cs"
	gone "$master"
	! ls "$TEST_TMP"/callscgi.* >/dev/null 2>&1 ||
	    fail "the private socket directory is left"
}

@test "the shipped dirplex.d/wsgi.rc, uncommented, serves *.wsgi files through callscgi and uwsgi" {
	need_uwsgi
	local rc=$ASHD_SRCDIR/etc/ashd/dirplex.d/wsgi.rc
	# Shipped off: every stanza is commented out.
	! grep -qE '^[^#[:space:]]' "$rc" || fail "wsgi.rc is not all comments"
	# The uwsgi stanzas, uncommented.
	sed -n '/^# BEGIN uwsgi/,/^# END uwsgi/p' "$rc" |
	    sed -e '/^# BEGIN/d' -e '/^# END/d' -e 's/^#//' >"$TEST_TMP/wsgi.rc"
	grep -q '^child wsgi' "$TEST_TMP/wsgi.rc"
	cat >"$SITE/hello.wsgi" <<'EOF'
def application(env, start):
    start("200 OK", [("Content-Type", "text/plain")])
    return [("hello from %s, path %s\n" % (env["SCRIPT_NAME"],
             env.get("PATH_INFO", ""))).encode()]
EOF
	cat >"$SITE/other.wsgi" <<'EOF'
def application(env, start):
    start("201 Created", [("Content-Type", "text/plain")])
    return [b"other " + env["wsgi.input"].read()]
EOF
	start_site -N -c "$TEST_TMP/wsgi.rc" "$SITE"
	expect /hello.wsgi/a/b 200
	assert_equal "$(body)" "hello from /hello.wsgi, path /a/b"
	expect /hello 200
	assert_equal "$(body)" "hello from /hello, path "
	expect /other.wsgi 201 --data-binary 'posted'
	assert_equal "$(body)" "other posted"
	assert_match "$(proc_args "$(children_named "$(dirplex_pid)" callscgi)")" \
	    '^callscgi uwsgi '
}

# ---------------------------------------------------------------------
# The protocol, seen from the application

@test "the head: a netstring with CONTENT_LENGTH first and SCGI=1, then the same CGI variables as callcgi" {
	cat >"$SITE/env.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
tr '\0' '\n' </proc/$$/environ | LC_ALL=C sort
EOF
	chmod 755 "$SITE/env.cgi"
	: >"$SITE/env.scgi"
	put "$TEST_TMP/both.rc" "child cgi" "    exec callcgi" \
	    "child scgi" "    exec callscgi python3 $SERVER --log $APP_LOG" \
	    "match" "    filename *.cgi" "    handler cgi" \
	    "match" "    filename *.scgi" "    handler scgi"
	start_site -N -c "$TEST_TMP/both.rc" "$SITE"
	local v ext opts=(--data-binary 'abc=1' -H 'Content-Type: text/x-test'
	    -H 'X-Test: a b' -H 'User-Agent: scgi-test/1' -H 'Cookie: a=1'
	    -H 'Proxy: http://evil.example')
	for ext in cgi scgi; do
		expect "/env.$ext/p/q%20r?env&a=%20x" 200 "${opts[@]}"
		# The variables a request sets (callcgi also passes its own
		# environment on; SCGI=1 is SCGI's own).
		grep -E '^(HTTP_|AUTH_TYPE=|CONTENT_|DOCUMENT_ROOT=|GATEWAY_INTERFACE=|HTTPS=|PATH_|QUERY_STRING=|REDIRECT_STATUS=|REMOTE_|REQUEST_|SCRIPT_|SERVER_)' "$TEST_TMP/body" |
		    grep -vE '^REMOTE_PORT=' |
		    sed "s/env\\.$ext/env.X/g" >"$TEST_TMP/vars.$ext"
	done
	diff -u "$TEST_TMP/vars.cgi" "$TEST_TMP/vars.scgi"
	assert_equal "$(app_count '^protoerr ')" 0
	expect "/env.scgi?env" 200
	assert_equal "$(var SCGI)" 1
	for v in GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET \
	    QUERY_STRING=env SCRIPT_NAME=/env.scgi CONTENT_LENGTH=0 \
	    "SCRIPT_FILENAME=$SITE/env.scgi" "DOCUMENT_ROOT=$SITE" \
	    SERVER_PROTOCOL=HTTP/1.1 "SERVER_PORT=$PORT" \
	    REMOTE_ADDR=127.0.0.1; do
		grep -qxF -- "$v" "$TEST_TMP/body" ||
		    fail "not given: $v"$'\n'"$(cat "$TEST_TMP/body")"
	done
	! grep -q '^HTTP_PROXY=' "$TEST_TMP/vars.scgi"
	# Our server refuses any head that breaks the protocol's rules.
	assert_equal "$(app_count '^protoerr ')" 0
	assert_equal "$(app_count '^request .* length=0 body=0 ')" 1
}

@test "request bodies: 10 MB up with Content-Length and chunked, byte-exact; CONTENT_LENGTH given; no body is 0" {
	start_srv
	head -c 10485760 /dev/urandom >"$TEST_TMP/up.bin"
	expect '/app.scgi?echo' 200 --data-binary "@$TEST_TMP/up.bin"
	cmp "$TEST_TMP/up.bin" "$TEST_TMP/body"
	expect '/app.scgi?echo' 200 --data-binary "@$TEST_TMP/up.bin" \
	    -H 'Transfer-Encoding: chunked'
	cmp "$TEST_TMP/up.bin" "$TEST_TMP/body"
	expect '/app.scgi?env' 200 --data-binary 'hello' \
	    -H 'Transfer-Encoding: chunked'
	assert_equal "$(var CONTENT_LENGTH)" 5
	run rawhttp -s 'POST /app.scgi?env HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n' -c
	assert_equal "$(status_codes "$output")" 200
	assert_contains "$output" $'\nCONTENT_LENGTH=0\n'
	assert_equal "$(app_count 'length=10485760 body=10485760 ')" 2
	# The stored bodies (files without names) are closed again.
	local cs
	cs=$(callscgi_pid)
	sleep 0.2
	assert_equal "$(find "/proc/$cs/fd" -lname '*(deleted)' \
	    ! -lname '*/valgrind_proc_*' | wc -l)" 0
}

# slow_upload [ARGS...]: in the background, POST 40 bytes to
# /app.scgi?echo in 4 pieces 0.6 s apart (2.4 s); its output goes to
# $TEST_TMP/upload.out.  Sets UPLOAD_PID.
slow_upload() {
	rawhttp -t 10 -s 'POST /app.scgi?echo HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nConnection: close\r\n\r\n' \
	    -w 0.6 -s 0123456789 -w 0.6 -s 0123456789 -w 0.6 -s 0123456789 \
	    -w 0.6 -s 0123456789 -c >"$TEST_TMP/upload.out" &
	UPLOAD_PID=$!
}

@test "a body is received whole before the application is asked: a slow upload holds no worker of a one-at-a-time server" {
	start_srv -- --serial
	expect /app.scgi 200
	slow_upload
	# The upload is under way (its head and first piece sent).
	sleep 1
	local t0 t
	t0=$(now_ms)
	expect /app.scgi 200
	t=$(($(now_ms) - t0))
	[ "$t" -lt $((1000 * SLOW)) ] ||
	    fail "a GET beside a slow upload took $t ms"
	wait "$UPLOAD_PID"
	assert_equal "$(status_codes "$(cat "$TEST_TMP/upload.out")")" 200
	assert_contains "$(cat "$TEST_TMP/upload.out")" \
	    "$(printf '0123456789%.0s' 1 2 3 4)"
	# The server got the GET first, then the whole upload at once.
	assert_equal "$(sed -nE 's/^request conn=([0-9]+) .*method=([A-Z]+).*/\1 \2/p' \
	    "$APP_LOG" | tr '\n' ' ')" "1 GET 2 GET 3 POST "
}

@test "-s: a body with a Content-Length goes to the application as it arrives (the upload holds the worker); a chunked one is still stored" {
	start_srv -s -- --serial
	expect /app.scgi 200
	slow_upload
	# The server took the upload's connection: it reads the body now.
	wait_in "$APP_LOG" "accept conn=2 "
	local t0 t
	t0=$(now_ms)
	expect /app.scgi 200
	t=$(($(now_ms) - t0))
	[ "$t" -ge 1000 ] || fail "the GET did not wait for the streamed upload ($t ms)"
	wait "$UPLOAD_PID"
	assert_contains "$(cat "$TEST_TMP/upload.out")" \
	    "$(printf '0123456789%.0s' 1 2 3 4)"
	expect '/app.scgi?env' 200 --data-binary 'hello' \
	    -H 'Transfer-Encoding: chunked'
	assert_equal "$(var CONTENT_LENGTH)" 5
	head -c 3000000 /dev/urandom >"$TEST_TMP/up.bin"
	expect '/app.scgi?echo' 200 --data-binary "@$TEST_TMP/up.bin"
	cmp "$TEST_TMP/up.bin" "$TEST_TMP/body"
}

@test "a body past the memory limit that cannot be stored (no TMPDIR) is 500, logged; one that fits in memory still goes" {
	local sock=$TEST_TMP/t.sock
	start_app "unix:$sock"
	# (callscgi itself, not under valgrind, which needs a TMPDIR too)
	put "$TEST_TMP/scgi.rc" "child scgi" \
	    "    exec env TMPDIR=$TEST_TMP/missing $ASHD_BUILDDIR/callscgi/callscgi -u $sock" \
	    "match" "    filename *.scgi" "    handler scgi"
	start_site -N -c "$TEST_TMP/scgi.rc" "$SITE"
	head -c 60000 /dev/urandom >"$TEST_TMP/small.bin"
	expect '/app.scgi?echo' 200 --data-binary "@$TEST_TMP/small.bin"
	cmp "$TEST_TMP/small.bin" "$TEST_TMP/body"
	head -c 100000 /dev/urandom >"$TEST_TMP/big.bin"
	expect '/app.scgi?echo' 500 --data-binary "@$TEST_TMP/big.bin"
	wait_log "app.scgi: storing the request body in $TEST_TMP/missing"
	assert_equal "$(app_count 'length=100000')" 0
}

@test "responses: Status, Location, an NPH status line, bare LF heads, and a response written a few bytes at a time" {
	start_srv
	expect '/app.scgi?status=404' 404
	expect '/app.scgi?status=201%20Made%20It' 201
	grep -q '^HTTP/1.1 201 Made It$' "$TEST_TMP/head"
	expect '/app.scgi?location=http://example.com/x' 302
	assert_equal "$(field Location)" http://example.com/x
	expect '/app.scgi?location=http://example.com/y&status=303' 303
	expect '/app.scgi?nph' 202
	grep -q '^HTTP/1.1 202 Accepted$' "$TEST_TMP/head"
	assert_match "$(field X-Scgi-Pid)" '^[0-9]+$'
	expect '/app.scgi?lf' 200
	assert_match "$(body)" '^ok pid='
	expect '/app.scgi?short&status=203' 203
	assert_match "$(body)" '^ok pid=[0-9]+ conn=[0-9]+ query=short&status=203$'
	pattern_file "$TEST_TMP/down.exp" 100000
	expect '/app.scgi?short&big=100000' 200
	cmp "$TEST_TMP/down.exp" "$TEST_TMP/body"
}

@test "responses are streamed with backpressure: a client not reading 100 MB leaves callscgi small" {
	start_srv
	expect /app.scgi 200
	local cs
	cs=$(callscgi_pid)
	run timeout 60 python3 -c '
import http.client, os, sys, time
def rss():
    for l in open("/proc/%s/status" % sys.argv[1]):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
before = rss()
c = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]))
c.request("GET", "/app.scgi?big=100000000")
r = c.getresponse()
time.sleep(1.5)
print(rss() - before)
print(len(r.read()))
' "$cs"
	assert_status 0
	[ "${lines[0]}" -lt 16384 ] ||
	    fail "callscgi grew by ${lines[0]} kB while the client did not read"
	assert_equal "${lines[1]}" 100000000
}

@test "a client that disconnects mid-response: the application's connection is closed; callscgi lives on" {
	start_srv
	expect /app.scgi 200
	local cs n0
	cs=$(callscgi_pid)
	n0=$(find "/proc/$cs/fd" | wc -l)
	rawhttp -t 5 -s 'GET /app.scgi?slowbody HTTP/1.1\r\nHost: x\r\n\r\n' \
	    -e 'xxxxx' >/dev/null
	wait_log "app.scgi: client went away"
	# The server sees its connection gone long before its 400 pieces.
	wait_in "$APP_LOG" "gone conn=2"
	expect /app.scgi 200
	assert_equal "$(callscgi_pid)" "$cs"
	assert_equal "$(find "/proc/$cs/fd" | wc -l)" "$n0"
}

@test "errors: a garbage head, a body without a head, half a head, an early close and a head over 64 KiB are 502, logged; callscgi lives on" {
	start_srv
	expect /app.scgi 200
	local cs
	cs=$(callscgi_pid)
	expect '/app.scgi?garbage' 502
	wait_log "app.scgi: backend unix:$TEST_TMP/callscgi."
	wait_log "malformed"
	expect '/app.scgi?nohead' 502
	wait_log "incomplete response head"
	expect '/app.scgi?halfhead' 502
	expect '/app.scgi?close' 502
	wait_log "no response"
	expect '/app.scgi?hugehead' 502
	wait_log "response head too large"
	assert_contains "$(body)" "502"
	expect /app.scgi 200
	assert_equal "$(callscgi_pid)" "$cs"
}

@test "an application that answers before reading the body (413) is passed on" {
	start_srv
	head -c 3000000 /dev/urandom >"$TEST_TMP/up.bin"
	expect '/app.scgi?early' 413 --data-binary "@$TEST_TMP/up.bin"
	assert_equal "$(body)" "early answer"
	expect /app.scgi 200
}

@test "-T 1: an application silent past the timeout gets 504, logged; the next request works" {
	start_srv -T 1
	expect /app.scgi 200
	local t0 t
	t0=$(now_ms)
	expect '/app.scgi?sleep=4000' 504
	t=$(($(now_ms) - t0))
	[ "$t" -ge 900 ] && [ "$t" -lt 3000 ] || fail "504 after $t ms"
	wait_log "app.scgi: backend unix:$TEST_TMP/callscgi."
	wait_log "silent for 1000 ms"
	expect /app.scgi 200
}

@test "-T 1: a response that keeps coming for 2.4 s is not cut off" {
	start_srv -T 1
	expect '/app.scgi?drip=8' 200
	assert_equal "$(body | wc -c)" 8000
}

@test "-T 1: a request waiting for a connection longer than that gets 503" {
	start_srv -m 1 -T 1
	expect /app.scgi 200
	# One connection, taken for 3.6 s by a response that keeps coming
	# (a piece every 0.3 s: never silent for -T).
	get '/app.scgi?drip=12' >"$TEST_TMP/first.code" &
	local first=$! t0 t
	wait_in "$APP_LOG" "accept conn=2 "
	t0=$(now_ms)
	expect '/app.scgi?second' 503
	t=$(($(now_ms) - t0))
	[ "$t" -ge 900 ] && [ "$t" -lt 3000 ] || fail "503 after $t ms"
	wait_log "no backend available in time"
	wait "$first"
	assert_equal "$(cat "$TEST_TMP/first.code")" 200
}

@test "-m 1: one connection at a time; the others wait in order and are all answered" {
	start_srv -m 1
	expect /app.scgi 200
	local out
	out=$(par 6 '/app.scgi?sleep=150' 'query=sleep=150&n=%d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=6 fail=0" || fail "$out"
	assert_equal "$(sed -nE 's/^request .* active=([0-9]+)$/\1/p' "$APP_LOG" |
	    sort -n | tail -n 1)" 1
}

@test "without -m, connections are not limited: 4 requests run at once" {
	start_srv
	expect /app.scgi 200
	local out
	out=$(par 4 '/app.scgi?sleep=600' 'n=%d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=4 fail=0" || fail "$out"
	assert_equal "$(sed -nE 's/^request .* active=([0-9]+)$/\1/p' "$APP_LOG" |
	    sort -n | tail -n 1)" 4
}

@test "500 concurrent requests are all answered, each with its own body" {
	start_srv
	local out
	out=$(par 500 /app.scgi 'query=n=%d'$'\n')
	assert_equal "$(head -n 1 <<<"$out")" "ok=500 fail=0" ||
	    fail "$out"$'\n'"$(tail -n 20 "$SERVER_LOG")"
	assert_equal "$(app_count '^request ')" 500
	assert_equal "$(app_count '^protoerr ')" 0
}

# ---------------------------------------------------------------------
# Modes and processes

@test "anonymous mode: an application that crashes mid-request is 502, and is restarted" {
	start_srv
	expect /app.scgi 200
	local old
	old=$(ok_pid)
	expect '/app.scgi?crash' 502
	wait_log "exited with status 3; restarting it"
	expect /app.scgi 200
	[ "$(ok_pid)" != "$old" ] || fail "still pid $old"
	assert_equal "$(app_count '^start ')" 2
}

@test "-n 3: three copies of a one-at-a-time server share the socket and serve at once; one killed is restarted" {
	start_srv -n 3 -- --serial
	expect /app.scgi 200
	local cs kids victim t0 out
	cs=$(callscgi_pid)
	wait_count 3 children_of "$cs"
	kids=$(children_of "$cs")
	t0=$(now_ms)
	out=$(par 3 '/app.scgi?sleep=800' 'n=%d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=3 fail=0" || fail "$out"
	[ $(($(now_ms) - t0)) -lt $((2200 * SLOW)) ] || fail "not served at once"
	assert_equal "$(sed -nE 's/^request .* pid=([0-9]+) .*length=0.*$/\1/p' \
	    "$APP_LOG" | tail -n 3 | sort -u | wc -l)" 3
	victim=$(head -n 1 <<<"$kids")
	kill -KILL "$victim"
	wait_log "(pid $victim) killed by signal 9; restarting it"
	wait_count 3 children_of "$cs"
	! children_of "$cs" | grep -qx "$victim"
}

@test "anonymous mode: the application gets the listening socket on stdin, its own process group, and is killed when callscgi exits" {
	start_srv
	expect /app.scgi 200
	local app cs
	app=$(ok_pid)
	cs=$(callscgi_pid)
	assert_equal "$(children_of "$cs")" "$app"
	assert_match "$(readlink "/proc/$app/fd/0")" '^socket:'
	[ -S "$(ls "$TEST_TMP"/callscgi.*/sock)" ]
	assert_equal "$(ps -o pgid= -p "$app" | tr -d ' ')" "$app"
	stop_site "$cs"
	gone "$app"
}

@test "anonymous mode: killed with SIGKILL, callscgi still takes its application with it" {
	start_srv
	expect /app.scgi 200
	local app cs
	app=$(ok_pid)
	cs=$(callscgi_pid)
	kill -KILL "$cs"
	gone "$app"
}

@test "SIGTERM: callscgi finishes the request it runs, kills its anonymous pool, removes its socket and exits 0" {
	start_srv -n 2
	expect /app.scgi 200
	local cs kids k
	cs=$(callscgi_pid)
	wait_count 2 children_of "$cs"
	kids=$(children_of "$cs")
	get '/app.scgi?sleep=800' >"$TEST_TMP/slow.code" &
	local slow=$!
	sleep 0.3
	kill -TERM "$cs"
	wait "$slow"
	assert_equal "$(cat "$TEST_TMP/slow.code")" 200
	gone "$cs"
	for k in $kids; do
		gone "$k"
	done
	! ls "$TEST_TMP"/callscgi.* >/dev/null 2>&1 ||
	    fail "the private socket directory is left"
}

@test "launching mode: address + PROGRAM starts it on that socket, restarts it there, leaves it running, and a later callscgi uses it" {
	local sock=$TEST_TMP/l.sock app cs
	start_srv -u "$sock"
	expect /app.scgi 200
	app=$(ok_pid)
	cs=$(callscgi_pid)
	track_pid "$app" 1
	assert_equal "$(children_of "$cs")" "$app"
	[ -S "$sock" ]
	assert_match "$(readlink "/proc/$app/fd/0")" '^socket:'
	# A copy that dies is started again on the same socket.
	kill -KILL "$app"
	wait_log "(pid $app) killed by signal 9; restarting it"
	wait_count 1 children_of "$cs"
	app=$(children_of "$cs")
	track_pid "$app" 1
	assert_match "$(readlink "/proc/$app/fd/0")" '^socket:'
	expect /app.scgi 200
	assert_equal "$(ok_pid)" "$app"
	stop_site "$cs"
	sleep 0.3
	proc_alive "$app" || fail "the application died with callscgi"
	start_srv -u "$sock"
	expect /app.scgi 200
	assert_equal "$(ok_pid)" "$app"
	# Started once, then once again after the kill: never by the
	# second callscgi.
	assert_equal "$(app_count '^start ')" 2
	assert_equal "$(children_of "$(callscgi_pid)")" ""
}

@test "launching mode with -t: a TCP listening socket is made for the program" {
	local port app
	port=$(free_port)
	start_srv -t "127.0.0.1:$port"
	expect /app.scgi 200
	app=$(ok_pid)
	track_pid "$app" 1
	port_listening "$port"
	assert_match "$(readlink "/proc/$app/fd/0")" '^socket:'
}

@test "mixed mode: -N + address + PROGRAM starts PROGRAM, which makes its own socket, and connects once it is up" {
	local sock=$TEST_TMP/m.sock app cf
	start_srv -N 5 -u "$sock" -- "unix:$sock"
	expect /app.scgi 200
	app=$(ok_pid)
	track_pid "$app" 1
	cf=$(callscgi_pid)
	assert_equal "$(children_of "$cf")" "$app"
	assert_equal "$(readlink "/proc/$app/fd/0")" /dev/null
	# callscgi first: it cannot start a new copy when the teardown
	# ends this one.
	stop_site "$cf"
}

@test "-i ID: the socket is \$TMPDIR/callscgi-UID-ID, in launching and in client mode" {
	local sock=$TEST_TMP/callscgi-$(id -u)-one app
	start_srv -i one
	expect /app.scgi 200
	app=$(ok_pid)
	track_pid "$app" 1
	[ -S "$sock" ] || fail "no socket $sock: $(ls "$TEST_TMP")"
	kill_bg
	rm -f "$APP_LOG"
	start_app "unix:$TEST_TMP/callscgi-$(id -u)-two"
	start_scgi -i two
	expect /app.scgi 200
	assert_equal "$(ok_pid)" "$APP_PID"
}

@test "client mode: backend down is 502 (logged with its address), then 200 once it is started" {
	local sock=$TEST_TMP/c.sock cs
	start_scgi -u "$sock"
	expect /app.scgi 502
	wait_log "backend unix:$sock: No such file or directory"
	cs=$(callscgi_pid)
	start_app "unix:$sock"
	sleep 1
	expect /app.scgi 200
	assert_equal "$(ok_pid)" "$APP_PID"
	stop_app "$APP_PID"
	expect /app.scgi 502
	wait_log "Connection refused"
	assert_equal "$(callscgi_pid)" "$cs"
}

@test "client mode -t PORT (no host): the backend on localhost" {
	local port
	port=$(free_port)
	start_app "$port"
	start_scgi -t "$port"
	expect /app.scgi 200
	assert_equal "$(ok_pid)" "$APP_PID"
}

@test "client mode -N 3 -u: a backend that comes up within the retries is waited for" {
	local sock=$TEST_TMP/n.sock
	start_scgi -N 3 -u "$sock"
	start_bg "$TEST_TMP/app.out" sh -c 'sleep 1; exec python3 "$1" "$2"' \
	    sh "$SERVER" "unix:$sock"
	expect /app.scgi 200
	assert_equal "$(ok_pid)" "$BG_PID"
}

@test "client mode -N 4 -t: a TCP backend that comes up after 2.5 s is waited for" {
	local port
	port=$(free_port)
	start_scgi -N 4 -t "127.0.0.1:$port"
	start_bg "$TEST_TMP/app.out" sh -c 'sleep 2.5; exec python3 "$1" "$2"' \
	    sh "$SERVER" "$port"
	expect /app.scgi 200
	assert_equal "$(ok_pid)" "$BG_PID"
}

@test "failover across two -u backends: the second serves while the first is down; both down is 503" {
	local a=$TEST_TMP/a.sock b=$TEST_TMP/b.sock apid bpid
	start_app "unix:$b"
	bpid=$APP_PID
	start_scgi -u "$a" -u "$b"
	expect /app.scgi 200
	assert_equal "$(ok_pid)" "$bpid"
	wait_log "backend unix:$a: No such file or directory"
	start_app "unix:$a"
	apid=$APP_PID
	sleep 1.1
	expect /app.scgi 200
	assert_equal "$(ok_pid)" "$apid"
	stop_app "$apid"
	stop_app "$bpid"
	expect /app.scgi 503
	wait_log "no backend can be reached"
}
