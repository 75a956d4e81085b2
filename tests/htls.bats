#!/usr/bin/env bats
# htls.bats: directory listings by htls behind dirplex and htparser on
# 127.0.0.1.
#
# Each test builds a directory tree in $TEST_TMP/site with awkward names
# (markup characters, a newline, bytes that are not UTF-8, '#', '?',
# '%', ':'), lists it through dirplex as ashd does it ("match directory"
# with "fork htls", the transient convention) or with a persistent
# "child", checks the page with python3 (HTML parser, XML
# well-formedness, the names and links it carries) and follows every
# link with curl.  The last tests use the shipped configuration: a
# .htrc with the one line "include listing.rc".

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	HTLS=$(ashd_prog htls)
	SERVER_LOG=$TEST_TMP/server.log
	SITE=$TEST_TMP/site
	mkdir -p "$SITE"
	export LC_ALL=C
}

teardown() {
	common_teardown
}

# make_tree: the files of $SITE/d the tests list.
make_tree() {
	local d=$SITE/d
	mkdir -p "$d/sub" "$d/.hidden-dir" "$d/Zdir"
	printf 'plain\n' >"$d/a.txt"
	printf '0123456789' >"$d/<b>&\"'.txt"
	printf 'nl\n' >"$d/new"$'\n'"line"
	printf 'colon' >"$d/a:b"
	printf 'odd' >"$d/sp ace#?%.txt"
	printf 'latin1' >"$d/caf"$'\xe9'
	printf 'utf8' >"$d/café.txt"
	printf 'secret' >"$d/.hidden"
	printf 'in sub' >"$d/sub/inner.txt"
	mkfifo "$d/fifo"
	touch -d '2021-03-04 05:06:07 UTC' "$d/a.txt"
}

# site_rc LINES...: $TEST_TMP/site.rc, sendfile for files, then LINES.
site_rc() {
	put "$TEST_TMP/site.rc" \
	    "child sendfile" "	exec sendfile" \
	    "match" "	default" "	handler sendfile" "$@"
}

# start_forked [HTLS-OPTIONS...]: ashd's own configuration: a transient
# htls for every directory without an index file.
start_forked() {
	site_rc "match directory" "	default" "	fork $HTLS $*"
	start_site -N -c "$TEST_TMP/site.rc" "$SITE"
}

# start_child [HTLS-OPTIONS...]: the same with one persistent htls.
start_child() {
	site_rc "child htls" "	exec $HTLS $*" \
	    "match directory" "	default" "	handler htls"
	start_site -N -c "$TEST_TMP/site.rc" "$SITE"
}

# The checker: parses $1 (the page) with html.parser (every element
# opened is closed in order, void elements aside) and as XML (well-formed,
# UTF-8); prints one line per listed entry: "HREF<TAB>TEXT<TAB>SIZE
# <TAB>DATETIME" with TEXT as shown (escapes resolved).
CHECK_PY='
import sys, html.parser, xml.etree.ElementTree as ET
data = open(sys.argv[1], "rb").read()
text = data.decode("utf-8")
assert text.startswith("<!DOCTYPE html>\n"), "no HTML5 doctype"
VOID = {"meta", "link", "br", "img", "hr", "input"}
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []
    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        assert tag in VOID, "self-closed non-void element " + tag
    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, "unbalanced </%s> in %r" % (tag, self.stack)
        self.stack.pop()
p = P()
p.feed(text)
p.close()
assert not p.stack, "unclosed " + repr(p.stack)
root = ET.fromstring(data)
assert root.tag == "html" and root.get("lang")
head = root.find("head")
assert head.find("meta").get("charset") == "utf-8"
assert head.find("title").text.startswith("Index of ")
for tr in root.iter("tr"):
    tds = tr.findall("td")
    if not tds:
        continue
    a = tds[0].find("a")
    size = mt = "-"
    for td in tds[1:]:
        if td.get("class") == "filesize":
            size = td.text or ""
        if td.get("class") == "filemtime":
            t = td.find("time")
            mt = t.get("datetime") if t is not None else ""
    print("%s\t%s\t%s\t%s" % (a.get("href"), a.text.replace("\n", "\\n"), size, mt))
'

# check_page: check $TEST_TMP/body; its entries go to $TEST_TMP/entries.
check_page() {
	python3 -c "$CHECK_PY" "$TEST_TMP/body" >"$TEST_TMP/entries" ||
	    fail "page check failed:"$'\n'"$(cat "$TEST_TMP/body")"
}

# hrefs: the links of the last page, one a line.
hrefs() {
	cut -f 1 "$TEST_TMP/entries"
}

