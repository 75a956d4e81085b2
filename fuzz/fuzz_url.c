/*
 * fuzz_url.c: percent-decoding and the initial rest string (lib/url.c).
 *
 * The input is a URL part; its first byte also picks the '+' mode.
 *
 * Invariants checked:
 *  - url_decode: the output is never longer than the input, is
 *    NUL-terminated at the returned length, and equals a reference
 *    decoder (well-formed %XX decoded, anything else kept literally,
 *    '+' a space only in '+' mode); decoding input without '%' (and
 *    without '+' in that mode) gives it back unchanged; the input cut
 *    anywhere but inside an escape decodes to the two halves' decodings
 *    joined;
 *  - url_decode_str agrees with url_decode on the C string;
 *  - url_has_nul is true exactly when the decoding holds a NUL;
 *  - url_initial_rest is the path without one leading '/' and without
 *    the query, never longer than its input;
 *  - url_encode_path writes only unreserved and sub-delim bytes and
 *    '%XX', and decodes back to its input;
 *  - url_resolve_rest returns 0, URL_DOTS_ABOVE or URL_DOTS_SLASH; a
 *    resolved rest is never longer, has no dot-segment as it is nor
 *    once decoded and split at every '/', resolves to itself again,
 *    and for input without '%' equals a reference (RFC 3986 5.2.4 on
 *    a stack of segments, a ".." above the root an error).
 */
#include <ctype.h>

#include "buf.h"
#include "url.h"
#include "fuzz.h"

static int
hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static size_t
ref_decode(const char *in, size_t len, char *out, int plus)
{
	size_t i = 0, o = 0;

	while (i < len) {
		if (in[i] == '%' && len - i >= 3 &&
		    hexv((unsigned char)in[i + 1]) >= 0 &&
		    hexv((unsigned char)in[i + 2]) >= 0) {
			out[o++] = (char)(hexv((unsigned char)in[i + 1]) * 16 +
			    hexv((unsigned char)in[i + 2]));
			i += 3;
		} else {
			out[o++] = plus && in[i] == '+' ? ' ' : in[i];
			i++;
		}
	}
	out[o] = '\0';
	return o;
}

/* Is position k inside an escape the decoder would take (after its
 * '%')?  Cutting there changes the meaning. */
static int
cuts_escape(const char *in, size_t len, size_t k)
{
	size_t i;

	for (i = k >= 2 ? k - 2 : 0; i < k; i++)
		if (in[i] == '%' && i + 2 < len &&
		    hexv((unsigned char)in[i + 1]) >= 0 &&
		    hexv((unsigned char)in[i + 2]) >= 0)
			return 1;
	return 0;
}

static void
check_decode(const char *in, size_t len, int plus, uint32_t *seed)
{
	char *out = malloc(len + 1), *ref = malloc(len + 1);
	char *a = malloc(len + 1);
	size_t n, rn, k, na, nb;

	if (!out || !ref || !a)
		abort();
	n = url_decode(in, len, out, plus);
	CHECK(n <= len, "decoded %zu from %zu", n, len);
	CHECK(out[n] == '\0', "not terminated");
	rn = ref_decode(in, len, ref, plus);
	CHECK(rn == n && !memcmp(ref, out, n), "differs from the reference");
	if (!memchr(in, '%', len) && (!plus || !memchr(in, '+', len)))
		CHECK(n == len && !memcmp(in, out, len), "plain text changed");
	/* Two pieces. */
	k = fuzz_rand(seed) % (len + 1);
	{
		/* Exact allocations, so a look past either half is caught. */
		char *h1 = fuzz_dup((const uint8_t *)in, k);
		char *h2 = fuzz_dup((const uint8_t *)in + k, len - k);

		na = url_decode(h1, k, a, plus);
		nb = url_decode(h2, len - k, a + na, plus);
		if (!cuts_escape(in, len, k))
			CHECK(na + nb == n && !memcmp(a, out, n),
			    "cut at %zu "
			    "decodes differently",
			    k);
		free(h1);
		free(h2);
	}
	free(out);
	free(ref);
	free(a);
}

/* Is s[0..n) "." or ".." (decoded: no escapes left)? */
static int
plain_dots(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') ||
	    (n == 2 && s[0] == '.' && s[1] == '.');
}

