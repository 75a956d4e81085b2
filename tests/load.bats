#!/usr/bin/env bats
# run-tests: alone
# load.bats: htparser under many connections: slowloris clients (one
# header byte a second), 10,000 idle keep-alive connections, and a burst
# of 10,000 requests through htparser + dirplex + a persistent sendfile.
#
# Each test starts its own servers on free ports of 127.0.0.1 (helper.bash
# kills them by PID and process group in teardown).  The clients are
# python3 programs that drive all their sockets from one thread with
# selectors; they raise their own RLIMIT_NOFILE, and htparser's is raised
# with `bash -c 'ulimit -n N; exec htparser ...'`.  Where the hard limit
# of this machine is too low for a test, the test is skipped and says so.
# The memory figures (htparser's RSS per connection) are printed.

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
}

teardown() {
	common_teardown
}

# ---------------------------------------------------------------------
# Helpers of this suite

# need_nofile N: skip unless this shell may raise its descriptor limit
# to N (the hard limit); the servers and clients inherit it.
need_nofile() {
	local hard
	hard=$(ulimit -Hn)
	if [ "$hard" != unlimited ] && [ "$hard" -lt "$1" ]; then
		skip "the hard limit on open files is $hard, this test needs $1"
	fi
}

# start_server NOFILE HTPARSER-OPTIONS... -- ROOT [ARGS...]: htparser on
# a free port of 127.0.0.1 under `ulimit -n NOFILE` (at most the hard
# limit).  Sets PORT and HTPARSER_PID (the htparser process itself: bash
# execs it).
start_server() {
	local n=$1 try i opts=() hard
	shift
	hard=$(ulimit -Hn)
	if [ "$hard" != unlimited ] && [ "$hard" -lt "$n" ]; then
		n=$hard
	fi
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	for try in 1 2 3; do
		PORT=$(free_port)
		start_bg "$SERVER_LOG" bash -c 'ulimit -n "$0" && exec "$@"' \
		    "$n" "$HTPARSER" "${opts[@]}" \
		    "plain:port=$PORT,local=127.0.0.1" -- "$@"
		HTPARSER_PID=$BG_PID
		if wait_port "$PORT" 5 "$HTPARSER_PID"; then
			export PORT HTPARSER_PID
			return 0
		fi
		kill_bg
	done
	cat "$SERVER_LOG" >&2
	fail "htparser did not start"
}

no_sanitizers() {
	[ "${ASHD_SANITIZERS:-no}" != yes ] ||
	    skip "AddressSanitizer's redzones make the memory figures meaningless"
}

# The slowloris client: SLOW_PY PORT PID NCONN SECONDS MODE.  NCONN
# connections each send one byte of a request head per second for
# SECONDS.  MODE "serve": meanwhile curl must be served in under 1 s,
# once a second, and htparser's RSS per slow connection is printed and
# must stay under 8 KiB; no slow connection may be closed.  MODE
# "timeout": every slow connection must be closed by htparser (with a
# 408 or nothing) 4.5 to 8 s after it was opened (-o timeout-head=5).
SLOW_PY='
import os, resource, selectors, socket, subprocess, sys, time
port, pid, nconn, secs, mode = (int(sys.argv[1]), int(sys.argv[2]),
    int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = nconn + 200
if hard != resource.RLIM_INFINITY and hard < want:
    print("SKIP: hard limit on open files %d < %d" % (hard, want))
    sys.exit(0)
resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

def rss():
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])

def curl_time():
    t = time.monotonic()
    r = subprocess.run(["curl", "-sS", "-m", "5", "-o", "/dev/null", "-w",
                        "%{http_code}", "http://127.0.0.1:%d/normal" % port],
                       capture_output=True, text=True)
    return r.stdout, time.monotonic() - t

# Warm up (the root handler and htparser allocate on first use).
curl_time()
time.sleep(0.2)
base = rss()
head = (b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100)
sel = selectors.DefaultSelector()
conns = []
for i in range(nconn):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setblocking(False)
    c = {"s": s, "t0": time.monotonic(), "sent": 0, "got": b"", "closed": None}
    conns.append(c)
    sel.register(s, selectors.EVENT_READ, c)
opened = time.monotonic()
print("%d slow connections opened in %.2fs" % (nconn, opened - conns[0]["t0"]))
problems = []
curls = []
rss_seen = []
next_tick = opened
while time.monotonic() - opened < secs:
    now = time.monotonic()
    if now >= next_tick:
        for c in conns:
            if c["closed"] is None and c["sent"] < len(head):
                try:
                    c["s"].send(head[c["sent"]:c["sent"] + 1])
                    c["sent"] += 1
                except OSError:
                    pass
        next_tick += 1.0
        if mode == "serve" and now - opened > 1.5:
            code, dt = curl_time()
            curls.append(dt)
            if code != "200" or dt > 1.0:
                problems.append("curl: status %s after %.3fs" % (code, dt))
            rss_seen.append(rss())
    for key, ev in sel.select(timeout=max(0, min(0.1, next_tick - time.monotonic()))):
        c = key.data
        try:
            d = c["s"].recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            d = b""
        if d:
            c["got"] += d
            continue
        c["closed"] = time.monotonic() - c["t0"]
        sel.unregister(c["s"])
        c["s"].close()
    if mode == "timeout" and all(c["closed"] is not None for c in conns):
        break
