/*
 * options.c: the limits and timeouts set with -o NAME=VALUE, read from
 * one table: a row gives the name, where the value goes in struct
 * options, its kind (which says its type and unit), its default (from
 * ashlimits.h), the range it must be in, and the line `-o help`
 * prints.  A new limit is a field and a row.
 */
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "ashlimits.h"
#include "log.h"

enum optkind {
	OK_SIZE,  /* size_t, bytes or a count */
	OK_LLONG, /* long long, bytes */
	OK_MSEC	  /* uint64_t milliseconds, given in seconds */
};

struct optdef {
	const char *od_name;
	size_t od_off; /* in struct options */
	enum optkind od_kind;
	long long od_def; /* in the field's unit */
	long long od_min, od_max;
	const char *od_doc;
};

#define OFF(f) offsetof(struct options, f)
#define SEC(s) ((long long)(s)*1000)

static const struct optdef optdefs[] = {
	{ "max-line", OFF(o_lim.hl_reqline), OK_SIZE, ASH_REQLINE_MAX, 1,
	    ASH_OPT_SIZE_MAX, "longest request line (414 beyond)" },
	{ "max-head", OFF(o_lim.hl_head), OK_SIZE, ASH_HEAD_MAX, 1,
	    ASH_OPT_SIZE_MAX, "largest request head (431 beyond)" },
	{ "max-headers", OFF(o_lim.hl_headers), OK_SIZE, ASH_HEADERS_MAX, 1,
	    ASH_OPT_SIZE_MAX, "most header fields (431 beyond)" },
	{ "max-body", OFF(o_maxbody), OK_LLONG, ASH_BODY_MAX, 0, LLONG_MAX,
	    "largest request body, 0 for no limit (413)" },
	{ "timeout-head", OFF(o_thead), OK_MSEC, SEC(ASH_TIMEOUT_HEAD), 1,
	    SEC(ASH_OPT_SECS_MAX), "whole request head (408 or close)" },
	{ "timeout-body", OFF(o_tbody), OK_MSEC, SEC(ASH_TIMEOUT_BODY), 1,
	    SEC(ASH_OPT_SECS_MAX), "request body silent (408 or close)" },
	{ "timeout-idle", OFF(o_tidle), OK_MSEC, SEC(ASH_TIMEOUT_IDLE), 1,
	    SEC(ASH_OPT_SECS_MAX), "keep-alive connection idle (close)" },
	{ "timeout-handler", OFF(o_thandler), OK_MSEC, SEC(ASH_TIMEOUT_HANDLER),
	    1, SEC(ASH_OPT_SECS_MAX), "handler silent (504 or close)" },
	{ "timeout-send", OFF(o_tsend), OK_MSEC, SEC(ASH_TIMEOUT_SEND), 1,
	    SEC(ASH_OPT_SECS_MAX), "client not reading the response (close)" },
	{ "min-rate", OFF(o_minrate), OK_SIZE, ASH_MIN_RATE, 0,
	    ASH_OPT_SIZE_MAX,
	    "request head/body bytes a second, 0 for none (408)" },
	{ "min-rate-grace", OFF(o_mrgrace), OK_MSEC, SEC(ASH_MIN_RATE_GRACE), 1,
	    SEC(ASH_OPT_SECS_MAX), "time a head or body has before min-rate" },
	{ "min-rate-window", OFF(o_mrwindow), OK_MSEC, SEC(ASH_MIN_RATE_WINDOW),
	    1, SEC(ASH_OPT_SECS_MAX), "min-rate is measured over each window" },
};
#define NOPTS (sizeof(optdefs) / sizeof(optdefs[0]))

static void
opt_store(struct options *o, const struct optdef *d, long long v)
{
	char *p = (char *)o + d->od_off;

	switch (d->od_kind) {
	case OK_SIZE:
		*(size_t *)(void *)p = (size_t)v;
		break;
	case OK_LLONG:
		*(long long *)(void *)p = v;
		break;
	case OK_MSEC:
		*(uint64_t *)(void *)p = (uint64_t)v;
		break;
	}
}

void
opt_default(struct options *o)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < NOPTS; i++)
		opt_store(o, &optdefs[i], optdefs[i].od_def);
}

/* The value of "NAME=VALUE" for d; 0, or -1 (logged). */
static int
opt_parse(const struct optdef *d, const char *arg, const char *val,
    long long *vp)
{
	char *end;
	double s;

	errno = 0;
	if (d->od_kind == OK_MSEC) {
		s = strtod(val, &end);
		if (*end || errno || !(s > 0) || s * 1000 > (double)d->od_max) {
			log_msg(LOG_ERR, "-o %s: bad number of seconds", arg);
			return -1;
		}
		*vp = (long long)(s * 1000 + 0.5);
		if (*vp < d->od_min)
			*vp = d->od_min;
		return 0;
	}
	*vp = strtoll(val, &end, 10);
	if (*end || errno || *vp < d->od_min || *vp > d->od_max) {
		log_msg(LOG_ERR, "-o %s: bad number", arg);
		return -1;
	}
	return 0;
}

/* "NAME=VALUE"; 0 or -1 (logged). */
int
opt_set(struct options *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t i, nl;
	long long v;

	nl = eq ? (size_t)(eq - arg) : strlen(arg);
	for (i = 0; i < NOPTS; i++)
		if (strlen(optdefs[i].od_name) == nl &&
		    !strncmp(optdefs[i].od_name, arg, nl))
			break;
	if (i == NOPTS || eq == NULL || eq[1] == '\0') {
		log_msg(LOG_ERR, "-o %s: unknown option or missing value", arg);
		return -1;
	}
	if (opt_parse(&optdefs[i], arg, eq + 1, &v) == -1)
		return -1;
	opt_store(o, &optdefs[i], v);
	return 0;
}

/* The names, for the usage: "max-line, max-head, ...". */
void
opt_names(FILE *out, const char *indent, size_t width)
{
	size_t i, col = 0, n;

	for (i = 0; i < NOPTS; i++) {
		n = strlen(optdefs[i].od_name);
		if (i == 0 || col + 2 + n + 1 > width) {
			fprintf(out, "%s%s%s", i ? ",\n" : "", indent,
			    optdefs[i].od_name);
			col = strlen(indent) + n;
		} else {
			fprintf(out, ", %s", optdefs[i].od_name);
			col += 2 + n;
		}
	}
	fputc('\n', out);
}

/* -o help: every option, its default and what it limits. */
void
opt_help(FILE *out)
{
	char def[64];
	size_t i;

	fprintf(out, "-o NAME=VALUE (sizes in bytes, times in seconds):\n");
	for (i = 0; i < NOPTS; i++) {
		const struct optdef *d = &optdefs[i];

		if (d->od_kind == OK_MSEC)
			snprintf(def, sizeof(def), "%s=%g", d->od_name,
			    (double)d->od_def / 1000);
		else
			snprintf(def, sizeof(def), "%s=%lld", d->od_name,
			    d->od_def);
		fprintf(out, "  %-26s %s\n", def, d->od_doc);
	}
}
