#!/usr/bin/env bats
# ratequeue.bats: ratequeue's leaky buckets, fed directly by
# tests/dgram-front.py (which stands where htparser stands and chooses
# each request's X-Ash-Address), and behind htparser on 127.0.0.1.
#
# The child behind ratequeue is $TEST_TMP/logger, a persistent handler
# in python3 that notes the URL of every request it gets in
# $TEST_TMP/got and answers 200 at once, so that a test can see which
# requests were let through, in which order (all but /warm).  dgram-front prints one
# line per request, "I ADDR STATUS MS RETRY-AFTER" (MS from the send to
# the end of the answer), after a first request that waits for the
# logger to be up.  Times are only checked where the rate
# decides them, with lower bounds the rate guarantees and upper bounds
# generous enough for a loaded machine; the precise ones are in
# ratequeue-load.bats.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	RATEQUEUE=$(ashd_prog ratequeue)
	FRONT=$ASHD_SRCDIR/tests/dgram-front.py
	SERVER_LOG=$TEST_TMP/server.log
	cat >"$TEST_TMP/logger" <<EOF
#!/usr/bin/env python3
import socket
s = socket.socket(fileno=0)
while True:
    msg, fds, _, _ = socket.recv_fds(s, 1 << 17, 4)
    if not msg:
        break
    url = msg.split(b"\\0")[1].decode()
    if url != "/warm":
        with open("$TEST_TMP/got", "a") as f:
            f.write(url + "\\n")
    for fd in fds:
        socket.socket(fileno=fd).sendall(
            b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n")
EOF
	chmod 755 "$TEST_TMP/logger"
	LOGGER=$TEST_TMP/logger
	: >"$TEST_TMP/got"
	[ -x "$RATEQUEUE" ] || fail "$RATEQUEUE is missing: make -C $ASHD_BUILDDIR"
}

teardown() {
	common_teardown
}

# front STEPS... -- RATEQUEUE-ARGS...: dgram-front with ratequeue and
# the logger, once a first request (not shown, from an address of its
# own) has been answered; its output and ratequeue's log in $output.
front() {
	local steps=()
	while [ "$1" != -- ]; do
		steps+=("$1")
		shift
	done
	shift
	run python3 "$FRONT" warm "${steps[@]}" -- "$RATEQUEUE" "$@" "$LOGGER"
	[ "$status" -eq 0 ] || fail "dgram-front failed: $output"
}

# statuses: the STATUS column of $output, space-separated.
statuses() {
	awk '$1 ~ /^[0-9]+$/ { printf "%s%s", sep, $3; sep = " " }' <<<"$output"
}

# ms_of I: the MS column of request I in $output.
ms_of() {
	awk -v i="$1" '$1 == i { print $4 }' <<<"$output"
}

# retry_of I: the Retry-After column of request I.
retry_of() {
	awk -v i="$1" '$1 == i { print $5 }' <<<"$output"
}

# between X LO HI: LO <= X <= HI.
between() {
	[ "$1" -ge "$2" ] && [ "$1" -le "$3" ] ||
	    fail "$1 not in [$2, $3]; output:"$'\n'"$output"
}

@test "ratequeue -h: usage on standard output, exit 0" {
	run "$RATEQUEUE" -h
	assert_status 0
	assert_contains "$output" "usage: ratequeue [-ht] [-c CONFIG] [-s BUCKET-SIZE] [-r RATE] [-b BRIM-SIZE] PROGRAM"
}

@test "ratequeue: no PROGRAM, or -s, -r, -b not numbers it can use: exit 2" {
	run "$RATEQUEUE"
	assert_status 2
	assert_contains "$output" "usage:"
	run "$RATEQUEUE" -s 0 "$LOGGER"
	assert_status 2
	assert_contains "$output" "ratequeue: -s 0: not a positive number"
	run "$RATEQUEUE" -r fast "$LOGGER"
	assert_status 2
	run "$RATEQUEUE" -r -1 "$LOGGER"
	assert_status 2
	run "$RATEQUEUE" -b 1.5 "$LOGGER"
	assert_status 2
	run "$RATEQUEUE" -b -1 "$LOGGER"
	assert_status 2
}

