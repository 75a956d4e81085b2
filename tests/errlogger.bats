#!/usr/bin/env bats
# errlogger.bats: errlogger with a stand-in for the system log.
#
# No syslog daemon runs here: each test starts a small python3 listener
# on a Unix datagram socket of its own and points errlogger at it with
# ASHD_SYSLOG_SOCKET; the listener writes each message it receives as
# one line of $MSGS.  The messages are checked byte for byte: the
# priority value, the timestamp, the name and pid, one message per
# line.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	SERVER_LOG=$TEST_TMP/server.log
	SOCK=$TEST_TMP/log.sock
	MSGS=$TEST_TMP/msgs
	export ASHD_SYSLOG_SOCKET=$SOCK
	start_syslog
}

teardown() {
	common_teardown
}

# start_syslog [OUT]: a listener on $SOCK writing messages to OUT ($MSGS).
start_syslog() {
	local i
	rm -f "$SOCK"
	start_bg "$TEST_TMP/listener.log" python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        d = s.recv(65536)
        f.write(d.replace(b"\\", b"\\\\").replace(b"\n", b"\\n") + b"\n")
' "$SOCK" "${1:-$MSGS}"
	LISTENER_PID=$BG_PID
	for ((i = 0; i < 250; i++)); do
		[ -S "$SOCK" ] && return 0
		sleep 0.02
	done
	fail "the syslog stand-in did not start"
}

# wait_msgs N [FILE]: wait until N messages have arrived.
wait_msgs() {
	local f=${2:-$MSGS} i
	for ((i = 0; i < 250 * SLOW; i++)); do
		[ -f "$f" ] && [ "$(wc -l <"$f")" -ge "$1" ] && return 0
		sleep 0.02
	done
	fail "$(wc -l <"$f" 2>/dev/null) messages, expected $1:"$'\n'"$(cat "$f" 2>/dev/null)"
}

# texts: the messages without "<PRI>date name[pid]: ".
texts() {
	sed -E 's/^<[0-9]+>[A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [^ ]+\[[0-9]+\]: //' "$MSGS"
}

STAMP='[A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}'

# ---------------------------------------------------------------------

@test "-h prints the usage on stdout; usage errors exit 2" {
	run errlogger -h
	assert_status 0
	assert_contains "$output" "usage: errlogger [-h] [-n NAME] [-f FACILITY] [-p PRIORITY] PROGRAM"
	run errlogger
	assert_status 2
	run errlogger -f nosuch true
	assert_status 2
	assert_contains "$output" "errlogger: nosuch: unknown facility"
	run errlogger -p loud true
	assert_status 2
	assert_contains "$output" "errlogger: loud: unknown priority"
	run errlogger -x true
	assert_status 2
}

@test "one message per line: daemon.warning, the program's name and pid" {
	run errlogger /bin/sh -c 'echo "pid $$" >&2; echo "second line" >&2'
	assert_status 0
	wait_msgs 2
	run sed -n 1p "$MSGS"
	assert_match "$output" "^<28>$STAMP sh\\[([0-9]+)\\]: pid ([0-9]+)\$"
	assert_equal "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
	run sed -n 2p "$MSGS"
	assert_match "$output" "^<28>$STAMP sh\\[[0-9]+\\]: second line\$"
	assert_equal "$(wc -l <"$MSGS")" 2
}

@test "-n NAME names the messages" {
	run errlogger -n my-app sh -c 'echo hello >&2'
	assert_status 0
	wait_msgs 1
	assert_match "$(cat "$MSGS")" "^<28>$STAMP my-app\\[[0-9]+\\]: hello\$"
}

# log_each OPTION FIXED NAME=PRI...: one errlogger -OPTION NAME FIXED
# per NAME (named NAME), then check that NAME's message came as <PRI>.
log_each() {
	local opt=$1 fixed=$2 pair name n=0
	shift 2
	for pair in "$@"; do
		name=${pair%=*}
		errlogger "$opt" "$name" $fixed -n "$name" sh -c 'echo x >&2'
		n=$((n + 1))
	done
	wait_msgs "$n"
	for pair in "$@"; do
		grep -qE "^<${pair#*=}>$STAMP ${pair%=*}\\[[0-9]+\\]: x\$" "$MSGS" ||
		    fail "$opt ${pair%=*}: not <${pair#*=}>:"$'\n'"$(cat "$MSGS")"
	done
}

@test "-f: every facility is encoded as facility * 8 + priority" {
	# With -p info (6): facility * 8 + 6.
	log_each -f '-p info' kern=6 user=14 mail=22 daemon=30 auth=38 \
	    lpr=54 news=62 uucp=70 cron=78 authpriv=86 ftp=94 local0=134 \
	    local1=142 local2=150 local3=158 local4=166 local5=174 \
	    local6=182 local7=190
}

