#!/usr/bin/env bats
# patplex.bats: patplex behind htparser over real TCP on 127.0.0.1.
#
# Each test writes its own configuration and starts its own htparser
# (free port) whose root handler is patplex; teardown kills them by PID
# and process group.  HOME is the test's own directory, so the global
# patplex.rc is the one a test puts in $HOME/.ashd/etc, or none.
#
# The handlers are mostly transient: tag.sh, started as "tag.sh NAME"
# by the fchild stanzas a, b, c and d of base_rc, answers with
# "handler NAME", the method, URL and rest string it got and the
# REQ_* variables (the headers), so every test can tell which stanza
# won and what it did to the request.  Persistent children are the
# test handler echo-handler ("rest R", "header NAME: VALUE" lines).

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	PATPLEX=$(ashd_prog patplex)
	SERVER_LOG=$TEST_TMP/server.log
	[ -x "$ECHO_HANDLER" ] ||
	    fail "$ECHO_HANDLER is missing: make -C $ASHD_BUILDDIR tests/handlers/echo-handler"
	[ -x "$PATPLEX" ] || fail "$PATPLEX is missing"
	make_scripts
}

teardown() {
	common_teardown
}

# ---------------------------------------------------------------------
# Helpers of this suite

make_scripts() {
	TAG=$TEST_TMP/tag.sh
	cat >"$TAG" <<'EOF'
#!/bin/sh
name=$1
shift
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n'
printf 'handler %s\nmethod %s\nurl %s\nrest %s\n' "$name" "$1" "$2" "$3"
env | grep '^REQ_' | LC_ALL=C sort
EOF
	chmod +x "$TAG"
}

# base_rc FILE [LINE...]: write FILE: transient handlers a, b, c, d
# (tag.sh NAME), then the LINES.
base_rc() {
	local f=$1
	shift
	put "$f" \
	    "fchild a" "    exec $TAG a" \
	    "fchild b" "    exec $TAG b" \
	    "fchild c" "    exec $TAG c" \
	    "fchild d" "    exec $TAG d" \
	    "$@"
}

# start_plex PATPLEX-ARGS...: start htparser on a free port of
# 127.0.0.1 with `patplex PATPLEX-ARGS...` (found through PATH) as its
# root handler.  Sets PORT and HTPARSER_PID; both log to $SERVER_LOG.
start_plex() {
	start_root patplex "$@"
}

# start_rc [LINE...]: base_rc $TEST_TMP/p.rc LINES, then patplex -N on it.
start_rc() {
	RC=$TEST_TMP/p.rc
	base_rc "$RC" "$@"
	start_plex -N "$RC"
}

# line KEY: the value of the body line "KEY value" of the last request.
line() {
	sed -n "s/^$1 //p" "$TEST_TMP/body"
}

# env_of NAME: REQ_NAME as tag.sh reported it (empty if absent).
env_of() {
	sed -n "s/^REQ_$1=//p" "$TEST_TMP/body"
}

# route PATH HANDLER REST [CURL OPTIONS...]: PATH answers 200 from
# tag.sh HANDLER, which got the rest string REST.
route() {
	local path=$1 h=$2 rest=$3
	shift 3
	expect "$path" 200 "$@"
	assert_equal "$(line handler)" "$h"
	assert_equal "$(line rest)" "$rest"
}

# to PATH HANDLER [CURL OPTIONS...]: PATH goes to tag.sh HANDLER.
to() {
	local path=$1 h=$2
	shift 2
	expect "$path" 200 "$@"
	assert_equal "$(line handler)" "$h"
}

# patplex_pid: the patplex under htparser.
patplex_pid() {
	children_of "$HTPARSER_PID" | head -n 1
}

# child_with PID WORD: the child of PID whose command line has WORD.
child_with() {
	local c
	for c in $(children_of "$1"); do
		if tr '\0' ' ' <"/proc/$c/cmdline" 2>/dev/null |
		    grep -qw -- "$2"; then
			echo "$c"
		fi
	done
}

# no_zombies PID: within 2 s, PID has no child left unreaped.
no_zombies() {
	local i c st z
	for ((i = 0; i < 100; i++)); do
		z=
		for c in $(children_of "$1"); do
			st=$(sed -E 's/^.*\) ([A-Za-z]).*/\1/' "/proc/$c/stat" 2>/dev/null) || continue
			[ "$st" != Z ] || z="$z $c"
		done
		[ -n "$z" ] || return 0
		sleep 0.02
	done
	fail "zombie children of $1:$z"
}

