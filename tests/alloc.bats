#!/usr/bin/env bats
# run-tests: alone
# alloc.bats: a failed allocation on a persistent handler's request path
# fails that request (503, or 500), never the process (STYLE.md, "Errors
# and memory").
#
# The handler under test runs with tests/shim/failalloc.so preloaded
# (see its header): before each request the test writes K to the
# control file, and the K-th allocation the handler makes for that
# request fails.  K goes from 0 until the request makes no K-th
# allocation (the shim did not fire), so that every allocation of the
# request path has failed once; at a few K every later allocation fails
# too.  After each, the same process must be running and must answer
# the next request (nothing made to fail) in full.  The sweeps make
# hundreds of requests each, so the suite runs alone.

load helper

setup() {
	common_setup
	[ "${ASHD_SANITIZERS:-no}" != yes ] ||
	    skip "the shim replaces malloc, which the sanitizers own"
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	SHIM=$ASHD_BUILDDIR/tests/shim/failalloc.so
	CTL=$TEST_TMP/failalloc
	SERVER_LOG=$TEST_TMP/server.log
	[ -f "$SHIM" ] ||
	    fail "$SHIM is missing: make -C $ASHD_BUILDDIR tests/shim/failalloc.so"
	echo - >"$CTL"
	SWEEP_CURL=()
	mkdir -p "$TEST_TMP/site"
	SITE=$(cd "$TEST_TMP/site" && pwd -P)
}

