#!/usr/bin/env bats
# compat.bats: what someone swapping ashd out for this project relies
# on, and real applications served through it, over real TCP on
# 127.0.0.1.
#
#   - The rest string and what handlers derive from it: ashd's own
#     Python WSGI handler (its derivation re-stated in
#     handlers/ashd-wsgi-env.py, checked against ashd 0.13 side by side),
#     and this project's callcgi and callfcgi, for the same URLs.
#   - gitweb in Debian's layout (index.cgi -> gitweb.cgi, static/) and
#     cgit wired as `env CGIT_CONFIG=... callcgi -p cgit.cgi`.
#   - ashd's command lines: psendfile, --version and -V everywhere.
#   - Installation: `make install DESTDIR=...`, run with a PATH that
#     lacks the installed bindir; edited configuration kept.
#   - ./quickstart serve.
# Each test builds its own site in $TEST_TMP and starts its own
# htparser; teardown kills them by PID and process group.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	SERVER_LOG=$TEST_TMP/server.log
	mkdir -p "$TEST_TMP/site"
	SITE=$(cd "$TEST_TMP/site" && pwd -P)
	EMU=$ASHD_SRCDIR/tests/handlers/ashd-wsgi-env.py
	RESPONDER=$ASHD_SRCDIR/tests/fcgi-responder.py
}

teardown() {
	common_teardown
}

# ---------------------------------------------------------------------
# Helpers of this suite

# no_var NAME
no_var() {
	! grep -q "^$1=" "$TEST_TMP/body" ||
	    fail "$1 is set: $(grep "^$1=" "$TEST_TMP/body")"
}

# expect_split URL SCRIPT_NAME PATH_INFO: URL answers 200 with those
# two variables; an empty PATH_INFO means it is unset or empty.
expect_split() {
	expect "$1" 200
	assert_equal "$(var SCRIPT_NAME)" "$2"
	if [ -n "$3" ]; then
		assert_equal "$(var PATH_INFO)" "$3"
	else
		assert_equal "$(sed -n 's/^PATH_INFO=//p' "$TEST_TMP/body")" ''
	fi
}

# make_repo DIR: a bare git repository at DIR with one commit, "first
# commit", adding README.
make_repo() {
	local work=$TEST_TMP/work.$RANDOM
	git init -q "$work"
	printf 'hello\n' >"$work/README"
	git -C "$work" add README
	git -C "$work" -c user.name=Test -c user.email=test@example.com \
	    commit -q -m 'first commit'
	git clone -q --bare "$work" "$1"
	rm -rf "$work"
}

# stylesheets URL: the stylesheet links of the HTML page in the last
# body, resolved as a browser does (against <base href> if any, else
# against URL), one absolute URL a line.
STYLESHEETS_PY='
import html.parser, sys, urllib.parse
class P(html.parser.HTMLParser):
    base, css = None, []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "base" and self.base is None:
            self.base = a.get("href")
        if tag == "link" and "stylesheet" in (a.get("rel") or "").split():
            self.css.append(a.get("href"))
p = P()
p.feed(open(sys.argv[2], encoding="utf-8", errors="replace").read())
base = urllib.parse.urljoin(sys.argv[1], p.base) if p.base else sys.argv[1]
for c in p.css:
    print(urllib.parse.urljoin(base, c))
'
stylesheets() {
	python3 -c "$STYLESHEETS_PY" "$1" "$TEST_TMP/body"
}

# base_href: the <base href> of the last body, or nothing.
base_href() {
	sed -n 's/.*<base href="\([^"]*\)".*/\1/p' "$TEST_TMP/body" | head -n 1
}

# ---------------------------------------------------------------------
# The rest string, as handlers written for ashd see it

