#!/usr/bin/env bats
# callcgi.bats: callcgi behind htparser and dirplex over real TCP on
# 127.0.0.1.
#
# Each test writes its own CGI scripts into $TEST_TMP/site/cgi, its own
# configuration ($TEST_TMP/cgi.rc, read with `dirplex -N -c`), and
# starts its own htparser on a free port; teardown kills them by PID and
# process group.  The behaviours that matter are run under each handler
# convention, as pairs of tests sharing one function t_NAME MODE:
#   persistent  `child cgi` + `exec callcgi ...` (one callcgi, many
#               requests, one process per request: the script)
#   transient   `fchild cgi` + `exec callcgi ...` (a callcgi per request)
#   fork        `match ... fork callcgi ...` (the same, started directly)
# The scripts report their environment by reading /proc/$$/environ, so
# what they see is exactly what callcgi passed to execve(), nothing the
# shell added.  A few command-line cases run callcgi directly.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	CALLCGI=$(ashd_prog callcgi)
	SERVER_LOG=$TEST_TMP/server.log
	mkdir -p "$TEST_TMP/site/cgi"
	SITE=$(cd "$TEST_TMP/site" && pwd -P)
	CGI=$SITE/cgi
	MATCH_EXTRA=()
	CGI_GLOB='*.cgi'
	[ -x "$CALLCGI" ] ||
	    fail "$CALLCGI is missing: make -C $ASHD_BUILDDIR"
}

teardown() {
	common_teardown
}

# ---------------------------------------------------------------------
# Helpers of this suite

# script NAME < TEXT: write an executable script $CGI/NAME.
script() {
	mkdir -p "$CGI"
	cat >"$CGI/$1"
	chmod 755 "$CGI/$1"
}

# env_script NAME: a script that answers 200 text/plain with its whole
# environment (NAME=VALUE lines, sorted), then "@cwd=DIR", "@argc=N"
# and, when CONTENT_LENGTH is set, "@body=" and that many bytes of
# its standard input.
env_script() {
	script "$1" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\nX-Script: env\n\n'
tr '\0' '\n' </proc/$$/environ | LC_ALL=C sort
printf '@cwd=%s\n@argc=%s\n' "$(pwd -P)" "$#"
if [ -n "${CONTENT_LENGTH-}" ]; then
	printf '@body='
	head -c "$CONTENT_LENGTH"
	echo
fi
EOF
}

# cgi_rc MODE [CALLCGI-ARGS...]: write $TEST_TMP/cgi.rc running the
# files matching $CGI_GLOB with `callcgi CALLCGI-ARGS...` in MODE
# (persistent, transient or fork); the lines of MATCH_EXTRA are added
# to the match stanza.
cgi_rc() {
	local mode=$1
	shift
	CGI_RC=$TEST_TMP/cgi.rc
	case $mode in
	persistent)
		put "$CGI_RC" "child cgi" "    exec callcgi $*" \
		    "match" "    filename $CGI_GLOB" "    handler cgi" \
		    "${MATCH_EXTRA[@]}" ;;
	transient)
		put "$CGI_RC" "fchild cgi" "    exec callcgi $*" \
		    "match" "    filename $CGI_GLOB" "    handler cgi" \
		    "${MATCH_EXTRA[@]}" ;;
	fork)
		put "$CGI_RC" \
		    "match" "    filename $CGI_GLOB" "    fork callcgi $*" \
		    "${MATCH_EXTRA[@]}" ;;
	*)
		fail "unknown mode $mode" ;;
	esac
}

# start_cgi MODE [CALLCGI-ARGS...]: cgi_rc, then the site with only it.
start_cgi() {
	cgi_rc "$@"
	start_site -N -c "$CGI_RC" "$SITE"
}

# no_var NAME: NAME was not in that environment.
no_var() {
	! grep -q "^$1=" "$TEST_TMP/body" ||
	    fail "$1 is set: $(grep "^$1=" "$TEST_TMP/body")"
}

# var_names: the names of the variables of the last env_script body.
var_names() {
	grep -v '^@' "$TEST_TMP/body" | sed -n 's/=.*//p' | tr '\n' ' ' |
	    sed 's/ $//'
}

# expect_var NAME VALUE
expect_var() {
	assert_equal "$(var "$1")" "$2"
}

# callcgi_pid: the persistent callcgi under dirplex.
callcgi_pid() {
	children_named "$(dirplex_pid)" callcgi
}

# group_gone PGID [SECONDS]: wait until no live process (zombies do not
# count) is in process group PGID; fail with a ps listing otherwise.
group_gone() {
	local i left
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		left=$(ps -e -o pgid=,stat=,pid=,args= |
		    awk -v g="$1" '$1 == g && $2 !~ /^Z/')
		[ -z "$left" ] && return 0
		sleep 0.05
	done
	fail "process group $1 still has:"$'\n'"$left"
}

# marker_gone TEXT [SECONDS]: wait until no live process has TEXT in its
# command line.
marker_gone() {
	local i left
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		left=$(pgrep -af -- "$1" || true)
		[ -z "$left" ] && return 0
		sleep 0.05
	done
	fail "still running:"$'\n'"$left"
}

# no_children PID [SECONDS]: wait until PID has no child process at all
# (running or zombie).
no_children() {
	local i left
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		left=$(ps --ppid "$1" -o pid=,stat=,args= || true)
		[ -z "$left" ] && return 0
		sleep 0.05
	done
	fail "children of $1 left:"$'\n'"$left"
}

# sock_run [ENV=VALUE...] -- ARGS...: run ARGS (callcgi, transient) with
# one end of a Unix stream socket pair as standard input and output,
# an environment of only PATH and the ENV=VALUE given, and print what
# it writes to the socket; its stderr goes to $TEST_TMP/direct.log.
# Printed last: "exit N", or "still running ..." if it has not exited
# 3 s after closing the socket (it is killed then).
SOCK_RUN_PY='
import os, socket, subprocess, sys
i = sys.argv.index("--")
env = {"PATH": os.environ["PATH"]}
for kv in sys.argv[1:i]:
    k, v = kv.split("=", 1)
    env[k] = v
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
with open(os.environ["TEST_TMP"] + "/direct.log", "ab") as log:
    p = subprocess.Popen(sys.argv[i + 1:], stdin=b.fileno(),
        stdout=b.fileno(), stderr=log, env=env)
b.close()
a.shutdown(socket.SHUT_WR)
a.settimeout(10)
out = bytearray()
while True:
    d = a.recv(65536)
    if not d:
        break
    out.extend(d)
sys.stdout.buffer.write(bytes(out))
try:
    print("\nexit %d" % p.wait(timeout=3))
except subprocess.TimeoutExpired:
    print("\nstill running 3 s after its answer")
    p.kill()
    p.wait()
'
sock_run() {
	python3 -c "$SOCK_RUN_PY" "$@"
}

# ---------------------------------------------------------------------
# Command line

@test "callcgi -h prints the usage and exits 0" {
	run timeout 5 "$CALLCGI" -h
	assert_status 0
	assert_match "${output,,}" usage
	assert_contains "$output" '-p PROGRAM'
	assert_contains "$output" '-t SECONDS'
	assert_contains "$output" '-l LIMIT'
}

@test "--version and -V print the package version" {
	run timeout 5 "$CALLCGI" --version
	assert_status 0
	assert_match "$output" '^callcgi \(ashd-ng\) [0-9]'
	run timeout 5 "$CALLCGI" -V
	assert_status 0
	assert_match "$output" '^callcgi \(ashd-ng\) [0-9]'
}

@test "callcgi: bad usage exits 2" {
	run timeout 5 "$CALLCGI" </dev/null
	assert_status 2
	assert_match "${output,,}" usage
	run timeout 5 "$CALLCGI" GET /x.cgi </dev/null
	assert_status 2
	run timeout 5 "$CALLCGI" GET /x.cgi x.cgi extra </dev/null
	assert_status 2
	run timeout 5 "$CALLCGI" -Z GET /x.cgi x.cgi </dev/null
	assert_status 2
	run timeout 5 "$CALLCGI" -p </dev/null
	assert_status 2
	# -P's arguments end with ";".
	run timeout 5 "$CALLCGI" -P prog a b GET /x.cgi x.cgi </dev/null
	assert_status 2
	assert_contains "$output" 'must end with ";"'
	for t in abc 0 -1 1x ''; do
		run timeout 5 "$CALLCGI" -t "$t" GET /x.cgi x.cgi </dev/null
		assert_status 2
		run timeout 5 "$CALLCGI" -w "$t" GET /x.cgi x.cgi </dev/null
		assert_status 2
	done
	for t in abc -1 1x '' 100001; do
		run timeout 5 "$CALLCGI" -l "$t" GET /x.cgi x.cgi </dev/null
		assert_status 2
		run timeout 5 "$CALLCGI" -q "$t" GET /x.cgi x.cgi </dev/null
		assert_status 2
	done
}

