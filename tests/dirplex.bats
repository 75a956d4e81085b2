#!/usr/bin/env bats
# dirplex.bats: dirplex behind htparser over real TCP on 127.0.0.1.
#
# Each test builds its own small site in $TEST_TMP/site, writes its own
# configuration, and starts its own htparser (free port) whose root
# handler is dirplex; teardown kills them by PID and process group.
# Most tests use `dirplex -N -c FILE` so that only their configuration
# counts, with the persistent test handler echo-handler (it answers with
# the request it received: "rest R" and "header NAME: VALUE" lines, so
# X-Ash-File and the rest string can be checked) or small transient
# shell handlers written here.  Tests of the shipped setup use the
# default configuration (no -N): with the build directories on PATH,
# the repository's etc/ashd/dirplex.rc is found.
#
# Requests go through curl (--path-as-is, so ".." reaches the server
# unchanged), or through helper.bash's python3 client for exact bytes.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	DIRPLEX=$(ashd_prog dirplex)
	SERVER_LOG=$TEST_TMP/server.log
	mkdir -p "$TEST_TMP/site"
	SITE=$(cd "$TEST_TMP/site" && pwd -P)
	[ -x "$ECHO_HANDLER" ] ||
	    fail "$ECHO_HANDLER is missing: make -C $ASHD_BUILDDIR tests/handlers/echo-handler"
	make_scripts
}

teardown() {
	common_teardown
}

# ---------------------------------------------------------------------
# Helpers of this suite

# The transient handlers used below.
#   show.sh: 200 text/plain listing its arguments, working directory,
#	pid, HTTP_VERSION, the REQ_* variables and, when X-Ash-File is a
#	directory, its entries.
#   nf.sh: a custom 404 page naming the URL.
make_scripts() {
	SHOW=$TEST_TMP/show.sh
	NF=$TEST_TMP/nf.sh
	cat >"$SHOW" <<'EOF'
#!/bin/sh
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n'
for a in "$@"; do printf 'arg:%s\n' "$a"; done
printf 'cwd:%s\n' "$(pwd -P)"
printf 'pid:%s\n' "$$"
printf 'version:%s\n' "$HTTP_VERSION"
env | grep '^REQ_' | LC_ALL=C sort
if [ -d "$REQ_X_ASH_FILE" ]; then
	ls "$REQ_X_ASH_FILE" | sed 's/^/entry:/'
fi
EOF
	cat >"$NF" <<'EOF'
#!/bin/sh
printf 'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\ncustom 404 for %s\n' "$2"
EOF
	chmod +x "$SHOW" "$NF"
}

# base_rc [LINE...]: write $TEST_TMP/base.rc: a persistent child "echo"
# (echo-handler) that gets everything by default, index files named
# index (as in the shipped dirplex.rc), then the LINES.
base_rc() {
	BASE_RC=$TEST_TMP/base.rc
	put "$BASE_RC" \
	    "child echo" \
	    "    exec $ECHO_HANDLER" \
	    "index-file index" \
	    "match" \
	    "    default" \
	    "    handler echo" \
	    "$@"
}

# start_echo_site [LINE...]: base_rc LINES, then start_site -N -c.
start_echo_site() {
	base_rc "$@"
	start_site -N -c "$BASE_RC" "$SITE"
}

# seen NAME: the value of request header NAME as echo-handler reported
# it in the last body (empty if absent).
seen() {
	sed -n "s/^header $1: //p" "$TEST_TMP/body"
}

# seen_rest: the rest string echo-handler got.
seen_rest() {
	sed -n 's/^rest //p' "$TEST_TMP/body"
}

# expect_file PATH FILE [REST]: PATH reaches echo-handler with X-Ash-File
# FILE (absolute) and rest string REST (default empty).
expect_file() {
	expect "$1" 200
	assert_equal "$(seen X-Ash-File)" "$2"
	assert_equal "$(seen_rest)" "${3:-}"
	assert_contains "$(body)" $'\nurl '"$1"$'\n'
}

# expect_404 PATH...: each PATH answers 404 (not from a handler).
expect_404() {
	local p
	for p in "$@"; do
		expect "$p" 404
		assert_not_contains "$(body)" 'X-Ash-File'
	done
}

