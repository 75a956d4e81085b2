#!/usr/bin/env bats
# run-tests: alone
# faults.bats: htparser, dirplex and their handlers when things go
# wrong: a persistent child killed under load, clients that vanish in
# the middle of a transfer, running out of file descriptors, SIGTERM
# with requests in flight, and hostile requests (path traversal in all
# its spellings, forged X-Ash-* headers), plus the privilege drop.
#
# Every test starts its own servers on free ports of 127.0.0.1 (the
# helpers of helper.bash start them as process groups and kill them by
# PID in teardown).  The clients are small python3 programs that use
# hc.py, a strict little HTTP/1.1 client written to $TEST_TMP by setup.
# Tests that use the shipped configuration put the build directories
# first on PATH (use_build_path) and run dirplex without -N.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	SERVER_LOG=$TEST_TMP/server.log
	mkdir -p "$TEST_TMP/site"
	SITE=$(cd "$TEST_TMP/site" && pwd -P)
	[ -x "$ECHO_HANDLER" ] ||
	    fail "$ECHO_HANDLER is missing: make -C $ASHD_BUILDDIR tests/handlers/echo-handler"
	write_hc
}

teardown() {
	common_teardown
}

# ---------------------------------------------------------------------
# Helpers of this suite

# write_hc: $TEST_TMP/hc.py, the HTTP client the python3 programs of
# this suite import (sys.path gets $TEST_TMP).
write_hc() {
	cat >"$TEST_TMP/hc.py" <<'PY'
import os, re, socket, time

class Closed(Exception):
    pass

def connect(port, timeout=10.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def rss_kib(pid):
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
    return 0

class Conn:
    """One client connection; responses are parsed strictly."""
    def __init__(self, port, timeout=10.0, sock=None):
        self.s = sock if sock is not None else connect(port, timeout)
        self.buf = bytearray()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send(self, data):
        self.s.sendall(data)

    def fill(self):
        d = self.s.recv(262144)
        if not d:
            raise Closed("closed by the server")
        self.buf += d

    def head(self):
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                break
            self.fill()
        raw = bytes(self.buf[:i])
        del self.buf[:i + 4]
        lines = raw.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] ([0-9]{3})", lines[0])
        if not m:
            raise ValueError("bad status line %r" % lines[0])
        hdrs = []
        for l in lines[1:]:
            k, v = l.split(":", 1)
            hdrs.append((k.strip().lower(), v.strip()))
        return int(m.group(1)), hdrs

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                break
            self.fill()
        l = bytes(self.buf[:i])
        del self.buf[:i + 2]
        return l

    def response(self, head=False):
        """(status, {lower-case name: value}, body)."""
        status, hl = self.head()
        h = dict(hl)
        if head or status < 200 or status in (204, 304):
            body = b""
        elif h.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                n = int(self.line().split(b";")[0], 16)
                if n == 0:
                    break
                parts.append(self.exact(n))
                if self.exact(2) != b"\r\n":
                    raise ValueError("bad chunk end")
            while self.line() != b"":
                pass
            body = b"".join(parts)
        elif "content-length" in h:
            body = self.exact(int(h["content-length"]))
        else:
            try:
                while True:
                    self.fill()
            except Closed:
                pass
            body = bytes(self.buf)
            self.buf.clear()
        return status, h, body

    def get(self, path, extra=b""):
        self.send(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n" +
                  extra + b"\r\n")
        return self.response()

def raw_exchange(port, data, timeout=5.0):
    """Send data, return everything received until the close (a reset
    counts as a close; '' if the connection was refused)."""
    try:
        s = connect(port, timeout)
    except OSError:
        return b""
    got = bytearray()
    try:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            d = s.recv(65536)
            if not d:
                break
            got += d
    except (OSError, socket.timeout):
        pass
    s.close()
    return bytes(got)
PY
}