@test "persistent: callcgi exits 0 at the end of its input, also when idle" {
	# ashd(7): a persistent handler exits normally on end-of-file.
	run timeout 10 python3 -c '
import socket, subprocess, sys, time
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
p = subprocess.Popen([sys.argv[1]], stdin=b.fileno())
b.close()
time.sleep(0.3)
a.close()
try:
    print("exit %d" % p.wait(timeout=3))
except subprocess.TimeoutExpired:
    print("still running 3 s after the end of its input")
    p.kill()
    p.wait()
' "$CALLCGI"
	assert_equal "$output" "exit 0"
}

@test "transient, direct: a missing X-Ash-File is 404, and callcgi exits" {
	run sock_run REQ_X_ASH_FILE="$TEST_TMP/nope.cgi" -- \
	    "$CALLCGI" GET /nope.cgi nope.cgi
	assert_match "$output" '^HTTP/1\.1 404 '
	assert_match "$output" $'\nexit 0$'
}

@test "transient, direct: no X-Ash-File and no -p is 500, logged, and callcgi exits" {
	run sock_run -- "$CALLCGI" GET /x.cgi ''
	assert_match "$output" '^HTTP/1\.1 500 '
	grep -q 'X-Ash-File' "$TEST_TMP/direct.log" ||
	    fail "nothing logged: $(cat "$TEST_TMP/direct.log")"
	assert_match "$output" $'\nexit 0$'
}

@test "transient, direct: a script that cannot be run is 500, and callcgi exits" {
	printf '#!/bin/sh\necho hi\n' >"$TEST_TMP/noexec.cgi"
	chmod 644 "$TEST_TMP/noexec.cgi"
	run sock_run REQ_X_ASH_FILE="$TEST_TMP/noexec.cgi" -- \
	    "$CALLCGI" GET /noexec.cgi ''
	assert_match "$output" '^HTTP/1\.1 500 '
	grep -q 'noexec.cgi: .*ermission denied' "$TEST_TMP/direct.log" ||
	    fail "no reason logged: $(cat "$TEST_TMP/direct.log")"
	assert_match "$output" $'\nexit 0$'
}

@test "-P PROGRAM ARGS... ; (ashd's form): PROGRAM ARGS... then the file" {
	script args.cgi <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
for a in "$@"; do printf 'arg:%s\n' "$a"; done
printf 'SCRIPT_NAME=%s\n' "$SCRIPT_NAME"
EOF
	: >"$CGI/page.tpl"
	put "$TEST_TMP/p.rc" "child cgi" \
	    "    exec callcgi -P $CGI/args.cgi -x \"two words\" ; -t 5" \
	    "match" "    filename *.tpl" "    handler cgi"
	start_site -N -c "$TEST_TMP/p.rc" "$SITE"
	expect /cgi/page.tpl/more 200
	assert_equal "$(grep '^arg:' "$TEST_TMP/body")" "arg:-x
arg:two words
arg:$CGI/page.tpl"
	assert_contains "$(body)" 'SCRIPT_NAME=/cgi/page.tpl'
	# Transient, without X-Ash-File: PROGRAM ARGS alone.
	run sock_run -- "$CALLCGI" -P "$CGI/args.cgi" a ';' GET /x ''
	assert_contains "$output" $'\narg:a\n'
	assert_not_contains "$output" 'arg:GET'
}

@test "callcgi's own environment reaches the script (env VAR=... callcgi), request names excepted" {
	env_script env.cgi
	put "$TEST_TMP/e.rc" "child cgi" \
	    "    exec env APP_CONFIG=/etc/app.conf SCRIPT_NAME=/fake HTTP_HOST=fake QUERY_STRING=fake callcgi" \
	    "match" "    filename *.cgi" "    handler cgi"
	start_site -N -c "$TEST_TMP/e.rc" "$SITE"
	expect /cgi/env.cgi/x 200
	expect_var APP_CONFIG /etc/app.conf
	expect_var SCRIPT_NAME /cgi/env.cgi
	expect_var HTTP_HOST "127.0.0.1:$PORT"
	expect_var QUERY_STRING ''
}

@test "transient, direct: -p PROGRAM without X-Ash-File runs PROGRAM alone" {
	env_script prog
	run sock_run HTTP_VERSION=HTTP/1.0 REQ_HOST=h.example -- \
	    "$CALLCGI" -p "$CGI/prog" GET '/app/x?y=1' x
	assert_match "$output" '^HTTP/1\.1 200 '
	assert_contains "$output" $'\n@argc=0\n'
	assert_contains "$output" $'\nSERVER_PROTOCOL=HTTP/1.0\n'
	assert_contains "$output" $'\nSERVER_NAME=h.example\n'
	assert_contains "$output" $'\nSCRIPT_NAME=/app\n'
	assert_contains "$output" $'\nPATH_INFO=/x\n'
	assert_contains "$output" $'\nQUERY_STRING=y=1\n'
	assert_not_contains "$output" SCRIPT_FILENAME=
	assert_contains "$output" $'\nexit 0'
}

# ---------------------------------------------------------------------
# The environment

# cgi_var_names: var_names restricted to what a request may set (the
# CGI meta-variables, HTTP_*, REQ_*) and PATH: the rest is callcgi's own
# environment passed on.
cgi_var_names() {
	var_names | tr ' ' '\n' | grep -E '^(HTTP_|REQ_|PATH$|AUTH_TYPE$|CONTENT_|DOCUMENT_ROOT$|GATEWAY_INTERFACE$|HTTPS$|PATH_|QUERY_STRING$|REDIRECT_STATUS$|REMOTE_|REQUEST_|SCRIPT_|SERVER_)' |
	    tr '\n' ' ' | sed 's/ $//'
}

