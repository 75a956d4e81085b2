/*
 * test_http.c: HTTP heads, framing, the writers and the de-chunker
 * (lib/http.c, lib/chunk.c).
 *
 * Every parser input is one table row carrying its __LINE__ and is run
 * twice: (a) whole, copied to the end of an allocation of exactly its
 * length so that an over-read is an ASan or valgrind error, and (b) as
 * every prefix, each in its own exact allocation.  A prefix must say
 * "need more" (0) until the head is complete; a row whose answer is an
 * error may show it earlier, but once shown it must stay.
 *
 * Parsed requests and responses are compared as a text dump:
 * "METHOD URL VERSION [rest]" or "STATUS [reason]", then one
 * "name: value" line per header.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ashlimits.h"
#include "buf.h"
#include "http.h"
#include "req.h"
#include "tap.h"

#define OK   1 /* want: success, head length = input - tail */
#define MORE 1 /* chunk rows: not done at the end of the input */

/* A printable rendering of n bytes for test names (rotating buffers). */
static const char *
show(const char *s, size_t n)
{
	static char out[4][120];
	static int k;
	char *o = out[k++ & 3];
	size_t i, j = 0;

	for (i = 0; i < n && j < sizeof(out[0]) - 8; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			j += (size_t)snprintf(o + j, 3, "\\r");
		else if (c == '\n')
			j += (size_t)snprintf(o + j, 3, "\\n");
		else if (c >= 0x20 && c < 0x7f && c != '\\')
			o[j++] = (char)c;
		else
			j += (size_t)snprintf(o + j, 5, "\\x%02x", c);
	}
	if (i < n)
		j += (size_t)snprintf(o + j, 4, "...");
	o[j] = '\0';
	return o;
}

/* A copy of in[0..len) at the very end of its own allocation. */
static char *
exact(const char *in, size_t len)
{
	char *p;

	if ((p = malloc(len ? len : 1)) == NULL) {
		perror("malloc");
		exit(2);
	}
	memcpy(p, in, len);
	return p;
}

static char *
dump_req(const struct req *r)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_printf(&b, "%s %s %s [%s]\n", r->r_method, r->r_url, r->r_version,
	    r->r_rest);
	for (i = 0; i < r->r_nhdrs; i++)
		buf_printf(&b, "%s: %s\n", r->r_hdrs[i].h_name,
		    r->r_hdrs[i].h_value);
	return buf_detach(&b, NULL);
}

static char *
dump_resp(const struct http_resp *r)
{
	struct buf b = BUF_INIT;
	size_t i;

	buf_printf(&b, "%d [%s]\n", r->hr_status, r->hr_reason);
	for (i = 0; i < r->hr_nhdrs; i++)
		buf_printf(&b, "%s: %s\n", r->hr_hdrs[i].h_name,
		    r->hr_hdrs[i].h_value);
	return buf_detach(&b, NULL);
}

/*
 * Is `got` right for a prefix whose full input answers `want`?  A
 * success or need-more row must give exactly `want` (the caller passes
 * 0 for prefixes shorter than the head); an error row may say need more
 * until the error shows, and the same error from then on (*seen_err).
 */
static int
prefix_ok(int got, int want, int err_row, int *seen_err)
{
	if (err_row) {
		if (*seen_err)
			return got == want;
		if (got == want)
			*seen_err = 1;
		return got == 0 || got == want;
	}
	return got == want;
}

/* Request heads. */

static struct http_limits deflim, small; /* small: 32, 128, 3 */

enum { DEF, SMALL };

#define A18  "aaaaaaaaaaaaaaaaaa"
#define V16  "vvvvvvvvvvvvvvvv"
#define V96  V16 V16 V16 V16 V16 V16
#define V120 V96 V16 "vvvvvvvv"

#define RQ(in, lim, want, tail, dump) \
	{ \
		__LINE__, in, sizeof(in) - 1, lim, want, tail, dump \
	}
#define RQ_OK(in, dump)	 RQ(in, DEF, OK, 0, dump)
#define RQ_ERR(in, want) RQ(in, DEF, want, 0, NULL)

