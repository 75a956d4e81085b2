#!/usr/bin/env bats
# multifscgi.bats: multifscgi alone (started here, its copies plain
# programs), and under callscgi in anonymous mode, where it shares
# callscgi's listening socket among copies of tests/scgi-server.py.
#
# Processes: multifscgi is started as its own process group; its
# copies run in groups of their own, so teardown also kills every
# process it finds below the programs it started (by PID and start
# time).

load helper

setup() {
	common_setup
	export TMPDIR=$TEST_TMP
	use_build_path
	MULTIFSCGI=$(ashd_prog multifscgi)
	SERVER=$ASHD_SRCDIR/tests/scgi-server.py
	SERVER_LOG=$TEST_TMP/server.log
	APP_LOG=$TEST_TMP/app.log
	mkdir -p "$TEST_TMP/site"
	SITE=$(cd "$TEST_TMP/site" && pwd -P)
	: >"$SITE/app.scgi"
	HTPARSER_PID=
	MF_PID=
	[ -x "$MULTIFSCGI" ] ||
	    fail "$MULTIFSCGI is missing: make -C $ASHD_BUILDDIR"
}

teardown() {
	local strays
	strays="$(stamped_descendants "$HTPARSER_PID") $(stamped_descendants "$MF_PID")"
	common_teardown
	kill_stamped $strays
	return 0
}

# start_mf NUM PROGRAM [ARGS...]: multifscgi started here, logging to
# $SERVER_LOG; sets MF_PID and waits for NUM copies.
start_mf() {
	start_bg "$SERVER_LOG" "$MULTIFSCGI" "$@"
	MF_PID=$BG_PID
	wait_count "$1" children_of "$MF_PID"
}

# start_site_mf NUM [SERVER-ARGS...]: /app.scgi served by callscgi in
# anonymous mode running `multifscgi NUM scgi-server.py ARGS`.
start_site_mf() {
	local n=$1
	shift
	put "$TEST_TMP/scgi.rc" "child scgi" \
	    "    exec callscgi multifscgi $n python3 $SERVER --log $APP_LOG $*" \
	    "match" "    filename *.scgi" "    handler scgi"
	start_site -N -c "$TEST_TMP/scgi.rc" "$SITE"
}

# the_mf: the multifscgi under callscgi.
the_mf() {
	children_named "$(children_named "$(dirplex_pid)" callscgi)" multifscgi
}

# sock_of PID: the inode of PID's standard input.
sock_of() {
	readlink "/proc/$1/fd/0"
}

@test "multifscgi -h prints the usage and exits 0" {
	run timeout 5 "$MULTIFSCGI" -h
	assert_status 0
	assert_contains "$output" "usage: multifscgi [-hV] NUM PROGRAM [ARGS...]"
}

@test "multifscgi: bad usage exits 2" {
	local a
	for a in "" "3" "x sleep" "0 sleep" "-1 sleep" "4097 sleep" "2x sleep" \
	    "-Z 3 sleep"; do
		run timeout 5 "$MULTIFSCGI" $a </dev/null
		[ "$status" -eq 2 ] ||
		    fail "multifscgi $a: exit status $status, expected 2: $output"
	done
}

@test "under callscgi: NUM copies share callscgi's listening socket and serve at once" {
	start_site_mf 3 --serial
	expect /app.scgi 200
	local mf kids k t0 out
	mf=$(the_mf)
	assert_match "$mf" '^[0-9]+$'
	wait_count 3 children_of "$mf"
	kids=$(children_of "$mf")
	for k in $kids; do
		assert_equal "$(proc_name "$k")" python3
		assert_match "$(sock_of "$k")" '^socket:'
		assert_equal "$(sock_of "$k")" "$(sock_of "$mf")"
		# Each copy leads a process group of its own.
		assert_equal "$(ps -o pgid= -p "$k" | tr -d ' ')" "$k"
	done
	# Three one-at-a-time servers: three requests of 0.8 s at once.
	t0=$(now_ms)
	out=$(par 3 '/app.scgi?sleep=800' 'n=%d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=3 fail=0" || fail "$out"
	[ $(($(now_ms) - t0)) -lt 2200 ] || fail "not served at once"
	assert_equal "$(sed -nE 's/^request .* pid=([0-9]+) .*/\1/p' "$APP_LOG" |
	    tail -n 3 | sort -u | wc -l)" 3
}

@test "under callscgi: a copy that is killed is started again, and requests go on" {
	start_site_mf 3 --serial
	expect /app.scgi 200
	local mf victim
	mf=$(the_mf)
	wait_count 3 children_of "$mf"
	victim=$(children_of "$mf" | head -n 1)
	kill -KILL "$victim"
	wait_log "python3 (pid $victim) killed by signal 9; restarting it"
	wait_count 3 children_of "$mf"
	! children_of "$mf" | grep -qx "$victim"
	local out
	out=$(par 6 /app.scgi 'n=%d')
	assert_equal "$(head -n 1 <<<"$out")" "ok=6 fail=0" || fail "$out"
}