# GET with PATH_INFO and a query: every variable, and nothing else; what
# callcgi itself was given reaches the script unless a request sets it.
t_env_get() {
	env_script env.cgi
	export CALLCGI_TEST_INHERITED=kept SCRIPT_NAME=/spoof CONTENT_LENGTH=99 \
	    AUTH_TYPE=spoof HTTP_X_SPOOF=1 REQ_X_SPOOF=1 HTTPS=on
	start_cgi "$1"
	unset CALLCGI_TEST_INHERITED SCRIPT_NAME CONTENT_LENGTH AUTH_TYPE \
	    HTTP_X_SPOOF REQ_X_SPOOF HTTPS
	local out rport
	out=$(curl -sS -m 10 --path-as-is -o "$TEST_TMP/body" \
	    -w '%{http_code} %{local_port}' -H 'User-Agent: cgi-test/1' \
	    -H 'Proxy: http://evil.example:3128' -H 'X-Ash-Evil: 1' \
	    "http://127.0.0.1:$PORT/cgi/env.cgi/p/q%20r?a=1&b=%20x&c")
	assert_equal "${out% *}" 200
	rport=${out#* }
	expect_var GATEWAY_INTERFACE CGI/1.1
	assert_match "$(var SERVER_SOFTWARE)" '^ashd-ng/[0-9]'
	expect_var SERVER_PROTOCOL HTTP/1.1
	expect_var SERVER_NAME 127.0.0.1
	expect_var SERVER_ADDR 127.0.0.1
	expect_var SERVER_PORT "$PORT"
	expect_var REMOTE_ADDR 127.0.0.1
	expect_var REMOTE_PORT "$rport"
	expect_var REQUEST_METHOD GET
	expect_var REQUEST_URI '/cgi/env.cgi/p/q%20r?a=1&b=%20x&c'
	expect_var QUERY_STRING 'a=1&b=%20x&c'
	expect_var SCRIPT_NAME /cgi/env.cgi
	expect_var PATH_INFO '/p/q r'
	expect_var SCRIPT_FILENAME "$CGI/env.cgi"
	expect_var DOCUMENT_ROOT "$SITE"
	expect_var PATH_TRANSLATED "$SITE/p/q r"
	expect_var REDIRECT_STATUS 200
	expect_var HTTP_HOST "127.0.0.1:$PORT"
	expect_var HTTP_USER_AGENT cgi-test/1
	expect_var HTTP_ACCEPT '*/*'
	expect_var PATH "$PATH"
	expect_var CALLCGI_TEST_INHERITED kept
	# Exactly these: no HTTP_PROXY, no X-Ash-*, no CONTENT_* without a
	# body, no HTTPS on plain HTTP, none of them from the environment.
	assert_equal "$(cgi_var_names)" "DOCUMENT_ROOT GATEWAY_INTERFACE HTTP_ACCEPT HTTP_HOST HTTP_USER_AGENT PATH PATH_INFO PATH_TRANSLATED QUERY_STRING REDIRECT_STATUS REMOTE_ADDR REMOTE_PORT REQUEST_METHOD REQUEST_URI SCRIPT_FILENAME SCRIPT_NAME SERVER_ADDR SERVER_NAME SERVER_PORT SERVER_PROTOCOL SERVER_SOFTWARE"
	assert_contains "$(body)"$'\n' $'\n@argc=0\n'
}
@test "env: GET with PATH_INFO and query, exactly the documented variables [persistent]" {
	t_env_get persistent
}
@test "env: GET with PATH_INFO and query, exactly the documented variables [transient]" {
	t_env_get transient
}
@test "env: GET with PATH_INFO and query, exactly the documented variables [fork]" {
	t_env_get fork
}

# No query, no PATH_INFO: QUERY_STRING empty, PATH_INFO and
# PATH_TRANSLATED unset; HTTP/1.0 shows in SERVER_PROTOCOL.
t_env_plain() {
	env_script env.cgi
	start_cgi "$1"
	expect /cgi/env.cgi 200 --http1.0
	expect_var QUERY_STRING ''
	expect_var SCRIPT_NAME /cgi/env.cgi
	expect_var REQUEST_URI /cgi/env.cgi
	expect_var SERVER_PROTOCOL HTTP/1.0
	expect_var DOCUMENT_ROOT "$SITE"
	no_var PATH_INFO
	no_var PATH_TRANSLATED
	no_var CONTENT_LENGTH
	no_var CONTENT_TYPE
}
@test "env: no query and no PATH_INFO, HTTP/1.0 [persistent]" {
	t_env_plain persistent
}
@test "env: no query and no PATH_INFO, HTTP/1.0 [transient]" {
	t_env_plain transient
}

# POST: CONTENT_LENGTH and CONTENT_TYPE, the body on stdin; a body of
# zero bytes gives no CONTENT_LENGTH.
t_env_post() {
	env_script env.cgi
	start_cgi "$1"
	expect '/cgi/env.cgi?x=1' 200 --data-binary 'name=value&x=2' \
	    -H 'Content-Type: application/x-www-form-urlencoded'
	expect_var REQUEST_METHOD POST
	expect_var CONTENT_LENGTH 14
	expect_var CONTENT_TYPE application/x-www-form-urlencoded
	expect_var QUERY_STRING x=1
	no_var HTTP_CONTENT_LENGTH
	no_var HTTP_CONTENT_TYPE
	assert_contains "$(body)"$'\n' $'\n@body=name=value&x=2\n'
	expect /cgi/env.cgi 200 -X POST -H 'Content-Length: 0' \
	    -H 'Content-Type: text/plain'
	expect_var REQUEST_METHOD POST
	no_var CONTENT_LENGTH
	expect_var CONTENT_TYPE text/plain
	assert_not_contains "$(body)" '@body='
	expect /cgi/env.cgi 200 -X PUT --data-binary 'abc' \
	    -H 'Content-Type: text/x-y'
	expect_var REQUEST_METHOD PUT
	expect_var CONTENT_LENGTH 3
	assert_contains "$(body)"$'\n' $'\n@body=abc\n'
}
@test "env: POST and PUT bodies, CONTENT_LENGTH only with a body [persistent]" {
	t_env_post persistent
}
@test "env: POST and PUT bodies, CONTENT_LENGTH only with a body [transient]" {
	t_env_post transient
}

# Percent-encoded script names and PATH_INFO are decoded; the raw URL
# stays in REQUEST_URI.
t_env_encoded() {
	env_script 'a b.cgi'
	start_cgi "$1"
	expect '/cgi/a%20b.cgi/x%2Fy/%7Ez?k=%2F' 200
	expect_var SCRIPT_NAME '/cgi/a b.cgi'
	expect_var PATH_INFO '/x/y/~z'
	expect_var SCRIPT_FILENAME "$CGI/a b.cgi"
	expect_var DOCUMENT_ROOT "$SITE"
	expect_var PATH_TRANSLATED "$SITE/x/y/~z"
	expect_var REQUEST_URI '/cgi/a%20b.cgi/x%2Fy/%7Ez?k=%2F'
	expect_var QUERY_STRING 'k=%2F'
	expect '/cgi/a%20b.cgi' 200
	expect_var SCRIPT_NAME '/cgi/a b.cgi'
	no_var PATH_INFO
}
@test "env: percent-encoded script name and PATH_INFO [persistent]" {
	t_env_encoded persistent
}
@test "env: percent-encoded script name and PATH_INFO [transient]" {
	t_env_encoded transient
}

# Dot-segments never reach PATH_INFO or PATH_TRANSLATED: htparser
# resolves them in the rest string (400 above the root, as nginx
# answers, and for one that an encoded slash or NUL would make once
# decoded); SCRIPT_NAME is the resolved path's; REQUEST_URI stays raw.
t_env_dots() {
	local t out
	env_script env.cgi
	start_cgi "$1"
	for t in /cgi/env.cgi/../../../etc/passwd \
	    /cgi/env.cgi/%2e%2e/%2e%2e/%2e%2e/etc/passwd \
	    /cgi/env.cgi/.%2e/.%2E/%2e./etc/passwd \
	    /cgi/env.cgi/..%2f..%2f..%2fetc%2fpasswd \
	    /cgi/env.cgi/x%2f..%2f..%2f..%2fetc%2fpasswd \
	    /cgi/env.cgi/x/..%00 /cgi/env.cgi/..%00/..%00/etc/passwd; do
		expect "$t" 400
		assert_not_contains "$(body)" PATH_INFO
	done
	# Within the root: resolved before dirplex routes.
	expect /cgi/env.cgi/../../etc/passwd 404
	expect '/cgi/x/../env.cgi/a/./b/%2e%2e/c?q=/../' 200
	expect_var SCRIPT_NAME /cgi/env.cgi
	expect_var PATH_INFO /a/c
	expect_var PATH_TRANSLATED "$SITE/a/c"
	expect_var REQUEST_URI '/cgi/x/../env.cgi/a/./b/%2e%2e/c?q=/../'
	expect_var QUERY_STRING 'q=/../'
	# An encoded slash is data, and decoded in PATH_INFO.
	expect '/cgi/env.cgi/x%2fy/../z' 200
	expect_var PATH_INFO /z
	expect '/cgi/env.cgi/x%2fy' 200
	expect_var PATH_INFO /x/y
}
@test "env: no dot-segment in PATH_INFO or PATH_TRANSLATED, encoded or not [persistent]" {
	t_env_dots persistent
}
@test "env: no dot-segment in PATH_INFO or PATH_TRANSLATED, encoded or not [fork]" {
	t_env_dots fork
}

# dirplex's extension-less match: /cgi/env/extra runs env.cgi.
t_env_stem() {
	env_script env.cgi
	start_cgi "$1"
	expect '/cgi/env/extra/more?z' 200
	expect_var SCRIPT_NAME /cgi/env
	expect_var PATH_INFO /extra/more
	expect_var SCRIPT_FILENAME "$CGI/env.cgi"
	expect_var REQUEST_URI '/cgi/env/extra/more?z'
	expect_var QUERY_STRING z
	expect /cgi/env 200
	expect_var SCRIPT_NAME /cgi/env
	no_var PATH_INFO
}
@test "env: a script found by the extension-less match splits at its URL name [persistent]" {
	t_env_stem persistent
}
@test "env: a script found by the extension-less match splits at its URL name [transient]" {
	t_env_stem transient
}

@test "env: the extension-less match still gives DOCUMENT_ROOT and PATH_TRANSLATED" {
	# /cgi/env/extra: the script's URL is /cgi/env, its file
	# $SITE/cgi/env.cgi; the document root is still $SITE, and
	# PATH_TRANSLATED (RFC 3875 4.1.6) is it plus PATH_INFO.
	env_script env.cgi
	start_cgi persistent
	expect '/cgi/env/extra' 200
	expect_var PATH_INFO /extra
	expect_var DOCUMENT_ROOT "$SITE"
	expect_var PATH_TRANSLATED "$SITE/extra"
}

@test "env: a slash right after the script name is PATH_INFO=/" {
	# RFC 3875 4.1.5: PATH_INFO is what follows the script's own path,
	# so that SCRIPT_NAME + PATH_INFO is the decoded URL path.
	env_script env.cgi
	start_cgi persistent
	expect '/cgi/env.cgi/?q' 200
	expect_var SCRIPT_NAME /cgi/env.cgi
	expect_var PATH_INFO /
	expect_var PATH_TRANSLATED "$SITE/"
}

t_no_host() {
	env_script env.cgi
	start_cgi "$1"
	out=$(raw_request "GET /cgi/env.cgi HTTP/1.0\r\n\r\n")
	assert_equal "$(status_codes "$out")" 200
	assert_contains "$out" $'\nSERVER_NAME=127.0.0.1\n'
	assert_contains "$out" $'\nSERVER_PROTOCOL=HTTP/1.0\n'
	assert_not_contains "$out" HTTP_HOST=
}
@test "env: without Host, SERVER_NAME is the server's address [persistent]" {
	t_no_host persistent
}
@test "env: without Host, SERVER_NAME is the server's address [transient]" {
	t_no_host transient
}

# HEAD: the script runs with REQUEST_METHOD=HEAD; its headers arrive,
# its body does not.
t_head() {
	env_script env.cgi
	start_cgi "$1"
	# curl -I: the head only (curl writes it as the output too).
	expect /cgi/env.cgi/i 200 -I
	assert_equal "$(field X-Script)" env
	assert_equal "$(field Content-Type)" text/plain
	assert_not_contains "$(body)" GATEWAY_INTERFACE
	# As raw bytes, twice on one connection: nothing after each head.
	rawhttp -t 5 -s "HEAD /cgi/env.cgi HTTP/1.1\r\nHost: h\r\n\r\n" \
	    -e '\r\n\r\n' -r 0.5 \
	    -s "HEAD /cgi/env.cgi/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" \
	    -c >"$TEST_TMP/raw"
	run resp_summary "$TEST_TMP/raw" 1 2
	assert_status 0
	assert_equal "$output" $'200 head 0\n200 head 0'
	# The script saw HEAD.
	script head.cgi <<EOF
#!/bin/sh
printf 'Content-Type: text/plain\nX-Method: %s\n\nbody\n' "\$REQUEST_METHOD"
EOF
	expect /cgi/head.cgi 200 -I
	assert_equal "$(field X-Method)" HEAD
}
@test "HEAD: the script runs, the client gets its head only [persistent]" {
	t_head persistent
}
@test "HEAD: the script runs, the client gets its head only [transient]" {
	t_head transient
}

# Headers: HTTP_* for the client's, joined repeats, no Proxy, no
# X-Ash-*; REMOTE_USER and HTTPS from X-Ash headers set by dirplex;
# SERVER_NAME from Host without the port.
t_headers() {
	env_script env.cgi
	MATCH_EXTRA=("    xset Remote-User alice" "    xset Protocol https" \
	    "    xset Secret s3" "    set X-Custom from-config")
	start_cgi "$1"
	expect /cgi/env.cgi 200 -H 'Host: www.example.org:8080' \
	    -H 'Proxy: http://evil.example/' -H 'X-Ash-Address: 6.6.6.6' \
	    -H 'Accept-Language: de' -H 'X-Two-Words: a b' \
	    -H 'Cookie: a=1'
	expect_var SERVER_NAME www.example.org
	expect_var SERVER_PORT "$PORT"
	expect_var HTTP_HOST www.example.org:8080
	expect_var HTTP_ACCEPT_LANGUAGE de
	expect_var HTTP_X_TWO_WORDS 'a b'
	expect_var HTTP_COOKIE 'a=1'
	expect_var HTTP_X_CUSTOM from-config
	expect_var REMOTE_USER alice
	expect_var HTTPS on
	expect_var REMOTE_ADDR 127.0.0.1
	no_var HTTP_PROXY
	assert_equal "$(grep -ci '^[A-Z_]*X_ASH' "$TEST_TMP/body")" 0
	assert_not_contains "$(body)" s3
	assert_not_contains "$(body)" 6.6.6.6
	expect /cgi/env.cgi 200 -H 'Host: [::1]:8080'
	expect_var SERVER_NAME '[::1]'
	expect /cgi/env.cgi 200 -H 'Host: example.net'
	expect_var SERVER_NAME example.net
}
@test "env: HTTP_* headers, no HTTP_PROXY, no X-Ash-* leak, REMOTE_USER, HTTPS [persistent]" {
	t_headers persistent
}
@test "env: HTTP_* headers, no HTTP_PROXY, no X-Ash-* leak, REMOTE_USER, HTTPS [transient]" {
	t_headers transient
}

# Repeated headers: one variable, values joined with ", ", but cookies
# with "; " (RFC 6265 5.4, RFC 9113 8.2.3): "a=1, b=2" would read as
# one cookie a with the value "1, b=2".  The transient conventions get
# them joined in REQ_COOKIE by whoever starts callcgi (lib/child.c).
t_repeated() {
	env_script env.cgi
	start_cgi "$1"
	expect /cgi/env.cgi 200 -H 'X-Multi: one' -H 'X-Multi: two' \
	    -H 'Cookie: a=1' -H 'Cookie: b=2' -H 'cookie: c=3'
	expect_var HTTP_X_MULTI 'one, two'
	expect_var HTTP_COOKIE 'a=1; b=2; c=3'
}
@test "env: repeated headers are joined (Cookie with '; ') [persistent]" {
	t_repeated persistent
}
@test "env: repeated headers are joined (Cookie with '; ') [transient]" {
	t_repeated transient
}
@test "env: repeated headers are joined (Cookie with '; ') [fork]" {
	t_repeated fork
}

# A header whose name has '_' would pose as the '-' one (X_Real_IP as
# X-Real-IP); it must never become an HTTP_ variable.
t_underscore() {
	env_script env.cgi
	start_cgi "$1"
	expect /cgi/env.cgi 200 -H 'X_Real_IP: 6.6.6.6' -H 'Foo_Bar: x'
	no_var HTTP_X_REAL_IP
	no_var HTTP_FOO_BAR
	assert_not_contains "$(body)" 6.6.6.6
}
@test "env: a header name with '_' never becomes HTTP_* [persistent]" {
	t_underscore persistent
}
@test "env: a header name with '_' never becomes HTTP_* [transient]" {
	t_underscore transient
}

# ---------------------------------------------------------------------
# Responses

t_status_location() {
	script status.cgi <<'EOF'
#!/bin/sh
printf 'Status: 404 Nope\nContent-Type: text/plain\nX-Extra: kept\n\nno such thing\n'
EOF
	script plainstatus.cgi <<'EOF'
#!/bin/sh
printf 'Status: 201\r\nContent-Type: application/json\r\n\r\n{}'
EOF
	script redirect.cgi <<'EOF'
#!/bin/sh
printf 'Location: http://example.org/elsewhere?x=1\n\n'
EOF
	script moved.cgi <<'EOF'
#!/bin/sh
printf 'Status: 301 Moved Permanently\nLocation: https://example.org/new\nContent-Type: text/plain\n\nmoved\n'
EOF
	script local.cgi <<'EOF'
#!/bin/sh
printf 'Location: /cgi/status.cgi\n\n'
EOF
	script notype.cgi <<'EOF'
#!/bin/sh
printf 'X-Only: this\n\nbody'
EOF
	start_cgi "$1"
	expect /cgi/status.cgi 404
	assert_equal "$(head -n 1 "$TEST_TMP/head")" 'HTTP/1.1 404 Nope'
	assert_equal "$(field Content-Type)" text/plain
	assert_equal "$(field X-Extra)" kept
	assert_equal "$(body)" 'no such thing'
	! grep -qi '^Status:' "$TEST_TMP/head" || fail "Status: passed on"
	expect /cgi/plainstatus.cgi 201
	assert_equal "$(head -n 1 "$TEST_TMP/head")" 'HTTP/1.1 201 Created'
	assert_equal "$(field Content-Type)" application/json
	assert_equal "$(body)" '{}'
	expect /cgi/redirect.cgi 302
	assert_equal "$(field Location)" 'http://example.org/elsewhere?x=1'
	expect /cgi/moved.cgi 301
	assert_equal "$(field Location)" https://example.org/new
	assert_equal "$(body)" moved
	# A local Location is passed to the client as a redirect too.
	expect /cgi/local.cgi 302
	assert_equal "$(field Location)" /cgi/status.cgi
	expect /cgi/notype.cgi 200
	assert_equal "$(field X-Only)" this
	assert_equal "$(body)" body
}
@test "responses: Status, Location (302), Location with Status, local Location, other headers [persistent]" {
	t_status_location persistent
}
@test "responses: Status, Location (302), Location with Status, local Location, other headers [transient]" {
	t_status_location transient
}

t_nph() {
	script nph-raw.cgi <<'EOF'
#!/bin/sh
printf 'HTTP/1.1 203 Custom Reason\r\nContent-Type: text/plain\r\nX-Nph: yes\r\nContent-Length: 9\r\n\r\nnph body\n'
EOF
	start_cgi "$1"
	expect /cgi/nph-raw.cgi 203
	assert_equal "$(head -n 1 "$TEST_TMP/head")" 'HTTP/1.1 203 Custom Reason'
	assert_equal "$(field X-Nph)" yes
	assert_equal "$(body)" 'nph body'
	# Twice on one connection: the response is complete and framed.
	out=$(rawhttp -t 5 -s "GET /cgi/nph-raw.cgi HTTP/1.1\r\nHost: h\r\n\r\n" \
	    -e 'nph body\n' \
	    -s "GET /cgi/nph-raw.cgi HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" -c)
	assert_equal "$(status_codes "$out")" '203 203'
}
@test "nph- scripts: the output is the complete HTTP response [persistent]" {
	t_nph persistent
}
@test "nph- scripts: the output is the complete HTTP response [transient]" {
	t_nph transient
}

t_bad_heads() {
	script malformed.cgi <<'EOF'
#!/bin/sh
printf 'this is not a header\n\nsecret-body\n'
EOF
	script badstatus.cgi <<'EOF'
#!/bin/sh
printf 'Status: abc\nContent-Type: text/plain\n\nbody\n'
EOF
	script silent.cgi <<'EOF'
#!/bin/sh
exit 0
EOF
	script unfinished.cgi <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\nX-A: b\n'
EOF
	start_cgi "$1"
	expect /cgi/malformed.cgi 500
	assert_not_contains "$(body)" secret-body
	wait_log 'malformed.cgi: '
	expect /cgi/badstatus.cgi 500
	wait_log 'badstatus.cgi: '
	expect /cgi/silent.cgi 500
	wait_log 'silent.cgi: '
	expect /cgi/unfinished.cgi 500
	wait_log 'unfinished.cgi: '
}
@test "responses: a malformed, missing or unfinished header block is 500, logged with the script's name [persistent]" {
	t_bad_heads persistent
}
@test "responses: a malformed, missing or unfinished header block is 500, logged with the script's name [transient]" {
	t_bad_heads transient
}

t_stderr() {
	script noisy.cgi <<'EOF'
#!/bin/sh
echo "first complaint" >&2
printf 'Content-Type: text/plain\n\nok\n'
printf 'second complaint\nthird, without newline' >&2
EOF
	start_cgi "$1"
	expect /cgi/noisy.cgi 200
	assert_equal "$(body)" ok
	wait_log 'noisy.cgi: first complaint'
	wait_log 'noisy.cgi: second complaint'
	wait_log 'noisy.cgi: third, without newline'
}
@test "the script's stderr goes to the log, line by line, prefixed with its name [persistent]" {
	t_stderr persistent
}
@test "the script's stderr goes to the log, line by line, prefixed with its name [transient]" {
	t_stderr transient
}

# ---------------------------------------------------------------------
# Scripts that cannot run

t_cannot_run() {
	printf '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nran\\n"\n' \
	    >"$CGI/noexec.cgi"
	chmod 644 "$CGI/noexec.cgi"
	script badinterp.cgi <<'EOF'
#!/nonexistent/interpreter
whatever
EOF
	start_cgi "$1"
	expect /cgi/noexec.cgi 500
	assert_not_contains "$(body)" ran
	wait_log 'noexec.cgi: '
	grep 'noexec.cgi' "$SERVER_LOG" | grep -qi 'permission denied' ||
	    fail "no reason logged: $(grep noexec "$SERVER_LOG")"
	expect /cgi/badinterp.cgi 500
	wait_log 'badinterp.cgi: '
	grep 'badinterp.cgi' "$SERVER_LOG" | grep -qi 'no such file' ||
	    fail "no reason logged: $(grep badinterp "$SERVER_LOG")"
	# The server goes on serving.
	env_script env.cgi
	expect /cgi/env.cgi 200
	# A transient callcgi exits after its 500 too.
	if [ "$1" = transient ]; then
		local dp i
		dp=$(dirplex_pid)
		for ((i = 0; i < 40; i++)); do
			[ -z "$(children_named "$dp" callcgi)" ] && break
			sleep 0.05
		done
		assert_equal "$(children_named "$dp" callcgi)" ''
	fi
}
@test "a non-executable script and a bad interpreter give 500 with the reason logged [persistent]" {
	t_cannot_run persistent
}
@test "a non-executable script and a bad interpreter give 500 with the reason logged [transient]" {
	t_cannot_run transient
}

# ---------------------------------------------------------------------
# Bodies, both ways

# store.cgi: stores its standard input in $TEST_TMP/stored and answers
# with CONTENT_LENGTH and the number of bytes read.
store_script() {
	script store.cgi <<EOF
#!/bin/sh
cat >"$TEST_TMP/stored"
printf 'Content-Type: text/plain\n\nlength=%s read=%s\n' "\${CONTENT_LENGTH-unset}" \
    "\$(wc -c <"$TEST_TMP/stored" | tr -d ' ')"
EOF
}

t_upload_length() {
	store_script
	head -c 10485760 /dev/urandom >"$TEST_TMP/up"
	start_cgi "$1"
	expect /cgi/store.cgi 200 --data-binary "@$TEST_TMP/up" \
	    -H 'Content-Type: application/octet-stream' -H 'Expect:'
	assert_equal "$(body)" 'length=10485760 read=10485760'
	cmp "$TEST_TMP/up" "$TEST_TMP/stored"
}
@test "a 10 MB upload with Content-Length arrives byte-exact [persistent]" {
	t_upload_length persistent
}
@test "a 10 MB upload with Content-Length arrives byte-exact [transient]" {
	t_upload_length transient
}

t_upload_chunked() {
	store_script
	head -c 10485760 /dev/urandom >"$TEST_TMP/up"
	start_cgi "$1"
	expect /cgi/store.cgi 200 --data-binary "@$TEST_TMP/up" \
	    -H 'Transfer-Encoding: chunked' -H 'Expect:'
	# Stored first, so that CONTENT_LENGTH can be given.
	assert_equal "$(body)" 'length=10485760 read=10485760'
	cmp "$TEST_TMP/up" "$TEST_TMP/stored"
}
@test "a 10 MB chunked upload is given with CONTENT_LENGTH, byte-exact [persistent]" {
	t_upload_chunked persistent
}
@test "a 10 MB chunked upload is given with CONTENT_LENGTH, byte-exact [transient]" {
	t_upload_chunked transient
}

t_download() {
	head -c 10485760 /dev/urandom >"$TEST_TMP/big"
	script big.cgi <<EOF
#!/bin/sh
printf 'Content-Type: application/octet-stream\n\n'
exec cat "$TEST_TMP/big"
EOF
	start_cgi "$1"
	expect /cgi/big.cgi 200
	cmp "$TEST_TMP/big" "$TEST_TMP/body"
	# HTTP/1.0 (delimited by the close) too.
	expect /cgi/big.cgi 200 --http1.0
	cmp "$TEST_TMP/big" "$TEST_TMP/body"
}
@test "a 10 MB download arrives byte-exact [persistent]" {
	t_download persistent
}
@test "a 10 MB download arrives byte-exact [transient]" {
	t_download transient
}

# With -s, the request body reaches the script as it arrives: the
# script answers after its first line while the client still holds the
# rest back.
t_upload_streams() {
	script echoline.cgi <<'EOF'
#!/bin/sh
read -r line
printf 'Content-Type: text/plain\n\ngot %s\n' "$line"
EOF
	start_cgi "$1" -s
	run rawhttp -t 3 -s "POST /cgi/echoline.cgi HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\nhello\n" \
	    -e 'got hello'
	assert_status 0
}
@test "-s: a body with Content-Length reaches the script as it arrives [persistent]" {
	t_upload_streams persistent
}
@test "-s: a body with Content-Length reaches the script as it arrives [transient]" {
	t_upload_streams transient
}

# By default the script starts only once the whole body has arrived (a
# slow upload holds no process): nothing runs while the client holds
# the rest back; then the script gets it all, from memory (short) or
# from a file (past 64 KiB).
t_upload_waits() {
	script count.cgi <<EOF
#!/bin/sh
: >"$TEST_TMP/started.\$\$"
printf 'Content-Type: text/plain\n\nlength=%s read=%s\n' "\$CONTENT_LENGTH" "\$(wc -c | tr -d ' ')"
EOF
	start_cgi "$1"
	rawhttp -t 5 -s "POST /cgi/count.cgi HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello" \
	    -w 1.5 -x -s "world" -e 'length=10 read=10' >"$TEST_TMP/out" &
	local cpid=$! started
	sleep 1
	started=$(find "$TEST_TMP" -maxdepth 1 -name 'started.*' | wc -l)
	wait "$cpid" || fail "no answer: $(cat "$TEST_TMP/out")"
	assert_equal "$started" 0
	assert_equal "$(find "$TEST_TMP" -maxdepth 1 -name 'started.*' | wc -l)" 1
	head -c 300000 /dev/urandom >"$TEST_TMP/up"
	expect /cgi/count.cgi 200 --data-binary "@$TEST_TMP/up" -H 'Expect:'
	assert_equal "$(body)" 'length=300000 read=300000'
}
@test "a body is received whole before the script starts [persistent]" {
	t_upload_waits persistent
}
@test "a body is received whole before the script starts [transient]" {
	t_upload_waits transient
}

# Output reaches the client as the script writes it.
STREAM_PY='
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(os.environ["PORT"])))
t0 = time.monotonic()
s.sendall(b"GET /cgi/slow.cgi HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
got = b""
t1 = t2 = None
s.settimeout(10)
while True:
    d = s.recv(65536)
    if not d:
        break
    got += d
    if t1 is None and b"first line" in got:
        t1 = time.monotonic() - t0
    if t2 is None and b"second line" in got:
        t2 = time.monotonic() - t0
print("%d %d" % (t1 * 1000 if t1 is not None else -1,
                 t2 * 1000 if t2 is not None else -1))
'
t_streaming() {
	script slow.cgi <<EOF
#!/bin/sh
printf 'Content-Type: text/plain\n\nfirst line\n'
sleep 2
date +%s%3N >"$TEST_TMP/second-at"
printf 'second line\n'
EOF
	start_cgi "$1"
	local start t1 t2 out
	start=$(now_ms)
	out=$(python3 -c "$STREAM_PY")
	t1=${out% *}
	t2=${out#* }
	[ "$t1" -ge 0 ] && [ "$t2" -ge 0 ] || fail "lines missing: $out"
	[ "$t1" -lt 1500 ] || fail "first line after $t1 ms"
	[ $((t2 - t1)) -ge 1500 ] || fail "lines $t1 ms and $t2 ms: not streamed"
	# The first line arrived before the script wrote the second one.
	[ $((start + t1)) -lt "$(cat "$TEST_TMP/second-at")" ] ||
	    fail "first line arrived after the second was written"
}
@test "output reaches the client as the script writes it [persistent]" {
	t_streaming persistent
}
@test "output reaches the client as the script writes it [transient]" {
	t_streaming transient
}

# ---------------------------------------------------------------------
# Lifetime

# A script that never answers: 504 after -t 1, its whole process group
# killed.
t_timeout() {
	script hang.cgi <<EOF
#!/bin/sh
echo \$\$ >"$TEST_TMP/hang.pid"
sleep 30 &
sleep 31
EOF
	start_cgi "$1" -t 1
	local t0 t pid
	t0=$(now_ms)
	expect /cgi/hang.cgi 504
	t=$(($(now_ms) - t0))
	[ "$t" -ge 900 ] && [ "$t" -lt 4000 ] || fail "504 after $t ms"
	pid=$(cat "$TEST_TMP/hang.pid")
	group_gone "$pid" 3
	wait_log 'hang.cgi: '
}
@test "-t 1: a script that never answers gets 504 and is killed with its group [persistent]" {
	t_timeout persistent
}
@test "-t 1: a script that never answers gets 504 and is killed with its group [transient]" {
	t_timeout transient
}

@test "-t 1: a script that stalls after its head is cut off and killed [persistent]" {
	script stall.cgi <<EOF
#!/bin/sh
echo \$\$ >"$TEST_TMP/stall.pid"
printf 'Content-Type: text/plain\n\nstarted\n'
sleep 30
EOF
	start_cgi persistent -t 1
	local t0 t
	t0=$(now_ms)
	run curl -sS -m 10 "http://127.0.0.1:$PORT/cgi/stall.cgi"
	t=$(($(now_ms) - t0))
	assert_contains "$output" started
	[ "$t" -lt 4000 ] || fail "cut after $t ms"
	group_gone "$(cat "$TEST_TMP/stall.pid")" 3
}

DISCONNECT_PY='
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(os.environ["PORT"])))
s.sendall(b"GET /cgi/forever.cgi HTTP/1.1\r\nHost: h\r\n\r\n")
s.settimeout(10)
n = 0
while n < 300000:
    d = s.recv(65536)
    if not d:
        print("closed early after %d bytes" % n)
        sys.exit(1)
    n += len(d)
