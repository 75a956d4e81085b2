#!/usr/bin/env python3
"""fcgi-responder.py: a small FastCGI 1.0 Responder for the callfcgi tests.

usage: fcgi-responder.py [--mpx] [--max-reqs N] [--log FILE] [ADDRESS]

ADDRESS is unix:PATH (or a path with a '/'), or [HOST:]PORT (host
127.0.0.1 by default).  Without it the listening socket is standard
input, as callfcgi passes it.  --mpx answers FCGI_MPXS_CONNS=1 and runs
the requests of one connection concurrently; without it a second
BEGIN_REQUEST on a busy connection is refused with CANT_MPX_CONN (and
logged).  Every connection has its own thread.

The query string selects what a request does (&-separated KEY[=VALUE]):
  echo          the request body back          env    the params, sorted
  status=N      Status: N                      location=URL  Location:
  sleep=MS      wait first (an abort cuts it)  stderr=TEXT   a STDERR line
  big=N         N bytes (bytes(range(251)) repeated) in 8000-byte records
  slowbody      1000 bytes every 50 ms, 400 times, until aborted
  bad           a head without its blank line, then END_REQUEST
  bad=close     the same, then the connection is closed
  nohead        END_REQUEST without any STDOUT
  overloaded, unknownrole, cantmpx   END_REQUEST with that status
  crash         a STDERR line, then the whole process exits (status 3)
  idleclose=MS  after the response, close the kept-alive connection if
                no other request came on it within MS ms
  pidlog=FILE   append "pid=P method=M" to FILE first (one line per run)
  oneshot       "oneshot" and the query as the body, the whole response
                (STDOUT records, their end, END_REQUEST) in one write,
                as php-cgi sends a small page; with status=N too
  split=MS      the head and "first", then MS ms later "second" and
                the end, in two writes
  lastreset=MS  the connection's last request, as php-cgi's at its
                PHP_FCGI_MAX_REQUESTS: answered, then nothing more is
                read, and after MS ms the connection is closed (reset,
                if a request came meanwhile)
Otherwise: "ok pid=P conn=C nth=N query=Q".

The log (--log FILE, one line per event, appended):
  start pid=P                  listening
  open conn=C                  a connection accepted (C counts from 1)
  getvalues conn=C names=A,B   FCGI_GET_VALUES received
  begin conn=C id=I keep=K nth=N active=A pid=P
                               N: requests on C so far, this one
                               included; A: requests running on C now
  refused conn=C id=I          CANT_MPX_CONN for a second request
  abort conn=C id=I            FCGI_ABORT_REQUEST received
  end conn=C id=I status=S     END_REQUEST sent (S: protocol status)
  close conn=C requests=N      the connection is gone
"""
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse

import testapp

(BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, STDERR, DATA, GETV, GETVR,
 UNKNOWN) = range(1, 12)
COMPLETE, CANT_MPX, OVERLOADED, UNKNOWN_ROLE = range(4)

mpx, maxreqs, logfile, addr = False, 100, None, None
args = sys.argv[1:]
while args:
    a = args.pop(0)
    if a == "--mpx":
        mpx = True
    elif a == "--max-reqs":
        maxreqs = int(args.pop(0))
    elif a == "--log":
        logfile = args.pop(0)
    else:
        addr = a

log = testapp.Log(logfile)


def nv_pairs(data):
    out, i = [], 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] & 0x80:
                lens.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7fffffff)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        out.append((bytes(data[i:i + lens[0]]),
                    bytes(data[i + lens[0]:i + lens[0] + lens[1]])))
        i += lens[0] + lens[1]
    return out


def nv_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


class Req:
    def __init__(self, rid, role, keep):
        self.rid, self.role, self.keep = rid, role, keep
        self.params, self.body = bytearray(), bytearray()
        self.aborted = threading.Event()
        self.ended = False


