#!/usr/bin/env python3
"""ashd-wsgi-env.py: a persistent ashd handler that answers each request
with the SCRIPT_NAME and PATH_INFO that ashd's own Python WSGI handler
(ashd-wsgi3 of ashd 0.13, as used with its wsgidir module) would give
the application, so that the suites can check that ashd's handlers see
the same under this project's dirplex as under ashd's.

ashd-wsgi3 derives them from the raw URL and the rest string alone:
  - the name is the URL without its query, left percent-encoded;
  - if the name ends with the rest string, that end is cut off (an
    empty rest cuts nothing);
  - a name that is then exactly "/" becomes "" and the path info gets a
    "/" in front (the root of the URL space);
  - SCRIPT_NAME is the name, PATH_INFO the percent-decoded rest.
This is a re-statement of that rule for the tests, written here; the
handler also reports X-Ash-File, from which ashd-wsgi3 takes
SCRIPT_FILENAME.

The requests arrive as ashd request datagrams on standard input (a
SOCK_SEQPACKET socket), each carrying the response socket.  The answer
is text/plain, lines "SCRIPT_NAME=...", "PATH_INFO=...", "FILE=...".
"""
import array
import socket
import sys


def unquote(b):
    """Percent-decoding as ashd-wsgi3 does it: a malformed escape makes
    it give up, and the rest string is then used undecoded."""
    out = bytearray()
    i = 0
    try:
        while i < len(b):
            if b[i] == ord("%"):
                if i + 3 > len(b):
                    raise ValueError("incomplete escape")
                out.append(int(b[i + 1:i + 3].decode("ascii"), 16))
                i += 3
            else:
                out.append(b[i])
                i += 1
    except ValueError:
        return b
    return bytes(out)


def derive(url, rest):
    name = url.split(b"?", 1)[0]
    pinfo = unquote(rest)
    if name[-len(rest):] == rest:
        name = name[:-len(rest)]
    if name == b"/":
        pinfo = b"/" + pinfo
        name = b""
    return name, pinfo


def serve(dgram, fd):
    parts = dgram.split(b"\0")
    method, url, version, rest = parts[:4]
    hdrs = parts[4:]
    xfile = b""
    for i in range(0, len(hdrs) - 1, 2):
        if hdrs[i].lower() == b"x-ash-file":
            xfile = hdrs[i + 1]
    name, pinfo = derive(url, rest)
    body = (b"SCRIPT_NAME=" + name + b"\nPATH_INFO=" + pinfo +
            b"\nFILE=" + xfile + b"\n")
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    with socket.socket(fileno=fd) as s:
        s.sendall(head + (b"" if method == b"HEAD" else body))


def main():
    sk = socket.socket(fileno=sys.stdin.fileno())
    fdsize = array.array("i").itemsize
    while True:
        data, anc, flags, addr = sk.recvmsg(65536, socket.CMSG_SPACE(
            4 * fdsize))
        if not data:
            break
        fds = array.array("i")
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(cdata[:len(cdata) - len(cdata) % fdsize])
        if not fds:
            continue
        for extra in fds[1:]:
            socket.socket(fileno=extra).close()
        serve(data, fds[0])


if __name__ == "__main__":
    main()
