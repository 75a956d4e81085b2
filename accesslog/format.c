/*
 * format.c: accesslog's FORMAT strings (accesslog(1), FORMAT).
 *
 * A format is compiled once into a list of items, each a literal run
 * or a field (a letter and its optional {argument}); a malformed format
 * is refused at start-up rather than logged wrong for months.  Every
 * expanded field is escaped (fmt_escape()), so that nothing a client
 * sends can end a line, forge a field or break out of quotes; literal
 * text is the administrator's and is written as it is.  Time fields
 * are formatted once a second per item and kept (escaped) until the
 * second changes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accesslog.h"
#include "buf.h"
#include "http.h"
#include "req.h"

#define RFC822_TIME "%a, %d %b %Y %H:%M:%S %z"
#define TIME_MAX    256 /* longest expanded %t */

struct item {
	char it_c;     /* field letter, or 0: literal */
	char *it_arg;  /* {argument}, literal text, or NULL */
	size_t it_len; /* literal: its length */
	time_t it_sec; /* %t/%T: the second it_cache is for */
	char *it_cache;
	size_t it_clen;
};

struct fmt {
	struct item *f_items;
	size_t f_n;
};

/* Which letters are fields; those in NEEDARG need {HEADER}. */
static const char FIELDS[] = "%huUmvrtTsAHRGciodpP";
static const char NEEDARG[] = "hpP";

void
fmt_free(struct fmt *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->f_n; i++) {
		free(f->f_items[i].it_arg);
		free(f->f_items[i].it_cache);
	}
	free(f->f_items);
	free(f);
}

static int
fmt_add(struct fmt *f, char c, const char *arg, size_t len)
{
	struct item *n, *it;

	if ((n = realloc(f->f_items, (f->f_n + 1) * sizeof(*n))) == NULL)
		return -1;
	f->f_items = n;
	it = &n[f->f_n];
	memset(it, 0, sizeof(*it));
	it->it_c = c;
	it->it_sec = (time_t)-1;
	if (arg != NULL) {
		if ((it->it_arg = malloc(len + 1)) == NULL)
			return -1;
		memcpy(it->it_arg, arg, len);
		it->it_arg[len] = '\0';
		it->it_len = len;
	}
	if ((c == 't' || c == 'T') &&
	    (it->it_cache = malloc(TIME_MAX)) == NULL) {
		free(it->it_arg);
		return -1;
	}
	f->f_n++;
	return 0;
}

static char *
fmt_error(const char *what, size_t pos)
{
	char *s;

	if (asprintf(&s, "format: %s at character %zu", what, pos + 1) == -1)
		return NULL;
	return s;
}

struct fmt *
fmt_compile(const char *s, char **errp)
{
	const char *p, *lit, *arg, *end;
	struct fmt *f;
	size_t alen;

	*errp = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	for (p = s; *p != '\0';) {
		if (*p != '%') {
			for (lit = p; *p != '\0' && *p != '%'; p++)
				;
			if (fmt_add(f, 0, lit, (size_t)(p - lit)) == -1)
				goto fail;
			continue;
		}
		arg = NULL;
		alen = 0;
		if (p[1] == '{') {
			arg = p + 2;
			if ((end = strchr(arg, '}')) == NULL) {
				*errp = fmt_error("unterminated {",
				    (size_t)(p - s));
				goto fail;
			}
			alen = (size_t)(end - arg);
			end++;
		} else
			end = p + 1;
		if (*end == '\0' || strchr(FIELDS, *end) == NULL) {
			*errp = fmt_error(*end ? "unknown field"
					       : "% at the end",
			    (size_t)(end - s));
			goto fail;
		}
		if (strchr(NEEDARG, *end) && alen == 0) {
			*errp = fmt_error("field needs a {HEADER}",
			    (size_t)(end - s));
			goto fail;
		}
		if (*end == '%') {
			if (fmt_add(f, 0, "%", 1) == -1)
				goto fail;
		} else if (fmt_add(f, *end, arg, alen) == -1)
			goto fail;
		p = end + 1;
	}
	return f;
fail:
	fmt_free(f);
	return NULL;
}

/* Escape the n bytes at s (a NUL among them is \x00). */
static int
escape_n(struct buf *b, const char *s, size_t n)
{
	const char *run, *end = s + n;
	unsigned char c;
	char esc[5];

	while (s < end) {
		for (run = s; s < end && (c = (unsigned char)*s) >= 32 &&
		     c < 127 && c != '"' && c != '\\';
		     s++)
			;
		if (s > run && buf_append(b, run, (size_t)(s - run)) == -1)
			return -1;
		if (s == end)
			break;
		c = (unsigned char)*s++;
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c == '\n')
			snprintf(esc, sizeof(esc), "\\n");
		else if (c == '\t')
			snprintf(esc, sizeof(esc), "\\t");
		else
			snprintf(esc, sizeof(esc), "\\x%02x", c);
		if (buf_appends(b, esc) == -1)
			return -1;
	}
	return 0;
}