/* The reference resolver for rest strings without '%'. */
static int
ref_resolve(const char *in, char *out)
{
	const char *seg[4096];
	size_t len[4096], n = 0, l, i;
	const char *p = in;
	int last, trail = 0;

	for (;;) {
		l = strcspn(p, "/");
		last = p[l] == '\0';
		if (n >= 4096)
			return 1; /* too long to check */
		if (plain_dots(p, l) && l == 2) {
			if (n == 0)
				return URL_DOTS_ABOVE;
			n--;
			trail = last;
		} else if (plain_dots(p, l))
			trail = last;
		else {
			seg[n] = p;
			len[n++] = l;
			trail = 0;
		}
		if (last)
			break;
		p += l + 1;
	}
	*out = '\0';
	for (i = 0; i < n; i++) {
		strncat(out, seg[i], len[i]);
		if (i + 1 < n || trail)
			strcat(out, "/");
	}
	return 0;
}

static void
check_resolve(const char *s)
{
	size_t len = strlen(s), l;
	char *r = strdup(s), *again, *ref, *d, *p;
	int rv;

	if (r == NULL || (ref = malloc(2 * len + 2)) == NULL)
		abort();
	rv = url_resolve_rest(r);
	CHECK(rv == 0 || rv == URL_DOTS_ABOVE || rv == URL_DOTS_SLASH, "rv %d",
	    rv);
	if (!strchr(s, '%') && strlen(s) < 4096) {
		int want = ref_resolve(s, ref);

		if (want != 1)
			CHECK(rv == want && (rv != 0 || !strcmp(r, ref)),
			    "'%s': %d '%s', reference %d '%s'", s, rv,
			    rv ? "" : r, want, want ? "" : ref);
	}
	if (rv != 0)
		goto done;
	CHECK(strlen(r) <= len, "grew");
	/* Decoded and split at every '/': no "." or ".." anywhere. */
	CHECK((d = url_decode_str(r, NULL)) != NULL, "decode");
	for (p = d;; p += l + 1) {
		l = strcspn(p, "/");
		CHECK(!plain_dots(p, l),
		    "'%s' resolves to '%s', with a "
		    "dot-segment once decoded",
		    s, r);
		if (p[l] == '\0')
			break;
	}
	free(d);
	CHECK((again = strdup(r)) != NULL, "strdup");
	CHECK(url_resolve_rest(again) == 0 && !strcmp(again, r),
	    "'%s' is not resolved", r);
	free(again);
done:
	free(ref);
	free(r);
}

static void
check_cstring(const char *s)
{
	struct buf b = BUF_INIT;
	const char *p, *q;
	char *d, *rest;
	size_t n, len = strlen(s);

	CHECK((d = url_decode_str(s, &n)) != NULL, "decode_str");
	{
		char *o = malloc(len + 1);
		size_t m;

		if (o == NULL)
			abort();
		m = url_decode(s, len, o, 0);
		CHECK(m == n && !memcmp(o, d, n), "decode_str differs");
		free(o);
	}
	CHECK(!!url_has_nul(s) == (memchr(d, '\0', n) != NULL), "has_nul");
	free(d);

	CHECK((rest = url_initial_rest(s)) != NULL, "initial_rest");
	p = *s == '/' ? s + 1 : s;
	q = p + strcspn(p, "?");
	CHECK(strlen(rest) == (size_t)(q - p) && !strncmp(rest, p, q - p),
	    "rest '%s' of '%s'", rest, s);
	CHECK(strlen(rest) <= len, "rest grew");
	free(rest);

	CHECK(url_encode_path(&b, s) == 0, "encode_path");
	for (p = b.b_data ? b.b_data : ""; *p; p++) {
		if (*p == '%') {
			CHECK(isxdigit((unsigned char)p[1]) &&
				isxdigit((unsigned char)p[2]),
			    "bad escape");
			p += 2;
			continue;
		}
		CHECK(isalnum((unsigned char)*p) ||
			strchr("/-._~!$&'()*+,;=:@", *p),
		    "byte %#x left bare", (unsigned char)*p);
	}
	CHECK((d = url_decode_str(b.b_data ? b.b_data : "", &n)) != NULL,
	    "decode");
	CHECK(n == len && !memcmp(d, s, len),
	    "encode_path does not round-"
	    "trip");
	free(d);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed = fuzz_seed(data, size);
	char *in = fuzz_dup(data, size), *s;
	int plus = size > 0 && (data[0] & 1);

	check_decode(in, size, plus, &seed);
	check_decode(in, size, !plus, &seed);
	/* The C-string functions get the input up to its first NUL. */
	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	check_cstring(s);
	check_resolve(s);
	free(s);
	free(in);
	return 0;
}
