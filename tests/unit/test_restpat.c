/*
 * test_restpat.c: patplex's restpat templates and point rules, through
 * its configuration reader (conf.c) and ruleset_route() (match.c): each
 * row is a stanza, a request and the rest string (or status, or error)
 * it gives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "patplex.h"
#include "req.h"
#include "tap.h"

static int nreported;

static void
report(const char *msg)
{
	nreported++;
	printf("# reported: %s\n", msg);
}

static const struct {
	int line;
	const char *rules; /* indented lines of one match */
	const char *rest;  /* the request's rest string */
	const char *host;  /* Host header, or NULL */
	int status;	   /* 0: routed; else 404/414/503; -1 bad */
	const char *want;  /* the rest string after routing */
} rows[] = {
	{ __LINE__, "point ^a/", "a/b/c", NULL, 0, "b/c" },
	{ __LINE__, "point ^a/(.*)$ s\n restpat x/$1", "a/b", NULL, 0, "x/b" },
	{ __LINE__, "point ^(a)/(b) s\n restpat $2$1$0", "a/b/c", NULL, 0,
	    "baa/b" },
	{ __LINE__, "url ^/p/(.*)$ s\n restpat $1-$_", "r", NULL, 0, "r-r" },
	{ __LINE__, "point ^x\n restpat $$-$_", "xyz", NULL, 0, "$-xyz" },
	{ __LINE__, "point ^\n restpat ${Host}/$_", "a", "h.example", 0,
	    "h.example/a" },
	{ __LINE__, "point ^\n restpat [${X-None}]", "a", NULL, 0, "[]" },
	{ __LINE__, "point ^(a)?b s\n restpat <$1>", "b", NULL, 0, "<>" },
	{ __LINE__, "point ^a.b qs\n restpat $0", "a%20b/c", NULL, 0, "a%20b" },
	{ __LINE__, "point ^nomatch", "a", NULL, 404, NULL },
	{ __LINE__, "point ^(a) s\n restpat $2", "a", NULL, -1, NULL },
	{ __LINE__, "point ^a\n restpat $x", "a", NULL, -1, NULL },
	{ __LINE__, "point ^a\n restpat ${", "a", NULL, -1, NULL },
	{ __LINE__, "point ^a\n restpat one\n restpat two", "a", NULL, -1,
	    NULL },
};

/* Write one configuration of the row's stanza; its path. */
static char *
write_conf(const char *rules)
{
	static char path[] = "/tmp/test_restpat.XXXXXX";
	const char *p;
	FILE *f;
	int fd;

	strcpy(path + strlen(path) - 6, "XXXXXX");
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		abort();
	fprintf(f, "child h\n    exec true\nmatch\n    ");
	for (p = rules; *p; p++)
		fputs(*p == '\n' ? "\n   " : (char[]){ *p, 0 }, f);
	fprintf(f, "\n    handler h\n");
	fclose(f);
	return path;
}

int
main(void)
{
	const struct pattern *p;
	struct ruleset *rs;
	struct config *cf;
	struct req *r;
	size_t i;
	char *path, url[256];
	int st;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		path = write_conf(rows[i].rules);
		nreported = 0;
		cf = conf_read(path, report);
		unlink(path);
		if (cf == NULL)
			abort();
		rs = ruleset_new(cf, NULL, report);
		if (rows[i].status == -1) {
			ok_at(rows[i].line, rs->rs_nerrors > 0 && nreported > 0,
			    "row %d: refused", rows[i].line);
			ruleset_free(rs);
			continue;
		}
		if (!ok_at(rows[i].line, rs->rs_nerrors == 0,
			"row %d: accepted", rows[i].line)) {
			ruleset_free(rs);
			continue;
		}
		snprintf(url, sizeof(url), "/p/%s", rows[i].rest);
		if ((r = req_new("GET", url, "HTTP/1.1", rows[i].rest)) ==
			NULL ||
		    (rows[i].host &&
			req_add_header(r, "Host", rows[i].host) == -1))
			abort();
		st = ruleset_route(rs, r, &p);
		is_int_at(rows[i].line, st, rows[i].status, "the status");
		if (st == 0 && rows[i].want)
			is_str_at(rows[i].line, r->r_rest, rows[i].want,
			    "the rest string");
		req_free(r);
		ruleset_free(rs);
	}
	return tap_done();
}
