"""wsgi-app.py: a small WSGI application for the callscgi tests, served
by a real SCGI server (uwsgi with its python3 plugin).

The query string selects the answer (&-separated KEY[=VALUE]):
  env         the string variables of the environ, sorted, NAME=VALUE
  echo        the request body back (read from wsgi.input)
  big=N       N bytes (bytes(range(251)) repeated), in 64 KiB pieces
  status=S    start_response with status S ("404 Not Here")
  location=U  a Location header (status 302 unless given)
Otherwise: "wsgi ok pid=P method=M path=PATH_INFO".
"""
import os
import urllib.parse


def application(environ, start_response):
    q = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""),
                                    keep_blank_values=True))
    headers = [("Content-Type", "application/octet-stream"),
               ("X-Wsgi-Pid", str(os.getpid()))]
    status = q.get("status", "200 OK")
    if "location" in q:
        headers.append(("Location", q["location"]))
        status = q.get("status", "302 Found")
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if "env" in q:
        out = [("".join("%s=%s\n" % (k, v) for k, v in sorted(environ.items())
                        if isinstance(v, str))).encode("latin-1")]
    elif "echo" in q:
        out = [body]
    elif "big" in q:
        n = int(q["big"])
        data = (bytes(range(251)) * (n // 251 + 1))[:n]
        out = (data[i:i + 65536] for i in range(0, n, 65536))
    else:
        out = [("wsgi ok pid=%d method=%s path=%s\n" %
                (os.getpid(), environ["REQUEST_METHOD"],
                 environ.get("PATH_INFO", ""))).encode()]
    start_response(status, headers)
    return out