static const struct rqrow {
	int line;
	const char *in;
	size_t len;
	int lim;
	int want;
	size_t tail;
	const char *dump;
} rq_rows[] = {
	RQ_OK("GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	    "GET / HTTP/1.1 []\nHost: a\n"),
	RQ_OK("GET /a/b?c=d HTTP/1.0\r\n\r\n", "GET /a/b?c=d HTTP/1.0 [a/b]\n"),
	RQ_OK("GET /%7e/a%20b?x HTTP/1.1\r\n\r\n",
	    "GET /%7e/a%20b?x HTTP/1.1 [%7e/a%20b]\n"),
	/* Leading empty lines are ignored (and count in the head length). */
	RQ_OK("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	    "GET / HTTP/1.1 []\nHost: a\n"),
	RQ_OK("\nGET /x HTTP/1.1\r\n\r\n", "GET /x HTTP/1.1 [x]\n"),
	/* LF-only and mixed line ends. */
	RQ_OK("GET /x HTTP/1.1\nHost: a\nX: y\n\n",
	    "GET /x HTTP/1.1 [x]\nHost: a\nX: y\n"),
	RQ_OK("GET /x HTTP/1.1\r\nHost: a\n\r\n",
	    "GET /x HTTP/1.1 [x]\nHost: a\n"),
	/* Absolute-form and asterisk-form targets. */
	RQ_OK("GET http://example.com/a/b?q HTTP/1.1\r\nHost: example.com\r\n"
	      "\r\n",
	    "GET http://example.com/a/b?q HTTP/1.1 [a/b]\n"
	    "Host: example.com\n"),
	RQ_OK("GET HTTP://Example.COM HTTP/1.1\r\nHost: a\r\n\r\n",
	    "GET HTTP://Example.COM HTTP/1.1 []\nHost: a\n"),
	RQ_OK("GET https://h:8080/?x HTTP/1.1\r\n\r\n",
	    "GET https://h:8080/?x HTTP/1.1 []\n"),
	RQ_OK("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	    "OPTIONS * HTTP/1.1 []\nHost: a\n"),
	RQ_OK("GET http://h?x/y HTTP/1.1\r\n\r\n",
	    "GET http://h?x/y HTTP/1.1 []\n"),
	RQ_OK("GET http://h//a?/b HTTP/1.1\r\n\r\n",
	    "GET http://h//a?/b HTTP/1.1 [/a]\n"),
	RQ_OK("GET /a?b/c HTTP/1.7\r\nA: b\r\n\r\n",
	    "GET /a?b/c HTTP/1.1 [a]\nA: b\n"),
	/* Any token is a method; tchars in names. */
	RQ_OK("X!#$%&'*+-.^_`|~9 / HTTP/1.1\r\nA-b_C.d!#: v\r\n\r\n",
	    "X!#$%&'*+-.^_`|~9 / HTTP/1.1 []\nA-b_C.d!#: v\n"),
	/* Values: tab inside, whitespace trimmed, empty, obs-text. */
	RQ_OK("GET / HTTP/1.1\r\nX: a\tb\r\n\r\n",
	    "GET / HTTP/1.1 []\nX: a\tb\n"),
	RQ_OK("GET / HTTP/1.1\r\nX: \t a b \t \r\nY:\r\nZ:z\r\n\r\n",
	    "GET / HTTP/1.1 []\nX: a b\nY: \nZ: z\n"),
	RQ_OK("GET / HTTP/1.1\r\nX: caf\xc3\xa9 \x80\xff\r\n\r\n",
	    "GET / HTTP/1.1 []\nX: caf\xc3\xa9 \x80\xff\n"),
	/* Order and duplicates kept. */
	RQ_OK("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\na: 3\r\n\r\n",
	    "GET / HTTP/1.1 []\nA: 1\nB: 2\na: 3\n"),
	/* Bytes after the head are not part of it. */
	RQ("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", DEF,
	    OK, 3, "POST /up HTTP/1.1 [up]\nHost: a\nContent-Length: 3\n"),
	RQ("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n\r\n", DEF, OK,
	    18, "GET / HTTP/1.1 []\nHost: a\n"),

	/* Need more. */
	RQ_ERR("", 0),
	RQ_ERR("\r\n", 0),
	RQ_ERR("\r", 0),
	RQ_ERR("GET / HTTP/1.1", 0),
	RQ_ERR("GET / HTTP/1.1\r\n", 0),
	RQ_ERR("GET / HTTP/1.1\r\nHost: a\r\n", 0),
	RQ_ERR("GET / HTTP/1.1\r\nHost: a\r\n\r", 0),

	/* Request line. */
	RQ_ERR("G(T / HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GE\x01T / HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET\t/ HTTP/1.1\r\n\r\n", -400),
	RQ_ERR(" GET / HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET  / HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET /  HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1 \r\n\r\n", -400),
	RQ_ERR("GET /\r\n\r\n", -400),
	RQ_ERR("GET / \r\n\r\n", -400),
	RQ_ERR("GET\r\n\r\n", -400),
	RQ_ERR("GET a HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET /a\x7f HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET /a\x01 HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET /\xc3\xa9 HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET /\0 HTTP/1.1\r\n\r\n", -400),
	/* "*" is the OPTIONS-only form (RFC 9112 3.2.4; http.h). */
	RQ_ERR("GET * HTTP/1.1\r\nHost: a\r\n\r\n", -400),
	/* Bytes no URI holds; absolute-form without a host, or with a
	 * user (RFC 9110 4.2). */
	RQ_ERR("GET /a#f HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET /a\\b HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET /<x> HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET http:///a HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET http://u:p@h/ HTTP/1.1\r\n\r\n", -400),
	/* Versions. */
	/* A later 1.x is served as 1.1 (RFC 9110 2.5). */
	RQ_OK("GET / HTTP/1.2\r\n\r\n", "GET / HTTP/1.1 []\n"),
	RQ_ERR("GET / HTTP/2.0\r\n\r\n", -505),
	RQ_ERR("GET / HTTP/0.9\r\n\r\n", -505),
	RQ_ERR("GET / HTTP/1.x\r\n\r\n", -400),
	RQ_ERR("GET / http/1.1\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/11\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.10\r\n\r\n", -400),
	/* Header fields. */
	RQ_ERR("GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\n: a\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nHost a\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nX\0: a\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\n Host: a\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nX: a\x1bz\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n", -400),
	/* Bare CR, anywhere. */
	RQ_ERR("\rGET / HTTP/1.1\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\rHost: a\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nX: a\r\r\n\r\n", -400),
	RQ_ERR("GET / HTTP/1.1\r\nX: a\r\n\r\r\n", -400),

	/* Limits (small: request line 32, head 128, 3 headers). */
	RQ("GET /" A18 " HTTP/1.1\r\n\r\n", SMALL, OK, 0,
	    "GET /" A18 " HTTP/1.1 [" A18 "]\n"),
	RQ("GET /" A18 " HTTP/1.1\n\n", SMALL, OK, 0,
	    "GET /" A18 " HTTP/1.1 [" A18 "]\n"),
	RQ("GET /" A18 " HTTP/1.1\r", SMALL, 0, 0, NULL),
	RQ("GET /" A18 "a HTTP/1.1\r\n\r\n", SMALL, -414, 0, NULL),
	RQ("GET /" A18 "a HTTP/1.1", SMALL, -414, 0, NULL),
	RQ("GET /" A18 A18 A18, SMALL, -414, 0, NULL),
	RQ("GET / HTTP/1.1\r\nHost: a\r\nX: " V96 "\r\n\r\n", SMALL, OK, 0,
	    "GET / HTTP/1.1 []\nHost: a\nX: " V96 "\n"),
	RQ("GET / HTTP/1.1\r\nHost: a\r\nX: v" V96 "\r\n\r\n", SMALL, -431, 0,
	    NULL),
	RQ("GET / HTTP/1.1\r\nX: " V120, SMALL, -431, 0, NULL),
	RQ("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", SMALL, OK, 0,
	    "GET / HTTP/1.1 []\nA: 1\nB: 2\nC: 3\n"),
	RQ("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", SMALL,
	    -431, 0, NULL),
};

static int
parse_req(const char *in, size_t len, const struct http_limits *l, char **dumpp)
{
	struct req *r = NULL;
	char *p = exact(in, len);
	int rv;

	rv = http_parse_request(p, len, l, &r);
	free(p);
	*dumpp = r ? dump_req(r) : NULL;
	req_free(r);
	return rv;
}

/* A parsed request is one block with room for the headers htparser
 * adds; edits beyond that room allocate as for any request. */
static void
test_request_edit(void)
{
	static const char head[] = "GET /a/b?q HTTP/1.1\r\nHost: h\r\n"
				   "Accept: */*\r\n\r\n";
	struct http_limits l;
	struct req *r;
	char name[32];
	int i, inblock = 1;

	http_limits_default(&l);
	is_int(http_parse_request(head, sizeof(head) - 1, &l, &r),
	    (int)sizeof(head) - 1, "parse");
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "X-Ash-Header-%d", i);
		is_int(req_add_header(r, name, "127.0.0.1"), 0, "add one");
		inblock &= r->r_hdrs[r->r_nhdrs - 1].h_name >= r->r_blk &&
		    r->r_hdrs[r->r_nhdrs - 1].h_value < r->r_blkend;
	}
	ok(inblock, "six added headers fit in the parsed block's room");
	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "X-More-%d", i);
		is_int(req_add_header(r, name, name), 0, "add more");
	}
	is_int(req_set_rest(r, "b"), 0, "set the rest");
	is_int(req_remove_prefix(r, "X-Ash-"), 6, "remove the first six");
	is_int(req_set_header(r, "Host", "other"), 0, "set a parsed header");
	ok(r->r_nhdrs == 32 &&
		!strcmp(req_header(r, "x-more-29"), "X-More-29") &&
		!strcmp(req_header(r, "accept"), "*/*") &&
		!strcmp(r->r_rest, "b"),
	    "the edited request");
	req_free(r);
}

