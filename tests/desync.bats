#!/usr/bin/env bats
# desync.bats: htparser behind haproxy (HTTP mode, backend connections
# reused by every client: http-reuse always), probed with request
# smuggling attempts (CL.TE, TE.CL, TE.TE obfuscations, CL.CL, odd
# chunk sizes) sent as raw bytes to haproxy, and with slow clients.
#
# A desync is a request that reaches the handler although haproxy never
# forwarded it as one, or a response that reaches a client other than
# the one whose request it answers.  So every request the handler sees
# (an accesslog in front of echo-handler) must be one that haproxy
# logged, and after each probe an innocent client on a connection of
# its own must get the answer to its own request.  Each probe carries a
# request for /smuggled-ID, hidden in its body or after it, to catch.

load helper

setup() {
	common_setup
	PATH=$PATH:/usr/sbin:/sbin
	command -v haproxy >/dev/null 2>&1 || skip "haproxy is not installed"
}

teardown() {
	common_teardown
}

# start_pair [HTPARSER OPTIONS...]: htparser on BPORT with accesslog
# (to $TEST_TMP/handler.log: "METHOD URL" per request) in front of
# echo-handler, and haproxy on PORT in front of it, logging "METHOD
# URL STATUS" per request to $TEST_TMP/haproxy.log.
start_pair() {
	BPORT=$(free_port)
	start_bg "$TEST_TMP/htparser.log" "$HTPARSER" "$@" \
	    "plain:port=$BPORT,local=127.0.0.1" -- \
	    "$(ashd_prog accesslog)" -f '%m %u' "$TEST_TMP/handler.log" \
	    "$ECHO_HANDLER"
	wait_port "$BPORT" 5 "$BG_PID" || fail "htparser did not start"
	PORT=$(free_port)
	cat >"$TEST_TMP/haproxy.cfg" <<EOF
global
	log stderr format raw local0 info
defaults
	mode http
	log global
	log-format "req %HM %HU %ST"
	timeout connect 5s
	timeout client 5s
	timeout server 10s
	timeout http-request 3s
frontend web
	bind 127.0.0.1:$PORT
	default_backend ashd
backend ashd
	http-reuse always
	server htparser 127.0.0.1:$BPORT
EOF
	haproxy -c -q -f "$TEST_TMP/haproxy.cfg" || fail "haproxy -c failed"
	start_bg "$TEST_TMP/haproxy.log" haproxy -db -f "$TEST_TMP/haproxy.cfg"
	wait_port "$PORT" 10 "$BG_PID" || fail "haproxy: $(cat "$TEST_TMP/haproxy.log")"
	export PORT BPORT
}

# The probes: ID and raw bytes ({S} is the request for /smuggled-ID,
# {L} the length of what follows the head, {X} the hex length of {S}).
PROBES='
clte-basic     POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{S}
clte-partial   POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG
tecl-basic     POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n{X}\r\n{S}\r\n0\r\n\r\n
tecl-te-first  POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n{X}\r\n{S}\r\n0\r\n\r\n
tete-xchunked  POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{S}
tete-space     POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n{S}
tete-twice     POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n{S}
tete-tab       POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\tchunked\r\n\r\n{X}\r\n{S}\r\n0\r\n\r\n
tete-vtab      POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n{S}
tete-list      POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{S}
tete-quoted    POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\nTransfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n{S}
tete-case      POST /p HTTP/1.1\r\nHost: x\r\nTransfer-encoding: cHuNkEd\r\n\r\n{X}\r\n{S}\r\n0\r\n\r\n
tete-bare-lf   POST /p HTTP/1.1\r\nHost: x\r\nX: y\nTransfer-Encoding: chunked\r\nContent-Length: {L}\r\n\r\n0\r\n\r\n{S}
tete-fold      POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n{S}
tete-http10    POST /p HTTP/1.0\r\nHost: x\r\nContent-Length: {L}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{S}
clcl-differ    POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: {L}\r\n\r\n{S}
clcl-list      POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0, {L}\r\n\r\n{S}
cl-plus        POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: +{L}\r\n\r\n{S}
chunk-ext-lf   POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0;x\n\r\n{S}
chunk-0x       POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n{S}
chunk-overflow POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000{X}\r\n{S}\r\n0\r\n\r\n
chunk-bare-lf  POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{X}\n{S}\n0\n\n
body-request   POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\n\r\n{S}
chunked-req    POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{X}\r\n{S}\r\n0\r\n\r\n
get-body       GET /p HTTP/1.1\r\nHost: x\r\nContent-Length: {L}\r\n\r\n{S}
'

DESYNC_PY='
import codecs, os, re, socket, sys, time

port = int(os.environ["PORT"])
probes = []
for line in sys.stdin.read().splitlines():
    if line.strip():
        pid, raw = line.split(None, 1)
        probes.append((pid, raw))

def build(pid, raw):
    smug = "GET /smuggled-%s HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" % pid
    s_bytes = codecs.escape_decode(smug.encode())[0]
    raw = raw.replace("{S}", smug).replace("{X}", "%x" % len(s_bytes))
    head, sep, rest = raw.partition("\\r\\n\\r\\n")
    rest_len = len(codecs.escape_decode(rest.encode())[0])
    raw = raw.replace("{L}", str(rest_len))
    return codecs.escape_decode(raw.encode())[0]