@test "ratequeue: behind htparser, requests reach the child unmodified" {
	start_root ratequeue "$ECHO_HANDLER"
	expect '/a/b?c' 200 -H 'X-Test: yes'
	assert_contains "$(body)" $'method GET\nurl /a/b?c\nversion HTTP/1.1\nrest a/b\n'
	assert_contains "$(body)" "header X-Test: yes"
	assert_contains "$(body)" "header X-Ash-Address: 127.0.0.1"
}

@test "ratequeue: options after PROGRAM belong to PROGRAM" {
	start_root ratequeue "$ECHO_HANDLER" -s 1
	expect '/' 200
}

@test "ratequeue -s: below SIZE requests pass at once; then they wait in the brim" {
	front send 10.0.0.1 3 collect 100 -- -s 2.5 -r 0.1 -b 5
	assert_equal "$(statuses)" "200 200 200"
	assert_equal "$(cat "$TEST_TMP/got" | wc -l)" 3
	front send 10.0.0.1 4 collect 1000 -- -s 2.5 -r 0.1 -b 5
	assert_equal "$(statuses)" "200 200 200 none"
}

@test "ratequeue -r: waiting requests pass at RATE a second, oldest first" {
	: >"$TEST_TMP/got"
	# Level 1 after the first: below 0.5 after 0.1 s, then every 0.2 s.
	front send 10.0.0.1 1 /0 send 10.0.0.1 1 /1 send 10.0.0.1 1 /2 \
	    send 10.0.0.1 1 /3 collect 5000 -- -s 0.5 -r 5 -b 3
	assert_equal "$(statuses)" "200 200 200 200"
	between "$(ms_of 2)" 50 2000
	between "$(ms_of 3)" 250 3000
	between "$(ms_of 4)" 450 4000
	[ "$(ms_of 2)" -lt "$(ms_of 3)" ] && [ "$(ms_of 3)" -lt "$(ms_of 4)" ] ||
	    fail "not in order: $output"
	assert_equal "$(cat "$TEST_TMP/got")" $'/0\n/1\n/2\n/3'
}

@test "ratequeue -b: BRIM requests wait; beyond that 429 with Retry-After at once" {
	front send 10.0.0.1 5 collect 5000 -- -s 1.5 -r 2 -b 2
	assert_equal "$(statuses)" "200 200 200 200 429"
	between "$(ms_of 5)" 0 500
	assert_equal "$(retry_of 5)" 1
	front send 10.0.0.1 4 collect 200 -- -s 1.5 -r 0.2 -b 0
	assert_equal "$(statuses)" "200 200 429 429"
	# Level 2 drains to below 1.5 in 2.5 s at 0.2 a second.
	assert_equal "$(retry_of 3)" 3
	assert_contains "$output" "blocking requests from 10.0.0.1"
}

@test "ratequeue: without -b, ten requests wait (the default brim)" {
	front send 10.0.0.1 13 collect 300 -- -s 1.5 -r 0.1
	assert_equal "$(statuses)" "200 200 none none none none none none none none none none 429"
}

@test "ratequeue: without -s, 100 pass at once (101 once the level drained at all); without -r, the rate is 10" {
	# 5 ms apart, the level has drained a little by the 101st.
	front every 5 send 10.0.0.1 102 collect 300 -- -r 0.01 -b 0
	assert_equal "$(statuses | tr ' ' '\n' | sort | uniq -c | awk '{ print $1, $2 }')" \
	    $'101 200\n1 429'
	front send 10.0.0.1 3 collect 5000 -- -s 0.5
	assert_equal "$(statuses)" "200 200 200"
	between "$(ms_of 2)" 40 2000
	between "$(ms_of 3)" 140 3000
}

