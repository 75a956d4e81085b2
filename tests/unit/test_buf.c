/*
 * test_buf.c: the growable buffer (lib/buf.c).
 *
 * Invariants checked after every operation: b_data is NUL-terminated
 * past b_len whenever it is allocated, b_len < b_cap, and a refused
 * growth (b_max reached, size arithmetic overflowing) leaves the buffer
 * exactly as it was, with errno EMSGSIZE or ENOMEM.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

/* The buffer holds exactly want[0..wlen) and is NUL-terminated. */
static void
check_buf(int line, const struct buf *b, const void *want, size_t wlen,
    const char *what)
{
	ok_at(line,
	    b->b_len == wlen && b->b_data != NULL && b->b_cap > b->b_len &&
		memcmp(b->b_data, want, wlen) == 0 &&
		b->b_data[b->b_len] == '\0',
	    "%s: contents, NUL-terminated", what);
}
#define CHECK_BUF(b, want, wlen, what) check_buf(__LINE__, b, want, wlen, what)
#define CHECK_STR(b, s, what)	       check_buf(__LINE__, b, s, strlen(s), what)

static void
test_init(void)
{
	struct buf a = BUF_INIT, b;

	ok(a.b_data == NULL && a.b_len == 0 && a.b_cap == 0 && a.b_max == 0,
	    "BUF_INIT is empty");
	memset(&b, 0x55, sizeof(b));
	buf_init(&b, 77);
	ok(b.b_data == NULL && b.b_len == 0 && b.b_cap == 0 && b.b_max == 77,
	    "buf_init sets an empty buffer with its limit");
	/* Appending nothing still gives a usable C string. */
	is_int(buf_append(&b, "", 0), 0, "append of 0 bytes");
	CHECK_STR(&b, "", "empty append");
	buf_free(&b);
	ok(b.b_data == NULL && b.b_len == 0 && b.b_cap == 0,
	    "buf_free empties");
	buf_free(&b); /* twice is harmless */
	is_int(buf_appends(&b, "again"), 0, "reusable after buf_free");
	CHECK_STR(&b, "again", "reuse after free");
	is_int(b.b_max, 77, "buf_free keeps the limit");
	buf_free(&b);
}

static void
test_growth(void)
{
	struct buf b = BUF_INIT;
	char *want;
	size_t i, caps = 0, lastcap = 0;
	int bad = 0;

	want = malloc(100000);
	for (i = 0; i < 100000; i++) {
		want[i] = (char)('a' + i % 26);
		if (buf_appendc(&b, want[i]) == -1 || b.b_len != i + 1 ||
		    b.b_cap <= b.b_len || b.b_data[b.b_len] != '\0')
			bad++;
		if (b.b_cap != lastcap) {
			caps++;
			lastcap = b.b_cap;
		}
	}
	is_int(bad, 0, "100000 x buf_appendc: length and NUL after each");
	CHECK_BUF(&b, want, 100000, "byte by byte growth");
	ok(caps <= 20, "growth is geometric (%zu reallocations)", caps);

	/* One big append into an existing buffer. */
	is_int(buf_append(&b, want, 100000), 0, "append 100000 more");
	ok(b.b_len == 200000 && !memcmp(b.b_data + 100000, want, 100000) &&
		!memcmp(b.b_data, want, 100000) && b.b_data[200000] == '\0',
	    "old and new data intact after growth");
	free(want);
	buf_free(&b);

	/* Reserve gives room without changing the contents. */
	is_int(buf_appends(&b, "xy"), 0, "appends");
	is_int(buf_reserve(&b, 5000), 0, "reserve 5000");
	ok(b.b_cap >= 2 + 5000 + 1,
	    "reserve leaves room for data and NUL"
	    " (cap %zu)",
	    b.b_cap);
	CHECK_STR(&b, "xy", "reserve keeps contents");
	lastcap = b.b_cap;
	is_int(buf_reserve(&b, 10), 0, "reserve within capacity");
	is_int(b.b_cap, lastcap, "no reallocation when room exists");
	buf_free(&b);

	/* The first allocation is a C string too (cap > 0). */
	is_int(buf_reserve(&b, 100), 0, "reserve on a fresh buffer");
	ok(b.b_data != NULL && b.b_cap > 100 && b.b_len == 0 &&
		b.b_data[0] == '\0',
	    "fresh reserve: \"\" (NUL at b_len)");
	buf_free(&b);
}

