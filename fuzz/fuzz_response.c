/*
 * fuzz_response.c: response heads as handlers write them:
 * http_parse_response() (status line and fields), http_parse_fields()
 * and cgi_parse_head() (CGI heads, no status line).
 *
 * Invariants checked:
 *  - a head length is > 0, <= the input, and ends in LF; every prefix
 *    shorter than it is "need more" (0); any prefix that gets an answer
 *    gets exactly the answer of the whole input (nothing is decided
 *    before the empty line is there);
 *  - an error is -1 with errno EBADMSG (and a reason from
 *    cgi_parse_head), and leaves the result empty;
 *  - fields are tokens and clean values; a status is 100-599;
 *  - cgi_parse_head accepts exactly what http_parse_fields accepts
 *    unless the Status field is bad, leaves no Status field, and gives
 *    302 for a Location without Status;
 *  - cgi_http_head() of a CGI head parses back with
 *    http_parse_response() to the same status, reason and fields.
 */
#include <ctype.h>
#include <errno.h>
#include <strings.h>

#include "buf.h"
#include "cgi.h"
#include "http.h"
#include "req.h"
#include "fuzz.h"

enum { P_RESPONSE, P_FIELDS, P_CGI };

static int
run(int which, const uint8_t *data, size_t len, struct http_resp *rp)
{
	const char *why = NULL;
	char *copy = fuzz_dup(data, len);
	int n;

	memset(rp, 0x5a, sizeof(*rp));
	errno = 0;
	switch (which) {
	case P_RESPONSE:
		n = http_parse_response(copy, len, rp);
		break;
	case P_FIELDS:
		n = http_parse_fields(copy, len, rp);
		break;
	default:
		n = cgi_parse_head(copy, len, rp, &why);
		break;
	}
	free(copy);
	CHECK(n >= -1 && n <= (int)len, "result %d for %zu bytes", n, len);
	if (n < 0)
		CHECK(errno == EBADMSG, "errno %d", errno);
	if (which == P_CGI)
		CHECK((n < 0) == (why != NULL), "reason given: %d",
		    why != NULL);
	if (n <= 0)
		CHECK(rp->hr_nhdrs == 0 && rp->hr_hdrs == NULL &&
			rp->hr_reason == NULL,
		    "result %d left fields", n);
	return n;
}

static void
resp_same(const struct http_resp *a, const struct http_resp *b)
{
	size_t i;

	CHECK(a->hr_status == b->hr_status, "status %d vs %d", a->hr_status,
	    b->hr_status);
	CHECK((a->hr_reason == NULL) == (b->hr_reason == NULL) &&
		(a->hr_reason == NULL || !strcmp(a->hr_reason, b->hr_reason)),
	    "reason");
	CHECK(a->hr_nhdrs == b->hr_nhdrs, "%zu vs %zu fields", a->hr_nhdrs,
	    b->hr_nhdrs);
	for (i = 0; i < a->hr_nhdrs; i++)
		CHECK(!strcmp(a->hr_hdrs[i].h_name, b->hr_hdrs[i].h_name) &&
			!strcmp(a->hr_hdrs[i].h_value, b->hr_hdrs[i].h_value),
		    "field %zu", i);
}

static void
resp_shape(const struct http_resp *r)
{
	const char *p;
	size_t i;

	for (i = 0; i < r->hr_nhdrs; i++) {
		const char *n = r->hr_hdrs[i].h_name,
			   *v = r->hr_hdrs[i].h_value;

		CHECK(*n != '\0', "empty name");
		for (p = n; *p; p++)
			CHECK(isalnum((unsigned char)*p) ||
				strchr("!#$%&'*+-.^_`|~", *p),
			    "name byte %#x", (unsigned char)*p);
		for (p = v; *p; p++)
			CHECK((*p == '\t' || (unsigned char)*p >= 0x20) &&
				*p != 0x7f,
			    "value byte %#x", (unsigned char)*p);
		CHECK(p == v ||
			(*v != ' ' && *v != '\t' && p[-1] != ' ' &&
			    p[-1] != '\t'),
		    "value not trimmed");
	}
	if (r->hr_reason)
		for (p = r->hr_reason; *p; p++)
			CHECK(*p == '\t' ||
				((unsigned char)*p >= 0x20 && *p != 0x7f),
			    "reason byte %#x", (unsigned char)*p);
}

