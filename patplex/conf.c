/*
 * conf.c: patplex configuration files, and the ruleset made of them.
 *
 * Every regular expression and restpat template is compiled here, once,
 * so that a request only runs regexec(3) and copies strings.  Anything
 * that could go wrong with a stanza at request time and can be told from
 * the file is an error here instead: a bad regular expression or flag,
 * a template naming a group its rule does not have, two `s' rules, a
 * handler defined nowhere.  A file with errors is still read to the end
 * so that -t can name every error; main.c never uses it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "child.h"
#include "log.h"
#include "patplex.h"

/* An HTTP token (RFC 9110 5.6.2), as header names are. */
static int
is_token(const char *s)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";

	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || strchr(tchar, *s) != NULL))
			return 0;
	return 1;
}

static int
has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static void
pattern_free(struct pattern *p)
{
	size_t i;

	for (i = 0; i < p->p_nrules; i++) {
		free(p->p_rules[i].ru_header);
		if (p->p_rules[i].ru_hasre)
			regfree(&p->p_rules[i].ru_re);
	}
	free(p->p_rules);
	for (i = 0; i < p->p_ntmpl; i++)
		free(p->p_tmpl[i].t_text);
	free(p->p_tmpl);
	free(p->p_handler);
	cf_strv_free(p->p_set);
	free(p->p_file);
	free(p);
}

/* What parse_match keeps track of beyond the pattern itself. */
struct mparse {
	struct cfread *mp_rd;
	const struct stanza *mp_s;
	struct pattern *mp_p;
	int mp_bad;
	int mp_action; /* handler or reparse seen */
	int mp_default;
	int mp_haspri;
	const struct cfline *mp_tline; /* the restpat line */
	int mp_maxgroup;	       /* highest $N used, -1 */
};

#define MERR(mp, l, ...) \
	do { \
		cf_err((mp)->mp_rd, (mp)->mp_s, (l), __VA_ARGS__); \
		(mp)->mp_bad = 1; \
	} while (0)

/* point/url/method REGEX [FLAGS], header NAME REGEX [FLAGS]. */
static void
parse_rule(struct mparse *mp, const struct cfline *l, enum rtype type)
{
	struct pattern *p = mp->mp_p;
	struct rule *ru;
	const char *w = l->cl_argv[0], *re, *fl;
	char errbuf[256];
	int first = type == R_HEADER ? 2 : 1, rc, flags = 0;

	if (l->cl_argc < first + 1 || l->cl_argc > first + 2) {
		MERR(mp, l,
		    type == R_HEADER ? "header takes a header name, "
				       "a regular expression and optional flags"
				     : "%s takes a "
				       "regular expression and optional flags",
		    w);
		return;
	}
	if (type == R_HEADER && !is_token(l->cl_argv[1])) {
		MERR(mp, l, "bad header name \"%s\"", l->cl_argv[1]);
		return;
	}
	re = l->cl_argv[first];
	fl = l->cl_argc > first + 1 ? l->cl_argv[first + 1] : "";
	for (; *fl; fl++) {
		if (*fl == 'i')
			flags |= RF_ICASE;
		else if (*fl == 's')
			flags |= RF_SUB;
		else if (*fl == 'q')
			flags |= RF_DECODE;
		else {
			MERR(mp, l, "unknown flag '%c' (flags are i, s and q)",
			    *fl);
			return;
		}
	}
	p->p_rules = xrealloc(p->p_rules,
	    (p->p_nrules + 1) * sizeof(*p->p_rules));
	ru = &p->p_rules[p->p_nrules];
	memset(ru, 0, sizeof(*ru));
	rc = regcomp(&ru->ru_re, re,
	    REG_EXTENDED | (flags & RF_ICASE ? REG_ICASE : 0));
	if (rc != 0) {
		regerror(rc, &ru->ru_re, errbuf, sizeof(errbuf));
		MERR(mp, l, "bad regular expression \"%s\": %s", re, errbuf);
		return;
	}
	ru->ru_hasre = 1;
	ru->ru_type = type;
	ru->ru_flags = flags;
	ru->ru_line = l->cl_lineno;
	if (type == R_HEADER)
		ru->ru_header = xstrdup(l->cl_argv[1]);
	p->p_nrules++;
}

