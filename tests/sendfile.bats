#!/usr/bin/env bats
# sendfile.bats: sendfile behind htparser and dirplex over real TCP on
# 127.0.0.1, and sendfile run directly under the transient convention.
#
# The served tests use dirplex's shipped default configuration (no -N:
# with the build directories on PATH, the repository's
# etc/ashd/dirplex.rc is found), which hands every file to one
# persistent sendfile.  HOME is a fresh directory, so $HOME/.ashd/etc
# holds only what a test puts there (mime.types).  Each test builds its
# own site in $TEST_TMP/site and starts its own htparser on a free
# port; teardown kills every process it started, by PID and group.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	SENDFILE=$(ashd_prog sendfile)
	SERVER_LOG=$TEST_TMP/server.log
	mkdir -p "$TEST_TMP/site"
	SITE=$(cd "$TEST_TMP/site" && pwd -P)
}

teardown() {
	common_teardown
}

# ---------------------------------------------------------------------
# Helpers of this suite

# no_field NAME: the last response has no NAME header.
no_field() {
	local n
	n=$(header_count "$1" "$(cat "$TEST_TMP/head")")
	[ "$n" -eq 0 ] || fail "unexpected $1 header in:"$'\n'"$(cat "$TEST_TMP/head")"
}

# body_is FILE: the last body is exactly FILE's bytes.
body_is() {
	cmp "$TEST_TMP/body" "$1" ||
	    fail "body differs from $1 ($(wc -c <"$TEST_TMP/body") bytes)"
}

# body_equals TEXT: the last body is exactly TEXT (no newline added).
body_equals() {
	printf '%s' "$1" >"$TEST_TMP/want"
	body_is "$TEST_TMP/want"
}

# transient OUT [ENV=VALUE...] -- ARGS...: run sendfile ARGS with the
# environment additions, standard input from /dev/null and standard
# output to OUT; splits OUT into OUT.head (CRs removed) and OUT.body.
# Sets TSTATUS to sendfile's exit status.
transient() {
	local out=$1
	shift
	local envs=()
	while [ "$1" != -- ]; do
		envs+=("$1")
		shift
	done
	shift
	TSTATUS=0
	(cd "$TEST_TMP" && env "${envs[@]}" timeout 10 "$SENDFILE" "$@" \
	    </dev/null >"$out" 2>"$out.err") || TSTATUS=$?
	python3 -c 'import sys
d = open(sys.argv[1], "rb").read()
h, sep, b = d.partition(b"\r\n\r\n")
open(sys.argv[1] + ".head", "wb").write(h.replace(b"\r\n", b"\n") + b"\n")
open(sys.argv[1] + ".body", "wb").write(b)' "$out"
}

# tfield OUT NAME: header NAME of a transient response.
tfield() {
	header_value "$2" "$(cat "$1.head")"
}

# tstatus OUT: the status code of a transient response.
tstatus() {
	sed -n '1s/^HTTP\/1\.1 \([0-9][0-9][0-9]\) .*/\1/p' "$1.head"
}

# A 100-byte file with known content: "0123456789" ten times.
make_hundred() {
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do printf 0123456789; done >"$1"
}

# bytes FILE OFFSET COUNT: those bytes of FILE.
bytes() {
	dd if="$1" bs=1 skip="$2" count="$3" 2>/dev/null
}

# ---------------------------------------------------------------------
# The persistent convention, through htparser and dirplex

@test "static files are served by one persistent sendfile" {
	echo hello >"$SITE/a.html"
	echo world >"$SITE/b.txt"
	start_site "$SITE"
	expect /a.html 200
	body_equals $'hello\n'
	dp=$(children_of "$HTPARSER_PID" | head -n 1)
	sf=$(children_named "$dp" sendfile)
	assert_match "$sf" '^[0-9]+$'
	expect /b.txt 200
	body_equals $'world\n'
	expect /a.html 200
	assert_equal "$(children_named "$dp" sendfile)" "$sf"
	assert_equal "$(field Content-Length)" 6
	assert_equal "$(field Accept-Ranges)" bytes
}