@test "ratequeue: each client address has its own bucket; IPv4-mapped IPv6 is the IPv4 client" {
	front send 10.0.0.1 2 send 10.0.0.2 2 send ::ffff:10.0.0.1 1 \
	    send 2001:db8::1 2 collect 300 -- -s 1.5 -r 0.1 -b 0
	assert_equal "$(statuses)" "200 200 200 200 429 200 200"
}

@test "ratequeue: requests without a usable X-Ash-Address share one bucket" {
	front send - 1 send not-an-address 1 send - 1 collect 300 -- \
	    -s 1.5 -r 0.1 -b 0
	assert_equal "$(statuses)" "200 200 429"
	assert_contains "$output" "blocking requests from clients without an address"
}

@test "ratequeue: a client that leaves while waiting frees its place, and its request never reaches the child" {
	# Without leaving: the brim (3) is full, the 6th is refused.
	front send 10.0.0.1 2 /a send 10.0.0.1 3 /w wait 100 \
	    send 10.0.0.1 1 /late collect 1000 -- -s 1.5 -r 2 -b 3
	assert_equal "$(awk '$1 == 6 { print $3 }' <<<"$output")" 429
	: >"$TEST_TMP/got"
	front send 10.0.0.1 2 /a send 10.0.0.1 1 /gone send 10.0.0.1 2 /w \
	    wait 100 drop 3 send 10.0.0.1 1 /late collect 5000 -- \
	    -s 1.5 -r 2 -b 3
	assert_equal "$(statuses)" "200 200 - 200 200 200"
	assert_equal "$(cat "$TEST_TMP/got")" $'/a\n/a\n/w\n/w\n/late'
}

@test "ratequeue: a client that goes away over TCP while waiting frees its place" {
	start_root ratequeue -s 1.5 -r 0.05 -b 1 "$ECHO_HANDLER"
	expect / 200
	expect / 200
	# The third waits (10 s); curl gives up after half a second.
	run curl -sS -m 0.5 -o /dev/null "http://127.0.0.1:$PORT/"
	[ "$status" -ne 0 ] || fail "the waiting request was answered"
	sleep 0.3
	# Its place is free: this one waits too instead of being refused...
	curl -sS -m 3 -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$PORT/" >"$TEST_TMP/fourth" 2>/dev/null &
	fourth=$!
	sleep 0.5
	# ...and fills the brim: the next one is refused at once.
	expect / 429
	wait "$fourth" || true
	assert_equal "$(cat "$TEST_TMP/fourth")" 000
}

@test "ratequeue: 429 over TCP is a complete response with Retry-After; the connection lives on" {
	start_root ratequeue -s 1.5 -r 0.1 -b 0 "$ECHO_HANDLER"
	rawhttp -s 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' -e 'body-length 0' \
	    -s 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' -e 'body-length 0' \
	    -s 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' -e '</html>' \
	    -s 'GET /?status=204 HTTP/1.1\r\nHost: x\r\n\r\n' -r 0.5 \
	    >"$TEST_TMP/resp"
	run resp_summary "$TEST_TMP/resp"
	assert_equal "$(sed -n 3p <<<"$output")" "429 length $(wc -c <"$TEST_TMP/resp.3")"
	assert_equal "$(sed -n 4p <<<"$output")" "429 length $(wc -c <"$TEST_TMP/resp.4")"
	assert_contains "$(cat "$TEST_TMP/resp.h3")" "Retry-After: 5"
}

@test "ratequeue -c: the file's size, rate and brim replace the options; defaults for what it omits" {
	put "$TEST_TMP/rq.conf" "# limits" "size 1.5" "rate 0.1" "brim 0"
	front send 10.0.0.1 3 collect 300 -- -s 100 -b 5 -c "$TEST_TMP/rq.conf"
	assert_equal "$(statuses)" "200 200 429"
	put "$TEST_TMP/rq.conf" "brim 0"
	front send 10.0.0.1 3 collect 300 -- -s 1.5 -c "$TEST_TMP/rq.conf"
	assert_equal "$(statuses)" "200 200 200"
}