static void
test_request(void)
{
	const struct rqrow *row;
	const struct http_limits *l;
	size_t i, k, hl;
	int rv, want, seen, bad;
	char *d;

	http_limits_default(&deflim);
	ok(deflim.hl_reqline == ASH_REQLINE_MAX &&
		deflim.hl_head == ASH_HEAD_MAX &&
		deflim.hl_headers == ASH_HEADERS_MAX,
	    "http_limits_default gives the ashlimits.h values");
	small.hl_reqline = 32;
	small.hl_head = 128;
	small.hl_headers = 3;

	for (i = 0; i < sizeof(rq_rows) / sizeof(rq_rows[0]); i++) {
		row = &rq_rows[i];
		l = row->lim == SMALL ? &small : &deflim;
		hl = row->len - row->tail;
		want = row->want == OK ? (int)hl : row->want;

		rv = parse_req(row->in, row->len, l, &d);
		is_int_at(row->line, rv, want, show(row->in, row->len));
		if (row->want == OK)
			is_str_at(row->line, d, row->dump,
			    "  parsed as expected");
		else if (d != NULL)
			ok_at(row->line, 0, "  no request unless success");
		free(d);

		for (k = 0, seen = 0, bad = -1; k < row->len && bad < 0; k++) {
			rv = parse_req(row->in, k, l, &d);
			if (!prefix_ok(rv,
				k >= hl && row->want == OK ? want
				    : row->want == OK	   ? 0
							   : want,
				row->want < 0, &seen))
				bad = (int)k;
			free(d);
		}
		if (!ok_at(row->line, bad < 0, "  every prefix (%zu bytes max)",
			row->len)) {
			rv = parse_req(row->in, (size_t)bad, l, &d);
			tap_diag("prefix of %d bytes \"%s\" gave %d", bad,
			    show(row->in, (size_t)bad), rv);
			free(d);
		}
	}
}

/* Framing. */

#define FR(v, h, want, ch, len, cl, ex) \
	{ \
		__LINE__, "HTTP/1." #v, h, want, ch, len, cl, ex \
	}