# hup: send SIGHUP to patplex and wait until its log says it is done.
hup() {
	local pid n before
	pid=$(patplex_pid)
	before=$(grep -c 'reloaded\|not reloaded' "$SERVER_LOG" || true)
	kill -HUP "$pid"
	for ((n = 0; n < 250; n++)); do
		[ "$(grep -c 'reloaded\|not reloaded' "$SERVER_LOG" ||
		    true)" -gt "$before" ] && return 0
		sleep 0.02
	done
	fail "patplex did not report the reload"
}

# ---------------------------------------------------------------------
# Command line

@test "patplex -h prints the usage and exits 0" {
	run timeout 5 "$PATPLEX" -h
	assert_status 0
	assert_match "${output,,}" usage
	assert_contains "$output" CONFIGFILE
}

@test "patplex: bad usage exits 2" {
	base_rc "$TEST_TMP/p.rc" "match" "    all" "    handler a"
	run timeout 5 "$PATPLEX" </dev/null
	assert_status 2
	assert_contains "$output" usage
	run timeout 5 "$PATPLEX" -Z "$TEST_TMP/p.rc" </dev/null
	assert_status 2
	run timeout 5 "$PATPLEX" "$TEST_TMP/p.rc" "$TEST_TMP/p.rc" </dev/null
	assert_status 2
	run timeout 5 "$PATPLEX" -N "$TEST_TMP/no-such.rc" </dev/null
	assert_status 2
	assert_contains "$output" no-such.rc
	# A name without a slash is searched, not opened in the current
	# directory.
	cd "$TEST_TMP"
	run timeout 5 "$PATPLEX" -N p.rc </dev/null
	assert_status 2
	assert_contains "$output" "p.rc: not found on the configuration search path"
	assert_contains "$output" "give ./p.rc"
	run timeout 5 "$PATPLEX" -N -t site.rc </dev/null
	assert_status 2
	assert_contains "$output" "site.rc: not found on the configuration search path"
	assert_contains "$output" "./site.rc"
}

@test "patplex -t: a good configuration exits 0" {
	base_rc "$TEST_TMP/p.rc" "match" "    point ^(a)(b)?/ s" \
	    "    restpat \$2\$1\$\$\${Host}\$_" "    handler a"
	run timeout 5 "$PATPLEX" -N -t "$TEST_TMP/p.rc"
	assert_status 0
	assert_contains "$output" "configuration OK"
	# With a global file too.
	base_rc "$HOME/.ashd/etc/patplex.rc" "match" "    default" \
	    "    handler b"
	run timeout 5 "$PATPLEX" -t "$TEST_TMP/p.rc"
	assert_status 0
}

@test "patplex -t: every error exits 2 naming file:line" {
	local f=$TEST_TMP/bad.rc
	base_rc "$f" \
	    "match" "    point (unclosed" "    handler a" \
	    "frobnicate yes" \
	    "match" "    all" "    bogus-rule x" "    handler a" \
	    "match" "    url x iz" "    handler a" \
	    "match" "    url x" "    restpat \$x" "    handler a" \
	    "match" "    url (x) s" "    method (G) s" "    handler a" \
	    "match" "    url (x)" "    restpat \$2" "    handler a" \
	    "match" "    all" "    restpat \$1" "    handler a" \
	    "match" "    all" "    handler nobody" \
	    "match" "    all" \
	    "match" "    handler a" \
	    "match extra" "    all" "    handler a" \
	    "match" "    all" "    priority high" "    handler a" \
	    "match" "    all" "    handler a" "    reparse" \
	    "fchild a" "    exec $TAG again" \
	    "match" "    header" "    handler a" \
	    "match" "    all" "    restpat \${Host" "    handler a" \
	    "match" "    all" "    set Bad:Name x" "    handler a"
	# Every line number below is that of the line at fault.
	run timeout 5 "$PATPLEX" -N -t "$f"
	assert_status 2
	local want
	for want in \
	    "$f:10: bad regular expression" \
	    "$f:12: unknown directive \"frobnicate\"" \
	    "$f:15: unknown match line \"bogus-rule\"" \
	    "$f:18: unknown flag 'z'" \
	    "$f:22: restpat: \"\$\" must be followed" \
	    "$f:26: only one rule of a match may have the flag s" \
	    "$f:30: restpat uses \$2, but the regular expression of line 29 has 1 group(s)" \
	    "$f:34: restpat uses \$1, but the match has no rule" \
	    "$f:38: handler \"nobody\" is not defined" \
	    "$f:39: match has no action" \
	    "$f:41: match has no rules" \
	    "$f:43: match takes no arguments" \
	    "$f:48: priority: \"high\" is not a number" \
	    "$f:53: a match has exactly one action" \
	    "$f:54: handler \"a\" is defined twice" \
	    "$f:57: header takes a header name" \
	    "$f:61: restpat: \"\${\" without \"}\"" \
	    "$f:65: bad header name \"Bad:Name\"" \
	    "18 error(s)"; do
		assert_contains "$output" "$want"
	done
}