@test "ratequeue -c: a bad value is an error naming file:line (exit 2); an unknown directive a warning" {
	put "$TEST_TMP/rq.conf" "size 2" "rate none"
	run "$RATEQUEUE" -c "$TEST_TMP/rq.conf" "$LOGGER"
	assert_status 2
	assert_contains "$output" "$TEST_TMP/rq.conf:2: rate none: not a positive number"
	put "$TEST_TMP/rq.conf" "size" "brim -3"
	run "$RATEQUEUE" -c "$TEST_TMP/rq.conf" "$LOGGER"
	assert_status 2
	assert_contains "$output" "rq.conf:1: size: missing value"
	assert_contains "$output" "rq.conf:2: brim -3"
	put "$TEST_TMP/rq.conf" "size 1.5" "colour blue" "brim 0" "rate 0.1"
	front send 10.0.0.1 3 collect 300 -- -c "$TEST_TMP/rq.conf"
	assert_equal "$(statuses)" "200 200 429"
	assert_contains "$output" "rq.conf:2: unknown directive colour"
	run "$RATEQUEUE" -c "$TEST_TMP/missing.conf" "$LOGGER"
	assert_status 2
}

@test "ratequeue -t: checks the settings and exits (0 good, 2 bad)" {
	put "$TEST_TMP/rq.conf" "size 10" "rate 2" "brim 4" "buckets 100"
	run "$RATEQUEUE" -t -c "$TEST_TMP/rq.conf"
	assert_status 0
	assert_contains "$output" "configuration OK"
	put "$TEST_TMP/rq.conf" "buckets 0"
	run "$RATEQUEUE" -t -c "$TEST_TMP/rq.conf"
	assert_status 2
	assert_contains "$output" "rq.conf:1: buckets 0"
}