teardown() {
	common_teardown
	if [ -n "${MADE_USER:-}" ]; then
		local pid
		for pid in $(ps -o pid= -u "$MADE_USER" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		userdel "$MADE_USER" 2>/dev/null || { sleep 0.2; userdel "$MADE_USER" || true; }
	fi
	[ -z "${UHOME:-}" ] || rm -rf "$UHOME"
}

# shimmed: the words that run a program under the shim.
shimmed() {
	echo "env LD_PRELOAD=$SHIM ASHD_FAILALLOC=$CTL"
}

# sweep PID PATH WANT [MAX]: fail each allocation of PATH's request in
# PID in turn (see above); WANT is a regular expression the body of a
# normal answer matches.  PATH may hold %K, replaced by K.  Each request
# is made with the curl options SWEEP_CURL (an array, if set); the
# status of a request that met a failed allocation must match
# SWEEP_CODES (default 200, 500 or 503).  An empty PID: a handler that
# lives for one request (transient), not checked for being alive.  The
# command SWEEP_EACH (words), if set, runs before each request.  SWEEP_EXCUSE
# ("K CODE") accepts CODE too when allocation K alone fails.
sweep() {
	local pid=$1 path=$2 want=$3 max=${4:-400} k code p mode
	local codes=${SWEEP_CODES:-^(200|500|503)\$}
	for ((k = 0; k <= max; k++)); do
		for mode in "" +; do
			[ -z "$mode" ] || ((k % 7 == 0)) || continue
			p=${path//%K/$k$mode}
			rm -f "$CTL.hit"
			[ -z "${SWEEP_EACH:-}" ] || $SWEEP_EACH
			echo "$k$mode" >"$CTL"
			code=$(get "$p" "${SWEEP_CURL[@]}")
			echo - >"$CTL"
			[ -z "$pid" ] || proc_alive "$pid" ||
			    fail "the handler died with allocation $k$mode of $p failing"
			if [ ! -s "$CTL.hit" ]; then
				[ -z "$mode" ] || continue
				[ "$code" = 200 ] ||
				    fail "$p: $code with nothing made to fail"
				assert_match "$(body)" "$want"
				[ "$k" -gt 0 ] || fail "no allocation seen: is the shim there?"
				echo "# $p: $k allocations" >&3
				return 0
			fi
			[[ $code =~ $codes ]] ||
			    [ "$k$mode $code" = "${SWEEP_EXCUSE:-}" ] ||
			    fail "$p with allocation $k$mode failing: status $code"
			# A transient handler has no next request.
			[ -n "$pid" ] || continue
			[ -z "${SWEEP_EACH:-}" ] || $SWEEP_EACH
			expect "${p}" 200 "${SWEEP_CURL[@]}"
			assert_match "$(body)" "$want"
		done
	done
	fail "more than $max allocations for $path"
}

@test "dirplex: a failed allocation fails the request, also while a .htrc is read" {
	put "$TEST_TMP/d.rc" "child sf" "    exec sendfile" \
	    "match" "    filename *.txt" "    handler sf"
	# A directory of its own for each request, so that its .htrc is
	# read on the request path each time.
	local k d
	for ((k = 0; k <= 400; k++)); do
		for d in "d$k" "d$k+"; do
			[ "$d" = "d$k" ] || ((k % 7 == 0)) || continue
			put "$SITE/$d/.htrc" "index-file index.txt"
			echo "dir $d" >"$SITE/$d/f.txt"
		done
	done
	# shellcheck disable=SC2046
	start_root $(shimmed) dirplex -N -c "$TEST_TMP/d.rc" "$SITE"
	sweep "$(children_of "$HTPARSER_PID")" "/d%K/f.txt" '^dir d'
}

@test "patplex: a failed allocation fails the request" {
	put "$TEST_TMP/p.rc" "child echo" "    exec $ECHO_HANDLER e" \
	    "match" "    point ^x/(.*)\$ s" "    restpat y/\$1" \
	    "    xset Test yes" "    handler echo"
	# shellcheck disable=SC2046
	start_root $(shimmed) patplex -N "$TEST_TMP/p.rc"
	sweep "$(children_of "$HTPARSER_PID")" "/x/a/b?q=1" 'rest y/a/b'
}

# under_patplex NAME WORDS...: patplex whose only child NAME runs WORDS
# under the shim for every request, with X-Ash-File $SITE/app; sets PID
# to that child once it has answered one request (WARM, default /warm,
# requested with the options SWEEP_CURL).
under_patplex() {
	local name=$1
	shift
	put "$TEST_TMP/p.rc" "child $name" "    exec $(shimmed) $*" \
	    "match" "    point ^.*\$" "    xset File $SITE/app" \
	    "    handler $name"
	start_root patplex -N "$TEST_TMP/p.rc"
	expect "${WARM:-/warm}" 200 "${SWEEP_CURL[@]}"
	PID=$(children_named "$(children_of "$HTPARSER_PID")" "$name")
	[ -n "$PID" ] || fail "no $name under patplex"
}

@test "sendfile: a failed allocation fails the request" {
	printf 'the file\n' >"$SITE/app"
	under_patplex sendfile sendfile
	sweep "$PID" "/f" '^the file$'
}

@test "callcgi: a failed allocation fails the request" {
	cat >"$SITE/app" <<'SH'
#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\nscript %s\n' "$QUERY_STRING"
SH
	chmod +x "$SITE/app"
	under_patplex callcgi callcgi
	SWEEP_CODES='^(200|503)$'
	# 334 allocations here alone, more under make check's larger
	# environment (the script's environment is built from it).
	sweep "$PID" "/c?q=1" '^script q=1$' 1500
}

# cgi_app: $SITE/app, a CGI script that reads its body, writes a line
# to its standard error and answers "script QUERY body BODY".
cgi_app() {
	cat >"$SITE/app" <<'SH'
#!/bin/sh
body=$(cat)
echo "app: a line for the log" >&2
printf 'Content-Type: text/plain\r\n\r\nscript %s body %s\n' \
    "$QUERY_STRING" "$body"
SH
	chmod +x "$SITE/app"
}

# The request body and the script's standard error are on the request
# path too (a chunked body takes the same path in callcgi: both are
# received whole first); memory running out for a request is 503, never
# 500 (the script did nothing wrong).
@test "callcgi: a failed allocation fails the request, with a body" {
	cgi_app
	under_patplex callcgi callcgi
	SWEEP_CODES='^(200|503)$'
	SWEEP_CURL=(--data-binary 'x=1')
	sweep "$PID" "/c?q=1" '^script q=1 body x=1$' 1500
}

# A transient callcgi (one process for one request): memory running out
# anywhere in it answers 503, rather than leaving the client without an
# answer.  The shim counts from the start of the process.
@test "callcgi: a failed allocation fails the request [transient]" {
	cgi_app
	put "$TEST_TMP/p.rc" "fchild cgi" \
	    "    exec $(shimmed) ASHD_FAILALLOC_START=1 callcgi" \
	    "match" "    point ^.*\$" "    xset File $SITE/app" \
	    "    handler cgi"
	start_root patplex -N "$TEST_TMP/p.rc"
	SWEEP_CODES='^(200|503)$'
	SWEEP_CURL=(--data-binary 'x=1')
	sweep "" "/c?q=1" '^script q=1 body x=1$' 1500
}

@test "callfcgi: a failed allocation fails the request" {
	: >"$SITE/app"
	under_patplex callfcgi callfcgi python3 "$ASHD_SRCDIR/tests/fcgi-responder.py" \
	    --log "$TEST_TMP/app.log"
	sweep "$PID" "/a?x=1" '^ok .*query=x=1'
}

# under_callscgi: callscgi under the shim with tests/scgi-server.py as
# its application (started by callscgi, its anonymous socket in the
# test's directory).
under_callscgi() {
	: >"$SITE/app"
	# shellcheck disable=SC2030,SC2031
	export TMPDIR=$TEST_TMP
	under_patplex callscgi callscgi python3 \
	    "$ASHD_SRCDIR/tests/scgi-server.py" --log "$TEST_TMP/app.log"
	SWEEP_CODES='^(200|503)$'
}

@test "callscgi: a failed allocation fails the request" {
	under_callscgi
	sweep "$PID" "/a?x=1" '^ok .*query=x=1'
}

@test "callscgi: a failed allocation fails the request, with a body" {
	SWEEP_CURL=(--data-binary 'x=1')
	under_callscgi
	sweep "$PID" "/a?echo" '^x=1$'
}

# htextauth checks the credentials, then passes the request on to its
# inner handler: with the credentials cached (after the first request),
# and with -C, where its command (a script) runs for each request, so
# that the sweep goes through starting it and talking to it too.
@test "htextauth: a failed allocation fails the request" {
	# shellcheck disable=SC2016
	put "$TEST_TMP/auth.sh" '#!/bin/sh' 'read -r user; read -r pass' \
	    '[ "$user:$pass" = alice:secret ]'
	chmod +x "$TEST_TMP/auth.sh"
	SWEEP_CURL=(-u alice:secret)
	SWEEP_CODES='^(200|503)$'
	under_patplex htextauth htextauth "$TEST_TMP/auth.sh" -- "$ECHO_HANDLER"
	sweep "$PID" "/p?x=1" 'header X-Ash-Remote-User: alice'
	kill_bg
	under_patplex htextauth htextauth -C "$TEST_TMP/auth.sh" -- \
	    "$ECHO_HANDLER"
	sweep "$PID" "/p?x=1" 'header X-Ash-Remote-User: alice'
}

@test "userplex: a failed allocation fails the request" {
	[ "$(id -u)" -eq 0 ] || skip "userplex changes users: needs root"
	command -v useradd >/dev/null || skip "useradd is missing (package passwd)"
	local u=aal$$$RANDOM
	UHOME=$(mktemp -d /tmp/ashd-alloc.XXXXXX)
	chmod 755 "$UHOME"
	useradd -M -d "$UHOME/$u" -s /bin/sh "$u" || fail "useradd $u failed"
	MADE_USER=$u
	mkdir -p "$UHOME/$u/htpub"
	chown -R "$u:" "$UHOME/$u"
	# shellcheck disable=SC2046
	start_root $(shimmed) userplex "$ECHO_HANDLER"
	expect "/~$u/" 200
	SWEEP_CODES='^(200|503)$'
	sweep "$(children_of "$HTPARSER_PID")" "/~$u/x?q=1" "rest x"
	# The same with the user's handler ended before each request, so
	# that userplex looks the user up again and starts it again.  The
	# one 404: glibc's getpwnam() answers "no such user" (NULL, errno
	# 0) when the allocation of its files backend (allocation 2: after
	# the request's and the name's) fails, which userplex cannot tell
	# from a user that is not there.
	local up
	up=$(children_of "$HTPARSER_PID")
	SWEEP_EACH="end_user_handler $up"
	SWEEP_EXCUSE="2 404"
	sweep "$up" "/~$u/x?q=1" "rest x"
}

# end_user_handler PID: kill the handlers userplex PID runs, and wait
# until they are gone (or zombies).
end_user_handler() {
	local c i
	for c in $(children_of "$1"); do
		kill -KILL "$c" 2>/dev/null || true
		for ((i = 0; i < 200; i++)); do
			[ -e "/proc/$c" ] || break
			[ "$(sed -E 's/^.*\) (.).*/\1/' "/proc/$c/stat" 2>/dev/null)" != Z ] ||
			    break
			sleep 0.01
		done
	done
}

@test "accesslog: a failed allocation fails the request" {
	under_patplex accesslog accesslog "$TEST_TMP/log" "$ECHO_HANDLER"
	SWEEP_CODES='^(200|503)$'
	sweep "$PID" "/l?x=1" 'url /l\?x=1'
	grep -qF 'GET /l?x=1 127.0.0.1' "$TEST_TMP/log" || fail "nothing logged"
}

@test "accesslog -e: a failed allocation fails the request" {
	under_patplex accesslog accesslog -e "$TEST_TMP/log" "$ECHO_HANDLER"
	SWEEP_CODES='^(200|503)$'
	SWEEP_CURL=(--data-binary 'x=1')
	sweep "$PID" "/l?echo" '^x=1$'
	grep -qF 'POST /l?echo 127.0.0.1' "$TEST_TMP/log" || fail "nothing logged"
}

# Then with a bucket of one request that drains at two a second, so
# that each request of the sweep waits on the bucket's brim.
@test "ratequeue: a failed allocation fails the request" {
	under_patplex ratequeue ratequeue "$ECHO_HANDLER"
	SWEEP_CODES='^(200|503)$'
	sweep "$PID" "/r?x=1" 'url /r\?x=1'
	kill_bg
	under_patplex ratequeue ratequeue -s 1 -r 2 -b 5 "$ECHO_HANDLER"
	sweep "$PID" "/r?x=1" 'url /r\?x=1'
}

@test "httrcall: a failed allocation fails the request" {
	cat >"$TEST_TMP/one" <<'SH'
#!/bin/sh
printf 'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\none %s\n' "$3"
SH
	chmod +x "$TEST_TMP/one"
	under_patplex httrcall httrcall "$TEST_TMP/one"
	SWEEP_CODES='^(200|503)$'
	sweep "$PID" "/t" '^one '
}

@test "httimed: a failed allocation fails the request" {
	under_patplex httimed httimed "$ECHO_HANDLER"
	SWEEP_CODES='^(200|503)$'
	sweep "$PID" "/i?x=1" 'url /i\?x=1'
}

# htls is persistent (a `child` of dirplex, see htls(1)).
@test "htls: a failed allocation fails the request" {
	mkdir -p "$SITE/app/sub"
	printf 'a file\n' >"$SITE/app/f.txt"
	WARM=/
	under_patplex htls htls -s -m
	SWEEP_CODES='^(200|503)$'
	sweep "$PID" "/" 'f\.txt'
}

# htpipe -C (the client end, a persistent handler) in front of an
# htpipe -S server (not under the shim: it receives its requests on
# the connections it accepts, not on standard input, where the shim
# looks for a request) that runs echo-handler.
@test "htpipe -C: a failed allocation fails the request" {
	local sock=$TEST_TMP/pipe.sock i
	start_bg "$TEST_TMP/pipe-server.log" htpipe -S "$sock" "$ECHO_HANDLER"
	for ((i = 0; i < 100; i++)); do
		[ -S "$sock" ] && break
		sleep 0.05
	done
	[ -S "$sock" ] || fail "htpipe -S did not make $sock"
	under_patplex htpipe htpipe -C "$sock"
	SWEEP_CODES='^(200|503)$'
	sweep "$PID" "/h?x=1" 'url /h\?x=1'
}