@test "patplex -t: errors in included and global files name their file:line" {
	put "$TEST_TMP/conf.d/10-x.rc" "match" "    point [z-a]" \
	    "    handler a"
	base_rc "$TEST_TMP/p.rc" "include conf.d/*.rc"
	put "$HOME/.ashd/etc/patplex.rc" "match" "    all" "    frob"
	run timeout 5 "$PATPLEX" -t "$TEST_TMP/p.rc"
	assert_status 2
	assert_contains "$output" "$TEST_TMP/conf.d/10-x.rc:2: bad regular expression"
	assert_contains "$output" "$HOME/.ashd/etc/patplex.rc:3: unknown match line"
	# -N skips the global file.
	run timeout 5 "$PATPLEX" -N -t "$TEST_TMP/p.rc"
	assert_status 2
	assert_not_contains "$output" patplex.rc:3
}

@test "patplex never starts with a configuration it could not parse" {
	base_rc "$TEST_TMP/p.rc" "match" "    point ((" "    handler a"
	run timeout 5 "$PATPLEX" -N "$TEST_TMP/p.rc" </dev/null
	assert_status 2
	assert_contains "$output" "$TEST_TMP/p.rc:10: bad regular expression"
	assert_contains "$output" "not starting"
	# Nor with a broken global file.
	base_rc "$TEST_TMP/p.rc" "match" "    all" "    handler a"
	put "$HOME/.ashd/etc/patplex.rc" "\"unterminated"
	run timeout 5 "$PATPLEX" "$TEST_TMP/p.rc" </dev/null
	assert_status 2
	assert_contains "$output" "$HOME/.ashd/etc/patplex.rc:1:"
}

# ---------------------------------------------------------------------
# Rules

@test "point: matches the rest string; the rest becomes what follows the match" {
	start_rc \
	    "match" "    point ^app/" "    handler a" \
	    "match" "    point ^exact\$" "    handler b" \
	    "match" "    point mid/" "    handler c" \
	    "match" "    point ^m/" "    point ^m/n/" "    handler b" \
	    "match" "    default" "    handler d"
	route '/app/x/y?q=1' a x/y
	route /app/ a ''
	route /exact b ''
	# Not anchored unless the regex says so: what follows the match.
	route /some/mid/tail c tail
	# With two point rules the last one cuts.
	route /m/n/o b o
	# No point rule: the rest string stays as it was.
	route /other/thing d other/thing
	# The rest is matched without the query, and raw.
	route '/app%2Fz?app/' d 'app%2Fz'
}

@test "url: the raw URL with its query, not decoded" {
	start_rc \
	    "match" "    url \\?debug=1(&|\$)" "    handler a" \
	    "match" "    url ^/raw%41\$" "    handler b" \
	    "match" "    default" "    handler d"
	route '/x/y?debug=1' a x/y
	route '/x/y?debug=10' d x/y
	route /raw%41 b raw%41
	route /rawA d rawA
}

@test "method: against the method; unanchored unless anchored" {
	start_rc \
	    "match" "    method ^(POST|PUT)\$" "    handler a" \
	    "match" "    method ET" "    handler b" \
	    "match" "    default" "    handler d"
	to /x a -X POST
	to /x a -X PUT
	to /x b
	to /x d -X PATCH
	assert_equal "$(line method)" PATCH
	# DELETE has ET in it.
	to /x b -X DELETE
}

@test "header: matches the named header (any case); never when it is absent" {
	start_rc \
	    "match" "    header x-token ^.*\$" "    handler a" \
	    "match" "    header Accept-Language ^de" "    handler b" \
	    "match" "    default" "    handler d"
	to / a -H 'X-Token;'
	to / a -H 'x-TOKEN: anything'
	to / b -H 'Accept-Language: de-CH'
	to / d -H 'Accept-Language: en'
	# ^.*$ matches every value, but an absent header matches nothing.
	to / d
}