@test "content types from the built-in table" {
	printf '<p>x</p>' >"$SITE/a.html"
	printf '<p>x</p>' >"$SITE/b.htm"
	printf 'body{}' >"$SITE/s.css"
	printf '\x89PNG\r\n\x1a\n\0\0' >"$SITE/i.png"
	printf '\x89PNG' >"$SITE/u.PNG"
	printf 'let x;' >"$SITE/app.js"
	printf '{}' >"$SITE/d.json"
	printf 'plain' >"$SITE/t.txt"
	printf '<svg/>' >"$SITE/v.svg"
	printf 'xyz' >"$SITE/f.unknownext"
	printf 'readme' >"$SITE/README"
	start_site "$SITE"
	for pair in 'a.html|text/html; charset=utf-8' \
	    'b.htm|text/html; charset=utf-8' \
	    's.css|text/css; charset=utf-8' \
	    'i.png|image/png' \
	    'u.PNG|image/png' \
	    'app.js|text/javascript; charset=utf-8' \
	    'd.json|application/json' \
	    't.txt|text/plain; charset=utf-8' \
	    'v.svg|image/svg+xml' \
	    'f.unknownext|application/octet-stream' \
	    'README|application/octet-stream'; do
		f=${pair%%|*}
		expect "/$f" 200
		assert_equal "$(field Content-Type)" "${pair#*|}"
		body_is "$SITE/$f"
		assert_equal "$(field Content-Length)" "$(wc -c <"$SITE/$f")"
	done
}

@test "X-Ash-Content-Type (xset Content-Type in a .htrc) overrides detection" {
	printf 'data' >"$SITE/x.dat"
	printf '<p>' >"$SITE/y.html"
	put "$SITE/.htrc" "match" "    filename *.dat y.html" \
	    "    xset Content-Type \"text/x-custom; charset=latin1\"" \
	    "    handler sendfile"
	start_site "$SITE"
	expect /x.dat 200
	assert_equal "$(field Content-Type)" 'text/x-custom; charset=latin1'
	body_equals data
	expect /y.html 200
	assert_equal "$(field Content-Type)" 'text/x-custom; charset=latin1'
}

@test "-c overrides both X-Ash-Content-Type and detection" {
	printf 'one' >"$SITE/a.html"
	printf 'two' >"$SITE/b.html"
	put "$SITE/.htrc" \
	    "child forced" "    exec sendfile -c text/x-forced" \
	    "match" "    filename a.html" "    xset Content-Type text/x-other" \
	    "    handler forced" \
	    "match" "    filename b.html" "    xset Content-Type text/x-other" \
	    "    fork sendfile -c text/x-forked"
	start_site "$SITE"
	expect /a.html 200
	assert_equal "$(field Content-Type)" text/x-forced
	body_equals one
	expect /b.html 200
	assert_equal "$(field Content-Type)" text/x-forked
	body_equals two
}

@test "a transient sendfile (fork) behind dirplex: ranges, keep-alive" {
	make_hundred "$SITE/h.txt"
	put "$SITE/.htrc" "match" "    filename h.txt" "    fork sendfile"
	start_site "$SITE"
	rawhttp -t 5 -s "GET /h.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=20-24\r\n\r\nGET /h.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-3\r\n\r\nHEAD /h.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" -c >"$TEST_TMP/resp"
	run resp_summary "$TEST_TMP/resp" 3
	assert_status 0
	assert_equal "$output" $'206 length 5\n206 length 3\n200 head 0'
	assert_equal "$(cat "$TEST_TMP/resp.1")" 01234
	assert_equal "$(cat "$TEST_TMP/resp.2")" 789
}

@test "Last-Modified is the file's mtime; ETag is stable and changes with the file" {
	printf 'v1' >"$SITE/f.txt"
	touch -d @1577934245 "$SITE/f.txt"
	start_site "$SITE"
	expect /f.txt 200
	assert_equal "$(field Last-Modified)" 'Thu, 02 Jan 2020 03:04:05 GMT'
	etag1=$(field ETag)
	assert_match "$etag1" '^"[!#-~]+"$'
	expect /f.txt 200
	assert_equal "$(field ETag)" "$etag1"
	printf 'version 2' >"$SITE/f.txt"
	touch -d @1577934300 "$SITE/f.txt"
	expect /f.txt 200
	assert_equal "$(field Last-Modified)" 'Thu, 02 Jan 2020 03:05:00 GMT'
	[ "$(field ETag)" != "$etag1" ] || fail "ETag did not change"
	body_equals 'version 2'
}

