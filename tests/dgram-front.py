#!/usr/bin/env python3
"""dgram-front.py: a test front that speaks the request datagram protocol
of ashd(7) directly to a persistent handler, standing where htparser
stands, so that tests can send many requests from many client
addresses (X-Ash-Address) with precise timing, without real clients.

usage: dgram-front.py STEP... -- HANDLER [ARGS...]
       dgram-front.py --sink

The handler is started with one end of a SOCK_SEQPACKET pair on its
standard input.  Each request is a datagram (GET, the URL, HTTP/1.1, the
rest string, Host and X-Ash-Address headers) carrying one end of a fresh
stream socketpair; the front keeps the other end, shuts its sending
side down (the request has no body, as htparser does after a body) and
reads the response from it.  The steps run in order:

  send ADDR N [URL]  send N requests from ADDR ("-": no X-Ash-Address);
                     they are numbered from 1 in the order sent
  say TEXT           print TEXT (a mark among the handler's log lines)
  sync               print "sync" and wait for a line on standard input
                     (the test changes something meanwhile)
  warm               send one request for /warm from 198.51.100.1 and
                     wait (up to
                     10 s) for its answer, so that the handler and its
                     children are up before what is measured; it is not
                     numbered nor printed
  every MS           the next sends are MS milliseconds apart
  wait MS            sleep, reading responses meanwhile
  drop I [J]         close the client end of requests I..J (the client
                     leaves)
  collect [MS]       wait up to MS (default 10000) for every response,
                     then print one line per request not printed yet:
                     "I ADDR STATUS MS RETRY" (MS: from its send to the
                     end of its response; RETRY: Retry-After or "-";
                     STATUS "-" if the client end was dropped, "none"
                     if nothing came)
  spray N [PREFIX]   send N requests, each from another address (IPv6
                     PREFIXhi:lo, default 2001:db8::), closing each client
                     end at once; prints "sprayed N in MS ms"
  rss                print "rss KB fds N" of the handler process
  hup                send SIGHUP to the handler
  eof                close the handler's input, wait for it to exit,
                     print "exit STATUS after MS ms"

--sink: be a persistent handler answering every request 200 with an
empty body at once (a cheap child for floods).
"""
import os
import selectors
import signal
import socket
import subprocess
import sys
import time


def sink():
    s = socket.socket(fileno=0)
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(s, 1 << 17, 4)
        except (ConnectionResetError, OSError):
            break
        if not msg and not fds:
            break
        for fd in fds:
            try:
                os.write(fd, resp)
            except OSError:
                pass
            os.close(fd)


class Front:
    def __init__(self, argv):
        self.a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen(argv, stdin=b)
        b.close()
        self.sel = selectors.DefaultSelector()
        self.reqs = []          # [addr, sent, sock, data, done, printed]
        self.gap = 0.0

    def dgram(self, addr, url):
        rest = url.split("?")[0].lstrip("/")
        parts = ["GET", url, "HTTP/1.1", rest, "Host", "front"]
        if addr != "-":
            parts += ["X-Ash-Address", addr]
        return b"".join(p.encode() + b"\0" for p in parts) + b"\0"

    def send(self, addr, url, keep=True):
        c, h = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        socket.send_fds(self.a, [self.dgram(addr, url)], [h.fileno()])
        h.close()
        if not keep:
            c.close()
            return
        c.shutdown(socket.SHUT_WR)
        c.setblocking(False)
        r = [addr, time.monotonic(), c, bytearray(), None, False]
        self.reqs.append(r)
        self.sel.register(c, selectors.EVENT_READ, r)

    def pump(self, until):
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            for key, _ in self.sel.select(left):
                r = key.data
                try:
                    d = r[2].recv(65536)
                except OSError:
                    d = b""
                if d:
                    r[3].extend(d)
                else:
                    self.finish(r)

    def finish(self, r):
        self.sel.unregister(r[2])
        r[2].close()
        r[4] = time.monotonic()

    def pending(self):
        return any(r[4] is None for r in self.reqs)

    def collect(self, ms):
        until = time.monotonic() + ms / 1000.0
        while self.pending() and time.monotonic() < until:
            self.pump(min(until, time.monotonic() + 0.05))
        for i, r in enumerate(self.reqs, 1):
            if r[5]:
                continue
            r[5] = True
            if r[4] is None:
                print("%d %s none - -" % (i, r[0]))
                continue
            if r[4] == "dropped":
                print("%d %s - - -" % (i, r[0]))
                continue
            head = bytes(r[3]).split(b"\r\n\r\n")[0].decode("latin-1")
            lines = head.split("\r\n")
            status = lines[0].split(" ")[1] if " " in lines[0] else "bad"
            retry = "-"
            for line in lines[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "retry-after":
                    retry = v.strip()
            print("%d %s %s %d %s" % (i, r[0], status,
                                      (r[4] - r[1]) * 1000, retry))
        sys.stdout.flush()

    def drop(self, i, j):
        for r in self.reqs[i - 1:j]:
            if r[4] is None:
                self.sel.unregister(r[2])
                r[2].close()
                r[4] = "dropped"

    def rss(self):
        kb = 0
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    kb = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % self.proc.pid))
        print("rss %d fds %d" % (kb, fds))
        sys.stdout.flush()


