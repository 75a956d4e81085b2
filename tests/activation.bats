#!/usr/bin/env bats
# activation.bats: listening sockets passed to htparser instead of bound
# by it: socket activation by systemd-socket-activate (the systemd
# package's tool that passes sockets as systemd does), by a python
# parent that passes one itself (LISTEN_FDS/LISTEN_PID, or just an
# inherited descriptor), the `fd` port handler's parameters, and the
# shipped systemd units: ashd.service's single htparser, and the
# template ashd@.service's instances sharing a port with SO_REUSEPORT.

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

# unit_val FILE KEY: the value of KEY= in the unit FILE (the last one).
unit_val() {
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# unit_section FILE SECTION: the lines of [SECTION] in the unit FILE,
# without its comments and blank lines.
unit_section() {
	sed -n "/^\[$2\]\$/,/^\[/{/^\[/d;/^#/d;/^\$/d;p;}" "$1"
}

@test "etc/systemd: the templates ashd@.socket, ashd-proxy@.socket and ashd@.service pass systemd-analyze verify as instances, and enable by instance" {
	local u=$TEST_TMP/units root=$TEST_TMP/root single templ
	command -v systemd-analyze >/dev/null 2>&1 ||
	    skip "systemd-analyze (package systemd) is not installed"
	mkdir "$u"
	sed "s|/usr/local/bin/htparser|$ASHD_BUILDDIR/htparser/htparser|" \
	    "$ASHD_SRCDIR/etc/systemd/ashd@.service" >"$u/ashd@.service"
	cp "$ASHD_SRCDIR/etc/systemd/ashd@.socket" \
	    "$ASHD_SRCDIR/etc/systemd/ashd-proxy@.socket" "$u/"
	# A template is verified through an instance of it.
	run systemd-analyze verify --man=no "$u/ashd@1.socket" \
	    "$u/ashd-proxy@1.socket" "$u/ashd@1.service"
	assert_status 0
	assert_equal "$output" ""
	# What verify cannot see.  Each instance's sockets share their
	# ports with the others' (SO_REUSEPORT) and go to its own service.
	for templ in ashd@ ashd-proxy@; do
		assert_equal "$(unit_val "$u/$templ.socket" ReusePort)" yes
		assert_equal "$(unit_val "$u/$templ.socket" Service)" 'ashd@%i.service'
		# Otherwise as ashd.socket and ashd-proxy.socket: the same
		# address, name, backlog and options.
		single=$ASHD_SRCDIR/etc/systemd/${templ%@}.socket
		assert_equal "$(unit_section "$u/$templ.socket" Socket |
		    grep -v -e '^ReusePort=' -e '^Service=')" \
		    "$(unit_section "$single" Socket | grep -v '^Service=')"
		assert_equal "$(unit_val "$u/$templ.socket" Conflicts)" \
		    "${templ%@}.socket"
	done
	# The service is ashd.service's, but for the log of its own,
	# named after the instance.
	assert_contains "$(unit_val "$u/ashd@.service" ExecStart)" \
	    ' accesslog -a /var/log/ashd/access-%i.log '
	assert_equal "$(unit_section "$u/ashd@.service" Service |
	    sed 's|^\(ExecStart=.*/access\)-%i\.log |\1.log |')" \
	    "$(unit_section "$ASHD_SRCDIR/etc/systemd/ashd.service" Service |
	    sed "s|/usr/local/bin/htparser|$ASHD_BUILDDIR/htparser/htparser|")"
	assert_equal "$(unit_val "$u/ashd@.service" Requires)" \
	    'ashd@%i.socket ashd-proxy@%i.socket'
	# Enabling an instance of the service enables its two sockets
	# (Also=), in a root of our own (systemctl --root changes no
	# running system).
	mkdir -p "$root/etc/systemd/system"
	cp "$u"/* "$root/etc/systemd/system/"
	run systemctl --root="$root" enable ashd@1.service ashd@2.service
	assert_status 0
	for want in sockets.target.wants/ashd@1.socket \
	    sockets.target.wants/ashd-proxy@1.socket \
	    sockets.target.wants/ashd@2.socket \
	    sockets.target.wants/ashd-proxy@2.socket \
	    multi-user.target.wants/ashd@1.service \
	    multi-user.target.wants/ashd@2.service; do
		[ -L "$root/etc/systemd/system/$want" ] || fail "not enabled: $want"
	done
	[ ! -e "$root/etc/systemd/system/sockets.target.wants/ashd@3.socket" ]
}

# What systemd does for the sockets of one instance of a template:
# launch.py PORT:NAME:REUSEPORT... -- PROG ARGS binds a socket on
# 127.0.0.1:PORT for each argument, with SO_REUSEPORT when REUSEPORT is
# "yes" (the unit's ReusePort=), puts them on descriptors 3, 4, ..., sets
# LISTEN_FDS, LISTEN_PID (its own pid) and LISTEN_FDNAMES (the NAMEs,
# the units' FileDescriptorName=), and execs PROG, keeping the pid.
LAUNCH_PY='
import os, socket, sys
end = sys.argv.index("--")
socks, names = [], []
for spec in sys.argv[1:end]:
    port, name, reuse = spec.split(":")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse == "yes":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", int(port)))
    s.listen(1024)
    socks.append(s)
    names.append(name)
high = [os.dup(s.fileno()) for s in socks]
for s in socks:
    s.close()
for n, fd in enumerate(high):
    os.dup2(fd, 3 + n)
    os.close(fd)
os.environ["LISTEN_FDS"] = str(len(high))
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDNAMES"] = ":".join(names)
os.execvp(sys.argv[end + 1], sys.argv[end + 1:])
'

# connect.py PORT N [ADDRESS]: N requests for / to 127.0.0.1:PORT, each
# on a new connection (from a new source port), preceded by a PROXY
# header naming ADDRESS as the client if given; prints "ok K ports P",
# K the responses that were 200 with the body "hello", P the distinct
# source ports, and what went wrong with the first few others on stderr.
CONNECT_PY='
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
addr = sys.argv[3] if len(sys.argv) > 3 else ""
ok, ports, bad = 0, set(), 0
def failed(what):
    global bad
    bad += 1
    if bad <= 3:
        print("request %d: %s" % (k, what), file=sys.stderr)
for k in range(n):
    req = b""
    if addr:
        req = ("PROXY TCP4 %s 198.51.100.1 %d 443\r\n"
               % (addr, 1024 + k)).encode()
    req += b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = b""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        ports.add(s.getsockname()[1])
        s.sendall(req)
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
        s.close()
    except OSError as e:
        failed(e)
        continue
    if data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\nhello\n"):
        ok += 1
    else:
        failed(repr(data[:300]))
print("ok %d ports %d" % (ok, len(ports)))
'

# listeners PORT: how many sockets listen on 127.0.0.1:PORT.
listeners() {
	awk -v p="$(printf '0100007F:%04X' "$1")" '$2 == p && $4 == "0A"' \
	    /proc/net/tcp | wc -l
}

# wait_listeners PORT N: wait until N sockets listen on PORT.
wait_listeners() {
	local i
	for ((i = 0; i < 250 * SLOW; i++)); do
		[ "$(listeners "$1")" -eq "$2" ] && return 0
		sleep 0.02
	done
	fail "port $1: $(listeners "$1") listening sockets, expected $2"
}

# log_lines FILE...: the lines of the FILEs together (none in one that
# does not exist).
log_lines() {
	cat -- "$@" 2>/dev/null | wc -l | tr -d ' '
}

# wait_log_sum N FILE...: wait until the FILEs have N lines together.
wait_log_sum() {
	local n=$1 i sum
	shift
	for ((i = 0; i < 250 * SLOW; i++)); do
		sum=$(log_lines "$@")
		[ "$sum" -eq "$n" ] && return 0
		[ "$sum" -gt "$n" ] && break
		sleep 0.02
	done
	fail "$* have $sum lines together, expected $n"
}

@test "etc/systemd: two instances of ashd@.service on their own SO_REUSEPORT sockets of one port share the connections, each with its own log; one stopped, the other serves all" {
	local sock psock cmd http proxy i pid=() log=() one two
	sock=$ASHD_SRCDIR/etc/systemd/ashd@.socket
	psock=$ASHD_SRCDIR/etc/systemd/ashd-proxy@.socket
	http=$(free_port)
	proxy=$(free_port)
	mkdir -p "$TEST_TMP/www"
	echo hello >"$TEST_TMP/www/index.html"
	use_build_path
	for i in 1 2; do
		# The instance's command line, as systemd makes it from
		# ashd@.service for ashd@$i.service.
		cmd=$(unit_val "$ASHD_SRCDIR/etc/systemd/ashd@.service" ExecStart)
		cmd=${cmd//%i/$i}
		cmd=${cmd//\/usr\/local\/bin\/htparser/$HTPARSER}
		cmd=${cmd//\/srv\/www/$TEST_TMP/www}
		cmd=${cmd//\/var\/log\/ashd/$TEST_TMP}
		# Its sockets as systemd binds them for ashd@$i.socket and
		# ashd-proxy@$i.socket, whose ports are the free ones here.
		start_bg "$TEST_TMP/htparser-$i.log" python3 -c "$LAUNCH_PY" \
		    "$http:$(unit_val "$sock" FileDescriptorName):$(unit_val "$sock" ReusePort)" \
		    "$proxy:$(unit_val "$psock" FileDescriptorName):$(unit_val "$psock" ReusePort)" \
		    -- $cmd
		pid+=("$BG_PID")
		log+=("$TEST_TMP/access-$i.log")
		wait_listeners "$http" "$i"
		wait_listeners "$proxy" "$i"
	done
	# 200 connections to port 80, 20 from the TLS terminator.
	run python3 -c "$CONNECT_PY" "$http" 200
	assert_equal "$output" "ok 200 ports 200"
	run python3 -c "$CONNECT_PY" "$proxy" 20 192.0.2.7
	assert_equal "$output" "ok 20 ports 20"
	# The kernel spread them over the two (200 source ports hashed:
	# that all went to one has a chance of 2^-199), each logged once,
	# by the accesslog of the instance that served it.
	wait_log_sum 220 "${log[@]}"
	one=$(log_lines "${log[0]}")
	two=$(log_lines "${log[1]}")
	echo "instance 1: $one requests, instance 2: $two" >&3
	[ "$one" -gt 0 ] && [ "$two" -gt 0 ] ||
	    fail "not spread: $one and $two requests"
	assert_equal "$(cat "${log[@]}" | grep -c '^192\.0\.2\.7 ')" 20
	assert_equal "$(cat "${log[@]}" | grep -c '^127\.0\.0\.1 ')" 200
	# Both served: both are the htparsers the launcher became.
	assert_equal "$(proc_name "${pid[0]}")" htparser
	assert_equal "$(proc_name "${pid[1]}")" htparser
	# Instance 1 stops: its sockets close with it (here; under systemd
	# they stay open for the next start) and the port's group is
	# instance 2's alone, which serves every new connection.
	kill -TERM "${pid[0]}"
	wait_exit "${pid[0]}" $((10 * SLOW))
	wait_listeners "$http" 1
	wait_listeners "$proxy" 1
	run python3 -c "$CONNECT_PY" "$http" 100
	assert_equal "$output" "ok 100 ports 100"
	run python3 -c "$CONNECT_PY" "$proxy" 10 192.0.2.8
	assert_equal "$output" "ok 10 ports 10"
	wait_log_sum $((two + 110)) "${log[1]}"
	assert_equal "$(log_lines "${log[0]}")" "$one"
	assert_equal "$(grep -c '^192\.0\.2\.8 ' "${log[1]}")" 10
}
