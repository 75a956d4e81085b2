#!/usr/bin/env bats
# htpipe.bats: htpipe's client and server over a named socket in
# $TEST_TMP, with htparser on 127.0.0.1 in front of the client.
#
# The handler behind the server is $TEST_TMP/counter (its only child),
# a persistent
# handler in python3 that answers every request "pid PID count N", so
# that a test can tell which process served a request and how many it
# has served: the same process serving on across restarts of htparser,
# or for two htparsers, is the point of htpipe.  A server started by
# the default mode runs in a session of its own (it must survive
# htparser); the tests find its pid while its client is alive and kill
# it, with its group, in teardown.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	HTPIPE=$(ashd_prog htpipe)
	SERVER_LOG=$TEST_TMP/server.log
	SOCK=$TEST_TMP/pipe.sock
	cat >"$TEST_TMP/counter" <<'EOF'
#!/usr/bin/env python3
import os, socket
s = socket.socket(fileno=0)
n = 0
while True:
    msg, fds, _, _ = socket.recv_fds(s, 1 << 17, 4)
    if not msg:
        break
    n += 1
    body = ("pid %d count %d\n" % (os.getpid(), n)).encode()
    for fd in fds:
        os.write(fd, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                 % len(body) + body)
        os.close(fd)
EOF
	chmod 755 "$TEST_TMP/counter"
	COUNTER=$TEST_TMP/counter
	[ -x "$HTPIPE" ] || fail "$HTPIPE is missing: make -C $ASHD_BUILDDIR"
}

teardown() {
	local p
	# A server the default mode started for this test, should the
	# test have failed before server_of_client saw it.
	for p in $(pgrep -f -- "htpipe -S -- $SOCK " || true); do
		track_pid "$p" 1
	done
	common_teardown
}

# on_socket CMD...: run CMD with a request socket on its standard input
# (closed after 5 s); its exit status and output.
on_socket() {
	python3 -c 'import socket, subprocess, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen(sys.argv[1:], stdin=b)
b.close()
try:
    sys.exit(p.wait(timeout=5))
except subprocess.TimeoutExpired:
    a.close()
    sys.exit(p.wait())' "$@"
}

# start_server [HTPIPE-ARGS...]: htpipe -S $SOCK $COUNTER in the
# background; waits for the socket.  Sets SERVER_PID.
start_server() {
	local i
	start_bg "$TEST_TMP/pipe-server.log" "$HTPIPE" -S "$@" "$SOCK" "$COUNTER"
	SERVER_PID=$BG_PID
	for ((i = 0; i < 100; i++)); do
		[ -S "$SOCK" ] && return 0
		proc_alive "$SERVER_PID" || break
		sleep 0.05
	done
	cat "$TEST_TMP/pipe-server.log" >&2
	fail "htpipe -S did not make $SOCK"
}

# stop_front: end htparser (and so its htpipe client), by its pid.
stop_front() {
	kill -TERM "$HTPARSER_PID"
	wait_exit "$HTPARSER_PID" 5
}

# served: the "pid N count M" line of a request to /.
served() {
	expect / 200 >&2 || return 1
	body
}

# server_of_client: SRV, the pid of the server htpipe the default mode
# started, found as a child of the htpipe client under htparser; it is
# killed with its group in teardown.
server_of_client() {
	local client
	client=$(children_named "$HTPARSER_PID" htpipe)
	SRV=$(children_named "$client" htpipe)
	[ -n "$SRV" ] || fail "no server htpipe under client $client"
	track_pid "$SRV" 1
}

@test "htpipe -h: usage on standard output, exit 0" {
	run "$HTPIPE" -h
	assert_status 0
	assert_contains "$output" "usage: htpipe [-h] [-CS] SOCKET-PATH [CHILD [ARGS...]]"
}

@test "htpipe: usage errors exit 2 (no path; -C with -S; no CHILD without -C; a path too long)" {
	run "$HTPIPE"
	assert_status 2
	run "$HTPIPE" -C -S "$SOCK" "$COUNTER"
	assert_status 2
	run "$HTPIPE" -S "$SOCK"
	assert_status 2
	run "$HTPIPE" "$SOCK"
	assert_status 2
	run "$HTPIPE" -S "$TEST_TMP/$(printf 'x%.0s' {1..120})" "$COUNTER"
	assert_status 2
	assert_contains "$output" "File name too long"
}

@test "htpipe -S and -C: requests pass through the socket, unmodified" {
	start_server
	start_root htpipe -C "$SOCK"
	assert_equal "$(served)" "pid $(children_of "$SERVER_PID") count 1"
	stop_front
	put "$TEST_TMP/srv.rc" "x"
	start_bg "$TEST_TMP/pipe-server2.log" "$HTPIPE" -S "$TEST_TMP/echo.sock" \
	    "$ECHO_HANDLER"
	for ((i = 0; i < 100; i++)); do
		[ -S "$TEST_TMP/echo.sock" ] && break
		sleep 0.05
	done
	start_root htpipe -C "$TEST_TMP/echo.sock"
	expect '/a/b?c' 200 -H 'X-Test: yes'
	assert_contains "$(body)" $'method GET\nurl /a/b?c\nversion HTTP/1.1\nrest a/b\n'
	assert_contains "$(body)" "header X-Test: yes"
	assert_contains "$(body)" "header X-Ash-Address: 127.0.0.1"
	expect '/?echo' 200 --data-binary 'uploaded body'
	assert_equal "$(body)" "uploaded body"
}

