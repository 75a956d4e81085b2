/*
 * test_url.c: percent-decoding, the initial rest string, its
 * dot-segments and path encoding (lib/url.c).
 *
 * Decoder inputs are copied to the end of an allocation of exactly
 * their length (no NUL after them), so that reading past `len` shows
 * up under ASan or valgrind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "url.h"
#include "tap.h"

/* A readable rendering of n bytes for diagnostics. */
static const char *
show(const char *s, size_t n)
{
	static char out[4][512];
	static int k;
	char *o = out[k++ & 3];
	size_t i, j = 0;

	for (i = 0; i < n && j < sizeof(out[0]) - 5; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			o[j++] = (char)c;
		else
			j += (size_t)snprintf(o + j, 5, "\\x%02x", c);
	}
	o[j] = '\0';
	return o;
}

static const struct {
	int line;
	const char *in;
	int plus;
	const char *out;
	size_t outlen; /* 0: strlen(out) */
} decode_rows[] = {
	{ __LINE__, "", 0, "", 0 },
	{ __LINE__, "plain/path.html", 0, "plain/path.html", 0 },
	{ __LINE__, "%41", 0, "A", 0 },
	{ __LINE__, "x%41y", 0, "xAy", 0 },
	{ __LINE__, "%4a%4A", 0, "JJ", 0 },
	{ __LINE__, "%e2%82%AC", 0, "\xe2\x82\xac", 0 },
	{ __LINE__, "%ff", 0, "\xff", 0 },
	{ __LINE__, "%2f", 0, "/", 0 },
	{ __LINE__, "%", 0, "%", 0 },
	{ __LINE__, "a%", 0, "a%", 0 },
	{ __LINE__, "%4", 0, "%4", 0 },
	{ __LINE__, "ab%4", 0, "ab%4", 0 },
	{ __LINE__, "%zz", 0, "%zz", 0 },
	{ __LINE__, "%G1", 0, "%G1", 0 },
	{ __LINE__, "%1G", 0, "%1G", 0 },
	{ __LINE__, "%%41", 0, "%A", 0 },
	{ __LINE__, "%%", 0, "%%", 0 },
	{ __LINE__, "%2541", 0, "%41", 0 }, /* decoded once only */
	{ __LINE__, "a+b", 0, "a+b", 0 },
	{ __LINE__, "a+b", 1, "a b", 0 },
	{ __LINE__, "++", 1, "  ", 0 },
	{ __LINE__, "%2B", 1, "+", 0 },
	{ __LINE__, "%2b+%20", 1, "+  ", 0 },
	{ __LINE__, "%00", 0, "\0", 1 },
	{ __LINE__, "a%00b", 0, "a\0b", 3 },
	{ __LINE__, "%00%00", 1, "\0\0", 2 },
};

static void
test_decode(void)
{
	size_t i, len, got, wl;
	char *in, *out;

	for (i = 0; i < sizeof(decode_rows) / sizeof(decode_rows[0]); i++) {
		len = strlen(decode_rows[i].in);
		wl = decode_rows[i].outlen ? decode_rows[i].outlen
					   : strlen(decode_rows[i].out);
		in = malloc(len ? len : 1);
		memcpy(in, decode_rows[i].in, len);
		out = malloc(len + 1);
		memset(out, 'X', len + 1);
		got = url_decode(in, len, out, decode_rows[i].plus);
		if (!ok_at(decode_rows[i].line,
			got == wl && !memcmp(out, decode_rows[i].out, wl) &&
			    out[got] == '\0',
			"url_decode(\"%s\", plus=%d)", decode_rows[i].in,
			decode_rows[i].plus))
			tap_diag("got %zu \"%s\", want %zu \"%s\"", got,
			    show(out, got), wl, show(decode_rows[i].out, wl));
		free(in);
		free(out);
	}

	/* len bounds the input: "%41" cut to 2 bytes is a bad escape. */
	in = malloc(2);
	memcpy(in, "%4", 2);
	out = malloc(3);
	got = url_decode(in, 2, out, 0);
	ok(got == 2 && !memcmp(out, "%4", 3), "len cuts an escape short");
	free(in);
	free(out);
}