@test "a cached small file: a change of content, inode or existence is seen on the next request" {
	printf 'one' >"$SITE/f.txt"
	touch -d @1577934245 "$SITE/f.txt"
	start_site "$SITE"
	expect /f.txt 200
	body_equals one
	expect /f.txt 200 -H 'Accept: */*'
	body_equals one
	# Written in place, size and modification time put back: only the
	# change time tells.
	printf 'two' >"$SITE/f.txt"
	touch -d @1577934245 "$SITE/f.txt"
	expect /f.txt 200
	body_equals two
	printf 'six' >"$SITE/g.txt"
	touch -d @1577934245 "$SITE/g.txt"
	mv "$SITE/g.txt" "$SITE/f.txt"
	expect /f.txt 200
	body_equals six
	rawhttp -t 5 -s "HEAD /f.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" -c >"$TEST_TMP/resp"
	run resp_summary "$TEST_TMP/resp" 1
	assert_status 0
	assert_equal "$output" $'200 head 0\n200 length 3'
	rm "$SITE/f.txt"
	expect /f.txt 404
}

@test "If-Modified-Since: 304 when not modified since, 200 when modified" {
	printf 'content' >"$SITE/f.txt"
	touch -d @1577934245 "$SITE/f.txt"
	start_site "$SITE"
	expect /f.txt 304 -H 'If-Modified-Since: Thu, 02 Jan 2020 03:04:05 GMT'
	[ ! -s "$TEST_TMP/body" ] || fail "a 304 with a body"
	assert_equal "$(field Last-Modified)" 'Thu, 02 Jan 2020 03:04:05 GMT'
	field ETag >/dev/null
	expect /f.txt 304 -H 'If-Modified-Since: Fri, 01 Jan 2021 00:00:00 GMT'
	expect /f.txt 200 -H 'If-Modified-Since: Thu, 02 Jan 2020 03:04:04 GMT'
	body_equals content
	expect /f.txt 200 -H 'If-Modified-Since: Wed, 01 Jan 2020 00:00:00 GMT'
	body_equals content
	expect /f.txt 200 -H 'If-Modified-Since: not a date'
	body_equals content
}

@test "a 304 has no body and keeps the connection usable" {
	printf 'content' >"$SITE/f.txt"
	touch -d @1577934245 "$SITE/f.txt"
	start_site "$SITE"
	rawhttp -t 5 -s "GET /f.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Thu, 02 Jan 2020 03:04:05 GMT\r\n\r\nGET /f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" -c >"$TEST_TMP/resp"
	run resp_summary "$TEST_TMP/resp"
	assert_status 0
	assert_equal "$output" $'304 none 0\n200 length 7'
}

@test "If-None-Match: the ETag, a list, a weak W/ form and * give 304" {
	printf 'content' >"$SITE/f.txt"
	start_site "$SITE"
	expect /f.txt 200
	etag=$(field ETag)
	expect /f.txt 304 -H "If-None-Match: $etag"
	assert_equal "$(field ETag)" "$etag"
	[ ! -s "$TEST_TMP/body" ] || fail "a 304 with a body"
	expect /f.txt 304 -H "If-None-Match: \"nope\", $etag, \"other\""
	expect /f.txt 304 -H "If-None-Match: \"nope\",$etag"
	expect /f.txt 304 -H "If-None-Match: W/$etag"
	expect /f.txt 304 -H 'If-None-Match: *'
	expect /f.txt 200 -H 'If-None-Match: "nope", "other"'
	body_equals content
	# If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2).
	expect /f.txt 200 -H 'If-None-Match: "nope"' \
	    -H 'If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT'
	body_equals content
}

@test "If-Match: a mismatch gives 412, a match or * goes on" {
	printf 'content' >"$SITE/f.txt"
	touch -d @1577934245 "$SITE/f.txt"
	start_site "$SITE"
	expect /f.txt 200
	etag=$(field ETag)
	expect /f.txt 412 -H 'If-Match: "nope"'
	expect /f.txt 412 -H "If-Match: W/$etag"
	expect /f.txt 200 -H "If-Match: $etag"
	body_equals content
	expect /f.txt 200 -H "If-Match: \"nope\", $etag"
	expect /f.txt 200 -H 'If-Match: *'
	expect /f.txt 412 -H 'If-Unmodified-Since: Wed, 01 Jan 2020 00:00:00 GMT'
	expect /f.txt 200 -H 'If-Unmodified-Since: Thu, 02 Jan 2020 03:04:05 GMT'
}