s.close()
print("ok")
'
# A client that goes away in the middle: the script is killed.
t_disconnect() {
	local mark="cgi-forever-marker-$$-$RANDOM"
	script forever.cgi <<EOF
#!/bin/sh
echo \$\$ >"$TEST_TMP/forever.pid"
printf 'Content-Type: text/plain\n\n'
exec yes "$mark"
EOF
	start_cgi "$1"
	run python3 -c "$DISCONNECT_PY"
	assert_equal "$output" ok
	marker_gone "$mark" 5
	group_gone "$(cat "$TEST_TMP/forever.pid")" 1
	# And the server still serves.
	env_script env.cgi
	expect /cgi/env.cgi 200
}
@test "a client that disconnects mid-response: the script is killed [persistent]" {
	t_disconnect persistent
}
@test "a client that disconnects mid-response: the script is killed [transient]" {
	t_disconnect transient
}

# A client that goes away before the script has answered.
t_gone_early() {
	local mark="cgi-early-marker-$$-$RANDOM"
	script early.cgi <<EOF
#!/bin/sh
echo \$\$ >"$TEST_TMP/early.pid"
exec sh -c 'sleep 30; : $mark'
EOF
	start_cgi "$1"
	rawhttp -t 1 -s "GET /cgi/early.cgi HTTP/1.1\r\nHost: h\r\n\r\n" -w 0.7 \
	    >/dev/null
	[ -s "$TEST_TMP/early.pid" ] || fail "the script did not start"
	marker_gone "$mark" 5
	group_gone "$(cat "$TEST_TMP/early.pid")" 1
	wait_log 'early.cgi: client went away'
}
@test "a client that goes away before the script answers: the script is killed [persistent]" {
	t_gone_early persistent
}
@test "a client that goes away before the script answers: the script is killed [transient]" {
	t_gone_early transient
}