static void
test_append(void)
{
	struct buf b = BUF_INIT;
	char big[5000];

	is_int(buf_appends(&b, "hello"), 0, "buf_appends");
	CHECK_STR(&b, "hello", "appends has no NUL");
	is_int(buf_appendc(&b, ' '), 0, "buf_appendc");
	is_int(buf_append(&b, "wor", 3), 0, "buf_append");
	CHECK_STR(&b, "hello wor", "appended in order");
	is_int(buf_appendz(&b, "ld"), 0, "buf_appendz");
	CHECK_BUF(&b, "hello world", 12, "appendz keeps its NUL in b_len");
	is_int(buf_append(&b, "a\0b", 3), 0, "append embedded NUL");
	CHECK_BUF(&b, "hello world\0a\0b", 15, "binary data kept");
	buf_clear(&b);
	CHECK_STR(&b, "", "buf_clear");

	is_int(buf_printf(&b, "%d-%s-%c", 42, "x", 'y'), 0, "buf_printf");
	CHECK_STR(&b, "42-x-y", "printf output");
	is_int(buf_printf(&b, "[%05d]", 7), 0, "buf_printf appends");
	CHECK_STR(&b, "42-x-y[00007]", "second printf appended");
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(buf_printf(&b, "<%s>", big), 0, "printf that must grow");
	ok(b.b_len == 13 + 2 + 4999 && b.b_data[13] == '<' &&
		b.b_data[14 + 4999] == '>' && b.b_data[b.b_len] == '\0' &&
		strspn(b.b_data + 14, "q") == 4999,
	    "long printf complete");
	is_int(buf_printf(&b, "%s", ""), 0, "empty printf");
	is_int(b.b_len, 13 + 2 + 4999, "empty printf adds nothing");
	buf_free(&b);

	/* printf into a never-allocated buffer. */
	is_int(buf_printf(&b, "%s", ""), 0, "empty printf on empty buffer");
	ok(b.b_len == 0 && (b.b_data == NULL || b.b_data[0] == '\0'),
	    "still empty");
	buf_free(&b);
}

static void
test_consume(void)
{
	struct buf b = BUF_INIT;

	buf_appends(&b, "hello world");
	buf_consume(&b, 0);
	CHECK_STR(&b, "hello world", "consume 0");
	buf_consume(&b, 6);
	CHECK_STR(&b, "world", "consume 6");
	buf_consume(&b, 4);
	CHECK_STR(&b, "d", "consume 4");
	buf_consume(&b, 1);
	CHECK_STR(&b, "", "consume everything");
	is_int(buf_appends(&b, "again"), 0, "append after consume");
	CHECK_STR(&b, "again", "usable after consume");
	buf_consume(&b, 5);
	CHECK_STR(&b, "", "consume exactly len");
	buf_free(&b);
}

static void
test_detach(void)
{
	struct buf b = BUF_INIT;
	size_t len = 99;
	char *p;

	buf_init(&b, 1000);
	buf_appends(&b, "detach me");
	p = buf_detach(&b, &len);
	ok(p != NULL && len == 9 && !strcmp(p, "detach me"),
	    "detach hands over the NUL-terminated data");
	ok(b.b_data == NULL && b.b_len == 0 && b.b_cap == 0,
	    "buffer empty after detach");
	is_int(b.b_max, 1000, "limit kept after detach");
	is_int(buf_appends(&b, "new"), 0, "reusable after detach");
	CHECK_STR(&b, "new", "new contents");
	ok(p != NULL && !strcmp(p, "detach me"),
	    "detached data independent of the buffer");
	free(p);
	buf_free(&b);

	/* Never allocated: still a valid empty string. */
	len = 99;
	p = buf_detach(&b, &len);
	ok(p != NULL && len == 0 && p[0] == '\0',
	    "detach of an empty buffer gives \"\"");
	free(p);
	p = buf_detach(&b, NULL);
	ok(p != NULL && p[0] == '\0', "detach with lenp NULL");
	free(p);
	buf_free(&b);
}