static const struct frrow {
	int line;
	const char *version;
	const char *hdrs; /* "Name: value\n"... */
	int want;
	int chunked;
	long long length;
	int close;
	int expect;
} fr_rows[] = {
	FR(1, "Host: a\n", 0, 0, -1, 0, 0),
	FR(1, "Host: a\nContent-Length: 5\n", 0, 0, 5, 0, 0),
	FR(1, "Host: a\ncontent-length: 0\n", 0, 0, 0, 0, 0),
	FR(1, "Host: a\nContent-Length: 999999999999999999\n", 0, 0,
	    999999999999999999LL, 0, 0),
	FR(1, "Host: a\nContent-Length: 5, 5\n", 0, 0, 5, 0, 0),
	FR(1, "Host: a\nContent-Length: 5\nContent-Length: 5\n", 0, 0, 5, 0, 0),
	FR(1, "Host: a\nContent-Length: 5\nContent-Length: 6\n", 400, 0, 0, 0,
	    0),
	FR(1, "Host: a\nContent-Length: 5, 6\n", 400, 0, 0, 0, 0),
	FR(1, "Host: a\nContent-Length: +5\n", 400, 0, 0, 0, 0),
	FR(1, "Host: a\nContent-Length: -1\n", 400, 0, 0, 0, 0),
	FR(1, "Host: a\nContent-Length: 0x5\n", 400, 0, 0, 0, 0),
	FR(1, "Host: a\nContent-Length:\n", 400, 0, 0, 0, 0),
	FR(1, "Host: a\nContent-Length: 5 5\n", 400, 0, 0, 0, 0),
	FR(1, "Host: a\nContent-Length: 5,\n", 400, 0, 0, 0, 0),
	FR(1, "Host: a\nContent-Length: ,5\n", 400, 0, 0, 0, 0),
	/* Empty list elements are ignored in Transfer-Encoding and Expect. */
	FR(1, "Host: a\nTransfer-Encoding: , chunked\n", 0, 1, -1, 0, 0),
	FR(1, "Host: a\nExpect:\n", 0, 0, -1, 0, 0),
	/* Host values (RFC 9112 3.2). */
	FR(1, "Host: a b\n", 400, 0, 0, 0, 0),
	FR(1, "Host: a/b\n", 400, 0, 0, 0, 0),
	FR(1, "Host: u@x\n", 400, 0, 0, 0, 0),
	FR(1, "Host: x:abc\n", 400, 0, 0, 0, 0),
	FR(1, "Host: [::1]:8080\n", 0, 0, -1, 0, 0),
	FR(1, "Host: example.com:80\n", 0, 0, -1, 0, 0),
	FR(1, "Host:\n", 0, 0, -1, 0, 0),
	FR(1, "Host: a\nContent-Length: 1234567890123456789\n", 400, 0, 0, 0,
	    0),
	FR(1, "Host: a\nTransfer-Encoding: chunked\n", 0, 1, -1, 0, 0),
	FR(1, "Host: a\nTransfer-Encoding: Chunked\n", 0, 1, -1, 0, 0),
	FR(1, "Host: a\ntransfer-encoding: CHUNKED\n", 0, 1, -1, 0, 0),
	FR(1, "Host: a\nTransfer-Encoding: chunked\nContent-Length: 5\n", 400,
	    0, 0, 0, 0),
	FR(1, "Host: a\nContent-Length: 5\nTransfer-Encoding: chunked\n", 400,
	    0, 0, 0, 0),
	FR(1, "Host: a\nTransfer-Encoding: gzip, chunked\n", 501, 0, 0, 0, 0),
	FR(1, "Host: a\nTransfer-Encoding: gzip\nTransfer-Encoding: chunked\n",
	    501, 0, 0, 0, 0),
	FR(1, "Host: a\nTransfer-Encoding: chunked, gzip\n", 400, 0, 0, 0, 0),
	FR(1, "Host: a\nTransfer-Encoding: gzip\n", 400, 0, 0, 0, 0),
	FR(1,
	    "Host: a\nTransfer-Encoding: chunked\n"
	    "Transfer-Encoding: chunked\n",
	    400, 0, 0, 0, 0),
	FR(1, "Host: a\nTransfer-Encoding: chunked, chunked\n", 400, 0, 0, 0,
	    0),
	FR(1, "Host: a\nTransfer-Encoding:\n", 400, 0, 0, 0, 0),
	FR(0, "Transfer-Encoding: chunked\n", 400, 0, 0, 0, 0),
	/* Host. */
	FR(1, "", 400, 0, 0, 0, 0),
	FR(1, "Content-Length: 5\n", 400, 0, 0, 0, 0),
	FR(1, "Host: a\nhost: b\n", 400, 0, 0, 0, 0),
	FR(0, "Host: a\nHost: b\n", 400, 0, 0, 0, 0),
	FR(0, "", 0, 0, -1, 1, 0),
	FR(0, "Host: a\n", 0, 0, -1, 1, 0),
	/* Connection. */
	FR(1, "Host: a\nConnection: close\n", 0, 0, -1, 1, 0),
	FR(1, "Host: a\nConnection: CLOSE\n", 0, 0, -1, 1, 0),
	FR(1, "Host: a\nConnection: keep-alive\n", 0, 0, -1, 0, 0),
	FR(1, "Host: a\nConnection: Upgrade, close\n", 0, 0, -1, 1, 0),
	FR(1, "Host: a\nConnection: closed\n", 0, 0, -1, 0, 0),
	FR(1, "Host: a\nConnection: upgrade\nConnection: close\n", 0, 0, -1, 1,
	    0),
	FR(0, "Connection: keep-alive\n", 0, 0, -1, 0, 0),
	FR(0, "Connection: Keep-Alive, foo\n", 0, 0, -1, 0, 0),
	FR(0, "Connection: close\n", 0, 0, -1, 1, 0),
	/* Expect. */
	FR(1, "Host: a\nExpect: 100-continue\n", 0, 0, -1, 0, 1),
	FR(1, "Host: a\nExpect: 100-Continue\nContent-Length: 9\n", 0, 0, 9, 0,
	    1),
	FR(0, "Expect: 100-continue\n", 0, 0, -1, 1, 0), /* RFC 9110 10.1.1 */
	FR(1, "Host: a\nExpect: foo\n", 417, 0, 0, 0, 0),
	FR(1, "Host: a\nExpect: 200-ok\n", 417, 0, 0, 0, 0),
};

/* A request from "Name: value\n" lines. */
static struct req *
make_req(const char *version, const char *hdrs)
{
	struct req *r = req_new("POST", "/", version, "");
	char name[256], value[256];
	const char *p, *c, *e;

	for (p = hdrs; *p; p = e + 1) {
		e = strchr(p, '\n');
		c = strchr(p, ':');
		snprintf(name, sizeof(name), "%.*s", (int)(c - p), p);
		c += c[1] == ' ' ? 2 : 1;
		snprintf(value, sizeof(value), "%.*s", (int)(e - c), c);
		req_add_header(r, name, value);
	}
	return r;
}

static void
test_framing(void)
{
	const struct frrow *row;
	struct http_framing f;
	struct req *r;
	size_t i;
	int rv;
	char what[300];

	for (i = 0; i < sizeof(fr_rows) / sizeof(fr_rows[0]); i++) {
		row = &fr_rows[i];
		r = make_req(row->version, row->hdrs);
		rv = http_req_framing(r, &f);
		snprintf(what, sizeof(what), "%s %s", row->version,
		    show(row->hdrs, strlen(row->hdrs)));
		is_int_at(row->line, rv, row->want, what);
		if (row->want == 0 && rv == 0 &&
		    !ok_at(row->line,
			f.hf_chunked == row->chunked &&
			    f.hf_length == row->length &&
			    f.hf_close == row->close &&
			    f.hf_expect == row->expect,
			"  chunked/length/close/expect"))
			tap_diag("got %d/%lld/%d/%d, want %d/%lld/%d/%d",
			    f.hf_chunked, f.hf_length, f.hf_close, f.hf_expect,
			    row->chunked, row->length, row->close, row->expect);
		req_free(r);
	}
}