int
fmt_escape(struct buf *b, const char *s)
{
	return escape_n(b, s, strlen(s));
}

/* A header value, or "-" if absent. */
static int
put_header(struct buf *b, const char *v)
{
	return v == NULL ? buf_appendc(b, '-') : fmt_escape(b, v);
}

static int
put_time(struct buf *b, struct item *it, time_t sec)
{
	char raw[TIME_MAX];
	struct tm tm;
	struct buf cb;
	size_t n;

	if (it->it_sec != sec) {
		if ((it->it_c == 't' ? localtime_r(&sec, &tm)
				     : gmtime_r(&sec, &tm)) == NULL)
			return buf_appendc(b, '-');
		n = strftime(raw, sizeof(raw),
		    it->it_arg && *it->it_arg ? it->it_arg : RFC822_TIME, &tm);
		raw[n] = '\0';
		buf_init(&cb, 0);
		if (fmt_escape(&cb, raw) == -1)
			return -1;
		n = cb.b_len < TIME_MAX ? cb.b_len : TIME_MAX;
		if (n > 0)
			memcpy(it->it_cache, cb.b_data, n);
		it->it_clen = n;
		it->it_sec = sec;
		buf_free(&cb);
	}
	return buf_append(b, it->it_cache, it->it_clen);
}

/* A response header (the extended mode), "X-Ash-" prepended for %P. */
static int
put_resp_header(struct buf *b, const struct logrec *lr, const char *name,
    int ash)
{
	char full[256];

	if (!lr->lr_ext || lr->lr_resp == NULL)
		return buf_appendc(b, '-');
	if (ash) {
		if (snprintf(full, sizeof(full), "X-Ash-%s", name) >=
		    (int)sizeof(full))
			return buf_appendc(b, '-');
		name = full;
	}
	return put_header(b, http_resp_header(lr->lr_resp, name));
}

static int
put_count(struct buf *b, int known, long long n)
{
	return known ? buf_printf(b, "%lld", n) : buf_appendc(b, '-');
}

static int
put_item(struct buf *b, struct item *it, const struct logrec *lr)
{
	const struct req *r = lr->lr_req;
	const char *q;

	switch (it->it_c) {
	case 0:
		return buf_append(b, it->it_arg, it->it_len);
	case 'h':
		return put_header(b, req_header(r, it->it_arg));
	case 'u':
		return fmt_escape(b, r->r_url);
	case 'U':
		q = strchr(r->r_url, '?');
		return escape_n(b, r->r_url,
		    q ? (size_t)(q - r->r_url) : strlen(r->r_url));
	case 'm':
		return fmt_escape(b, r->r_method);
	case 'v':
		return fmt_escape(b, r->r_version);
	case 'r':
		return fmt_escape(b, r->r_rest);
	case 't':
	case 'T':
		return put_time(b, it, lr->lr_when.tv_sec);
	case 's':
		return buf_printf(b, "%06ld", lr->lr_when.tv_nsec / 1000);
	case 'A':
		return put_header(b, req_header(r, "X-Ash-Address"));
	case 'H':
		return put_header(b, req_header(r, "Host"));
	case 'R':
		return put_header(b, req_header(r, "Referer"));
	case 'G':
		return put_header(b, req_header(r, "User-Agent"));
	case 'c':
		return put_count(b, lr->lr_ext && lr->lr_status > 0,
		    lr->lr_status);
	case 'i':
		return put_count(b, lr->lr_ext, lr->lr_in);
	case 'o':
		return put_count(b, lr->lr_ext, lr->lr_out);
	case 'd':
		if (!lr->lr_ext)
			return buf_appendc(b, '-');
		return buf_printf(b, "%lld.%06lld", lr->lr_usec / 1000000,
		    lr->lr_usec % 1000000);
	case 'p':
	case 'P':
		return put_resp_header(b, lr, it->it_arg, it->it_c == 'P');
	}
	return 0;
}

int
fmt_expand(struct fmt *f, const struct logrec *lr, struct buf *b)
{
	size_t i, start = b->b_len;

	for (i = 0; i < f->f_n; i++)
		if (put_item(b, &f->f_items[i], lr) == -1)
			goto fail;
	if (buf_appendc(b, '\n') == -1)
		goto fail;
	return 0;
fail:
	b->b_len = start;
	if (b->b_cap > 0)
		b->b_data[start] = '\0';
	return -1;
}
