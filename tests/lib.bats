#!/usr/bin/env bats
# lib.bats: the test handlers the other suites rely on work on their
# own, without htparser: echo.sh as a transient handler with its
# standard input and output redirected to files, echo-handler as a
# persistent handler fed request datagrams by a small python3 driver.

load helper

# The driver: starts echo-handler with a SOCK_SEQPACKET socket on its
# stdin, sends each request as a datagram carrying one end of a fresh
# stream socketpair, writes the body and EOF, and prints the response.
#   handler_request METHOD URL BODY [NAME VALUE]...
# Exits with the handler's exit status after closing its stdin.
DRIVE_PY='
import os, socket, subprocess, sys

handler, method, url, body = sys.argv[1:5]
hdrs = sys.argv[5:]
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([handler], stdin=b)
b.close()
rest = url.split("?")[0].lstrip("/")
parts = [method, url, "HTTP/1.1", rest] + hdrs
dgram = b"".join(x.encode() + b"\0" for x in parts) + b"\0"
c, h = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
socket.send_fds(a, [dgram], [h.fileno()])
h.close()
try:
    # The handler may close before it reads (?close): not an error here.
    c.sendall(body.encode())
    c.shutdown(socket.SHUT_WR)
except (BrokenPipeError, ConnectionResetError):
    pass
c.settimeout(5)
out = bytearray()
while True:
    d = c.recv(65536)
    if not d:
        break
    out.extend(d)
sys.stdout.buffer.write(bytes(out))
sys.stdout.flush()
a.close()
sys.exit(p.wait(timeout=5))
'

handler_request() {
	python3 -c "$DRIVE_PY" "$ECHO_HANDLER" "$@"
}

@test "echo.sh: a complete response from its arguments, REQ_* and body" {
	printf 'the body\n' >"$TEST_TMP/in"
	env -i PATH="$PATH" HTTP_VERSION=HTTP/1.0 REQ_X_B=2 REQ_HOST=example \
	    "$ECHO_SH" -x GET '/a/b?c=d' a/b <"$TEST_TMP/in" >"$TEST_TMP/out"
	expected=$(printf '%s\r\n' 'HTTP/1.1 200 OK' 'Content-Type: text/plain' '')
	expected+=$'\narg 1: -x\narg 2: GET\narg 3: /a/b?c=d\narg 4: a/b'
	expected+=$'\nHTTP_VERSION=HTTP/1.0\nREQ_HOST=example\nREQ_X_B=2'
	expected+=$'\nbody:\nthe body'
	assert_equal "$(cat "$TEST_TMP/out")" "$expected"
}

@test "echo.sh: is executable and works without a body" {
	[ -x "$ECHO_SH" ]
	run "$ECHO_SH" HEAD / '' </dev/null
	assert_status 0
	assert_equal "$(status_codes "$output")" 200
	assert_contains "$output" $'arg 3: \n'
	assert_equal "${output##*$'\n'}" "body:"
}

@test "echo-handler: describes the request it received" {
	[ -x "$ECHO_HANDLER" ]
	run handler_request POST '/x/y?z' 'hello' Host example X-B 'two words'
	assert_status 0
	expected=$'method POST\nurl /x/y?z\nversion HTTP/1.1\nrest x/y'
	expected+=$'\nheader Host: example\nheader X-B: two words\nbody-length 5'
	expected+=$'\nsighup 0'
	assert_equal "$(status_codes "$output")" 200
	assert_equal "$(header_value Content-Type "$output")" text/plain
	assert_equal "$(header_value Content-Length "$output")" \
	    "$(( ${#expected} + 1 ))"
	assert_equal "$(body_of "$output")" "$expected"
}

@test "echo-handler: echo, status, header, lf and nolength" {
	run handler_request PUT '/?echo&status=404&header=X-T:a%20b&lf' 'abc'
	assert_status 0
	assert_equal "$output" $'HTTP/1.1 404 Not Found\nContent-Type: text/plain\nContent-Length: 3\nX-T: a b\n\nabc'
	run handler_request GET '/?nolength&status=201' ''
	assert_status 0
	assert_equal "$(status_codes "$output")" 201
	run header_value Content-Length "$output"
	assert_status 1
	run handler_request GET '/?status=204' ''
	assert_equal "$output" $'HTTP/1.1 204 No Content\r\n\r'
}

@test "echo-handler: size=N streams the pattern" {
	run handler_request GET '/?size=100000' ''
	assert_status 0
	assert_equal "$(header_value Content-Length "$output")" 100000
	body=$(body_of "$output")
	assert_equal "${#body}" 100000
	assert_equal "${body:0:20}" 0123456789abcdef0123
	assert_equal "${body:99984}" 0123456789abcdef
}

@test "echo-handler: close and partial" {
	run handler_request GET '/?close' ''
	assert_status 0
	assert_equal "$output" ""
	run handler_request GET '/?partial' ''
	assert_status 0
	assert_equal "$output" $'HTTP/1.1 200 OK\r\nContent-'
}

@test "echo-handler: duplex passes a socket that echoes in upper case" {
	run python3 -c '
import socket, subprocess, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([sys.argv[1]], stdin=b)
b.close()
c, h = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
socket.send_fds(a, [b"GET\0/?duplex\0HTTP/1.1\0\0\0"], [h.fileno()])
h.close()
c.settimeout(5)
data, fds, _, _ = socket.recv_fds(c, 4096, 2)
sys.stdout.write(data.decode())
assert len(fds) == 1, fds
d = socket.socket(fileno=fds[0])
d.settimeout(5)
d.sendall(b"hello, world")
d.shutdown(socket.SHUT_WR)
out = b""
while True:
    x = d.recv(4096)
    if not x:
        break
    out += x
sys.stdout.write("duplex:" + out.decode())
a.close()
sys.exit(p.wait(timeout=5))
' "$ECHO_HANDLER"
	assert_status 0
	assert_equal "$(status_codes "$output")" 101
	assert_equal "$(header_value X-Ash-Switch "$output")" duplex
	assert_equal "${output##*$'\r\n\r\n'}" "duplex:HELLO, WORLD"
}

@test "echo-handler: a slow request does not hold up the next one" {
	run python3 -c '
import socket, subprocess, sys, time
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([sys.argv[1]], stdin=b)
b.close()
socks = []
for url in ("/slow?sleep=1000", "/fast"):
    c, h = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    dg = b"GET\0" + url.encode() + b"\0HTTP/1.1\0\0\0"
    socket.send_fds(a, [dg], [h.fileno()])
    h.close()
    c.shutdown(socket.SHUT_WR)
    c.settimeout(5)
    socks.append(c)
def readall(c):
    out = b""
    while True:
        x = c.recv(4096)
        if not x:
            return out
        out += x
t0 = time.monotonic()
fast = readall(socks[1])
t1 = time.monotonic() - t0
slow = readall(socks[0])
t2 = time.monotonic() - t0
print("fast %s in %.2f" % (b"url /fast" in fast, t1))
print("slow %s in %.2f" % (b"url /slow?sleep=1000" in slow, t2))
a.close()
sys.exit(p.wait(timeout=5))
' "$ECHO_HANDLER"
	assert_status 0
	assert_match "$output" $'^fast True in 0\\.[0-4][0-9]\nslow True in (0\\.9|1\\.)'
}