@test "ashd's WSGI handler gets the SCRIPT_NAME and PATH_INFO it gets under ashd's dirplex" {
	# The expected values were measured with ashd 0.13's ashd-wsgi3
	# (ashd.wsgidir) under ashd's dirplex, and are what the emulation
	# gives under it too; under a dirplex that strips the rest's slash
	# they differ (/s.wsgi/a/b would be "/s.wsgi/" and "a/b").
	mkdir -p "$SITE/dir" "$SITE/d2"
	: >"$SITE/s.wsgi"
	: >"$SITE/a b.wsgi"
	: >"$SITE/dir/index.wsgi"
	: >"$SITE/index.wsgi"
	put "$TEST_TMP/w.rc" "child wsgi" "    exec python3 $EMU" \
	    "index-file index" \
	    "match" "    filename *.wsgi" "    handler wsgi"
	start_site -N -c "$TEST_TMP/w.rc" "$SITE"
	expect_split /s.wsgi /s.wsgi ''
	expect_split /s.wsgi/ /s.wsgi /
	expect_split /s.wsgi/a/b /s.wsgi /a/b
	expect_split '/s.wsgi/a%2Fb/%7Ez?q=1' /s.wsgi /a/b/~z
	expect_split '/a%20b.wsgi/x%20y' '/a%20b.wsgi' '/x y'
	expect_split '/s.wsgi/%zz' /s.wsgi /%zz
	expect_split /s /s ''
	expect_split /s/more /s /more
	expect_split /dir/ /dir/ ''
	expect_split /dir/index.wsgi /dir/index.wsgi ''
	expect_split / '' /
	assert_equal "$(var FILE)" "$SITE/index.wsgi"
}

# The same URLs through callcgi (a shell script printing its
# environment) and callfcgi (the test responder, ?env).
t_cgi_split() {
	local ext=$1 q=$2
	expect_split "/s.$ext$q" "/s.$ext" ''
	expect_split "/s.$ext/$q" "/s.$ext" /
	expect_split "/s.$ext/a/b$q" "/s.$ext" /a/b
	expect_split "/s.$ext/a%2Fb/%7Ez$q" "/s.$ext" /a/b/~z
	expect_split "/a%20b.$ext/x%20y$q" "/a b.$ext" '/x y'
	assert_equal "$(var SCRIPT_FILENAME)" "$SITE/a b.$ext"
	expect_split "/s/more$q" /s /more
	expect_split "/dir/$q" "/dir/index.$ext" ''
	assert_equal "$(var SCRIPT_FILENAME)" "$SITE/dir/index.$ext"
	assert_equal "$(var DOCUMENT_ROOT)" "$SITE"
	expect_split "/$q" "/index.$ext" ''
}

@test "callcgi: SCRIPT_NAME and PATH_INFO under dirplex, index scripts included" {
	mkdir -p "$SITE/dir"
	cat >"$SITE/s.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
env | LC_ALL=C sort
EOF
	chmod 755 "$SITE/s.cgi"
	cp "$SITE/s.cgi" "$SITE/a b.cgi"
	cp "$SITE/s.cgi" "$SITE/dir/index.cgi"
	cp "$SITE/s.cgi" "$SITE/index.cgi"
	put "$TEST_TMP/c.rc" "child cgi" "    exec callcgi" "index-file index" \
	    "match" "    filename *.cgi" "    handler cgi"
	start_site -N -c "$TEST_TMP/c.rc" "$SITE"
	t_cgi_split cgi ''
}

@test "callfcgi: the same SCRIPT_NAME and PATH_INFO as callcgi" {
	mkdir -p "$SITE/dir"
	: >"$SITE/s.fcgi"
	: >"$SITE/a b.fcgi"
	: >"$SITE/dir/index.fcgi"
	: >"$SITE/index.fcgi"
	put "$TEST_TMP/f.rc" "child fcgi" "    exec callfcgi python3 $RESPONDER" \
	    "index-file index" \
	    "match" "    filename *.fcgi" "    handler fcgi"
	start_site -N -c "$TEST_TMP/f.rc" "$SITE"
	t_cgi_split fcgi '?env'
}

@test "a capture mount: callcgi -p gives SCRIPT_NAME the mount and PATH_INFO the rest" {
	mkdir -p "$SITE/app"
	cat >"$TEST_TMP/app.cgi" <<'EOF'
#!/bin/sh
printf 'Content-Type: text/plain\n\n'
env | LC_ALL=C sort
EOF
	chmod 755 "$TEST_TMP/app.cgi"
	put "$SITE/app/.htrc" "child app" "    exec callcgi -p $TEST_TMP/app.cgi" \
	    "capture app"
	put "$TEST_TMP/none.rc" "index-file index"
	start_site -N -c "$TEST_TMP/none.rc" "$SITE"
	expect_split /app/ /app /
	expect_split /app/x/y /app /x/y
	expect_split '/app/a%20b/' /app '/a b/'
	no_var SCRIPT_FILENAME
}