# raw_status REQUEST-LINE-PATH: the status of a raw "GET PATH" (sent
# byte for byte, nothing normalised).
raw_status() {
	local out
	out=$(raw_request "GET $1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	status_codes "$out"
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

# ---------------------------------------------------------------------
# Command line

@test "dirplex -h prints the usage and exits 0" {
	run timeout 5 "$DIRPLEX" -h
	assert_status 0
	assert_match "${output,,}" usage
	assert_contains "$output" DIR
}

@test "dirplex: bad usage exits 2" {
	run timeout 5 "$DIRPLEX" </dev/null
	assert_status 2
	run timeout 5 "$DIRPLEX" -Z "$SITE" </dev/null
	assert_status 2
	run timeout 5 "$DIRPLEX" "$SITE" "$SITE" </dev/null
	assert_status 2
	run timeout 5 "$DIRPLEX" -c </dev/null
	assert_status 2
	run timeout 5 "$DIRPLEX" -N "$TEST_TMP/no-such-dir" </dev/null
	assert_status 2
	run timeout 5 "$DIRPLEX" -N -c "$TEST_TMP/no-such.rc" "$SITE" </dev/null
	assert_status 2
	assert_contains "$output" no-such.rc
}

@test "dirplex -t: a good configuration exits 0" {
	base_rc
	put "$SITE/a/.htrc" "index-file start" "match" "    filename *.txt" \
	    "    handler echo"
	put "$SITE/a/b/.htrc" "dot-allow .well-known"
	run timeout 5 "$DIRPLEX" -N -t -c "$BASE_RC" "$SITE"
	assert_status 0
	assert_contains "$output" OK
	# With the shipped global configuration too.
	run timeout 5 "$DIRPLEX" -t "$SITE"
	assert_status 0
}

@test "dirplex -t: an error in any .htrc under DIR exits 2 naming file:line" {
	base_rc
	put "$SITE/a/b/c/.htrc" "# comment" "match" "    filename *.txt" \
	    "    bogus-rule x" "    handler echo"
	put "$SITE/x/.htrc" "" "" "\"unterminated"
	put "$SITE/ok/.htrc" "index-file main"
	run timeout 5 "$DIRPLEX" -N -t -c "$BASE_RC" "$SITE"
	assert_status 2
	assert_contains "$output" "$SITE/a/b/c/.htrc:4:"
	assert_contains "$output" "$SITE/x/.htrc:3:"
	assert_not_contains "$output" "$SITE/ok/.htrc"
}

@test "dirplex -t: an error in the -c file exits 2 naming file:line" {
	put "$TEST_TMP/bad.rc" "child echo" "    exec $ECHO_HANDLER" \
	    "frobnicate yes"
	run timeout 5 "$DIRPLEX" -N -t -c "$TEST_TMP/bad.rc" "$SITE"
	assert_status 2
	assert_contains "$output" "$TEST_TMP/bad.rc:3:"
	# And it does not start with it either.
	run timeout 5 "$DIRPLEX" -N -c "$TEST_TMP/bad.rc" "$SITE" </dev/null
	assert_status 2
	assert_contains "$output" "$TEST_TMP/bad.rc:3:"
}

# ---------------------------------------------------------------------
# URL to file

@test "a file at the top and in nested directories; elements are unescaped" {
	echo top >"$SITE/a.html"
	mkdir -p "$SITE/d1/d2" "$SITE/sp ace"
	echo deep >"$SITE/d1/d2/f.txt"
	echo sp >"$SITE/sp ace/my file.txt"
	start_echo_site
	expect_file /a.html "$SITE/a.html"
	expect_file '/a.html?x=1&y=/z' "$SITE/a.html"
	expect_file /d1/d2/f.txt "$SITE/d1/d2/f.txt"
	expect_file '/sp%20ace/my%20file.txt' "$SITE/sp ace/my file.txt"
	expect_file '/d1/d%32/%66.txt' "$SITE/d1/d2/f.txt"
	expect_404 /d1/d2/g.txt /nope /nope/a.html
}

@test "a directory without the slash: 301 to URL plus /, query kept" {
	mkdir -p "$SITE/d1/d2" "$SITE/my dir"
	echo i >"$SITE/d1/index.html"
	start_echo_site
	expect '/d1?x=1&y=%2F' 301
	assert_equal "$(field Location)" '/d1/?x=1&y=%2F'
	expect /d1/d2 301
	assert_equal "$(field Location)" /d1/d2/
	expect '/my%20dir' 301
	assert_equal "$(field Location)" '/my%20dir/'
	expect_file /d1/ "$SITE/d1/index.html"
}

@test "an extension-less name matches name.*; an exact name wins" {
	echo p >"$SITE/page.html"
	echo doc >"$SITE/doc"
	echo dochtml >"$SITE/doc.html"
	mkdir "$SITE/d" "$SITE/page.d"
	echo t >"$SITE/d/notes.txt"
	mkfifo "$SITE/d/pipe.txt"
	start_echo_site
	# page.d (a directory) sorts first but only files are completed.
	expect_file /page "$SITE/page.html"
	expect_404 /d/pipe
	expect_file /d/notes "$SITE/d/notes.txt"
	expect_file /doc "$SITE/doc"
	expect_file /doc.html "$SITE/doc.html"
	# Only a name without a dot is completed.
	expect_404 /page.htm /pag /d/notes.tx
}

@test "a file ends the mapping; the rest keeps its slash, as in ashd" {
	echo s >"$SITE/script.cgi"
	echo p >"$SITE/page.html"
	mkdir "$SITE/d"
	echo x >"$SITE/d/app"
	start_echo_site
	expect_file '/script.cgi/extra/path?q=1' "$SITE/script.cgi" /extra/path
	expect_file /page/more "$SITE/page.html" /more
	expect_file /page.html "$SITE/page.html" ''
	expect_file /page.html/ "$SITE/page.html" /
	expect_file /d/app/ "$SITE/d/app" /
	expect_file /d/app "$SITE/d/app" ''
	expect_file '/d/app/a%20b/c' "$SITE/d/app" '/a%20b/c'
	expect_file '/d/app//x/' "$SITE/d/app" '//x/'
}

@test "index files: the default name index, with the extension rule" {
	mkdir -p "$SITE/a" "$SITE/b" "$SITE/c" "$SITE/none"
	echo r >"$SITE/index.html"
	echo a >"$SITE/a/index.html"
	echo b >"$SITE/b/index.txt"
	echo c >"$SITE/c/index"
	echo n >"$SITE/none/other.html"
	start_echo_site
	expect_file / "$SITE/index.html"
	expect_file '/?q' "$SITE/index.html"
	expect_file /a/ "$SITE/a/index.html"
	expect_file /b/ "$SITE/b/index.txt"
	expect_file /c/ "$SITE/c/index"
	# No index and no "match directory": 403, as ashd, nginx and
	# Apache answer.
	expect /none/ 403
	assert_not_contains "$(body)" X-Ash-File
}

@test "no index-file anywhere (-N and none in -c): no index file, 403" {
	mkdir -p "$SITE/d"
	echo i >"$SITE/index.html"
	echo i >"$SITE/d/index.html"
	put "$TEST_TMP/noindex.rc" "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    default" "    handler echo"
	start_site -N -c "$TEST_TMP/noindex.rc" "$SITE"
	expect / 403
	expect /d/ 403
	expect_file /d/index.html "$SITE/d/index.html"
}

@test "index-file with several names, the nearest .htrc wins" {
	mkdir -p "$SITE/d" "$SITE/e" "$SITE/sub"
	put "$SITE/.htrc" "index-file home.html start default.htm"
	echo s >"$SITE/d/start.txt"
	echo df >"$SITE/d/default.htm"
	echo i >"$SITE/d/index.html"
	echo df >"$SITE/e/default.htm"
	echo i >"$SITE/e/index.html"
	echo h >"$SITE/home.html"
	echo i >"$SITE/index.html"
	put "$SITE/sub/.htrc" "index-file index"
	echo si >"$SITE/sub/index.html"
	echo ss >"$SITE/sub/start.txt"
	start_echo_site
	expect_file / "$SITE/home.html"
	expect_file /d/ "$SITE/d/start.txt"
	expect_file /e/ "$SITE/e/default.htm"
	expect_file /sub/ "$SITE/sub/index.html"
}

@test "index-file with no names disables index files" {
	mkdir -p "$SITE/d" "$SITE/other"
	put "$SITE/d/.htrc" "index-file"
	echo i >"$SITE/d/index.html"
	echo o >"$SITE/other/index.html"
	start_echo_site
	expect /d/ 403
	expect_file /d/index.html "$SITE/d/index.html"
	expect_file /other/ "$SITE/other/index.html"
}

# ---------------------------------------------------------------------
# 404 rules

@test "404: a missing name, and a file no match stanza takes" {
	echo t >"$SITE/a.txt"
	echo h >"$SITE/a.html"
	put "$TEST_TMP/only-txt.rc" "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    filename *.txt" "    handler echo"
	start_site -N -c "$TEST_TMP/only-txt.rc" "$SITE"
	expect_file /a.txt "$SITE/a.txt"
	expect_404 /a.html /missing /missing/a.txt
	assert_equal "$(field Content-Type)" 'text/html; charset=utf-8'
}

@test "404: an element starting with a dot" {
	mkdir -p "$SITE/.git" "$SITE/d"
	echo s >"$SITE/.git/config"
	echo s >"$SITE/.secret"
	echo s >"$SITE/d/.hidden.txt"
	echo ok >"$SITE/d/ok.txt"
	start_echo_site
	expect_404 /.git/config /.git/ /.git /.secret /d/.hidden.txt \
	    /d/.hidden /%2esecret /d/%2Ehidden.txt
	expect_file /d/ok.txt "$SITE/d/ok.txt"
	# "." is no element: htparser resolves it (RFC 3986 5.2.4), so
	# these are the directories themselves, which have no index.
	expect /. 403
	expect /d/. 403
}

@test "dot-allow: the nearest globs allow dot elements" {
	mkdir -p "$SITE/.well-known" "$SITE/sub/.well-known"
	put "$SITE/.htrc" "dot-allow .well-known .ok*"
	echo a >"$SITE/.well-known/acme.txt"
	echo h >"$SITE/.well-known/.inner"
	echo o >"$SITE/.okay"
	echo s >"$SITE/.secret"
	put "$SITE/sub/.htrc" "dot-allow"
	echo a >"$SITE/sub/.well-known/acme.txt"
	start_echo_site
	expect_file /.well-known/acme.txt "$SITE/.well-known/acme.txt"
	expect_file /.okay "$SITE/.okay"
	expect_404 /.secret /.well-known/.inner /sub/.well-known/acme.txt
}

@test "404: a / in an element after unescaping (%2f)" {
	mkdir -p "$SITE/d"
	echo f >"$SITE/d/f.txt"
	start_echo_site
	expect_file /d/f.txt "$SITE/d/f.txt"
	expect_404 /d%2ff.txt /d%2Ff.txt /d%2f /%2fd/f.txt
}

@test "404: a NUL byte (%00) in an element" {
	echo a >"$SITE/a.html"
	mkdir "$SITE/d"
	echo f >"$SITE/d/f.txt"
	start_echo_site
	expect_404 /a.html%00 /a%00.html '/a.html%00.txt' /d%00/f.txt /%00
}

@test "404: an empty element that is not the last (a//b)" {
	mkdir -p "$SITE/a/b"
	echo f >"$SITE/a/b/f.txt"
	echo i >"$SITE/a/index.html"
	start_echo_site
	expect_file /a/b/f.txt "$SITE/a/b/f.txt"
	expect_404 /a//b/f.txt //a/b/f.txt /a/b//f.txt /a//
	assert_equal "$(raw_status '/a//b/f.txt')" 404
}

@test "404: a fifo, a device, or another non-regular file" {
	mkfifo "$SITE/fifo"
	ln -s /dev/null "$SITE/null"
	mkdir "$SITE/d"
	mkfifo "$SITE/d/index.html"
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SITE/sock"
	start_echo_site
	expect_404 /fifo /null /sock /fifo/x
	# The index file is a fifo: no index, so the directory is 403.
	expect /d/ 403
}

# ---------------------------------------------------------------------
# Nothing outside DIR

# htparser resolves dot-segments before dirplex routes (400 above the
# root, or where an encoded slash would make one); dirplex refuses an
# element "." or ".." all the same, as a handler behind another one
# may get such a rest string.
@test "security: .. and its escaped forms never leave DIR" {
	local p
	echo secret >"$TEST_TMP/secret.txt"
	mkdir -p "$SITE/sub"
	echo i >"$SITE/sub/index.html"
	start_echo_site
	for p in /../secret.txt /%2e%2e/secret.txt /%2E%2E/secret.txt \
	    /%2e%2e%2fsecret.txt /sub/../../secret.txt \
	    /sub/..%2f..%2fsecret.txt /sub/..%2f..%2fetc/passwd \
	    /sub/%2e%2e/%2e%2e/secret.txt /..; do
		expect "$p" 400
		assert_equal "$(raw_status "$p")" 400
	done
	# Inside DIR, resolved: /sub/.. is the root (no index: 403).
	expect /sub/.. 403
	expect /sub/x/../index.html 200
	assert_equal "$(seen X-Ash-File)" "$SITE/sub/index.html"
	expect /sub/%2e%2e/sub/index.html 200
	assert_equal "$(seen X-Ash-File)" "$SITE/sub/index.html"
}

@test "security: .. stays refused even when dot-allow matches it (.*)" {
	echo secret >"$TEST_TMP/secret.txt"
	mkdir -p "$SITE/sub"
	put "$SITE/.htrc" "dot-allow .*"
	echo w >"$SITE/.well"
	start_echo_site
	# dot-allow works...
	expect_file /.well "$SITE/.well"
	# ...but ".." is never a way out of DIR...
	expect /../secret.txt 400
	expect /%2e%2e/secret.txt 400
	expect /sub/../../secret.txt 400
	expect /sub/%2e%2e/%2e%2e/secret.txt 400
	expect /.. 400
	assert_equal "$(raw_status /../secret.txt)" 400
	# ...and "." and ".." inside DIR are resolved before dirplex.
	expect /./.well 200
	assert_equal "$(seen X-Ash-File)" "$SITE/.well"
	expect /sub/../.well 200
	assert_equal "$(seen X-Ash-File)" "$SITE/.well"
}

@test "security: a symlink loop gives 404 without hanging" {
	ln -s loop "$SITE/loop"
	ln -s pong "$SITE/ping"
	ln -s ping "$SITE/pong"
	echo ok >"$SITE/ok.txt"
	start_echo_site
	expect_404 /loop /loop/x /loop/ /ping /pong/a.html
	expect_file /ok.txt "$SITE/ok.txt"
}

@test "a symlink inside DIR is followed (shipped configuration)" {
	mkdir -p "$SITE/real"
	echo content-of-doc >"$SITE/real/doc.html"
	ln -s real/doc.html "$SITE/alias.html"
	ln -s real "$SITE/dirlink"
	start_site "$SITE"
	expect /alias.html 200
	assert_equal "$(body)" content-of-doc
	assert_equal "$(field Content-Type)" 'text/html; charset=utf-8'
	expect /dirlink/doc.html 200
	assert_equal "$(body)" content-of-doc
	expect /dirlink/doc 200
	assert_equal "$(body)" content-of-doc
}

# ---------------------------------------------------------------------
# Configuration sources

@test ".htrc is re-read when it changes (and when it appears or goes)" {
	echo t >"$SITE/a.txt"
	mkdir "$SITE/sub"
	echo t >"$SITE/sub/b.txt"
	put "$SITE/.htrc" "match" "    filename *.txt" "    xset Version one" \
	    "    handler echo"
	start_echo_site
	expect_file /a.txt "$SITE/a.txt"
	assert_equal "$(seen X-Ash-Version)" one
	put "$SITE/.htrc" "match" "    filename *.txt" \
	    "    xset Version two-two" "    handler echo"
	put "$SITE/sub/.htrc" "match" "    filename *.txt" \
	    "    xset Version sub" "    handler echo"
	# dirplex looks at a .htrc at most once a second.
	sleep 1.2
	expect_file /a.txt "$SITE/a.txt"
	assert_equal "$(seen X-Ash-Version)" two-two
	expect_file /sub/b.txt "$SITE/sub/b.txt"
	assert_equal "$(seen X-Ash-Version)" sub
	rm "$SITE/sub/.htrc"
	sleep 1.2
	expect_file /sub/b.txt "$SITE/sub/b.txt"
	assert_equal "$(seen X-Ash-Version)" two-two
}

@test "lookups are remembered for the second only: a new file at once, a changed kind after it" {
	echo t >"$SITE/a.txt"
	start_echo_site
	expect_404 /new.txt
	echo n >"$SITE/new.txt"
	expect_file /new.txt "$SITE/new.txt"
	expect_file /a.txt "$SITE/a.txt"
	rm "$SITE/a.txt"
	mkdir "$SITE/a.txt"
	# What was found is kept for the rest of the second.
	sleep 1.2
	expect /a.txt 301
	assert_equal "$(field Location)" /a.txt/
	rmdir "$SITE/a.txt"
	sleep 1.2
	expect_404 /a.txt
}

@test "a .htrc reload keeps a child of the same name, stops a removed one" {
	mkdir -p "$SITE/sub"
	echo t >"$SITE/sub/a.txt"
	put "$SITE/sub/.htrc" "child sub-echo" "    exec $ECHO_HANDLER" \
	    "match" "    filename *.txt" "    xset V one" "    handler sub-echo"
	start_echo_site
	expect_file /sub/a.txt "$SITE/sub/a.txt"
	assert_equal "$(seen X-Ash-V)" one
	dp=$(dirplex_pid)
	pid1=$(children_named "$dp" echo-handler)
	assert_match "$pid1" '^[0-9]+$'
	put "$SITE/sub/.htrc" "child sub-echo" "    exec $ECHO_HANDLER" \
	    "match" "    filename *.txt" "    xset V two-two" \
	    "    handler sub-echo"
	sleep 1.2
	expect_file /sub/a.txt "$SITE/sub/a.txt"
	assert_equal "$(seen X-Ash-V)" two-two
	assert_equal "$(children_named "$dp" echo-handler)" "$pid1"
	# Without the stanza, the child is stopped (and "echo" of the -c
	# file takes the request).
	put "$SITE/sub/.htrc" "match" "    filename *.txt" \
	    "    xset V three-three" "    handler echo"
	sleep 1.2
	expect_file /sub/a.txt "$SITE/sub/a.txt"
	assert_equal "$(seen X-Ash-V)" three-three
	for i in $(seq 100); do proc_alive "$pid1" || break; sleep 0.02; done
	if proc_alive "$pid1"; then fail "removed child $pid1 still runs"; fi
	no_zombies "$dp"
}

@test "precedence: nearest .htrc, then -c, then the global dirplex.rc" {
	# The global file where ashd looks for it: $HOME/.ashd/etc/ashd.
	mkdir -p "$HOME/.ashd/etc/ashd" "$SITE/sub"
	put "$HOME/.ashd/etc/ashd/dirplex.rc" \
	    "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    filename *.txt *.md *.csv" "    xset Src global" \
	    "    handler echo"
	put "$TEST_TMP/extra.rc" \
	    "match" "    filename *.txt *.md" "    xset Src extra" \
	    "    handler echo"
	put "$SITE/.htrc" \
	    "match" "    filename *.txt" "    xset Src root-htrc" \
	    "    handler echo"
	put "$SITE/sub/.htrc" \
	    "match" "    filename *.txt" "    xset Src sub-htrc" \
	    "    handler echo"
	for f in a.txt a.md a.csv sub/a.txt sub/a.md sub/a.csv; do
		echo x >"$SITE/$f"
	done
	start_site -c "$TEST_TMP/extra.rc" "$SITE"
	expect_file /a.txt "$SITE/a.txt"
	assert_equal "$(seen X-Ash-Src)" root-htrc
	expect_file /sub/a.txt "$SITE/sub/a.txt"
	assert_equal "$(seen X-Ash-Src)" sub-htrc
	expect_file /a.md "$SITE/a.md"
	assert_equal "$(seen X-Ash-Src)" extra
	expect_file /sub/a.md "$SITE/sub/a.md"
	assert_equal "$(seen X-Ash-Src)" extra
	expect_file /a.csv "$SITE/a.csv"
	assert_equal "$(seen X-Ash-Src)" global
	expect_file /sub/a.csv "$SITE/sub/a.csv"
	assert_equal "$(seen X-Ash-Src)" global
}

@test "-N skips the global dirplex.rc; handlers are looked up nearest first" {
	mkdir -p "$HOME/.ashd/etc" "$SITE/sub"
	put "$HOME/.ashd/etc/dirplex.rc" \
	    "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    filename *.csv" "    handler echo"
	echo x >"$SITE/a.csv"
	echo x >"$SITE/a.txt"
	echo x >"$SITE/sub/a.txt"
	# sub/.htrc redefines "echo" as a transient shell handler.
	put "$SITE/sub/.htrc" "fchild echo" "    exec $SHOW"
	put "$TEST_TMP/txt.rc" "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    filename *.txt" "    handler echo"
	start_site -N -c "$TEST_TMP/txt.rc" "$SITE"
	expect_404 /a.csv
	expect_file /a.txt "$SITE/a.txt"
	expect /sub/a.txt 200
	assert_contains "$(body)" "REQ_X_ASH_FILE=$SITE/sub/a.txt"
}

@test "SIGHUP re-reads the -c and global files; dirplex lives on, children kept" {
	echo a >"$SITE/a.txt"
	put "$TEST_TMP/h.rc" "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    default" "    xset Stage 1" "    handler echo"
	start_site -N -c "$TEST_TMP/h.rc" "$SITE"
	expect /a.txt 200
	assert_equal "$(seen X-Ash-Stage)" 1
	local dp child n
	dp=$(dirplex_pid)
	child=$(children_named "$dp" echo-handler)
	put "$TEST_TMP/h.rc" "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    default" "    xset Stage 2" "    handler echo"
	# Through htparser, which passes SIGHUP on to its root handler.
	kill -HUP "$HTPARSER_PID"
	for ((n = 0; n < 250; n++)); do
		grep -q 'reloaded' "$SERVER_LOG" && break
		sleep 0.02
	done
	expect /a.txt 200
	assert_equal "$(seen X-Ash-Stage)" 2
	assert_equal "$(dirplex_pid)" "$dp"
	assert_equal "$(children_named "$dp" echo-handler)" "$child"
	# A file with errors is not taken: the one in force stays.
	put "$TEST_TMP/h.rc" "child echo" "    exec $ECHO_HANDLER" "bogus"
	kill -HUP "$dp"
	for ((n = 0; n < 250; n++)); do
		grep -q 'keeping the configuration in force' "$SERVER_LOG" && break
		sleep 0.02
	done
	grep -q 'h.rc:3: unknown directive' "$SERVER_LOG" ||
	    fail "no file:line: $(cat "$SERVER_LOG")"
	expect /a.txt 200
	assert_equal "$(seen X-Ash-Stage)" 2
}

@test "dirplex -c NAME not found: says it was searched, suggests ./NAME" {
	cd "$TEST_TMP"
	run timeout 5 "$DIRPLEX" -N -c site.rc "$SITE"
	assert_status 2
	assert_contains "$output" "site.rc: not found on the configuration search path"
	assert_contains "$output" "./site.rc"
}

@test "-c NAME without a slash is searched like the global file" {
	mkdir -p "$HOME/.ashd/etc"
	put "$HOME/.ashd/etc/mine.rc" "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    default" "    xset From home-etc" "    handler echo"
	echo t >"$SITE/a.txt"
	start_site -N -c mine.rc "$SITE"
	expect_file /a.txt "$SITE/a.txt"
	assert_equal "$(seen X-Ash-From)" home-etc
}

@test "include in a .htrc: globs in sorted order, relative, nested" {
	mkdir -p "$SITE/conf/more"
	put "$SITE/.htrc" "include conf/*.rc"
	put "$SITE/conf/20-b.rc" \
	    "match" "    filename *.txt" "    xset Inc b" "    handler echo" \
	    "include more/nested.rc"
	put "$SITE/conf/10-a.rc" \
	    "match" "    filename *.txt" "    xset Inc a" "    handler echo"
	put "$SITE/conf/more/nested.rc" \
	    "match" "    filename *.md" "    xset Inc nested" "    handler echo"
	echo t >"$SITE/x.txt"
	echo m >"$SITE/x.md"
	start_echo_site
	expect_file /x.txt "$SITE/x.txt"
	assert_equal "$(seen X-Ash-Inc)" a
	expect_file /x.md "$SITE/x.md"
	assert_equal "$(seen X-Ash-Inc)" nested
}

@test "a .htrc with an error: 500 below it, logged as file:line, fixed by editing" {
	mkdir -p "$SITE/bad/deeper"
	echo t >"$SITE/bad/a.txt"
	echo t >"$SITE/bad/deeper/b.txt"
	echo t >"$SITE/good.txt"
	put "$SITE/bad/.htrc" "# a comment" "index-file \"oops"
	start_echo_site
	expect /bad/a.txt 500
	expect /bad/deeper/b.txt 500
	expect /bad/missing 500
	expect_file /good.txt "$SITE/good.txt"
	grep -q "$SITE/bad/.htrc:2:" "$SERVER_LOG" ||
	    fail "no $SITE/bad/.htrc:2: in the log: $(cat "$SERVER_LOG")"
	put "$SITE/bad/.htrc" "# a comment" "index-file index"
	sleep 1.2
	expect_file /bad/a.txt "$SITE/bad/a.txt"
}

# ---------------------------------------------------------------------
# Handlers

@test "child: one persistent handler process gets X-Ash-File and the rest" {
	echo a >"$SITE/a.html"
	mkdir "$SITE/d"
	echo b >"$SITE/d/b.txt"
	start_echo_site
	expect_file /a.html "$SITE/a.html"
	dp=$(dirplex_pid)
	first=$(children_named "$dp" echo-handler)
	assert_match "$first" '^[0-9]+$'
	# It got the request socket on stdin and no other descriptor.
	assert_equal "$(ls /proc/"$first"/fd | sort -n | tr '\n' ' ')" '0 1 2 '
	[ "$(stat -L -c %F /proc/"$first"/fd/0)" = socket ] ||
	    fail "stdin of the child is not a socket"
	expect_file '/d/b.txt/x/y?z' "$SITE/d/b.txt" /x/y
	expect_file /a.html "$SITE/a.html"
	assert_equal "$(children_named "$dp" echo-handler)" "$first"
	# The request body reaches it through the passed socket.
	expect /a.html 200 --data-binary 'twelve bytes'
	assert_contains "$(body)" $'method POST\n'
	assert_contains "$(body)" $'\nbody-length 12'
}

@test "a persistent child that was killed is restarted on its next use" {
	echo a >"$SITE/a.html"
	start_echo_site
	expect_file /a.html "$SITE/a.html"
	dp=$(dirplex_pid)
	old=$(children_named "$dp" echo-handler)
	assert_match "$old" '^[0-9]+$'
	kill -KILL "$old"
	for i in $(seq 100); do proc_alive "$old" || break; sleep 0.02; done
	expect_file /a.html "$SITE/a.html"
	new=$(children_named "$dp" echo-handler)
	assert_match "$new" '^[0-9]+$'
	[ "$new" != "$old" ] || fail "still the old pid $old"
	expect_file /a.html "$SITE/a.html"
	assert_equal "$(children_named "$dp" echo-handler)" "$new"
}

@test "fchild: argv, REQ_* environment, HTTP_VERSION, cwd = the .htrc's directory" {
	mkdir -p "$SITE/sub"
	echo x >"$SITE/sub/x.txt"
	put "$SITE/sub/.htrc" \
	    "fchild show" "    exec $SHOW one \"two words\"" \
	    "match" "    filename *.txt" "    set Foo bar" "    handler show"
	start_echo_site
	expect '/sub/x.txt/more?q=1' 200 -H 'X-Custom-Thing: v 1'
	b="$(body)"$'\n'
	assert_equal "$(grep '^arg:' <<<"$b")" \
	    "arg:one
arg:two words
arg:GET
arg:/sub/x.txt/more?q=1
arg:/more"
	assert_contains "$b" $'\n'"cwd:$SITE/sub"$'\n'
	assert_contains "$b" $'\nversion:HTTP/1.1\n'
	assert_contains "$b" $'\n'"REQ_X_ASH_FILE=$SITE/sub/x.txt"$'\n'
	assert_contains "$b" $'\nREQ_HOST=127.0.0.1:'"$PORT"$'\n'
	assert_contains "$b" $'\nREQ_X_CUSTOM_THING=v 1\n'
	assert_contains "$b" $'\nREQ_FOO=bar\n'
	assert_contains "$b" $'\nREQ_X_ASH_ADDRESS=127.0.0.1\n'
	# One process per request.
	pid1=$(sed -n 's/^pid://p' <<<"$b")
	expect /sub/x.txt 200
	pid2=$(sed -n 's/^pid://p' "$TEST_TMP/body")
	[ "$pid1" != "$pid2" ] || fail "same process twice: $pid1"
	grep -q '^arg:$' "$TEST_TMP/body" || fail "no empty rest argument"
}

@test "fork action: a new process per request, in the .htrc's directory" {
	mkdir -p "$SITE/sub"
	echo r >"$SITE/sub/job.run"
	put "$SITE/sub/.htrc" "match" "    filename *.run" \
	    "    fork $SHOW forked" "    xset Via fork"
	start_echo_site
	expect '/sub/job.run/tail?a=b' 200
	b="$(body)"$'\n'
	assert_equal "$(grep '^arg:' <<<"$b")" \
	    "arg:forked
arg:GET
arg:/sub/job.run/tail?a=b
arg:/tail"
	assert_contains "$b" $'\n'"cwd:$SITE/sub"$'\n'
	assert_contains "$b" $'\n'"REQ_X_ASH_FILE=$SITE/sub/job.run"$'\n'
	assert_contains "$b" $'\nREQ_X_ASH_VIA=fork\n'
	for i in 1 2 3 4 5; do expect /sub/job.run 200; done
	no_zombies "$(dirplex_pid)"
}

@test "match filename: globs, the first matching stanza of a file wins" {
	for f in a.txt b.md c.html d.TXT; do echo x >"$SITE/$f"; done
	put "$SITE/.htrc" \
	    "match" "    filename *.txt *.md" "    xset Rule text" "    handler echo" \
	    "match" "    filename *.md" "    xset Rule md" "    handler echo" \
	    "match" "    filename [a-c].*" "    xset Rule class" "    handler echo"
	start_echo_site
	expect_file /a.txt "$SITE/a.txt"
	assert_equal "$(seen X-Ash-Rule)" text
	expect_file /b.md "$SITE/b.md"
	assert_equal "$(seen X-Ash-Rule)" text
	expect_file /c.html "$SITE/c.html"
	assert_equal "$(seen X-Ash-Rule)" class
	expect_file /d.TXT "$SITE/d.TXT"
	assert_equal "$(seen X-Ash-Rule)" ''
}

@test "match pathname: relative to the .htrc's directory, / not matched by *" {
	mkdir -p "$SITE/sub/deep/more"
	for f in sub/a.txt sub/deep/a.txt sub/deep/more/b.txt; do
		echo x >"$SITE/$f"
	done
	put "$SITE/sub/.htrc" \
	    "match" "    pathname deep/*.txt" "    xset Rule deep" "    handler echo" \
	    "match" "    pathname *.txt" "    xset Rule top" "    handler echo"
	put "$SITE/.htrc" \
	    "match" "    pathname sub/deep/more/*" "    xset Rule root" \
	    "    handler echo"
	start_echo_site
	expect_file /sub/a.txt "$SITE/sub/a.txt"
	assert_equal "$(seen X-Ash-Rule)" top
	expect_file /sub/deep/a.txt "$SITE/sub/deep/a.txt"
	assert_equal "$(seen X-Ash-Rule)" deep
	expect_file /sub/deep/more/b.txt "$SITE/sub/deep/more/b.txt"
	assert_equal "$(seen X-Ash-Rule)" root
}

@test "match default loses to any non-default match, even a farther one" {
	mkdir -p "$SITE/sub"
	for f in a.txt a.html sub/a.txt sub/a.html; do echo x >"$SITE/$f"; done
	put "$TEST_TMP/extra.rc" \
	    "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    filename *.txt" "    xset Who extra-txt" "    handler echo"
	put "$SITE/.htrc" \
	    "match" "    default" "    xset Who root-default" "    handler echo"
	put "$SITE/sub/.htrc" \
	    "match" "    default" "    xset Who sub-default" "    handler echo"
	start_site -N -c "$TEST_TMP/extra.rc" "$SITE"
	expect_file /sub/a.txt "$SITE/sub/a.txt"
	assert_equal "$(seen X-Ash-Who)" extra-txt
	expect_file /a.txt "$SITE/a.txt"
	assert_equal "$(seen X-Ash-Who)" extra-txt
	expect_file /sub/a.html "$SITE/sub/a.html"
	assert_equal "$(seen X-Ash-Who)" sub-default
	expect_file /a.html "$SITE/a.html"
	assert_equal "$(seen X-Ash-Who)" root-default
}

@test "match local: only files in the .htrc's own directory" {
	mkdir -p "$SITE/sub"
	for f in a.txt sub/a.txt; do echo x >"$SITE/$f"; done
	put "$SITE/.htrc" \
	    "match" "    local" "    filename *.txt" "    xset Who local" \
	    "    handler echo" \
	    "match" "    filename *.txt" "    xset Who any" "    handler echo"
	start_echo_site
	expect_file /a.txt "$SITE/a.txt"
	assert_equal "$(seen X-Ash-Who)" local
	expect_file /sub/a.txt "$SITE/sub/a.txt"
	assert_equal "$(seen X-Ash-Who)" any
}

@test "match directory: a handler for directories without an index file" {
	mkdir -p "$SITE/list" "$SITE/withidx"
	echo 1 >"$SITE/list/f1.txt"
	echo 2 >"$SITE/list/f2.txt"
	echo i >"$SITE/withidx/index.html"
	start_echo_site "fchild list" "    exec $SHOW" \
	    "match directory" "    default" "    handler list"
	expect /list/ 200
	b="$(body)"$'\n'
	assert_contains "$b" $'\n'"REQ_X_ASH_FILE=$SITE/list"$'\n'
	assert_contains "$b" $'\nentry:f1.txt\nentry:f2.txt\n'
	expect /list 301
	assert_equal "$(field Location)" /list/
	expect_file /withidx/ "$SITE/withidx/index.html"
	expect_file /list/f1.txt "$SITE/list/f1.txt"
}

@test "match notfound: X-Ash-File names where the lookup failed, the rest is as there" {
	echo a >"$SITE/a.txt"
	mkdir -p "$SITE/d/e"
	start_echo_site "match notfound" "    default" "    xset Why notfound" \
	    "    handler echo"
	expect /missing 200
	assert_equal "$(seen X-Ash-Why)" notfound
	assert_equal "$(seen X-Ash-File)" "$SITE"
	assert_equal "$(seen_rest)" missing
	expect '/d/e/missing/x%20y?q' 200
	assert_equal "$(seen X-Ash-File)" "$SITE/d/e"
	assert_equal "$(seen_rest)" 'missing/x%20y'
	expect /d/.hidden/z 200
	assert_equal "$(seen X-Ash-Why)" notfound
	assert_equal "$(seen X-Ash-File)" "$SITE/d"
	assert_equal "$(seen_rest)" .hidden/z
	expect_file /a.txt "$SITE/a.txt"
	assert_equal "$(seen X-Ash-Why)" ''
}

@test "a file no match takes: notfound gets the file as X-Ash-File and its rest" {
	echo a >"$SITE/a.txt"
	echo b >"$SITE/b.bin"
	put "$TEST_TMP/nf.rc" "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    filename *.txt" "    handler echo" \
	    "match notfound" "    default" "    xset Why notfound" \
	    "    handler echo"
	start_site -N -c "$TEST_TMP/nf.rc" "$SITE"
	expect /b.bin/more 200
	assert_equal "$(seen X-Ash-Why)" notfound
	assert_equal "$(seen X-Ash-File)" "$SITE/b.bin"
	assert_equal "$(seen_rest)" /more
	expect_file /a.txt "$SITE/a.txt"
}

@test "match notfound with rules: they see the name that was not found" {
	mkdir -p "$SITE/sub"
	start_echo_site "match notfound" "    filename *.php" \
	    "    xset Why no-php" "    handler echo"
	expect /gone.php 200
	assert_equal "$(seen X-Ash-Why)" no-php
	expect /sub/gone.php 200
	assert_equal "$(seen X-Ash-Why)" no-php
	expect_404 /gone.html /sub/gone.html
}

@test "the .notfound handler: built in, overridable in a .htrc, usable by name" {
	mkdir -p "$SITE/sub" "$SITE/priv"
	echo s >"$SITE/priv/x.secret"
	echo ok >"$SITE/priv/ok.txt"
	put "$SITE/sub/.htrc" "fchild .notfound" "    exec $NF"
	put "$SITE/priv/.htrc" "match" "    filename *.secret" \
	    "    handler .notfound"
	start_echo_site
	expect /sub/missing 404
	assert_equal "$(body)" 'custom 404 for /sub/missing'
	expect /sub/.dot 404
	assert_equal "$(body)" 'custom 404 for /sub/.dot'
	expect /missing 404
	assert_contains "$(body)" '404 Not Found'
	expect_404 /priv/x.secret
	expect_file /priv/ok.txt "$SITE/priv/ok.txt"
}

@test "set and xset: headers the handler sees (set replaces a client's)" {
	echo a >"$SITE/a.txt"
	put "$SITE/.htrc" "match" "    filename *.txt" "    set Foo bar" \
	    "    xset Foo baz" "    set X-Two \"two words\"" "    handler echo"
	start_echo_site
	expect /a.txt 200 -H 'Foo: from-client'
	assert_equal "$(seen Foo)" bar
	assert_equal "$(seen X-Ash-Foo)" baz
	assert_equal "$(seen X-Two)" 'two words'
	assert_not_contains "$(body)" from-client
	assert_equal "$(seen X-Ash-File)" "$SITE/a.txt"
}

@test "capture: passes the rest string on, without X-Ash-File" {
	mkdir -p "$SITE/app/real"
	echo r >"$SITE/app/real/file.txt"
	echo t >"$SITE/top.txt"
	put "$SITE/app/.htrc" "capture cap"
	start_echo_site "child cap" "    exec $ECHO_HANDLER" \
	    "match" "    filename *.txt" "    xset Via match" "    handler echo"
	expect '/app/any/thing?x=1' 200
	assert_equal "$(seen_rest)" any/thing
	assert_equal "$(seen X-Ash-File)" ''
	assert_equal "$(seen X-Ash-Via)" ''
	expect /app/real/file.txt 200
	assert_equal "$(seen_rest)" real/file.txt
	assert_equal "$(seen X-Ash-File)" ''
	expect '/app/a%20b/%2e%2ex/c' 200
	assert_equal "$(seen_rest)" 'a%20b/%2e%2ex/c'
	# (dot-segments are resolved by htparser before dirplex)
	expect '/app/a%20b/%2e%2e/c' 200
	assert_equal "$(seen_rest)" 'c'
	expect /app/ 200
	assert_equal "$(seen_rest)" ''
	assert_equal "$(seen X-Ash-File)" ''
	expect_file /top.txt "$SITE/top.txt"
	assert_equal "$(seen X-Ash-Via)" match
}

@test "capture in the root .htrc is ignored without flag D" {
	echo t >"$SITE/top.txt"
	put "$SITE/.htrc" "capture cap"
	start_echo_site "child cap" "    exec $SHOW"
	expect_file /top.txt "$SITE/top.txt"
	expect_404 /missing
}

@test "capture in the root .htrc with flag D takes everything" {
	echo t >"$SITE/top.txt"
	put "$SITE/.htrc" "capture cap D"
	start_echo_site "fchild cap" "    exec $SHOW"
	expect /top.txt 200
	assert_contains "$(body)" $'\narg:top.txt\n'
	assert_not_contains "$(body)" REQ_X_ASH_FILE
	expect '/missing/x?y' 200
	assert_contains "$(body)" $'\narg:missing/x\n'
}

@test "a nested persistent dirplex: dirplex inside dirplex via capture" {
	mkdir -p "$SITE/sub/d"
	echo f >"$SITE/sub/d/f.txt"
	echo t >"$SITE/top.txt"
	put "$SITE/sub/.htrc" "child inner" "    exec dirplex -N -c ./inner.rc ." \
	    "capture inner"
	put "$SITE/sub/inner.rc" "child echo" "    exec $ECHO_HANDLER" \
	    "match" "    default" "    xset Inner yes" "    handler echo"
	start_echo_site "match" "    filename *.txt" "    xset Outer yes" \
	    "    handler echo"
	expect_file /sub/d/f.txt "$SITE/sub/d/f.txt"
	assert_equal "$(seen X-Ash-Inner)" yes
	assert_equal "$(seen X-Ash-Outer)" ''
	expect_file '/sub/d/f.txt/rest?q' "$SITE/sub/d/f.txt" /rest
	expect '/sub/d?x=1' 301
	assert_equal "$(field Location)" '/sub/d/?x=1'
	expect_404 /sub/missing.txt
	expect_file /top.txt "$SITE/top.txt"
	assert_equal "$(seen X-Ash-Outer)" yes
	# The inner dirplex is persistent: one process.
	dp=$(dirplex_pid)
	inner=$(children_named "$dp" dirplex)
	assert_match "$inner" '^[0-9]+$'
	expect_file /sub/d/f.txt "$SITE/sub/d/f.txt"
	assert_equal "$(children_named "$dp" dirplex)" "$inner"
}

@test "a handler that does not exist gives 500" {
	echo a >"$SITE/a.nohandler"
	echo a >"$SITE/a.noprog"
	echo a >"$SITE/a.nofork"
	echo a >"$SITE/a.txt"
	start_echo_site \
	    "child ghost" "    exec $TEST_TMP/no-such-program" \
	    "match" "    filename *.nohandler" "    handler nosuch" \
	    "match" "    filename *.noprog" "    handler ghost" \
	    "match" "    filename *.nofork" "    fork $TEST_TMP/no-such-program"
	expect /a.nohandler 500
	expect /a.noprog 500
	expect /a.nofork 500
	expect_file /a.txt "$SITE/a.txt"
	grep -q nosuch "$SERVER_LOG" || fail "nothing logged about nosuch"
	# Each line names the client and the request.
	run cat "$SERVER_LOG"
	assert_match "$output" 'dirplex: 127\.0\.0\.1:[0-9]+ GET /a\.nohandler: no handler named "nosuch"'
	assert_match "$output" 'dirplex: 127\.0\.0\.1:[0-9]+ GET /a\.nofork: fork '
}

# ---------------------------------------------------------------------
# The shipped configuration

@test "the shipped configuration serves the example site" {
	cp -R "$ASHD_SRCDIR/examples/site/." "$SITE/"
	start_site "$SITE"
	expect / 200
	assert_equal "$(body)" "$(cat "$SITE/index.html")"
	assert_equal "$(field Content-Type)" 'text/html; charset=utf-8'
	expect /about 200
	assert_equal "$(body)" "$(cat "$SITE/about.html")"
	expect /style.css 200
	assert_equal "$(field Content-Type)" 'text/css; charset=utf-8'
	expect /img/logo.png 200
	assert_equal "$(field Content-Type)" image/png
	cmp "$TEST_TMP/body" "$SITE/img/logo.png"
	expect /sub 301
	assert_equal "$(field Location)" /sub/
	expect /sub/ 200
	assert_equal "$(body)" "$(cat "$SITE/sub/index.html")"
	expect /sub/notes.txt 200
	assert_equal "$(field Content-Type)" 'text/plain; charset=us-ascii'
	expect '/shell/x/y?name=bob' 200
	assert_contains "$(body)" 'Hello, bob!'
	assert_contains "$(body)" 'rest string "x/y"'
	expect_404 /nope /sub/.htrc /.htrc
	# A browser revalidating what it has cached gets 304, no body.
	local etag lm
	expect /style.css 200
	etag=$(field ETag)
	lm=$(field Last-Modified)
	[ -n "$etag" ] && [ -n "$lm" ]
	expect /style.css 304 -H "If-None-Match: $etag"
	assert_equal "$(body)" ""
	expect /style.css 304 -H "If-Modified-Since: $lm"
	expect /img/logo.png 200 -H "If-None-Match: \"other\""
}

@test "a persistent child that reads nothing never stalls dirplex" {
	# "stuck" takes its socket and never reads it: without dirplex's
	# per-child queue, dirplex would block once the socket's buffer is
	# full of request datagrams, and with it every other request.
	base_rc "child stuck" "    exec sleep 600" \
	    "match" "    filename *.slow" "    handler stuck"
	put "$SITE/a.slow" x
	put "$SITE/page.txt" hello
	start_site -N -c "$BASE_RC" "$SITE"
	run python3 - "$PORT" "$SLOW" <<'PY'
import socket, sys, time, resource
port = int(sys.argv[1])
limit = 2 * int(sys.argv[2])	# seconds; memcheck is that much slower
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
socks = []
for i in range(1500):
    s = socket.create_connection(('127.0.0.1', port))
    s.sendall(b'GET /a.slow HTTP/1.1\r\nHost: a\r\nX-Pad: ' + b'p' * 2000 +
              b'\r\n\r\n')
    socks.append(s)
time.sleep(1)
t = time.time()
s = socket.create_connection(('127.0.0.1', port))
s.sendall(b'GET /page.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')
s.settimeout(5 * int(sys.argv[2]))
head = s.recv(65536)
print(head[:15], '%.2fs' % (time.time() - t))
sys.exit(0 if head.startswith(b'HTTP/1.1 200') and time.time() - t < limit else 1)
PY
	echo "$output"
	[ "$status" -eq 0 ]
}
