# helper.bash: what every bats suite loads (`load helper`).
#
# - Locates the build: ASHD_BUILDDIR (programs) and ASHD_SRCDIR (scripts,
#   fixtures), both defaulting to the repository top.
# - Starts programs in the background, each as its own process group
#   (setsid), and kills exactly those (by PID and group) in teardown.
# - Gives each test its own temporary directory, TEST_TMP.
# - Talks to servers on 127.0.0.1 only: free_port, wait_port, and
#   rawhttp / raw_request, a python3 socket client that sends exact bytes
#   (printf-style escapes, NUL included) and prints what comes back.
#
# Suites that need their own setup/teardown call common_setup and
# common_teardown from them.

_abspath() {
	(cd "$1" 2>/dev/null && pwd) || printf '%s\n' "$1"
}

ASHD_SRCDIR=$(_abspath "${ASHD_SRCDIR:-$BATS_TEST_DIRNAME/..}")
ASHD_BUILDDIR=$(_abspath "${ASHD_BUILDDIR:-$BATS_TEST_DIRNAME/..}")
export ASHD_SRCDIR ASHD_BUILDDIR
SRCDIR=$ASHD_SRCDIR
BUILDDIR=$ASHD_BUILDDIR

# ashd_prog NAME: the program NAME of the build, or under `make
# check-valgrind` (ASHD_VALGRIND, set by run-tests) its wrapper that runs
# it under memcheck.
ashd_prog() {
	if [ -n "${ASHD_VALGRIND:-}" ]; then
		echo "$ASHD_VALGRIND/bin/$1"
	else
		echo "$ASHD_BUILDDIR/$1/$1"
	fi
}

# Under valgrind everything runs tens of times slower: waits for
# processes to start and end are that much longer.
if [ -n "${ASHD_VALGRIND:-}" ]; then
	SLOW=10
else
	SLOW=1
fi

HTPARSER=$(ashd_prog htparser)
ECHO_HANDLER=$ASHD_BUILDDIR/tests/handlers/echo-handler
ECHO_SH=$ASHD_SRCDIR/tests/handlers/echo.sh

# ---------------------------------------------------------------------
# Set-up and teardown

common_setup() {
	BG_PIDS=()
	BG_GROUPS=()
	BG_REAPED=()
	BG_LOGS=()
	if [ -n "${BATS_TEST_TMPDIR:-}" ] && [ -d "$BATS_TEST_TMPDIR" ]; then
		TEST_TMP=$BATS_TEST_TMPDIR
		TEST_TMP_OWN=
	else
		TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ashd-test.XXXXXX")
		TEST_TMP_OWN=1
	fi
	export TEST_TMP
	export RAWHTTP_LOG=$TEST_TMP/rawhttp.log
}

common_teardown() {
	local i pid log
	kill_bg
	if [ -z "${BATS_TEST_COMPLETED:-}" ]; then
		# The test failed: show what the servers said.
		for log in "${BG_LOGS[@]}" "$RAWHTTP_LOG"; do
			[ -s "$log" ] || continue
			echo "--- $log"
			tail -n 40 "$log"
		done
	fi
	if [ -n "${TEST_TMP_OWN:-}" ] && [ -d "$TEST_TMP" ]; then
		rm -rf "$TEST_TMP"
	fi
	return 0
}

setup() {
	common_setup
}

teardown() {
	common_teardown
}

# proc_name PID: the name of PID's program (its comm), also when it runs
# under valgrind (whose comm is memcheck-*): then the first argument of
# valgrind's command line that is not an option.
proc_name() {
	local comm a
	comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
	case $comm in
	memcheck-*)
		while IFS= read -r -d '' a; do
			case $a in
			*valgrind* | -*) ;;
			*) echo "${a##*/}"; return 0 ;;
			esac
		done <"/proc/$1/cmdline"
		;;
	esac
	echo "$comm"
}

