#!/usr/bin/env bats
# hostile.bats: htparser against a table of malformed and ambiguous
# requests (tests/hostile/cases.txt): smuggling variants, obfuscated
# framing, bad chunks, odd line ends, control bytes, over-long parts,
# bad versions, methods, targets and Host fields.
#
# Each case is sent in one write followed by an innocent request for
# /smuggled (with Connection: close).  For every case the runner checks
#   (a) the first response has the status the table expects (or none,
#       for "close"), and error responses come from htparser itself;
#   (b) /smuggled reaches the handler only when the table says the
#       first request is complete and acceptable ("ok": then exactly
#       two responses, the first for the case's own target);
#   (c) the connection ends within a few seconds (htparser runs with
#       1-second head, body and idle timeouts).
# One test per group of cases (the ID's prefix); a failing test lists
# the IDs of its failing cases with what happened instead.  Cases run
# a few at a time, each on its own connection.

load helper

CASES=$ASHD_SRCDIR/tests/hostile/cases.txt
GROUPS_ALL="clte te cl chunk line ctl long ver meth target host expect hdr"

HOSTILE_PY='
import codecs, concurrent.futures, os, re, socket, sys, time

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
DEADLINE = 6.0
REPEAT = re.compile(r"\{\{(\d+)\*((?:(?!\{\{|\}\}).)*)\}\}")

def expand(raw):
    while True:
        new = REPEAT.sub(lambda m: m.group(2) * int(m.group(1)), raw)
        if new == raw:
            break
        raw = new
    return codecs.escape_decode(raw.encode("latin-1"))[0]

def load(path):
    cases = []
    with open(path, encoding="latin-1") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) != 3:
                sys.exit("%s:%d: not ID OUTCOME RAW" % (path, n))
            cases.append((n, parts[0], parts[1], parts[2]))
    return cases

def check_table(cases, groups):
    errs = []
    ids = set()
    for n, cid, outcome, raw in cases:
        if cid in ids:
            errs.append("line %d: duplicate id %s" % (n, cid))
        ids.add(cid)
        if cid.split("-")[0] not in groups:
            errs.append("line %d: %s is in no group of the suite" % (n, cid))
        if not re.fullmatch(r"[1-5][0-9][0-9]|ok|close", outcome):
            errs.append("line %d: bad outcome %r" % (n, outcome))
        try:
            data = expand(raw)
        except Exception as e:
            errs.append("line %d: bad escapes: %s" % (n, e))
            continue
        if outcome == "ok" and target_of(data) is None:
            errs.append("line %d: no target in an ok case" % n)
    for e in errs:
        print(e)
    print("%d cases, %d ids, %d problems" % (len(cases), len(ids), len(errs)))
    return not errs

def target_of(data):
    line = data.lstrip(b"\r\n").split(b"\n", 1)[0].rstrip(b"\r")
    parts = line.split(b" ")
    return parts[1] if len(parts) == 3 else None

def exchange(port, data):
    """Send data in one write; read until the server closes.  Returns
    (bytes, how): how is "closed", "reset" or "hang"."""
    s = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    got = bytearray()
    how = "hang"
    end = time.monotonic() + DEADLINE
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.sendall(data)
        except OSError:
            pass    # the server may stop reading a huge head early
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, BrokenPipeError):
                how = "reset"
                break
            if not d:
                how = "closed"
                break
            got += d
    finally:
        s.close()
    return bytes(got), how

def responses(data):
    """The responses in data as (status, body); interim 1xx skipped.
    Returns (list, error or None)."""
    out = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return out, "incomplete head %r" % data[pos:pos + 40]
        lines = data[pos:end].decode("latin-1").split("\r\n")
        pos = end + 4
        m = re.match(r"HTTP/1\.[01] ([0-9]{3})( |$)", lines[0])
        if not m:
            return out, "bad status line %r" % lines[0]
        status = int(m.group(1))
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs.setdefault(k.strip().lower(), v.strip())
        if 100 <= status < 200:
            continue
        if hdrs.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                e = data.find(b"\r\n", pos)
                if e < 0:
                    return out, "incomplete chunked body"
                size = int(data[pos:e].split(b";")[0], 16)
                pos = e + 2
                if size == 0:
                    e = data.find(b"\r\n\r\n", pos - 2)
                    pos = len(data) if e < 0 else e + 4
                    break
                body += data[pos:pos + size]
                pos += size + 2
        elif "content-length" in hdrs:
            n = int(hdrs["content-length"])
            body = data[pos:pos + n]
            if len(body) < n:
                return out, "short body"
            pos += n
        else:
            body = data[pos:]
            pos = len(data)
        out.append((status, body))
    return out, None

def from_handler(body):
    return body.startswith(b"method ")