@test "single byte ranges: 206 with Content-Range" {
	make_hundred "$SITE/h.txt"
	start_site "$SITE"
	expect /h.txt 206 -H 'Range: bytes=0-9'
	assert_equal "$(field Content-Range)" 'bytes 0-9/100'
	assert_equal "$(field Content-Length)" 10
	body_equals 0123456789
	expect /h.txt 206 -H 'Range: bytes=10-'
	assert_equal "$(field Content-Range)" 'bytes 10-99/100'
	assert_equal "$(field Content-Length)" 90
	bytes "$SITE/h.txt" 10 90 >"$TEST_TMP/want"
	body_is "$TEST_TMP/want"
	expect /h.txt 206 -H 'Range: bytes=-5'
	assert_equal "$(field Content-Range)" 'bytes 95-99/100'
	body_equals 56789
	expect /h.txt 206 -H 'Range: bytes=93-200'
	assert_equal "$(field Content-Range)" 'bytes 93-99/100'
	assert_equal "$(field Content-Length)" 7
	body_equals 3456789
	expect /h.txt 206 -H 'Range: bytes=-500'
	assert_equal "$(field Content-Range)" 'bytes 0-99/100'
	body_is "$SITE/h.txt"
	expect /h.txt 206 -H 'Range: bytes=42-42'
	body_equals 2
}

@test "a range starting beyond the end: 416 with Content-Range bytes */SIZE" {
	make_hundred "$SITE/h.txt"
	start_site "$SITE"
	expect /h.txt 416 -H 'Range: bytes=100-'
	assert_equal "$(field Content-Range)" 'bytes */100'
	expect /h.txt 416 -H 'Range: bytes=500-600'
	assert_equal "$(field Content-Range)" 'bytes */100'
}

@test "several ranges or a malformed Range: 200 with the whole file" {
	make_hundred "$SITE/h.txt"
	start_site "$SITE"
	for r in 'bytes=0-1,5-6' 'bytes=0-1, 50-' 'bytes=abc' 'bytes=5-3' \
	    'items=0-1' 'bytes=--1' 'bytes=1-2-3' 'bytes='; do
		expect /h.txt 200 -H "Range: $r"
		no_field Content-Range
		assert_equal "$(field Content-Length)" 100
		body_is "$SITE/h.txt"
	done
}

@test "If-Range: a matching validator gives 206, another one 200" {
	make_hundred "$SITE/h.txt"
	touch -d @1577934245 "$SITE/h.txt"
	start_site "$SITE"
	expect /h.txt 200
	etag=$(field ETag)
	expect /h.txt 206 -H 'Range: bytes=0-4' -H "If-Range: $etag"
	assert_equal "$(field Content-Range)" 'bytes 0-4/100'
	body_equals 01234
	expect /h.txt 200 -H 'Range: bytes=0-4' -H 'If-Range: "stale"'
	body_is "$SITE/h.txt"
	# A weak validator never matches If-Range (RFC 9110 13.1.5).
	expect /h.txt 200 -H 'Range: bytes=0-4' -H "If-Range: W/$etag"
	body_is "$SITE/h.txt"
	expect /h.txt 206 -H 'Range: bytes=0-4' \
	    -H 'If-Range: Thu, 02 Jan 2020 03:04:05 GMT'
	body_equals 01234
	expect /h.txt 200 -H 'Range: bytes=0-4' \
	    -H 'If-Range: Wed, 01 Jan 2020 00:00:00 GMT'
	body_is "$SITE/h.txt"
}

@test "HEAD: the headers of GET and no body" {
	make_hundred "$SITE/h.txt"
	start_site "$SITE"
	expect /h.txt 200
	etag=$(field ETag)
	rawhttp -t 5 -s "HEAD /h.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /h.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" -c >"$TEST_TMP/resp"
	run resp_summary "$TEST_TMP/resp" 1
	assert_status 0
	assert_equal "$output" $'200 head 0\n200 length 100'
	h=$(cat "$TEST_TMP/resp.h1")
	assert_equal "$(header_value Content-Length "$h")" 100
	assert_equal "$(header_value Content-Type "$h")" 'text/plain; charset=utf-8'
	assert_equal "$(header_value ETag "$h")" "$etag"
	header_value Last-Modified "$h" >/dev/null
	cmp "$TEST_TMP/resp.2" "$SITE/h.txt"
}