# proc_args PID: PID's command line, its arguments separated by spaces,
# without valgrind's part when it runs under valgrind.
proc_args() {
	local a args=()
	while IFS= read -r -d '' a; do
		args+=("$a")
	done <"/proc/$1/cmdline"
	case $(cat "/proc/$1/comm" 2>/dev/null) in
	memcheck-*)
		while [ ${#args[@]} -gt 0 ]; do
			case ${args[0]} in
			*valgrind* | -*) args=("${args[@]:1}") ;;
			*) break ;;
			esac
		done
		args[0]=${args[0]##*/}
		;;
	esac
	echo "${args[*]}"
}

# proc_alive PID: true while the process exists and is not a zombie.
proc_alive() {
	local state
	[ -r "/proc/$1/stat" ] || return 1
	state=$(sed -E 's/^.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) ||
	    return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# kill_bg: TERM every recorded process (and its group when it was
# started as one), KILL whatever is left after a short wait.  A process
# already reaped (untrack_pid) is not signalled any more, since its pid
# may be reused; its group still is, as it may have members left.
kill_bg() {
	local i pid n alive
	for i in "${!BG_PIDS[@]}"; do
		pid=${BG_PIDS[$i]}
		if [ -n "${BG_GROUPS[$i]}" ]; then
			kill -TERM -- "-$pid" 2>/dev/null || true
		fi
		if [ -z "${BG_REAPED[$i]:-}" ]; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
	done
	for ((n = 0; n < 40 * SLOW; n++)); do
		alive=
		for i in "${!BG_PIDS[@]}"; do
			if [ -z "${BG_REAPED[$i]:-}" ] &&
			    proc_alive "${BG_PIDS[$i]}"; then
				alive=1
			fi
		done
		[ -z "$alive" ] && break
		sleep 0.05
	done
	for i in "${!BG_PIDS[@]}"; do
		pid=${BG_PIDS[$i]}
		if [ -n "${BG_GROUPS[$i]}" ]; then
			kill -KILL -- "-$pid" 2>/dev/null || true
		fi
		if [ -z "${BG_REAPED[$i]:-}" ]; then
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	BG_PIDS=()
	BG_GROUPS=()
	BG_REAPED=()
	return 0
}

# untrack_pid PID: PID has been reaped; do not signal it in teardown.
untrack_pid() {
	local i
	for i in "${!BG_PIDS[@]}"; do
		if [ "${BG_PIDS[$i]}" = "$1" ]; then
			BG_REAPED[$i]=1
		fi
	done
}

# start_bg LOGFILE PROGRAM [ARGS...]: start PROGRAM in the background
# as the leader of a new process group (so that its children can be
# killed with it), stdin from /dev/null, stdout and stderr to LOGFILE.
# Sets BG_PID.  The process is a child of the test shell, so
# `wait $BG_PID` gives its exit status.
start_bg() {
	local log=$1
	shift
	if command -v setsid >/dev/null 2>&1; then
		# Not a group leader here, so setsid execs in place: $! is
		# the program itself.
		setsid "$@" </dev/null >>"$log" 2>&1 3>&- &
	else
		python3 -c 'import os, sys
os.setsid()
os.execvp(sys.argv[1], sys.argv[1:])' "$@" </dev/null >>"$log" 2>&1 3>&- &
	fi
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	BG_GROUPS+=(1)
	BG_REAPED+=("")
	BG_LOGS+=("$log")
}

# track_pid PID [group]: also kill PID (and its group) in teardown, for
# processes started some other way (a daemon's pid from its pid file).
track_pid() {
	BG_PIDS+=("$1")
	BG_GROUPS+=("${2:-}")
	BG_REAPED+=("")
}

# ---------------------------------------------------------------------
# Ports

# free_port: print a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_listening PORT: true if a socket listens on PORT (any address).
port_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:0000 0A " \
	    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# wait_port PORT [TIMEOUT] [PID]: wait until something listens on PORT;
# fail after TIMEOUT seconds (5), or at once if PID dies meanwhile.
wait_port() {
	local port=$1 timeout=${2:-5} pid=${3:-} i
	for ((i = 0; i < timeout * 50; i++)); do
		port_listening "$port" && return 0
		if [ -n "$pid" ] && ! proc_alive "$pid"; then
			echo "wait_port: process $pid exited before port $port" >&2
			return 1
		fi
		sleep 0.02
	done
	echo "wait_port: nothing listens on port $port after ${timeout}s" >&2
	return 1
}

# wait_port_closed PORT [TIMEOUT]: wait until nothing listens on PORT.
wait_port_closed() {
	local port=$1 timeout=${2:-5} i
	for ((i = 0; i < timeout * 50; i++)); do
		port_listening "$port" || return 0
		sleep 0.02
	done
	echo "wait_port_closed: port $port still listening after ${timeout}s" >&2
	return 1
}

# wait_exit PID [TIMEOUT]: wait for a background child of the test shell
# to exit; sets EXIT_STATUS.  Fails if it is still running after
# TIMEOUT seconds (5).
wait_exit() {
	local pid=$1 timeout=${2:-5} i
	for ((i = 0; i < timeout * 50; i++)); do
		proc_alive "$pid" || break
		sleep 0.02
	done
	if proc_alive "$pid"; then
		echo "wait_exit: process $pid still running after ${timeout}s" >&2
		return 1
	fi
	EXIT_STATUS=0
	wait "$pid" || EXIT_STATUS=$?
	untrack_pid "$pid"
}

# children_of PID: the pids of PID's child processes, one a line.
children_of() {
	local f
	if [ -r "/proc/$1/task/$1/children" ]; then
		tr ' ' '\n' <"/proc/$1/task/$1/children" | grep . || true
		return 0
	fi
	for f in /proc/[0-9]*/stat; do
		sed -nE "s/^([0-9]+) \(.*\) . $1 .*/\1/p" "$f" 2>/dev/null || true
	done
}

# children_named PID NAME: PID's children whose program is NAME.
children_named() {
	local c
	for c in $(children_of "$1"); do
		if [ "$(proc_name "$c")" = "$2" ]; then
			echo "$c"
		fi
	done
}

# ---------------------------------------------------------------------
# htparser

# start_htparser [OPTIONS...]: start htparser with OPTIONS (e.g.
# -o timeout-idle=1) on a free port of 127.0.0.1 with echo-handler as
# its root handler; wait for the port.  Exports PORT and HTPARSER_PID.
# HTPARSER_LOG is its stdout and stderr.
# wait_root PID: until htparser PID's root handler runs its own program
# (the port is bound before the root handler is started).
wait_root() {
	local i c
	for ((i = 0; i < 200 * SLOW; i++)); do
		for c in $(children_of "$1"); do
			[ "$(proc_name "$c")" != htparser ] && return 0
		done
		sleep 0.02
	done
	return 0
}

start_htparser() {
	local try
	HTPARSER_LOG=$TEST_TMP/htparser.log
	for try in 1 2 3; do
		PORT=$(free_port)
		start_bg "$HTPARSER_LOG" "$HTPARSER" "$@" \
		    "plain:port=$PORT,local=127.0.0.1" -- "$ECHO_HANDLER"
		HTPARSER_PID=$BG_PID
		if wait_port "$PORT" 5 "$HTPARSER_PID"; then
			export PORT HTPARSER_PID
			wait_root "$HTPARSER_PID"
			return 0
		fi
		# Lost a race for the port?  Try another one.
		kill -KILL -- "-$HTPARSER_PID" 2>/dev/null || true
		wait "$HTPARSER_PID" 2>/dev/null || true
		untrack_pid "$HTPARSER_PID"
	done
	echo "start_htparser: htparser did not start; its log:" >&2
	cat "$HTPARSER_LOG" >&2
	return 1
}

# ---------------------------------------------------------------------
# Raw HTTP over TCP

# The client behind rawhttp.  Operations run in order:
#   -s DATA   send DATA (printf-style escapes: \r \n \t \0 \xHH \\)
#   -f FILE   send FILE's bytes
#   -w SECS   sleep
#   -e TEXT   read until TEXT (escapes) has arrived after the previous match
#   -c        read until the server closes the connection
#   -r SECS   read whatever arrives within SECS
#   -S        shut down the sending direction (the server reads EOF)
#   -t SECS   timeout of the reads that follow (default 5)
#   -x        stop here (exit 0) if the server has closed the connection
# Everything received is written to stdout.  Exit status: 0 done, 3 the
# server did not close within the timeout (-c), 4 TEXT never came (-e),
# 5 cannot connect.  A reset counts as a close.  Send errors after the
# server closed are ignored (the reads then tell what happened).
# Diagnostics go to $RAWHTTP_LOG.
RAWHTTP_PY='
import codecs, os, socket, sys, time

def unesc(s):
    return codecs.escape_decode(s.encode("utf-8", "surrogateescape"))[0]

logf = os.environ.get("RAWHTTP_LOG")
def log(msg):
    if logf:
        with open(logf, "a") as f:
            f.write("rawhttp: %s\n" % msg)

port = int(os.environ["PORT"])
host = os.environ.get("RAWHTTP_HOST", "127.0.0.1")
timeout = 5.0
got = bytearray()
mark = 0
closed = False

def out(rc):
    sys.stdout.buffer.write(bytes(got))
    sys.stdout.buffer.flush()
    sys.exit(rc)

def read_once(deadline):
    """Read once; False on timeout."""
    global closed
    left = deadline - time.monotonic()
    if left <= 0:
        return False
    s.settimeout(left)
    try:
        d = s.recv(65536)
    except socket.timeout:
        return False
    except (ConnectionResetError, BrokenPipeError) as e:
        log("read: %s" % e)
        closed = True
        return True
    if not d:
        closed = True
    got.extend(d)
    return True

try:
    s = socket.create_connection((host, port), timeout=5)
except OSError as e:
    log("connect: %s" % e)
    out(5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def send(data):
    try:
        s.settimeout(timeout)
        s.sendall(data)
    except OSError as e:
        log("send: %s" % e)

args = sys.argv[1:]
i = 0
while i < len(args):
    op = args[i]
    arg = args[i + 1] if i + 1 < len(args) else None
    i += 1
    if op == "-s":
        send(unesc(arg)); i += 1
    elif op == "-f":
        with open(arg, "rb") as f:
            send(f.read())
        i += 1
    elif op == "-w":
        time.sleep(float(arg)); i += 1
    elif op == "-t":
        timeout = float(arg); i += 1
    elif op == "-S":
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            log("shutdown: %s" % e)
    elif op == "-e":
        want = unesc(arg); i += 1
        deadline = time.monotonic() + timeout
        while got.find(want, mark) < 0:
            if closed or not read_once(deadline):
                log("expected %r, not received (%s)" %
                    (want, "closed" if closed else "timeout"))
                out(4)
        mark = got.find(want, mark) + len(want)
    elif op == "-x":
        if closed:
            out(0)
    elif op == "-c":
        deadline = time.monotonic() + timeout
        while not closed:
            if not read_once(deadline):
                log("connection still open after %gs" % timeout)
                out(3)
    elif op == "-r":
        deadline = time.monotonic() + float(arg); i += 1
        while not closed and read_once(deadline):
            pass
    else:
        log("unknown operation %s" % op)
        out(2)
out(0)
'

# rawhttp OPERATIONS...: see RAWHTTP_PY; talks to 127.0.0.1:$PORT.
rawhttp() {
	python3 -c "$RAWHTTP_PY" "$@"
}

# raw_request DATA [TIMEOUT]: send DATA (printf-style escapes) in one
# write and print everything received until the server closes the
# connection (exit status 3 if it has not closed within TIMEOUT, 5 s).
raw_request() {
	rawhttp -t "${2:-5}" -s "$1" -c
}

# ---------------------------------------------------------------------
# Looking at responses

# A strict parser of a stream of HTTP/1.1 responses, as a client sees
# them: CRLF heads only, Content-Length or chunked framing (strictly
# parsed), or delimited by the close; no body after HEAD, 1xx, 204, 304;
# a 101 ends the stream (the rest is the switched protocol).  Prints
# "STATUS FRAMING BODYLENGTH" per response (FRAMING: length, chunked,
# close, none, head, switch), writes each head (CRs removed) to FILE.hN
# and body to FILE.N, and fails with "error: ..." at the first thing a
# client could not parse, including bytes left after the last response.
RESP_PY='
import re, sys

path = sys.argv[1]
heads = set(int(x) for x in sys.argv[2:])
data = open(path, "rb").read()
pos = 0
n = 0

def fail(msg):
    print("error: response %d: %s" % (n, msg))
    sys.exit(1)

def line_at(p):
    e = data.find(b"\r\n", p)
    if e < 0:
        fail("incomplete chunk line")
    return data[p:e], e + 2

while pos < len(data):
    n += 1
    end = data.find(b"\r\n\r\n", pos)
    if end < 0:
        fail("incomplete head: %r" % data[pos:pos + 80])
    raw = data[pos:end]
    pos = end + 4
    if b"\n" in raw.replace(b"\r\n", b"") or b"\r" in raw.replace(b"\r\n", b""):
        fail("bare LF or CR in the head")
    lines = raw.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] ([0-9]{3})( |$)", lines[0])
    if not m:
        fail("bad status line %r" % lines[0])
    status = int(m.group(1))
    hdrs = []
    for l in lines[1:]:
        if ":" not in l or l[0] in " \t":
            fail("bad header line %r" % l)
        k, v = l.split(":", 1)
        hdrs.append((k.lower(), v.strip()))
    with open("%s.h%d" % (path, n), "w") as f:
        f.write("\n".join(lines) + "\n")
    te = [v.lower() for k, v in hdrs if k == "transfer-encoding"]
    cl = [v for k, v in hdrs if k == "content-length"]
    body = b""
    if status == 101:
        framing = "switch"
        body = data[pos:]
        pos = len(data)
    elif n in heads:
        framing = "head"
    elif status < 200 or status in (204, 304):
        framing = "none"
        if te or (status == 204 and cl):
            fail("framing headers on a %d" % status)
    elif te:
        if te != ["chunked"]:
            fail("transfer-encoding %r" % te)
        if cl:
            fail("both Content-Length and Transfer-Encoding")
        framing = "chunked"
        parts = []
        while True:
            l, pos = line_at(pos)
            if not re.match(rb"^[0-9a-fA-F]+(;.*)?$", l):
                fail("bad chunk size line %r" % l)
            size = int(l.split(b";")[0], 16)
            if size == 0:
                break
            if pos + size + 2 > len(data):
                fail("short chunk")
            parts.append(data[pos:pos + size])
            if data[pos + size:pos + size + 2] != b"\r\n":
                fail("chunk data not followed by CRLF")
            pos += size + 2
        while True:
            l, pos = line_at(pos)
            if l == b"":
                break
        body = b"".join(parts)
    elif cl:
        if len(cl) != 1 or not cl[0].isdigit():
            fail("bad Content-Length %r" % cl)
        size = int(cl[0])
        if pos + size > len(data):
            fail("short body: %d of %d" % (len(data) - pos, size))
        framing = "length"
        body = data[pos:pos + size]
        pos += size
    else:
        framing = "close"
        body = data[pos:]
        pos = len(data)
    with open("%s.%d" % (path, n), "wb") as f:
        f.write(body)
    print("%d %s %d" % (status, framing, len(body)))
'

# resp_summary FILE [N...]: parse the responses in FILE (the Nth ones
# answer HEAD requests); see RESP_PY.
resp_summary() {
	python3 -c "$RESP_PY" "$@"
}

# resp_framing FILE [N...]: resp_summary without the body lengths.
resp_framing() {
	resp_summary "$@" | sed -E 's/ [0-9]+$//'
}

# status_codes TEXT: the status codes of every status line in TEXT,
# space-separated ("200 200 400").
status_codes() {
	printf '%s\n' "$1" |
	    sed -nE 's/^HTTP\/1\.[01] ([0-9]{3})( .*)?\r?$/\1/p' |
	    tr '\n' ' ' | sed 's/ $//'
}

# head_of TEXT: the first response head of TEXT, CRs removed, without
# the blank line.
head_of() {
	printf '%s\n' "$1" | tr -d '\r' | sed '/^$/q' | sed '/^$/d'
}

# body_of TEXT: what follows the first blank line of TEXT.
body_of() {
	printf '%s' "${1#*$'\r\n\r\n'}"
}

# header_value NAME TEXT: the value of the first NAME header in the
# first head of TEXT (case-insensitive name); fails if there is none.
header_value() {
	head_of "$2" | awk -v n="$1" '
	    NR > 1 {
		i = index($0, ":")
		if (i > 0 && tolower(substr($0, 1, i - 1)) == tolower(n)) {
			v = substr($0, i + 1)
			sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
			print v; found = 1; exit
		}
	    }
	    END { exit !found }'
}

# header_count NAME TEXT: how many NAME headers the first head has.
header_count() {
	head_of "$2" | awk -v n="$1" '
	    NR > 1 { i = index($0, ":")
		if (i > 0 && tolower(substr($0, 1, i - 1)) == tolower(n)) c++ }
	    END { print c + 0 }'
}

# ---------------------------------------------------------------------
# Assertions (each prints what differed and fails)

fail() {
	printf '%s\n' "$*" >&2
	return 1
}

# now_ms: milliseconds since the epoch.
now_ms() {
	date +%s%3N
}

assert_equal() {
	[ "$1" = "$2" ] ||
	    fail "expected: $(printf '%q' "$2")" \
		$'\n'"actual:   $(printf '%q' "$1")"
}

assert_contains() {
	[[ $1 == *"$2"* ]] ||
	    fail "expected to contain: $(printf '%q' "$2")" \
		$'\n'"in: $(printf '%q' "$1")"
}

assert_not_contains() {
	[[ $1 != *"$2"* ]] ||
	    fail "expected NOT to contain: $(printf '%q' "$2")" \
		$'\n'"in: $(printf '%q' "$1")"
}

assert_match() {
	[[ $1 =~ $2 ]] ||
	    fail "expected to match: $2"$'\n'"actual: $(printf '%q' "$1")"
}

# assert_status N: the last `run` exited with N.
assert_status() {
	[ "$status" -eq "$1" ] ||
	    fail "exit status $status, expected $1; output:"$'\n'"$output"
}

# use_build_path: put the built programs first on PATH, so that they find
# each other as handlers do, and make the shipped etc/ashd the one the
# configuration search finds through PATH (ENTRY/../etc/ashd), also in a
# build directory apart from the sources.
use_build_path() {
	local d
	PATH="$ASHD_SRCDIR/tests:$PATH"
	# Every program of the build: DIR/DIR (htparser/htparser ...).
	for d in "$ASHD_BUILDDIR"/*/; do
		d=${d%/}
		[ -f "$d/${d##*/}" ] && [ -x "$d/${d##*/}" ] && PATH="$d:$PATH"
	done
	[ -n "${ASHD_VALGRIND:-}" ] && PATH="$ASHD_VALGRIND/bin:$PATH"
	export PATH
}

# ---------------------------------------------------------------------
# Sites behind htparser (used by the dirplex, patplex, callcgi, callfcgi,
# sendfile and faults suites)

# put FILE LINE...: write the LINES to FILE, making its directory.
put() {
	local f=$1
	shift
	mkdir -p "$(dirname "$f")"
	printf '%s\n' "$@" >"$f"
}

# start_root HANDLER ARGS...: start htparser on a free port of 127.0.0.1
# with `HANDLER ARGS...` (found through PATH) as its root handler.  Sets
# PORT and HTPARSER_PID; both log to $SERVER_LOG.
start_root() {
	local try
	for try in 1 2 3; do
		PORT=$(free_port)
		start_bg "$SERVER_LOG" "$HTPARSER" \
		    "plain:port=$PORT,local=127.0.0.1" -- "$@"
		HTPARSER_PID=$BG_PID
		if wait_port "$PORT" 5 "$HTPARSER_PID"; then
			export PORT HTPARSER_PID
			wait_root "$HTPARSER_PID"
			return 0
		fi
		kill_bg
	done
	cat "$SERVER_LOG" >&2
	fail "htparser with $1 did not start"
}

# start_site DIRPLEX-ARGS...: start_root with dirplex.
start_site() {
	start_root dirplex "$@"
}

# get PATH [CURL OPTIONS...]: request PATH (sent as is); prints the
# status code; the head (CRs removed) goes to $TEST_TMP/head, the body
# (empty if none came) to $TEST_TMP/body.
get() {
	local path=$1
	shift
	rm -f "$TEST_TMP/head.raw" "$TEST_TMP/body"
	curl -sS -m 30 --path-as-is -D "$TEST_TMP/head.raw" \
	    -o "$TEST_TMP/body" -w '%{http_code}' "$@" \
	    "http://127.0.0.1:$PORT$path"
	touch "$TEST_TMP/body"
	tr -d '\r' <"$TEST_TMP/head.raw" >"$TEST_TMP/head"
}

# expect PATH CODE [CURL OPTIONS...]: PATH must answer CODE; otherwise
# fail showing the head, the body and the server's log.
expect() {
	local path=$1 want=$2 code
	shift 2
	code=$(get "$path" "$@")
	[ "$code" = "$want" ] ||
	    fail "$path $*: status $code, expected $want; head and body:"$'\n'"$(cat "$TEST_TMP/head" "$TEST_TMP/body" 2>/dev/null)"$'\nlog:\n'"$(tail -n 40 "${SERVER_LOG:-/dev/null}" 2>/dev/null)"
}

# field NAME: the response header NAME of the last get.
field() {
	header_value "$1" "$(cat "$TEST_TMP/head")"
}

body() {
	cat "$TEST_TMP/body"
}

# ---------------------------------------------------------------------
# Processes below a site, and waiting for things (the callfcgi,
# callscgi and multifscgi suites)

# start_time PID: the start time of PID (field 22 of its stat).
start_time() {
	sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $20 }'
}

# stamped_descendants PID: PID's descendants as PID:STARTTIME.
stamped_descendants() {
	local c
	[ -n "$1" ] || return 0
	for c in $(children_of "$1"); do
		echo "$c:$(start_time "$c")"
		stamped_descendants "$c"
	done
}

# kill_stamped PID:STARTTIME...: KILL each process (and its group) that
# is still the one stamped, so that nothing else is hit if a PID has
# been reused meanwhile.  For teardowns: applications run in process
# groups of their own, out of reach of kill_bg.
kill_stamped() {
	local p
	for p in "$@"; do
		if [ "$(start_time "${p%:*}")" = "${p#*:}" ]; then
			kill -KILL -- "-${p%:*}" 2>/dev/null || true
			kill -KILL "${p%:*}" 2>/dev/null || true
		fi
	done
}

# dirplex_pid: the dirplex under htparser.
dirplex_pid() {
	children_of "$HTPARSER_PID" | head -n 1
}

# var NAME: NAME's value in the last `env` or env.cgi body.
var() {
	grep -q "^$1=" "$TEST_TMP/body" || fail "$1 is not set"
	sed -n "s/^$1=//p" "$TEST_TMP/body"
}

# wait_in FILE TEXT [SECONDS]: wait until FILE contains TEXT.
wait_in() {
	local i
	for ((i = 0; i < ${3:-5} * 20; i++)); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "not in $1: $2"$'\n'"it has:"$'\n'"$(cat "$1" 2>/dev/null)"
}

# wait_log TEXT [SECONDS]: wait until $SERVER_LOG contains TEXT.
wait_log() {
	wait_in "$SERVER_LOG" "$@"
}

# wait_count N COMMAND...: wait (5 s) until COMMAND prints N lines.
wait_count() {
	local n=$1 i out
	shift
	for ((i = 0; i < 100 * SLOW; i++)); do
		out=$("$@")
		[ "$(printf '%s' "$out" | grep -c .)" = "$n" ] && return 0
		sleep 0.05
	done
	fail "expected $n lines from $*, got:"$'\n'"$out"
}

# gone PID [SECONDS]: wait until PID is no longer running.
gone() {
	local i
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		proc_alive "$1" || return 0
		sleep 0.05
	done
	fail "process $1 is still running: $(tr '\0' ' ' </proc/$1/cmdline)"
}

# stop_site [PID]: end htparser alone (not its group): dirplex and its
# handlers see the end of their input and exit as they do in
# production; then wait for PID (one of them) to be gone.
stop_site() {
	kill -TERM "$HTPARSER_PID"
	wait_exit "$HTPARSER_PID" 5
	[ -z "${1:-}" ] || gone "$1"
}

# wait_listening ADDRESS [PID]: wait (5 s) until something listens at
# ADDRESS (unix:PATH, or a TCP port); fail at once if PID dies.
wait_listening() {
	local i
	for ((i = 0; i < 250 * SLOW; i++)); do
		case $1 in
		unix:*) [ -S "${1#unix:}" ] && return 0 ;;
		*) port_listening "$1" && return 0 ;;
		esac
		[ -z "${2:-}" ] || proc_alive "$2" || break
		sleep 0.02
	done
	fail "nothing listens at $1"
}