# ---------------------------------------------------------------------
# Real applications

@test "gitweb in Debian's layout: no <base href> at /gitweb/, stylesheets that resolve, links through SCRIPT_NAME" {
	[ -r /usr/share/gitweb/gitweb.cgi ] ||
	    skip "gitweb is not installed (apt-get install gitweb)"
	command -v git >/dev/null || skip "git is not installed"
	# The real layout: index.cgi -> gitweb.cgi and static/, reached
	# through a symbolic link in the site.
	ln -s /usr/share/gitweb "$SITE/gitweb"
	[ -L /usr/share/gitweb/index.cgi ] ||
	    fail "/usr/share/gitweb/index.cgi is not the symbolic link Debian ships"
	make_repo "$TEST_TMP/repos/test.git"
	put "$TEST_TMP/gitweb.conf" \
	    "\$projectroot = \"$TEST_TMP/repos\";" \
	    "\$git_temp = \"$TEST_TMP\";" \
	    "\$site_name = \"compat test\";"
	put "$TEST_TMP/g.rc" "child cgi" \
	    "    exec env GITWEB_CONFIG=$TEST_TMP/gitweb.conf callcgi" \
	    "child send" "    exec sendfile" "index-file index" \
	    "match" "    filename *.cgi" "    handler cgi" \
	    "match" "    default" "    handler send"
	start_site -N -c "$TEST_TMP/g.rc" "$SITE"
	local base="http://127.0.0.1:$PORT" css n=0
	expect /gitweb 301
	assert_equal "$(field Location)" /gitweb/
	expect /gitweb/ 200
	assert_contains "$(body)" test.git
	assert_contains "$(body)" 'compat test'
	# No PATH_INFO: no <base href>, so relative links resolve against
	# /gitweb/ itself (with SCRIPT_NAME=/gitweb, PATH_INFO=/ gitweb
	# said <base href=".../gitweb"> and its CSS was /static/...).
	assert_equal "$(base_href)" ''
	# gitweb's own links name the script as it was reached, never the
	# symbolic link's target.
	assert_contains "$(body)" 'href="/gitweb/?p=test.git;a=summary"'
	assert_not_contains "$(body)" 'gitweb.cgi'
	for css in $(stylesheets "$base/gitweb/"); do
		assert_equal "$css" "$base/gitweb/static/gitweb.css"
		expect "${css#"$base"}" 200
		assert_equal "$(field Content-Type)" 'text/css; charset=utf-8'
		cmp "$TEST_TMP/body" /usr/share/gitweb/static/gitweb.css
		n=$((n + 1))
	done
	[ "$n" -ge 1 ] || fail "no stylesheet link found"
	expect '/gitweb/?p=test.git;a=summary' 200
	assert_contains "$(body)" 'first commit'
	expect '/gitweb/index.cgi?p=test.git;a=summary' 200
	assert_contains "$(body)" 'first commit'
	assert_contains "$(body)" 'href="/gitweb/index.cgi?p=test.git;a=shortlog"'
	# With PATH_INFO (gitweb's path_info URLs) <base href> is the URL
	# of the script, SCRIPT_NAME, and the stylesheets still resolve.
	expect /gitweb/index.cgi/test.git 200
	assert_contains "$(body)" 'first commit'
	assert_equal "$(base_href)" "$base/gitweb/index.cgi"
	for css in $(stylesheets "$base/gitweb/index.cgi/test.git"); do
		assert_equal "$css" "$base/gitweb/static/gitweb.css"
		expect "${css#"$base"}" 200
	done
}

@test "cgit as ashd runs it: exec env CGIT_CONFIG=... callcgi -p cgit.cgi, mounted by capture" {
	[ -x /usr/lib/cgit/cgit.cgi ] ||
	    skip "cgit is not installed (apt-get install cgit)"
	command -v git >/dev/null || skip "git is not installed"
	make_repo "$TEST_TMP/repos/test.git"
	put "$TEST_TMP/cgitrc" "cache-size=0" "virtual-root=/cgit/" \
	    "root-title=compat test" \
	    "repo.url=test" "repo.path=$TEST_TMP/repos/test.git" \
	    "repo.desc=the test repository"
	mkdir -p "$SITE/cgit"
	put "$SITE/cgit/.htrc" "child cgit" \
	    "    exec env CGIT_CONFIG=$TEST_TMP/cgitrc callcgi -p /usr/lib/cgit/cgit.cgi" \
	    "capture cgit"
	put "$TEST_TMP/none.rc" "index-file index"
	start_site -N -c "$TEST_TMP/none.rc" "$SITE"
	expect /cgit/ 200
	assert_contains "$(body)" 'compat test'
	assert_contains "$(body)" 'the test repository'
	assert_contains "$(body)" "href='/cgit/test/'"
	expect /cgit/test/ 200
	assert_contains "$(body)" 'first commit'
	expect /cgit/test/tree/README 200
	assert_contains "$(body)" hello
}