@test "POST and other methods: 405 with Allow" {
	printf 'content' >"$SITE/f.txt"
	start_site "$SITE"
	expect /f.txt 405 -X POST -d 'a=b'
	assert_equal "$(field Allow)" 'GET, HEAD'
	expect /f.txt 405 -X PUT -d 'x'
	assert_equal "$(field Allow)" 'GET, HEAD'
	expect /f.txt 405 -X DELETE
	assert_equal "$(field Allow)" 'GET, HEAD'
}

@test "a rest string left after the file gives 404" {
	printf 'content' >"$SITE/file.html"
	start_site "$SITE"
	expect /file.html 200
	expect /file.html/extra 404
	expect '/file.html/a/b?c' 404
	expect /file/x 404
}

@test "an empty file" {
	: >"$SITE/empty.txt"
	start_site "$SITE"
	expect /empty.txt 200
	assert_equal "$(field Content-Length)" 0
	[ ! -s "$TEST_TMP/body" ] || fail "body not empty"
}

# ---------------------------------------------------------------------
# Precompressed siblings

@test "precompressed siblings chosen by Accept-Encoding; Vary is sent" {
	printf 'body { color: red }\n' >"$SITE/s.css"
	gzip -c "$SITE/s.css" >"$SITE/s.css.gz"
	printf 'BROTLI-BYTES' >"$SITE/s.css.br"
	start_site "$SITE"
	expect /s.css 200
	body_is "$SITE/s.css"
	no_field Content-Encoding
	assert_equal "$(field Vary)" Accept-Encoding
	plain_etag=$(field ETag)

	expect /s.css 200 -H 'Accept-Encoding: gzip'
	assert_equal "$(field Content-Encoding)" gzip
	assert_equal "$(field Content-Type)" 'text/css; charset=utf-8'
	assert_equal "$(field Content-Length)" "$(wc -c <"$SITE/s.css.gz")"
	assert_equal "$(field Vary)" Accept-Encoding
	body_is "$SITE/s.css.gz"
	gz_etag=$(field ETag)

	expect /s.css 200 -H 'Accept-Encoding: gzip, deflate, br'
	assert_equal "$(field Content-Encoding)" br
	assert_equal "$(field Vary)" Accept-Encoding
	body_is "$SITE/s.css.br"
	br_etag=$(field ETag)

	expect /s.css 200 -H 'Accept-Encoding: br'
	assert_equal "$(field Content-Encoding)" br
	body_is "$SITE/s.css.br"

	expect /s.css 200 -H 'Accept-Encoding: br;q=0, GZip'
	assert_equal "$(field Content-Encoding)" gzip
	body_is "$SITE/s.css.gz"

	expect /s.css 200 -H 'Accept-Encoding: gzip;q=0'
	no_field Content-Encoding
	assert_equal "$(field Vary)" Accept-Encoding
	body_is "$SITE/s.css"

	expect /s.css 200 -H 'Accept-Encoding: deflate'
	no_field Content-Encoding
	body_is "$SITE/s.css"

	# Each representation has its own ETag.
	[ "$plain_etag" != "$gz_etag" ] && [ "$gz_etag" != "$br_etag" ] &&
	    [ "$plain_etag" != "$br_etag" ] ||
	    fail "ETags not distinct: $plain_etag $gz_etag $br_etag"
	expect /s.css 304 -H 'Accept-Encoding: gzip' -H "If-None-Match: $gz_etag"
	assert_equal "$(field Vary)" Accept-Encoding
}

@test "only a .gz sibling; no sibling means no Vary" {
	printf 'let a = 1;\n' >"$SITE/a.js"
	gzip -c "$SITE/a.js" >"$SITE/a.js.gz"
	printf 'let b = 2;\n' >"$SITE/b.js"
	start_site "$SITE"
	expect /a.js 200 -H 'Accept-Encoding: br, gzip'
	assert_equal "$(field Content-Encoding)" gzip
	body_is "$SITE/a.js.gz"
	expect /b.js 200 -H 'Accept-Encoding: br, gzip'
	no_field Content-Encoding
	no_field Vary
	body_is "$SITE/b.js"
	# The sibling itself is an ordinary file.
	expect /a.js.gz 200
	assert_equal "$(field Content-Type)" application/gzip
	body_is "$SITE/a.js.gz"
}

# ---------------------------------------------------------------------
# Size and concurrency