class Conn:
    count = 0
    countlock = threading.Lock()

    def __init__(self, sock):
        with Conn.countlock:
            Conn.count += 1
            self.num = Conn.count
        self.sock, self.reqs, self.nth = sock, {}, 0
        self.lock = threading.Lock()

    @staticmethod
    def rec(typ, rid, data=b""):
        pad = -len(data) % 8
        return (struct.pack(">BBHHBx", 1, typ, rid, len(data), pad) + data +
                bytes(pad))

    def record(self, typ, rid, data=b""):
        with self.lock:
            self.sock.sendall(self.rec(typ, rid, data))

    def oneshot(self, r, data):
        """The whole response and END_REQUEST in one write."""
        with self.lock:
            r.ended = True
            self.reqs.pop(r.rid, None)
            self.sock.sendall(self.rec(STDOUT, r.rid, data) +
                              self.rec(STDOUT, r.rid) +
                              self.rec(END, r.rid,
                                       struct.pack(">IB3x", 0, COMPLETE)))
        log("end conn=%d id=%d status=%d" % (self.num, r.rid, COMPLETE))
        if not r.keep:
            self.shut()

    def stream(self, typ, rid, data, size=8000):
        for i in range(0, len(data), size):
            self.record(typ, rid, bytes(data[i:i + size]))

    def end(self, r, status=COMPLETE):
        with self.lock:
            if r.ended:
                return
            r.ended = True
            self.reqs.pop(r.rid, None)   # before END: the next may follow
        try:
            self.stream(STDOUT, r.rid, b"")
            self.record(END, r.rid, struct.pack(">IB3x", 0, status))
        except OSError:
            pass
        log("end conn=%d id=%d status=%d" % (self.num, r.rid, status))
        if not r.keep:
            self.shut()

    def shut(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def recvn(self, n):
        buf = bytearray()
        while len(buf) < n:
            d = self.sock.recv(n - len(buf))
            if not d:
                raise EOFError
            buf += d
        return buf

    def serve(self):
        log("open conn=%d" % self.num)
        try:
            while True:
                _, typ, rid, clen, plen = struct.unpack(">BBHHBx",
                                                        self.recvn(8))
                data = self.recvn(clen + plen)[:clen]
                self.dispatch(typ, rid, data)
        except (EOFError, OSError):
            pass
        for r in list(self.reqs.values()):
            r.aborted.set()
        log("close conn=%d requests=%d" % (self.num, self.nth))
        self.sock.close()

    def dispatch(self, typ, rid, data):
        r = self.reqs.get(rid)
        if typ == GETV:
            names = [n.decode() for n, _ in nv_pairs(data)]
            log("getvalues conn=%d names=%s" % (self.num, ",".join(names)))
            vals = {"FCGI_MAX_CONNS": "100", "FCGI_MAX_REQS": str(maxreqs),
                    "FCGI_MPXS_CONNS": "1" if mpx else "0"}
            out = b"".join(nv_len(len(n)) + nv_len(len(vals[n])) +
                           n.encode() + vals[n].encode()
                           for n in names if n in vals)
            self.record(GETVR, 0, out)
        elif typ == BEGIN:
            role, flags = struct.unpack(">HB", data[:3])
            r = Req(rid, role, flags & 1)
            if self.reqs and not mpx:
                log("refused conn=%d id=%d" % (self.num, rid))
                self.record(END, rid, struct.pack(">IB3x", 0, CANT_MPX))
                return
            with self.lock:
                self.reqs[rid] = r
            self.nth += 1
            log("begin conn=%d id=%d keep=%d nth=%d active=%d pid=%d" %
                (self.num, rid, r.keep, self.nth, len(self.reqs), os.getpid()))
        elif typ not in (ABORT, PARAMS, STDIN, DATA):
            self.record(UNKNOWN, 0, bytes([typ]) + bytes(7))
        elif r is None:
            return
        elif typ == ABORT:
            log("abort conn=%d id=%d" % (self.num, rid))
            r.aborted.set()
            if not hasattr(r, "thread"):
                self.end(r)
        elif typ == PARAMS:
            r.params += data
        elif typ == STDIN and data:
            r.body += data
        elif typ == STDIN and b"lastreset=" in r.params:
            # Answered in the reading thread, which then reads no more.
            env = dict(nv_pairs(r.params))
            q = urllib.parse.parse_qs(env.get(b"QUERY_STRING", b"").decode())
            self.run(r)
            time.sleep(int(q["lastreset"][0]) / 1000)
            log("lastreset conn=%d" % self.num)
            raise EOFError
        elif typ == STDIN:
            r.thread = threading.Thread(target=self.run, args=(r,),
                                        daemon=True)
            r.thread.start()

    def run(self, r):
        try:
            self.respond(r)
        except OSError:
            pass

    def respond(self, r):
        env = dict((n.decode("latin-1"), v.decode("latin-1"))
                   for n, v in nv_pairs(r.params))
        qs = env.get("QUERY_STRING", "")
        q = dict(urllib.parse.parse_qsl(qs, keep_blank_values=True))
        out = lambda b: self.stream(STDOUT, r.rid, b)
        if r.role != 1 or "unknownrole" in q:
            return self.end(r, UNKNOWN_ROLE)
        if "pidlog" in q:
            with open(q["pidlog"], "a") as f:
                f.write("pid=%d method=%s\n" % (os.getpid(),
                                                env.get("REQUEST_METHOD")))
        if "sleep" in q:
            r.aborted.wait(int(q["sleep"]) / 1000)
        if "stderr" in q:
            self.stream(STDERR, r.rid, (q["stderr"] + "\n").encode())
        if "crash" in q:
            self.stream(STDERR, r.rid, b"crashing\n")
            os._exit(3)
        for key, st in (("overloaded", OVERLOADED), ("cantmpx", CANT_MPX),
                        ("nohead", COMPLETE)):
            if key in q:
                return self.end(r, st)
        if "oneshot" in q:
            head = "Content-Type: text/plain\n"
            if "status" in q:
                head += "Status: %s Test\n" % q["status"]
            body = "" if "status" in q else "oneshot %s\n" % qs
            return self.oneshot(r, (head + "\n" + body).encode())
        if "split" in q:
            out(b"Content-Type: text/plain\n\nfirst\n")
            time.sleep(int(q["split"]) / 1000)
            out(b"second\n")
            return self.end(r)
        if "bad" in q:
            out(b"Content-Type: text/plain\nthis is no header line\n")
            if q["bad"] == "close":
                return self.shut()
            return self.end(r)
        head = "Content-Type: %s\n" % ("application/octet-stream"
                                       if "echo" in q or "big" in q
                                       else "text/plain")
        if "status" in q:
            head += "Status: %s Test\n" % q["status"]
        if "location" in q:
            head += "Location: %s\n" % q["location"]
        out(head.encode() + b"\n")
        if "echo" in q:
            out(r.body)
        elif "env" in q:
            out("".join("%s=%s\n" % kv for kv in sorted(env.items()))
                .encode("latin-1"))
        elif "big" in q:
            n, block = int(q["big"]), bytes(range(251)) * 800
            for off in range(0, n, len(block)):
                out(block[:n - off])
        elif "slowbody" in q:
            for i in range(400):
                if r.aborted.is_set():
                    break
                out(b"slow %04d " % i + b"." * 990)
                time.sleep(0.05)
        else:
            out(("ok pid=%d conn=%d nth=%d query=%s\n" %
                 (os.getpid(), self.num, self.nth, qs)).encode())
        self.end(r)
        if "idleclose" in q:
            threading.Timer(int(q["idleclose"]) / 1000, self.idleclose,
                            (self.nth,)).start()

    def idleclose(self, nth):
        if self.nth == nth and not self.reqs:
            log("idleclose conn=%d" % self.num)
            self.shut()


def main():
    ls = testapp.listener(addr)
    log("start pid=%d" % os.getpid())
    while True:
        try:
            sock, _ = ls.accept()
        except InterruptedError:
            continue
        threading.Thread(target=Conn(sock).serve, daemon=True).start()


if __name__ == "__main__":
    main()