def run_case(port, case):
    n, cid, outcome, raw = case
    data = expand(raw)
    t0 = time.monotonic()
    got, how = exchange(port, data + SMUGGLED)
    secs = time.monotonic() - t0
    resps, err = responses(got)
    seen = " ".join(str(s) for s, _ in resps) or "no response"
    smuggled = [b for s, b in resps if b"\nurl /smuggled\n" in b]
    problems = []
    if err:
        problems.append("unparsable output: %s" % err)
    if how == "hang":
        problems.append("still open after %gs" % DEADLINE)
    if outcome == "ok":
        if len(resps) != 2 or any(s != 200 for s, _ in resps):
            problems.append("responses: %s" % seen)
        else:
            first, second = resps[0][1], resps[1][1]
            want = b"\nurl " + target_of(data) + b"\n"
            if not from_handler(first) or want not in first:
                problems.append("first response is not for %r" %
                    target_of(data))
            if b"\nurl /smuggled\n" not in second:
                problems.append("second response is not for /smuggled")
    else:
        if smuggled or b"smuggled" in got:
            problems.append("/smuggled was served%s" % (
                " (the request was accepted)" if resps and
                from_handler(resps[0][1]) else ""))
        if outcome == "close":
            if resps:
                problems.append("responses: %s" % seen)
        else:
            want = int(outcome)
            if [s for s, _ in resps] != [want]:
                problems.append("responses: %s" % seen)
            elif want >= 400 and from_handler(resps[0][1]):
                problems.append("the %d came from the handler" % want)
            elif want < 400 and not from_handler(resps[0][1]):
                problems.append("the %d is not from the handler" % want)
    return cid, outcome, problems, secs

def main():
    path, what = sys.argv[1], sys.argv[2]
    cases = load(path)
    if what == "--table":
        sys.exit(0 if check_table(cases, sys.argv[3].split()) else 1)
    port = int(os.environ["PORT"])
    mine = [c for c in cases if c[1].split("-")[0] == what]
    if not mine:
        sys.exit("no cases in group %s" % what)
    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
        for cid, outcome, problems, secs in ex.map(
                lambda c: run_case(port, c), mine):
            if problems:
                failed.append(cid)
                print("FAIL %s (expected %s, %.1fs): %s" %
                    (cid, outcome, secs, "; ".join(problems)))
    # The server still serves an ordinary request.
    got, how = exchange(port, b"GET /after HTTP/1.1\r\nHost: x\r\n"
        b"Connection: close\r\n\r\n")
    resps, err = responses(got)
    if err or [s for s, _ in resps] != [200]:
        failed.append("(server no longer serving)")
        print("FAIL: an ordinary request afterwards got %r" % got[:80])
    print("group %s: %d cases, %d failed%s" % (what, len(mine), len(failed),
        (": " + " ".join(failed)) if failed else ""))
    sys.exit(1 if failed else 0)

main()
'

# hostile_group GROUP: run GROUP's cases against a fresh htparser.
hostile_group() {
	start_htparser -o timeout-head=1 -o timeout-body=1 -o timeout-idle=1
	run python3 -c "$HOSTILE_PY" "$CASES" "$1"
	proc_alive "$HTPARSER_PID" || fail "htparser died"
	assert_status 0
}

@test "hostile: the case table is well-formed and has at least 100 cases" {
	run python3 -c "$HOSTILE_PY" "$CASES" --table "$GROUPS_ALL"
	assert_status 0
	n=$(printf '%s\n' "$output" | sed -nE 's/^([0-9]+) cases.*/\1/p')
	[ "$n" -ge 100 ] || fail "only $n cases"
}

@test "hostile clte: Content-Length with Transfer-Encoding, bodies that look like requests" {
	hostile_group clte
}

@test "hostile te: obfuscated Transfer-Encoding" {
	hostile_group te
}

@test "hostile cl: duplicate, conflicting and malformed Content-Length" {
	hostile_group cl
}

@test "hostile chunk: bad chunk sizes, extensions, line ends and trailers" {
	hostile_group chunk
}

@test "hostile line: bare CR and LF, empty lines, obs-fold, separators" {
	hostile_group line
}

@test "hostile ctl: NUL and control bytes in every part of the head" {
	hostile_group ctl
}

@test "hostile long: over-long lines, heads and field counts" {
	hostile_group long
}

@test "hostile ver: invalid and unsupported versions" {
	hostile_group ver
}

@test "hostile meth: invalid methods" {
	hostile_group meth
}

@test "hostile target: invalid targets, asterisk and absolute forms" {
	hostile_group target
}

@test "hostile host: missing, repeated, empty and invalid Host" {
	hostile_group host
}

@test "hostile expect: Expect oddities" {
	hostile_group expect
}

@test "hostile hdr: field-line syntax and Connection" {
	hostile_group hdr
}
