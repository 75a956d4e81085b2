#!/usr/bin/env bats
# activation.bats: listening sockets passed to htparser instead of bound
# by it: socket activation by systemd-socket-activate (the systemd
# package's tool that passes sockets as systemd does), by a python
# parent that passes one itself (LISTEN_FDS/LISTEN_PID, or just an
# inherited descriptor), the `fd` port handler's parameters, and the
# shipped systemd units.

load helper

setup() {
	common_setup
	command -v systemd-socket-activate >/dev/null 2>&1 ||
	    skip "systemd-socket-activate (package systemd) is not installed"
	HTPARSER_LOG=$TEST_TMP/htparser.log
	# A root handler that writes its environment to $TEST_TMP/env first.
	ENV_ROOT=(sh -c "env >'$TEST_TMP/env'; exec '$ECHO_HANDLER'")
	# systemd-socket-activate passes on only PATH, HOME, USER, TERM and
	# what -E names: the sanitizers' settings too.
	SA_ENV=()
	for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		if [ -n "${!v:-}" ]; then
			SA_ENV+=(-E "$v")
		fi
	done
}


# ash NAME: the value echo-handler shows for the request header NAME in
# $output.
ash() {
	printf '%s\n' "$output" | tr -d '\r' |
	    sed -n "s/^header $1: //p" | head -n 1
}

# pass_socket PORT NAME PROG ARGS...: what a parent doing socket
# activation does: bind 127.0.0.1:PORT, put the socket on descriptor 3,
# set LISTEN_FDS=1, LISTEN_PID to its own pid and LISTEN_FDNAMES=NAME
# (none when NAME is empty, no LISTEN_* at all when NAME is "-"), then
# exec PROG (keeping the pid).
PASS_PY='
import os, socket, sys
port, name = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
if name != "-":
    os.environ["LISTEN_FDS"] = "1"
    os.environ["LISTEN_PID"] = str(os.getpid())
    if name:
        os.environ["LISTEN_FDNAMES"] = name
os.execvp(sys.argv[3], sys.argv[3:])
'
pass_socket() {
	python3 -c "$PASS_PY" "$@"
}

# ---------------------------------------------------------------------
# systemd-socket-activate

@test "systemd-socket-activate, no portspec: htparser serves on the passed socket, is the process it started, the handlers see no LISTEN_*" {
	PORT=$(free_port)
	export PORT
	start_bg "$HTPARSER_LOG" systemd-socket-activate "${SA_ENV[@]}" \
	    -l "127.0.0.1:$PORT" "$HTPARSER" -- "${ENV_ROOT[@]}"
	wait_port "$PORT" 5 "$BG_PID"
	run curl -sS -m 5 "http://127.0.0.1:$PORT/act"
	assert_contains "$output" $'\nurl /act\n'
	assert_equal "$(ash X-Ash-Server-Port)" "$PORT"
	assert_equal "$(proc_name "$BG_PID")" htparser
	! grep -q '^LISTEN_' "$TEST_TMP/env"
	# One listening socket on the port, the passed one, still on fd 3:
	# nothing bound anew.
	assert_equal "$(awk -v p="$(printf ':%04X' "$PORT")" '$2 ~ p"$" && $4 == "0A"' /proc/net/tcp | wc -l)" 1
	assert_match "$(readlink "/proc/$BG_PID/fd/3")" '^socket:'
	assert_contains "$(awk -v p="$(printf ':%04X' "$PORT")" '$2 ~ p"$" && $4 == "0A" { print $10 }' /proc/net/tcp)" \
	    "$(readlink "/proc/$BG_PID/fd/3" | tr -dc 0-9)"
}

@test "systemd-socket-activate --fdname: fd:name=web,proxy and fd:name=admin,https on two sockets" {
	local web admin
	web=$(free_port)
	admin=$(free_port)
	start_bg "$HTPARSER_LOG" systemd-socket-activate "${SA_ENV[@]}" \
	    -l "127.0.0.1:$web" -l "127.0.0.1:$admin" --fdname=web:admin \
	    "$HTPARSER" fd:name=web,proxy fd:name=admin,https -- "$ECHO_HANDLER"
	wait_port "$admin" 5 "$BG_PID"
	PORT=$admin
	export PORT
	run rawhttp -s 'GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' -c
	assert_equal "$(status_codes "$output")" 200
	assert_equal "$(ash X-Ash-Protocol)" https
	assert_equal "$(ash X-Ash-Address)" 127.0.0.1
	PORT=$web
	run rawhttp -s 'PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\r\nGET /w HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' -c
	assert_equal "$(status_codes "$output")" 200
	assert_equal "$(ash X-Ash-Address)" 192.0.2.7
	assert_equal "$(ash X-Ash-Protocol)" http
	# The web socket requires the header.
	run rawhttp -s 'GET /w HTTP/1.1\r\nHost: x\r\n\r\n' -c
	assert_equal "$output" ""
}