# start_limited NOFILE HTPARSER-ARGS...: htparser (echo-handler as the
# root handler) under `ulimit -n NOFILE`.  Sets PORT, HTPARSER_PID.
start_limited() {
	local n=$1 try
	shift
	for try in 1 2 3; do
		PORT=$(free_port)
		start_bg "$SERVER_LOG" bash -c 'ulimit -n "$0" && exec "$@"' \
		    "$n" "$HTPARSER" "$@" "plain:port=$PORT,local=127.0.0.1" \
		    -- "$ECHO_HANDLER"
		HTPARSER_PID=$BG_PID
		if wait_port "$PORT" 5 "$HTPARSER_PID"; then
			export PORT HTPARSER_PID
			return 0
		fi
		kill_bg
	done
	cat "$SERVER_LOG" >&2
	fail "htparser did not start under ulimit -n $n"
}

# descendants PID: PID and every process below it, one a line.
descendants() {
	local c
	echo "$1"
	for c in $(children_of "$1"); do
		descendants "$c"
	done
}

# fd_table PID: "pid comm nfds" for PID and every descendant, sorted.
fd_table() {
	local p n
	for p in $(descendants "$1"); do
		n=$(ls "/proc/$p/fd" 2>/dev/null | wc -l) || continue
		printf '%s %s %s\n' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)" "$n"
	done | sort -n
}

# wait_fd_table PID EXPECTED SECS: until fd_table PID is EXPECTED.
wait_fd_table() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(fd_table "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	fail "open descriptors changed (pid comm count):"$'\n'"before:"$'\n'"$2"$'\n'"after:"$'\n'"$(fd_table "$1")"
}

# ---------------------------------------------------------------------
# A persistent child dies under load

# load_and_kill PATH EXPECT-FILE CHILD-PID: 8 threads request PATH on
# keep-alive connections for 4 s (the body must equal EXPECT-FILE, or
# for "-" be any 200); CHILD-PID is SIGKILLed after 1.5 s.  Prints the
# counts and fails if more requests failed than there were clients, if
# any failed that was started after the child was gone, or if the load
# did not go on after it.
load_and_kill() {
	python3 - "$PORT" "$1" "$2" "$3" "$TEST_TMP" <<'PY'
import os, signal, sys, threading, time
port, path, expect, victim = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, sys.argv[5])
import hc
want = open(expect, "rb").read() if expect != "-" else None
NT, DUR, KILL_AT = 8, 4.0, 1.5
lock = threading.Lock()
ok_before = ok_after = 0
fails = []
start = time.monotonic()
killed_at = None

def worker():
    global ok_before, ok_after
    c = None
    while time.monotonic() - start < DUR:
        t0 = time.monotonic()
        try:
            if c is None:
                c = hc.Conn(port, timeout=5)
            st, h, body = c.get(path)
            good = st == 200 and (want is None or body == want)
            why = "status %d, %d bytes" % (st, len(body))
        except Exception as e:
            good, why = False, "%s: %s" % (type(e).__name__, e)
        with lock:
            if good:
                if killed_at is not None and t0 > killed_at:
                    ok_after += 1
                else:
                    ok_before += 1
            else:
                fails.append((t0 - start, why, threading.get_ident()))
        if not good and c is not None:
            c.close()
            c = None
    if c is not None:
        c.close()

ts = [threading.Thread(target=worker) for _ in range(NT)]
for t in ts:
    t.start()
time.sleep(KILL_AT)
with lock:
    killed_at = time.monotonic()
os.kill(victim, signal.SIGKILL)
def gone():
    try:
        st = open("/proc/%d/stat" % victim).read().rsplit(")", 1)[1].split()[0]
        return st in ("Z", "X")
    except OSError:
        return True
while not gone():
    time.sleep(0.0005)
died_at = time.monotonic()
for t in ts:
    t.join()
print("clients %d, ok before the kill %d, ok after %d, failed %d" %
      (NT, ok_before, ok_after, len(fails)))
