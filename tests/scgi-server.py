#!/usr/bin/env python3
"""scgi-server.py: a small SCGI 1.0 server for the callscgi tests.

usage: scgi-server.py [--serial] [--log FILE] [ADDRESS]

ADDRESS is unix:PATH (or a path with a '/'), or [HOST:]PORT (host
127.0.0.1 by default).  Without it the listening socket is standard
input, as callscgi and multifscgi pass it.  Every connection has its own
thread, or with --serial the connections are served one at a time, as
single-threaded servers do (the others wait in the listening queue).  The request is checked strictly: a netstring ("LEN:" headers
","), NUL-terminated names and values, CONTENT_LENGTH first and all
digits, SCGI second with the value 1, no name twice, then exactly
CONTENT_LENGTH bytes of body; a request that breaks a rule is answered
"Status: 500" with "protocol error: WHAT" and logged.

The query string selects what a request does (&-separated KEY[=VALUE]):
  echo        the request body back         env    the variables, sorted
  status=N    Status: N                     location=URL   Location:
  big=N       N bytes (bytes(range(251)) repeated) in 64 KiB writes
  sleep=MS    wait before reading the body  slowbody  1000 bytes every
              and answering                           50 ms, 400 times
  short       the whole response in writes of 1 to 7 bytes
  nph         a status line "HTTP/1.1 202 Accepted" instead of Status:
  lf          bare LF line ends in the head
  early       answer 413 at once without reading the body, then close
  drip=N      N pieces of 1000 bytes, 300 ms apart
  garbage     a head that is not one       nohead  a body without a head
  halfhead    half a head, then close      close   close at once, unread
  hugehead    a head of 70000 bytes
  crash       the whole process exits (status 3) before answering
Otherwise: "ok pid=P conn=C query=Q".

The log (--log FILE, one line per event, appended):
  start pid=P                                listening
  accept conn=C pid=P                        a connection accepted
  request conn=C pid=P method=M length=N body=B active=A
                                             a request read (B: bytes;
                                             A: connections open now)
  protoerr conn=C what=WHAT                  a request that broke a rule
  gone conn=C                                the client left early
"""
import os
import sys
import threading
import time
import urllib.parse

import testapp

logfile, addr, serial = None, None, False
args = sys.argv[1:]
while args:
    a = args.pop(0)
    if a == "--serial":
        serial = True
    elif a == "--log":
        logfile = args.pop(0)
    else:
        addr = a

log = testapp.Log(logfile)
countlock = threading.Lock()
conncount = [0]
active = [0]


class ProtoError(Exception):
    pass


def read_exact(conn, n, got=b""):
    while len(got) < n:
        d = conn.recv(min(65536, n - len(got)))
        if not d:
            raise EOFError
        got += d
    return got


def read_head(conn):
    """The netstring's headers as a list of (name, value)."""
    digits = b""
    while True:
        c = conn.recv(1)
        if not c:
            raise EOFError
        if c == b":":
            break
        if not c.isdigit() or len(digits) > 9:
            raise ProtoError("bad netstring length")
        digits += c
    if not digits:
        raise ProtoError("empty netstring length")
    raw = read_exact(conn, int(digits) + 1)
    if raw[-1:] != b",":
        raise ProtoError("netstring without its comma")
    raw = raw[:-1]
    if not raw.endswith(b"\0"):
        raise ProtoError("headers not NUL-terminated")
    parts = raw[:-1].split(b"\0")
    if len(parts) % 2:
        raise ProtoError("a name without a value")
    pairs = [(parts[i].decode("latin-1"), parts[i + 1].decode("latin-1"))
             for i in range(0, len(parts), 2)]
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        raise ProtoError("a name twice")
    if not pairs or pairs[0][0] != "CONTENT_LENGTH":
        raise ProtoError("CONTENT_LENGTH is not first")
    if not pairs[0][1].isdigit():
        raise ProtoError("CONTENT_LENGTH is not a number")
    if len(pairs) < 2 or pairs[1] != ("SCGI", "1"):
        raise ProtoError("SCGI=1 is not second")
    return pairs


