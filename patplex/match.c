/*
 * match.c: from a request to the match stanza that takes it, and on to
 * its handler.
 *
 * The stanzas are tried in the ruleset's precedence order and the first
 * whose rules all match wins.  A winning stanza first rewrites the rest
 * string (its restpat, or else what follows its point match) and then
 * sets its headers.  Its action either passes the request on, or
 * (reparse) starts the search again on the rewritten request with every
 * stanza that has already fired disabled: each stanza fires at most
 * once per request, so a request is passed on or answered 404 after at
 * most as many rounds as there are stanzas.
 *
 * Stanzas are disabled by stamping p_fired with the request's serial
 * number, so no per-request state is allocated for it.  Everything else
 * allocated here (decoded subjects, the new rest string) is freed before
 * serve() returns; a failed allocation fails the request with 503.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ashlimits.h"
#include "buf.h"
#include "child.h"
#include "http.h"
#include "log.h"
#include "patplex.h"
#include "req.h"
#include "url.h"

#define NGROUPS 10

/* What a stanza's match leaves for its side effects. */
struct cap {
	char *c_dec;	    /* decoded subject of the sub rule */
	const char *c_subj; /* the subject c_m refers to */
	regmatch_t c_m[NGROUPS];
	int c_have;   /* the sub rule matched */
	int c_encode; /* groups are decoded text */
	size_t c_cut; /* end of the point match in the
					 * raw rest, or SIZE_MAX */
};

static void
cap_clear(struct cap *c)
{
	free(c->c_dec);
	c->c_dec = NULL;
	c->c_subj = NULL;
	c->c_have = 0;
	c->c_encode = 0;
	c->c_cut = SIZE_MAX;
}

/* The offset in raw text at which `declen` bytes of its decoding end
 * (url_decode() without '+' handling: an escape is one byte). */
static size_t
raw_offset(const char *raw, size_t declen)
{
	size_t i = 0, d;

	for (d = 0; d < declen && raw[i]; d++) {
		if (raw[i] == '%' && isxdigit((unsigned char)raw[i + 1]) &&
		    isxdigit((unsigned char)raw[i + 2]))
			i += 3;
		else
			i++;
	}
	return i;
}

/* The text rule ru looks at, or NULL (a missing header). */
static const char *
rule_subject(const struct rule *ru, const struct req *r)
{
	switch (ru->ru_type) {
	case R_POINT:
		return r->r_rest;
	case R_URL:
		return r->r_url;
	case R_METHOD:
		return r->r_method;
	case R_HEADER:
		return req_header(r, ru->ru_header);
	case R_ALL:
		break;
	}
	return NULL;
}

/*
 * Does rule i of p match r?  1 yes, 0 no, -1 out of memory.  The sub
 * rule's groups and the point rule's end are kept in c.  A decoded
 * subject holding a NUL byte (%00) never matches.
 */
static int
rule_match(const struct pattern *p, size_t i, const struct req *r,
    struct cap *c)
{
	const struct rule *ru = &p->p_rules[i];
	regmatch_t m[NGROUPS];
	const char *subj;
	char *dec = NULL;
	size_t n, nm = 0;
	int sub = (int)i == p->p_sub, rc;

	if (ru->ru_type == R_ALL)
		return 1;
	if ((subj = rule_subject(ru, r)) == NULL)
		return 0;
	if (ru->ru_flags & RF_DECODE) {
		if ((dec = url_decode_str(subj, &n)) == NULL)
			return -1;
		if (strlen(dec) != n) {
			free(dec);
			return 0;
		}
		subj = dec;
	}
	if (sub)
		nm = NGROUPS;
	else if (ru->ru_type == R_POINT)
		nm = 1;
	/* glibc's regexec() says REG_NOMATCH also when memory ran out:
	 * errno tells. */
	errno = 0;
	if ((rc = regexec(&ru->ru_re, subj, nm, m, 0)) != 0) {
		rc = rc == REG_ESPACE || errno == ENOMEM ? -1 : 0;
		free(dec);
		return rc;
	}
	if (ru->ru_type == R_POINT)
		c->c_cut = dec ? raw_offset(r->r_rest, (size_t)m[0].rm_eo)
			       : (size_t)m[0].rm_eo;
	if (sub) {
		memcpy(c->c_m, m, sizeof(m));
		c->c_subj = subj;
		c->c_have = 1;
		c->c_encode = dec != NULL;
		c->c_dec = dec;
	} else
		free(dec);
	return 1;
}

/* 1 if every rule of p matches r, 0 if not, -1 out of memory. */
static int
pattern_match(const struct pattern *p, const struct req *r, struct cap *c)
{
	size_t i;
	int rv;

	for (i = 0; i < p->p_nrules; i++)
		if ((rv = rule_match(p, i, r, c)) != 1)
			return rv;
	return 1;
}

/* Expand p's restpat into b. */
static int
expand(const struct pattern *p, const struct req *r, const struct cap *c,
    struct buf *b)
{
	const struct tpart *t;
	const regmatch_t *g;
	const char *v;
	char *piece;
	size_t i;
	int rv;