static void
tmpl_add(struct pattern *p, enum tkind kind, int group, const char *text,
    size_t len)
{
	struct tpart *t;
	size_t ol;

	/* Literal text runs are merged into one piece. */
	if (kind == T_TEXT && p->p_ntmpl > 0 &&
	    p->p_tmpl[p->p_ntmpl - 1].t_kind == T_TEXT) {
		t = &p->p_tmpl[p->p_ntmpl - 1];
		ol = strlen(t->t_text);
		t->t_text = xrealloc(t->t_text, ol + len + 1);
		memcpy(t->t_text + ol, text, len);
		t->t_text[ol + len] = '\0';
		return;
	}
	p->p_tmpl = xrealloc(p->p_tmpl, (p->p_ntmpl + 1) * sizeof(*p->p_tmpl));
	t = &p->p_tmpl[p->p_ntmpl++];
	t->t_kind = kind;
	t->t_group = group;
	t->t_text = NULL;
	if (text != NULL) {
		t->t_text = xmalloc(len + 1);
		memcpy(t->t_text, text, len);
		t->t_text[len] = '\0';
	}
}

/* restpat TEMPLATE: $0-$9, $_, $$, ${HEADER}; anything else after a $
 * is an error rather than text, so that typos show. */
static void
parse_restpat(struct mparse *mp, const struct cfline *l)
{
	struct pattern *p = mp->mp_p;
	const char *t, *e;
	char name[256];

	if (l->cl_argc != 2) {
		MERR(mp, l, "restpat takes one template");
		return;
	}
	if (mp->mp_tline != NULL) {
		MERR(mp, l, "restpat given twice");
		return;
	}
	mp->mp_tline = l;
	/* An empty template is an empty rest string: one empty piece. */
	tmpl_add(p, T_TEXT, 0, "", 0);
	for (t = l->cl_argv[1]; *t; t++) {
		if (*t != '$') {
			tmpl_add(p, T_TEXT, 0, t, 1);
			continue;
		}
		t++;
		if (*t >= '0' && *t <= '9') {
			tmpl_add(p, T_GROUP, *t - '0', NULL, 0);
			if (*t - '0' > mp->mp_maxgroup)
				mp->mp_maxgroup = *t - '0';
		} else if (*t == '_')
			tmpl_add(p, T_REST, 0, NULL, 0);
		else if (*t == '$')
			tmpl_add(p, T_TEXT, 0, "$", 1);
		else if (*t == '{') {
			if ((e = strchr(t, '}')) == NULL) {
				MERR(mp, l, "restpat: \"${\" without \"}\"");
				return;
			}
			if ((size_t)(e - t - 1) >= sizeof(name)) {
				MERR(mp, l, "restpat: header name too long");
				return;
			}
			memcpy(name, t + 1, (size_t)(e - t - 1));
			name[e - t - 1] = '\0';
			if (!is_token(name)) {
				MERR(mp, l, "restpat: bad header name \"%s\"",
				    name);
				return;
			}
			tmpl_add(p, T_HEADER, 0, name, strlen(name));
			t = e;
		} else {
			MERR(mp, l,
			    "restpat: \"$\" must be followed by a "
			    "digit, _, $ or {HEADER} (write $$ for a $)");
			return;
		}
	}
}

static void
parse_priority(struct mparse *mp, const struct cfline *l)
{
	char *end;
	long v;

	if (l->cl_argc != 2) {
		MERR(mp, l, "%s takes one number", l->cl_argv[0]);
		return;
	}
	if (mp->mp_haspri) {
		MERR(mp, l, "priority given twice");
		return;
	}
	errno = 0;
	v = strtol(l->cl_argv[1], &end, 10);
	if (end == l->cl_argv[1] || *end != '\0' || errno != 0 || v < INT_MIN ||
	    v > INT_MAX) {
		MERR(mp, l, "%s: \"%s\" is not a number", l->cl_argv[0],
		    l->cl_argv[1]);
		return;
	}
	mp->mp_haspri = 1;
	mp->mp_p->p_priority = (int)v;
}