print("SIGKILL sent at %.4fs, the child was gone at %.4fs" %
      (killed_at - start, died_at - start))
for f in fails:
    print("  failed: started at %.4fs: %s (client %x)" % f)
# In flight at that moment: started before the child was gone (a
# SIGKILLed process takes a millisecond or so to die, longer under ASan;
# requests passed to its socket meanwhile are lost with it, so a client
# may fail more than once in that window). Before the kill, at most one
# request per client can have been in flight.
late = [f for f in fails if f[0] > died_at - start + 0.05]
early = [f for f in fails if f[0] < killed_at - start]
if len(early) > NT:
    sys.exit("more requests failed before the kill than clients")
if late:
    sys.exit("requests started after the child was gone failed")
if ok_before < 20 or ok_after < 100:
    sys.exit("the load did not get through")
PY
}

@test "a persistent sendfile (shipped configuration) SIGKILLed under load is restarted; only in-flight requests fail" {
	head -c 1048576 /dev/urandom >"$SITE/data.bin"
	start_site "$SITE"
	run curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/data.bin"
	assert_equal "$output" 200
	dp=$(children_of "$HTPARSER_PID")
	assert_match "$dp" '^[0-9]+$'
	old=$(children_named "$dp" sendfile)
	assert_match "$old" '^[0-9]+$'
	run load_and_kill /data.bin "$SITE/data.bin" "$old"
	echo "$output"
	assert_status 0
	new=$(children_named "$dp" sendfile)
	assert_match "$new" '^[0-9]+$'
	[ "$new" != "$old" ] || fail "sendfile was not restarted (pid $old)"
	proc_alive "$HTPARSER_PID" || fail "htparser died"
	assert_equal "$(children_of "$HTPARSER_PID")" "$dp"
	run curl -sS -m 5 -o "$TEST_TMP/got" -w '%{http_code}' "http://127.0.0.1:$PORT/data.bin"
	assert_equal "$output" 200
	cmp "$TEST_TMP/got" "$SITE/data.bin"
}

@test "a persistent echo-handler child SIGKILLed under load is restarted; only in-flight requests fail" {
	echo x >"$SITE/a.txt"
	put "$TEST_TMP/echo.rc" "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    default" "    handler echo"
	start_site -N -c "$TEST_TMP/echo.rc" "$SITE"
	run curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/a.txt"
	assert_equal "$output" 200
	dp=$(children_of "$HTPARSER_PID")
	old=$(children_named "$dp" echo-handler)
	assert_match "$old" '^[0-9]+$'
	run load_and_kill '/a.txt?size=20000' - "$old"
	echo "$output"
	assert_status 0
	new=$(children_named "$dp" echo-handler)
	assert_match "$new" '^[0-9]+$'
	[ "$new" != "$old" ] || fail "echo-handler was not restarted (pid $old)"
	proc_alive "$HTPARSER_PID" || fail "htparser died"
	assert_equal "$(children_of "$HTPARSER_PID")" "$dp"
}

# ---------------------------------------------------------------------
# Clients that go away