@test "under callscgi: when callscgi exits, multifscgi and every copy end" {
	start_site_mf 2
	expect /app.scgi 200
	local cs mf kids k
	cs=$(children_named "$(dirplex_pid)" callscgi)
	mf=$(the_mf)
	wait_count 2 children_of "$mf"
	kids=$(children_of "$mf")
	stop_site "$cs"
	gone "$mf"
	for k in $kids; do
		gone "$k"
	done
}

@test "a copy that exits at once is started again after a second, not in a tight loop" {
	start_bg "$SERVER_LOG" "$MULTIFSCGI" 2 sh -c 'exit 1'
	MF_PID=$BG_PID
	sleep 2.5
	local n
	n=$(grep -c 'exited with status 1; restarting it' "$SERVER_LOG")
	# Two copies, restarted about once a second each.
	[ "$n" -ge 2 ] && [ "$n" -le 8 ] || fail "$n restarts in 2.5 s"
	proc_alive "$MF_PID"
}

@test "a copy that exits with status 0 is started again at once" {
	start_mf 1 sh -c 'sleep 0.2; exit 0'
	local i pids=()
	for ((i = 0; i < 30; i++)); do
		pids+=($(children_of "$MF_PID"))
		sleep 0.05
	done
	# A generation lives 0.2 s: at least 4 of them in 1.5 s.
	[ "$(printf '%s\n' "${pids[@]}" | sort -u | wc -l)" -ge 4 ] ||
	    fail "generations: $(printf '%s\n' "${pids[@]}" | sort -u | tr '\n' ' ')"
	! grep -q restarting "$SERVER_LOG"
}

@test "a copy killed (-9): what it left in its process group gets SIGTERM, and SIGKILL 2 s later if it ignores that" {
	start_mf 1 sh -c 'sleep 1000 & echo $! >"$1"
(trap "" TERM; exec sleep 1001) & echo $! >"$2"
exec sleep 1002' sh "$TEST_TMP/a" "$TEST_TMP/b"
	local copy a b i t0 t
	copy=$(children_of "$MF_PID")
	for ((i = 0; i < 100; i++)); do
		[ -s "$TEST_TMP/a" ] && [ -s "$TEST_TMP/b" ] && break
		sleep 0.05
	done
	a=$(cat "$TEST_TMP/a")
	b=$(cat "$TEST_TMP/b")
	# Nobody's children once the copy is gone: killed in the teardown
	# should they outlive the test.
	track_pid "$a"
	track_pid "$b"
	proc_alive "$a" && proc_alive "$b"
	t0=$(now_ms)
	kill -KILL "$copy"
	gone "$a" 1
	proc_alive "$b" || fail "the process ignoring SIGTERM ended at once"
	gone "$b" 5
	t=$(($(now_ms) - t0))
	[ "$t" -ge 1500 ] || fail "SIGKILL after $t ms, not 2 s"
	wait_log "sh (pid $copy) left processes in its group: SIGTERM to them"
	wait_log "process group $copy: SIGKILL to what is left 2000 ms after SIGTERM"
	# The copy itself was started again.
	wait_count 1 children_of "$MF_PID"
	[ "$(children_of "$MF_PID")" != "$copy" ]
}

@test "SIGTERM: every copy gets SIGTERM; multifscgi waits for them and exits 0" {
	start_mf 3 sleep 1000
	local kids k
	kids=$(children_of "$MF_PID")
	kill -TERM "$MF_PID"
	wait_exit "$MF_PID" 5
	assert_equal "$EXIT_STATUS" 0
	for k in $kids; do
		gone "$k"
	done
}

@test "SIGINT does what SIGTERM does" {
	start_mf 2 sleep 1000
	local kids k
	kids=$(children_of "$MF_PID")
	kill -INT "$MF_PID"
	wait_exit "$MF_PID" 5
	assert_equal "$EXIT_STATUS" 0
	for k in $kids; do
		gone "$k"
	done
}

@test "copies that ignore SIGTERM are killed 5 s later; a second SIGTERM kills at once" {
	start_mf 2 sh -c 'trap "" TERM; while :; do sleep 1; done'
	local kids k t0 t
	kids=$(children_of "$MF_PID")
	t0=$(now_ms)
	kill -TERM "$MF_PID"
	wait_exit "$MF_PID" 10
	t=$(($(now_ms) - t0))
	[ "$t" -ge 4500 ] && [ "$t" -lt 8000 ] || fail "exited after $t ms"
	grep -q "still running 5000 ms after SIGTERM: killing them" "$SERVER_LOG"
	for k in $kids; do
		gone "$k"
	done
	start_mf 2 sh -c 'trap "" TERM; while :; do sleep 1; done'
	kids=$(children_of "$MF_PID")
	kill -TERM "$MF_PID"
	sleep 0.3
	t0=$(now_ms)
	kill -TERM "$MF_PID"
	wait_exit "$MF_PID" 5
	t=$(($(now_ms) - t0))
	[ "$t" -lt 2000 ] || fail "the second SIGTERM took $t ms"
	for k in $kids; do
		gone "$k"
	done
}

@test "killed with SIGKILL, multifscgi still takes its copies with it" {
	start_mf 3 sleep 1000
	local kids k
	kids=$(children_of "$MF_PID")
	kill -KILL "$MF_PID"
	for k in $kids; do
		gone "$k"
	done
}