# start_test_app SCRIPT ADDRESS [ARGS...]: one of the test applications
# (tests/fcgi-responder.py, tests/scgi-server.py) started here, not by
# a handler, at ADDRESS (unix:PATH or PORT), logging to $APP_LOG; waits
# until it listens.  Sets APP_PID.
start_test_app() {
	local script=$1 addr=$2
	shift 2
	start_bg "$TEST_TMP/app.out" python3 "$script" --log "$APP_LOG" \
	    "$@" "$addr"
	APP_PID=$BG_PID
	wait_listening "$addr" "$APP_PID" || {
		cat "$TEST_TMP/app.out" >&2
		fail "${script##*/} at $addr did not start"
	}
}

# stop_app PID: kill an application started by start_test_app, and
# wait for it.
stop_app() {
	kill -KILL "$1" 2>/dev/null || true
	wait_exit "$1" 5 || true
}

# app_count REGEX: the lines of $APP_LOG matching REGEX.
app_count() {
	grep -cE -- "$1" "$APP_LOG" 2>/dev/null || true
}

# ok_pid: the application's pid in the last default ("ok pid=P ...")
# body of a test application.
ok_pid() {
	sed -nE 's/^ok pid=([0-9]+) .*/\1/p' "$TEST_TMP/body"
}