closed = [c for c in conns if c["closed"] is not None]
if mode == "serve":
    peak = max(rss_seen)
    print("curl while %d slow connections were open: %d requests, slowest %.3fs" %
          (nconn, len(curls), max(curls)))
    print("htparser RSS %d KiB before, %d KiB peak: %.2f KiB per slow connection" %
          (base, peak, (peak - base) / nconn))
    if len(curls) < 5:
        problems.append("only %d curl requests" % len(curls))
    if (peak - base) / nconn >= 8 and os.environ.get("ASHD_SANITIZERS") != "yes":
        problems.append("more than 8 KiB per slow connection")
    if closed:
        problems.append("%d slow connections were closed (first after %.1fs)" %
                        (len(closed), min(c["closed"] for c in closed)))
else:
    got408 = sum(1 for c in closed if c["got"].startswith(b"HTTP/1.1 408"))
    other = [c for c in closed if c["got"] and not c["got"].startswith(b"HTTP/1.1 408")]
    times = sorted(c["closed"] for c in closed)
    print("closed by htparser: %d of %d (%d with 408, %d without an answer)" %
          (len(closed), nconn, got408, len(closed) - got408 - len(other)))
    if times:
        print("closed after %.2fs to %.2fs" % (times[0], times[-1]))
    if len(closed) != nconn:
        problems.append("%d slow connections still open" % (nconn - len(closed)))
    if other:
        problems.append("%d got something else: %r" % (len(other), other[0]["got"][:40]))
    if times and (times[0] < 4.5 or times[-1] > 8.0):
        problems.append("closed outside 4.5 to 8 s")
for c in conns:
    if c["closed"] is None:
        c["s"].close()
if problems:
    sys.exit("\n".join(problems))
'

# ---------------------------------------------------------------------
# Slowloris

@test "slowloris: 2000 connections at one header byte a second; curl is served promptly, memory stays bounded" {
	no_sanitizers
	need_nofile 2500
	start_server 4096 -- "$ECHO_HANDLER"
	run python3 -c "$SLOW_PY" "$PORT" "$HTPARSER_PID" 2000 10 serve
	echo "$output"
	assert_status 0
	[[ $output != SKIP:* ]] || skip "${output#SKIP: }"
	proc_alive "$HTPARSER_PID" || fail "htparser died"
}

@test "slowloris with -o timeout-head=5: htparser closes the slow connections after about 5 s" {
	need_nofile 2500
	start_server 4096 -o timeout-head=5 -- "$ECHO_HANDLER"
	run python3 -c "$SLOW_PY" "$PORT" "$HTPARSER_PID" 2000 12 timeout
	echo "$output"
	assert_status 0
	[[ $output != SKIP:* ]] || skip "${output#SKIP: }"
	proc_alive "$HTPARSER_PID" || fail "htparser died"
	run curl -sS -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/after"
	assert_equal "$output" 200
}

# ---------------------------------------------------------------------
# Many idle connections

@test "10,000 idle keep-alive connections: each answered once, all stay open, a new client is served promptly" {
	no_sanitizers
	need_nofile 11500
	start_server 20000 -- "$ECHO_HANDLER"
	run python3 - "$PORT" "$HTPARSER_PID" <<'PY'
import os, resource, selectors, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
N, WAVE = 10000, 500
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, N + 300), hard))
def rss():
    for l in open("/proc/%d/status" % pid):
        if l.startswith("VmRSS:"):
            return int(l.split()[1])
def one(s):
    s.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
# Warm up.
w = socket.create_connection(("127.0.0.1", port), timeout=5)
one(w)
w.recv(65536)
w.close()
time.sleep(0.3)
base = rss()
t0 = time.monotonic()
socks = []
sel = selectors.DefaultSelector()
# In waves, so that at most WAVE requests are at the handler at once.
for start in range(0, N, WAVE):
    wave = []
    for i in range(WAVE):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        one(s)
        s.setblocking(False)
        wave.append(s)
        sel.register(s, selectors.EVENT_READ, [b""])
    left = len(wave)
    deadline = time.monotonic() + 20
    while left and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=1):
            buf = key.data
            try:
                d = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if not d:
                sys.exit("a connection was closed instead of answered")
            buf[0] += d
            h = buf[0].find(b"\r\n\r\n")
            if h < 0:
                continue
            head = buf[0][:h].decode("latin-1")
            if not head.startswith("HTTP/1.1 200"):
                sys.exit("answer: %r" % head[:40])
            cl = int([l.split(":", 1)[1] for l in head.split("\r\n")
                      if l.lower().startswith("content-length:")][0])
            if len(buf[0]) - h - 4 >= cl:
                sel.unregister(key.fileobj)
                left -= 1
    if left:
        sys.exit("%d connections of a wave not answered" % left)
    socks.extend(wave)
