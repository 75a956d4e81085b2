#!/usr/bin/env bats
# upgrade.bats: replacing a running htparser under load without one
# failed or truncated request: (1) several htparsers on one port with
# reuseport, the new one started before the old one gets SIGTERM; (2)
# restarts under socket activation (systemd-socket-activate holding the
# socket, tests/supervise.sh restarting htparser as systemd would).
# The load is tests/hammer.py: a few threads doing GETs on new
# connections as fast as they can, checking every response.
# run-tests: alone

load helper

# The response the load asks for: echo-handler's bytes, 20000 of them.
LOADPATH='/load?size=20000'
LOADLEN=20000

setup() {
	common_setup
	STOP=$TEST_TMP/stop
	# systemd-socket-activate passes on only PATH, HOME, USER, TERM and
	# what -E names: the sanitizers' settings too.
	SA_ENV=()
	for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		if [ -n "${!v:-}" ]; then
			SA_ENV+=(-E "$v")
		fi
	done
}

# start_load: hammer.py on $PORT in the background, until $STOP exists.
start_load() {
	python3 "$ASHD_SRCDIR/tests/hammer.py" "$PORT" "$LOADPATH" "$LOADLEN" \
	    "$STOP" ${LOAD_WORKERS:-32} 120 >"$TEST_TMP/load.out" 2>&1 3>&- &
	LOAD_PID=$!
	track_pid "$LOAD_PID"
}

# stop_load: stop it, and fail unless it saw no failure; prints its
# summary line.
stop_load() {
	local rc=0
	touch "$STOP"
	wait "$LOAD_PID" || rc=$?
	untrack_pid "$LOAD_PID"
	cat "$TEST_TMP/load.out"
	[ "$rc" -eq 0 ] || fail "the load saw failures: $(cat "$TEST_TMP/load.out")"
}

# load_count: requests the load has had answered so far is not known
# while it runs; wait a little and let it work.
let_it_run() {
	sleep "${1:-1}"
	[ ! -s "$TEST_TMP/load.out" ] || fail "load ended early: $(cat "$TEST_TMP/load.out")"
}

# wait_pidfile FILE: wait until htparser has written its pid to FILE
# (it has bound its ports and started its root handler); prints it.
wait_pidfile() {
	local i
	for ((i = 0; i < 250; i++)); do
		if [ -s "$1" ]; then
			head -n 1 "$1"
			return 0
		fi
		sleep 0.02
	done
	fail "no pid in $1"
}

@test "reuseport: new htparser started, old one SIGTERMed, three times under load: nothing lost" {
	local i old new
	PORT=$(free_port)
	export PORT
	start_bg "$TEST_TMP/h0.log" "$HTPARSER" -p "$TEST_TMP/h0.pid" \
	    "plain:port=$PORT,local=127.0.0.1,reuseport" -- "$ECHO_HANDLER"
	old=$(wait_pidfile "$TEST_TMP/h0.pid")
	wait_port "$PORT" 5 "$old"
	start_load
	let_it_run 1
	for i in 1 2 3; do
		start_bg "$TEST_TMP/h$i.log" "$HTPARSER" -p "$TEST_TMP/h$i.pid" \
		    "plain:port=$PORT,local=127.0.0.1,reuseport" -- "$ECHO_HANDLER"
		new=$(wait_pidfile "$TEST_TMP/h$i.pid")
		let_it_run 0.5
		kill -TERM "$old"
		wait_exit "$old" 10
		assert_equal "$EXIT_STATUS" 0
		old=$new
		let_it_run 1
	done
	stop_load
	# The load was real: hundreds of requests at least.
	assert_match "$(tail -n 1 "$TEST_TMP/load.out")" '^ok [0-9]{3,} failed 0$'
	# No htparser complained about its socket.
	! grep -h 'reuseport' "$TEST_TMP"/h*.log
}

@test "socket activation: htparser restarted five times under load: nothing lost" {
	local i pid prev
	PORT=$(free_port)
	export PORT
	start_bg "$TEST_TMP/sa.log" systemd-socket-activate \
	    -l "127.0.0.1:$PORT" --fdname=web "${SA_ENV[@]}" \
	    "$ASHD_SRCDIR/tests/supervise.sh" 0.2 \
	    "$HTPARSER" -p "$TEST_TMP/h.pid" fd:name=web -- "$ECHO_HANDLER"
	wait_port "$PORT" 5 "$BG_PID"
	# The first connection starts the service, as with systemd.
	run curl -sS -m 5 "http://127.0.0.1:$PORT/first"
	assert_contains "$output" 'url /first'
	pid=$(wait_pidfile "$TEST_TMP/h.pid")
	start_load
	let_it_run 1
	for i in 1 2 3 4 5; do
		prev=$pid
		kill -TERM "$pid"
		# The next one starts 0.2 s after this one exits: meanwhile
		# connections wait in the queue of the held socket.
		for ((n = 0; n < 250; n++)); do
			pid=$(head -n 1 "$TEST_TMP/h.pid" 2>/dev/null) || true
			[ -n "$pid" ] && [ "$pid" != "$prev" ] && break
			sleep 0.02
		done
		[ "$pid" != "$prev" ] || fail "htparser was not restarted"
		let_it_run 1
	done
	stop_load
	assert_match "$(tail -n 1 "$TEST_TMP/load.out")" '^ok [0-9]{3,} failed 0$'
}