# ---------------------------------------------------------------------
# ashd's command lines

@test "every program answers --version and -V with the package version" {
	local d p n=0
	# Every program of the build (DIR/DIR), so that none is forgotten.
	for d in "$ASHD_BUILDDIR"/*/; do
		d=${d%/} p=${d##*/}
		[ -f "$d/$p" ] && [ -x "$d/$p" ] || continue
		n=$((n + 1))
		run "$ASHD_BUILDDIR/$p/$p" --version
		assert_status 0
		assert_match "$output" "^$p \\(ashd-ng\\) [0-9]+\\.[0-9]"
		run "$ASHD_BUILDDIR/$p/$p" -V
		assert_status 0
		assert_match "$output" "^$p \\(ashd-ng\\) [0-9]+\\.[0-9]"
	done
	[ "$n" -ge 15 ] || fail "only $n programs found"
}

@test "psendfile: ashd configurations that exec psendfile run unchanged" {
	command -v psendfile >/dev/null || fail "psendfile is not built"
	printf 'hello\n' >"$SITE/hello.txt"
	put "$TEST_TMP/p.rc" "child psendfile" "    exec psendfile" \
	    "match" "    default" "    handler psendfile"
	start_site -N -c "$TEST_TMP/p.rc" "$SITE"
	expect /hello.txt 200
	assert_equal "$(body)" hello
	assert_match "$(field Content-Type)" '^text/plain'
	expect /hello.txt 200
	# One persistent process serves them all.
	local dp
	dp=$(children_of "$HTPARSER_PID" | head -n 1)
	assert_match "$(children_named "$dp" psendfile)" '^[0-9]+$'
}

# ---------------------------------------------------------------------
# Installation

@test "make install: runs without bindir on PATH, /.well-known/ served, edited configuration kept" {
	[ -f "$ASHD_BUILDDIR/Makefile" ] || skip "no Makefile in $ASHD_BUILDDIR"
	local dest=$TEST_TMP/dest bin etc rc
	(unset MAKEFLAGS MFLAGS MAKELEVEL
	 make -C "$ASHD_BUILDDIR" install DESTDIR="$dest") \
	    >"$TEST_TMP/install.log" 2>&1 ||
	    fail "make install failed: $(tail -n 20 "$TEST_TMP/install.log")"
	bin=$(dirname "$(find "$dest" -name htparser -type f | head -n 1)")
	rc=$(find "$dest" -path '*/ashd/dirplex.rc' | head -n 1)
	etc=$(dirname "$rc")
	[ -x "$bin/htparser" ] && [ -f "$rc" ] || fail "nothing installed"
	[ -L "$bin/psendfile" ] || fail "psendfile not installed"
	for f in dirplex.rc dirplex.d/cgi.rc dirplex.d/php.rc; do
		cmp "$etc/$f" "$ASHD_SRCDIR/etc/ashd/$f"
		cmp "$etc/$f.default" "$ASHD_SRCDIR/etc/ashd/$f"
	done

	# A PATH without the installed bindir (nor anything of the build):
	# the programs find each other and their configuration.
	cp -R "$ASHD_SRCDIR/examples/site/." "$SITE/"
	mkdir -p "$SITE/.well-known/acme-challenge" "$TEST_TMP/nobin"
	printf 'token\n' >"$SITE/.well-known/acme-challenge/tok"
	printf 'secret\n' >"$SITE/.secret"
	PORT=$(free_port)
	start_bg "$SERVER_LOG" env PATH="$TEST_TMP/nobin" "$bin/htparser" \
	    "plain:port=$PORT,local=127.0.0.1" -- dirplex "$SITE"
	HTPARSER_PID=$BG_PID
	wait_port "$PORT" 5 "$HTPARSER_PID"
	expect / 200
	assert_equal "$(body)" "$(cat "$SITE/index.html")"
	expect '/cgi/hello.cgi/x?name=y' 200
	assert_contains "$(body)" 'Hello from a CGI script.'
	expect /.well-known/acme-challenge/tok 200
	assert_equal "$(body)" token
	expect /.secret 404
	kill_bg

	# An edited configuration survives a new install and an uninstall;
	# an unedited one is replaced and removed.
	printf '# edited\n' >>"$rc"
	(unset MAKEFLAGS MFLAGS MAKELEVEL
	 make -C "$ASHD_BUILDDIR" install DESTDIR="$dest") \
	    >"$TEST_TMP/install2.log" 2>&1 || fail "second make install failed"
	assert_equal "$(tail -n 1 "$rc")" '# edited'
	cmp "$rc.default" "$ASHD_SRCDIR/etc/ashd/dirplex.rc"
	grep -q "dirplex.rc: edited, kept" "$TEST_TMP/install2.log" ||
	    fail "not said: $(cat "$TEST_TMP/install2.log")"
	(unset MAKEFLAGS MFLAGS MAKELEVEL
	 make -C "$ASHD_BUILDDIR" uninstall DESTDIR="$dest") \
	    >"$TEST_TMP/uninstall.log" 2>&1 || fail "make uninstall failed"
	[ -f "$rc" ] || fail "the edited dirplex.rc was removed"
	assert_equal "$(tail -n 1 "$rc")" '# edited'
	[ ! -e "$rc.default" ] && [ ! -e "$etc/dirplex.d/cgi.rc" ] &&
	    [ ! -e "$bin/htparser" ] && [ ! -e "$bin/psendfile" ] ||
	    fail "left behind: $(find "$dest" -type f -o -type l)"
}