	for (i = 0; i < p->p_ntmpl; i++) {
		t = &p->p_tmpl[i];
		switch (t->t_kind) {
		case T_TEXT:
			if (buf_appends(b, t->t_text) == -1)
				return -1;
			break;
		case T_REST:
			if (buf_appends(b, r->r_rest) == -1)
				return -1;
			break;
		case T_HEADER:
			if ((v = req_header(r, t->t_text)) != NULL &&
			    buf_appends(b, v) == -1)
				return -1;
			break;
		case T_GROUP:
			g = &c->c_m[t->t_group];
			if (!c->c_have || g->rm_so < 0)
				break;
			if (!c->c_encode) {
				if (buf_append(b, c->c_subj + g->rm_so,
					(size_t)(g->rm_eo - g->rm_so)) == -1)
					return -1;
				break;
			}
			/* Decoded text goes back into the (encoded) rest
			 * string encoded, so it is decoded only once. */
			if ((piece = strndup(c->c_subj + g->rm_so,
				 (size_t)(g->rm_eo - g->rm_so))) == NULL)
				return -1;
			rv = url_encode_path(b, piece);
			free(piece);
			if (rv == -1)
				return -1;
			break;
		}
	}
	return 0;
}

/* The side effects of winning stanza p: the rest string, then the
 * headers.  0, or the status to answer. */
static int
apply(const struct pattern *p, struct req *r, const struct cap *c)
{
	struct buf b;
	char **s;
	int rv = 0;

	buf_init(&b, ASH_DGRAM_MAX);
	if (p->p_tmpl != NULL) {
		if (expand(p, r, c, &b) == -1 || buf_reserve(&b, 0) == -1) {
			rv = errno == EMSGSIZE ? 414 : 503;
			goto done;
		}
		if (req_set_rest(r, b.b_data) == -1) {
			rv = 503;
			goto done;
		}
	} else if (c->c_cut != SIZE_MAX) {
		if (req_set_rest(r, r->r_rest + c->c_cut) == -1) {
			rv = 503;
			goto done;
		}
	}
	for (s = p->p_set; s && *s; s += 2)
		if (req_set_header(r, s[0], s[1]) == -1) {
			rv = 503;
			goto done;
		}
done:
	buf_free(&b);
	return rv;
}

static void
pass_on(const struct ruleset *rs, const struct pattern *p, struct req *r,
    int fd)
{
	struct child *ch;
	char who[LOG_WHO_MAX];

	if ((ch = ruleset_child(rs, p->p_handler)) == NULL) {
		/* ruleset_new() refuses this; kept for safety. */
		log_msg(LOG_ERR, "%s: no handler named \"%s\"",
		    req_describe(r, who, sizeof(who)), p->p_handler);
		http_error(fd, 500, "Server configuration error.");
		return;
	}
	if (child_handle(ch, r, fd) == -1) {
		log_errno(LOG_ERR, "%s: handler %s",
		    req_describe(r, who, sizeof(who)), p->p_handler);
		http_error(fd, errno == ENOENT ? 500 : 503,
		    "The handler is not available.");
	}
}

/* The first stanza not yet fired for this request that matches it. */
static const struct pattern *
find_match(struct ruleset *rs, const struct req *r, unsigned long serial,
    struct cap *c, int *nomem)
{
	struct pattern *p;
	size_t i;
	int rv;

	for (i = 0; i < rs->rs_n; i++) {
		p = rs->rs_order[i];
		if (p->p_fired == serial)
			continue;
		cap_clear(c);
		if ((rv = pattern_match(p, r, c)) == 1) {
			p->p_fired = serial;
			return p;
		}
		if (rv == -1) {
			*nomem = 1;
			return NULL;
		}
	}
	cap_clear(c);
	return NULL;
}

int
ruleset_route(struct ruleset *rs, struct req *r, const struct pattern **pp)
{
	static unsigned long serial;
	const struct pattern *p;
	struct cap c;
	int status, nomem = 0;

	memset(&c, 0, sizeof(c));
	cap_clear(&c);
	serial++;
	for (;;) {
		if ((p = find_match(rs, r, serial, &c, &nomem)) == NULL)
			return nomem ? 503 : 404;
		status = apply(p, r, &c);
		cap_clear(&c);
		if (status != 0)
			return status;
		if (p->p_handler != NULL) {
			*pp = p;
			return 0;
		}
	}
}

void
serve(struct ruleset *rs, struct req *r, int fd)
{
	const struct pattern *p;

	switch (ruleset_route(rs, r, &p)) {
	case 0:
		pass_on(rs, p, r, fd);
		break;
	case 404:
		http_error(fd, 404, "The requested resource was not found.");
		break;
	case 414:
		http_error(fd, 414, "The rewritten request is too long.");
		break;
	default:
		http_error(fd, 503, "Out of memory.");
		break;
	}
}
