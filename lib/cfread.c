/*
 * cfread.c: a program's own configuration through the reader of cf.c
 * (see cf.h, "Reading a program's own configuration"): every stanza
 * handed to the program's parser, errors reported in the reader's form
 * and counted, memory running out counted instead of fatal; and the
 * word lists configurations keep.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cf.h"
#include "log.h"

void
cf_report(struct cfread *rd, const char *msg)
{
	if (rd->rd_report)
		rd->rd_report(msg);
	else
		log_msg(LOG_ERR, "%s", msg);
	rd->rd_nerrors++;
}

void
cf_nomem(struct cfread *rd)
{
	if (rd->rd_nomem++ == 0)
		cf_report(rd, "out of memory");
	else
		rd->rd_nerrors++;
}

void
cf_err(struct cfread *rd, const struct stanza *s, const struct cfline *l,
    const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	char *e = NULL;
	int rv;

	va_start(ap, fmt);
	rv = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rv == 0)
		e = stanza_error(s, l, "%s", b.b_data);
	buf_free(&b);
	if (e == NULL) {
		cf_nomem(rd);
		return;
	}
	cf_report(rd, e);
	free(e);
}

int
cf_read(const char *path, struct cfread *rd,
    void (*stanza)(struct cfread *rd, const struct stanza *s, void *arg),
    void *arg)
{
	struct cfreader *cr;
	struct stanza *s;
	int rv;

	if ((cr = cf_open(path)) == NULL) {
		if (errno == ENOMEM)
			cf_nomem(rd);
		return -1;
	}
	while ((rv = cf_next(cr, &s)) != 0) {
		if (rv < 0) {
			if (cf_out_of_memory(cr))
				cf_nomem(rd);
			else
				cf_report(rd, cf_error(cr));
			continue;
		}
		stanza(rd, s, arg);
		stanza_free(s);
	}
	cf_close(cr);
	if (rd->rd_nomem) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

char **
cf_strv_dup(char *const *v)
{
	size_t n, i;
	char **d;

	for (n = 0; v[n]; n++)
		;
	if ((d = calloc(n + 1, sizeof(*d))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if ((d[i] = strdup(v[i])) == NULL) {
			cf_strv_free(d);
			return NULL;
		}
	}
	return d;
}

void
cf_strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

int
cf_set_add(char ***setp, const char *name, const char *value)
{
	char **set = *setp, *n, *v;
	size_t k = 0;

	if (set)
		for (; set[k]; k++)
			;
	n = strdup(name);
	v = strdup(value);
	if (n == NULL || v == NULL ||
	    (set = realloc(set, (k + 3) * sizeof(*set))) == NULL) {
		free(n);
		free(v);
		return -1;
	}
	set[k] = n;
	set[k + 1] = v;
	set[k + 2] = NULL;
	*setp = set;
	return 0;
}