/* Response heads. */

#define RS(in, want, tail, dump) \
	{ \
		__LINE__, in, sizeof(in) - 1, want, tail, dump \
	}

static const struct rsrow {
	int line;
	const char *in;
	size_t len;
	int want;
	size_t tail;
	const char *dump;
} rs_rows[] = {
	RS("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", OK, 0,
	    "200 [OK]\nContent-Type: text/plain\n"),
	RS("HTTP/1.1 200 OK\nContent-Type: text/plain\nX: y\n\n", OK, 0,
	    "200 [OK]\nContent-Type: text/plain\nX: y\n"),
	RS("HTTP/1.0 404 Not Found\r\nA: 1\nB:2\r\n\n", OK, 0,
	    "404 [Not Found]\nA: 1\nB: 2\n"),
	RS("HTTP/1.1 204\r\n\r\n", OK, 0, "204 []\n"),
	RS("HTTP/1.1 302 \n\n", OK, 0, "302 []\n"),
	RS("HTTP/1.1 500 Very  Bad\tThing\r\nX:  \t v \t\r\n\r\n", OK, 0,
	    "500 [Very  Bad\tThing]\nX: v\n"),
	RS("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody", OK, 4,
	    "200 [OK]\nContent-Length: 4\n"),
	RS("HTTP/1.1 200 OK\n\nHTTP/1.1 200 OK\n\n", OK, 17, "200 [OK]\n"),
	/* Need more. */
	RS("", 0, 0, NULL),
	RS("HTTP/1.1 200 OK", 0, 0, NULL),
	RS("HTTP/1.1 200 OK\r\nA: b\r\n", 0, 0, NULL),
	RS("HTTP/1.1 200 OK\r\nA: b\r\n\r", 0, 0, NULL),
	/* Malformed. */
	RS("Content-Type: x\r\n\r\n", -1, 0, NULL),
	RS("Status: 200\r\n\r\n", -1, 0, NULL),
	RS("\r\n", -1, 0, NULL),
	RS("HTTP/1.1 99 x\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 abc\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 600 x\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 2000 x\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 20\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1  200 OK\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 200 OK\r\nfoo\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 200 OK\r\n: v\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 200 OK\r\nA : v\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n", -1, 0, NULL),
	RS("HTTP/1.1 200 O\x01K\r\n\r\n", -1, 0, NULL),
};

static int
parse_resp(const char *in, size_t len, char **dumpp, int *errp)
{
	struct http_resp resp;
	char *p = exact(in, len);
	int rv;

	memset(&resp, 0x5a, sizeof(resp));
	errno = 0;
	rv = http_parse_response(p, len, &resp);
	*errp = errno;
	free(p);
	*dumpp = rv > 0 ? dump_resp(&resp) : NULL;
	if (rv > 0)
		http_resp_free(&resp);
	return rv;
}

static void
test_response(void)
{
	const struct rsrow *row;
	struct http_resp resp;
	size_t i, k, hl;
	int rv, want, seen, bad, err;
	char *d;
	static const char head[] = "HTTP/1.1 200 OK\r\nSet-Cookie: a\r\n"
				   "X: 1\r\nset-cookie: b\r\n\r\n";

	for (i = 0; i < sizeof(rs_rows) / sizeof(rs_rows[0]); i++) {
		row = &rs_rows[i];
		hl = row->len - row->tail;
		want = row->want == OK ? (int)hl : row->want;
		rv = parse_resp(row->in, row->len, &d, &err);
		is_int_at(row->line, rv, want, show(row->in, row->len));
		if (row->want == OK)
			is_str_at(row->line, d, row->dump,
			    "  parsed as expected");
		if (row->want == -1)
			is_int_at(row->line, err, EBADMSG, "  errno EBADMSG");
		free(d);
		for (k = 0, seen = 0, bad = -1; k < row->len && bad < 0; k++) {
			rv = parse_resp(row->in, k, &d, &err);
			if (!prefix_ok(rv,
				k >= hl && row->want == OK ? want
				    : row->want == OK	   ? 0
							   : want,
				row->want < 0, &seen))
				bad = (int)k;
			free(d);
		}
		if (!ok_at(row->line, bad < 0, "  every prefix")) {
			rv = parse_resp(row->in, (size_t)bad, &d, &err);
			tap_diag("prefix of %d bytes \"%s\" gave %d", bad,
			    show(row->in, (size_t)bad), rv);
			free(d);
		}
	}

	is_int(http_parse_response(head, sizeof(head) - 1, &resp),
	    (long long)sizeof(head) - 1, "response for header lookups");
	is_str(http_resp_header(&resp, "SET-COOKIE"), "a",
	    "http_resp_header: case-insensitive, first");
	ok(http_resp_header(&resp, "Missing") == NULL,
	    "http_resp_header: missing is NULL");
	is_int(http_resp_remove(&resp, "set-cookie"), 2, "http_resp_remove");
	ok(resp.hr_nhdrs == 1 && !strcmp(resp.hr_hdrs[0].h_name, "X"),
	    "the other header stays");
	is_int(http_resp_remove(&resp, "set-cookie"), 0, "remove again: 0");
	http_resp_free(&resp);
	ok(resp.hr_hdrs == NULL && resp.hr_reason == NULL && resp.hr_nhdrs == 0,
	    "http_resp_free clears");
}

