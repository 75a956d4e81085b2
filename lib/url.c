/*
 * url.c: percent-decoding and the initial rest string.
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
		return 1;	/* cannot tell: refuse */
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