@test "ratequeue: SIGHUP reads the -c file again; a broken file keeps the settings in use" {
	put "$TEST_TMP/rq.conf" "size 100"
	# Between the batches of three requests (each from a new client)
	# the file is made strict, then broken, and SIGHUP sent.
	run python3 - "$FRONT" "$RATEQUEUE" "$LOGGER" "$TEST_TMP/rq.conf" <<'EOF'
import subprocess, sys
front, rq, logger, conf = sys.argv[1:]
p = subprocess.Popen(["python3", front, "warm", "send", "10.0.0.1", "3",
    "collect", "sync", "hup", "wait", "300", "send", "10.0.0.2", "3",
    "collect", "300", "sync", "hup", "wait", "300", "send", "10.0.0.3", "3",
    "collect", "300", "--", rq, "-c", conf, logger], stdin=subprocess.PIPE,
    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
for text in ("size 1.5\nbrim 0\nrate 0.1\n", "size none\n"):
    while True:
        line = p.stdout.readline()
        print(line, end="")
        if line in ("sync\n", ""):
            break
    open(conf, "w").write(text)
    p.stdin.write("go\n")
    p.stdin.flush()
print(p.communicate(timeout=30)[0])
EOF
	assert_status 0
	assert_equal "$(statuses)" "200 200 200 200 200 429 200 200 429"
	assert_contains "$output" "rq.conf:1: size none"
	assert_contains "$output" "keeping the settings in use"
}

@test "ratequeue: at most 'buckets' clients are remembered: the least recently used is forgotten first" {
	put "$TEST_TMP/rq.conf" "size 1.5" "rate 0.01" "brim 0" "buckets 3"
	# A is blocked; three other clients come; A is forgotten, so it
	# passes again.
	front send 10.0.0.1 3 send 10.0.0.2 1 send 10.0.0.3 1 send 10.0.0.4 1 \
	    send 10.0.0.1 1 collect 300 -- -c "$TEST_TMP/rq.conf"
	assert_equal "$(statuses)" "200 200 429 200 200 200 200"
	# With room for four, A is still remembered (and blocked).
	put "$TEST_TMP/rq.conf" "size 1.5" "rate 0.01" "brim 0" "buckets 4"
	front send 10.0.0.1 3 send 10.0.0.2 1 send 10.0.0.3 1 send 10.0.0.4 1 \
	    send 10.0.0.1 1 collect 300 -- -c "$TEST_TMP/rq.conf"
	assert_equal "$(statuses)" "200 200 429 200 200 200 429"
}

@test "ratequeue: a bucket with waiting requests is never forgotten to make room" {
	put "$TEST_TMP/rq.conf" "size 1.5" "rate 2" "brim 1" "buckets 2"
	# A has one waiting; B and C take turns for the other place; A's
	# waiting request is still let through when its turn comes.
	front send 10.0.0.1 3 /a send 10.0.0.2 1 /b send 10.0.0.3 1 /c \
	    send 10.0.0.2 1 /b collect 3000 -- -c "$TEST_TMP/rq.conf"
	assert_equal "$(statuses)" "200 200 200 200 200 200"
	between "$(ms_of 3)" 150 3000
}

@test "ratequeue: when every bucket has requests waiting, a new client gets 503" {
	put "$TEST_TMP/rq.conf" "size 1.5" "rate 0.01" "brim 1" "buckets 1"
	front send 10.0.0.1 3 send 10.0.0.2 1 collect 300 -- -c "$TEST_TMP/rq.conf"
	assert_equal "$(statuses)" "200 200 none 503"
}

@test "ratequeue: the requests waiting in all buckets are bounded (half the open-file limit)" {
	python3 - "$FRONT" "$RATEQUEUE" "$LOGGER" >"$TEST_TMP/out" <<'EOF'
import subprocess, sys
front, rq, logger = sys.argv[1:]
steps = []
for i in range(150):
    steps += ["send", "10.1.%d.%d" % (i >> 8, i & 255), "3"]
steps += ["collect", "500", "rss"]
sys.stdout.flush()
subprocess.run(["python3", front] + steps + ["--", "sh", "-c",
    'ulimit -n 256; exec "$@"', "sh", rq, "-s", "1.5", "-r", "0.001",
    "-b", "5", logger], check=True)
EOF
	output=$(cat "$TEST_TMP/out")
	# 300 pass; of the 150 others at most 128 wait (half of 256; a
	# little less under valgrind, which keeps some descriptors for
	# itself), the rest are refused for lack of room.
	assert_equal "$(awk '$3 == 200' <<<"$output" | wc -l)" 300
	waiting=$(awk '$3 == "none"' <<<"$output" | wc -l)
	between "$waiting" 100 128
	assert_equal "$(awk '$3 == 503' <<<"$output" | wc -l)" $((150 - waiting))
	fds=$(sed -nE 's/^rss [0-9]+ fds ([0-9]+)$/\1/p' <<<"$output")
	between "$fds" "$waiting" $((waiting + 32))
}

@test "ratequeue: the child is started again if it dies, for the next request" {
	start_root ratequeue "$ECHO_HANDLER"
	expect / 200
	rq=$(children_named "$HTPARSER_PID" ratequeue)
	child=$(children_named "$rq" echo-handler)
	kill -KILL "$child"
	sleep 0.2
	expect / 200
	child2=$(children_named "$rq" echo-handler)
	[ -n "$child2" ] && [ "$child2" != "$child" ] || fail "not restarted"
}

@test "ratequeue: at end of input, waiting requests are let through at once, then it exits 0" {
	front send 10.0.0.1 4 eof collect 5000 -- -s 1.5 -r 0.01 -b 2
	assert_match "$output" "exit 0 after ([0-9]+) ms"
	ms=$(sed -nE 's/^exit 0 after ([0-9]+) ms$/\1/p' <<<"$output")
	between "$ms" 0 3000
	assert_equal "$(statuses)" "200 200 200 200"
}

@test "ratequeue: not on a request socket, it says so and exits 1" {
	run "$RATEQUEUE" "$LOGGER" </dev/null
	assert_status 1
	assert_contains "$output" "standard input is not a request socket"
}
