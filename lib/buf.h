/*
 * buf.h: the one growable byte buffer of the project.
 *
 * A buffer is {data, len, cap}; data is always NUL-terminated past len
 * when cap > 0, so it can be used as a C string when it holds text.
 * All size arithmetic is overflow-checked: a growth that would overflow
 * or exceed the optional limit (b_max, 0 = none) fails with ENOMEM or
 * EMSGSIZE instead of truncating.  Functions return 0 / -1 with errno.
 */
#ifndef ASHD_BUF_H
#define ASHD_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct buf {
	char *b_data;
	size_t b_len;
	size_t b_cap;
	size_t b_max; /* 0: no limit other than memory */
};

#define BUF_INIT \
	{ \
		NULL, 0, 0, 0 \
	}

void buf_init(struct buf *b, size_t max);
/* Make room for at least `extra` more bytes (plus the NUL). */
int buf_reserve(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_appendc(struct buf *b, char c);
int buf_appends(struct buf *b, const char *s); /* without the NUL */
int buf_appendz(struct buf *b, const char *s); /* with the NUL */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Drop the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
/* Release the memory; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);
/* Hand the (NUL-terminated) data to the caller; the buffer is emptied. */
char *buf_detach(struct buf *b, size_t *lenp);

#endif