@test "all, and a stanza needs every one of its rules" {
	start_rc \
	    "match" "    point ^a/" "    method ^GET\$" \
	    "    header Host ^one\$" "    handler a" \
	    "match" "    all" "    handler b"
	route /a/x a x -H 'Host: one'
	route /a/x b a/x -H 'Host: two'
	route /a/x b a/x -X POST -H 'Host: one'
	route /b/x b b/x -H 'Host: one'
}

@test "default: all + priority -10, so it loses to everything at 0" {
	start_rc \
	    "match" "    default" "    handler a" \
	    "match" "    point ^x" "    handler b" \
	    "match" "    point ^y" "    priority -20" "    handler c" \
	    "match" "    default" "    point ^z" "    handler d"
	# The default stanza comes first in the file and still loses.
	to /x b
	to /y a
	to /zzz a
	to /other a
}

@test "flag i: case-insensitive" {
	start_rc \
	    "match" "    point ^abc/ i" "    handler a" \
	    "match" "    header Host ^WWW\\.EXAMPLE\\.ORG\$ i" "    handler b" \
	    "match" "    point ^def/" "    handler c" \
	    "match" "    default" "    handler d"
	route /ABC/x a x
	route /aBc/x a x
	to / b -H 'Host: www.example.org'
	to /DEF/ d
	to /def/ c
}

@test "flag q: the percent-decoded text; the rest is cut after the raw match" {
	start_rc \
	    "match" "    point \"^my docs/\" q" "    handler a" \
	    "match" "    point ^x.y\$ q" "    handler c" \
	    "match" "    url ^/enc/x\$ q" "    handler b" \
	    "match" "    header X-Enc \"^a b\$\" q" "    handler c" \
	    "match" "    default" "    handler d"
	route '/my%20docs/a%20b' a 'a%20b'
	route '/%6Dy%20docs/x' a x
	route '/x%2Ey' c ''
	route '/enc%2Fx' b 'enc%2Fx'
	route '/enc/x' b 'enc/x'
	to /h c -H 'X-Enc: a%20b'
	to /h d -H 'X-Enc: a%2520b'
	# Without q the same regular expression sees the raw text.
	start_rc "match" "    point \"^my docs/\"" "    handler a" \
	    "match" "    default" "    handler d"
	to '/my%20docs/x' d
}

@test "flag q: a decoded NUL never matches, malformed escapes stay literal" {
	start_rc \
	    "match" "    point ^a.b\$ q" "    handler a" \
	    "match" "    point ^%zz/ q" "    handler b" \
	    "match" "    default" "    handler d"
	route /a%2fb a ''
	to /a%00b d
	route /%zz/x b x
}

@test "restpat: \$0-\$9 from the rule flagged s, unmatched groups empty" {
	start_rc \
	    "match" "    header Host ^(www\\.)?([a-z]+)\\.test(:[0-9]+)?\$ is" \
	    "    point ^(.*)\$" \
	    "    restpat sites/\$2/\$_" "    handler a" \
	    "match" "    point ^v([0-9])/(a)?(b)?(.*)\$ s" \
	    "    restpat [\$0][\$1][\$2][\$3][\$4]" "    handler b"
	route /x/y a sites/multi/x/y -H 'Host: www.multi.test'
	route /x/y a sites/OTHER/x/y -H 'Host: OTHER.test:8080'
	route /v7/btail b '[v7/btail][7][][b][tail]'
}

@test "restpat: without an s rule the groups are those of the first rule with a regex" {
	start_rc \
	    "match" "    method ^(GET)\$" "    point ^(u)/(.*)\$" \
	    "    restpat \$1:\$0" "    handler a" \
	    "match" "    point ^([a-z]+)/(.*)\$" "    method (P)OST s" \
	    "    restpat \$1/\$0" "    handler b"
	route /u/x a GET:GET
	route /k/x b P/POST -X POST
}

@test "restpat: \$_ is the rest before the rewrite, \$\$, \${HEADER}" {
	start_rc \
	    "match" "    point ^p/" \
	    "    restpat \"lit \$\$ [\$_] {\${X-Test}} {\${Absent}}\"" \
	    "    handler a"
	route '/p/x%20y?q' a 'lit $ [p/x%20y] {v} {}' -H 'X-Test: v'
	route '/p/' a 'lit $ [p/] {} {}'
}