def head(lines, lf):
    eol = "\n" if lf else "\r\n"
    return (eol.join(lines) + eol + eol).encode("latin-1")


def send_short(conn, data):
    i, step = 0, 1
    while i < len(data):
        conn.sendall(data[i:i + step])
        i += step
        step = step % 7 + 1


def answer(conn, n, env, body, q):
    lf = "lf" in q
    if "crash" in q:
        os._exit(3)
    if "garbage" in q:
        conn.sendall(b"\x01\x02 this is not a head\r\n\r\n")
        return
    if "nohead" in q:
        conn.sendall(b"just a body, no head at all\n")
        return
    if "halfhead" in q:
        conn.sendall(b"Content-Type: text/pl")
        return
    if "hugehead" in q:
        conn.sendall(b"X-Big: " + b"x" * 70000 + b"\r\n\r\nbody\n")
        return
    if "echo" in q:
        out = body
    elif "env" in q:
        out = "".join("%s=%s\n" % kv for kv in sorted(env.items()))
        out = out.encode("latin-1")
    elif "big" in q:
        size = int(q["big"])
        out = (bytes(range(251)) * (size // 251 + 1))[:size]
    else:
        out = ("ok pid=%d conn=%d query=%s\n" %
               (os.getpid(), n, env.get("QUERY_STRING", ""))).encode()
    lines = []
    if "nph" in q:
        lines.append("HTTP/1.1 202 Accepted")
    if "status" in q:
        lines.append("Status: " + q["status"])
    if "location" in q:
        lines.append("Location: " + q["location"])
    lines.append("Content-Type: application/octet-stream")
    lines.append("X-Scgi-Pid: %d" % os.getpid())
    if "slowbody" in q or "drip" in q:
        pieces, pause = (400, 0.05) if "slowbody" in q else \
            (int(q["drip"]), 0.3)
        conn.sendall(head(lines, lf))
        for _ in range(pieces):
            time.sleep(pause)
            conn.sendall(b"x" * 1000)
        return
    data = head(lines, lf) + out
    if "short" in q:
        send_short(conn, data)
    else:
        for i in range(0, len(data), 65536):
            conn.sendall(data[i:i + 65536])


def serve(conn, n):
    try:
        try:
            pairs = read_head(conn)
        except ProtoError as e:
            log("protoerr conn=%d what=%s" % (n, e))
            conn.sendall(b"Status: 500\r\nContent-Type: text/plain\r\n\r\n"
                         b"protocol error: " + str(e).encode() + b"\n")
            return
        env = dict(pairs)
        q = dict(urllib.parse.parse_qsl(env.get("QUERY_STRING", ""),
                                        keep_blank_values=True))
        length = int(env["CONTENT_LENGTH"])
        if "early" in q:
            conn.sendall(b"Status: 413 Too Big\r\n\r\nearly answer\n")
            return
        if "close" in q:
            return
        if "sleep" in q:
            time.sleep(int(q["sleep"]) / 1000)
        body = read_exact(conn, length)
        log("request conn=%d pid=%d method=%s length=%d body=%d active=%d"
            % (n, os.getpid(), env.get("REQUEST_METHOD"), length, len(body),
               active[0]))
        answer(conn, n, env, body, q)
    except (EOFError, ConnectionError, BrokenPipeError):
        log("gone conn=%d" % n)
    finally:
        with countlock:
            active[0] -= 1
        try:
            conn.close()
        except OSError:
            pass


def main():
    lsock = testapp.listener(addr)
    log("start pid=%d" % os.getpid())
    while True:
        conn, _ = lsock.accept()
        conncount[0] += 1
        log("accept conn=%d pid=%d" % (conncount[0], os.getpid()))
        with countlock:
            active[0] += 1
        if serial:
            serve(conn, conncount[0])
            continue
        t = threading.Thread(target=serve, args=(conn, conncount[0]),
                             daemon=True)
        t.start()


if __name__ == "__main__":
    main()
