/*
 * fuzz_request.c: the request side of htparser as pure functions:
 * http_parse_request(), then http_req_framing() on what it parsed, then
 * the de-chunker on the bytes after the head when the framing says
 * chunked.
 *
 * Invariants checked:
 *  - a head length is > 0, <= the input, and ends in LF; the same head
 *    alone parses to the same length and request; every shorter prefix
 *    is "need more" (0); an error on a prefix stays an error on the
 *    whole input, success on a prefix is the same success;
 *  - an error is one of the statuses http.h lists;
 *  - what is accepted is clean: a token method, a target without
 *    blanks or controls, HTTP/1.0 or HTTP/1.1, token header names,
 *    values without controls or surrounding blanks; the datagram form
 *    round-trips;
 *  - limits hold: with small limits an accepted head fits them, and
 *    anything accepted under small limits is accepted the same under
 *    the default ones;
 *  - accepted framing is unambiguous: at most one Host (exactly one on
 *    1.1), chunked only as the single coding of a 1.1 request without
 *    Content-Length, a Content-Length only of equal digit strings;
 *  - the chunked body decodes the same fed whole, byte by byte and in
 *    pieces, and as a reference decoder says (chunkrun.h).
 */
#include <ctype.h>
#include <strings.h>

#include "buf.h"
#include "http.h"
#include "req.h"
#include "url.h"
#include "fuzz.h"
#include "chunkrun.h"

static int
is_tchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
parse(const uint8_t *data, size_t len, const struct http_limits *l,
    struct req **rp)
{
	char *copy;
	int n;

	*rp = NULL;
	copy = fuzz_dup(data, len);
	n = http_parse_request(copy, len, l, rp);
	free(copy);
	if (n <= 0)
		CHECK(*rp == NULL, "a request for result %d", n);
	else
		CHECK(*rp != NULL, "no request for result %d", n);
	return n;
}

static void
req_same(const struct req *a, const struct req *b)
{
	size_t i;

	CHECK(!strcmp(a->r_method, b->r_method), "method");
	CHECK(!strcmp(a->r_url, b->r_url), "url");
	CHECK(!strcmp(a->r_version, b->r_version), "version");
	CHECK(!strcmp(a->r_rest, b->r_rest), "rest");
	CHECK(a->r_nhdrs == b->r_nhdrs, "%zu vs %zu headers", a->r_nhdrs,
	    b->r_nhdrs);
	for (i = 0; i < a->r_nhdrs; i++) {
		CHECK(!strcmp(a->r_hdrs[i].h_name, b->r_hdrs[i].h_name),
		    "header name %zu", i);
		CHECK(!strcmp(a->r_hdrs[i].h_value, b->r_hdrs[i].h_value),
		    "header value %zu", i);
	}
}