# par N PATH EXPECT: N concurrent GETs of PATH, each with "n=I" added
# to its query; a request succeeds when it answers 200 and its body
# contains EXPECT with %d replaced by I.  Prints "ok=K fail=F" and then
# the first failures.  PAR_TIMEOUT: seconds per request (30).
PAR_PY='
import http.client, os, sys, threading
port = int(os.environ["PORT"])
n, path, want = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tmo = float(os.environ.get("PAR_TIMEOUT", "30"))
fails = []
def one(i):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=tmo)
        c.request("GET", path + ("&" if "?" in path else "?") + "n=%d" % i)
        r = c.getresponse()
        b = r.read()
        if r.status != 200 or (want.replace("%d", str(i))).encode() not in b:
            fails.append("%d: %d %r" % (i, r.status, b[:100]))
        c.close()
    except Exception as e:
        fails.append("%d: %r" % (i, e))
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("ok=%d fail=%d" % (n - len(fails), len(fails)))
for f in sorted(fails)[:5]:
    print(f)
'
par() {
	python3 -c "$PAR_PY" "$@"
}

# pattern_file FILE N: N bytes of 0-250 repeated (what the test
# applications send for big=N).
pattern_file() {
	python3 -c 'import sys
n = int(sys.argv[2])
open(sys.argv[1], "wb").write((bytes(range(251)) * (n // 251 + 1))[:n])' \
	    "$1" "$2"
}