print("%d connections opened and answered in %.1fs" % (len(socks), time.monotonic() - t0))
time.sleep(0.5)
after = rss()
per = (after - base) / float(N)
print("htparser RSS %d KiB before, %d KiB with %d idle connections: %.2f KiB per idle connection"
      % (base, after, N, per))
# All still open: nothing to read, no end-of-file.
closed = 0
for s in socks:
    try:
        d = s.recv(1, socket.MSG_PEEK)
        closed += 1
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
if closed:
    sys.exit("%d idle connections were closed" % closed)
t = time.monotonic()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"GET /new HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
got = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
dt = time.monotonic() - t
print("a new client: %s in %.3fs" % (got.split(b"\r\n", 1)[0].decode(), dt))
if not got.startswith(b"HTTP/1.1 200") or dt > 1.0:
    sys.exit("the new client was not served promptly")
if per >= 4 and os.environ.get("ASHD_SANITIZERS") != "yes":
    sys.exit("more than 4 KiB per idle connection")
for s in socks:
    s.close()
PY
	echo "$output"
	assert_status 0
	proc_alive "$HTPARSER_PID" || fail "htparser died"
}

# ---------------------------------------------------------------------
# A burst through the whole chain

@test "a burst of 10,000 requests over 100 keep-alive connections through dirplex and a persistent sendfile" {
	local i
	i=0
	for size in 0 1 15 100 1000 1500 4095 4096 8192 10000 16383 16384 16385 \
	    20000 32768 40000 65535 65536 70000 100000; do
		head -c "$size" /dev/urandom >"$SITE/f$i.bin"
		i=$((i + 1))
	done
	start_server 4096 -- dirplex "$SITE"
	run python3 - "$PORT" "$SITE" <<'PY'
import os, selectors, socket, sys, time
port, site = int(sys.argv[1]), sys.argv[2]
files = sorted(f for f in os.listdir(site) if f.endswith(".bin"))
content = {f: open(os.path.join(site, f), "rb").read() for f in files}
NC, PER = 100, 100
sel = selectors.DefaultSelector()
class C:
    pass
def request(c):
    c.file = files[(c.n * 7 + c.done) % len(files)]
    c.s.sendall(b"GET /" + c.file.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
conns = []
t0 = time.monotonic()
for n in range(NC):
    c = C()
    c.n, c.done, c.buf = n, 0, bytearray()
    c.s = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request(c)
    c.s.setblocking(False)
    sel.register(c.s, selectors.EVENT_READ, c)
    conns.append(c)
ok, bad, left = 0, [], NC
deadline = time.monotonic() + 60
while left and time.monotonic() < deadline:
    for key, ev in sel.select(timeout=1):
        c = key.data
        try:
            d = c.s.recv(262144)
        except BlockingIOError:
            continue
        except OSError as e:
            d = b""
        if not d:
            bad.append("connection %d closed after %d responses" % (c.n, c.done))
            sel.unregister(c.s)
            left -= 1
            continue
        c.buf += d
        while True:
            h = c.buf.find(b"\r\n\r\n")
            if h < 0:
                break
            head = bytes(c.buf[:h]).decode("latin-1").split("\r\n")
            hd = dict((l.split(":", 1)[0].lower(), l.split(":", 1)[1].strip())
                      for l in head[1:])
            cl = int(hd.get("content-length", "-1"))
            if cl < 0:
                bad.append("%s: no Content-Length: %r" % (c.file, head))
                cl = 0
            if len(c.buf) < h + 4 + cl:
                break
            body = bytes(c.buf[h + 4:h + 4 + cl])
            del c.buf[:h + 4 + cl]
            if head[0] != "HTTP/1.1 200 OK" or body != content[c.file]:
                bad.append("%s: %s, %d bytes" % (c.file, head[0], len(body)))
            else:
                ok += 1
            c.done += 1
            if c.done == PER:
                sel.unregister(c.s)
                left -= 1
                break
            request(c)
dt = time.monotonic() - t0
print("%d of %d responses correct in %.1fs (%.0f requests/s)" %
      (ok, NC * PER, dt, NC * PER / dt))
for b in bad[:10]:
    print("  " + b)
for c in conns:
    c.s.close()
sys.exit(0 if ok == NC * PER and not bad else 1)
PY
	echo "$output"
	assert_status 0
	proc_alive "$HTPARSER_PID" || fail "htparser died"
	dp=$(children_of "$HTPARSER_PID")
	assert_match "$dp" '^[0-9]+$'
	assert_equal "$(proc_name "$dp")" dirplex
	# One persistent sendfile served them all.
	sf=$(children_of "$dp")
	assert_match "$sf" '^[0-9]+$'
	assert_equal "$(proc_name "$sf")" sendfile
}

# ---------------------------------------------------------------------
# Slow uploads to CGI scripts (issue 18, points 3 and 10)

# SLOWCGI_PY N CALLCGI-PID: N clients POST an 8-byte body to
# /cgi/hello.cgi, one byte each every 0.5 s; meanwhile the processes
# below callcgi are counted and a GET of the same script is timed; once
# the bodies are complete, the scripts callcgi runs at once are counted
# until every answer is in.  Prints "upload-peak=P get=CODE get-ms=MS
# run-peak=R ok=A busy=B other=C".
SLOWCGI_PY='
import collections, os, socket, sys, threading, time, urllib.request
n, cc = int(sys.argv[1]), int(sys.argv[2])
port = int(os.environ["PORT"])
def tree(pid):
    kids = collections.defaultdict(list)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open("/proc/%s/stat" % d).read()
                kids[int(st.rsplit(")", 1)[1].split()[1])].append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        for c in kids[todo.pop()]:
            out.append(c)
            todo.append(c)
    return out, len(kids[pid])
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(b"POST /cgi/hello.cgi HTTP/1.1\r\nHost: h\r\n"
              b"Connection: close\r\nContent-Length: 8\r\n\r\n")
    socks.append(s)
upload_peak, get_code, get_ms = 0, "none", -1
for k in range(8):
    t_end = time.monotonic() + 0.5
    while time.monotonic() < t_end:
        upload_peak = max(upload_peak, len(tree(cc)[0]))
        time.sleep(0.05)
    if k == 3:
        t0 = time.monotonic()
        try:
            get_code = urllib.request.urlopen(
                "http://127.0.0.1:%d/cgi/hello.cgi" % port, timeout=30).status
        except Exception as e:
            get_code = type(e).__name__
        get_ms = int((time.monotonic() - t0) * 1000)
    if k < 7:
        for s in socks:
            s.sendall(b"x")
upload_peak = max(upload_peak, len(tree(cc)[0]))
for s in socks:
    s.sendall(b"x")
codes = collections.Counter()
run_peak = 0
def sample():
    global run_peak
    while not done:
        run_peak = max(run_peak, tree(cc)[1])
        time.sleep(0.02)
done = False
th = threading.Thread(target=sample)
th.start()
for s in socks:
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    code = got[9:12].decode("latin-1")
    codes["ok" if code == "200" and b"(8 bytes)" in got
          else "busy" if code == "503" else "other"] += 1
done = True
th.join()
print("upload-peak=%d get=%s get-ms=%d run-peak=%d ok=%d busy=%d other=%d" %
      (upload_peak, get_code, get_ms, run_peak, codes["ok"], codes["busy"],
       codes["other"]))
'

# cgi_default_limit: callcgi's default -l on this machine (callcgi(1)).
cgi_default_limit() {
	local n u
	n=$(($(nproc) * 8))
	u=$(ulimit -Su)
	[ "$u" = unlimited ] || (( u / 4 >= n )) || n=$((u / 4))
	echo $((n < 1 ? 1 : n))
}

@test "200 slow uploads to a CGI script start no process until their bodies are in; a GET is served meanwhile; then at most -l scripts run" {
	need_nofile 4096
	cp -R "$ASHD_SRCDIR/examples/site/." "$SITE/"
	start_site "$SITE"
	expect /cgi/hello.cgi 200
	local cc out lim
	cc=$(children_named "$(dirplex_pid)" callcgi)
	[ -n "$cc" ] || fail "no persistent callcgi under dirplex"
	lim=$(cgi_default_limit)
	out=$(python3 -c "$SLOWCGI_PY" 200 "$cc")
	echo "# $out (default -l $lim)" >&3
	assert_match "$out" '^upload-peak=0 get=200 get-ms=[0-9]+ '
	(($(sed -E 's/.*get-ms=([0-9]+).*/\1/' <<<"$out") < 2000)) ||
	    fail "the GET was slow: $out"
	(($(sed -E 's/.*run-peak=([0-9]+).*/\1/' <<<"$out") <= lim)) ||
	    fail "more than $lim scripts at once: $out"
	assert_match "$out" ' other=0$'
	# Within -l and its queue (16 per slot), every upload is answered.
	((lim * 17 < 200)) || assert_match "$out" ' ok=200 busy=0 '
}