static int
check_one(int which, const uint8_t *data, size_t size, uint32_t *seed,
    struct http_resp *out)
{
	struct http_resp a, b;
	size_t k;
	int n, m, i;

	n = run(which, data, size, &a);
	if (n > 0) {
		CHECK(data[n - 1] == '\n', "head does not end in LF");
		resp_shape(&a);
		if (which == P_RESPONSE)
			CHECK(a.hr_status >= 100 && a.hr_status <= 599,
			    "status %d", a.hr_status);
		else if (which == P_FIELDS)
			CHECK(a.hr_status == 0 && a.hr_nhdrs > 0,
			    "fields: status %d, %zu fields", a.hr_status,
			    a.hr_nhdrs);
	}
	for (i = 0; i < 3; i++) {
		if (i == 0)
			k = n > 0 ? (size_t)n - 1 : size / 2;
		else if (i == 1)
			k = n > 0 ? (size_t)n : size;
		else
			k = fuzz_rand(seed) % (size + 1);
		m = run(which, data, k, &b);
		if (n > 0 && k < (size_t)n)
			CHECK(m == 0, "prefix %zu of a %d-byte head: %d", k, n,
			    m);
		if (m != 0) {
			CHECK(m == n, "prefix %zu: %d, whole: %d", k, m, n);
			if (m > 0)
				resp_same(&a, &b);
		}
		if (m > 0)
			http_resp_free(&b);
	}
	if (n > 0)
		*out = a;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_resp r, f, c, back;
	struct buf b = BUF_INIT;
	uint32_t seed = fuzz_seed(data, size);
	int nr, nf, nc, n;
	size_t i;

	nr = check_one(P_RESPONSE, data, size, &seed, &r);
	nf = check_one(P_FIELDS, data, size, &seed, &f);
	nc = check_one(P_CGI, data, size, &seed, &c);

	/* Both find the same end; a status line is no field line. */
	if (nr > 0 && nf > 0)
		CHECK(nr == nf, "response %d, fields %d", nr, nf);
	if (nf == 0)
		CHECK(nr == 0 && nc == 0, "need more differs");
	if (nf < 0)
		CHECK(nc < 0, "cgi accepts what fields rejects");
	if (nc > 0) {
		CHECK(nc == nf, "cgi %d, fields %d", nc, nf);
		CHECK(c.hr_status >= 100 && c.hr_status <= 599, "status %d",
		    c.hr_status);
		CHECK(http_resp_header(&c, "Status") == NULL, "Status kept");
		if (http_resp_header(&f, "Status") == NULL)
			CHECK(c.hr_status ==
				(http_resp_header(&f, "Location") ? 302 : 200),
			    "default status %d", c.hr_status);
		CHECK(c.hr_reason != NULL && *c.hr_reason, "no reason");
		/* What we would send parses back to the same thing. */
		CHECK(cgi_http_head(&b, &c) == 0, "cgi_http_head");
		n = http_parse_response(b.b_data, b.b_len, &back);
		CHECK(n == (int)b.b_len, "our own head: %d of %zu", n, b.b_len);
		resp_same(&c, &back);
		http_resp_free(&back);
		buf_free(&b);
		/* Fields other than Status are those of the plain parse. */
		for (i = 0; i < c.hr_nhdrs; i++)
			CHECK(http_resp_header(&f, c.hr_hdrs[i].h_name) != NULL,
			    "field %s invented", c.hr_hdrs[i].h_name);
		http_resp_free(&c);
	} else if (nf > 0) {
		/* Only a bad Status makes cgi reject a good field block. */
		CHECK(http_resp_header(&f, "Status") != NULL,
		    "cgi rejects "
		    "a head without Status");
	}
	if (nr > 0)
		http_resp_free(&r);
	if (nf > 0)
		http_resp_free(&f);
	return 0;
}
