#!/usr/bin/env bats
# accesslog.bats: accesslog as the root handler of htparser, over real
# TCP on 127.0.0.1.
#
# Each test starts its own htparser whose root handler is accesslog in
# front of either echo-handler (whose query string picks the response:
# sizes, statuses, no length, broken heads, duplex) or dirplex with the
# shipped configuration (sendfile: ranges, 304, big files), and reads
# the log file the test gave it.  Every option of accesslog(1) has a
# test here, as have the counts of the extended mode, log rotation,
# write failures and the escaping of client data.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	SERVER_LOG=$TEST_TMP/server.log
	LOG=$TEST_TMP/access.log
	SITE=$TEST_TMP/site
	mkdir -p "$SITE"
	printf 'hello\n' >"$SITE/index.html"
	H='Host: x\r\n'
}

teardown() {
	common_teardown
}

# ---------------------------------------------------------------------
# Helpers of this suite

# lines [FILE]: how many lines FILE ($LOG) has.
lines() {
	if [ -f "${1:-$LOG}" ]; then
		wc -l <"${1:-$LOG}" | tr -d ' '
	else
		echo 0
	fi
}

# wait_lines N [FILE]: wait until FILE ($LOG) has N lines.
wait_lines() {
	local f=${2:-$LOG} i
	for ((i = 0; i < 250 * SLOW; i++)); do
		[ "$(lines "$f")" -ge "$1" ] && return 0
		sleep 0.02
	done
	fail "$f: $(lines "$f") lines, expected $1:"$'\n'"$(cat "$f" 2>/dev/null)"$'\nserver log:\n'"$(tail -n 20 "$SERVER_LOG")"
}

# record N: line N of $LOG, once there.
record() {
	wait_lines "$1" || return 1
	sed -n "$1p" "$LOG"
}

