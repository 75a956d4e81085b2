#!/usr/bin/env bats
# callfcgi.bats: callfcgi behind htparser and dirplex over real TCP on
# 127.0.0.1.
#
# Each test writes its own configuration ($TEST_TMP/fcgi.rc, read with
# `dirplex -N -c`: a persistent `child fcgi` running `callfcgi ARGS`
# for the files of one pattern) and starts its own htparser on a free
# port.  The FastCGI applications are real peers from Debian (php-cgi,
# fcgiwrap) and tests/fcgi-responder.py, our own small Responder whose
# behaviour the query string selects and whose log ($APP_LOG) shows the
# protocol from the application's side: GET_VALUES, each BEGIN_REQUEST
# with its connection, KEEP_CONN flag and the requests running beside
# it, ABORT_REQUEST.
#
# Processes: htparser (with dirplex and callfcgi) is started as its own
# process group and killed with it; the applications callfcgi starts
# run in process groups of their own, so teardown also kills every
# process it finds below htparser, and the tests track those that must
# outlive callfcgi.  TMPDIR is the test's directory, so callfcgi's
# anonymous sockets and -i sockets are made there.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	export TMPDIR=$TEST_TMP
	use_build_path
	CALLFCGI=$(ashd_prog callfcgi)
	RESPONDER=$ASHD_SRCDIR/tests/fcgi-responder.py
	SERVER_LOG=$TEST_TMP/server.log
	APP_LOG=$TEST_TMP/app.log
	mkdir -p "$TEST_TMP/site"
	SITE=$(cd "$TEST_TMP/site" && pwd -P)
	: >"$SITE/app.fcgi"
	HTPARSER_PID=
	[ -x "$CALLFCGI" ] ||
	    fail "$CALLFCGI is missing: make -C $ASHD_BUILDDIR"
}

teardown() {
	local strays
	# What runs below htparser now (the applications have process
	# groups of their own), as PID:STARTTIME so that nothing else is
	# hit if a PID is reused meanwhile.
	strays=$(stamped_descendants "$HTPARSER_PID")
	common_teardown
	kill_stamped $strays
	return 0
}

# ---------------------------------------------------------------------
# Helpers of this suite

# start_fcgi GLOB CALLFCGI-ARGS...: the files matching GLOB go to one
# persistent `callfcgi CALLFCGI-ARGS...`; start the site.
start_fcgi() {
	local glob=$1
	shift
	put "$TEST_TMP/fcgi.rc" "child fcgi" "    exec callfcgi $*" \
	    "match" "    filename $glob" "    handler fcgi"
	start_site -N -c "$TEST_TMP/fcgi.rc" "$SITE"
}