@test "restpat: groups of a q rule are re-encoded into the rest" {
	start_rc \
	    "match" "    point ^~([^/]+)/(.*)\$ sq" \
	    "    restpat users/\$1/\$2" "    handler a"
	route '/~j%6Fe/a%20b' a 'users/joe/a%20b'
	route '/~a%25b/x' a 'users/a%25b/x'
}

@test "restpat: an empty template empties the rest string" {
	start_rc "match" "    point ^x" "    restpat \"\"" "    handler a"
	route /x/y/z a ''
}

@test "set and xset: headers the handler sees (set replaces a client's)" {
	start_rc \
	    "match" "    all" "    set X-Mine one" "    set X-Client new" \
	    "    xset Mode \"a b\"" "    handler a"
	to / a -H 'X-Client: old'
	assert_equal "$(env_of X_MINE)" one
	assert_equal "$(env_of X_CLIENT)" new
	assert_equal "$(env_of X_ASH_MODE)" 'a b'
}

@test "set: a header set by a stanza is seen by the header rules after reparse" {
	start_rc \
	    "match" "    point ^in/" "    xset Stage one" "    reparse" \
	    "match" "    header X-Ash-Stage ^one\$" "    handler a" \
	    "match" "    all" "    priority -100" "    handler d"
	route /in/x a x
	to /x d
}

@test "404 when no stanza matches" {
	start_rc "match" "    point ^only/" "    handler a"
	expect /only/x 200
	expect /other 404
	assert_contains "$(body)" "404"
	expect / 404
}

# ---------------------------------------------------------------------
# Precedence

@test "priority and order: the highest wins, ties go to the first in the file" {
	start_rc \
	    "match" "    point ^x" "    handler a" \
	    "match" "    point ^x" "    priority 5" "    handler b" \
	    "match" "    point ^x" "    order 5" "    handler c" \
	    "match" "    point ^y" "    handler a" \
	    "match" "    point ^y" "    handler b" \
	    "match" "    point ^z" "    priority -1" "    handler a" \
	    "match" "    point ^z" "    handler b" \
	    "match" "    point ^xx" "    priority +6" "    handler d"
	to /x b
	to /xx d
	to /y a
	to /z b
}

@test "the global patplex.rc loses at the same priority, wins above it" {
	base_rc "$HOME/.ashd/etc/patplex.rc" \
	    "match" "    point ^same" "    handler a" \
	    "match" "    point ^high" "    priority 1" "    handler a" \
	    "match" "    point ^only-global" "    handler a" \
	    "match" "    point ^gvl" "    handler a" \
	    "match" "    default" "    handler c"
	RC=$TEST_TMP/p.rc
	base_rc "$RC" \
	    "match" "    point ^same" "    handler b" \
	    "match" "    point ^high" "    handler b" \
	    "match" "    default" "    handler d" \
	    "match" "    point ^gvl" "    priority -10" "    handler c"
	start_plex "$RC"
	to /same b
	to /high a
	to /only-global a
	# A global stanza at 0 beats CONFIGFILE's stanzas below 0, its
	# default too; between the two defaults CONFIGFILE's wins.
	to /gvl a
	to /nothing d
}

@test "the global file: CONFIGFILE's handlers come first; -N skips the file" {
	put "$HOME/.ashd/etc/patplex.rc" \
	    "fchild a" "    exec $TAG global-a" \
	    "fchild g" "    exec $TAG global-g" \
	    "match" "    point ^g/" "    handler g" \
	    "match" "    point ^ga/" "    priority 1" "    handler a"
	RC=$TEST_TMP/p.rc
	base_rc "$RC" "match" "    point ^local/" "    handler g" \
	    "match" "    default" "    handler d"
	start_plex "$RC"
	to /g/ global-g
	# A global stanza naming "a" gets CONFIGFILE's a.
	to /ga/ a
	# CONFIGFILE may use a handler defined only in the global file.
	to /local/ global-g
	kill_bg
	# With -N, CONFIGFILE naming g is an error.
	run timeout 5 "$PATPLEX" -N -t "$RC"
	assert_status 2
	assert_contains "$output" "handler \"g\" is not defined"
	base_rc "$RC" "match" "    default" "    handler d"
	start_plex -N "$RC"
	to /g/ d
}