# wait_for COMMAND...: wait until COMMAND succeeds (5 s).
wait_for() {
	local i
	for ((i = 0; i < 100 * SLOW; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	fail "still not true after 5 s: $*"
}

# dead PID: the process is gone.
dead() {
	! proc_alive "$1"
}

# al_pid: the accesslog under htparser (once it runs as accesslog).
al_pid() {
	local p i
	for ((i = 0; i < 250 * SLOW; i++)); do
		p=$(children_named "$HTPARSER_PID" accesslog)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.02
	done
	fail "no accesslog under htparser $HTPARSER_PID"
}

# echo_site ACCESSLOG-OPTIONS...: accesslog OPTIONS $LOG echo-handler,
# once $LOG is open (and locked).
echo_site() {
	start_root accesslog "$@" "$LOG" "$ECHO_HANDLER"
	wait_for test -e "$LOG"
}

# file_site ACCESSLOG-OPTIONS...: accesslog OPTIONS $LOG dirplex $SITE.
file_site() {
	start_root accesslog "$@" "$LOG" dirplex "$SITE"
	wait_for test -e "$LOG"
}

# ---------------------------------------------------------------------
# Command line

@test "-h prints the usage on stdout; bad command lines exit 2" {
	run accesslog -h
	assert_status 0
	assert_contains "$output" "usage: accesslog [-hFaeL] [-f FORMAT]"
	run accesslog
	assert_status 2
	run accesslog "$LOG"
	assert_status 2
	run accesslog -x "$LOG" dirplex "$SITE"
	assert_status 2
	assert_contains "$output" "usage: accesslog"
}

@test "not started as a persistent handler: exit 1, nothing opened" {
	run accesslog "$LOG" dirplex "$SITE" </dev/null
	assert_status 1
	assert_contains "$output" "not a request socket"
	[ ! -e "$LOG" ]
}

@test "a malformed format is refused at start-up with status 2" {
	local f
	for f in '%q' '%{Host' '%h' 'abc%' '%{}p'; do
		run accesslog -f "$f" "$LOG" dirplex "$SITE"
		assert_status 2
		assert_contains "$output" "accesslog: format:"
	done
}

# ---------------------------------------------------------------------
# Formats

@test "the default format: time, method, URL, address, user agent" {
	file_site
	expect '/index.html?a=b' 200 -A 'test agent/1.0'
	run record 1
	assert_match "$output" '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} GET /index.html\?a=b 127\.0\.0\.1 "test agent/1\.0"$'
}

@test "-f: every request field, %% and header fields" {
	echo_site -f '%m|%u|%U|%v|%r|%A|%H|%R|%G|%{X-Test}h|%{X-None}h|%%|100%%'
	expect '/sub/page.html?x=1&y=2' 200 -H 'X-Test: hello' \
	    -e 'http://ref.example/' -A 'UA/1' -H 'Host: example.org'
	run record 1
	assert_equal "$output" 'GET|/sub/page.html?x=1&y=2|/sub/page.html|HTTP/1.1|sub/page.html|127.0.0.1|example.org|http://ref.example/|UA/1|hello|-|%|100%'
}

@test "-f: %v and %m as sent; fields of absent headers are dashes" {
	echo_site -f '%m %v %R %G %H'
	run rawhttp -s "HEAD /x HTTP/1.0\r\n\r\n" -c
	run record 1
	assert_equal "$output" 'HEAD HTTP/1.0 - - -'
}

@test "-f: %t, %T and %s: local time, UTC, microseconds" {
	export TZ=XYZ-3
	echo_site -f '%t|%{%H %z}t|%T|%{%H %z}T|%s|%{%S}t.%s'
	expect / 200
	run record 1
	IFS='|' read -r t tl T Tl s frac <<<"$output"
	assert_match "$t" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0300$'
	assert_match "$T" ' \+0000$'
	assert_equal "${tl#* }" +0300
	assert_equal "${Tl#* }" +0000
	assert_equal $(((10#${tl% *} - 10#${Tl% *} + 24) % 24)) 3
	assert_match "$s" '^[0-9]{6}$'
	assert_equal "${frac#*.}" "$s"
}

@test "-f: response fields are dashes without -e" {
	echo_site -f '%c %i %o %d %{Content-Type}p %{Foo}P'
	expect '/?size=10' 200
	run record 1
	assert_equal "$output" '- - - - - -'
}

@test "-a: Apache's combined format, with dashes for status and size" {
	echo_site -a
	expect '/x?y=1' 200 -e 'http://r/' -A 'agent 1'
	run record 1
	assert_match "$output" '^127\.0\.0\.1 - - \[[0-9]{2}/[A-Z][a-z]{2}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}\] "GET /x\?y=1 HTTP/1\.1" - - "http://r/" "agent 1"$'
}

@test "-a -e: the combined format with the real status and size" {
	echo_site -a -e
	expect '/x?size=1234' 200 -A 'agent 1'
	expect '/y?status=404&size=7' 404
	run record 1
	assert_match "$output" '\] "GET /x\?size=1234 HTTP/1\.1" 200 1234 "-" "agent 1"$'
	run record 2
	assert_match "$output" '\] "GET /y\?status=404&size=7 HTTP/1\.1" 404 7 "-" "curl/'
}

@test "the last of -f and -a counts" {
	start_root accesslog -a -f 'F %m' "$LOG" "$ECHO_HANDLER"
	expect / 200
	run record 1
	assert_equal "$output" 'F GET'
}

@test "escaping: client data cannot break a field, a quote or a line" {
	echo_site -a
	expect '/' 200 -A $'a"b\\c\td \xc3\xa9 "x" y'
	expect '/' 200 -A 'second'
	wait_lines 2
	assert_equal "$(lines)" 2
	run record 1
	assert_contains "$output" '"a\"b\\c\td \xc3\xa9 \"x\" y"'
	# A parser of the combined format sees the whole agent as one field.
	run python3 -c '
import re, sys
m = re.match(r"^(\S+) - - \[[^]]+\] \"((?:[^\"\\]|\\.)*)\" (\S+) (\S+) \"((?:[^\"\\]|\\.)*)\" \"((?:[^\"\\]|\\.)*)\"$", sys.argv[1])
print(m.group(6) if m else "no match")' "$output"
	assert_equal "$output" 'a\"b\\c\td \xc3\xa9 \"x\" y'
}

@test "OUTFILE - writes the records on standard output" {
	start_root accesslog -f 'REC %m %u' - "$ECHO_HANDLER"
	expect /stdout-test 200
	wait_for grep -q '^REC GET /stdout-test$' "$SERVER_LOG"
	run grep -c '^REC GET /stdout-test$' "$SERVER_LOG"
	assert_equal "$output" 1
}

# ---------------------------------------------------------------------
# The extended mode

@test "-e: status, body size, response headers and time" {
	echo_site -e -f '%c %o %i %{Content-Type}p %{X-None}p %{Foo}P %d'
	expect '/?size=1000&header=X-Ash-Foo:bar' 200
	assert_equal "$(wc -c <"$TEST_TMP/body")" 1000
	run record 1
	assert_match "$output" '^200 1000 0 text/plain - bar [0-9]+\.[0-9]{6}$'
}

@test "-e: %d is how long the handler took" {
	echo_site -e -f '%d'
	expect '/?sleep=400' 200
	run record 1
	assert_match "$output" '^[0-9]+\.[0-9]{6}$'
	[ "${output%.*}${output#*.}" -ge 400000 ] || fail "%d $output < 0.4"
}

@test "-e: request bodies are relayed and counted (%i), also chunked" {
	echo_site -e -f '%m %c %i %o'
	head -c 100000 /dev/urandom >"$TEST_TMP/up"
	expect '/?echo' 200 --data-binary @"$TEST_TMP/up"
	cmp "$TEST_TMP/up" "$TEST_TMP/body"
	expect '/?echo' 200 -H 'Transfer-Encoding: chunked' \
	    --data-binary @"$TEST_TMP/up"
	cmp "$TEST_TMP/up" "$TEST_TMP/body"
	run record 1
	assert_equal "$output" 'POST 200 100000 100000'
	run record 2
	assert_equal "$output" 'POST 200 100000 100000'
}

@test "-e: HEAD, 204 and 304 count no body, whatever the handler wrote" {
	echo_site -e -f '%m %c %o'
	expect '/?size=5000' 200 -I
	expect '/?status=204' 204
	expect '/?status=304' 304
	run record 1
	assert_equal "$output" 'HEAD 200 0'
	run record 2
	assert_equal "$output" 'GET 204 0'
	run record 3
	assert_equal "$output" 'GET 304 0'
}

@test "-e: a response without a length (chunked to the client) counts its data" {
	echo_site -e -f '%c %o'
	expect '/?nolength&size=10' 200
	expect '/?nolength&size=300000' 200
	assert_equal "$(wc -c <"$TEST_TMP/body")" 300000
	run record 1
	assert_equal "$output" '200 10'
	run record 2
	assert_equal "$output" '200 300000'
}

@test "-e: a handler's own chunked body counts its data, not the framing" {
	cat >"$TEST_TMP/raw.sh" <<'EOF'
#!/bin/sh
printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
printf '5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n'
EOF
	chmod +x "$TEST_TMP/raw.sh"
	put "$TEST_TMP/rc" "fchild raw" "    exec $TEST_TMP/raw.sh" \
	    "match" "    default" "    handler raw"
	start_root accesslog -e -f '%c %o' "$LOG" dirplex -N -c "$TEST_TMP/rc" "$SITE"
	expect /index.html 200
	assert_equal "$(body)" 'hello world'
	run record 1
	assert_equal "$output" '200 11'
}

@test "-e: files through sendfile: ranges, 304, HEAD, a big file" {
	head -c 10000 /dev/urandom >"$SITE/f.bin"
	head -c 3145728 /dev/urandom >"$SITE/big.bin"
	file_site -e -f '%m %c %o'
	expect /f.bin 200
	etag=$(field ETag)
	expect /f.bin 206 -r 100-199
	assert_equal "$(wc -c <"$TEST_TMP/body")" 100
	expect /f.bin 304 -H "If-None-Match: $etag"
	expect /f.bin 200 -I
	expect /big.bin 200
	cmp "$SITE/big.bin" "$TEST_TMP/body"
	run record 1
	assert_equal "$output" 'GET 200 10000'
	run record 2
	assert_equal "$output" 'GET 206 100'
	run record 3
	assert_equal "$output" 'GET 304 0'
	run record 4
	assert_equal "$output" 'HEAD 200 0'
	run record 5
	assert_equal "$output" 'GET 200 3145728'
}

@test "-e: keep-alive and pipelining: one record per response" {
	echo_site -e -f '%u %c %o'
	run rawhttp -s "GET /1?size=3 HTTP/1.1\r\n${H}\r\nGET /2?size=5&nolength HTTP/1.1\r\n${H}\r\nGET /3?size=7 HTTP/1.1\r\n${H}Connection: close\r\n\r\n" -c
	assert_status 0
	assert_equal "$(grep -o 'HTTP/1.1 200 OK' <<<"$output" | wc -l)" 3
	wait_lines 3
	assert_equal "$(cat "$LOG")" $'/1?size=3 200 3\n/2?size=5&nolength 200 5\n/3?size=7 200 7'
}

@test "-e: a client that leaves mid-body is logged with what it was sent" {
	head -c 33554432 /dev/zero >"$SITE/huge.bin"
	file_site -e -f '%c %o'
	run python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
got = 0
while got < 100000:
    d = s.recv(65536)
    if not d:
        break
    got += len(d)
s.close()
print(got)' "$PORT"
	assert_status 0
	got=$output
	[ "$got" -ge 100000 ]
	run record 1
	[[ $output =~ ^200\ ([0-9]+)$ ]] || fail "record: $output"
	n=${BASH_REMATCH[1]}
	[ "$n" -ge $((got - 1000)) ] || fail "logged $n, the client read $got"
	[ "$n" -lt 16777216 ] || fail "logged $n of 33554432: not what was sent"
}

@test "-e: a broken response head is answered 502 and logged as such" {
	echo_site -e -f '%u %c %o'
	expect '/?partial' 502
	size1=$(wc -c <"$TEST_TMP/body")
	expect '/?close' 502
	size2=$(wc -c <"$TEST_TMP/body")
	[ "$size1" -gt 0 ]
	run record 1
	assert_equal "$output" "/?partial 502 $size1"
	run record 2
	assert_equal "$output" "/?close 502 $size2"
}

@test "-e: X-Ash-Switch: duplex still works, logged with its status" {
	echo_site -e -f '%u %c %o'
	run rawhttp -t 3 -s "GET /?duplex HTTP/1.1\r\n${H}Upgrade: test\r\nConnection: Upgrade\r\n\r\n" \
	    -e '\r\n\r\n' -s 'hello' -e 'HELLO' -s ', world' -e ', WORLD' -S -c
	assert_status 0
	assert_equal "$(status_codes "$output")" 101
	assert_equal "${output#*$'\r\n\r\n'}" 'HELLO, WORLD'
	run record 1
	assert_equal "$output" '/?duplex 101 0'
}

@test "-e: a handler htparser gave up on is logged then, status unknown" {
	PORT=$(free_port)
	start_bg "$SERVER_LOG" "$HTPARSER" -o timeout-handler=1 \
	    "plain:port=$PORT,local=127.0.0.1" -- \
	    accesslog -e -f '%u %c %o' "$LOG" "$ECHO_HANDLER"
	HTPARSER_PID=$BG_PID
	wait_port "$PORT" 5 "$HTPARSER_PID"
	t0=$(now_ms)
	expect '/?sleep=6000&size=5' 504
	# Logged when htparser closed the socket, not when the handler
	# answers after 6 s (with a 200 the client never got).
	run record 1
	assert_equal "$output" '/?sleep=6000&size=5 - 0'
	[ $(($(now_ms) - t0)) -lt 5500 ] || fail "logged only after $(($(now_ms) - t0)) ms"
}

# ---------------------------------------------------------------------
# Writing the log

@test "records are written without waiting for more requests" {
	echo_site -f '%u'
	expect /one 200
	wait_lines 1
	assert_equal "$(cat "$LOG")" /one
}

@test "-F: records are gathered, and written within about a second" {
	echo_site -F -f '%u'
	t0=$(now_ms)
	expect /one 200
	n=$(lines)
	t1=$(now_ms)
	# Only conclusive when the request took well under the second.
	if [ $((t1 - t0)) -lt 700 ]; then
		assert_equal "$n" 0
	fi
	wait_lines 1
	assert_equal "$(cat "$LOG")" /one
}

@test "SIGTERM: every record is written before accesslog exits (-F)" {
	echo_site -F -f '%u'
	urls=()
	for ((i = 1; i <= 30; i++)); do
		urls+=("http://127.0.0.1:$PORT/r$i")
	done
	curl -sS -o /dev/null "${urls[@]}"
	pid=$(al_pid)
	kill -TERM "$pid"
	wait_for dead "$pid"
	assert_equal "$(lines)" 30
	assert_equal "$(sed -n 30p "$LOG")" /r30
}

@test "SIGTERM with -e: responses in flight are finished and logged" {
	echo_site -e -f '%u %c %o'
	curl -sS -o "$TEST_TMP/slow" "http://127.0.0.1:$PORT/?sleep=800&size=5" &
	cpid=$!
	sleep 0.3
	pid=$(al_pid)
	kill -TERM "$pid"
	wait "$cpid"
	assert_equal "$(wc -c <"$TEST_TMP/slow")" 5
	wait_lines 1
	assert_equal "$(cat "$LOG")" '/?sleep=800&size=5 200 5'
}

@test "a full disk (/dev/full) is reported once and requests go on" {
	start_root accesslog -L -f '%u' /dev/full "$ECHO_HANDLER"
	for i in 1 2 3 4 5; do
		expect "/r$i" 200
	done
	pid=$(al_pid)
	proc_alive "$pid"
	wait_for grep -q 'cannot write the log' "$SERVER_LOG"
	run grep -c 'accesslog: /dev/full: cannot write the log.*No space left on device' "$SERVER_LOG"
	assert_equal "$output" 1
}

@test "records kept while writes fail are written once SIGHUP opened a good file" {
	ln -s /dev/full "$LOG"
	echo_site -L -f '%u'
	expect /kept1 200
	expect /kept2 200
	wait_for grep -q 'cannot write the log' "$SERVER_LOG"
	rm "$LOG"
	kill -HUP "$(al_pid)"
	expect /after 200
	wait_lines 3
	assert_equal "$(cat "$LOG")" $'/kept1\n/kept2\n/after'
	grep -q 'writing again, no records lost' "$SERVER_LOG"
}

@test "SIGHUP reopens the log: rotation by renaming" {
	echo_site -f '%u'
	expect /before 200
	wait_lines 1
	mv "$LOG" "$LOG.1"
	expect /between 200
	kill -HUP "$(al_pid)"
	wait_for test -e "$LOG"
	expect /after 200
	wait_lines 1
	assert_equal "$(cat "$LOG.1")" $'/before\n/between'
	assert_equal "$(cat "$LOG")" /after
}

@test "the shipped logrotate configuration: each log renamed, its accesslog told, reopened (ashd.service's and ashd@N.service's)" {
	local lr i port=() sfx=("" -1 -2)
	lr=$(command -v logrotate || echo /usr/sbin/logrotate)
	[ -x "$lr" ] || skip "logrotate is not installed (apt-get install logrotate)"
	# ashd.service's log and those of two instances of ashd@.service,
	# each written by its own accesslog under its own htparser.
	for i in 0 1 2; do
		LOG=$TEST_TMP/access${sfx[$i]}.log
		echo_site -f '%u'
		expect "/before${sfx[$i]}" 200
		wait_lines 1
		port+=("$PORT")
	done
	# The log of an instance gone, which no accesslog holds: rotated,
	# nobody to tell, and no harm to the others.
	echo /gone >"$TEST_TMP/access-3.log"
	# As root here, in a directory of root's: not as www-data.
	sed -e "s|/var/log/ashd/|$TEST_TMP/|g" \
	    -e "s|/usr/local/bin/accesslog|$(command -v accesslog)|" \
	    -e '/^[[:space:]]*su /d' -e '/^[[:space:]]*create /d' \
	    "$ASHD_SRCDIR/etc/logrotate.d/ashd" >"$TEST_TMP/lr.conf"
	run "$lr" -f -s "$TEST_TMP/lr.state" "$TEST_TMP/lr.conf"
	assert_status 0
	for i in 0 1 2; do
		LOG=$TEST_TMP/access${sfx[$i]}.log
		PORT=${port[$i]}
		wait_for test -e "$LOG"
		expect "/after${sfx[$i]}" 200
		wait_lines 1
		assert_equal "$(cat "$LOG.1")" "/before${sfx[$i]}"
		assert_equal "$(cat "$LOG")" "/after${sfx[$i]}"
	done
	assert_equal "$(cat "$TEST_TMP/access-3.log.1")" /gone
}

@test "SIGHUP: a log that cannot be reopened leaves the old one in use" {
	echo_site -f '%u'
	expect /before 200
	wait_lines 1
	mv "$LOG" "$LOG.1"
	mkdir "$LOG"
	kill -HUP "$(al_pid)"
	expect /after 200
	wait_lines 2 "$LOG.1"
	assert_equal "$(cat "$LOG.1")" $'/before\n/after'
	grep -q "accesslog: $LOG: cannot open" "$SERVER_LOG"
	proc_alive "$(al_pid)"
}

# ---------------------------------------------------------------------
# Locking and pid files

@test "the log is locked: a second accesslog on it is refused" {
	echo_site -f '%u'
	first=$(al_pid)
	run accesslog -P "$LOG"
	assert_status 0
	assert_equal "$output" "$first"
	SERVER_LOG=$TEST_TMP/second.log
	port1=$PORT
	PORT=$(free_port)
	start_bg "$SERVER_LOG" "$HTPARSER" "plain:port=$PORT,local=127.0.0.1" \
	    -- accesslog "$LOG" "$ECHO_HANDLER"
	wait_exit "$BG_PID" 10
	grep -q "accesslog: $LOG: locked by process $first" "$SERVER_LOG"
}

@test "-L: several accesslogs share one log" {
	echo_site -L -f 'one %u'
	port1=$PORT
	start_root accesslog -L -f 'two %u' "$LOG" "$ECHO_HANDLER"
	PORT=$port1 expect /a 200
	expect /b 200
	wait_lines 2
	grep -qx 'one /a' "$LOG"
	grep -qx 'two /b' "$LOG"
	run accesslog -P "$LOG"
	assert_status 1
	assert_contains "$output" "no process holds a lock"
}

@test "-P: the pid holding the lock, also under the rotated name" {
	echo_site -f '%u'
	pid=$(al_pid)
	run accesslog -P "$LOG"
	assert_status 0
	assert_equal "$output" "$pid"
	mv "$LOG" "$LOG.1"
	run accesslog -P "$LOG.1" ignored arguments
	assert_status 0
	assert_equal "$output" "$pid"
	kill -HUP "$output"
	wait_for test -e "$LOG"
	run accesslog -P "$LOG"
	assert_status 0
	assert_equal "$output" "$pid"
	run accesslog -P "$TEST_TMP/missing"
	assert_status 1
}

@test "-p PIDFILE: accesslog's pid, removed at exit" {
	echo_site -p "$TEST_TMP/al.pid" -f '%u'
	pid=$(al_pid)
	wait_for test -s "$TEST_TMP/al.pid"
	assert_equal "$(cat "$TEST_TMP/al.pid")" "$pid"
	kill -TERM "$pid"
	wait_for test ! -e "$TEST_TMP/al.pid"
}

@test "-p -: the pid file is OUTFILE.pid" {
	echo_site -p - -f '%u'
	wait_for test -s "$LOG.pid"
	assert_equal "$(cat "$LOG.pid")" "$(al_pid)"
	run accesslog -p - - dirplex "$SITE"
	assert_status 2
}

# ---------------------------------------------------------------------
# The child

@test "if the child exits, accesslog exits with status 1 and htparser ends" {
	start_root accesslog -f '%u' "$LOG" sh -c 'sleep 0.5; exit 3'
	wait_exit "$HTPARSER_PID" 10
	grep -q 'accesslog: child sh: exited with status 3' "$SERVER_LOG"
	grep -q 'accesslog: child sh has exited: stopping' "$SERVER_LOG"
}

@test "end of input: accesslog and its child exit" {
	file_site -f '%u'
	pid=$(al_pid)
	child=$(children_named "$pid" dirplex)
	[ -n "$child" ]
	kill -TERM "$HTPARSER_PID"
	wait_exit "$HTPARSER_PID" 10
	wait_for dead "$pid"
	wait_for dead "$child"
}

@test "a child that cannot be started: exit 1" {
	start_bg "$SERVER_LOG" "$HTPARSER" "plain:port=$(free_port),local=127.0.0.1" \
	    -- accesslog "$LOG" "$TEST_TMP/no-such-program"
	wait_exit "$BG_PID" 10
	grep -q "accesslog: $TEST_TMP/no-such-program: No such file or directory" "$SERVER_LOG"
}
