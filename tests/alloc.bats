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
# lives for one request (transient), not checked for being alive.
sweep() {
	local pid=$1 path=$2 want=$3 max=${4:-400} k code p mode
	local codes=${SWEEP_CODES:-^(200|500|503)\$}
	for ((k = 0; k <= max; k++)); do
		for mode in "" +; do
			[ -z "$mode" ] || ((k % 7 == 0)) || continue
			p=${path//%K/$k$mode}
			rm -f "$CTL.hit"
			echo "$k$mode" >"$CTL"
			code=$(get "$p" "${SWEEP_CURL[@]}")
			echo - >"$CTL"
			[ -z "$pid" ] || proc_alive "$pid" ||
			    fail "the handler died with allocation $k$mode of $p failing"
			if [ ! -e "$CTL.hit" ]; then
				[ -z "$mode" ] || continue
				[ "$code" = 200 ] ||
				    fail "$p: $code with nothing made to fail"
				assert_match "$(body)" "$want"
				[ "$k" -gt 0 ] || fail "no allocation seen: is the shim there?"
				echo "# $p: $k allocations" >&3
				return 0
			fi
			[[ $code =~ $codes ]] ||
			    fail "$p with allocation $k$mode failing: status $code"
			# A transient handler has no next request.
			[ -n "$pid" ] || continue
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
# to that child once it has answered one request.
under_patplex() {
	local name=$1
	shift
	put "$TEST_TMP/p.rc" "child $name" "    exec $(shimmed) $*" \
	    "match" "    point ^.*\$" "    xset File $SITE/app" \
	    "    handler $name"
	start_root patplex -N "$TEST_TMP/p.rc"
	expect /warm 200
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
	sweep "$PID" "/c?q=1" '^script q=1$'
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
	sweep "$PID" "/c?q=1" '^script q=1 body x=1$'
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
