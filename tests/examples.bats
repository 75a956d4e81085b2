#!/usr/bin/env bats
# examples.bats: the handler of examples/handlers written three ways (C
# against the installed libashd, Python with only its standard library,
# a transient shell script), each served through examples/handlers/
# hello.rc by patplex behind htparser on 127.0.0.1; and the installed
# library itself: `make install DESTDIR=...` into the test's directory,
# ashd.pc found by pkg-config there, every installed header compiling on
# its own, no name of the tree's internals in the way of a user's.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME" "$TEST_TMP/bin"
	use_build_path
	PATH="$TEST_TMP/bin:$PATH"
	EXAMPLES=$ASHD_SRCDIR/examples/handlers
	SERVER_LOG=$TEST_TMP/server.log
	command -v pkg-config >/dev/null || fail "pkg-config is missing"
}

teardown() {
	common_teardown
}

# install_lib: `make install` into $TEST_TMP/inst; sets PCFLAGS to what
# `pkg-config --cflags --libs ashd` says there.
install_lib() {
	local pc
	make -C "$ASHD_BUILDDIR" install DESTDIR="$TEST_TMP/inst" \
	    >"$TEST_TMP/install.log" 2>&1 ||
	    fail "make install failed:"$'\n'"$(tail -n 20 "$TEST_TMP/install.log")"
	pc=$(find "$TEST_TMP/inst" -name ashd.pc)
	[ -n "$pc" ] || fail "ashd.pc is not installed"
	export PKG_CONFIG_PATH=${pc%/*} PKG_CONFIG_SYSROOT_DIR=$TEST_TMP/inst
	PCFLAGS=$(pkg-config --cflags --libs ashd) ||
	    fail "pkg-config does not know ashd"
	# A library built with the sanitizers (configure
	# --enable-sanitizers) needs its users built with them too.
	if [ "${ASHD_SANITIZERS:-no}" = yes ]; then
		PCFLAGS="$PCFLAGS -fsanitize=address,undefined"
	fi
	INCDIR=$(pkg-config --variable=includedir ashd)	# sysroot included
}

# hello PATH FROM REST: PATH answers 200 with the example's text from
# FROM, with the rest string REST (what patplex's `point` left).
hello() {
	expect "$1?name=bats" 200 -A "examples.bats"
	assert_equal "$(body)" "Hello, bats!
from: $2
method: GET
rest: $3
user-agent: examples.bats"
	assert_match "$(field Content-Type)" '^text/plain'
}

# head_len PATH FROM: a HEAD of PATH says the length of the text a GET
# would have had (htparser leaves the body out).
head_len() {
	local text
	text=$(printf 'Hello, world!\nfrom: %s\nmethod: HEAD\nrest: %s\nuser-agent: examples.bats\n_' "$2" "${1#/*/}")
	expect "$1" 200 -I -A examples.bats
	assert_equal "$(field Content-Length)" "$((${#text} - 1))"
}

@test "the C handler builds against the installed libashd with pkg-config and serves through hello.rc" {
	install_lib
	[ -f "$INCDIR/ashd/handler.h" ] || fail "no ashd/handler.h in $INCDIR"
	# shellcheck disable=SC2086
	cc -std=c11 -Wall -Wextra -Werror -o "$TEST_TMP/bin/hello-c" \
	    "$EXAMPLES/hello.c" $PCFLAGS
	start_root patplex -N "$EXAMPLES/hello.rc"
	hello /c/x/y C x/y
	hello /c/ C ""
	head_len /c/z C
	# Persistent: one process served all of them.
	assert_equal "$(children_named "$(children_named "$HTPARSER_PID" patplex)" hello-c | wc -l)" 1
}

@test "every installed header compiles on its own, and the library leaves a user's xmalloc and write_all alone" {
	install_lib
	local h
	for h in "$INCDIR"/ashd/*.h; do
		printf '#include <ashd/%s>\n' "${h##*/}" >"$TEST_TMP/one.c"
		cc -std=c11 -Wall -Wextra -Werror -fsyntax-only \
		    -I"$INCDIR" "$TEST_TMP/one.c" ||
		    fail "ashd/${h##*/} does not compile on its own"
	done
	cat >"$TEST_TMP/mine.c" <<'C'
#include <stdlib.h>
#include <unistd.h>
#include <ashd/ashd.h>
/* A program's own helpers of the same names as the tree's. */
void *xmalloc(size_t n) { return malloc(n); }
int write_all(int fd, const char *s) { return (int)write(fd, s, 1); }
int
main(int argc, char **argv)
{
	(void)argc;
	log_init(argv[0]);
	free(xmalloc(1));
	return http_error(1, 404, "x") == 0 && write_all(1, "\n") == 1 ?
	    0 : 1;
}
C
	# shellcheck disable=SC2086
	cc -std=c11 -Wall -Wextra -Werror -o "$TEST_TMP/mine" \
	    "$TEST_TMP/mine.c" $PCFLAGS
	"$TEST_TMP/mine" >"$TEST_TMP/out"
	assert_match "$(head -n 1 "$TEST_TMP/out")" '^HTTP/1.1 404 '
}

@test "the Python handler (standard library only) serves through hello.rc" {
	start_root patplex -N "$EXAMPLES/hello.rc"
	hello /py/x/y python x/y
	hello /py/ python ""
	head_len /py/z python
	assert_equal "$(children_named "$(children_named "$HTPARSER_PID" patplex)" python3 | wc -l)" 1
}

@test "the transient shell handler serves through hello.rc" {
	start_root patplex -N "$EXAMPLES/hello.rc"
	hello /sh/x/y sh x/y
	hello /sh/ sh ""
	head_len /sh/z sh
}