@test "a 20 MB file arrives byte for byte; a range deep inside it too" {
	head -c 20971520 /dev/urandom >"$SITE/big.bin"
	start_site "$SITE"
	expect /big.bin 200
	assert_equal "$(field Content-Length)" 20971520
	body_is "$SITE/big.bin"
	expect /big.bin 206 -H 'Range: bytes=15000000-15000999'
	assert_equal "$(field Content-Range)" 'bytes 15000000-15000999/20971520'
	dd if="$SITE/big.bin" bs=1000 skip=15000 count=1 2>/dev/null >"$TEST_TMP/want"
	body_is "$TEST_TMP/want"
}

@test "concurrency: clients that do not read do not hold up the others" {
	head -c 52428800 /dev/zero >"$SITE/huge.bin"
	printf 'small file\n' >"$SITE/small.txt"
	start_site "$SITE"
	# Three clients ask for 50 MB each and then read (almost) nothing.
	for i in 1 2 3; do
		start_bg "$TEST_TMP/slow$i.log" python3 -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
got = s.recv(64)
print("started %d" % len(got), flush=True)
time.sleep(60)' "$PORT"
	done
	for i in 1 2 3; do
		for ((n = 0; n < 250; n++)); do
			grep -q started "$TEST_TMP/slow$i.log" 2>/dev/null && break
			sleep 0.02
		done
		grep -q started "$TEST_TMP/slow$i.log" ||
		    fail "slow client $i got nothing"
	done
	sleep 0.3
	t0=$(now_ms)
	pids=()
	for i in $(seq 20); do
		curl -sS -m 8 -o "$TEST_TMP/q$i" -w '%{http_code}' \
		    "http://127.0.0.1:$PORT/small.txt" >"$TEST_TMP/c$i" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || true; done
	t1=$(now_ms)
	for i in $(seq 20); do
		assert_equal "$(cat "$TEST_TMP/c$i")" 200
		cmp "$TEST_TMP/q$i" "$SITE/small.txt"
	done
	[ $((t1 - t0)) -lt 4000 ] || fail "20 requests took $((t1 - t0)) ms"
	# The slow transfers are still going on.
	for i in 1 2 3; do
		proc_alive "${BG_PIDS[$i]}" || fail "slow client $i is gone"
	done
}

# ---------------------------------------------------------------------
# mime.types

@test "a mime.types file in \$HOME/.ashd/etc adds extensions" {
	mkdir -p "$HOME/.ashd/etc"
	printf '%s\n' '# comment line' \
	    'application/x-zork	zork z5   # trailing comment' \
	    'text/x-foo foo' '' 'nonsense-without-slash bar' \
	    >"$HOME/.ashd/etc/mime.types"
	printf 'z' >"$SITE/game.zork"
	printf 'z' >"$SITE/game.z5"
	printf 'f' >"$SITE/x.foo"
	printf 'b' >"$SITE/x.bar"
	printf 'h' >"$SITE/x.html"
	start_site "$SITE"
	expect /game.zork 200
	assert_equal "$(field Content-Type)" application/x-zork
	expect /game.z5 200
	assert_equal "$(field Content-Type)" application/x-zork
	expect /x.foo 200
	assert_equal "$(field Content-Type)" 'text/x-foo; charset=utf-8'
	expect /x.bar 200
	assert_equal "$(field Content-Type)" application/octet-stream
	expect /x.html 200
	assert_equal "$(field Content-Type)" 'text/html; charset=utf-8'
}

# ---------------------------------------------------------------------
# The transient convention, run directly

@test "transient: serves REQ_X_ASH_FILE, METHOD URL REST as the last arguments" {
	printf '<h1>hi</h1>' >"$TEST_TMP/a.html"
	transient "$TEST_TMP/out" REQ_X_ASH_FILE="$TEST_TMP/a.html" \
	    REQ_HOST=x -- GET /a.html ''
	assert_equal "$TSTATUS" 0
	assert_equal "$(tstatus "$TEST_TMP/out")" 200
	assert_equal "$(tfield "$TEST_TMP/out" Content-Type)" 'text/html; charset=utf-8'
	assert_equal "$(tfield "$TEST_TMP/out" Content-Length)" 11
	tfield "$TEST_TMP/out" Last-Modified >/dev/null
	tfield "$TEST_TMP/out" ETag >/dev/null
	cmp "$TEST_TMP/out.body" "$TEST_TMP/a.html"
}