/* One indented line of a match stanza. */
static void
parse_mline(struct mparse *mp, const struct cfline *l)
{
	struct pattern *p = mp->mp_p;
	const char *w = l->cl_argv[0];
	char hdr[512];

	if (!strcmp(w, "point"))
		parse_rule(mp, l, R_POINT);
	else if (!strcmp(w, "url"))
		parse_rule(mp, l, R_URL);
	else if (!strcmp(w, "method"))
		parse_rule(mp, l, R_METHOD);
	else if (!strcmp(w, "header"))
		parse_rule(mp, l, R_HEADER);
	else if (!strcmp(w, "all") || !strcmp(w, "default")) {
		if (l->cl_argc != 1) {
			MERR(mp, l, "%s takes no arguments", w);
			return;
		}
		p->p_rules = xrealloc(p->p_rules,
		    (p->p_nrules + 1) * sizeof(*p->p_rules));
		memset(&p->p_rules[p->p_nrules], 0, sizeof(*p->p_rules));
		p->p_rules[p->p_nrules].ru_type = R_ALL;
		p->p_rules[p->p_nrules++].ru_line = l->cl_lineno;
		if (w[0] == 'd')
			mp->mp_default = 1;
	} else if (!strcmp(w, "handler") || !strcmp(w, "reparse")) {
		if (mp->mp_action)
			MERR(mp, l,
			    "a match has exactly one action "
			    "(handler or reparse)");
		else if (w[0] == 'h' && l->cl_argc != 2)
			MERR(mp, l, "handler takes one name");
		else if (w[0] == 'r' && l->cl_argc != 1)
			MERR(mp, l, "reparse takes no arguments");
		else if (w[0] == 'h')
			p->p_handler = xstrdup(l->cl_argv[1]);
		mp->mp_action = 1;
		p->p_hline = l->cl_lineno;
	} else if (!strcmp(w, "priority") || !strcmp(w, "order"))
		parse_priority(mp, l);
	else if (!strcmp(w, "set") || !strcmp(w, "xset")) {
		if (l->cl_argc != 3)
			MERR(mp, l, "%s takes a header name and a value", w);
		else if (!is_token(l->cl_argv[1]) ||
		    strlen(l->cl_argv[1]) > 256)
			MERR(mp, l, "bad header name \"%s\"", l->cl_argv[1]);
		else if (has_ctl(l->cl_argv[2]))
			MERR(mp, l, "control character in the value of %s", w);
		else {
			snprintf(hdr, sizeof(hdr), "%s%s",
			    w[0] == 'x' ? "X-Ash-" : "", l->cl_argv[1]);
			if (cf_set_add(&p->p_set, hdr, l->cl_argv[2]) == -1)
				log_die(1, "out of memory");
		}
	} else if (!strcmp(w, "restpat"))
		parse_restpat(mp, l);
	else
		MERR(mp, l, "unknown match line \"%s\"", w);
}

/* Which rule feeds $0-$9: the one flagged s, else the first with a
 * regular expression; and is every $N used within its groups? */
