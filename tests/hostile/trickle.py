#!/usr/bin/env python3
# trickle.py: a slow client for the suites.
#
# A client that sends a request at RATE bytes a second, in pieces ten
# times a second, for at most SECS seconds, reading what comes back:
#   trickle.py PORT head|body RATE SECS [BODYLEN]
# "head" sends an endless head; "body" a complete head and then a body
# of BODYLEN bytes (default: more than it can send).  Prints "sent N
# after T s: STATUS" with the status of the response (or "-"), or
# "closed" if the connection ended without one.
import socket, sys, time
port, what, rate, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
blen = int(sys.argv[5]) if len(sys.argv) > 5 else 10**9
s = socket.create_connection(("127.0.0.1", port), timeout=5)
if what == "head":
    data = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 100000
else:
    s.sendall(b"POST /?echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % blen)
    data = b"x" * min(blen, int(rate * secs) + 1000)
step = max(1, int(rate / 10))
t0 = time.monotonic()
sent, got, end = 0, b"", None
s.setblocking(False)
while end is None and time.monotonic() - t0 < secs:
    if sent < len(data):
        try:
            sent += s.send(data[sent:sent + step])
        except BlockingIOError:
            pass
        except OSError:
            end = "closed"
    time.sleep(0.1)
    while True:
        try:
            d = s.recv(65536)
        except BlockingIOError:
            break
        except OSError:
            d = b""
        if not d:
            end = "closed"
            break
        got += d
    if b"\r\n\r\n" in got:
        end = got.split(b" ")[1].decode()
print("sent %d after %.1f s: %s" % (sent, time.monotonic() - t0, end or "-"))
