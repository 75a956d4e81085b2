"""testapp.py: what the test applications (fcgi-responder.py,
scgi-server.py) share: their listening socket and their log.

listener(addr): the listening socket at ADDR, which is unix:PATH (or a
path with a '/'; a file left there is replaced), [HOST:]PORT (host
127.0.0.1 by default), or None for standard input, as callfcgi,
callscgi and multifscgi pass it.

Log(path): a callable that appends one line to PATH (nothing if PATH
is None), safe from several threads.
"""
import os
import socket
import threading


def listener(addr):
    if addr is None:
        return socket.socket(fileno=os.dup(0))
    if addr.startswith("unix:") or "/" in addr:
        path = addr[5:] if addr.startswith("unix:") else addr
        if os.path.exists(path):
            os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
    else:
        host, _, port = addr.rpartition(":")
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host or "127.0.0.1", int(port)))
    s.listen(128)
    return s


class Log:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    def __call__(self, msg):
        if self.path:
            with self.lock, open(self.path, "a") as f:
                f.write(msg + "\n")