@test "CONFIGFILE without a slash is searched like the global file" {
	base_rc "$HOME/.ashd/etc/site.rc" "match" "    all" "    handler c"
	start_plex -N site.rc
	to /x c
}

@test "include: globs in sorted order, relative to the including file" {
	mkdir -p "$TEST_TMP/conf/sites"
	put "$TEST_TMP/conf/sites/20-b.rc" "match" "    point ^x" \
	    "    handler b"
	put "$TEST_TMP/conf/sites/10-a.rc" "match" "    point ^x" \
	    "    handler a" "include ../more.rc"
	put "$TEST_TMP/conf/more.rc" "match" "    point ^y" "    handler c"
	base_rc "$TEST_TMP/conf/p.rc" "include sites/*.rc"
	start_plex -N "$TEST_TMP/conf/p.rc"
	to /x a
	to /y c
}

# ---------------------------------------------------------------------
# Reparse

@test "reparse: side effects apply, then matching starts again without it" {
	start_rc \
	    "match" "    point ^api/" "    xset Api yes" "    reparse" \
	    "match" "    point ^v([0-9]+)/(.*)\$ s" \
	    "    restpat \$2" "    set X-Version \$1" "    handler a" \
	    "match" "    point ^old/(.*)\$ s" "    restpat v1/\$1" \
	    "    reparse" \
	    "match" "    default" "    handler d"
	route /api/v2/items a items
	assert_equal "$(env_of X_ASH_API)" yes
	assert_equal "$(env_of X_VERSION)" '$1'
	# The mount point of the first stanza, then a rewrite, then the
	# version stanza.
	route /api/old/things a things
	route /api/nothing d nothing
	# The url does not change, only the rest string.
	assert_equal "$(line url)" /api/nothing
}

@test "reparse: a stanza fires at most once, so a reparse loop ends (404)" {
	start_rc \
	    "match" "    all" "    restpat again/\$_" "    reparse" \
	    "match" "    point ^again/" "    reparse" \
	    "match" "    point ^x" "    priority 5" "    reparse"
	expect /x 404
	expect /y 404
	# With a last stanza that takes what the loop left.
	start_rc \
	    "match" "    all" "    restpat again/\$_" "    reparse" \
	    "match" "    all" "    restpat more/\$_" "    reparse" \
	    "match" "    all" "    priority -5" "    handler a"
	route /x a more/again/x
}

@test "reparse: the highest-priority stanza left is taken on each round" {
	start_rc \
	    "match" "    point ^a" "    priority 10" "    restpat b" \
	    "    reparse" \
	    "match" "    point ^b" "    priority 20" "    restpat c" \
	    "    reparse" \
	    "match" "    point ^c" "    handler c" \
	    "match" "    point ^b" "    handler b"
	# c's point cut leaves nothing.
	route /a c ''
	route /bb c ''
}

# ---------------------------------------------------------------------
# Handlers

@test "child: one persistent process gets the rewritten request; fchild argv" {
	RC=$TEST_TMP/p.rc
	base_rc "$RC" \
	    "child echo" "    exec $ECHO_HANDLER" \
	    "fchild t" "    exec $TAG one \"two words\"" \
	    "match" "    point ^e/" "    xset From patplex" "    handler echo" \
	    "match" "    point ^t/" "    handler t"
	start_plex -N "$RC"
	local pid first
	expect /e/x/y?z 200
	assert_equal "$(line rest)" x/y
	assert_contains "$(body)" "header X-Ash-From: patplex"
	pid=$(patplex_pid)
	first=$(children_named "$pid" echo-handler)
	[ -n "$first" ] || fail "no echo-handler child"
	expect /e/ 200
	assert_equal "$(children_named "$pid" echo-handler)" "$first"
	# The fchild gets its arguments, then method, URL and rest.
	to '/t/a?b' one
	assert_equal "$(sed -n 2p "$TEST_TMP/body")" "method two words"
	no_zombies "$pid"
}

@test "a persistent child that was killed is restarted on its next use" {
	RC=$TEST_TMP/p.rc
	base_rc "$RC" "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    all" "    handler echo"
	start_plex -N "$RC"
	local pid first
	expect /x 200
	pid=$(patplex_pid)
	first=$(children_named "$pid" echo-handler)
	kill -KILL "$first"
	sleep 0.2
	expect /x 200
	[ "$(children_named "$pid" echo-handler)" != "$first" ] ||
	    fail "not restarted"
	no_zombies "$pid"
}

