#!/usr/bin/env python3
# raw-handler.py: a persistent root handler for htparser that answers
# every request with bytes the request chooses, so that a suite can make
# a handler frame its response in any way, valid or not.
#
# The response is the query string of the URL, percent-decoded
# ("GET /?HTTP/1.1%20200%20OK%0d%0a..."), written verbatim; a "%7c"
# ('|') in it splits the response into parts written a tenth of a
# second apart.  Without a query it answers 200 with a body of "path
# REST\n"; the rest string "slowread/SECS" makes it wait SECS seconds
# before it reads the request body, and answer 200 "read N\n" (N the
# bytes of the body).  Otherwise it never reads the body.  It serves one
# request at a time.  Requests come as ashd(7) request datagrams on standard
# input (SOCK_SEQPACKET), each with the response socket.
import os
import socket
import sys
import time
import urllib.parse


def slowread(s, secs):
    time.sleep(secs)
    n = 0
    while True:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
    body = b"read %d\n" % n
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body


def serve(fd, url, rest):
    if rest.startswith("slowread/"):
        with socket.socket(fileno=fd) as s:
            try:
                s.sendall(slowread(s, float(rest[9:])))
            except OSError:
                pass
        return
    if "?" in url:
        raw = urllib.parse.unquote_to_bytes(url.split("?", 1)[1])
    else:
        body = b"path " + rest.encode("latin-1") + b"\n"
        raw = (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" %
               len(body)) + body
    with socket.socket(fileno=fd) as s:
        try:
            for i, part in enumerate(raw.split(b"|")):
                if i:
                    time.sleep(0.1)
                s.sendall(part)
        except OSError:
            pass


def main():
    sock = socket.socket(fileno=0)
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 1 << 17, 4)
        except InterruptedError:
            continue
        if not msg:
            return
        parts = msg.split(b"\0")
        if len(parts) < 4 or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            continue
        serve(fds[0], parts[1].decode("latin-1"), parts[3].decode("latin-1"))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
