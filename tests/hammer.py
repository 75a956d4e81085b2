#!/usr/bin/env python3
"""hammer.py: a bounded HTTP load that counts every failure, for the
tests of restarts and upgrades without a dropped request.

usage: hammer.py PORT PATH BODYLEN STOPFILE [WORKERS] [MAXSECONDS]

WORKERS threads (default 4) each send GET PATH with Connection: close
on a new connection to 127.0.0.1:PORT, read the whole response, and
check it: status 200, a Content-Length of BODYLEN, and exactly that
many body bytes before the close.  They stop when STOPFILE exists (or
after MAXSECONDS, default 60).  A connection refused or reset, a
timeout (5 s), a truncated or wrong response: each is one failure,
printed with its reason.  The last line is "ok N failed M"; the exit
status is 0 only when M is 0 and N is not.
"""
import os
import socket
import sys
import threading
import time

port, path, bodylen, stopfile = (int(sys.argv[1]), sys.argv[2],
                                 int(sys.argv[3]), sys.argv[4])
workers = int(sys.argv[5]) if len(sys.argv) > 5 else 4
maxsecs = float(sys.argv[6]) if len(sys.argv) > 6 else 60.0
req = ("GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
       % path).encode()
lock = threading.Lock()
counts = {"ok": 0, "failed": 0}
reasons = {}


def one():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(req)
        data = bytearray()
        while True:
            d = s.recv(65536)
            if not d:
                break
            data.extend(d)
    finally:
        s.close()
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return "no complete head (%d bytes)" % len(data)
    head = data[:end].decode("latin-1").split("\r\n")
    if not head[0].startswith("HTTP/1.1 200"):
        return "status line %r" % head[0]
    cl = [h.split(":", 1)[1].strip() for h in head[1:]
          if h.lower().startswith("content-length:")]
    if cl != [str(bodylen)]:
        return "content-length %r" % cl
    got = len(data) - end - 4
    if got != bodylen:
        return "body of %d bytes, not %d" % (got, bodylen)
    return None


def worker(deadline):
    while not os.path.exists(stopfile) and time.monotonic() < deadline:
        try:
            why = one()
        except OSError as e:
            why = "%s: %s" % (type(e).__name__, e)
        with lock:
            if why is None:
                counts["ok"] += 1
            else:
                counts["failed"] += 1
                reasons[why] = reasons.get(why, 0) + 1


deadline = time.monotonic() + maxsecs
threads = [threading.Thread(target=worker, args=(deadline,))
           for _ in range(workers)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for why, n in sorted(reasons.items()):
    print("failure x%d: %s" % (n, why))
print("ok %d failed %d" % (counts["ok"], counts["failed"]))
sys.exit(0 if counts["failed"] == 0 and counts["ok"] > 0 else 1)