@test "htls: -h prints usage to stdout; bad usage exits 2" {
	run "$HTLS" -h
	assert_status 0
	assert_contains "$output" "usage: htls"
	run "$HTLS" -x GET / ''
	assert_status 2
	run "$HTLS" GET /
	assert_status 2
}

@test "htls: ashd's fork htls lists a directory: sorted, dot-files and FIFOs hidden" {
	make_tree
	start_forked
	expect /d/ 200
	assert_equal "$(field Content-Type)" "text/html; charset=utf-8"
	check_page
	# Directories first (the parent link, then by name), then files
	# in byte order (LC_ALL=C); .hidden, .hidden-dir and fifo absent.
	assert_equal "$(cut -f 2 "$TEST_TMP/entries" | tr '\n' '|')" \
	    "../|Zdir/|sub/|<b>&\"'.txt|a.txt|a:b|café.txt|caf"$'\xef\xbf\xbd'"|new␊line|sp ace#?%.txt|"
	assert_not_contains "$(body)" hidden
	assert_not_contains "$(body)" fifo
}

@test "htls: names are escaped in text and percent-encoded in links" {
	make_tree
	start_forked
	expect /d/ 200
	check_page
	assert_contains "$(body)" '>&lt;b&gt;&amp;&quot;&#39;.txt</a>'
	assert_contains "$(body)" 'href="%3Cb%3E%26%22%27.txt"'
	assert_contains "$(body)" 'href="new%0Aline"'
	assert_contains "$(body)" 'href="sp%20ace%23%3F%25.txt"'
	assert_contains "$(body)" 'href="a%3Ab"'
	assert_contains "$(body)" 'href="caf%E9"'
	assert_contains "$(body)" 'href="caf%C3%A9.txt"'
	assert_contains "$(body)" 'href="sub/"'
	# No raw markup character of a name leaks into the page.
	assert_not_contains "$(body)" "<b>"
}

@test "htls: every link works through dirplex" {
	make_tree
	start_forked
	expect /d/ 200
	check_page
	local h want n=0 links
	mapfile -t links < <(hrefs)
	for h in "${links[@]}"; do
		case $h in
		../) ;;
		*/)
			expect "/d/$h" 200
			check_page
			n=$((n + 1))
			;;
		*)
			expect "/d/$h" 200
			want=$(python3 -c 'import sys, urllib.parse
sys.stdout.buffer.write(urllib.parse.unquote_to_bytes(sys.argv[1]))' "$h")
			cmp "$TEST_TMP/body" "$SITE/d/$want"
			n=$((n + 1))
			;;
		esac
	done
	assert_equal "$n" 9
}

@test "htls: the parent link is left out at the top" {
	make_tree
	start_forked
	expect / 200
	check_page
	assert_equal "$(hrefs | head -n 1)" d/
	expect /d/sub/ 200
	check_page
	assert_equal "$(hrefs | tr '\n' ' ')" "../ inner.txt "
}

@test "htls: -s shows file sizes, and only with -s" {
	make_tree
	start_forked -s
	expect /d/ 200
	check_page
	assert_equal "$(grep -P '^a\.txt\t' "$TEST_TMP/entries" | cut -f 3)" 6
	assert_equal "$(grep -P '^%3Cb' "$TEST_TMP/entries" | cut -f 3)" 10
	assert_equal "$(grep -P '^sub/\t' "$TEST_TMP/entries" | cut -f 3)" ""
	assert_contains "$(body)" '<th class="filesize">'
	kill_bg
	start_forked
	expect /d/ 200
	check_page
	assert_not_contains "$(body)" 'class="filesize"'
	assert_equal "$(grep -P '^a\.txt\t' "$TEST_TMP/entries" | cut -f 3)" -
}

@test "htls: -m shows modification times (UTC), and only with -m" {
	make_tree
	start_forked -m
	expect /d/ 200
	check_page
	assert_equal "$(grep -P '^a\.txt\t' "$TEST_TMP/entries" | cut -f 4)" \
	    2021-03-04T05:06:07Z
	assert_contains "$(body)" '>2021-03-04 05:06</time>'
	kill_bg
	start_forked -s
	expect /d/ 200
	assert_not_contains "$(body)" '<time'
}

@test "htls: -c links a stylesheet instead of the inline one" {
	make_tree
	start_forked -c '/style/x.css?a=1&b=<2>'
	expect /d/ 200
	check_page
	assert_contains "$(body)" '<link rel="stylesheet" href="/style/x.css?a=1&amp;b=&lt;2&gt;" />'
	assert_not_contains "$(body)" '<style>'
	kill_bg
	start_forked
	expect /d/ 200
	assert_contains "$(body)" '<style>'
	assert_not_contains "$(body)" 'rel="stylesheet"'
}