static void
req_shape(const struct req *r)
{
	struct buf b = BUF_INIT;
	struct req *d;
	const char *p;
	size_t i, n;

	CHECK(*r->r_method != '\0', "empty method");
	for (p = r->r_method; *p; p++)
		CHECK(is_tchar((unsigned char)*p), "method byte %#x", *p);
	CHECK(*r->r_url != '\0', "empty target");
	for (p = r->r_url; *p; p++)
		CHECK((unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f,
		    "target byte %#x", (unsigned char)*p);
	CHECK(*r->r_url == '/' || !strcmp(r->r_url, "*") ||
		!strncasecmp(r->r_url, "http://", 7) ||
		!strncasecmp(r->r_url, "https://", 8),
	    "target form %s", r->r_url);
	if (!strcmp(r->r_url, "*"))
		CHECK(!strcmp(r->r_method, "OPTIONS"), "* for %s", r->r_method);
	CHECK(!strcmp(r->r_version, "HTTP/1.1") ||
		!strcmp(r->r_version, "HTTP/1.0"),
	    "version %s", r->r_version);
	/* The rest is the target's path without the leading '/' and the
	 * query: a piece of the target. */
	CHECK(strstr(r->r_url, r->r_rest) != NULL && !strchr(r->r_rest, '?'),
	    "rest %s of %s", r->r_rest, r->r_url);
	if (*r->r_url == '/') {
		n = strcspn(r->r_url + 1, "?");
		CHECK(strlen(r->r_rest) == n &&
			!strncmp(r->r_rest, r->r_url + 1, n),
		    "rest %s of %s", r->r_rest, r->r_url);
	}
	for (i = 0; i < r->r_nhdrs; i++) {
		const char *nm = r->r_hdrs[i].h_name, *v = r->r_hdrs[i].h_value;

		CHECK(*nm != '\0', "empty header name");
		for (p = nm; *p; p++)
			CHECK(is_tchar((unsigned char)*p), "name byte %#x",
			    (unsigned char)*p);
		for (p = v; *p; p++)
			CHECK(*p == '\t' || (unsigned char)*p >= 0x20,
			    "value byte %#x", (unsigned char)*p);
		CHECK(p == v ||
			(p[-1] != ' ' && p[-1] != '\t' && *v != ' ' &&
			    *v != '\t'),
		    "value not trimmed: '%s'", v);
		CHECK(!strchr(v, 0x7f), "DEL in a value");
	}
	CHECK(req_encode(r, &b) == 0, "encode");
	CHECK((d = req_decode(b.b_data, b.b_len)) != NULL, "decode");
	req_same(r, d);
	req_free(d);
	buf_free(&b);
}

/* Does the comma-separated list hold anything but "chunked" once? */
static void
te_elements(const char *v, size_t *nchunked, size_t *nother)
{
	const char *s, *e;

	for (s = v;; s = e + 1) {
		e = s + strcspn(s, ",");
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e - s == 7 && !strncasecmp(s, "chunked", 7))
			(*nchunked)++;
		else if (e > s)
			(*nother)++;
		e = s + strcspn(s, ",");
		if (*e == '\0')
			break;
	}
}

/* Every element of a Content-Length value is a digit string worth len. */
static int
cl_all(const char *v, long long len)
{
	const char *s, *e, *q;
	long long x;

	for (s = v;; s = e + 1) {
		e = s + strcspn(s, ",");
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		q = e;
		while (q > s && (q[-1] == ' ' || q[-1] == '\t'))
			q--;
		if (q == s)
			return 0;
		for (x = 0; s < q; s++) {
			if (!isdigit((unsigned char)*s) ||
			    x > 99999999999999999LL)
				return 0;
			x = x * 10 + (*s - '0');
		}
		if (x != len)
			return 0;
		if (*e == '\0')
			return 1;
	}
}

static void
framing_check(const struct req *r, const uint8_t *body, size_t blen,
    uint32_t seed)
{
	struct http_framing f;
	size_t i, nhost = 0, nte = 0, ncl = 0, nchunked = 0, nother = 0;
	size_t used;
	int st, http11 = !strcmp(r->r_version, "HTTP/1.1"), close = 0;
	int keep = 0, expect = 0;
	char *copy;

	st = http_req_framing(r, &f);
	CHECK(st == 0 || st == 400 || st == 417 || st == 501, "status %d", st);
	if (st != 0)
		return;
	for (i = 0; i < r->r_nhdrs; i++) {
		const char *n = r->r_hdrs[i].h_name, *v = r->r_hdrs[i].h_value;

		if (!strcasecmp(n, "Host"))
			nhost++;
		else if (!strcasecmp(n, "Transfer-Encoding")) {
			nte++;
			te_elements(v, &nchunked, &nother);
		} else if (!strcasecmp(n, "Content-Length")) {
			ncl++;
			CHECK(cl_all(v, f.hf_length),
			    "Content-Length '%s' "
			    "accepted as %lld",
			    v, f.hf_length);
		} else if (!strcasecmp(n, "Connection")) {
			close |= http_list_has(v, "close");
			keep |= http_list_has(v, "keep-alive");
		} else if (!strcasecmp(n, "Expect"))
			expect = 1;
	}
	CHECK(nhost == 1 || (!http11 && nhost == 0), "%zu Host fields", nhost);
	if (f.hf_chunked) {
		CHECK(http11 && ncl == 0 && f.hf_length == -1 &&
			nchunked == 1 && nother == 0,
		    "chunked accepted with "
		    "version %s, %zu CL, %zu chunked, %zu other codings",
		    r->r_version, ncl, nchunked, nother);
	} else {
		CHECK(nte == 0, "Transfer-Encoding but not chunked");
		CHECK((ncl == 0) == (f.hf_length == -1),
		    "length %lld from "
		    "%zu fields",
		    f.hf_length, ncl);
	}
	CHECK(!f.hf_expect || (http11 && expect), "expect");
	CHECK(f.hf_close == (http11 ? close : !keep), "close");
	if (!f.hf_chunked)
		return;
	copy = fuzz_dup(body, blen);
	(void)chunk_check(copy, blen, seed, &used);
	free(copy);
}