@test "clients vanishing mid-upload and mid-download leak no descriptor anywhere" {
	truncate -s 50000000 "$SITE/big.bin"
	echo x >"$SITE/e.txt"
	put "$TEST_TMP/mixed.rc" \
	    "child echo" "    exec $ECHO_HANDLER" \
	    "child sendfile" "    exec sendfile" \
	    "match" "    filename *.bin" "    handler sendfile" \
	    "match" "    default" "    handler echo"
	start_site -N -c "$TEST_TMP/mixed.rc" "$SITE"
	# Start both children, then take the baseline.
	run curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/e.txt"
	assert_equal "$output" 200
	run curl -sS -m 5 -o /dev/null -r 0-9 -w '%{http_code}' "http://127.0.0.1:$PORT/big.bin"
	assert_equal "$output" 206
	sleep 0.3
	before=$(fd_table "$HTPARSER_PID")
	echo "before:"$'\n'"$before"
	assert_equal "$(wc -l <<<"$before")" 4
	run python3 - "$PORT" "$TEST_TMP" <<'PY'
import socket, struct, sys, time
port = int(sys.argv[1])
sys.path.insert(0, sys.argv[2])
import hc
def drop(s, reset):
    if reset:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
for i in range(20):
    # Half of a 200000-byte body, then the client is gone.
    s = hc.connect(port)
    s.sendall(b"POST /e.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" +
              b"u" * 100000)
    time.sleep(0.05)
    drop(s, i % 2)
for i in range(20):
    for path in (b"/e.txt?size=50000000", b"/big.bin"):
        s = hc.connect(port)
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        got = 0
        while got < 200000:
            d = s.recv(65536)
            if not d:
                sys.exit("%s: closed after %d bytes" % (path, got))
            got += len(d)
        drop(s, i % 2)
# The server still answers.
c = hc.Conn(port)
st, h, b = c.get("/e.txt?size=10")
sys.exit(0 if st == 200 and b == b"0123456789" else "no answer after the aborts")
PY
	echo "$output"
	assert_status 0
	wait_fd_table "$HTPARSER_PID" "$before" 5
}

# ---------------------------------------------------------------------
# Running out of descriptors

@test "fd exhaustion (ulimit -n 64): extra clients refused or 503, htparser survives and recovers" {
	start_limited 64
	run python3 - "$PORT" "$HTPARSER_PID" "$TEST_TMP" <<'PY'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
sys.path.insert(0, sys.argv[3])
import hc
problems = []
def alive():
    try:
        st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
        return st not in ("Z", "X")
    except OSError:
        return False

keep = hc.Conn(port)
st, h, b = keep.get("/k1")
assert st == 200, "first request on the kept connection: %d" % st

idle = []
for i in range(100):
    idle.append(hc.connect(port))
time.sleep(1.0)
print("htparser holds %d descriptors" % len(os.listdir("/proc/%d/fd" % pid)))

# New clients: refused, closed or reset without an answer, or a 503.
outcomes = []
for i in range(5):
    got = hc.raw_exchange(port, b"GET /new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3)
    line = got.split(b"\r\n", 1)[0].decode("latin-1")
    outcomes.append(line or "(no answer)")
    if got and not got.startswith(b"HTTP/1.1 503"):
        problems.append("a new client got %r" % line)
print("new clients:", outcomes)
if not alive():
    sys.exit("htparser died")

# The kept-alive connection still works.
try:
    st, h, b = keep.get("/k2")
    print("kept connection, second request: %d" % st)
    if st != 200:
        problems.append("kept connection got %d: %r" % (st, b[:80]))
except Exception as e:
    problems.append("kept connection: %s: %s" % (type(e).__name__, e))

for s in idle:
    s.close()
# After the idle ones are gone, new requests succeed again.
deadline = time.monotonic() + 5
while True:
    got = hc.raw_exchange(port, b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 3)
    if got.startswith(b"HTTP/1.1 200"):
        break
    if time.monotonic() > deadline:
        problems.append("no 200 after closing the idle connections: %r" % got[:60])
        break
    time.sleep(0.1)
if not alive():
    sys.exit("htparser died")
if problems:
    sys.exit("\n".join(problems))
PY
	echo "$output"
	proc_alive "$HTPARSER_PID" || fail "htparser died"
	assert_status 0
}

# ---------------------------------------------------------------------
# SIGTERM with requests in flight

@test "SIGTERM with 20 slow requests in flight: each answered in full, port closed at once, exit 0" {
	start_htparser
	root=$(children_of "$HTPARSER_PID")
	assert_match "$root" '^[0-9]+$'
	python3 - "$PORT" "$HTPARSER_PID" "$root" "$TEST_TMP" \
	    >"$TEST_TMP/term.out" 2>&1 3>&- <<'PY' &
import errno, os, signal, socket, sys, threading, time
port, pid, root = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, sys.argv[4])
import hc
N = 20
res = [None] * N
conns = [hc.Conn(port, timeout=15) for _ in range(N)]
def one(i):
    try:
        st, h, b = conns[i].get("/slow?sleep=1000&size=100000")
        ok = b == (b"0123456789abcdef" * 6250)
        res[i] = "%d %d %s %s" % (st, len(b), "pattern" if ok else "garbled",
                                 h.get("connection", "-"))
    except Exception as e:
        res[i] = "%s: %s" % (type(e).__name__, e)
ts = [threading.Thread(target=one, args=(i,)) for i in range(N)]
for t in ts:
    t.start()
# Wait until echo-handler has all 20 (one forked child per request).
deadline = time.monotonic() + 5
def nkids():
    try:
        return len(open("/proc/%d/task/%d/children" % (root, root)).read().split())
    except OSError:
        return -1
while nkids() < N and time.monotonic() < deadline:
    time.sleep(0.01)
print("requests at the handler:", nkids())
os.kill(pid, signal.SIGTERM)
t0 = time.monotonic()
refused = None
while time.monotonic() - t0 < 1.0:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=0.2)
        s.close()
    except TimeoutError:
        # The SYN was dropped as the listener closed (a slow machine,
        # a sanitized build): ask again, the port is gone or going.
        continue
    except (ConnectionRefusedError, ConnectionResetError):
        # Reset: the connection was queued on the listener as it
        # closed; either way the port takes no more.
        refused = time.monotonic() - t0
        break
    time.sleep(0.01)
