/*
 * conf.c: ratequeue's settings file (-c), in the configuration language
 * of ashd(7): one directive a line,
 *
 *	size N		level below which requests pass (> 0, may be
 *			fractional)
 *	rate N		requests a second the level drains (> 0, may be
 *			fractional)
 *	brim N		requests that may wait per client (>= 0)
 *	buckets N	clients remembered at most (>= 1; not in ashd)
 *
 * Values start from the defaults, not from the command line.  A bad
 * value is an error; an unknown directive a warning (as in ashd).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ashlimits.h"
#include "cf.h"
#include "log.h"
#include "ratequeue.h"

#define BUCKETS_LIMIT (1L << 24)

void
conf_default(struct rqconf *c)
{
	c->rc_size = ASH_RATEQUEUE_SIZE;
	c->rc_rate = ASH_RATEQUEUE_RATE;
	c->rc_brim = ASH_RATEQUEUE_BRIM;
	c->rc_buckets = ASH_RATEQUEUE_BUCKETS;
}

/* One directive; an error message (to free), or NULL. */
static char *
conf_line(const struct stanza *s, const struct cfline *l, struct rqconf *c)
{
	const char *d = l->cl_argv[0], *v = l->cl_argv[1];
	char *end;
	double x;
	long n;

	if (strcmp(d, "size") != 0 && strcmp(d, "rate") != 0 &&
	    strcmp(d, "brim") != 0 && strcmp(d, "buckets") != 0) {
		if ((end = stanza_error(s, l, "unknown directive %s", d)))
			log_msg(LOG_WARNING, "%s", end);
		free(end);
		return NULL;
	}
	if (l->cl_argc != 2)
		return stanza_error(s, l, "%s: %s", d,
		    l->cl_argc < 2 ? "missing value" : "one value only");
	errno = 0;
	if (d[0] == 's' || d[0] == 'r') {
		x = strtod(v, &end);
		if (*v == '\0' || *end != '\0' || !isfinite(x) || !(x > 0))
			return stanza_error(s, l,
			    "%s %s: not a positive "
			    "number",
			    d, v);
		*(d[0] == 's' ? &c->rc_size : &c->rc_rate) = x;
		return NULL;
	}
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 ||
	    n < (d[0] == 'b' && d[1] == 'u' ? 1 : 0) || n > BUCKETS_LIMIT)
		return stanza_error(s, l, "%s %s: not a number from %d to %ld",
		    d, v, d[1] == 'u' ? 1 : 0, BUCKETS_LIMIT);
	*(d[1] == 'u' ? &c->rc_buckets : &c->rc_brim) = n;
	return NULL;
}

int
conf_read(const char *path, struct rqconf *c)
{
	struct cfreader *cr;
	struct stanza *s;
	char *err;
	size_t i;
	int rv, errors = 0;

	conf_default(c);
	if ((cr = cf_open(path)) == NULL) {
		log_errno(LOG_ERR, "%s", path);
		return -1;
	}
	while ((rv = cf_next(cr, &s)) != 0) {
		if (rv < 0) {
			log_msg(LOG_ERR, "%s", cf_error(cr));
			errors++;
			continue;
		}
		for (i = 0; i < s->s_nlines; i++) {
			if ((err = conf_line(s, &s->s_lines[i], c)) != NULL) {
				log_msg(LOG_ERR, "%s", err);
				free(err);
				errors++;
			}
		}
		stanza_free(s);
	}
	cf_close(cr);
	return errors ? -1 : 0;
}