static void
check_groups(struct mparse *mp)
{
	struct pattern *p = mp->mp_p;
	const struct cfline *l = NULL;
	size_t i, k;

	p->p_sub = -1;
	for (i = 0; i < p->p_nrules; i++) {
		if (!(p->p_rules[i].ru_flags & RF_SUB))
			continue;
		if (p->p_sub >= 0) {
			for (k = 1; k < mp->mp_s->s_nlines; k++)
				if (mp->mp_s->s_lines[k].cl_lineno ==
				    p->p_rules[i].ru_line)
					l = &mp->mp_s->s_lines[k];
			MERR(mp, l,
			    "only one rule of a match may have the "
			    "flag s");
			return;
		}
		p->p_sub = (int)i;
	}
	if (mp->mp_maxgroup < 0)
		return;
	for (i = 0; p->p_sub < 0 && i < p->p_nrules; i++)
		if (p->p_rules[i].ru_hasre)
			p->p_sub = (int)i;
	if (p->p_sub < 0) {
		MERR(mp, mp->mp_tline,
		    "restpat uses $%d, but the match has "
		    "no rule with a regular expression",
		    mp->mp_maxgroup);
		return;
	}
	if (p->p_rules[p->p_sub].ru_re.re_nsub < (size_t)mp->mp_maxgroup)
		MERR(mp, mp->mp_tline,
		    "restpat uses $%d, but the regular "
		    "expression of line %d has %zu group(s)",
		    mp->mp_maxgroup, p->p_rules[p->p_sub].ru_line,
		    p->p_rules[p->p_sub].ru_re.re_nsub);
}

static struct pattern *
parse_match(struct cfread *rd, const struct stanza *s)
{
	struct mparse mp;
	size_t i;

	memset(&mp, 0, sizeof(mp));
	mp.mp_rd = rd;
	mp.mp_s = s;
	mp.mp_maxgroup = -1;
	mp.mp_p = xcalloc(1, sizeof(*mp.mp_p));
	mp.mp_p->p_line = s->s_line;
	mp.mp_p->p_file = xstrdup(s->s_file);
	mp.mp_p->p_sub = -1;
	if (s->s_lines[0].cl_argc != 1)
		MERR(&mp, NULL, "match takes no arguments");
	for (i = 1; i < s->s_nlines; i++)
		parse_mline(&mp, &s->s_lines[i]);
	if (!mp.mp_bad && mp.mp_p->p_nrules == 0)
		MERR(&mp, NULL, "match has no rules");
	if (!mp.mp_bad && !mp.mp_action)
		MERR(&mp, NULL, "match has no action (handler or reparse)");
	if (!mp.mp_bad)
		check_groups(&mp);
	if (mp.mp_default && !mp.mp_haspri)
		mp.mp_p->p_priority = -10;
	if (mp.mp_bad) {
		pattern_free(mp.mp_p);
		return NULL;
	}
	return mp.mp_p;
}

/* One stanza into cf (cf_read()'s callback); errors reported. */
static void
conf_stanza(struct cfread *rd, const struct stanza *s, void *arg)
{
	struct config *cf = arg;
	const char *w = s->s_lines[0].cl_argv[0];
	struct pattern *p, **tail;

	if (child_is_stanza(s))
		child_conf(rd, s, &cf->cf_children);
	else if (!strcmp(w, "match")) {
		if ((p = parse_match(rd, s)) != NULL) {
			for (tail = &cf->cf_patterns; *tail;
			     tail = &(*tail)->p_next)
				;
			*tail = p;
			cf->cf_npatterns++;
		}
	} else
		cf_err(rd, s, NULL, "unknown directive \"%s\"", w);
}

struct config *
conf_read(const char *path, void (*report)(const char *))
{
	struct cfread rd = { report, 0, 0 };
	struct config *cf;
	int e;

	cf = xcalloc(1, sizeof(*cf));
	cf->cf_path = xstrdup(path);
	if (cf_read(path, &rd, conf_stanza, cf) == -1) {
		e = errno;
		conf_free(cf);
		errno = e;
		return NULL;
	}
	cf->cf_nerrors = rd.rd_nerrors;
	return cf;
}

void
conf_free(struct config *cf)
{
	struct pattern *p, *next;

	if (cf == NULL)
		return;
	child_free_list(cf->cf_children);
	for (p = cf->cf_patterns; p; p = next) {
		next = p->p_next;
		pattern_free(p);
	}
	free(cf->cf_path);
	free(cf);
}

struct child *
ruleset_child(const struct ruleset *rs, const char *name)
{
	struct child *ch;

	if ((ch = child_find(rs->rs_local->cf_children, name)) != NULL)
		return ch;
	return rs->rs_global ? child_find(rs->rs_global->cf_children, name)
			     : NULL;
}