def exchange(data, quiet=0.6, limit=6.0):
    """Send data, read until the close, or quiet seconds without bytes
    after something came, or limit seconds in all."""
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    s.sendall(data)
    got = b""
    end = time.monotonic() + limit
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(min(left, quiet) if got else left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not d:
            break
        got += d
    s.close()
    return got

def urls_answered(got):
    return re.findall(rb"\nurl (\S+)\n", got)

bad = []
for pid, raw in probes:
    got = exchange(build(pid, raw))
    statuses = re.findall(rb"HTTP/1\.[01] (\d{3})", got)
    for u in urls_answered(got):
        if u not in (b"/p", b"/smuggled-" + pid.encode()):
            bad.append("%s: the prober got the answer for %r" % (pid, u))
    victim = "/victim-" + pid
    v = exchange(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" %
        victim.encode())
    vs = re.findall(rb"HTTP/1\.[01] (\d{3})", v)
    if vs != [b"200"] or urls_answered(v) != [victim.encode()]:
        bad.append("%s: the victim got %r" % (pid, v[:300]))
    print("%-15s %s" % (pid, " ".join(s.decode() for s in statuses) or "-"))
for b in bad:
    print("FAIL " + b)
sys.exit(1 if bad else 0)
'

# forwarded LOG: "METHOD URL" lines from haproxy's or the handler's log.
forwarded() {
	sed -nE 's/^(req )?([A-Z]+) (\/[^ ]*).*/\2 \3/p' "$1" | sort
}

@test "desync: CL.TE, TE.CL, TE.TE, CL.CL and chunk probes through haproxy: nothing smuggled, no answer misdelivered" {
	local h
	start_pair
	run python3 -c "$DESYNC_PY" <<<"$PROBES"
	printf '%s\n' "$output" >"$TEST_TMP/probes.out"
	assert_status 0
	[ "$(wc -l <<<"$output")" -ge 25 ] || fail "not every probe ran: $output"
	# Every request the handler saw, haproxy forwarded as a request.
	sleep 0.2
	forwarded "$TEST_TMP/haproxy.log" >"$TEST_TMP/front"
	forwarded "$TEST_TMP/handler.log" >"$TEST_TMP/back"
	h=$(comm -13 "$TEST_TMP/front" "$TEST_TMP/back")
	[ -z "$h" ] || fail "requests the handler saw but haproxy never forwarded:"$'\n'"$h"
	# The victims got through, so the comparison saw real traffic.
	assert_equal "$(grep -c '^GET /victim-' "$TEST_TMP/back")" \
	    "$(grep -c . <<<"$PROBES")"
}

@test "desync: htparser alone sees no smuggled request either" {
	start_pair
	PORT=$BPORT run python3 -c "$DESYNC_PY" <<<"$PROBES"
	assert_status 0
	run grep -c '/smuggled-' "$TEST_TMP/handler.log"
	# Only where the probe is two valid requests to any server
	# (none of these): no /smuggled-ID at all.
	assert_equal "$output" 0
}

# trickle PORT head|body RATE SECS: tests/hostile/trickle.py.
trickle() {
	python3 "$ASHD_SRCDIR/tests/hostile/trickle.py" "$@"
}

@test "slow clients, through haproxy and directly: trickled heads and bodies are cut, a normal request is served meanwhile" {
	local p t0 t pids=
	start_pair -o min-rate=500 -o min-rate-grace=0.5 -o min-rate-window=1
	for p in "$PORT" "$BPORT"; do
		trickle "$p" head 50 8 >"$TEST_TMP/head.$p" &
		pids="$pids $!"
		trickle "$p" body 50 8 >"$TEST_TMP/body.$p" &
		pids="$pids $!"
	done
	sleep 0.3
	for p in "$PORT" "$BPORT"; do
		t0=$(now_ms)
		run curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/normal"
		t=$(($(now_ms) - t0))
		assert_equal "$output" 200
		((t < 1000 * SLOW)) || fail "a normal request to port $p took $t ms"
	done
	wait $pids
	# haproxy holds a head until it is whole, and ends it after its
	# "timeout http-request" (3 s); htparser's min-rate ends the rest
	# (about 1.5 s).  haproxy streams bodies, so htparser cuts them.
	assert_match "$(cat "$TEST_TMP/head.$PORT")" '^sent [0-9]+ after [2-6]\.[0-9] s: 408$'
	assert_match "$(cat "$TEST_TMP/body.$PORT")" '^sent [0-9]+ after [1-6]\.[0-9] s: 408$'
	assert_match "$(cat "$TEST_TMP/head.$BPORT")" '^sent [0-9]+ after [1-6]\.[0-9] s: 408$'
	assert_match "$(cat "$TEST_TMP/body.$BPORT")" '^sent [0-9]+ after [1-6]\.[0-9] s: 408$'
	assert_equal "$(grep -c 'request body below min-rate' "$TEST_TMP/htparser.log")" 2
}
