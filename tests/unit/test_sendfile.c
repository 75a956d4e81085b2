/*
 * test_sendfile.c: sendfile's Range and ETag parsers (sendfile/serve.c):
 * one table row each, every input copied to the very end of a buffer of
 * its own size so that a read past its NUL is a sanitizer's or
 * valgrind's error.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "serve.h"
#include "tap.h"

/* s copied into a buffer that ends right after its NUL. */
static char *
at_end(const char *s)
{
	size_t n = strlen(s) + 1;
	char *b = malloc(n);

	if (b == NULL)
		abort();
	memcpy(b, s, n);
	return b;
}

static const struct {
	int line;
	const char *v;
	off_t size;
	int rv;
	off_t off, len;
} ranges[] = {
	{ __LINE__, "bytes=0-0", 10, 1, 0, 1 },
	{ __LINE__, "bytes=0-9", 10, 1, 0, 10 },
	{ __LINE__, "bytes=2-", 10, 1, 2, 8 },
	{ __LINE__, "bytes=2-100", 10, 1, 2, 8 },
	{ __LINE__, "bytes=-3", 10, 1, 7, 3 },
	{ __LINE__, "bytes=-30", 10, 1, 0, 10 },
	{ __LINE__, "BYTES=1-2", 10, 1, 1, 2 },
	{ __LINE__, "bytes= 1-2", 10, 1, 1, 2 },
	{ __LINE__, "bytes=9-9", 10, 1, 9, 1 },
	{ __LINE__, "bytes=10-", 10, -1, 0, 0 },
	{ __LINE__, "bytes=10-20", 10, -1, 0, 0 },
	{ __LINE__, "bytes=-0", 10, -1, 0, 0 },
	{ __LINE__, "bytes=-5", 0, -1, 0, 0 },
	{ __LINE__, "bytes=0-", 0, -1, 0, 0 },
	{ __LINE__, "bytes=5-2", 10, 0, 0, 0 },
	{ __LINE__, "bytes=0-1,3-4", 10, 0, 0, 0 },
	{ __LINE__, "bytes=a-1", 10, 0, 0, 0 },
	{ __LINE__, "bytes=1-b", 10, 0, 0, 0 },
	{ __LINE__, "bytes=-", 10, 0, 0, 0 },
	{ __LINE__, "bytes=", 10, 0, 0, 0 },
	{ __LINE__, "bytes=1", 10, 0, 0, 0 },
	{ __LINE__, "items=0-1", 10, 0, 0, 0 },
	{ __LINE__, "", 10, 0, 0, 0 },
	{ __LINE__, "bytes=+1-2", 10, 0, 0, 0 },
	{ __LINE__, "bytes=1 -2", 10, 0, 0, 0 },
	{ __LINE__, "bytes=0000000000000000001-2", 10, 0, 0, 0 },
	{ __LINE__, "bytes=999999999999999999-", 10, -1, 0, 0 },
	{ __LINE__, "bytes=0-999999999999999999", 10, 1, 0, 10 },
};

static const struct {
	int line;
	const char *list, *etag;
	int weak, want;
} etags[] = {
	{ __LINE__, "*", "\"a\"", 0, 1 },
	{ __LINE__, "\"a\"", "\"a\"", 0, 1 },
	{ __LINE__, "\"a\"", "\"b\"", 0, 0 },
	{ __LINE__, "\"b\", \"a\"", "\"a\"", 0, 1 },
	{ __LINE__, "\"b\",\"a\"", "\"a\"", 0, 1 },
	{ __LINE__, " \"a\" ,", "\"a\"", 0, 1 },
	{ __LINE__, "\t\"a\"\t", "\"a\"", 0, 1 },
	{ __LINE__, "W/\"a\"", "\"a\"", 0, 0 },
	{ __LINE__, "W/\"a\"", "\"a\"", 1, 1 },
	{ __LINE__, "W/\"b\", W/\"a\"", "\"a\"", 1, 1 },
	{ __LINE__, "W/\"b\", \"a\"", "\"a\"", 0, 1 },
	{ __LINE__, "\"aa\"", "\"a\"", 0, 0 },
	{ __LINE__, "\"a", "\"a\"", 0, 0 },
	{ __LINE__, "", "\"a\"", 0, 0 },
	{ __LINE__, ",,,", "\"a\"", 1, 0 },
	{ __LINE__, "W/", "\"a\"", 1, 0 },
	{ __LINE__, "**", "\"a\"", 0, 0 },
};

int
main(void)
{
	off_t off, len;
	size_t i;
	char *v, *e;
	int rv;

	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		v = at_end(ranges[i].v);
		off = len = -7;
		rv = range_parse(v, ranges[i].size, &off, &len);
		ok_at(ranges[i].line,
		    rv == ranges[i].rv &&
			(rv != 1 ||
			    (off == ranges[i].off && len == ranges[i].len)),
		    "range_parse(\"%s\", %lld): %d %lld+%lld", ranges[i].v,
		    (long long)ranges[i].size, rv, (long long)off,
		    (long long)len);
		free(v);
	}
	for (i = 0; i < sizeof(etags) / sizeof(etags[0]); i++) {
		v = at_end(etags[i].list);
		e = at_end(etags[i].etag);
		ok_at(etags[i].line,
		    etag_match(v, e, etags[i].weak) == etags[i].want,
		    "etag_match(%s, %s, %s)", etags[i].list, etags[i].etag,
		    etags[i].weak ? "weak" : "strong");
		free(v);
		free(e);
	}
	return tap_done();
}
