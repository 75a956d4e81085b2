/*
 * url.c: percent-decoding, the initial rest string and its
 * dot-segments.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "url.h"

int
url_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
url_decode(const char *in, size_t len, char *out, int plus)
{
	size_t i, o = 0;
	int h, l;

	for (i = 0; i < len; i++) {
		if (in[i] == '%' && len - i >= 3 &&
		    (h = url_hexval((unsigned char)in[i + 1])) >= 0 &&
		    (l = url_hexval((unsigned char)in[i + 2])) >= 0) {
			out[o++] = (char)(h * 16 + l);
			i += 2;
		} else if (plus && in[i] == '+')
			out[o++] = ' ';
		else
			out[o++] = in[i];
	}
	out[o] = '\0';
	return o;
}

char *
url_decode_str(const char *s, size_t *lenp)
{
	size_t len = strlen(s), n;
	char *out;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	n = url_decode(s, len, out, 0);
	if (lenp)
		*lenp = n;
	return out;
}

int
url_has_nul(const char *s)
{
	size_t n;
	char *d;
	int rv;

	if ((d = url_decode_str(s, &n)) == NULL)
		return 1; /* cannot tell: refuse */
	rv = strlen(d) != n;
	free(d);
	return rv;
}

char *
url_initial_rest(const char *url)
{
	size_t n;
	char *r;

	if (*url == '/')
		url++;
	n = strcspn(url, "?");
	if ((r = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(r, url, n);
	r[n] = '\0';
	return r;
}

/* The byte at s (of n), "%2e"/"%2E" read as '.': its length, or 0 if
 * it is not a dot. */
static size_t
dot_at(const char *s, size_t n)
{
	if (n >= 1 && s[0] == '.')
		return 1;
	if (n >= 3 && s[0] == '%' && s[1] == '2' &&
	    (s[2] == 'e' || s[2] == 'E'))
		return 3;
	return 0;
}

/* 1 if s[0..n) is "." (possibly encoded), 2 if "..", else 0. */
static int
dot_segment(const char *s, size_t n)
{
	size_t a, b;

	if ((a = dot_at(s, n)) == 0)
		return 0;
	if (a == n)
		return 1;
	if ((b = dot_at(s + a, n - a)) == 0 || a + b != n)
		return 0;
	return 2;
}

/* Is s[i..] "%2f", "%2F" or "%00": an escape that decodes to a byte
 * that ends a segment (a slash, or the end of a C string)? */
static int
cut_at(const char *s, size_t i, size_t n)
{
	return i + 2 < n && s[i] == '%' &&
	    ((s[i + 1] == '2' && (s[i + 2] == 'f' || s[i + 2] == 'F')) ||
		(s[i + 1] == '0' && s[i + 2] == '0'));
}

/* Does the segment s[0..n), decoded and cut at every '/' and NUL that
 * decoding makes, hold a dot-segment? */
static int
slash_dots(const char *s, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		if (!cut_at(s, i, n))
			continue;
		if (dot_segment(s + start, i - start))
			return 1;
		start = i + 3;
		i += 2;
	}
	return start > 0 && dot_segment(s + start, n - start);
}

int
url_resolve_rest(char *rest)
{
	size_t in = 0, out = 0, n, len = strlen(rest);
	int dots, last;

	/* Most rest strings have no dot-segment to find. */
	if (!strchr(rest, '.') && !strstr(rest, "%2") && !strstr(rest, "%00"))
		return 0;
	/* out: the resolved segments so far, each followed by its '/'
	 * (the last one's is written only if a segment follows). */
	while (in <= len) {
		n = strcspn(rest + in, "/");
		last = in + n == len;
		dots = dot_segment(rest + in, n);
		if (dots == 0 && slash_dots(rest + in, n))
			return URL_DOTS_SLASH;
		if (dots == 2) {
			if (out == 0)
				return URL_DOTS_ABOVE;
			/* Drop the segment before, and its '/'. */
			for (out--; out > 0 && rest[out - 1] != '/'; out--)
				;
		}
		if (dots == 0) {
			memmove(rest + out, rest + in, n);
			out += n;
			if (!last)
				rest[out++] = '/';
		}
		in += n + 1;
	}
	rest[out] = '\0';
	return 0;
}

int
url_encode(struct buf *b, const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char e[3];

	for (p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(keep, *p)) {
			if (buf_appendc(b, (char)*p) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hex[*p >> 4];
		e[2] = hex[*p & 15];
		if (buf_append(b, e, 3) == -1)
			return -1;
	}
	return 0;
}

int
url_encode_path(struct buf *b, const char *s)
{
	return url_encode(b, s, "/-._~!$&'()*+,;=:@");
}