static void
test_decode_str(void)
{
	size_t n = 99;
	char *s;

	s = url_decode_str("a%20b%2Fc", &n);
	ok(s != NULL && n == 5 && !strcmp(s, "a b/c"), "url_decode_str");
	free(s);
	s = url_decode_str("a+b", &n);
	ok(s != NULL && n == 3 && !strcmp(s, "a+b"),
	    "url_decode_str leaves '+' alone");
	free(s);
	s = url_decode_str("x%00y", &n);
	ok(s != NULL && n == 3 && !memcmp(s, "x\0y", 4),
	    "url_decode_str reports the length past an embedded NUL");
	free(s);
	s = url_decode_str("", NULL);
	ok(s != NULL && *s == '\0', "url_decode_str(\"\") with lenp NULL");
	free(s);
}

static void
test_has_nul(void)
{
	static const struct {
		int line;
		const char *in;
		int want;
	} rows[] = {
		{ __LINE__, "", 0 },
		{ __LINE__, "abc", 0 },
		{ __LINE__, "%00", 1 },
		{ __LINE__, "a%00b", 1 },
		{ __LINE__, "%000", 1 },
		{ __LINE__, "/a/b%00.html", 1 },
		{ __LINE__, "%0", 0 },
		{ __LINE__, "%0g", 0 },
		{ __LINE__, "%2500", 0 },
		{ __LINE__, "%01", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		is_int_at(rows[i].line, !!url_has_nul(rows[i].in), rows[i].want,
		    rows[i].in);
}

static void
test_initial_rest(void)
{
	static const struct {
		int line;
		const char *url, *rest;
	} rows[] = {
		{ __LINE__, "/a/b/c?d=e", "a/b/c" },
		{ __LINE__, "/", "" },
		{ __LINE__, "/?x", "" },
		{ __LINE__, "/?", "" },
		{ __LINE__, "/a%2fb", "a%2fb" },
		{ __LINE__, "/a%3fb?c", "a%3fb" },
		{ __LINE__, "/a/b/", "a/b/" },
		{ __LINE__, "//x", "/x" },
		{ __LINE__, "/a?b?c", "a" },
		{ __LINE__, "/a#frag", "a#frag" },
		{ __LINE__, "", "" },
	};
	size_t i;
	char *r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = url_initial_rest(rows[i].url);
		is_str_at(rows[i].line, r, rows[i].rest, rows[i].url);
		free(r);
	}
}

/*
 * url_resolve_rest().  Rows marked 5.4.1, 5.4.2 and 5.2.4 are the
 * examples of RFC 3986 whose reference has dot-segments, each as the
 * rest string of the path that merging it with the base
 * "http://a/b/c/d;p?q" gives (the query is not part of a rest string);
 * where RFC 3986 drops a ".." above the root, the answer is
 * URL_DOTS_ABOVE (400) instead.
 */
static void
test_resolve_rest(void)
{
	static const struct {
		int line;
		const char *in, *out; /* out NULL: error rv */
		int rv;
	} rows[] = {
		/* 5.4.1 */
		{ __LINE__, "b/c/.", "b/c/", 0 },    /* "." */
		{ __LINE__, "b/c/./", "b/c/", 0 },   /* "./" */
		{ __LINE__, "b/c/..", "b/", 0 },     /* ".." */
		{ __LINE__, "b/c/../", "b/", 0 },    /* "../" */
		{ __LINE__, "b/c/../g", "b/g", 0 },  /* "../g" */
		{ __LINE__, "b/c/../..", "", 0 },    /* "../.." */
		{ __LINE__, "b/c/../../", "", 0 },   /* "../../" */
		{ __LINE__, "b/c/../../g", "g", 0 }, /* "../../g" */
		{ __LINE__, "b/c/./g", "b/c/g", 0 }, /* "./g" */
		/* 5.4.2 */
		{ __LINE__, "b/c/../../../g", NULL, URL_DOTS_ABOVE },
		{ __LINE__, "b/c/../../../../g", NULL, URL_DOTS_ABOVE },
		{ __LINE__, "./g", "g", 0 },		    /* "/./g" */
		{ __LINE__, "../g", NULL, URL_DOTS_ABOVE }, /* "/../g" */
		{ __LINE__, "b/c/g.", "b/c/g.", 0 },
		{ __LINE__, "b/c/.g", "b/c/.g", 0 },
		{ __LINE__, "b/c/g..", "b/c/g..", 0 },
		{ __LINE__, "b/c/..g", "b/c/..g", 0 },
		{ __LINE__, "b/c/./../g", "b/g", 0 },
		{ __LINE__, "b/c/./g/.", "b/c/g/", 0 },
		{ __LINE__, "b/c/g/./h", "b/c/g/h", 0 },
		{ __LINE__, "b/c/g/../h", "b/c/h", 0 },
		{ __LINE__, "b/c/g;x=1/./y", "b/c/g;x=1/y", 0 },
		{ __LINE__, "b/c/g;x=1/../y", "b/c/y", 0 },
		/* 5.2.4 */
		{ __LINE__, "a/b/c/./../../g", "a/g", 0 },
		{ __LINE__, "mid/content=5/../6", "mid/6", 0 },
		/* Plain. */
		{ __LINE__, "", "", 0 },
		{ __LINE__, "a/b/c", "a/b/c", 0 },
		{ __LINE__, "a/b/", "a/b/", 0 },
		{ __LINE__, ".", "", 0 },
		{ __LINE__, "..", NULL, URL_DOTS_ABOVE },
		{ __LINE__, "a/..", "", 0 },
		{ __LINE__, "a/../..", NULL, URL_DOTS_ABOVE },
		{ __LINE__, "a/../../b", NULL, URL_DOTS_ABOVE },
		{ __LINE__, "a//..", "a/", 0 },
		{ __LINE__, "/..", "", 0 }, /* "//..": one empty segment */
		{ __LINE__, "a/./././b", "a/b", 0 },
		{ __LINE__, "...", "...", 0 },
		{ __LINE__, "a/.../b", "a/.../b", 0 },
		{ __LINE__, ".hidden/x", ".hidden/x", 0 },
		{ __LINE__, "cgi/env.cgi/../../../etc/passwd", NULL,
		    URL_DOTS_ABOVE },
		{ __LINE__, "cgi/env.cgi/../../etc/passwd", "etc/passwd", 0 },
		{ __LINE__, "cgi/x/../env.cgi/a", "cgi/env.cgi/a", 0 },
		/* Percent-encoded dots. */
		{ __LINE__, "a/%2e/b", "a/b", 0 },
		{ __LINE__, "a/%2E/b", "a/b", 0 },
		{ __LINE__, "a/b/%2e%2e/c", "a/c", 0 },
		{ __LINE__, "a/b/%2E%2E/c", "a/c", 0 },
		{ __LINE__, "a/b/.%2e/c", "a/c", 0 },
		{ __LINE__, "a/b/%2e./c", "a/c", 0 },
		{ __LINE__, "a/b/.%2E", "a/", 0 },
		{ __LINE__, "%2e%2e/etc/passwd", NULL, URL_DOTS_ABOVE },
		{ __LINE__, "x/%2e%2e/%2e%2e/etc", NULL, URL_DOTS_ABOVE },
		{ __LINE__, "a/%2e%2e%2e/b", "a/%2e%2e%2e/b", 0 },
		{ __LINE__, "a/%2e%2/b", "a/%2e%2/b", 0 }, /* bad escape */
		{ __LINE__, "a/%2ex/b", "a/%2ex/b", 0 },
		{ __LINE__, "a/%252e%252e/b", "a/%252e%252e/b", 0 },
		{ __LINE__, "a/%2e%2E%2e/../b", "a/b", 0 },
		/* Encoded slashes: data, but never around a dot-segment. */
		{ __LINE__, "a%2fb/c", "a%2fb/c", 0 },
		{ __LINE__, "a%2Fb/../c", "c", 0 },
		{ __LINE__, "%2f", "%2f", 0 },
		{ __LINE__, "a/..%2f..%2fetc", NULL, URL_DOTS_SLASH },
		{ __LINE__, "a/..%2F", NULL, URL_DOTS_SLASH },
		{ __LINE__, "a%2f..%2fb", NULL, URL_DOTS_SLASH },
		{ __LINE__, "a%2f..", NULL, URL_DOTS_SLASH },
		{ __LINE__, "a%2f.%2fb", NULL, URL_DOTS_SLASH },
		{ __LINE__, "a%2f%2e%2e%2fb", NULL, URL_DOTS_SLASH },
		{ __LINE__, "a%2f.x%2fb", "a%2f.x%2fb", 0 },
		{ __LINE__, "a%2f%2fb", "a%2f%2fb", 0 },
		{ __LINE__, "a%252f..%252fb", "a%252f..%252fb", 0 },
		/* A NUL ends a decoded C string: "..%00" would be "..". */
		{ __LINE__, "a/..%00", NULL, URL_DOTS_SLASH },
		{ __LINE__, "a/..%00/b", NULL, URL_DOTS_SLASH },
		{ __LINE__, "a/.%00x", NULL, URL_DOTS_SLASH },
		{ __LINE__, "a%00/../b", "b", 0 },
		{ __LINE__, "a%00b/c", "a%00b/c", 0 },
		{ __LINE__, "%00", "%00", 0 },
	};
	char buf[128];
	size_t i;
	int rv;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", rows[i].in);
		rv = url_resolve_rest(buf);
		if (rows[i].out == NULL)
			is_int_at(rows[i].line, rv, rows[i].rv, rows[i].in);
		else if (rv != 0)
			is_int_at(rows[i].line, rv, 0, rows[i].in);
		else
			is_str_at(rows[i].line, buf, rows[i].out, rows[i].in);
	}
}