# ---------------------------------------------------------------------
# ./quickstart serve

@test "./quickstart serve prints its URL only once the port is bound" {
	[ "$ASHD_SRCDIR" = "$ASHD_BUILDDIR" ] ||
	    skip "quickstart builds in the source tree, not in $ASHD_BUILDDIR"
	local i
	PORT=$(free_port)
	# The port taken: no URL, a failure.
	start_bg "$TEST_TMP/holder.log" python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(120)' "$PORT"
	wait_port "$PORT" 5 "$BG_PID"
	run env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout 120 \
	    "$ASHD_SRCDIR/quickstart" serve "$PORT"
	[ "$status" -ne 0 ] || fail "quickstart serve succeeded on a taken port"
	assert_not_contains "$output" 'serving on'
	kill_bg
	wait_port_closed "$PORT" 5
	# A free port: the URL once listening, then the example site.
	start_bg "$TEST_TMP/qs.log" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	    "$ASHD_SRCDIR/quickstart" serve "$PORT"
	for ((i = 0; i < 1200; i++)); do
		grep -q 'serving on' "$TEST_TMP/qs.log" && break
		proc_alive "$BG_PID" || break
		sleep 0.1
	done
	grep -q "serving on http://127.0.0.1:$PORT/" "$TEST_TMP/qs.log" ||
	    fail "no URL: $(cat "$TEST_TMP/qs.log")"
	port_listening "$PORT" || fail "the URL came before the port was bound"
	expect / 200
	assert_contains "$(body)" 'It works'
}

@test "the example site's index links to every example, and each answers" {
	cp -R "$ASHD_SRCDIR/examples/site/." "$SITE/"
	start_site "$SITE"
	expect / 200
	local links l kinds=""
	links=$(grep -o 'href="/[^"]*"' "$TEST_TMP/body" | sed 's/^href="//; s/"$//' |
	    sed 's/&amp;/\&/g')
	for l in $links; do
		expect "$l" 200
		case $l in
		/cgi/*) kinds+=" cgi"
			assert_contains "$(body)" 'Hello from a CGI script.' ;;
		/php/*) kinds+=" php"
			assert_contains "$(body)" 'from PHP' ;;
		/shell/*) kinds+=" shell"
			assert_contains "$(body)" 'Hello, you!' ;;
		/about | /sub/) kinds+=" static" ;;
		esac
	done
	for k in static cgi php shell; do
		assert_contains "$kinds " " $k "
	done
}