@test "without LISTEN_FDNAMES, a passed socket is named unknown" {
	PORT=$(free_port)
	export PORT
	start_bg "$HTPARSER_LOG" python3 -c "$PASS_PY" "$PORT" "" \
	    "$HTPARSER" fd:name=unknown,https -- "$ECHO_HANDLER"
	wait_port "$PORT" 5 "$BG_PID"
	run rawhttp -s 'GET /u HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' -c
	assert_equal "$(status_codes "$output")" 200
	assert_equal "$(ash X-Ash-Protocol)" https
}

@test "systemd-socket-activate, no portspec and two sockets: both are plain ports" {
	local a b
	a=$(free_port)
	b=$(free_port)
	start_bg "$HTPARSER_LOG" systemd-socket-activate "${SA_ENV[@]}" \
	    -l "127.0.0.1:$a" -l "127.0.0.1:$b" "$HTPARSER" -- "$ECHO_HANDLER"
	wait_port "$b" 5 "$BG_PID"
	run curl -sS -m 5 "http://127.0.0.1:$a/a" "http://127.0.0.1:$b/b"
	assert_contains "$output" $'\nurl /a\n'
	assert_contains "$output" $'\nurl /b\n'
}

# ---------------------------------------------------------------------
# A socket passed by hand

@test "a socket passed by its parent with LISTEN_FDS and LISTEN_PID: fd, fd:name=, fd:fd=3" {
	local spec
	for spec in "" fd fd:name=front fd:fd=3; do
		PORT=$(free_port)
		export PORT
		start_bg "$HTPARSER_LOG" python3 -c "$PASS_PY" "$PORT" front \
		    "$HTPARSER" $spec -- "${ENV_ROOT[@]}"
		wait_port "$PORT" 5 "$BG_PID" || fail "$spec: $(cat "$HTPARSER_LOG")"
		run curl -sS -m 5 "http://127.0.0.1:$PORT/p"
		assert_contains "$output" $'\nurl /p\n'
		! grep -q '^LISTEN_' "$TEST_TMP/env"
		kill_bg
	done
}

@test "an inherited socket without LISTEN_*: fd:fd=3 takes it" {
	PORT=$(free_port)
	export PORT
	start_bg "$HTPARSER_LOG" python3 -c "$PASS_PY" "$PORT" - \
	    "$HTPARSER" fd:fd=3,https -- "$ECHO_HANDLER"
	wait_port "$PORT" 5 "$BG_PID"
	run rawhttp -s 'GET /i HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' -c
	assert_equal "$(status_codes "$output")" 200
	assert_equal "$(ash X-Ash-Protocol)" https
}

@test "a passed socket outlives htparser: a connection queued while none runs is served by the next" {
	local first second
	PORT=$(free_port)
	export PORT
	# The holder runs htparser, waits 1.5 s after it exits, runs it
	# again (tests/supervise.sh), and keeps the socket all along.
	start_bg "$HTPARSER_LOG" python3 -c "$PASS_PY" "$PORT" web \
	    "$ASHD_SRCDIR/tests/supervise.sh" 1.5 \
	    "$HTPARSER" -p "$TEST_TMP/h.pid" fd:name=web -- "$ECHO_HANDLER"
	wait_port "$PORT" 5 "$BG_PID"
	for i in $(seq 100); do [ -s "$TEST_TMP/h.pid" ] && break; sleep 0.05; done
	first=$(head -n 1 "$TEST_TMP/h.pid")
	kill -TERM "$first"
	for i in $(seq 100); do proc_alive "$first" || break; sleep 0.02; done
	proc_alive "$first" && fail "htparser did not stop"
	# Nobody accepts now; the connection waits in the queue.
	run rawhttp -t 8 -s 'GET /queued HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' -c
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
	assert_contains "$output" $'\nurl /queued\n'
	second=$(head -n 1 "$TEST_TMP/h.pid")
	[ -n "$second" ] && [ "$second" != "$first" ] || fail "not served by a new htparser"
}

# ---------------------------------------------------------------------
# Errors

@test "no portspec and no socket passed: exit 2 saying so" {
	run env -u LISTEN_FDS -u LISTEN_PID "$HTPARSER" -- "$ECHO_HANDLER"
	assert_status 2
	assert_contains "$output" 'htparser: fd: no socket was passed (LISTEN_FDS, LISTEN_PID)'
	run "$HTPARSER" --
	assert_status 2
	assert_contains "$output" usage
}

@test "LISTEN_PID of another process: the sockets are not ours, exit 2 with a warning" {
	run env LISTEN_FDS=1 LISTEN_PID=1 "$HTPARSER" -- "$ECHO_HANDLER"
	assert_status 2
	assert_contains "$output" 'LISTEN_FDS ignored: LISTEN_PID is not this process'
}