@test "-p: every priority" {
	# With -f local7 (23): 184 + priority.
	log_each -p '-f local7' emerg=184 alert=185 crit=186 err=187 \
	    warning=188 notice=189 info=190 debug=191
}

@test "lines: CRLF ends, empty lines, a last line without newline" {
	run errlogger sh -c 'printf "a\r\n\nb\n\n\nc" >&2'
	assert_status 0
	wait_msgs 3
	assert_equal "$(texts)" $'a\nb\nc'
}

@test "a long line is split into messages, never inside a UTF-8 character" {
	run errlogger python3 -c '
import sys
sys.stderr.write("a" * 2047 + "\u00e9" + "b" * 3000 + "\n")'
	assert_status 0
	wait_msgs 3
	run texts
	lens=$(LC_ALL=C awk '{ print length($0) }' <<<"$output" | tr '\n' ' ')
	assert_equal "$lens" '2047 2048 954 '
	assert_equal "$(texts | tr -d '\n')" "$(python3 -c 'print("a" * 2047 + "\u00e9" + "b" * 3000)')"
}

@test "the exit status is the program's; 127 if it cannot be run" {
	run errlogger sh -c 'exit 7'
	assert_status 7
	run errlogger sh -c 'kill -KILL $$'
	assert_status 137
	st=0
	errlogger "$TEST_TMP/no-such-program" || st=$?
	assert_equal "$st" 127
	wait_msgs 1
	assert_match "$(cat "$MSGS")" "^<28>$STAMP no-such-program\\[[0-9]+\\]: errlogger: $TEST_TMP/no-such-program: No such file or directory\$"
}

@test "standard input and output pass to the program" {
	run bash -c 'echo through | errlogger cat'
	assert_status 0
	assert_equal "$output" through
}

@test "signals are passed on to the program" {
	start_bg "$SERVER_LOG" errlogger sh -c \
	    'trap "echo got TERM >&2; exit 5" TERM; echo ready >&2
	     while :; do sleep 0.05; done'
	pid=$BG_PID
	wait_msgs 1
	kill -TERM "$pid"
	wait_exit "$pid" 5
	assert_equal "$EXIT_STATUS" 5
	wait_msgs 2
	assert_equal "$(texts)" $'ready\ngot TERM'
}

@test "without a syslog socket the lines go to standard error" {
	export ASHD_SYSLOG_SOCKET=$TEST_TMP/none.sock
	run errlogger -n nolog sh -c 'echo "one" >&2; echo "two" >&2'
	assert_status 0
	assert_contains "$output" "errlogger: $TEST_TMP/none.sock: No such file or directory; writing to standard error instead"
	assert_match "$output" $'nolog\\[[0-9]+\\]: one\nnolog\\[[0-9]+\\]: two$'
}

@test "a restarted syslog daemon gets the lines that follow" {
	start_bg "$SERVER_LOG" errlogger sh -c \
	    "echo first >&2; while [ ! -e '$TEST_TMP/go' ]; do sleep 0.05; done; echo second >&2"
	pid=$BG_PID
	wait_msgs 1
	kill -TERM "$LISTENER_PID"
	wait_exit "$LISTENER_PID" 5
	start_syslog "$TEST_TMP/msgs2"
	touch "$TEST_TMP/go"
	wait_exit "$pid" 5
	wait_msgs 1 "$TEST_TMP/msgs2"
	assert_match "$(cat "$TEST_TMP/msgs2")" "^<28>$STAMP sh\\[[0-9]+\\]: second\$"
}

@test "in front of a handler: its stderr is logged, its socket is its own" {
	mkdir -p "$TEST_TMP/site"
	cat >"$TEST_TMP/site/hello.cgi" <<'EOF'
#!/bin/sh
echo "complaint from the script" >&2
printf 'Content-Type: text/plain\r\n\r\nhello\n'
EOF
	chmod +x "$TEST_TMP/site/hello.cgi"
	start_root errlogger -n site -f local1 dirplex "$TEST_TMP/site"
	expect /hello.cgi 200
	assert_equal "$(body)" hello
	wait_msgs 1
	assert_match "$(cat "$MSGS")" "^<140>$STAMP site\\[[0-9]+\\]: callcgi: hello.cgi: complaint from the script\$"
	# Only dirplex holds htparser's socket: when it dies, htparser
	# sees its root handler gone at once and shuts down.
	el=$(children_named "$HTPARSER_PID" errlogger)
	dp=$(children_named "$el" dirplex)
	[ -n "$dp" ]
	kill -KILL "$dp"
	wait_exit "$HTPARSER_PID" 5
}