@test "a handler program that does not exist gives 500, and the log names the client and the request" {
	start_rc "fchild none" "    exec $TEST_TMP/does-not-exist" \
	    "match" "    all" "    handler none"
	expect '/x?y=1' 500
	assert_match "$(cat "$SERVER_LOG")" 'patplex: 127\.0\.0\.1:[0-9]+ GET /x\?y=1: handler none: '
}

# ---------------------------------------------------------------------
# Reload

# reload_rc STAGE: the configuration of the reload tests; STAGE goes
# into X-Ash-Stage, child "gone" exists only in stage 1.  The file is
# replaced by a rename, so that patplex never reads half of it.
reload_rc() {
	local extra=()
	if [ "$1" = 1 ]; then
		extra=("child gone" "    exec $ECHO_HANDLER gone"
		    "match" "    point ^gone/" "    handler gone")
	fi
	base_rc "$RC.new" \
	    "child keep" "    exec $ECHO_HANDLER keep" \
	    "match" "    point ^k/" "    xset Stage $1" "    handler keep" \
	    "${extra[@]}"
	mv -f "$RC.new" "$RC"
}

@test "SIGHUP re-reads the configuration; surviving children keep their PID" {
	RC=$TEST_TMP/p.rc
	reload_rc 1
	start_plex -N "$RC"
	local pid keep gone
	expect /k/x 200
	assert_contains "$(body)" "header X-Ash-Stage: 1"
	expect /gone/x 200
	pid=$(patplex_pid)
	keep=$(child_with "$pid" keep)
	gone=$(child_with "$pid" gone)
	[ -n "$keep" ] && [ -n "$gone" ] || fail "children not found"
	# A request in flight in "gone" survives its removal.
	local i
	rawhttp -t 5 -s "GET /gone/slow?sleep=700 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" -c >"$TEST_TMP/slow" &
	local slow=$!
	# In flight once echo-handler has forked a child to serve it.
	for ((i = 0; i < 250; i++)); do
		[ -n "$(children_of "$gone")" ] && break
		sleep 0.02
	done
	[ -n "$(children_of "$gone")" ] || fail "the slow request did not arrive"
	reload_rc 2
	hup
	expect /k/x 200
	assert_contains "$(body)" "header X-Ash-Stage: 2"
	assert_equal "$(child_with "$pid" keep)" "$keep"
	expect /gone/x 404
	wait "$slow"
	assert_contains "$(cat "$TEST_TMP/slow")" "HTTP/1.1 200"
	# The removed child was told to go (end-of-file) and is reaped.
	for ((i = 0; i < 100; i++)); do
		proc_alive "$gone" || break
		sleep 0.02
	done
	! proc_alive "$gone" || fail "child gone still running"
	no_zombies "$pid"
	assert_equal "$(patplex_pid)" "$pid"
}

@test "kill -HUP on htparser reloads patplex, its root handler" {
	RC=$TEST_TMP/p.rc
	reload_rc 1
	start_plex -N "$RC"
	local pid n before
	expect /k/x 200
	assert_contains "$(body)" "header X-Ash-Stage: 1"
	pid=$(patplex_pid)
	reload_rc 2
	before=$(grep -c 'reloaded' "$SERVER_LOG" || true)
	kill -HUP "$HTPARSER_PID"
	for ((n = 0; n < 250; n++)); do
		[ "$(grep -c 'reloaded' "$SERVER_LOG" || true)" -gt "$before" ] &&
		    break
		sleep 0.02
	done
	expect /k/x 200
	assert_contains "$(body)" "header X-Ash-Stage: 2"
	proc_alive "$HTPARSER_PID" || fail "htparser died of SIGHUP"
	assert_equal "$(patplex_pid)" "$pid"
}

@test "SIGHUP: a child whose command changed is restarted" {
	RC=$TEST_TMP/p.rc
	base_rc "$RC" "child keep" "    exec $ECHO_HANDLER v1" \
	    "match" "    all" "    handler keep"
	start_plex -N "$RC"
	local pid
	expect /x 200
	pid=$(patplex_pid)
	[ -n "$(child_with "$pid" v1)" ] || fail "no v1 child"
	base_rc "$RC" "child keep" "    exec $ECHO_HANDLER v2" \
	    "match" "    all" "    handler keep"
	hup
	expect /x 200
	[ -n "$(child_with "$pid" v2)" ] || fail "no v2 child"
}