def main(argv):
    if argv == ["--sink"]:
        sink()
        return 0
    k = argv.index("--")
    steps, handler = argv[:k], argv[k + 1:]
    f = Front(handler)
    i = 0
    while i < len(steps):
        op = steps[i]
        if op == "send":
            addr, n = steps[i + 1], int(steps[i + 2])
            i += 3
            url = "/"
            if i < len(steps) and steps[i].startswith("/"):
                url = steps[i]
                i += 1
            for _ in range(n):
                f.send(addr, url)
                if f.gap:
                    f.pump(time.monotonic() + f.gap)
            continue
        if op == "say":
            print(steps[i + 1])
            sys.stdout.flush()
            i += 2
        elif op == "sync":
            print("sync")
            sys.stdout.flush()
            sys.stdin.readline()
            i += 1
        elif op == "warm":
            f.send("198.51.100.1", "/warm")
            f.reqs[-1][5] = True
            until = time.monotonic() + 10
            while f.reqs[-1][4] is None and time.monotonic() < until:
                f.pump(min(until, time.monotonic() + 0.05))
            f.reqs.pop()
            i += 1
        elif op == "every":
            f.gap = int(steps[i + 1]) / 1000.0
            i += 2
        elif op == "wait":
            f.pump(time.monotonic() + int(steps[i + 1]) / 1000.0)
            i += 2
        elif op == "drop":
            a = int(steps[i + 1])
            b = a
            i += 2
            if i < len(steps) and steps[i].isdigit():
                b = int(steps[i])
                i += 1
            f.drop(a, b)
        elif op == "collect":
            ms = 10000
            i += 1
            if i < len(steps) and steps[i].isdigit():
                ms = int(steps[i])
                i += 1
            f.collect(ms)
        elif op == "spray":
            n = int(steps[i + 1])
            i += 2
            prefix = "2001:db8::"
            if i < len(steps) and ":" in steps[i]:
                prefix = steps[i]
                i += 1
            t0 = time.monotonic()
            for j in range(n):
                f.send("%s%x:%x" % (prefix, j >> 16, j & 0xffff), "/",
                       keep=False)
            print("sprayed %d in %d ms" % (n, (time.monotonic() - t0) * 1000))
            sys.stdout.flush()
        elif op == "rss":
            f.rss()
            i += 1
        elif op == "hup":
            f.proc.send_signal(signal.SIGHUP)
            i += 1
        elif op == "eof":
            t0 = time.monotonic()
            f.a.close()
            try:
                st = f.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                st = "running"
            print("exit %s after %d ms" % (st, (time.monotonic() - t0) * 1000))
            sys.stdout.flush()
            i += 1
        else:
            sys.stderr.write("dgram-front: unknown step %s\n" % op)
            return 2
    if f.proc.poll() is None:
        f.proc.terminate()
        f.proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