static void
test_encode_path(void)
{
	static const struct {
		int line;
		const char *in, *out;
	} rows[] = {
		{ __LINE__, "", "" },
		{ __LINE__, "/plain/path.html", "/plain/path.html" },
		{ __LINE__, "/a b", "/a%20b" },
		{ __LINE__, "/q?x#y", "/q%3Fx%23y" },
		{ __LINE__, "/100%", "/100%25" },
		{ __LINE__, "/\xc3\xbc", "/%C3%BC" },
		{ __LINE__, "\x01\x1f\x7f\x80\xff", "%01%1F%7F%80%FF" },
		{ __LINE__, "\"<>\\^`{|}", "%22%3C%3E%5C%5E%60%7B%7C%7D" },
		{ __LINE__, "AZaz09-._~!$&'()*+,;=:@/",
		    "AZaz09-._~!$&'()*+,;=:@/" },
	};
	struct buf b = BUF_INIT;
	char all[256], *dec;
	size_t i, n;
	int bad = 0;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		buf_clear(&b);
		if (url_encode_path(&b, rows[i].in) == -1)
			bad++;
		is_str_at(rows[i].line, b.b_len ? b.b_data : "", rows[i].out,
		    rows[i].out);
	}
	is_int(bad, 0, "url_encode_path never failed");

	buf_clear(&b);
	buf_appends(&b, "Location: ");
	url_encode_path(&b, "/x y");
	is_str(b.b_data, "Location: /x%20y", "url_encode_path appends");
	buf_clear(&b);
	url_encode(&b, "a/b c%:~.\n\xe9", "-._~");
	is_str(b.b_data, "a%2Fb%20c%25%3A~.%0A%E9",
	    "url_encode keeps letters, digits and the given set only");

	/* Every byte survives encode + decode, and the encoding is plain
	 * printable ASCII without space, '?', '#' or '%' other than escapes. */
	for (i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	all[255] = '\0';
	buf_clear(&b);
	url_encode_path(&b, all);
	for (i = 0, n = 0; i < b.b_len; i++) {
		unsigned char c = (unsigned char)b.b_data[i];

		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
			n++;
	}
	is_int(n, 0, "encoding of bytes 1..255 is safe ASCII");
	dec = malloc(b.b_len + 1);
	n = url_decode(b.b_data, b.b_len, dec, 0);
	ok(n == 255 && !memcmp(dec, all, 255),
	    "decode(encode(bytes 1..255)) is the identity");
	free(dec);
	buf_free(&b);
}

int
main(void)
{
	test_decode();
	test_decode_str();
	test_has_nul();
	test_initial_rest();
	test_resolve_rest();
	test_encode_path();
	return tap_done();
}