@test "SIGHUP with a bad configuration keeps the old one and logs why" {
	RC=$TEST_TMP/p.rc
	reload_rc 1
	start_plex -N "$RC"
	local pid keep
	expect /k/x 200
	pid=$(patplex_pid)
	keep=$(child_with "$pid" keep)
	base_rc "$RC" "match" "    point (((" "    handler a"
	hup
	assert_contains "$(cat "$SERVER_LOG")" "$RC:10: bad regular expression"
	assert_contains "$(cat "$SERVER_LOG")" "not reloaded"
	expect /k/x 200
	assert_contains "$(body)" "header X-Ash-Stage: 1"
	assert_equal "$(child_with "$pid" keep)" "$keep"
	# A missing file too.
	rm "$RC"
	hup
	expect /gone/x 200
	# And a good one afterwards is taken.
	reload_rc 2
	hup
	expect /k/x 200
	assert_contains "$(body)" "header X-Ash-Stage: 2"
	assert_equal "$(child_with "$pid" keep)" "$keep"
}

@test "reload under load: every request succeeds while the file changes" {
	RC=$TEST_TMP/p.rc
	reload_rc 1
	start_plex -N "$RC"
	local pid keep i
	expect /k/x 200
	pid=$(patplex_pid)
	keep=$(child_with "$pid" keep)
	# 300 requests on keep-alive connections, as fast as they go.
	python3 - "$PORT" >"$TEST_TMP/load" 2>&1 <<'PY' &
import http.client, sys, time
port = int(sys.argv[1])
ok = bad = 0
deadline = time.monotonic() + 30
conn = None
for i in range(300):
    if time.monotonic() > deadline:
        break
    try:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/k/%d" % i)
        r = conn.getresponse()
        body = r.read()
        if r.status == 200 and b"rest %d\n" % i in body:
            ok += 1
        else:
            bad += 1
            print("bad", i, r.status, body[:80])
    except Exception as e:
        bad += 1
        print("error", i, e)
        conn = None
print("ok", ok, "bad", bad)
PY
	local load=$! n=0
	while proc_alive "$load" && ((n < 200)); do
		reload_rc $((n % 2 + 1))
		kill -HUP "$pid"
		sleep 0.05
		n=$((n + 1))
	done
	wait "$load"
	((n >= 3)) || fail "only $n reloads during the load"
	sleep 0.2
	reload_rc 2
	hup
	assert_contains "$(cat "$TEST_TMP/load")" "ok 300 bad 0"
	assert_equal "$(child_with "$pid" keep)" "$keep"
	expect /k/x 200
	assert_contains "$(body)" "header X-Ash-Stage: 2"
}

# ---------------------------------------------------------------------
# The example

@test "examples/vhosts/run serves two virtual hosts and ~user directories" {
	local try
	for try in 1 2 3; do
		PORT=$(free_port)
		start_bg "$SERVER_LOG" "$ASHD_SRCDIR/examples/vhosts/run" "$PORT"
		wait_port "$PORT" 5 "$BG_PID" && break
		kill_bg
	done
	port_listening "$PORT" || fail "examples/vhosts/run did not start"
	expect / 200 -H 'Host: alpha.localhost'
	assert_contains "$(body)" "Alpha"
	expect / 200 -H "Host: beta.localhost:$PORT"
	assert_contains "$(body)" "Beta"
	expect /about 200 -H 'Host: BETA.localhost'
	assert_contains "$(body)" "About Beta"
	# Unknown hosts get the first site.
	expect / 200 -H 'Host: other.example'
	assert_contains "$(body)" "Alpha"
	expect /~alice/ 200 -H 'Host: beta.localhost'
	assert_contains "$(body)" "Alice"
	expect /~alice/notes.txt 200 -H 'Host: alpha.localhost'
	assert_contains "$(body)" "alice"
	# /~alice is redirected to /~alice/ by the users' dirplex.
	expect /~alice 301 -H 'Host: alpha.localhost'
	assert_equal "$(field Location)" /~alice/
	expect /~nobody/ 404 -H 'Host: alpha.localhost'
	# Above the root: htparser answers 400 (dot-segments).
	expect /~alice/../../etc/passwd 400 -H 'Host: alpha.localhost'
	expect /~alice/../~alice/notes.txt 200 -H 'Host: alpha.localhost'
}