static void
order_add(struct ruleset *rs, struct config *cf)
{
	struct pattern *p;

	if (cf == NULL)
		return;
	for (p = cf->cf_patterns; p; p = p->p_next)
		rs->rs_order[rs->rs_n++] = p;
}

struct ruleset *
ruleset_new(struct config *local, struct config *global,
    void (*report)(const char *))
{
	struct ruleset *rs;
	struct pattern *p;
	struct config *cfs[2] = { local, global };
	size_t n, i;
	char *e;
	int k;

	rs = xcalloc(1, sizeof(*rs));
	rs->rs_local = local;
	rs->rs_global = global;
	n = local->cf_npatterns + (global ? global->cf_npatterns : 0);
	rs->rs_order = xcalloc(n ? n : 1, sizeof(*rs->rs_order));
	order_add(rs, local);
	order_add(rs, global);
	/*
	 * Precedence: priority, then CONFIGFILE before the global file,
	 * then file order.  The array holds CONFIGFILE's stanzas and then
	 * the global file's, each in file order, so a stable sort by
	 * priority alone gives it (insertion sort: configurations are
	 * small, and qsort(3) is not stable).
	 */
	for (i = 1; i < rs->rs_n; i++) {
		size_t j = i;

		p = rs->rs_order[i];
		while (
		    j > 0 && rs->rs_order[j - 1]->p_priority < p->p_priority) {
			rs->rs_order[j] = rs->rs_order[j - 1];
			j--;
		}
		rs->rs_order[j] = p;
	}
	for (k = 0; k < 2; k++) {
		if (cfs[k] == NULL)
			continue;
		rs->rs_nerrors += cfs[k]->cf_nerrors;
		for (p = cfs[k]->cf_patterns; p; p = p->p_next) {
			if (p->p_handler == NULL ||
			    ruleset_child(rs, p->p_handler) != NULL)
				continue;
			if (asprintf(&e, "%s:%d: handler \"%s\" is not defined",
				p->p_file, p->p_hline, p->p_handler) == -1)
				log_die(1, "out of memory");
			report(e);
			free(e);
			rs->rs_nerrors++;
		}
	}
	return rs;
}

void
ruleset_free(struct ruleset *rs)
{
	if (rs == NULL)
		return;
	conf_free(rs->rs_local);
	conf_free(rs->rs_global);
	free(rs->rs_order);
	free(rs);
}

static int
strv_eq(char **a, char **b)
{
	for (; *a && *b; a++, b++)
		if (strcmp(*a, *b))
			return 0;
	return *a == NULL && *b == NULL;
}

/* The children of both files as one ch_next list (CONFIGFILE first,
 * so that child_find() resolves names as requests do); returns the
 * link to undo with list_split(). */
static struct child **
list_join(struct ruleset *rs)
{
	struct child **tail = &rs->rs_local->cf_children;

	while (*tail)
		tail = &(*tail)->ch_next;
	if (rs->rs_global)
		*tail = rs->rs_global->cf_children;
	return tail;
}

static void
list_split(struct child **tail)
{
	*tail = NULL;
}

void
ruleset_adopt(struct ruleset *old, struct ruleset *new)
{
	struct child **ot, **nt, *o, *n;

	ot = list_join(old);
	nt = list_join(new);
	/* A child whose command changed must not keep the old process. */
	for (o = old->rs_local->cf_children; o; o = o->ch_next) {
		if (o->ch_fd < 0 ||
		    (n = child_find(new->rs_local->cf_children, o->ch_name)) ==
			NULL)
			continue;
		if (!strv_eq(o->ch_argv, n->ch_argv) ||
		    (o->ch_dir == NULL) != (n->ch_dir == NULL) ||
		    (o->ch_dir && strcmp(o->ch_dir, n->ch_dir)))
			child_stop(o);
	}
	child_adopt(old->rs_local->cf_children, new->rs_local->cf_children);
	list_split(ot);
	list_split(nt);
}
