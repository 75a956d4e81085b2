/*
 * buf.c: growable byte buffer with overflow-checked growth.
 *
 * Invariant: b_data is NULL iff b_cap == 0; otherwise b_len < b_cap and
 * b_data[b_len] == '\0'.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->b_data = NULL;
	b->b_len = b->b_cap = 0;
	b->b_max = max;
}

int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, ncap;
	char *n;

	if (extra > SIZE_MAX - b->b_len - 1) {
		errno = ENOMEM;
		return -1;
	}
	need = b->b_len + extra + 1;
	if (b->b_max && need - 1 > b->b_max) {
		errno = EMSGSIZE;
		return -1;
	}
	if (need <= b->b_cap)
		return 0;
	ncap = b->b_cap ? b->b_cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if ((n = realloc(b->b_data, ncap)) == NULL)
		return -1;
	b->b_data = n;
	b->b_cap = ncap;
	b->b_data[b->b_len] = '\0';
	return 0;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) == -1)
		return -1;
	if (len)
		memcpy(b->b_data + b->b_len, data, len);
	b->b_len += len;
	b->b_data[b->b_len] = '\0';
	return 0;
}

int
buf_appendc(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_appends(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_appendz(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s) + 1);
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) == -1)
		return -1;
	vsnprintf(b->b_data + b->b_len, (size_t)n + 1, fmt, ap);
	b->b_len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rv;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->b_len) {
		buf_clear(b);
		return;
	}
	memmove(b->b_data, b->b_data + n, b->b_len - n);
	b->b_len -= n;
	b->b_data[b->b_len] = '\0';
}

void
buf_clear(struct buf *b)
{
	b->b_len = 0;
	if (b->b_data)
		b->b_data[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->b_data);
	b->b_data = NULL;
	b->b_len = b->b_cap = 0;
}

char *
buf_detach(struct buf *b, size_t *lenp)
{
	char *d;

	if (b->b_data == NULL && buf_reserve(b, 0) == -1)
		return NULL;
	d = b->b_data;
	if (lenp)
		*lenp = b->b_len;
	b->b_data = NULL;
	b->b_len = b->b_cap = 0;
	return d;
}