@test "transient: a rest string gives 404; no file gives 404 or 500" {
	printf 'x' >"$TEST_TMP/a.html"
	transient "$TEST_TMP/out" REQ_X_ASH_FILE="$TEST_TMP/a.html" -- \
	    GET /a.html/more more
	assert_equal "$(tstatus "$TEST_TMP/out")" 404
	transient "$TEST_TMP/out" REQ_X_ASH_FILE="$TEST_TMP/missing.html" -- \
	    GET /missing.html ''
	assert_equal "$(tstatus "$TEST_TMP/out")" 404
	transient "$TEST_TMP/out" -- GET /a.html ''
	assert_equal "$(tstatus "$TEST_TMP/out")" 500
}

@test "transient: -f FILE and -c TYPE" {
	printf 'forced file' >"$TEST_TMP/data.bin"
	printf 'other' >"$TEST_TMP/other.html"
	transient "$TEST_TMP/out" -- -f "$TEST_TMP/data.bin" GET /whatever ''
	assert_equal "$(tstatus "$TEST_TMP/out")" 200
	assert_equal "$(tfield "$TEST_TMP/out" Content-Type)" application/octet-stream
	cmp "$TEST_TMP/out.body" "$TEST_TMP/data.bin"
	# -f wins over X-Ash-File.
	transient "$TEST_TMP/out" REQ_X_ASH_FILE="$TEST_TMP/other.html" -- \
	    -f "$TEST_TMP/data.bin" -c text/x-mine GET /whatever ''
	assert_equal "$(tstatus "$TEST_TMP/out")" 200
	assert_equal "$(tfield "$TEST_TMP/out" Content-Type)" text/x-mine
	cmp "$TEST_TMP/out.body" "$TEST_TMP/data.bin"
	# -c wins over X-Ash-Content-Type, which wins over detection.
	transient "$TEST_TMP/out" REQ_X_ASH_FILE="$TEST_TMP/other.html" \
	    REQ_X_ASH_CONTENT_TYPE=text/x-env -- -c text/x-opt GET /o ''
	assert_equal "$(tfield "$TEST_TMP/out" Content-Type)" text/x-opt
	transient "$TEST_TMP/out" REQ_X_ASH_FILE="$TEST_TMP/other.html" \
	    REQ_X_ASH_CONTENT_TYPE=text/x-env -- GET /o ''
	assert_equal "$(tfield "$TEST_TMP/out" Content-Type)" text/x-env
}

@test "transient: Range, If-None-Match, HEAD and POST from REQ_* variables" {
	make_hundred "$TEST_TMP/h.txt"
	transient "$TEST_TMP/out" REQ_X_ASH_FILE="$TEST_TMP/h.txt" \
	    REQ_RANGE=bytes=20-24 -- GET /h.txt ''
	assert_equal "$(tstatus "$TEST_TMP/out")" 206
	assert_equal "$(tfield "$TEST_TMP/out" Content-Range)" 'bytes 20-24/100'
	assert_equal "$(cat "$TEST_TMP/out.body")" 01234
	etag=$(tfield "$TEST_TMP/out" ETag)
	transient "$TEST_TMP/out" REQ_X_ASH_FILE="$TEST_TMP/h.txt" \
	    REQ_IF_NONE_MATCH="$etag" -- GET /h.txt ''
	assert_equal "$(tstatus "$TEST_TMP/out")" 304
	[ ! -s "$TEST_TMP/out.body" ] || fail "a 304 with a body"
	transient "$TEST_TMP/out" REQ_X_ASH_FILE="$TEST_TMP/h.txt" -- \
	    HEAD /h.txt ''
	assert_equal "$(tstatus "$TEST_TMP/out")" 200
	assert_equal "$(tfield "$TEST_TMP/out" Content-Length)" 100
	[ ! -s "$TEST_TMP/out.body" ] || fail "a HEAD response with a body"
	transient "$TEST_TMP/out" REQ_X_ASH_FILE="$TEST_TMP/h.txt" -- \
	    POST /h.txt ''
	assert_equal "$(tstatus "$TEST_TMP/out")" 405
	assert_equal "$(tfield "$TEST_TMP/out" Allow)" 'GET, HEAD'
}

@test "sendfile -h exits 0; bad usage exits 2" {
	run timeout 5 "$SENDFILE" -h </dev/null
	assert_status 0
	assert_match "${output,,}" usage
	run timeout 5 "$SENDFILE" </dev/null
	assert_status 2
	run timeout 5 "$SENDFILE" GET / </dev/null
	assert_status 2
	run timeout 5 "$SENDFILE" -Z GET / '' </dev/null
	assert_status 2
}