/* Content-Length of a handler's response, as htparser frames by it. */
static const struct {
	int line;
	const char *head;
	long long want;
} cl_rows[] = {
	{ __LINE__, "HTTP/1.1 200 OK\r\n\r\n", -2 },
	{ __LINE__, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0 },
	{ __LINE__, "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n", 1234 },
	{ __LINE__,
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\n",
	    5 },
	{ __LINE__,
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\n",
	    -1 },
	{ __LINE__, "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n", -1 },
	{ __LINE__, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -1 },
	{ __LINE__, "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", -1 },
	{ __LINE__, "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", -1 },
	{ __LINE__,
	    "HTTP/1.1 200 OK\r\nContent-Length: "
	    "999999999999999999\r\n\r\n",
	    999999999999999999LL },
	{ __LINE__,
	    "HTTP/1.1 200 OK\r\nContent-Length: "
	    "1000000000000000000\r\n\r\n",
	    -1 },
};

static void
test_resp_length(void)
{
	struct http_resp resp;
	size_t i;

	for (i = 0; i < sizeof(cl_rows) / sizeof(cl_rows[0]); i++) {
		if (!ok_at(cl_rows[i].line,
			http_parse_response(cl_rows[i].head,
			    strlen(cl_rows[i].head), &resp) > 0,
			"head parses"))
			continue;
		is_int_at(cl_rows[i].line, http_resp_length(&resp),
		    cl_rows[i].want, "http_resp_length");
		http_resp_free(&resp);
	}
}

/* The small writers. */

static void
test_reason(void)
{
	is_str(http_reason(200), "OK", "200");
	is_str(http_reason(404), "Not Found", "404");
	is_str(http_reason(414), "URI Too Long", "414");
	is_str(http_reason(431), "Request Header Fields Too Large", "431");
	is_str(http_reason(505), "HTTP Version Not Supported", "505");
	is_str(http_reason(299), "Unknown", "299 is Unknown");
	is_str(http_reason(-1), "Unknown", "-1 is Unknown");
}

static void
test_date(void)
{
	static const long long times[] = {
		0,
		784111777,
		951782400,
		1700000000,
		2147483647,
		2147483648LL,
	};
	static const struct {
		int line;
		const char *s;
		long long want;
	} rows[] = {
		{ __LINE__, "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },
		{ __LINE__, "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 },
		{ __LINE__, "Sun Nov  6 08:49:37 1994", 784111777 },
		{ __LINE__, "Tue, 29 Feb 2000 00:00:00 GMT", 951782400 },
		{ __LINE__, "", -1 },
		{ __LINE__, "yesterday", -1 },
		{ __LINE__, "Sun, 06 Nov 1994 08:49:37", -1 },
		{ __LINE__, "Sun, 06 Nov 1994 08:49:37 GMT junk", -1 },
		{ __LINE__, "Sun, 06 Nov 1994 25:49:37 GMT", -1 },
		{ __LINE__, "Sun, 06 Foo 1994 08:49:37 GMT", -1 },
	};
	char out[64], alt[64];
	struct tm tm;
	time_t tt;
	size_t i;

	http_date(out, sizeof(out), 784111777);
	is_str(out, "Sun, 06 Nov 1994 08:49:37 GMT", "http_date");
	http_date(out, 30, 0);
	is_str(out, "Thu, 01 Jan 1970 00:00:00 GMT",
	    "http_date(0) in 30 bytes");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		is_int_at(rows[i].line, http_parse_date(rows[i].s),
		    rows[i].want, rows[i].s);
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		http_date(out, sizeof(out), times[i]);
		is_int(http_parse_date(out), times[i], out);
		tt = (time_t)times[i];
		gmtime_r(&tt, &tm);
		if (tm.tm_year >= 69 && tm.tm_year < 169) { /* 2-digit year */
			strftime(alt, sizeof(alt), "%A, %d-%b-%y %H:%M:%S GMT",
			    &tm);
			is_int(http_parse_date(alt), times[i], alt);
		}
		strftime(alt, sizeof(alt), "%a %b %e %H:%M:%S %Y", &tm);
		is_int(http_parse_date(alt), times[i], alt);
	}
}

static void
test_error_page(void)
{
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	struct http_resp resp;
	const char *body, *cl;
	char rd[4096];
	int hl, p[2];
	size_t blen;
	ssize_t n;

	buf_appends(&b, "pre");
	is_int(http_error_format(&b, 404, "no <a href=\"x\">&</a>",
		   "X-Extra: 1\r\n"),
	    0, "http_error_format");
	ok(!strncmp(b.b_data, "preHTTP/1.1 404 Not Found\r\n", 27),
	    "appended; status line");
	hl = http_parse_response(b.b_data + 3, b.b_len - 3, &resp);
	ok(hl > 0, "the page is a well-formed response");
	if (hl > 0) {
		body = b.b_data + 3 + hl;
		blen = b.b_len - 3 - (size_t)hl;
		is_int(resp.hr_status, 404, "status 404");
		cl = http_resp_header(&resp, "Content-Length");
		ok(cl != NULL && strtoull(cl, NULL, 10) == blen,
		    "Content-Length %s matches the body (%zu)", cl ? cl : "-",
		    blen);
		ok(http_resp_header(&resp, "Content-Type") != NULL &&
			!strncmp(http_resp_header(&resp, "Content-Type"),
			    "text/html", 9),
		    "Content-Type text/html");
		is_str(http_resp_header(&resp, "X-Extra"), "1", "extra header");
		ok(strstr(body, "404") != NULL, "body names the status");
		ok(strstr(body,
		       "no &lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;") !=
			NULL,
		    "message HTML-escaped");
		ok(strstr(body, "<a href") == NULL, "no raw markup from msg");
		http_resp_free(&resp);
	}

	/* No message, no extra; and http_error() writes the same bytes. */
	is_int(http_error_format(&b2, 503, NULL, NULL), 0, "no msg");
	ok(strstr(b2.b_data, "<p>") == NULL, "no paragraph without msg");
	hl = http_parse_response(b2.b_data, b2.b_len, &resp);
	ok(hl > 0 && resp.hr_status == 503 && resp.hr_nhdrs == 2,
	    "503 with two headers");
	if (hl > 0)
		http_resp_free(&resp);
	if (pipe(p) == -1)
		return;
	is_int(http_error(p[1], 503, NULL), 0, "http_error");
	n = read(p[0], rd, sizeof(rd));
	ok(n == (ssize_t)b2.b_len && !memcmp(rd, b2.b_data, b2.b_len),
	    "http_error writes what http_error_format gives");
	is_int(write_all(p[1], "abc", 3), 0, "write_all");
	ok(read(p[0], rd, sizeof(rd)) == 3 && !memcmp(rd, "abc", 3),
	    "write_all wrote everything");
	close(p[0]);
	errno = 0;
	ok(http_error(p[1], 500, "x") == -1 && errno == EPIPE,
	    "http_error to a closed pipe: -1/EPIPE");
	close(p[1]);
	buf_free(&b);
	buf_free(&b2);
}

static void
test_list_has(void)
{
	static const struct {
		int line;
		const char *list, *tok;
		int want;
	} rows[] = {
		{ __LINE__, "close", "close", 1 },
		{ __LINE__, "Close", "close", 1 },
		{ __LINE__, "keep-alive, close", "close", 1 },
		{ __LINE__, "a,b,c", "b", 1 },
		{ __LINE__, "a ,\tb\t, c", "b", 1 },
		{ __LINE__, " a", "a", 1 },
		{ __LINE__, "a,,b", "b", 1 },
		{ __LINE__, "closed", "close", 0 },
		{ __LINE__, "clo", "close", 0 },
		{ __LINE__, "x-close", "close", 0 },
		{ __LINE__, "", "close", 0 },
		{ __LINE__, "a b", "a", 0 },
	};
	size_t i;
	char what[80];

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(what, sizeof(what), "\"%s\" has \"%s\"", rows[i].list,
		    rows[i].tok);
		is_int_at(rows[i].line,
		    !!http_list_has(rows[i].list, rows[i].tok), rows[i].want,
		    what);
	}
}

