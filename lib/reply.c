/*
 * reply.c: the responses a handler writes itself (see http.h): the
 * small HTML error page, a whole response with a body, and writing a
 * buffer out.  http_error() allocates nothing, so that a request can
 * still be answered 503 when memory has run out.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"

/* Append s to b with the HTML special characters escaped. */
static int
html_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		const char *e = *s == '<' ? "&lt;"
		    : *s == '>'		  ? "&gt;"
		    : *s == '&'		  ? "&amp;"
		    : *s == '"'		  ? "&quot;"
					  : NULL;

		if ((e ? buf_appends(b, e) : buf_appendc(b, *s)) == -1)
			return -1;
	}
	return 0;
}

int
http_error_format(struct buf *b, int status, const char *msg, const char *extra)
{
	struct buf body = BUF_INIT;
	const char *reason = http_reason(status);
	int rv = -1;

	if (buf_printf(&body,
		"<!DOCTYPE html>\n<html><head><title>%d %s"
		"</title></head>\n<body><h1>%d %s</h1>\n",
		status, reason, status, reason) == -1)
		goto done;
	if (msg && *msg &&
	    (buf_appends(&body, "<p>") == -1 || html_escape(&body, msg) == -1 ||
		buf_appends(&body, "</p>\n") == -1))
		goto done;
	if (buf_appends(&body, "</body></html>\n") == -1)
		goto done;
	if (buf_printf(b,
		"HTTP/1.1 %d %s\r\nContent-Type: text/html; "
		"charset=utf-8\r\nContent-Length: %zu\r\n%s\r\n",
		status, reason, body.b_len, extra ? extra : "") == -1 ||
	    buf_append(b, body.b_data, body.b_len) == -1)
		goto done;
	rv = 0;
done:
	buf_free(&body);
	return rv;
}

/* Append s to the fixed buffer b (room n, used *lp) HTML-escaped, as
 * much as fits. */
static void
html_escape_into(char *b, size_t n, size_t *lp, const char *s)
{
	const char *e;
	size_t el;

	for (; *s; s++) {
		e = *s == '<'	? "&lt;"
		    : *s == '>' ? "&gt;"
		    : *s == '&' ? "&amp;"
		    : *s == '"' ? "&quot;"
				: NULL;
		el = e ? strlen(e) : 1;
		if (*lp + el >= n)
			return;
		memcpy(b + *lp, e ? e : s, el);
		*lp += el;
	}
}

/*
 * The same page as http_error_format(), made without allocating: an
 * error page is what a request gets when memory has run out.  A very
 * long msg is cut.
 */
int
http_error(int fd, int status, const char *msg)
{
	const char *reason = http_reason(status);
	char body[1024], out[1024 + 256];
	size_t bl = 0;
	int n;

	n = snprintf(body, sizeof(body),
	    "<!DOCTYPE html>\n<html><head>"
	    "<title>%d %s</title></head>\n<body><h1>%d %s</h1>\n",
	    status, reason, status, reason);
	if (n < 0 || (size_t)n >= sizeof(body) - 64)
		return -1;
	bl = (size_t)n;
	if (msg && *msg) {
		memcpy(body + bl, "<p>", 3);
		bl += 3;
		html_escape_into(body, sizeof(body) - 32, &bl, msg);
		memcpy(body + bl, "</p>\n", 5);
		bl += 5;
	}
	memcpy(body + bl, "</body></html>\n", 15);
	bl += 15;
	n = snprintf(out, sizeof(out) - bl,
	    "HTTP/1.1 %d %s\r\nContent-Type: "
	    "text/html; charset=utf-8\r\nContent-Length: %zu\r\n\r\n",
	    status, reason, bl);
	if (n < 0 || (size_t)n >= sizeof(out) - bl)
		return -1;
	memcpy(out + n, body, bl);
	return http_write_all(fd, out, (size_t)n + bl);
}

int
http_reply(int fd, int status, const char *ctype, const char *extra,
    const void *body, size_t len)
{
	struct buf b = BUF_INIT;
	int rv = -1;

	if (buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, http_reason(status)) ==
		-1 ||
	    (ctype && buf_printf(&b, "Content-Type: %s\r\n", ctype) == -1) ||
	    buf_printf(&b, "Content-Length: %zu\r\n%s\r\n", len,
		extra ? extra : "") == -1 ||
	    buf_append(&b, body, len) == -1)
		goto done;
	rv = http_write_all(fd, b.b_data, b.b_len);
done:
	buf_free(&b);
	return rv;
}

int
http_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
