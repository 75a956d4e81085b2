#!/usr/bin/env bats
# httrcall.bats: httrcall, the persistent handler that runs a transient
# handler per request, as htparser's root handler over 127.0.0.1, and
# fed directly by tests/dgram-front.py where exact timing matters.
#
# The transient handlers are small sh scripts written by each test
# into $TEST_TMP; they note when they start and end in a log file, so
# that how many ran at once can be read afterwards.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	HTTRCALL=$(ashd_prog httrcall)
	FRONT=$ASHD_SRCDIR/tests/dgram-front.py
	SERVER_LOG=$TEST_TMP/server.log
	[ -x "$HTTRCALL" ] || fail "$HTTRCALL is missing: make -C $ASHD_BUILDDIR"
}

teardown() {
	common_teardown
}

# slow_script SECONDS: $TEST_TMP/slow, a transient handler that logs
# "start" and "end" to $TEST_TMP/runs around a sleep, then answers 200.
slow_script() {
	cat >"$TEST_TMP/slow" <<EOF
#!/bin/sh
echo start >>"$TEST_TMP/runs"
sleep $1
echo end >>"$TEST_TMP/runs"
printf 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n'
EOF
	chmod 755 "$TEST_TMP/slow"
}

# most_at_once: the largest number of slow scripts that ran at once,
# from $TEST_TMP/runs.
most_at_once() {
	awk '$1 == "start" { n++; if (n > m) m = n } $1 == "end" { n-- }
	    END { print m + 0 }' "$TEST_TMP/runs"
}

# three_at_once: three requests to / at the same time; all must be 200.
three_at_once() {
	local i pids=()
	for i in 1 2 3; do
		curl -sS -m 30 -o /dev/null -w '%{http_code}\n' \
		    "http://127.0.0.1:$PORT/" >"$TEST_TMP/code.$i" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	assert_equal "$(cat "$TEST_TMP"/code.*)" $'200\n200\n200'
}

@test "httrcall -h: usage on standard output, exit 0" {
	run "$HTTRCALL" -h
	assert_status 0
	assert_contains "$output" "usage: httrcall [-h] [-l LIMIT] PROGRAM"
}

@test "httrcall: no PROGRAM or a bad -l is a usage error (exit 2)" {
	run "$HTTRCALL"
	assert_status 2
	assert_contains "$output" "usage:"
	run "$HTTRCALL" -l many "$ECHO_SH"
	assert_status 2
	assert_contains "$output" "httrcall: -l many: not a number"
	run "$HTTRCALL" -l -1 "$ECHO_SH"
	assert_status 2
}

@test "httrcall: a transient handler as htparser's root: ARGS, then METHOD URL REST, headers as REQ_*" {
	start_root httrcall "$ECHO_SH" -x "two words"
	expect '/a/b?c=d' 200 -H 'X-Test: yes'
	assert_equal "$(grep '^arg' "$TEST_TMP/body")" \
	    "$(printf 'arg %s\n' '1: -x' '2: two words' '3: GET' \
	    '4: /a/b?c=d' '5: a/b')"
	assert_contains "$(body)" "REQ_X_TEST=yes"
	assert_contains "$(body)" "HTTP_VERSION=HTTP/1.1"
}

@test "httrcall: options after PROGRAM belong to PROGRAM" {
	start_root httrcall "$ECHO_SH" -l 5
	expect / 200
	assert_contains "$(body)" $'arg 1: -l\narg 2: 5\narg 3: GET'
}

@test "httrcall: one process per request" {
	cat >"$TEST_TMP/pid" <<'EOF'
#!/bin/sh
printf 'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s' ${#$} $$
EOF
	chmod 755 "$TEST_TMP/pid"
	start_root httrcall "$TEST_TMP/pid"
	expect / 200
	a=$(body)
	expect / 200
	b=$(body)
	[ -n "$a" ] && [ "$a" != "$b" ] ||
	    fail "the same process answered twice: $a $b"
}

@test "httrcall without -l: requests run at the same time" {
	slow_script 1
	start_root httrcall "$TEST_TMP/slow"
	three_at_once
	assert_equal "$(most_at_once)" 3
}

@test "httrcall -l 0: no limit either" {
	slow_script 1
	start_root httrcall -l 0 "$TEST_TMP/slow"
	three_at_once
	assert_equal "$(most_at_once)" 3
}

@test "httrcall -l 1: one at a time; the others wait and are all served" {
	slow_script 0.5
	start_root httrcall -l 1 "$TEST_TMP/slow"
	t0=$(now_ms)
	three_at_once
	t1=$(now_ms)
	assert_equal "$(most_at_once)" 1
	[ $((t1 - t0)) -ge 1400 ] || fail "three runs of 0.5 s took $((t1 - t0)) ms"
}

@test "httrcall -l 2: at most two at once" {
	slow_script 1
	start_root httrcall -l 2 "$TEST_TMP/slow"
	three_at_once
	assert_equal "$(most_at_once)" 2
}

@test "httrcall: a missing PROGRAM is answered 500, and httrcall goes on" {
	start_root httrcall "$TEST_TMP/no-such-program"
	expect / 500
	expect / 500
	assert_contains "$(cat "$SERVER_LOG")" "no-such-program"
}

@test "httrcall: at end of input it waits for its running children, then exits 0" {
	slow_script 1
	run python3 "$FRONT" send - 1 wait 200 eof collect 5000 -- \
	    "$HTTRCALL" "$TEST_TMP/slow"
	assert_status 0
	assert_match "$output" "exit 0 after ([0-9]+) ms"
	ms=$(sed -nE 's/^exit 0 after ([0-9]+) ms$/\1/p' <<<"$output")
	[ "$ms" -ge 500 ] || fail "exited $ms ms after end of input"
	assert_match "$output" $'\n1 - 200 '
	assert_equal "$(cat "$TEST_TMP/runs")" $'start\nend'
}

@test "httrcall: not on a request socket, it says so and exits 1" {
	run "$HTTRCALL" "$ECHO_SH" </dev/null
	assert_status 1
	assert_contains "$output" "standard input is not a request socket"
}
