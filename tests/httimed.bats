#!/usr/bin/env bats
# httimed.bats: httimed, the persistent handler that exits when idle,
# as a `child` of dirplex behind htparser on 127.0.0.1 (so that dirplex
# starts it again on the next request), and fed directly by
# tests/dgram-front.py.  Its child is echo-handler, which describes the
# request it got.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	HTTIMED=$(ashd_prog httimed)
	FRONT=$ASHD_SRCDIR/tests/dgram-front.py
	SERVER_LOG=$TEST_TMP/server.log
	mkdir -p "$TEST_TMP/site"
	SITE=$(cd "$TEST_TMP/site" && pwd -P)
	[ -x "$HTTIMED" ] || fail "$HTTIMED is missing: make -C $ASHD_BUILDDIR"
}

teardown() {
	common_teardown
}

# site HTTIMED-ARGS...: a site whose *.t files go to
# `httimed HTTIMED-ARGS... echo-handler`, a child of dirplex.
site() {
	put "$SITE/.htrc" "child timed" "	exec httimed $* $ECHO_HANDLER" \
	    "match" "	filename *.t" "	handler timed"
	put "$SITE/x.t" "x"
	start_site -N "$SITE"
	for ((i = 0; i < 100; i++)); do
		DIRPLEX=$(children_named "$HTPARSER_PID" dirplex)
		[ -n "$DIRPLEX" ] && return 0
		sleep 0.05
	done
	fail "no dirplex under htparser"
}

# timed_pid: the running httimed under dirplex (empty if none).
timed_pid() {
	children_named "$DIRPLEX" httimed
}

# wait_gone PID SECONDS: wait until PID is no more; fail after SECONDS.
wait_gone() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		proc_alive "$1" || return 0
		sleep 0.05
	done
	fail "process $1 still running after $2 s"
}

@test "httimed -h: usage on standard output, exit 0" {
	run "$HTTIMED" -h
	assert_status 0
	assert_contains "$output" "usage: httimed [-h] [-t TIMEOUT] CHILD"
}

@test "httimed: no CHILD, or a TIMEOUT that is not a positive number: exit 2" {
	run "$HTTIMED"
	assert_status 2
	assert_contains "$output" "usage:"
	run "$HTTIMED" -t 0 "$ECHO_HANDLER"
	assert_status 2
	assert_contains "$output" "httimed: -t 0: not a positive number"
	run "$HTTIMED" -t soon "$ECHO_HANDLER"
	assert_status 2
}

@test "httimed: requests reach the child unmodified, answers come back" {
	site -t 60
	expect '/x.t/extra?q=1' 200 -H 'X-Test: yes'
	assert_contains "$(body)" $'method GET\nurl /x.t/extra?q=1'
	assert_match "$(body)" $'\nrest /?extra\n'
	assert_contains "$(body)" "header X-Test: yes"
	assert_contains "$(body)" "header X-Ash-File: $SITE/x.t"
	expect '/x.t?status=404' 404
}

@test "httimed -t 1: exits with its child after a second idle; the next request is served by a new process" {
	site -t 1
	start=$(now_ms)
	expect /x.t 200
	t1=$(timed_pid)
	[ -n "$t1" ] || fail "no httimed under dirplex"
	c1=$(children_named "$t1" echo-handler)
	[ -n "$c1" ] || fail "no echo-handler under httimed"
	wait_gone "$t1" 4
	gone=$(now_ms)
	# It got the request after $start: it may not be gone a second
	# after that.
	[ $((gone - start)) -ge 1000 ] ||
	    fail "httimed exited $((gone - start)) ms after the request"
	wait_gone "$c1" 3
	expect /x.t 200
	t2=$(timed_pid)
	[ -n "$t2" ] && [ "$t2" != "$t1" ] ||
	    fail "not a new httimed: '$t1' then '$t2'"
	assert_not_contains "$(cat "$SERVER_LOG")" "503"
}

@test "httimed -t 2: each request restarts the idle time" {
	site -t 2
	expect /x.t 200
	t1=$(timed_pid)
	for i in 1 2 3 4 5 6; do
		sleep 0.5
		expect /x.t 200
	done
	assert_equal "$(timed_pid)" "$t1"
	wait_gone "$t1" 4
}

@test "httimed without -t: still there after 3 s idle (five minutes by default)" {
	site
	expect /x.t 200
	t1=$(timed_pid)
	sleep 3
	proc_alive "$t1" || fail "httimed exited after 3 s"
	expect /x.t 200
	assert_equal "$(timed_pid)" "$t1"
}

@test "httimed: when its child exits, httimed exits too; the next request starts both again" {
	site -t 60
	expect /x.t 200
	t1=$(timed_pid)
	c1=$(children_named "$t1" echo-handler)
	kill -KILL "$c1"
	wait_gone "$t1" 2
	expect /x.t 200
	t2=$(timed_pid)
	[ -n "$t2" ] && [ "$t2" != "$t1" ] || fail "not a new httimed"
}

@test "httimed: a request sent after it went idle is refused at once, so the sender can start another" {
	run python3 - "$HTTIMED" "$ECHO_HANDLER" <<'EOF'
import socket, subprocess, sys, time
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([sys.argv[1], "-t", "1", sys.argv[2]], stdin=b)
b.close()
dg = b"GET\0/\0HTTP/1.1\0\0\0"
c, h = socket.socketpair()
socket.send_fds(a, [dg], [h.fileno()])
h.close()
c.shutdown(socket.SHUT_WR)
print(c.recv(100).split(b"\r\n")[0].decode())
time.sleep(1.5)
c, h = socket.socketpair()
try:
    socket.send_fds(a, [dg], [h.fileno()])
    print("sent")
except BrokenPipeError:
    print("refused")
print("exit", p.wait(timeout=5))
EOF
	assert_status 0
	assert_equal "$output" $'HTTP/1.1 200 OK\nrefused\nexit 0'
}

@test "httimed: end of input ends it and its child, exit 0" {
	run python3 "$FRONT" send - 2 collect 5000 eof -- \
	    "$HTTIMED" -t 60 "$ECHO_HANDLER"
	assert_status 0
	assert_match "$output" "1 - 200 .*2 - 200 .*exit 0 after"
}

@test "httimed: end of input while requests wait for a slow child: all are passed on, then it exits" {
	cat >"$TEST_TMP/slow" <<'EOF'
#!/usr/bin/env python3
import socket, time
time.sleep(1)
s = socket.socket(fileno=0)
while True:
    msg, fds, _, _ = socket.recv_fds(s, 1 << 17, 4)
    if not msg:
        break
    for fd in fds:
        socket.socket(fileno=fd).sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
EOF
	chmod 755 "$TEST_TMP/slow"
	run python3 "$FRONT" send - 60 eof collect 10000 -- \
	    "$HTTIMED" -t 60 "$TEST_TMP/slow"
	assert_status 0
	assert_contains "$output" "exit 0 after"
	assert_equal "$(awk '$3 == 200' <<<"$output" | wc -l)" 60
}

@test "httimed: not on a request socket, it says so and exits 1" {
	run "$HTTIMED" "$ECHO_HANDLER" </dev/null
	assert_status 1
	assert_contains "$output" "standard input is not a request socket"
}