# start_resp [CALLFCGI-OPTIONS...] [-- RESPONDER-ARGS...]: /app.fcgi
# served by the responder that callfcgi starts (anonymous mode unless
# the options give an address), logging to $APP_LOG.
start_resp() {
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	[ $# -gt 0 ] && shift
	start_fcgi '*.fcgi' "${opts[@]}" python3 "$RESPONDER" \
	    --log "$APP_LOG" "$@"
}

# start_app ADDRESS [RESPONDER-ARGS...]: a responder started here (not
# by callfcgi) at ADDRESS (unix:PATH or PORT); sets APP_PID.
start_app() {
	start_test_app "$RESPONDER" "$@"
}

# max_active: the most requests the responder saw running at once on
# one connection.
max_active() {
	sed -nE 's/^begin .* active=([0-9]+) .*/\1/p' "$APP_LOG" |
	    sort -n | tail -n 1
}

# callfcgi_pid: the callfcgi under dirplex (started by the first
# request).
callfcgi_pid() {
	children_named "$(dirplex_pid)" callfcgi
}

# ---------------------------------------------------------------------
# Command line

@test "callfcgi -h prints the usage and exits 0" {
	run timeout 5 "$CALLFCGI" -h
	assert_status 0
	assert_match "${output,,}" usage
	local o
	for o in '-N RETRIES' '-i ID' '-u UNIXPATH' '-t [HOST:]PORT' \
	    '-n PROCESSES' '-m CONNECTIONS' '-T SECONDS' '-hsV' 'PROGRAM'; do
		assert_contains "$output" "$o"
	done
}

@test "callfcgi: bad usage exits 2" {
	local a
	run timeout 5 "$CALLFCGI" </dev/null
	assert_status 2
	assert_match "${output,,}" usage
	for a in "-Z php-cgi" "-N" "-N x php-cgi" "-N -1 php-cgi" \
	    "-n 0 php-cgi" "-n x php-cgi" "-m 0 php-cgi" "-m 1x php-cgi" \
	    "-T 0 php-cgi" "-T abc php-cgi" "-T -1 php-cgi" "-i" \
	    "-u $(printf 'x%.0s' {1..200})"; do
		run timeout 5 "$CALLFCGI" $a </dev/null
		[ "$status" -eq 2 ] ||
		    fail "callfcgi $a: exit status $status, expected 2: $output"
	done
}

# ---------------------------------------------------------------------
# Real applications

php_scripts() {
	cat >"$SITE/info.php" <<'EOF'
<?php
header('Content-Type: text/plain');
echo "method=", $_SERVER['REQUEST_METHOD'], "\n";
echo "script=", $_SERVER['SCRIPT_NAME'], "\n";
echo "info=", $_SERVER['PATH_INFO'] ?? 'none', "\n";
echo "a=", $_GET['a'] ?? 'none', "\n";
echo "b=", $_POST['b'] ?? 'none', "\n";
echo "pid=", getmypid(), "\n";
EOF
	cat >"$SITE/status.php" <<'EOF'
<?php
http_response_code(201);
header('X-Php: yes');
if (isset($_GET['go']))
	header('Location: http://example.com/there', true, 302);
echo "status page\n";
EOF
	cat >"$SITE/down.php" <<'EOF'
<?php
header('Content-Type: application/octet-stream');
readfile(__DIR__ . '/big.bin');
EOF
	cat >"$SITE/slow.php" <<'EOF'
<?php
header('Content-Type: text/plain');
echo "start ", $_GET['n'], "\n";
while (ob_get_level())
	ob_end_flush();
flush();
$mark = __DIR__ . '/running.' . getmypid();
touch($mark);
usleep(600000);
unlink($mark);
echo "done ", $_GET['n'], "\n";
EOF
}

# GET with a query and PATH_INFO, POST, Status and Location.
php_basics() {
	expect '/info.php/p/q?a=hello%20there' 200
	assert_equal "$(body)" "method=GET
script=/info.php
info=/p/q
a=hello there
b=none
pid=$(sed -n 's/^pid=//p' "$TEST_TMP/body")"
	expect '/info.php?a=1' 200 --data 'b=posted'
	assert_contains "$(body)" $'method=POST\n'
	assert_contains "$(body)" $'\nb=posted\n'
	assert_contains "$(body)" $'\na=1\n'
	expect /status.php 201
	assert_equal "$(field X-Php)" yes
	assert_equal "$(body)" "status page"
	expect '/status.php?go' 302
	assert_equal "$(field Location)" http://example.com/there
}

@test "client mode -t: php-cgi -b 127.0.0.1:PORT serves GET, POST, query, PATH_INFO, Status, Location" {
	php_scripts
	local port
	port=$(free_port)
	start_bg "$TEST_TMP/php.log" php-cgi -b "127.0.0.1:$port"
	wait_port "$port" 5 "$BG_PID"
	start_fcgi '*.php' -t "127.0.0.1:$port"
	php_basics
	# php-cgi was not started by callfcgi.
	assert_equal "$(children_of "$(callfcgi_pid)")" ""
}

@test "anonymous mode: callfcgi php-cgi (GET, POST, Status, Location, 10 MB download); php-cgi is its child and dies with it" {
	php_scripts
	head -c 10485760 /dev/urandom >"$SITE/big.bin"
	start_fcgi '*.php' php-cgi
	php_basics
	expect /down.php 200
	cmp "$SITE/big.bin" "$TEST_TMP/body"
	local cf php
	cf=$(callfcgi_pid)
	php=$(children_named "$cf" php-cgi)
	assert_match "$php" '^[0-9]+$'
	# Its standard input is callfcgi's private listening socket.
	assert_match "$(readlink "/proc/$php/fd/0")" '^socket:'
	ls "$TEST_TMP"/callfcgi.*/sock >/dev/null
	stop_site "$cf"
	gone "$php"
	! ls "$TEST_TMP"/callfcgi.* >/dev/null 2>&1 ||
	    fail "the private socket directory is left: $(ls -d "$TEST_TMP"/callfcgi.*)"
}

@test "anonymous mode: one php-cgi process still serves concurrent requests (no connection it never accepts)" {
	php_scripts
	start_fcgi '*.php' -T 4 php-cgi
	expect /info.php 200
	local t0 out
	t0=$(now_ms)
	out=$(PAR_TIMEOUT=10 par 3 /slow.php 'done %d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=3 fail=0" ||
	    fail "$out"$'\n'"$(cat "$SERVER_LOG")"
	[ $(($(now_ms) - t0)) -lt 3500 ]
}

@test "client mode -t: php-cgi -b (FCGI_MAX_CONNS=1) serves 3 concurrent requests" {
	php_scripts
	local port out
	port=$(free_port)
	start_bg "$TEST_TMP/php.log" php-cgi -b "127.0.0.1:$port"
	wait_port "$port" 5 "$BG_PID"
	start_fcgi '*.php' -T 4 -t "127.0.0.1:$port"
	expect /info.php 200
	out=$(PAR_TIMEOUT=10 par 3 /slow.php 'done %d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=3 fail=0" ||
	    fail "$out"$'\n'"$(cat "$SERVER_LOG")"
}

@test "pool -n 3: three php-cgi children; one killed mid-load fails only its own request, is restarted, later requests succeed" {
	php_scripts
	start_fcgi '*.php' -n 3 php-cgi
	expect /info.php 200
	local cf kids victim out i
	cf=$(callfcgi_pid)
	wait_count 3 children_named "$cf" php-cgi
	kids=$(children_named "$cf" php-cgi)
	# 9 requests of 0.6 s on 3 processes; one process is killed while
	# it runs one (which has already sent its head).
	victim=$(head -n 1 <<<"$kids")
	par 9 /slow.php $'start %d\ndone %d' >"$TEST_TMP/par.out" &
	local parpid=$!
	for ((i = 0; i < 200; i++)); do
		[ -e "$SITE/running.$victim" ] && break
		sleep 0.01
	done
	kill -KILL "$victim"
	wait "$parpid"
	out=$(cat "$TEST_TMP/par.out")
	assert_equal "$(head -n 1 <<<"$out")" "ok=8 fail=1" ||
	    fail "$out"$'\n'"$(cat "$SERVER_LOG")"
	wait_log "php-cgi (pid $victim) killed by signal 9; restarting it"
	wait_count 3 children_named "$cf" php-cgi
	! children_named "$cf" php-cgi | grep -qx "$victim"
	out=$(par 6 /slow.php 'done %d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=6 fail=0" || fail "$out"
	assert_equal "$(callfcgi_pid)" "$cf"
}

@test "pool: php-cgi processes that exit after PHP_FCGI_MAX_REQUESTS are restarted, and no request is lost" {
	php_scripts
	export PHP_FCGI_MAX_REQUESTS=2
	start_fcgi '*.php' -n 2 php-cgi
	unset PHP_FCGI_MAX_REQUESTS
	local i pids=()
	for i in 1 2 3 4 5 6 7 8; do
		expect "/info.php?a=$i" 200
		assert_contains "$(body)" $'\na='"$i"$'\n'
		pids+=("$(sed -n 's/^pid=//p' "$TEST_TMP/body")")
	done
	# Several generations of processes served them.
	[ "$(printf '%s\n' "${pids[@]}" | sort -u | wc -l)" -ge 4 ]
	wait_count 2 children_named "$(callfcgi_pid)" php-cgi
}

# A request that reached the application is never sent again (it may
# have run); only one that provably did not is.
@test "a php-cgi worker killed (-9) while it runs a POST: 502, the POST ran once, from one pid" {
	php_scripts
	cat >"$SITE/run.php" <<'EOF'
<?php
file_put_contents(__DIR__ . '/runs.log', 'pid=' . getmypid() . ' method=' .
    $_SERVER['REQUEST_METHOD'] . "\n", FILE_APPEND);
touch(__DIR__ . '/running.' . getmypid());
sleep(3);
echo "ran\n";
EOF
	start_fcgi '*.php' env PHP_FCGI_CHILDREN=2 php-cgi
	expect /info.php 200
	local data i victim code client
	for data in '' 'b=1'; do
		rm -f "$SITE"/running.* "$SITE/runs.log"
		curl -sS -m 20 -o /dev/null -w '%{http_code}' -X POST \
		    --data "$data" "http://127.0.0.1:$PORT/run.php" \
		    >"$TEST_TMP/code" &
		client=$!
		victim=
		for ((i = 0; i < 200 * SLOW; i++)); do
			victim=$(ls "$SITE" | sed -n 's/^running\.//p')
			[ -n "$victim" ] && break
			sleep 0.02
		done
		[ -n "$victim" ] || fail "run.php did not start"
		kill -KILL "$victim"
		wait "$client" || true
		code=$(cat "$TEST_TMP/code")
		# Time for a second run to show, had it been sent again.
		sleep 1
		assert_equal "$(cat "$SITE/runs.log")" "pid=$victim method=POST" ||
		    fail "body '$data': $(cat "$SITE/runs.log")"
		assert_equal "$code" 502
	done
	wait_log "run.php: backend unix:$TEST_TMP/callfcgi."
	# The pool goes on serving.
	expect /info.php 200
}

@test "a kept-alive connection the application closed while idle: the next request is sent again on a new one, and runs once" {
	start_resp
	expect '/app.fcgi?idleclose=600' 200
	local cf client
	cf=$(callfcgi_pid)
	# Stopped, callfcgi takes the request before it sees the close.
	kill -STOP "$cf"
	# (the body is stored first: it goes again with the request)
	curl -sS -m 20 -o "$TEST_TMP/b" -w '%{http_code}' --data-binary hello \
	    "http://127.0.0.1:$PORT/app.fcgi?echo&pidlog=$TEST_TMP/runs.log" \
	    >"$TEST_TMP/code" &
	client=$!
	wait_in "$APP_LOG" "close conn=1 " 10 || { kill -CONT "$cf"; false; }
	sleep 0.2
	kill -CONT "$cf"
	wait "$client"
	assert_equal "$(cat "$TEST_TMP/code")" 200
	assert_equal "$(cat "$TEST_TMP/b")" hello
	wait_log "app.fcgi: backend unix:$TEST_TMP/callfcgi."
	wait_log "connection closed before the request went out; sending it again"
	assert_equal "$(grep -c . "$TEST_TMP/runs.log")" 1
	assert_equal "$(app_count '^open ')" 2
}

@test "a kept-alive connection the application resets after its last request (php-cgi's PHP_FCGI_MAX_REQUESTS) with the next request unread: a GET goes again and runs once, a POST is 502 and never runs" {
	start_resp
	# The connection's last request: answered, then nothing more is
	# read on it, and it is closed 1.5 s later.
	expect '/app.fcgi?lastreset=1500' 200
	run curl -sS -m 20 -w '\n%{http_code}' \
	    "http://127.0.0.1:$PORT/app.fcgi?pidlog=$TEST_TMP/runs.log"
	assert_status 0
	assert_equal "${output##*$'\n'}" 200
	assert_contains "$output" "ok pid="
	# It was written on the first connection, reset unread, and went
	# again on a second one.
	wait_in "$APP_LOG" "lastreset conn=1" 10
	assert_equal "$(grep -c . "$TEST_TMP/runs.log")" 1
	assert_equal "$(app_count '^open ')" 2
	wait_log "before an answer, after its earlier requests; sending it again"
	# The same with a POST: it may have run, so it is not sent again.
	expect '/app.fcgi?lastreset=1500' 200
	run curl -sS -m 20 -o /dev/null -w '%{http_code}' --data-binary hello \
	    "http://127.0.0.1:$PORT/app.fcgi?echo&pidlog=$TEST_TMP/post.log"
	assert_equal "$output" 502
	wait_in "$APP_LOG" "lastreset conn=2" 10
	[ ! -e "$TEST_TMP/post.log" ]
}

@test "a response read whole with its END_REQUEST (as php-cgi sends a small page) gets a Content-Length; one that comes in pieces is streamed, chunked; none for HEAD or 204" {
	start_resp
	expect '/app.fcgi?oneshot&x=1' 200
	assert_equal "$(body)" "oneshot oneshot&x=1"
	assert_equal "$(field Content-Length)" 20
	assert_equal "$(field Transfer-Encoding)" ""
	# The first piece goes out before the rest exists: no length.
	expect '/app.fcgi?split=300' 200
	assert_equal "$(body)" $'first\nsecond'
	assert_equal "$(field Content-Length)" ""
	assert_equal "$(field Transfer-Encoding)" chunked
	# HEAD: the length of a body that is not there would be a lie.
	expect '/app.fcgi?oneshot' 200 -I
	assert_equal "$(field Content-Length)" ""
	expect '/app.fcgi?oneshot&status=204' 204
	assert_equal "$(field Content-Length)" ""
}

# live_in_group PGID: the processes of group PGID that are not zombies.
live_in_group() {
	ps -eo pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ { print $1 }'
}

@test "the php-cgi master of the pool killed (-9): its old workers (PHP_FCGI_CHILDREN=2) are ended, the new pool serves" {
	php_scripts
	start_fcgi '*.php' env PHP_FCGI_CHILDREN=2 php-cgi
	expect /info.php 200
	local cf master workers new i pid
	cf=$(callfcgi_pid)
	master=$(children_named "$cf" php-cgi)
	assert_match "$master" '^[0-9]+$'
	wait_count 2 children_named "$master" php-cgi
	workers=$(children_named "$master" php-cgi)
	# The workers are in the master's process group (killed in the
	# teardown should they outlive it: they are nobody's children).
	for pid in $workers; do
		assert_equal "$(ps -o pgid= -p "$pid" | tr -d ' ')" "$master"
		track_pid "$pid"
	done
	kill -KILL "$master"
	wait_log "env (pid $master) killed by signal 9; restarting it"
	for ((i = 0; i < 100 * SLOW; i++)); do
		[ -z "$(live_in_group "$master")" ] && break
		sleep 0.05
	done
	[ -z "$(live_in_group "$master")" ] ||
	    fail "still running in group $master: $(live_in_group "$master")"
	wait_log "env (pid $master) left processes in its group: SIGTERM to them"
	# A new master with workers of its own serves every request.
	wait_count 1 children_named "$cf" php-cgi
	new=$(children_named "$cf" php-cgi)
	[ "$new" != "$master" ] || fail "no new master"
	wait_count 2 children_named "$new" php-cgi
	for i in 1 2 3 4 5 6; do
		expect "/info.php?a=$i" 200
		pid=$(sed -n 's/^pid=//p' "$TEST_TMP/body")
		children_named "$new" php-cgi | grep -qx "$pid" ||
		    fail "request $i served by pid $pid, not a worker of $new"
	done
}

# slow_uploads: in the background, four POSTs of b=xxxxxxxxxx (12
# bytes) to /info.php, each sending its body a byte every 0.5 s (6 s in
# all); their output in $TEST_TMP/up.N, their pids in UPLOADS.  Returns
# once callfcgi has them all.
slow_uploads() {
	local i j body=b=xxxxxxxxxx args=()
	for ((j = 0; j < ${#body}; j++)); do
		args+=(-w 0.5 -s "${body:j:1}")
	done
	local cf base
	cf=$(callfcgi_pid)
	base=$(sockets_of "$cf")
	UPLOADS=()
	for i in 1 2 3 4; do
		rawhttp -t 30 -s 'POST /info.php HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\nConnection: close\r\n\r\n' \
		    "${args[@]}" -c >"$TEST_TMP/up.$i" &
		UPLOADS+=($!)
	done
	# Under way: callfcgi holds the four (their response sockets).
	for ((i = 0; i < 200 * SLOW; i++)); do
		[ "$(sockets_of "$cf")" -ge $((base + 4)) ] && break
		sleep 0.05
	done
	[ "$(sockets_of "$cf")" -ge $((base + 4)) ] ||
	    fail "the uploads did not reach callfcgi"
	sleep 0.5
}

# sockets_of PID: how many sockets PID has open.
sockets_of() {
	find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l
}

# uploads_done: each slow upload was answered 200 with its whole body.
uploads_done() {
	local i
	wait "${UPLOADS[@]}" || true
	for i in 1 2 3 4; do
		assert_equal "$(status_codes "$(cat "$TEST_TMP/up.$i")")" 200
		assert_contains "$(cat "$TEST_TMP/up.$i")" $'\nb=xxxxxxxxxx\n'
	done
}

@test "four slow uploads (a byte every 0.5 s) to php-cgi with 4 workers hold none: a GET beside them is served while they arrive" {
	php_scripts
	start_fcgi '*.php' env PHP_FCGI_CHILDREN=4 php-cgi
	expect /info.php 200
	slow_uploads
	local t0 t pid
	t0=$(now_ms)
	expect '/info.php?a=beside' 200
	t=$(($(now_ms) - t0))
	assert_contains "$(body)" $'\na=beside\n'
	for pid in "${UPLOADS[@]}"; do
		proc_alive "$pid" ||
		    fail "an upload ended before the GET was served ($t ms)"
	done
	uploads_done
}

@test "-s: four slow uploads to php-cgi with 4 workers hold all four (streamed): a GET beside them waits for one to end" {
	php_scripts
	start_fcgi '*.php' -s env PHP_FCGI_CHILDREN=4 php-cgi
	expect /info.php 200
	slow_uploads
	local t0 t
	t0=$(now_ms)
	expect '/info.php?a=beside' 200
	t=$(($(now_ms) - t0))
	# The uploads end about 5 s after the GET was sent.
	[ "$t" -ge 2500 ] || fail "the GET did not wait for the uploads ($t ms)"
	uploads_done
}

@test "a body past the memory limit that cannot be stored (no TMPDIR) is 500, logged; one that fits in memory still goes" {
	local sock=$TEST_TMP/t.sock
	start_app "unix:$sock"
	# (callfcgi itself, not under valgrind, which needs a TMPDIR too)
	put "$TEST_TMP/fcgi.rc" "child fcgi" \
	    "    exec env TMPDIR=$TEST_TMP/missing $ASHD_BUILDDIR/callfcgi/callfcgi -u $sock" \
	    "match" "    filename *.fcgi" "    handler fcgi"
	start_site -N -c "$TEST_TMP/fcgi.rc" "$SITE"
	head -c 60000 /dev/urandom >"$TEST_TMP/small.bin"
	expect '/app.fcgi?echo' 200 --data-binary "@$TEST_TMP/small.bin"
	cmp "$TEST_TMP/small.bin" "$TEST_TMP/body"
	head -c 100000 /dev/urandom >"$TEST_TMP/big.bin"
	expect '/app.fcgi?echo' 500 --data-binary "@$TEST_TMP/big.bin"
	wait_log "app.fcgi: storing the request body in $TEST_TMP/missing"
	assert_equal "$(app_count '^begin ')" 1
}

fcgiwrap_script() {
	cat >"$SITE/w.cgi" <<'EOF'
#!/bin/sh
case $QUERY_STRING in
status) printf 'Status: 404 Not Here\nContent-Type: text/plain\n\nnot here\n'
	exit 0 ;;
location) printf 'Location: http://example.com/moved\n\n'
	exit 0 ;;
esac
printf 'Content-Type: text/plain\nX-Shell: yes\n\n'
echo "script=$SCRIPT_NAME query=$QUERY_STRING method=$REQUEST_METHOD"
echo "oops from the shell script" >&2
if [ -n "${CONTENT_LENGTH-}" ]; then
	printf 'body='
	head -c "$CONTENT_LENGTH"
	echo
fi
EOF
	chmod 755 "$SITE/w.cgi"
}

@test "client mode -u: fcgiwrap runs a shell CGI script (GET, POST, query, Status, Location, STDERR logged)" {
	fcgiwrap_script
	start_bg "$TEST_TMP/fcgiwrap.log" fcgiwrap -f -s "unix:$TEST_TMP/fw.sock"
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$TEST_TMP/fw.sock" ] && break
		sleep 0.05
	done
	start_fcgi '*.cgi' -u "$TEST_TMP/fw.sock"
	expect '/w.cgi?x=1' 200
	assert_equal "$(field X-Shell)" yes
	assert_equal "$(body)" "script=/w.cgi query=x=1 method=GET"
	expect /w.cgi 200 --data-binary 'hello body'
	assert_equal "$(body)" "script=/w.cgi query= method=POST
body=hello body"
	expect '/w.cgi?status' 404
	assert_equal "$(body)" "not here"
	expect '/w.cgi?location' 302
	assert_equal "$(field Location)" http://example.com/moved
	wait_log "callfcgi: w.cgi: oops from the shell script"
}

@test "the shipped configuration serves examples/site/php/hello.php: one php-cgi with 4 workers of its own" {
	start_site "$ASHD_SRCDIR/examples/site"
	expect '/php/hello.php?name=Ann' 200
	assert_match "$(body)" '^Hello, Ann, from PHP [0-9]'
	assert_contains "$(body)" $'\nSCRIPT_NAME=/php/hello.php\n'
	expect /php/hello.php/extra 200 --data 'x=1'
	assert_contains "$(body)" $'\nPATH_INFO=/extra\n'
	assert_contains "$(body)" $'\nPOST body: x=1'
	local cf
	cf=$(callfcgi_pid)
	assert_equal "$(proc_args "$cf")" "callfcgi env PHP_FCGI_CHILDREN=4 php-cgi"
	wait_count 1 children_named "$cf" php-cgi
	wait_count 4 children_named "$(children_named "$cf" php-cgi)" php-cgi
}

# ---------------------------------------------------------------------
# The protocol, seen from the application

@test "GET_VALUES on the first connection, BEGIN_REQUEST with KEEP_CONN, one connection reused" {
	start_resp
	local i
	for i in 1 2 3 4 5; do
		expect "/app.fcgi?i=$i" 200
		assert_match "$(body)" "^ok pid=[0-9]+ conn=1 nth=$i query=i=$i\$"
	done
	assert_equal "$(app_count '^open ')" 1
	assert_equal "$(app_count '^getvalues conn=1 names=.*FCGI_MPXS_CONNS')" 1
	assert_equal "$(app_count '^begin conn=1 .* keep=1 ')" 5
	assert_equal "$(app_count 'keep=0')" 0
	# Answered once: later connections do not ask again.  Without
	# multiplexing, concurrent requests go on connections of their own.
	local out
	out=$(par 3 '/app.fcgi?sleep=300' 'query=sleep=300&n=%d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=3 fail=0" || fail "$out"
	[ "$(app_count '^open ')" -ge 3 ]
	assert_equal "$(app_count '^getvalues ')" 1
	assert_equal "$(max_active)" 1
	assert_equal "$(app_count '^refused ')" 0
}

@test "FCGI_MPXS_CONNS=1: concurrent requests are multiplexed on one connection, up to FCGI_MAX_REQS" {
	start_resp -- --mpx
	expect /app.fcgi 200
	local out t0
	t0=$(now_ms)
	out=$(par 5 '/app.fcgi?sleep=400' 'query=sleep=400&n=%d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=5 fail=0" || fail "$out"
	[ $(($(now_ms) - t0)) -lt 1500 ]
	assert_equal "$(app_count '^open ')" 1
	assert_equal "$(max_active)" 5
	# The five had different request ids.
	assert_equal "$(sed -nE 's/^begin conn=1 id=([0-9]+) .*/\1/p' "$APP_LOG" |
	    tail -n 5 | sort -u | wc -l)" 5
}

@test "FCGI_MAX_REQS=2 with multiplexing: at most 2 requests per connection" {
	start_resp -- --mpx --max-reqs 2
	expect /app.fcgi 200
	local out
	out=$(par 4 '/app.fcgi?sleep=400' 'n=%d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=4 fail=0" || fail "$out"
	assert_equal "$(max_active)" 2
	assert_equal "$(app_count '^open ')" 2
}

@test "-m 2: at most 2 connections to a backend, the other requests wait" {
	start_resp -m 2
	local out t0
	t0=$(now_ms)
	out=$(par 6 '/app.fcgi?sleep=300' 'n=%d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=6 fail=0" || fail "$out"
	[ $(($(now_ms) - t0)) -ge 850 ]
	assert_equal "$(app_count '^open ')" 2
	assert_equal "$(max_active)" 1
}

@test "500 concurrent requests are all answered, each with its own body" {
	start_resp
	local out
	out=$(par 500 /app.fcgi 'query=n=%d'$'\n')
	assert_equal "$(head -n 1 <<<"$out")" "ok=500 fail=0" ||
	    fail "$out"$'\n'"$(tail -n 20 "$SERVER_LOG")"
	assert_equal "$(app_count '^begin ')" 500
	assert_equal "$(app_count '^refused ')" 0
	# Bounded by what the application said (FCGI_MAX_CONNS=100).
	[ "$(app_count '^open ')" -le 100 ]
}

@test "the same CGI variables as callcgi" {
	cat >"$SITE/env.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
tr '\0' '\n' </proc/$$/environ | LC_ALL=C sort
EOF
	chmod 755 "$SITE/env.cgi"
	: >"$SITE/env.fcgi"
	put "$TEST_TMP/both.rc" "child cgi" "    exec callcgi" \
	    "child fcgi" "    exec callfcgi python3 $RESPONDER" \
	    "match" "    filename *.cgi" "    handler cgi" \
	    "match" "    filename *.fcgi" "    handler fcgi"
	start_site -N -c "$TEST_TMP/both.rc" "$SITE"
	local v ext names=() opts=(--data-binary 'abc=1' -H 'Content-Type: text/x-test'
	    -H 'X-Test: a b' -H 'User-Agent: fcgi-test/1' -H 'Cookie: a=1'
	    -H 'Proxy: http://evil.example')
	for ext in cgi fcgi; do
		expect "/env.$ext/p/q%20r?env&a=%20x" 200 "${opts[@]}"
		# The variables a request sets (callcgi also passes its own
		# environment on, callfcgi's application has its own).
		grep -E '^(HTTP_|AUTH_TYPE=|CONTENT_|DOCUMENT_ROOT=|GATEWAY_INTERFACE=|HTTPS=|PATH_|QUERY_STRING=|REDIRECT_STATUS=|REMOTE_|REQUEST_|SCRIPT_|SERVER_)' "$TEST_TMP/body" |
		    grep -vE '^REMOTE_PORT=' |
		    sed "s/env\\.$ext/env.X/g" >"$TEST_TMP/vars.$ext"
	done
	diff -u "$TEST_TMP/vars.cgi" "$TEST_TMP/vars.fcgi"
	for v in GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=POST \
	    'QUERY_STRING=env&a=%20x' 'PATH_INFO=/p/q r' \
	    SCRIPT_NAME=/env.X "SCRIPT_FILENAME=$SITE/env.X" \
	    "DOCUMENT_ROOT=$SITE" CONTENT_LENGTH=5 CONTENT_TYPE=text/x-test \
	    'HTTP_X_TEST=a b' HTTP_COOKIE=a=1 REDIRECT_STATUS=200 \
	    SERVER_PROTOCOL=HTTP/1.1 "SERVER_PORT=$PORT" REMOTE_ADDR=127.0.0.1; do
		grep -qxF -- "$v" "$TEST_TMP/vars.fcgi" ||
		    fail "not given: $v"$'\n'"$(cat "$TEST_TMP/vars.fcgi")"
	done
	! grep -q '^HTTP_PROXY=' "$TEST_TMP/vars.fcgi"
}

@test "10 MB up (Content-Length, and chunked: spooled, CONTENT_LENGTH set) and 10 MB down, byte-exact" {
	start_resp
	head -c 10485760 /dev/urandom >"$TEST_TMP/up.bin"
	expect '/app.fcgi?echo' 200 --data-binary "@$TEST_TMP/up.bin"
	cmp "$TEST_TMP/up.bin" "$TEST_TMP/body"
	expect '/app.fcgi?echo' 200 --data-binary "@$TEST_TMP/up.bin" \
	    -H 'Transfer-Encoding: chunked'
	cmp "$TEST_TMP/up.bin" "$TEST_TMP/body"
	expect '/app.fcgi?env' 200 --data-binary 'hello' \
	    -H 'Transfer-Encoding: chunked'
	assert_equal "$(var CONTENT_LENGTH)" 5
	pattern_file "$TEST_TMP/down.exp" 10485760
	expect '/app.fcgi?big=10485760' 200
	cmp "$TEST_TMP/down.exp" "$TEST_TMP/body"
	# The spooled bodies (unnamed files) are closed again.
	local cf
	cf=$(callfcgi_pid)
	sleep 0.2
	# (valgrind keeps deleted files of its own open: not ours)
	assert_equal "$(find "/proc/$cf/fd" -lname '*(deleted)' \
	    ! -lname '*/valgrind_proc_*' | wc -l)" 0
}

@test "responses are streamed with backpressure: a client not reading 100 MB leaves callfcgi small" {
	start_resp
	expect /app.fcgi 200
	local cf
	cf=$(callfcgi_pid)
	run timeout 60 python3 -c '
import http.client, os, sys, time
def rss():
    for l in open("/proc/%s/status" % sys.argv[1]):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
before = rss()
c = http.client.HTTPConnection("127.0.0.1", int(os.environ["PORT"]))
c.request("GET", "/app.fcgi?big=100000000")
r = c.getresponse()
time.sleep(1.5)
print(rss() - before)
print(len(r.read()))
' "$cf"
	assert_status 0
	# Growth rather than size: under valgrind callfcgi starts at tens
	# of megabytes.
	[ "${lines[0]}" -lt 16384 ] ||
	    fail "callfcgi grew by ${lines[0]} kB while the client did not read"
	assert_equal "${lines[1]}" 100000000
}

@test "a client that disconnects mid-response: ABORT_REQUEST, and the connection is reused" {
	start_resp
	expect /app.fcgi 200
	rawhttp -t 5 -s 'GET /app.fcgi?slowbody HTTP/1.1\r\nHost: x\r\n\r\n' \
	    -e 'slow 0003' >/dev/null
	wait_in "$APP_LOG" "abort conn=1 id=2"
	wait_in "$APP_LOG" "end conn=1 id=2"
	wait_log "app.fcgi: client went away"
	# Far fewer than the 400 pieces were made.
	expect /app.fcgi 200
	assert_match "$(body)" '^ok pid=[0-9]+ conn=1 nth=3 '
	assert_equal "$(app_count '^open ')" 1
}

@test "STDERR lines go to callfcgi's log with the script's name" {
	start_resp
	expect '/app.fcgi?stderr=hello%20from%20the%20app' 200
	wait_log "callfcgi: app.fcgi: hello from the app"
}

@test "without X-Ash-File (a capture), log lines name the URL, never callfcgi twice" {
	mkdir -p "$SITE/app"
	put "$SITE/app/.htrc" "child fcgi" \
	    "    exec callfcgi python3 $RESPONDER --log $APP_LOG" "capture fcgi"
	put "$TEST_TMP/none.rc" "index-file index"
	start_site -N -c "$TEST_TMP/none.rc" "$SITE"
	expect '/app/x/y?stderr=from%20a%20mount' 200
	wait_log "callfcgi: /app/x/y?stderr=from%20a%20mount: from a mount"
	! grep -q 'callfcgi: callfcgi:' "$SERVER_LOG" ||
	    fail "$(grep 'callfcgi: callfcgi:' "$SERVER_LOG")"
	# Mounted at /app, the application sees itself there.
	expect '/app/x/y?env' 200
	assert_equal "$(var SCRIPT_NAME)" /app
	assert_equal "$(var PATH_INFO)" /x/y
}

@test "responses: Status and Location from the application" {
	start_resp
	expect '/app.fcgi?status=404' 404
	expect '/app.fcgi?status=201' 201
	expect '/app.fcgi?location=http://example.com/x' 302
	assert_equal "$(field Location)" http://example.com/x
}

@test "errors: a broken head or no STDOUT is 502, OVERLOADED and CANT_MPX_CONN 503, UNKNOWN_ROLE 502; logged; callfcgi lives on" {
	start_resp
	expect /app.fcgi 200
	local cf
	cf=$(callfcgi_pid)
	expect '/app.fcgi?bad' 502
	wait_log "app.fcgi: backend unix:$TEST_TMP/callfcgi."
	wait_log "incomplete response head"
	expect '/app.fcgi?bad=close' 502
	wait_log "connection closed"
	expect '/app.fcgi?nohead' 502
	wait_log "no response"
	expect '/app.fcgi?overloaded' 503
	wait_log "overloaded"
	expect '/app.fcgi?cantmpx' 503
	wait_log "cannot multiplex"
	expect '/app.fcgi?unknownrole' 502
	wait_log "does not take the responder role"
	expect /app.fcgi 200
	assert_equal "$(callfcgi_pid)" "$cf"
}

@test "-T 1: an application silent past the timeout gets 504, logged; the next request works" {
	start_resp -T 1
	expect /app.fcgi 200
	local t0 t
	t0=$(now_ms)
	expect '/app.fcgi?sleep=4000' 504
	t=$(($(now_ms) - t0))
	[ "$t" -ge 900 ] && [ "$t" -lt 3000 ] || fail "504 after $t ms"
	wait_log "app.fcgi: backend unix:$TEST_TMP/callfcgi."
	wait_log "silent for 1000 ms"
	expect /app.fcgi 200
}

@test "anonymous mode: an application that crashes mid-request is 502, and is restarted" {
	start_resp
	expect /app.fcgi 200
	local old
	old=$(ok_pid)
	expect '/app.fcgi?crash' 502
	wait_log "exited with status 3; restarting it"
	expect /app.fcgi 200
	[ "$(ok_pid)" != "$old" ] || fail "still pid $old"
	assert_equal "$(app_count '^start ')" 2
}

@test "-T 1: a request body that arrives slowly is not cut off (only the application's silence counts)" {
	start_resp -T 1
	expect /app.fcgi 200
	# 40 bytes in 4 pieces, 0.6 s apart: 2.4 s in all, the application
	# waiting for the client all along.
	run rawhttp -t 10 -s 'POST /app.fcgi?echo HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nConnection: close\r\n\r\n' \
	    -w 0.6 -s 0123456789 -w 0.6 -s 0123456789 -w 0.6 -s 0123456789 \
	    -w 0.6 -s 0123456789 -c
	assert_equal "$(status_codes "$output")" 200 ||
	    fail "$output"$'\n'"$(cat "$SERVER_LOG")"
	assert_contains "$output" "$(printf '0123456789%.0s' 1 2 3 4)"
}

@test "-T 1 with multiplexing: timed-out requests get 504 and ABORT_REQUEST" {
	start_resp -T 1 -- --mpx
	expect /app.fcgi 200
	local out
	out=$(par 2 '/app.fcgi?sleep=5000' 'n=%d')
	assert_match "$out" 'fail=2'
	assert_equal "$(grep -c ': 504 ' <<<"$out")" 2
	wait_in "$APP_LOG" "abort conn=1 id="
	expect /app.fcgi 200
}

# ---------------------------------------------------------------------
# Modes and backends

@test "anonymous mode: the application gets a listening socket on stdin and is killed when callfcgi exits" {
	start_resp
	expect /app.fcgi 200
	local app cf
	app=$(ok_pid)
	cf=$(callfcgi_pid)
	assert_equal "$(children_of "$cf")" "$app"
	assert_match "$(readlink "/proc/$app/fd/0")" '^socket:'
	[ -S "$(ls "$TEST_TMP"/callfcgi.*/sock)" ]
	# Its own process group.
	assert_equal "$(ps -o pgid= -p "$app" | tr -d ' ')" "$app"
	stop_site "$cf"
	gone "$app"
}

@test "SIGTERM: callfcgi kills its anonymous pool, removes its socket and exits" {
	start_resp -n 2
	expect /app.fcgi 200
	local cf kids k
	cf=$(callfcgi_pid)
	wait_count 2 children_of "$cf"
	kids=$(children_of "$cf")
	kill -TERM "$cf"
	gone "$cf"
	for k in $kids; do
		gone "$k"
	done
	! ls "$TEST_TMP"/callfcgi.* >/dev/null 2>&1 ||
	    fail "the private socket directory is left"
}

@test "SIGTERM: callfcgi finishes the requests in progress, then exits" {
	start_resp
	expect /app.fcgi 200
	local cf code
	cf=$(callfcgi_pid)
	curl -sS -m 20 -o "$TEST_TMP/slow.body" -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/app.fcgi?sleep=1000" >"$TEST_TMP/slow.code" &
	local client=$!
	wait_count 2 grep '^begin ' "$APP_LOG"
	kill -TERM "$cf"
	sleep 0.2
	proc_alive "$cf" || fail "callfcgi exited with a request in progress"
	wait "$client" || fail "the request in progress failed"
	code=$(cat "$TEST_TMP/slow.code")
	assert_equal "$code" 200
	assert_match "$(cat "$TEST_TMP/slow.body")" '^ok .*query=sleep=1000'
	gone "$cf"
}

@test "launching mode: address + PROGRAM starts it on that socket, leaves it running, and a later callfcgi uses it" {
	local sock=$TEST_TMP/l.sock app cf
	start_resp -u "$sock"
	expect /app.fcgi 200
	app=$(ok_pid)
	cf=$(callfcgi_pid)
	track_pid "$app" 1
	assert_equal "$(children_of "$cf")" "$app"
	[ -S "$sock" ]
	assert_match "$(readlink "/proc/$app/fd/0")" '^socket:'
	stop_site "$cf"
	sleep 0.3
	proc_alive "$app" || fail "the application died with callfcgi"
	# Connects to the one running instead of starting another.
	start_resp -u "$sock"
	expect /app.fcgi 200
	assert_equal "$(ok_pid)" "$app"
	assert_equal "$(app_count '^start ')" 1
	assert_equal "$(children_of "$(callfcgi_pid)")" ""
}

@test "mixed mode: -N + address + PROGRAM starts PROGRAM, which makes its own socket, and connects once it is up" {
	local sock=$TEST_TMP/m.sock app cf
	start_resp -N 5 -u "$sock" -- "unix:$sock"
	expect /app.fcgi 200
	app=$(ok_pid)
	track_pid "$app" 1
	cf=$(callfcgi_pid)
	assert_equal "$(children_of "$cf")" "$app"
	assert_equal "$(readlink "/proc/$app/fd/0")" /dev/null
	# The application outlives callfcgi: callfcgi goes first, so that
	# it cannot start a new copy when the teardown ends this one (an
	# ASan run once left such a copy behind).
	stop_site "$cf"
}

@test "-i ID: the socket is \$TMPDIR/callfcgi-UID-ID, in launching and in client mode" {
	local sock=$TEST_TMP/callfcgi-$(id -u)-one app
	start_resp -i one
	expect /app.fcgi 200
	app=$(ok_pid)
	track_pid "$app" 1
	[ -S "$sock" ] || fail "no socket $sock: $(ls "$TEST_TMP")"
	kill_bg
	rm -f "$APP_LOG"
	start_app "unix:$TEST_TMP/callfcgi-$(id -u)-two"
	start_fcgi '*.fcgi' -i two
	expect /app.fcgi 200
	assert_equal "$(ok_pid)" "$APP_PID"
}

@test "client mode: backend down is 502 (logged with its address), then 200 once it is started" {
	local sock=$TEST_TMP/c.sock
	start_fcgi '*.fcgi' -u "$sock"
	expect /app.fcgi 502
	wait_log "backend unix:$sock: No such file or directory"
	local cf
	cf=$(callfcgi_pid)
	start_app "unix:$sock"
	sleep 1
	expect /app.fcgi 200
	assert_equal "$(ok_pid)" "$APP_PID"
	# Down again (the socket file is left, nobody accepts): 502.
	stop_app "$APP_PID"
	expect /app.fcgi 502
	wait_log "Connection refused"
	assert_equal "$(callfcgi_pid)" "$cf"
}

@test "client mode -t PORT (no host): the backend on localhost" {
	local port
	port=$(free_port)
	start_app "$port"
	start_fcgi '*.fcgi' -t "$port"
	expect /app.fcgi 200
	assert_equal "$(ok_pid)" "$APP_PID"
}

@test "client mode -N 3 -u: a backend that comes up within the retries is waited for" {
	local sock=$TEST_TMP/n.sock
	start_fcgi '*.fcgi' -N 3 -u "$sock"
	start_bg "$TEST_TMP/app.out" sh -c 'sleep 1; exec python3 "$1" "$2"' \
	    sh "$RESPONDER" "unix:$sock"
	expect /app.fcgi 200
	assert_equal "$(ok_pid)" "$BG_PID"
}

@test "client mode -N 4 -t: a TCP backend that comes up within the retries (after 2.5 s) is waited for" {
	local port
	port=$(free_port)
	start_fcgi '*.fcgi' -N 4 -t "127.0.0.1:$port"
	start_bg "$TEST_TMP/app.out" sh -c 'sleep 2.5; exec python3 "$1" "$2"' \
	    sh "$RESPONDER" "$port"
	expect /app.fcgi 200
	assert_equal "$(ok_pid)" "$BG_PID"
}

@test "failover across two -u backends: the second serves while the first is down; both down is 503" {
	local a=$TEST_TMP/a.sock b=$TEST_TMP/b.sock apid bpid
	start_app "unix:$b"
	bpid=$APP_PID
	start_fcgi '*.fcgi' -u "$a" -u "$b"
	expect /app.fcgi 200
	assert_equal "$(ok_pid)" "$bpid"
	wait_log "backend unix:$a: No such file or directory"
	# The first is back: after its down mark it is preferred again.
	start_app "unix:$a"
	apid=$APP_PID
	sleep 1.1
	expect /app.fcgi 200
	assert_equal "$(ok_pid)" "$apid"
	# Both down.
	stop_app "$apid"
	stop_app "$bpid"
	expect /app.fcgi 503
	wait_log "no backend can be reached"
}

@test "failover across two -t backends: both down is 503" {
	local p1 p2
	p1=$(free_port)
	p2=$(free_port)
	start_fcgi '*.fcgi' -t "127.0.0.1:$p1" -t "127.0.0.1:$p2"
	expect /app.fcgi 503
}