/* Where the request line starts and ends (the parser skips empty
 * lines before it). */
static void
reqline_span(const uint8_t *d, size_t len, size_t *startp, size_t *lenp)
{
	size_t pos = 0, e;

	while (pos < len &&
	    (d[pos] == '\n' ||
		(d[pos] == '\r' && pos + 1 < len && d[pos + 1] == '\n')))
		pos += d[pos] == '\r' ? 2 : 1;
	for (e = pos; e < len && d[e] != '\n'; e++)
		;
	*startp = pos;
	*lenp = e - pos;
	if (e > pos && d[e - 1] == '\r')
		(*lenp)--;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_limits def, small;
	struct req *r = NULL, *rs = NULL, *rp;
	uint32_t seed = fuzz_seed(data, size);
	size_t k, start, rl;
	int n, ns, m;

	http_limits_default(&def);
	small.hl_reqline = 40;
	small.hl_head = 160;
	small.hl_headers = 4;

	n = parse(data, size, &def, &r);
	ns = parse(data, size, &small, &rs);
	CHECK(n <= (int)size, "head %d of %zu bytes", n, size);
	CHECK(n >= 0 || n == -400 || n == -414 || n == -431 || n == -505,
	    "status %d", n);
	CHECK(ns >= 0 || ns == -400 || ns == -414 || ns == -431 || ns == -505,
	    "status %d", ns);
	/* Small limits only ever take away. */
	if (ns > 0) {
		CHECK(n == ns, "small limits %d, default %d", ns, n);
		req_same(r, rs);
		reqline_span(data, size, &start, &rl);
		CHECK(rl <= small.hl_reqline, "request line %zu", rl);
		CHECK((size_t)ns - start <= small.hl_head, "head %d", ns);
		CHECK(rs->r_nhdrs <= small.hl_headers, "%zu headers",
		    rs->r_nhdrs);
	}
	if (n < 0)
		CHECK(ns < 0, "small limits accept what default rejects");
	if (n == 0)
		CHECK(ns <= 0,
		    "small limits accept what default wants more of");

	/* Prefixes: "need more" before the end, then the same answer. */
	for (int i = 0; i < 3; i++) {
		if (i == 0)
			k = n > 0 ? (size_t)n - 1 : size / 2;
		else if (i == 1)
			k = n > 0 ? (size_t)n : size;
		else
			k = fuzz_rand(&seed) % (size + 1);
		m = parse(data, k, &def, &rp);
		if (n > 0 && k < (size_t)n)
			CHECK(m == 0, "prefix %zu of a %d-byte head gives %d",
			    k, n, m);
		if (m > 0) {
			CHECK(m == n, "prefix %zu: %d, whole: %d", k, m, n);
			req_same(r, rp);
		}
		if (m < 0)
			CHECK(n < 0, "prefix %zu fails %d, whole gives %d", k,
			    m, n);
		req_free(rp);
	}
	if (n > 0) {
		CHECK(data[n - 1] == '\n', "head does not end in LF");
		req_shape(r);
		framing_check(r, data + n, size - (size_t)n, seed);
	}
	req_free(r);
	req_free(rs);
	return 0;
}
