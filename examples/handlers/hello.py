#!/usr/bin/env python3
"""hello.py: the persistent handler of hello.c in Python, with only the
standard library.

Standard input is a SOCK_SEQPACKET socket.  Each datagram is one request
(ashd(7)): method, URL, version, rest string, then header name/value
pairs, every string NUL-terminated, then an empty string; it carries the
response socket as its one descriptor (SCM_RIGHTS).  End of input means
stop.
"""
import re
import signal
import socket
import sys

MAX_DGRAM = 128 * 1024


def parse(data):
    parts = data.split(b"\0")
    if len(parts) < 6 or parts[-1] != b"" or parts[-2] != b"":
        return None
    method, url, version, rest = (p.decode("latin-1") for p in parts[:4])
    fields = parts[4:-2]
    if len(fields) % 2:
        return None
    headers = [(fields[i].decode("latin-1"), fields[i + 1].decode("latin-1"))
               for i in range(0, len(fields), 2)]
    return method, url, version, rest, headers


def header(headers, name):
    for n, v in headers:
        if n.lower() == name.lower():
            return v
    return None


def serve(req, out):
    method, url, _version, rest, headers = req
    m = re.search(r"[?&]name=([A-Za-z0-9_-]+)", url)
    name = m.group(1)[:63] if m else "world"
    body = ("Hello, %s!\nfrom: python\nmethod: %s\nrest: %s\nuser-agent: %s\n"
            % (name, method, rest, header(headers, "User-Agent") or "-")
            ).encode("latin-1")
    head = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: %d\r\n\r\n" % len(body)).encode("latin-1")
    out.sendall(head + body)    # htparser leaves it out after a HEAD


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    sock = socket.socket(fileno=0)
    while True:
        data, fds, _flags, _addr = socket.recv_fds(sock, MAX_DGRAM, 1)
        if not data and not fds:
            return 0                    # end of input: stop
        for fd in fds[1:]:
            socket.socket(fileno=fd).close()
        if not fds:
            continue
        with socket.socket(fileno=fds[0]) as out:
            req = parse(data)
            try:
                if req is None:
                    out.sendall(b"HTTP/1.1 400 Bad Request\r\n"
                                b"Content-Length: 0\r\n\r\n")
                else:
                    serve(req, out)
            except OSError as e:        # the client went away
                print("hello.py: %s" % e, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