@test "fd: an unknown name, a descriptor that is no listening socket, one given twice: exit 2" {
	PORT=$(free_port)
	run python3 -c "$PASS_PY" "$PORT" web "$HTPARSER" fd:name=nope -- "$ECHO_HANDLER"
	assert_status 2
	assert_contains "$output" 'htparser: fd: no socket named "nope" was passed (LISTEN_FDNAMES)'
	run "$HTPARSER" fd:fd=0 -- "$ECHO_HANDLER"
	assert_status 2
	assert_match "$output" 'htparser: fd: descriptor 0'
	run python3 -c 'import os, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0))
os.dup2(s.fileno(), 3); os.set_inheritable(3, True)
os.execvp(sys.argv[1], sys.argv[1:])' "$HTPARSER" fd:fd=3 -- "$ECHO_HANDLER"
	assert_status 2
	assert_contains "$output" 'htparser: fd: descriptor 3 is not a listening stream socket'
	run python3 -c "$PASS_PY" "$PORT" web "$HTPARSER" fd:fd=3 fd:name=web -- "$ECHO_HANDLER"
	assert_status 2
	assert_contains "$output" 'htparser: fd: descriptor 3 given twice'
}

# ---------------------------------------------------------------------
# The shipped units

@test "etc/systemd: ashd.socket, ashd-proxy.socket and ashd.service pass systemd-analyze verify" {
	command -v systemd-analyze >/dev/null 2>&1 ||
	    skip "systemd-analyze (package systemd) is not installed"
	mkdir "$TEST_TMP/units"
	# Installed programs are looked for under /usr/local/bin; here the
	# built ones stand in for them.
	sed "s|/usr/local/bin/htparser|$ASHD_BUILDDIR/htparser/htparser|" \
	    "$ASHD_SRCDIR/etc/systemd/ashd.service" >"$TEST_TMP/units/ashd.service"
	cp "$ASHD_SRCDIR/etc/systemd/ashd.socket" \
	    "$ASHD_SRCDIR/etc/systemd/ashd-proxy.socket" "$TEST_TMP/units/"
	run systemd-analyze verify --man=no "$TEST_TMP/units/ashd.socket" \
	    "$TEST_TMP/units/ashd-proxy.socket" "$TEST_TMP/units/ashd.service"
	assert_status 0
	assert_equal "$output" ""
	# What makes them what they are.
	run cat "$TEST_TMP/units/ashd.service"
	for want in 'NoNewPrivileges=yes' 'ProtectSystem=strict' \
	    'PrivateTmp=yes' 'KillMode=mixed' 'User=www-data' \
	    'fd:name=http fd:name=proxy,proxy'; do
		assert_contains "$output" "$want"
	done
	grep -q '^FileDescriptorName=http$' "$TEST_TMP/units/ashd.socket"
	grep -q '^FileDescriptorName=proxy$' "$TEST_TMP/units/ashd-proxy.socket"
	grep -q '^ListenStream=127.0.0.1:8443$' "$TEST_TMP/units/ashd-proxy.socket"
	# And verify does find a broken unit.
	printf '[Service]\nExecStart=relative/path\nNoNewPrivileges=maybe\n' \
	    >"$TEST_TMP/units/broken.service"
	run systemd-analyze verify --man=no "$TEST_TMP/units/broken.service"
	[ "$status" -ne 0 ] || [ -n "$output" ] || fail "broken unit passed"
}

@test "etc/systemd: the command line of ashd.service works with its two sockets under systemd-socket-activate" {
	local cmd http proxy
	http=$(free_port)
	proxy=$(free_port)
	mkdir -p "$TEST_TMP/www"
	echo hello >"$TEST_TMP/www/index.html"
	cmd=$(sed -n 's/^ExecStart=//p' "$ASHD_SRCDIR/etc/systemd/ashd.service")
	cmd=${cmd//\/usr\/local\/bin\/htparser/$HTPARSER}
	cmd=${cmd//\/srv\/www/$TEST_TMP/www}
	cmd=${cmd//\/var\/log\/ashd/$TEST_TMP}
	use_build_path
	start_bg "$HTPARSER_LOG" systemd-socket-activate "${SA_ENV[@]}" \
	    -l "127.0.0.1:$http" -l "127.0.0.1:$proxy" --fdname=http:proxy \
	    -E PATH -E HOME $cmd
	wait_port "$proxy" 5 "$BG_PID"
	run curl -sS -m 5 "http://127.0.0.1:$http/"
	assert_equal "$output" hello
	PORT=$proxy
	export PORT
	run rawhttp -s 'PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' -c
	assert_equal "$(status_codes "$output")" 200
	assert_contains "$output" hello
	run curl -sS -m 5 "http://127.0.0.1:$proxy/"
	assert_status 52
	# The root handler is accesslog: each request has its line, the
	# one through the PROXY port with the client the header named.
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -l <"$TEST_TMP/access.log" 2>/dev/null)" = 2 ] && break
		sleep 0.05
	done
	assert_match "$(sed -n 1p "$TEST_TMP/access.log")" '^127\.0\.0\.1 - - \[.*\] "GET / HTTP/1\.1" - - "-" "curl/'
	assert_match "$(sed -n 2p "$TEST_TMP/access.log")" '^192\.0\.2\.7 - - \[.*\] "GET / HTTP/1\.1" - - "-" "-"$'
}