print("port refused %s after SIGTERM" %
      ("%.3fs" % refused if refused is not None else "NOT within 1s"))
for t in ts:
    t.join()
for i, r in enumerate(res):
    print("request %d: %s" % (i, r))
PY
	cpid=$!
	track_pid "$cpid"
	wait_exit "$cpid" 30 || true
	cat "$TEST_TMP/term.out"
	wait_exit "$HTPARSER_PID" 5
	hstatus=$EXIT_STATUS
	assert_contains "$(cat "$TEST_TMP/term.out")" "requests at the handler: 20"
	assert_match "$(cat "$TEST_TMP/term.out")" 'port refused 0\.[0-4][0-9]*s after SIGTERM'
	assert_equal "$(grep -c '^request [0-9]*: 200 100000 pattern close$' "$TEST_TMP/term.out")" 20
	assert_equal "$hstatus" 0
}

# ---------------------------------------------------------------------
# Security: nothing outside DIR, no forged X-Ash-* headers

@test "security: no path traversal spelling reveals a file outside DIR (shipped configuration)" {
	secret="SECRET-$RANDOM$RANDOM-never-served"
	printf '%s\n' "$secret" >"$TEST_TMP/secret.txt"
	printf '%s\n' "$secret" >"$TEST_TMP/secret"
	mkdir -p "$TEST_TMP/outside" "$SITE/sub/deeper"
	printf '%s\n' "$secret" >"$TEST_TMP/outside/.hidden"
	echo linked-content >"$TEST_TMP/outside/linked.txt"
	echo index >"$SITE/index.html"
	echo sub >"$SITE/sub/index.html"
	echo page >"$SITE/sub/page.html"
	echo deep >"$SITE/sub/deeper/f.txt"
	# doc/dirplex.1 (SECURITY): symlinks below DIR are followed wherever
	# they point; X-Ash-File names the link.
	ln -s "$TEST_TMP/outside/linked.txt" "$SITE/link.txt"
	ln -s "$TEST_TMP/outside" "$SITE/outdir"
	start_site "$SITE"
	run python3 - "$PORT" "$secret" "$TEST_TMP" <<'PY'
import sys
port, secret = int(sys.argv[1]), sys.argv[2].encode()
tmp = sys.argv[3]
sys.path.insert(0, tmp)
import hc
targets = [
    "/../secret.txt", "/../../secret.txt", "/sub/../../secret.txt",
    "/sub/deeper/../../../secret.txt", "/..", "/../",
    "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/.%2e/secret.txt",
    "/%2e./secret.txt", "/sub/.%2e/.%2e/secret.txt",
    "/sub/%2e./%2e./secret.txt", "/sub/%2E%2e/%2e%2E/secret.txt",
    "/%2e%2e%2fsecret.txt", "/..%2fsecret.txt", "/..%2Fsecret.txt",
    "/sub%2f..%2f..%2fsecret.txt", "/sub/..%2f..%2fsecret.txt",
    "/%2e%2e%2f%2e%2e%2fsecret.txt", "/.%2e%2fsecret.txt",
    "/..%5csecret.txt", "/..%5Csecret.txt", "/sub/..%5c..%5csecret.txt",
    "/%2e%2e%5csecret.txt", "/..\\secret.txt", "/sub\\..\\..\\secret.txt",
    "/sub/..\\..\\secret.txt", "/\\..\\secret.txt",
    "/secret.txt%00", "/..%00/secret.txt", "/%00../secret.txt",
    "/sub/..%00/../secret.txt", "/index.html%00/../../secret.txt",
    "/%c0%ae%c0%ae/secret.txt", "/%c0%ae%c0%ae%c0%afsecret.txt",
    "/sub/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt", "/%c0%2e%c0%2e/secret.txt",
    "/%e0%80%ae%e0%80%ae/secret.txt", "/%e0%80%ae%e0%80%ae%e0%80%afsecret.txt",
    "/%c1%9c..%c1%9csecret.txt", "/%c0%ae%c0%ae%c1%9csecret.txt",
    "/%f0%80%80%ae%f0%80%80%ae/secret.txt",
    "/%252e%252e/secret.txt", "/%252e%252e%252fsecret.txt",
    "/sub/%252e%252e/%252e%252e/secret.txt", "/%25%32%65%25%32%65/secret.txt",
    "//../secret.txt", "/./../secret.txt", "/sub/./../../secret.txt",
    "/.../secret.txt", "/..;/secret.txt", "/..%3b/secret.txt",
    "/outdir/../secret.txt", "/outdir/%2e%2e/secret.txt",
    "/outdir/..%2fsecret.txt", "/outdir/.%2e/secret", "/outdir/.hidden",
    "/outdir/%2ehidden", "/link.txt/../secret.txt",
    "/sub/page.html/../../secret.txt", "/sub/page/../../../secret",
    tmp + "/secret.txt", "/" + tmp + "/secret.txt", "/%2f" + tmp[1:] + "/secret.txt",
    "/%2fetc%2fpasswd", "/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "http://127.0.0.1/../secret.txt", "http://x/%2e%2e/secret.txt",
    "http://x/sub/../../secret.txt", "http://x/..%2fsecret.txt",
    "http://x" + tmp + "/secret.txt",
]
bad = []
seen = {}
for t in targets:
    got = hc.raw_exchange(port, b"GET " + t.encode("latin-1") +
                          b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    line = got.split(b"\r\n", 1)[0].decode("latin-1")
    st = line[9:12] if line.startswith("HTTP/1.") else "none"
    seen.setdefault(st, []).append(t)
    if secret in got:
        bad.append("%s: THE SECRET WAS SERVED (%s)" % (t, line))
    elif st not in ("400", "404"):
        bad.append("%s: %s" % (t, line or "no answer"))
    if b"root:" in got:
        bad.append("%s: /etc/passwd was served" % t)
for st in sorted(seen):
    print("%s: %d targets" % (st, len(seen[st])))
# As documented, links inside DIR are followed, even out of DIR.
for t, want in (("/link.txt", b"linked-content\n"),
                ("/outdir/linked.txt", b"linked-content\n"),
                ("/outdir/linked", b"linked-content\n"),
                ("/index.html", b"index\n"), ("/sub/page", b"page\n"),
                # Dot-segments inside DIR are resolved (RFC 3986 5.2.4).
                ("/sub/..", b"index\n"), ("/sub/./page", b"page\n")):
    c = hc.Conn(port)
    st, h, body = c.get(t)
    if st != 200 or body != want:
        bad.append("%s: %d %r, expected 200 %r" % (t, st, body[:40], want))
    if secret in body:
        bad.append("%s: THE SECRET WAS SERVED" % t)
    c.close()
print("%d traversal targets tried" % len(targets))
if bad:
    sys.exit("\n".join(bad))
PY
	echo "$output"
	assert_status 0
}

@test "security: forged X-Ash-* headers in any spelling never reach the handler" {
	start_htparser
	run python3 - "$PORT" "$TEST_TMP" <<'PY'
import sys
port = int(sys.argv[1])
sys.path.insert(0, sys.argv[2])
import hc
names = ["X-Ash-File", "x-ash-file", "X-ASH-FILE", "x-Ash-fILE",
         "X-Ash-Address", "X-ASH-Address", "x-ash-address", "X-Ash-Port",
         "x-ash-port", "X-Ash-Server-Address", "X-ASH-SERVER-PORT",
         "X-Ash-Protocol", "x-ash-protocol", "X-Ash-Connection-ID",
         "x-ash-connection-id", "X-Ash-Switch", "X-Ash-Content-Type",
         "X-Ash-Foo", "X-Ash-", "X-ash-"]
hdrs = b"".join(b"%s: forged-%d\r\n" % (n.encode(), i)
                for i, n in enumerate(names))
hdrs += b"X-Ash-Protocol: https\r\nX-Ash-Address: 6.6.6.6\r\n"
c = hc.Conn(port)
bad = []
# Plain, and with a chunked body whose trailers repeat the forgeries.
reqs = [b"GET /f HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n",
        b"POST /f HTTP/1.1\r\nHost: x\r\n" + hdrs +
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n" + hdrs + b"\r\n",
        b"GET /f HTTP/1.0\r\nConnection: keep-alive\r\n" + hdrs + b"\r\n"]
for req in reqs:
    c.send(req)
    st, h, body = c.response()
    text = body.decode("latin-1")
    ash = [l for l in text.split("\n") if l.lower().startswith("header x-ash")]
    if st != 200:
        bad.append("status %d" % st)
    if "forged" in text or "6.6.6.6" in text or "https" in text:
        bad.append("a forged value reached the handler:\n" + text)
    names_seen = sorted(l.split(":", 1)[0][7:] for l in ash)
    if names_seen != sorted(["X-Ash-Address", "X-Ash-Port",
                             "X-Ash-Server-Address", "X-Ash-Server-Port",
                             "X-Ash-Protocol", "X-Ash-Connection-ID"]):
        bad.append("X-Ash headers seen: %r" % names_seen)
    if "header X-Ash-Protocol: http" not in ash or \
       "header X-Ash-Address: 127.0.0.1" not in ash:
        bad.append("wrong X-Ash values: %r" % ash)
print("\n".join(ash))
if bad:
    sys.exit("\n".join(bad))
PY
	echo "$output"
	assert_status 0
}

@test "security: with dirplex, a client's X-Ash-File cannot choose the file (sendfile, transient handlers)" {
	secret="SECRET-$RANDOM$RANDOM-never-served"
	printf '%s\n' "$secret" >"$TEST_TMP/secret.txt"
	echo index >"$SITE/index.html"
	echo public >"$SITE/public.txt"
	cat >"$TEST_TMP/env.sh" <<'EOF'
#!/bin/sh
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n'
env | grep -i 'ash' | LC_ALL=C sort
EOF
	chmod +x "$TEST_TMP/env.sh"
	put "$SITE/.htrc" "match" "    filename *.env" "    fork $TEST_TMP/env.sh"
	echo e >"$SITE/show.env"
	start_site "$SITE"
	run python3 - "$PORT" "$secret" "$TEST_TMP" <<'PY'
import sys
port, secret = int(sys.argv[1]), sys.argv[2].encode()
tmp = sys.argv[3]
sys.path.insert(0, tmp)
import hc
forge = ("X-Ash-File: {0}\r\nx-ash-file: {0}\r\nX-ASH-FILE: {0}\r\n"
         "X_Ash_File: {0}\r\nX-Ash-Content-Type: text/x-forged\r\n"
         "X-Ash-Address: 6.6.6.6\r\n").format(tmp + "/secret.txt").encode()
bad = []
for path, want in (("/public.txt", b"public\n"), ("/", b"index\n"),
                   ("/index.html", b"index\n")):
    c = hc.Conn(port)
    st, h, body = c.get(path, forge)
    print(path, st, h.get("content-type"), body[:20])
    if st != 200 or body != want:
        bad.append("%s: %d %r" % (path, st, body[:60]))
    if "forged" in h.get("content-type", ""):
        bad.append("%s: the client chose the content type" % path)
    c.close()
for path in ("/missing.txt", "/missing", "/nope/"):
    c = hc.Conn(port)
    st, h, body = c.get(path, forge)
    print(path, st)
    if st != 404 or secret in body:
        bad.append("%s: %d %r" % (path, st, body[:60]))
    c.close()
# A transient handler: its REQ_X_ASH_* environment is dirplex's and
# htparser's, whatever the client sent.
c = hc.Conn(port)
st, h, body = c.get("/show.env", forge)
text = body.decode("latin-1")
print(text)
lines = [l for l in text.split("\n") if l.startswith("REQ_X_ASH_FILE=")]
if len(lines) != 1 or not lines[0].endswith("/show.env"):
    bad.append("transient handler's X-Ash-File: %r" % lines)
if secret in body or "6.6.6.6" in text or "forged" in text:
    bad.append("a forged value reached the transient handler")
if bad:
    sys.exit("\n".join(bad))
PY
	echo "$output"
	assert_status 0
}

# ---------------------------------------------------------------------
# Privilege drop

@test "privileges: htparser -u nobody -r DIR runs as nobody in DIR, the root handler as started (root only)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	nuid=$(id -u nobody 2>/dev/null) || skip "no user nobody"
	ngid=$(id -g nobody)
	mkdir "$TEST_TMP/jail"
	chmod 755 "$TEST_TMP" "$TEST_TMP/jail"
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	start_htparser -u nobody -r "$TEST_TMP/jail"
	run curl -sS -m 5 "http://127.0.0.1:$PORT/dropped"
	assert_status 0
	assert_contains "$output" $'rest dropped\n'
	st=/proc/$HTPARSER_PID/status
	assert_equal "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")" "$nuid $nuid $nuid $nuid"
	assert_equal "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st")" "$ngid $ngid $ngid $ngid"
	assert_equal "$(awk '/^Groups:/ { $1 = ""; print }' "$st" | xargs)" "$ngid"
	assert_equal "$(readlink "/proc/$HTPARSER_PID/root")" "$(cd "$TEST_TMP/jail" && pwd -P)"
	# doc/htparser.1: the root handler keeps the user, group and root
	# directory htparser was started with.
	root=$(children_of "$HTPARSER_PID")
	assert_match "$root" '^[0-9]+$'
	assert_equal "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$root/status")" "0 0 0 0"
	assert_equal "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "/proc/$root/status")" \
	    "$(id -g) $(id -g) $(id -g) $(id -g)"
	assert_equal "$(readlink "/proc/$root/root")" /
}