/* The chunk decoder. */

#define CH(in, want, out, tail) \
	{ \
		__LINE__, in, sizeof(in) - 1, want, out, sizeof(out) - 1, tail \
	}

static const struct chrow {
	int line;
	const char *in;
	size_t len;
	int want; /* 0 done, MORE, -400 */
	const char *out;
	size_t outlen;
	size_t tail;
} ch_rows[] = {
	CH("5\r\nhello\r\n0\r\n\r\n", 0, "hello", 0),
	CH("0\r\n\r\n", 0, "", 0),
	CH("3\r\nabc\r\n4\r\ndefg\r\n1\r\nh\r\n0\r\n\r\n", 0, "abcdefgh", 0),
	CH("5;a=b\r\nhello\r\n0;x\r\n\r\n", 0, "hello", 0),
	CH("5;a=\"q;\\\"x\";b\r\nhello\r\n0\r\n\r\n", 0, "hello", 0),
	CH("A\r\n0123456789\r\n0\r\n\r\n", 0, "0123456789", 0),
	CH("a\r\n0123456789\r\n0\r\n\r\n", 0, "0123456789", 0),
	CH("0010\r\n0123456789abcdef\r\n0\r\n\r\n", 0, "0123456789abcdef", 0),
	CH("000000000000005\r\nhello\r\n0\r\n\r\n", 0, "hello", 0),
	CH("5\r\nhello\r\n0\r\nX-T: 1\r\nY:2\r\n\r\n", 0, "hello", 0),
	CH("5\r\nhe\r\nl\r\n0\r\n\r\n", 0, "he\r\nl", 0),
	CH("5\r\nhe\0lo\r\n0\r\n\r\n", 0, "he\0lo", 0),
	/* Pipelining: what follows the body is not consumed. */
	CH("5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0, "hello", 18),
	CH("0\r\n\r\n0\r\n\r\n", 0, "", 5),
	CH("1\r\nx\r\n0\r\nT: v\r\n\r\nX", 0, "x", 1),
	/* Incomplete. */
	CH("", MORE, "", 0),
	CH("5\r\nhel", MORE, "hel", 0),
	CH("5\r\nhello\r\n0\r\n", MORE, "hello", 0),
	CH("5\r\nhello\r\n0\r\nX: 1\r\n", MORE, "hello", 0),
	/* Line ends other than CRLF. */
	CH("5\nhello\r\n0\r\n\r\n", -400, "", 0),
	CH("5\r\nhello\n0\r\n\r\n", -400, "", 0),
	CH("5\r\nhello\r\n0\n\n", -400, "", 0),
	CH("5\r\nhello\r\n0\r\n\n", -400, "", 0),
	CH("5\r\nhello\r\n0\r\nX: 1\n\r\n", -400, "", 0),
	CH("5\r\r\nhello\r\n0\r\n\r\n", -400, "", 0),
	/* Data not followed by CRLF. */
	CH("5\r\nhelloX\r\n0\r\n\r\n", -400, "", 0),
	CH("5\r\nhello0\r\n\r\n", -400, "", 0),
	CH("5\r\nhello\rX", -400, "", 0),
	/* Bad sizes. */
	CH("0000000000000005\r\nhello\r\n0\r\n\r\n", -400, "", 0),
	CH("10000000000000000\r\n", -400, "", 0),
	CH("zz\r\n", -400, "", 0),
	CH("\r\n", -400, "", 0),
	CH(";a\r\n", -400, "", 0),
	CH("-5\r\n", -400, "", 0),
	CH("0x5\r\n", -400, "", 0),
	CH("5g\r\n", -400, "", 0),
	CH("5;\x01\r\n", -400, "", 0),
	/* Blanks before an extension (RFC 9112 7.1.1 BWS), not without. */
	CH("5 ;a=b\r\nhello\r\n0\t;x\r\n\r\n", 0, "hello", 0),
	CH("5 \r\nhello\r\n0\r\n\r\n", -400, "", 0),
	/* Trailers are field lines: a request line, or blanks before the
	 * colon, or obs-fold, are not. */
	CH("0\r\nGET / HTTP/1.1\r\n\r\n", -400, "", 0),
	CH("0\r\nX : 1\r\n\r\n", -400, "", 0),
	CH("0\r\nX: 1\r\n folded\r\n\r\n", -400, "", 0),
	CH("0\r\n: v\r\n\r\n", -400, "", 0),
	CH("5\r\nhello\r\n0\r\nX\x01: 1\r\n\r\n", -400, "", 0),
};

/*
 * Feed in[0..len) step bytes at a time (each piece in its own exact
 * allocation).  Returns 0 when done, MORE, or the error; *outp gets the
 * data, *usedp the bytes consumed; *oddp counts calls whose report
 * broke the contract (data run not ending the consumed bytes, more
 * consumed than given, no progress).
 */
static int
dechunk(struct chunkdec *d, const char *in, size_t len, size_t step,
    struct buf *out, size_t *usedp, int *oddp)
{
	const char *dp;
	size_t off = 0, piece, dl;
	ssize_t n;
	char *p;

	*oddp = 0;
	while (!chunk_done(d) && off < len) {
		piece = len - off < step ? len - off : step;
		p = exact(in + off, piece);
		n = chunk_feed(d, p, piece, &dp, &dl);
		if (n < 0) {
			free(p);
			*usedp = off;
			return (int)n;
		}
		if ((size_t)n > piece ||
		    (dl > 0 && (dp < p || dp + dl != p + n)) ||
		    (n == 0 && !chunk_done(d)))
			++*oddp;
		if (dl > 0)
			buf_append(out, dp, dl);
		free(p);
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*usedp = off;
	return chunk_done(d) ? 0 : MORE;
}

static void
check_chunked(int line, const char *in, size_t len, int want, const char *out,
    size_t outlen, size_t tail, const char *what)
{
	static const size_t steps[] = { (size_t)-1, 1, 2, 7 };
	struct chunkdec d;
	struct buf b = BUF_INIT;
	size_t i, used;
	int rv, odd;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		chunk_init(&d);
		buf_clear(&b);
		rv = dechunk(&d, in, len, steps[i], &b, &used, &odd);
		if (!ok_at(line,
			rv == want && odd == 0 &&
			    (want < 0 ||
				(b.b_len == outlen &&
				    !memcmp(b.b_len ? b.b_data : "", out,
					outlen) &&
				    used == len - tail)),
			"%s, %s %zu", what,
			i == 0 ? "all at once" : "in pieces of",
			i == 0 ? len : steps[i]))
			tap_diag("got %d, %zu bytes \"%s\", used %zu, %d odd; "
				 "want %d, \"%s\", used %zu",
			    rv, b.b_len, show(b.b_len ? b.b_data : "", b.b_len),
			    used, odd, want, show(out, outlen), len - tail);
	}
	buf_free(&b);
}

static void
test_chunked(void)
{
	const struct chrow *row;
	struct chunkdec d;
	struct buf in = BUF_INIT, want = BUF_INIT;
	const char *dp;
	size_t i, dl;
	ssize_t n;

	for (i = 0; i < sizeof(ch_rows) / sizeof(ch_rows[0]); i++) {
		row = &ch_rows[i];
		check_chunked(row->line, row->in, row->len, row->want, row->out,
		    row->outlen, row->tail, show(row->in, row->len));
	}

	/* One data run per call, ending the consumed bytes. */
	chunk_init(&d);
	n = chunk_feed(&d, "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", 23, &dp, &dl);
	ok(n == 6 && dl == 3 && !memcmp(dp, "abc", 3) && !chunk_done(&d),
	    "first call stops after the first data run");
	/* Once done, nothing more is consumed. */
	chunk_init(&d);
	n = chunk_feed(&d, "0\r\n\r\n", 5, &dp, &dl);
	ok(n == 5 && chunk_done(&d) && dl == 0, "empty body done");
	n = chunk_feed(&d, "GET", 3, &dp, &dl);
	ok(n == 0 && dl == 0 && chunk_done(&d), "after done: 0 consumed");

	/* A large chunk. */
	buf_printf(&in, "%x\r\n", 100000);
	for (i = 0; i < 100000; i++)
		buf_appendc(&want, (char)('a' + i % 26));
	buf_append(&in, want.b_data, want.b_len);
	buf_appends(&in, "\r\n0\r\n\r\n");
	check_chunked(__LINE__, in.b_data, in.b_len, 0, want.b_data, want.b_len,
	    0, "100000-byte chunk");

	/* Extensions are bounded by ASH_CHUNKLINE_MAX... */
	buf_clear(&in);
	buf_appends(&in, "1;x=");
	for (i = 0; i < ASH_CHUNKLINE_MAX; i++)
		buf_appendc(&in, 'e');
	buf_appends(&in, "\r\nx\r\n0\r\n\r\n");
	check_chunked(__LINE__, in.b_data, in.b_len, -400, "", 0, 0,
	    "chunk line over ASH_CHUNKLINE_MAX");
	/* ...trailers only by ASH_HEAD_MAX: a 2000-byte field is fine. */
	buf_clear(&in);
	buf_appends(&in, "1\r\nx\r\n0\r\nX-Long: ");
	for (i = 0; i < 2000; i++)
		buf_appendc(&in, 't');
	buf_appends(&in, "\r\nY: 1\r\n\r\n");
	check_chunked(__LINE__, in.b_data, in.b_len, 0, "x", 1, 0,
	    "2000-byte trailer field (bounded by ASH_HEAD_MAX only)");
	buf_free(&in);
	buf_free(&want);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN); /* write_all() to a closed pipe */
	test_request();
	test_request_edit();
	test_framing();
	test_response();
	test_resp_length();
	test_reason();
	test_date();
	test_error_page();
	test_list_has();
	test_chunked();
	return tap_done();
}
