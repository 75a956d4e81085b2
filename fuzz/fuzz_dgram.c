/*
 * fuzz_dgram.c: the request datagram (req_decode, req_encode) that
 * carries a request from handler to handler.
 *
 * Invariants checked:
 *  - decode -> encode reproduces the input byte for byte whenever the
 *    decode succeeds (the format has one spelling per request);
 *  - a failed decode says EBADMSG (or ENOMEM);
 *  - the decoded request keeps every header in order, duplicates
 *    included: req_header() is the first one of a name, req_dup()
 *    encodes the same, req_set_header()/req_remove_header() leave
 *    exactly one / none of that name and nothing else changed;
 *  - the decode of every proper prefix fails (the datagram ends with
 *    its empty string, nothing may follow).
 */
#include <errno.h>
#include <strings.h>

#include "buf.h"
#include "req.h"
#include "fuzz.h"

static struct req *
decode(const uint8_t *data, size_t len)
{
	char *copy = fuzz_dup(data, len);
	struct req *r;

	errno = 0;
	r = req_decode(copy, len);
	free(copy);
	if (r == NULL)
		CHECK(errno == EBADMSG || errno == ENOMEM, "errno %d", errno);
	return r;
}

static void
encode_is(const struct req *r, const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT;

	CHECK(req_encode(r, &b) == 0, "encode");
	CHECK(b.b_len == size && !memcmp(b.b_data, data, size),
	    "encoded %zu bytes, decoded from %zu", b.b_len, size);
	buf_free(&b);
}

static size_t
count(const struct req *r, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < r->r_nhdrs; i++)
		n += !strcasecmp(r->r_hdrs[i].h_name, name);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct req *r, *d;
	const char *name, *first;
	uint32_t seed = fuzz_seed(data, size);
	size_t i, k, before, other;

	if ((r = decode(data, size)) == NULL)
		return 0;
	CHECK(*r->r_method != '\0', "empty method");
	for (i = 0; i < r->r_nhdrs; i++)
		CHECK(*r->r_hdrs[i].h_name != '\0', "empty header name");
	encode_is(r, data, size);

	k = fuzz_rand(&seed) % size;
	d = decode(data, k);
	CHECK(d == NULL, "prefix %zu of %zu decodes", k, size);

	CHECK((d = req_dup(r)) != NULL, "dup");
	encode_is(d, data, size);
	if (r->r_nhdrs > 0) {
		name = r->r_hdrs[fuzz_rand(&seed) % r->r_nhdrs].h_name;
		for (i = 0; i < r->r_nhdrs; i++)
			if (!strcasecmp(r->r_hdrs[i].h_name, name))
				break;
		first = req_header(r, name);
		CHECK(first == r->r_hdrs[i].h_value, "req_header not first");
		before = r->r_nhdrs;
		other = before - count(r, name);
		CHECK(req_set_header(d, name, "x") == 0, "set");
		CHECK(count(d, name) == 1 && d->r_nhdrs == other + 1 &&
			!strcmp(req_header(d, name), "x"),
		    "set_header");
		CHECK(req_remove_header(d, name) == 1 && d->r_nhdrs == other &&
			req_header(d, name) == NULL,
		    "remove_header");
	}
	req_free(d);
	req_free(r);
	return 0;
}