# child_faults PID: the minor page faults of PID's reaped children
# (cminflt of /proc/PID/stat): it grows with every child that ran.
child_faults() {
	sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{ print $9 }'
}

@test "a chunked upload the client abandons never reaches the script" {
	store_script
	script ok.cgi <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nok\n'
EOF
	start_cgi persistent
	expect /cgi/ok.cgi 200
	local cc before after i
	cc=$(callcgi_pid)
	assert_match "$cc" '^[0-9]+$'
	no_children "$cc" 3
	before=$(child_faults "$cc")
	# Abandoned after a pause, the body partly stored; and at once,
	# several times (htparser may then drop the request before
	# passing it on).
	rawhttp -t 1 -s "POST /cgi/store.cgi HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" \
	    -w 0.3 -s "3\r\nabc\r\n" -w 0.3 >/dev/null
	for i in 1 2 3 4 5 6; do
		rawhttp -t 1 -s "POST /cgi/store.cgi HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n" \
		    >/dev/null
	done
	sleep 0.5
	no_children "$cc" 3
	after=$(child_faults "$cc")
	# No script was started (and killed at once): a started one would
	# have counted its page faults in callcgi's cminflt.
	[ "$after" = "$before" ] ||
	    fail "a script was started for an abandoned body (children's page faults $before -> $after)"
	[ ! -e "$TEST_TMP/stored" ] ||
	    fail "the script ran for an abandoned body (it read $(wc -c <"$TEST_TMP/stored") bytes)"
	# A complete one still works.
	expect /cgi/store.cgi 200 --data-binary 'complete' \
	    -H 'Transfer-Encoding: chunked'
	assert_equal "$(body)" 'length=8 read=8'
	[ "$(child_faults "$cc")" != "$after" ] ||
	    fail "cminflt of callcgi did not grow with a script run"
}