@test "htls: a persistent child serves many listings as one process" {
	make_tree
	start_child -s -m
	expect /d/ 200
	check_page
	assert_equal "$(grep -P '^a\.txt\t' "$TEST_TMP/entries" | cut -f 3,4)" \
	    $'6\t2021-03-04T05:06:07Z'
	local dp pid1 pid2
	dp=$(children_of "$HTPARSER_PID" | head -n 1)
	pid1=$(children_named "$dp" htls)
	[ -n "$pid1" ] || fail "no persistent htls under dirplex $dp"
	expect /d/sub/ 200
	check_page
	expect /d/ 200
	pid2=$(children_named "$dp" htls)
	assert_equal "$pid2" "$pid1"
	expect "/d/sub/?x=1" 200
	expect_head=$(curl -sS -I "http://127.0.0.1:$PORT/d/")
	assert_contains "$expect_head" "HTTP/1.1 200"
}

@test "htls: Last-Modified and If-Modified-Since, newest entry counted" {
	make_tree
	touch -d '2020-01-01 00:00:00 UTC' "$SITE/d"/* "$SITE/d/sub" "$SITE/d/Zdir"
	touch -d '2020-01-01 00:00:00 UTC' "$SITE/d"
	touch -d '2021-03-04 05:06:07 UTC' "$SITE/d/a.txt"
	start_child -s
	expect /d/ 200
	assert_equal "$(field Last-Modified)" "Thu, 04 Mar 2021 05:06:07 GMT"
	expect /d/ 304 -H "If-Modified-Since: Thu, 04 Mar 2021 05:06:07 GMT"
	assert_equal "$(body)" ""
	# A file grown in place changes no directory time, but the page.
	printf 'more' >>"$SITE/d/a.txt"
	expect /d/ 200 -H "If-Modified-Since: Thu, 04 Mar 2021 05:06:07 GMT"
	check_page
	assert_equal "$(grep -P '^a\.txt\t' "$TEST_TMP/entries" | cut -f 3)" 10
}

@test "htls: methods other than GET and HEAD get 405; HEAD no body" {
	make_tree
	start_forked
	expect /d/ 405 -X POST -d x
	assert_equal "$(field Allow)" "GET, HEAD"
	local out
	out=$(raw_request "HEAD /d/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	assert_contains "$out" "HTTP/1.1 200"
	assert_contains "$out" "Content-Length: "
	assert_not_contains "$out" "<!DOCTYPE"
}

@test "htls: transient: rest left over 404, no X-Ash-File 500, no slash 301" {
	make_tree
	run env REQ_X_ASH_FILE="$SITE/d" "$HTLS" GET /d/x x
	assert_status 0
	assert_contains "$output" "HTTP/1.1 404"
	run env -u REQ_X_ASH_FILE "$HTLS" GET /d/ ''
	assert_contains "$output" "HTTP/1.1 500"
	run env REQ_X_ASH_FILE="$SITE/d" "$HTLS" GET '/d?q=1' ''
	assert_contains "$output" "HTTP/1.1 301"
	assert_contains "$output" $'Location: /d/?q=1\r'
	run env REQ_X_ASH_FILE="$SITE/d" "$HTLS" GET /a%20b/%3Cx%3E/ ''
	assert_contains "$output" "<title>Index of /a b/&lt;x&gt;/</title>"
	run env REQ_X_ASH_FILE="$SITE/nonexistent" "$HTLS" GET /n/ ''
	assert_contains "$output" "HTTP/1.1 404"
}

@test "htls: shipped configuration: one .htrc line opts a directory in" {
	make_tree
	mkdir -p "$SITE/closed"
	printf 'x' >"$SITE/closed/file.txt"
	printf 'include listing.rc\n' >"$SITE/d/.htrc"
	start_site "$SITE"
	expect /d/ 200
	check_page
	assert_contains "$(cut -f 2 "$TEST_TMP/entries")" "a.txt"
	# The shipped htls shows sizes and times.
	assert_equal "$(grep -P '^a\.txt\t' "$TEST_TMP/entries" | cut -f 3,4)" \
	    $'6\t2021-03-04T05:06:07Z'
	# Below an opted-in directory too; files are still files.
	expect /d/sub/ 200
	check_page
	expect /d/a.txt 200
	assert_equal "$(body)" plain
	# A directory that did not opt in is not listed.
	code=$(get /closed/)
	[ "$code" = 403 ] || [ "$code" = 404 ] ||
	    fail "/closed/ answered $code"
	assert_not_contains "$(body)" file.txt
	# An index file still wins over the listing.
	printf 'index here' >"$SITE/d/sub/index.html"
	expect /d/sub/ 200
	assert_equal "$(body)" "index here"
}