@test "htpipe -C: htparser restarted, the same child process goes on serving" {
	start_server
	start_root htpipe -C "$SOCK"
	child=$(children_of "$SERVER_PID")
	assert_equal "$(served)" "pid $child count 1"
	assert_equal "$(served)" "pid $child count 2"
	stop_front
	proc_alive "$SERVER_PID" || fail "the server died with htparser"
	start_root htpipe -C "$SOCK"
	assert_equal "$(served)" "pid $child count 3"
}

@test "htpipe (default mode): starts its server, which survives htparser's restart" {
	start_root htpipe "$SOCK" "$COUNTER"
	first=$(served)
	server_of_client
	srv=$SRV
	child=$(children_of "$srv")
	assert_equal "$first" "pid $child count 1"
	stop_front
	proc_alive "$srv" || fail "the server died with htparser"
	start_root htpipe "$SOCK" "$COUNTER"
	assert_equal "$(served)" "pid $child count 2"
	# No second server was started.
	client=$(children_named "$HTPARSER_PID" htpipe)
	assert_equal "$(children_named "$client" htpipe)" ""
}

@test "htpipe: one server reached from two trees (two htparsers)" {
	start_server
	start_root htpipe -C "$SOCK"
	port1=$PORT
	start_root htpipe "$SOCK" "$COUNTER"
	port2=$PORT
	child=$(children_of "$SERVER_PID")
	PORT=$port1
	assert_equal "$(served)" "pid $child count 1"
	PORT=$port2
	assert_equal "$(served)" "pid $child count 2"
	PORT=$port1
	assert_equal "$(served)" "pid $child count 3"
}

@test "htpipe -C: while the server is gone requests get 503; a new server is used at once" {
	start_server
	start_root htpipe -C "$SOCK"
	expect / 200
	kill -TERM "$SERVER_PID"
	wait_exit "$SERVER_PID" 5
	[ ! -e "$SOCK" ] || fail "the server left $SOCK behind"
	expect / 503
	expect / 503
	start_server
	child=$(children_of "$SERVER_PID")
	assert_equal "$(served)" "pid $child count 1"
	proc_alive "$HTPARSER_PID" || fail "htparser went away"
}

@test "htpipe (default mode): a server that went away is started again" {
	start_root htpipe "$SOCK" "$COUNTER"
	expect / 200
	server_of_client
	srv=$SRV
	kill -KILL -- "-$srv"
	for ((i = 0; i < 100; i++)); do
		proc_alive "$srv" || break
		sleep 0.05
	done
	expect / 200
	server_of_client
	srv2=$SRV
	[ "$srv2" != "$srv" ] || fail "the same server"
	child=$(children_of "$srv2")
	assert_equal "$(body)" "pid $child count 1"
}

@test "htpipe -C: no server at SOCKET-PATH at start-up: exit 1, saying why" {
	run on_socket "$HTPIPE" -C "$SOCK"
	assert_status 1
	assert_contains "$output" "htpipe: $SOCK: No such file or directory"
}

@test "htpipe -S: another live server at SOCKET-PATH is not displaced (exit 1)" {
	start_server
	run "$HTPIPE" -S "$SOCK" "$COUNTER"
	assert_status 1
	assert_contains "$output" "Address already in use"
	start_root htpipe -C "$SOCK"
	expect / 200
}

@test "htpipe -S: a stale socket file is replaced; any other file is left alone (exit 1)" {
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1])' "$SOCK"
	[ -S "$SOCK" ]
	start_server
	start_root htpipe -C "$SOCK"
	expect / 200
	echo data >"$TEST_TMP/file"
	run "$HTPIPE" -S "$TEST_TMP/file" "$COUNTER"
	assert_status 1
	assert_equal "$(cat "$TEST_TMP/file")" data
}

@test "htpipe -S: SIGTERM ends it and its child, removes the socket, exit 0" {
	start_server
	child=$(children_of "$SERVER_PID")
	kill -TERM "$SERVER_PID"
	wait_exit "$SERVER_PID" 5
	assert_equal "$EXIT_STATUS" 0
	[ ! -e "$SOCK" ] || fail "$SOCK is still there"
	for ((i = 0; i < 100; i++)); do
		proc_alive "$child" || break
		sleep 0.05
	done
	proc_alive "$child" && fail "the child is still running"
	return 0
}

@test "htpipe -S: a server whose socket file is removed exits (nobody can reach it)" {
	start_server
	rm "$SOCK"
	wait_exit "$SERVER_PID" 4
	assert_equal "$EXIT_STATUS" 0
	assert_contains "$(cat "$TEST_TMP/pipe-server.log")" "gone or replaced"
}

@test "htpipe -S: a child that died is started again for the next request" {
	start_server
	start_root htpipe -C "$SOCK"
	expect / 200
	child=$(children_of "$SERVER_PID")
	kill -KILL "$child"
	sleep 0.2
	expect / 200
	child2=$(children_of "$SERVER_PID")
	[ -n "$child2" ] && [ "$child2" != "$child" ] || fail "not restarted"
	assert_equal "$(body)" "pid $child2 count 1"
}

@test "htpipe -C: CHILD is not needed (and is ignored when given)" {
	start_server
	start_root htpipe -C "$SOCK" /no/such/program
	child=$(children_of "$SERVER_PID")
	assert_equal "$(served)" "pid $child count 1"
}