# -c runs the script in its own directory.
t_chdir() {
	env_script env.cgi
	mkdir -p "$CGI/deep"
	env_script deep/env.cgi
	start_cgi "$1" -c
	expect /cgi/env.cgi 200
	assert_contains "$(body)"$'\n' $'\n'"@cwd=$CGI"$'\n'
	expect /cgi/deep/env.cgi/x 200
	assert_contains "$(body)"$'\n' $'\n'"@cwd=$CGI/deep"$'\n'
}
@test "-c: the script runs in its directory [persistent]" {
	t_chdir persistent
}
@test "-c: the script runs in its directory [transient]" {
	t_chdir transient
}

@test "without -c the script does not run in its directory" {
	env_script env.cgi
	start_cgi persistent
	expect /cgi/env.cgi 200
	assert_not_contains "$(body)"$'\n' $'\n'"@cwd=$CGI"$'\n'
}

# PHP through php-cgi as PROGRAM.
t_php() {
	command -v php-cgi >/dev/null || skip "php-cgi is not installed"
	cat >"$CGI/calc.php" <<'EOF'
<?php
header("Content-Type: text/plain");
header("X-Php: yes");
echo "sum=", 6 * 7, "\n";
echo "a=", $_GET["a"] ?? "none", "\n";
echo "b=", $_POST["b"] ?? "none", "\n";
echo "script=", $_SERVER["SCRIPT_NAME"], "\n";
echo "info=", $_SERVER["PATH_INFO"] ?? "none", "\n";
EOF
	CGI_GLOB='*.php'
	start_cgi "$1" -p php-cgi
	expect '/cgi/calc.php/pi?a=hello%20world' 200
	assert_equal "$(field X-Php)" yes
	assert_equal "$(body)" "sum=42
a=hello world
b=none
script=/cgi/calc.php
info=/pi"
	expect /cgi/calc.php 200 --data 'b=posted&c=1'
	assert_contains "$(body)" $'\nb=posted\n'
	assert_contains "$(body)" $'\na=none\n'
}
@test "-p php-cgi runs .php files (GET, POST) [persistent]" {
	t_php persistent
}
@test "-p php-cgi runs .php files (GET, POST) [transient]" {
	t_php transient
}