static void
test_limit(void)
{
	struct buf b;
	char big[200];
	int rv;

	memset(big, 'z', sizeof(big));
	buf_init(&b, 10);
	is_int(buf_appends(&b, "12345"), 0, "under the limit");
	errno = 0;
	rv = buf_appends(&b, "678901");
	is_int(rv, -1, "append past b_max refused");
	is_int(errno, EMSGSIZE, "errno EMSGSIZE");
	CHECK_STR(&b, "12345", "nothing appended, nothing truncated");
	errno = 0;
	rv = buf_printf(&b, "%s", "abcdef");
	ok(rv == -1 && errno == EMSGSIZE, "printf past b_max: -1/EMSGSIZE");
	CHECK_STR(&b, "12345", "printf left nothing behind");
	is_int(buf_appends(&b, "67890"), 0, "exactly b_max bytes allowed");
	CHECK_STR(&b, "1234567890", "at the limit");
	errno = 0;
	rv = buf_appendc(&b, 'x');
	ok(rv == -1 && errno == EMSGSIZE, "one more byte: -1/EMSGSIZE");
	errno = 0;
	rv = buf_appendz(&b, "");
	ok(rv == -1 && errno == EMSGSIZE, "appendz's NUL counts: EMSGSIZE");
	CHECK_STR(&b, "1234567890", "still at the limit");
	buf_consume(&b, 4);
	is_int(buf_appends(&b, "abcd"), 0, "room again after consume");
	CHECK_STR(&b, "567890abcd", "limit applies to current length");
	buf_free(&b);

	/* Limit crossed by one big append into a fresh buffer. */
	buf_init(&b, 100);
	errno = 0;
	rv = buf_append(&b, big, 101);
	ok(rv == -1 && errno == EMSGSIZE, "101 bytes into max 100: EMSGSIZE");
	ok(b.b_len == 0, "nothing appended");
	/* ...and after a first append has left spare capacity. */
	is_int(buf_append(&b, big, 70), 0, "70 bytes into max 100");
	errno = 0;
	rv = buf_append(&b, big, 50);
	ok(rv == -1 && errno == EMSGSIZE,
	    "70 + 50 bytes into max 100: EMSGSIZE (cap %zu)", b.b_cap);
	is_int(b.b_len, 70, "length unchanged");
	buf_free(&b);
	buf_append(&b, big, 70);
	errno = 0;
	rv = buf_reserve(&b, 31);
	ok(rv == -1 && errno == EMSGSIZE, "reserve past b_max: EMSGSIZE");
	is_int(buf_reserve(&b, 30), 0, "reserve up to b_max");
	errno = 0;
	rv = buf_reserve(&b, SIZE_MAX / 2);
	ok(rv == -1 && errno == EMSGSIZE,
	    "huge reserve with a limit: EMSGSIZE, nothing allocated");
	is_int(b.b_len, 70, "length unchanged");
	buf_free(&b);
}

static void
test_overflow(void)
{
	struct buf b = BUF_INIT;
	size_t cap;
	int rv;

	buf_appends(&b, "12345");
	cap = b.b_cap;
	errno = 0;
	rv = buf_reserve(&b, SIZE_MAX);
	ok(rv == -1 && errno == ENOMEM, "reserve SIZE_MAX: -1/ENOMEM");
	errno = 0;
	rv = buf_reserve(&b, SIZE_MAX - 5);
	ok(rv == -1 && errno == ENOMEM, "reserve SIZE_MAX - len: -1/ENOMEM");
	errno = 0;
	rv = buf_reserve(&b, SIZE_MAX - 4);
	ok(rv == -1 && errno == ENOMEM,
	    "reserve SIZE_MAX - len + 1: -1/ENOMEM");
	errno = 0;
	/* The data pointer must not be read: the size is checked first. */
	rv = buf_append(&b, "x", SIZE_MAX);
	ok(rv == -1 && errno == ENOMEM, "append SIZE_MAX bytes: -1/ENOMEM");
	CHECK_STR(&b, "12345", "contents unchanged after overflow");
	is_int(b.b_cap, cap, "capacity unchanged after overflow");
	buf_free(&b);

	/* On an empty buffer too. */
	errno = 0;
	rv = buf_reserve(&b, SIZE_MAX);
	ok(rv == -1 && errno == ENOMEM, "empty buffer, reserve SIZE_MAX");
	ok(b.b_data == NULL && b.b_len == 0 && b.b_cap == 0,
	    "empty buffer untouched");
	buf_free(&b);
}

int
main(void)
{
	test_init();
	test_growth();
	test_append();
	test_consume();
	test_detach();
	test_limit();
	test_overflow();
	return tap_done();
}