# ---------------------------------------------------------------------
# Processes

@test "persistent: 20 parallel 1 s requests finish in < 3 s, one process each (the script), no zombies" {
	script sleep1.cgi <<'EOF'
#!/bin/sh
sleep 1
printf 'Content-Type: text/plain\n\ndone\n'
EOF
	start_cgi persistent
	expect /cgi/sleep1.cgi 200
	local cc t0 t i pids=() kids
	cc=$(callcgi_pid)
	assert_match "$cc" '^[0-9]+$'
	t0=$(now_ms)
	for i in $(seq 20); do
		curl -sS -m 10 -o "$TEST_TMP/par.$i" \
		    "http://127.0.0.1:$PORT/cgi/sleep1.cgi" &
		pids+=($!)
	done
	sleep 0.5
	# Meanwhile: only the scripts are callcgi's children.
	kids=$(ps --ppid "$cc" -o comm= | sort | uniq -c | sed 's/^ *//')
	for i in "${pids[@]}"; do
		wait "$i"
	done
	t=$(($(now_ms) - t0))
	for i in $(seq 20); do
		assert_equal "$(cat "$TEST_TMP/par.$i")" done
	done
	[ "$t" -lt 3000 ] || fail "20 parallel requests took $t ms"
	assert_match "$kids" '^[0-9]+ sleep1\.cgi$'
	# The same callcgi served them all, and reaped every script.
	assert_equal "$(callcgi_pid)" "$cc"
	no_children "$cc" 3
}

@test "transient: a callcgi per request, none left afterwards" {
	env_script env.cgi
	start_cgi transient
	expect /cgi/env.cgi 200
	expect /cgi/env.cgi 200 --data-binary x
	local dp
	dp=$(dirplex_pid)
	for i in $(seq 60); do
		[ -z "$(children_named "$dp" callcgi)" ] && break
		sleep 0.05
	done
	assert_equal "$(children_named "$dp" callcgi)" ''
	[ -z "$(ps --ppid "$dp" -o stat= | grep '^Z')" ] ||
	    fail "zombies under dirplex"
}

@test "persistent: no zombies after scripts that fail, time out or lose their client" {
	script ok.cgi <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\nok\n'
EOF
	script bad.cgi <<'EOF'
#!/bin/sh
echo garbage
EOF
	script hang.cgi <<'EOF'
#!/bin/sh
sleep 30
EOF
	start_cgi persistent -t 1
	expect /cgi/ok.cgi 200
	expect /cgi/bad.cgi 500
	expect /cgi/hang.cgi 504
	expect /cgi/ok.cgi 200 --data-binary 'some body'
	no_children "$(callcgi_pid)" 3
}

# ---------------------------------------------------------------------
# Scripts that outlive their response

# A script that answers with a Content-Length, then goes on for a while
# (as Python's interpreter does when it exits), and one that closes its
# standard output and goes on: each response is complete at once, the
# script is neither killed nor left a zombie.
t_linger() {
	script linger.cgi <<EOF
#!/bin/sh
printf 'Content-Type: text/plain\nContent-Length: 3\n\nok\n'
sleep 2
echo done >"$TEST_TMP/linger.done"
EOF
	script closed.cgi <<EOF
#!/bin/sh
printf 'Content-Type: text/plain\n\nbye\n'
exec >&-
sleep 2
echo done >"$TEST_TMP/closed.done"
EOF
	start_cgi "$1"
	local t0 t name
	for name in linger closed; do
		t0=$(now_ms)
		expect "/cgi/$name.cgi" 200
		t=$(($(now_ms) - t0))
		[ "$t" -lt 1800 ] || fail "$name: the response took $t ms"
	done
	assert_equal "$(body)" bye
	for ((i = 0; i < 100; i++)); do
		[ -s "$TEST_TMP/linger.done" ] && [ -s "$TEST_TMP/closed.done" ] &&
		    break
		sleep 0.05
	done
	[ -s "$TEST_TMP/linger.done" ] || fail "linger.cgi was killed"
	[ -s "$TEST_TMP/closed.done" ] || fail "closed.cgi was killed"
	! grep -q 'client went away' "$SERVER_LOG" ||
	    fail "$(grep 'client went away' "$SERVER_LOG")"
	if [ "$1" = persistent ]; then
		no_children "$(callcgi_pid)" 3
	fi
}
@test "a script that lingers after a complete response is not killed, and is reaped [persistent]" {
	t_linger persistent
}
@test "a script that lingers after a complete response is not killed, and is reaped [transient]" {
	t_linger transient
}

@test "a script lingering after its response is still bounded by -t" {
	script slow.cgi <<EOF
#!/bin/sh
echo \$\$ >"$TEST_TMP/slow.pid"
printf 'Content-Type: text/plain\nContent-Length: 3\n\nok\n'
sleep 30
echo done >"$TEST_TMP/slow.done"
EOF
	start_cgi persistent -t 1
	expect /cgi/slow.cgi 200
	assert_equal "$(body)" ok
	group_gone "$(cat "$TEST_TMP/slow.pid")" 4
	[ ! -e "$TEST_TMP/slow.done" ] || fail "it ran to its end"
	no_children "$(callcgi_pid)" 3
}

@test "20 Python CGI requests with Content-Length: no 'client went away', none killed" {
	script py.cgi <<EOF
#!/usr/bin/env python3
import sys
body = "hello from python\n"
sys.stdout.write("Content-Type: text/plain\nContent-Length: %d\n\n%s"
                 % (len(body), body))
sys.stdout.flush()
open("$TEST_TMP/py.count", "a").write("x")
EOF
	start_cgi persistent
	for i in $(seq 20); do
		expect /cgi/py.cgi 200
		assert_equal "$(body)" 'hello from python'
	done
	for ((i = 0; i < 100; i++)); do
		[ "$(wc -c <"$TEST_TMP/py.count")" -eq 20 ] && break
		sleep 0.05
	done
	assert_equal "$(wc -c <"$TEST_TMP/py.count")" 20
	! grep -q 'client went away' "$SERVER_LOG" ||
	    fail "$(grep -c 'client went away' "$SERVER_LOG") times 'client went away'"
	no_children "$(callcgi_pid)" 3
}

@test "more output than the Content-Length announced is dropped" {
	script more.cgi <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\nContent-Length: 3\n\nok\nand more\n'
EOF
	start_cgi persistent
	run rawhttp -s "GET /cgi/more.cgi HTTP/1.1\r\nHost: h\r\n\r\nGET /cgi/more.cgi HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" -c
	assert_equal "$(status_codes "$output")" "200 200"
	assert_not_contains "$output" 'and more'
}

# ---------------------------------------------------------------------
# Index scripts

@test "an index script: SCRIPT_NAME is the URL through the index, never its link target" {
	mkdir -p "$SITE/blog" "$SITE/gw"
	env_script env.cgi
	cp "$CGI/env.cgi" "$SITE/blog/blog.cgi"
	cp "$CGI/env.cgi" "$SITE/gw/gw.cgi"
	ln -s gw.cgi "$SITE/gw/index.cgi"
	cgi_rc persistent
	put "$SITE/blog/.htrc" "index-file blog"
	put "$SITE/gw/.htrc" "index-file index"
	start_site -N -c "$CGI_RC" "$SITE"
	expect /blog/ 200
	expect_var SCRIPT_NAME /blog/blog.cgi
	no_var PATH_INFO
	expect_var SCRIPT_FILENAME "$SITE/blog/blog.cgi"
	expect_var DOCUMENT_ROOT "$SITE"
	expect /blog/blog.cgi 200
	expect_var SCRIPT_NAME /blog/blog.cgi
	no_var PATH_INFO
	expect /blog/blog.cgi/ 200
	expect_var PATH_INFO /
	expect '/gw/?p=x' 200
	expect_var SCRIPT_NAME /gw/index.cgi
	no_var PATH_INFO
	expect_var SCRIPT_FILENAME "$SITE/gw/index.cgi"
	expect_var DOCUMENT_ROOT "$SITE"
	expect /gw/index.cgi/repo 200
	expect_var SCRIPT_NAME /gw/index.cgi
	expect_var PATH_INFO /repo
	expect_var PATH_TRANSLATED "$SITE/repo"
}

# ---------------------------------------------------------------------
# Slow clients and the number of scripts (-l, -q)

# SLOWPOST_PY N LENGTH GAP PATH: N clients POST to PATH a body of LENGTH
# bytes, each sending one byte every GAP seconds after its head (all in
# step); "sending" goes to $TEST_TMP/slowpost once every head is out,
# "sent" once every body is.  Then it prints each client's status line
# and the first line of its body with a "=", and exits.  127.0.0.1 only, bounded by
# LENGTH * GAP plus a 30 s timeout on each read.
SLOWPOST_PY='
import os, socket, sys, time
port = int(os.environ["PORT"])
n, length, gap, path = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
prog = os.path.join(os.environ["TEST_TMP"], "slowpost")
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
              b"Content-Length: %d\r\n\r\n" % (path.encode(), length))
    socks.append(s)
with open(prog, "w") as f:
    f.write("sending\n")
for k in range(length):
    time.sleep(gap)
    for s in socks:
        s.sendall(b"x")
with open(prog, "a") as f:
    f.write("sent\n")
for s in socks:
    got = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except OSError:
        pass
    lines = [l.strip() for l in got.decode("latin-1").split("\n")]
    print(lines[0], "|", ([l for l in lines if "=" in l] + [""])[0])
'

# count_script NAME [SECONDS]: a script that leaves a file started.PID
# in $TEST_TMP, sleeps SECONDS (default none) and answers
# "length=CONTENT_LENGTH read=BYTES".
count_script() {
	script "$1" <<EOF
#!/bin/sh
: >"$TEST_TMP/started.\$\$"
n=\$(wc -c | tr -d ' ')
sleep ${2:-0}
printf 'Content-Type: text/plain\n\nlength=%s read=%s\n' "\$CONTENT_LENGTH" "\$n"
EOF
}

started_count() {
	find "$TEST_TMP" -maxdepth 1 -name 'started.*' | wc -l
}

# timed_get PATH CODE MS: PATH answers CODE within MS milliseconds.
timed_get() {
	local t0 t1
	t0=$(now_ms)
	expect "$1" "$2"
	t1=$(now_ms)
	(( t1 - t0 < $3 )) || fail "$1 took $((t1 - t0)) ms (over $3)"
}

# Twenty clients upload 8 bytes each, one byte every 0.6 s: no script
# starts until their bodies are complete (before, with the body
# streamed, twenty scripts ran for the whole upload), a normal request
# is served meanwhile at once, and every upload is then answered.
@test "slow uploads start no script until their bodies are complete; a GET is served meanwhile" {
	count_script count.cgi
	env_script env.cgi
	start_cgi persistent
	expect /cgi/env.cgi 200
	local cc probe i
	cc=$(callcgi_pid)
	python3 -c "$SLOWPOST_PY" 20 8 0.6 /cgi/count.cgi >"$TEST_TMP/statuses" &
	probe=$!
	for ((i = 0; i < 100; i++)); do
		grep -q sending "$TEST_TMP/slowpost" 2>/dev/null && break
		sleep 0.05
	done
	sleep 1
	assert_equal "$(started_count)" 0
	assert_equal "$(children_of "$cc" | wc -l)" 0
	timed_get /cgi/env.cgi 200 2000
	grep -q sent "$TEST_TMP/slowpost" &&
	    fail "the probe ended too early to tell (a slow machine?)"
	assert_equal "$(started_count)" 0
	wait "$probe" || fail "the probe failed: $(cat "$TEST_TMP/statuses")"
	assert_equal "$(grep -c '^HTTP/1.1 200 .*| length=8 read=8$' "$TEST_TMP/statuses")" 20 ||
	    fail "$(cat "$TEST_TMP/statuses")"
	assert_equal "$(started_count)" 20
}

# max_children PID FILE: until FILE exists, sample how many children
# PID has; print the most seen.
max_children() {
	local most=0 n
	while [ ! -e "$2" ]; do
		n=$(children_of "$1" | wc -l)
		((n > most)) && most=$n
		sleep 0.02
	done
	echo "$most"
}

# parallel_get N PATH: N requests of PATH at once; their statuses, one a
# line, sorted, in $TEST_TMP/par; $TEST_TMP/par.done once all are over.
parallel_get() {
	local i pids=()
	rm -f "$TEST_TMP/par.done"
	for ((i = 0; i < $1; i++)); do
		curl -s -m 30 -o /dev/null -w '%{http_code}\n' \
		    "http://127.0.0.1:$PORT$2?$i" >"$TEST_TMP/par.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$TEST_TMP"/par.[0-9]* | sort >"$TEST_TMP/par"
	: >"$TEST_TMP/par.done"
}

# With -l 2, five slow scripts asked at once run two at a time (count
# the processes), the others wait their turn; a static file is served
# meanwhile.  With -q 1 as well, one waits and two are refused with 503
# at once.  With -w 1, a waiting request is answered 503 when its time
# is up, not when the running script ends.
@test "-l 2: at most two scripts run at once, the rest wait (-q) or get 503" {
	count_script slow.cgi 1.5
	count_script slower.cgi 6
	env_script env.cgi
	local cc par sampler t0 t1
	# slow_site CALLCGI-ARGS...: the CGI site with a static file too.
	slow_site() {
		cgi_rc persistent "$@"
		printf '%s\n' "child sf" "    exec sendfile" "match" \
		    "    filename *.txt" "    handler sf" >>"$CGI_RC"
		echo static >"$SITE/s.txt"
		start_site -N -c "$CGI_RC" "$SITE"
		expect /cgi/env.cgi 200
		cc=$(callcgi_pid)
		rm -f "$TEST_TMP"/started.*
	}
	slow_site -l 2
	parallel_get 5 /cgi/slow.cgi &
	par=$!
	max_children "$cc" "$TEST_TMP/par.done" >"$TEST_TMP/most" &
	sampler=$!
	sleep 0.5
	timed_get /s.txt 200 2000
	wait "$par" "$sampler"
	assert_equal "$(tr '\n' ' ' <"$TEST_TMP/par")" "200 200 200 200 200 "
	assert_equal "$(cat "$TEST_TMP/most")" 2
	assert_equal "$(started_count)" 5
	stop_site

	slow_site -l 2 -q 1
	parallel_get 5 /cgi/slow.cgi
	assert_equal "$(tr '\n' ' ' <"$TEST_TMP/par")" "200 200 200 503 503 "
	assert_equal "$(started_count)" 3
	stop_site

	slow_site -l 1 -w 1
	curl -s -m 30 -o /dev/null "http://127.0.0.1:$PORT/cgi/slower.cgi" &
	par=$!
	sleep 0.3
	t0=$(now_ms)
	expect /cgi/slower.cgi 503
	t1=$(now_ms)
	((t1 - t0 >= 900 && t1 - t0 < 4000)) ||
	    fail "the waiting request took $((t1 - t0)) ms, not about 1000"
	assert_equal "$(started_count)" 1
	kill "$par" 2>/dev/null || true
	wait "$par" || true
}

# ---------------------------------------------------------------------
# The shipped configuration

@test "the default configuration runs examples/site/cgi/hello.cgi with a persistent callcgi" {
	cp -R "$ASHD_SRCDIR/examples/site/." "$SITE/"
	start_site "$SITE"
	expect '/cgi/hello.cgi/more?name=x' 200
	assert_equal "$(field Content-Type)" 'text/plain; charset=utf-8'
	assert_contains "$(body)" 'Hello from a CGI script.'
	assert_contains "$(body)" $'\nREQUEST_METHOD=GET\n'
	assert_contains "$(body)" $'\nSCRIPT_NAME=/cgi/hello.cgi\n'
	assert_contains "$(body)" $'\nPATH_INFO=/more\n'
	assert_contains "$(body)" $'\nQUERY_STRING=name=x\n'
	assert_contains "$(body)"$'\n' $'\nSERVER_PORT='"$PORT"$'\n'
	local cc
	cc=$(callcgi_pid)
	assert_match "$cc" '^[0-9]+$'
	expect /cgi/hello 200 --data-binary 'posted data'
	assert_contains "$(body)" $'\nREQUEST_METHOD=POST\n'
	assert_contains "$(body)" $'\nSCRIPT_NAME=/cgi/hello\n'
	assert_contains "$(body)" 'The request body (11 bytes):'
	assert_contains "$(body)" 'posted data'
	assert_equal "$(callcgi_pid)" "$cc"
	no_children "$cc" 3
}
