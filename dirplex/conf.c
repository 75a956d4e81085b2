/*
 * conf.c: dirplex configuration files, and the cache of .htrc files.
 *
 * A file that has errors is still used for what was right in it, but
 * each error is logged as "file:line: what" and counted; dirplex -t
 * and start-up refuse a global or -c file with errors, and a request
 * whose path crosses a broken .htrc gets 500 (map.c).
 *
 * .htrc files are looked at again at most once a second each, and
 * re-read when their inode, size or mtime changed.  Children defined
 * in a re-read file keep running under the same name (child_adopt()).
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cf.h"
#include "child.h"
#include "dirplex.h"
#include "log.h"

static void
match_free(struct match *m)
{
	size_t i;

	for (i = 0; i < m->m_nrules; i++)
		cf_strv_free(m->m_rules[i].ru_pats);
	free(m->m_rules);
	free(m->m_handler);
	cf_strv_free(m->m_fork);
	cf_strv_free(m->m_set);
	free(m);
}

/* filename/pathname PATTERNS..., default, local; -1 if bad. */
static int
match_rule(struct cfread *rd, const struct stanza *s, const struct cfline *l,
    struct match *m)
{
	const char *w = l->cl_argv[0];
	int pats = w[1] == 'i' || w[1] == 'a';
	struct rule *ru;

	if (pats != (l->cl_argc > 1)) {
		cf_err(rd, s, l,
		    pats ? "%s needs at least one pattern"
			 : "%s takes no arguments",
		    w);
		return -1;
	}
	if ((ru = realloc(m->m_rules,
		 (m->m_nrules + 1) * sizeof(*m->m_rules))) == NULL)
		goto nomem;
	m->m_rules = ru;
	ru = &m->m_rules[m->m_nrules];
	ru->ru_type = w[0] == 'f' ? R_FILENAME
	    : w[0] == 'p'	  ? R_PATHNAME
	    : w[0] == 'd'	  ? R_DEFAULT
				  : R_LOCAL;
	ru->ru_pats = NULL;
	if (pats && (ru->ru_pats = cf_strv_dup(l->cl_argv + 1)) == NULL)
		goto nomem;
	m->m_nrules++;
	if (ru->ru_type == R_DEFAULT)
		m->m_default = 1;
	return 0;
nomem:
	cf_nomem(rd);
	return -1;
}

/* handler NAME, fork PROG ARGS...; -1 if bad. */
static int
match_action(struct cfread *rd, const struct stanza *s, const struct cfline *l,
    struct match *m)
{
	const char *w = l->cl_argv[0];

	if (m->m_handler || m->m_fork) {
		cf_err(rd, s, l,
		    "a match has exactly one action (handler "
		    "or fork)");
		return -1;
	}
	if (l->cl_argc < 2 || (w[0] == 'h' && l->cl_argc != 2)) {
		cf_err(rd, s, l,
		    w[0] == 'h' ? "handler takes one name"
				: "fork needs a program");
		return -1;
	}
	if (w[0] == 'h' ? (m->m_handler = strdup(l->cl_argv[1])) == NULL
			: (m->m_fork = cf_strv_dup(l->cl_argv + 1)) == NULL) {
		cf_nomem(rd);
		return -1;
	}
	return 0;
}

/* set/xset NAME VALUE; -1 if bad. */
static int
match_set(struct cfread *rd, const struct stanza *s, const struct cfline *l,
    struct match *m)
{
	const char *w = l->cl_argv[0];
	char hdr[256];

	if (l->cl_argc != 3) {
		cf_err(rd, s, l, "%s takes a header name and a value", w);
		return -1;
	}
	snprintf(hdr, sizeof(hdr), "%s%s", w[0] == 'x' ? "X-Ash-" : "",
	    l->cl_argv[1]);
	if (cf_set_add(&m->m_set, hdr, l->cl_argv[2]) == -1) {
		cf_nomem(rd);
		return -1;
	}
	return 0;
}

static struct match *
parse_match(struct cfread *rd, const struct stanza *s)
{
	const struct cfline *l = &s->s_lines[0];
	struct match *m;
	const char *w;
	size_t i;
	int bad = 0;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		cf_nomem(rd);
		return NULL;
	}
	if (l->cl_argc > 2 ||
	    (l->cl_argc == 2 && strcmp(l->cl_argv[1], "directory") &&
		strcmp(l->cl_argv[1], "notfound"))) {
		cf_err(rd, s, l,
		    "match takes nothing, \"directory\" or "
		    "\"notfound\"");
		bad = 1;
	} else if (l->cl_argc == 2)
		m->m_kind = l->cl_argv[1][0] == 'd' ? MK_DIRECTORY
						    : MK_NOTFOUND;
	for (i = 1; i < s->s_nlines; i++) {
		l = &s->s_lines[i];
		w = l->cl_argv[0];
		if (!strcmp(w, "filename") || !strcmp(w, "pathname") ||
		    !strcmp(w, "default") || !strcmp(w, "local"))
			bad |= match_rule(rd, s, l, m) == -1;
		else if (!strcmp(w, "handler") || !strcmp(w, "fork"))
			bad |= match_action(rd, s, l, m) == -1;
		else if (!strcmp(w, "set") || !strcmp(w, "xset"))
			bad |= match_set(rd, s, l, m) == -1;
		else {
			cf_err(rd, s, l, "unknown match line \"%s\"", w);
			bad = 1;
		}
	}
	if (!bad && m->m_nrules == 0) {
		cf_err(rd, s, NULL, "match has no rules");
		bad = 1;
	}
	if (!bad && !m->m_handler && !m->m_fork) {
		cf_err(rd, s, NULL, "match has no action (handler or fork)");
		bad = 1;
	}
	if (bad) {
		match_free(m);
		return NULL;
	}
	return m;
}

/* index-file, dot-allow: a word list replacing any earlier one. */
static void
conf_words(struct cfread *rd, const struct cfline *l, char ***vp, int *hasp)
{
	char **v;

	if ((v = cf_strv_dup(l->cl_argv + 1)) == NULL) {
		cf_nomem(rd);
		return;
	}
	cf_strv_free(*vp);
	*vp = v;
	*hasp = 1;
}

/* capture HANDLER [D] (.htrc only). */
static void
conf_capture(struct config *cf, struct cfread *rd, const struct stanza *s)
{
	const struct cfline *l = &s->s_lines[0];
	char *h;

	if (l->cl_argc < 2 || l->cl_argc > 3)
		cf_err(rd, s, NULL,
		    "capture takes a handler name and "
		    "optional flags");
	else if (l->cl_argc == 3 &&
	    strspn(l->cl_argv[2], "D") != strlen(l->cl_argv[2]))
		cf_err(rd, s, NULL, "unknown capture flags \"%s\" (only D)",
		    l->cl_argv[2]);
	else if (!cf->cf_htrc)
		cf_err(rd, s, NULL, "capture belongs in .htrc files");
	else if ((h = strdup(l->cl_argv[1])) == NULL)
		cf_nomem(rd);
	else {
		free(cf->cf_capture);
		cf->cf_capture = h;
		cf->cf_capdot = l->cl_argc == 3;
	}
}

/* One stanza into cf (cf_read()'s callback); errors reported. */
static void
conf_stanza(struct cfread *rd, const struct stanza *s, void *arg)
{
	struct config *cf = arg;
	const struct cfline *l = &s->s_lines[0];
	const char *w = l->cl_argv[0];
	struct match *m, **tail;

	if (child_is_stanza(s)) {
		child_conf(rd, s, &cf->cf_children);
		return;
	}
	if (strcmp(w, "match") && s->s_nlines > 1) {
		cf_err(rd, s, &s->s_lines[1], "%s takes no indented lines", w);
		return;
	}
	if (!strcmp(w, "match")) {
		if ((m = parse_match(rd, s)) != NULL) {
			for (tail = &cf->cf_matches; *tail;
			     tail = &(*tail)->m_next)
				;
			*tail = m;
		}
	} else if (!strcmp(w, "index-file"))
		conf_words(rd, l, &cf->cf_index, &cf->cf_hasindex);
	else if (!strcmp(w, "dot-allow"))
		conf_words(rd, l, &cf->cf_dotallow, &cf->cf_hasdot);
	else if (!strcmp(w, "capture"))
		conf_capture(cf, rd, s);
	else
		cf_err(rd, s, NULL, "unknown directive \"%s\"", w);
}

struct config *
conf_read(const char *path, const char *dir, int htrc,
    void (*report)(const char *))
{
	struct cfread rd = { report, 0, 0 };
	struct config *cf;
	int rv, e;

	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		return NULL;
	cf->cf_path = strdup(path);
	cf->cf_dir = strdup(dir);
	cf->cf_htrc = htrc;
	if (cf->cf_path == NULL || cf->cf_dir == NULL) {
		conf_free(cf);
		errno = ENOMEM;
		return NULL;
	}
	rv = cf_read(path, &rd, conf_stanza, cf);
	if (rv == -1) {
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
	struct match *m, *next;

	if (cf == NULL)
		return;
	child_free_list(cf->cf_children);
	for (m = cf->cf_matches; m; m = next) {
		next = m->m_next;
		match_free(m);
	}
	cf_strv_free(cf->cf_index);
	cf_strv_free(cf->cf_dotallow);
	free(cf->cf_capture);
	free(cf->cf_path);
	free(cf->cf_dir);
	free(cf);
}

void
conf_reload(const char *name, struct config **cfp)
{
	struct config *ncf;
	char *path;

	if ((path = cf_find(name)) == NULL) {
		log_errno(LOG_WARNING, "reload: %s", name);
		return;
	}
	if ((ncf = conf_read(path, rootdir, 0, NULL)) == NULL) {
		log_errno(LOG_ERR, "reload: %s", path);
	} else if (ncf->cf_nerrors) {
		log_msg(LOG_ERR,
		    "reload: %s: %d error(s), keeping the "
		    "configuration in force",
		    path, ncf->cf_nerrors);
		conf_free(ncf);
	} else {
		if (*cfp) {
			child_adopt((*cfp)->cf_children, ncf->cf_children);
			conf_free(*cfp);
		}
		*cfp = ncf;
		log_msg(LOG_INFO, "reloaded %s", path);
	}
	free(path);
}

/* The .htrc cache: a list, since a site has few of them. */
struct htrc {
	struct htrc *h_next;
	char *h_dir;
	struct config *h_cf; /* NULL: none there (negative cache) */
	time_t h_checked;
	struct stat h_st;
};
static struct htrc *htrcs;

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* What htrc_get() answers when memory ran out. */
static struct config htrc_nomem = { .cf_nerrors = 1, .cf_nomem = 1 };

static void
htrc_drop(struct htrc *h)
{
	if (h->h_cf) {
		child_free_list(h->h_cf->cf_children);
		h->h_cf->cf_children = NULL;
		conf_free(h->h_cf);
		h->h_cf = NULL;
	}
}

/* A stand-in for a .htrc that is there but cannot be read: its rules
 * cannot be applied, so the subtree is answered 500 rather than served
 * without them. */
static struct config *
htrc_unreadable(const char *path, const char *dir)
{
	struct config *cf;

	log_errno(LOG_ERR, "%s", path);
	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		return NULL;
	cf->cf_path = strdup(path);
	cf->cf_dir = strdup(dir);
	cf->cf_htrc = 1;
	cf->cf_nerrors = 1;
	if (cf->cf_path == NULL || cf->cf_dir == NULL) {
		conf_free(cf);
		return NULL;
	}
	return cf;
}

static struct htrc *
htrc_find(const char *dir)
{
	struct htrc *h;

	for (h = htrcs; h; h = h->h_next)
		if (!strcmp(h->h_dir, dir))
			return h;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	if ((h->h_dir = strdup(dir)) == NULL) {
		free(h);
		return NULL;
	}
	h->h_next = htrcs;
	htrcs = h;
	return h;
}

struct config *
htrc_get(const char *dir)
{
	struct htrc *h;
	struct config *ncf;
	struct stat st;
	char path[4096];
	time_t now = time(NULL);

	if ((h = htrc_find(dir)) == NULL)
		return &htrc_nomem;
	if (h->h_checked == now)
		return h->h_cf;
	if ((size_t)snprintf(path, sizeof(path), "%s/.htrc", dir) >=
		sizeof(path) ||
	    stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		h->h_checked = now;
		htrc_drop(h);
		return NULL;
	}
	if (h->h_cf && same_file(&st, &h->h_st)) {
		h->h_checked = now;
		return h->h_cf;
	}
	if ((ncf = conf_read(path, dir, 1, NULL)) == NULL &&
	    (errno == ENOMEM || (ncf = htrc_unreadable(path, dir)) == NULL))
		return &htrc_nomem;
	if (h->h_cf) {
		child_adopt(h->h_cf->cf_children, ncf->cf_children);
		conf_free(h->h_cf);
	}
	h->h_cf = ncf;
	h->h_st = st;
	h->h_checked = now;
	return ncf;
}

static void
report_count(const char *msg)
{
	fprintf(stderr, "%s: %s\n", log_progname(), msg);
}

/* Directories already checked, so that symbolic links (followed, as
 * serving does) cannot make the walk loop. */
struct seen {
	dev_t dev;
	ino_t ino;
};

static int
check_tree(const char *dir, struct seen **seen, size_t *nseen)
{
	struct dirent *de;
	struct config *cf;
	struct stat st;
	char path[4096];
	DIR *d;
	size_t i;
	int errors = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/.htrc", dir) <
		sizeof(path) &&
	    stat(path, &st) == 0) {
		if ((cf = conf_read(path, dir, 1, report_count)) == NULL) {
			fprintf(stderr, "%s: %s: %s\n", log_progname(), path,
			    strerror(errno));
			errors++;
		} else {
			errors += cf->cf_nerrors;
			conf_free(cf);
		}
	}
	if (stat(dir, &st) == -1)
		return errors;
	for (i = 0; i < *nseen; i++)
		if ((*seen)[i].dev == st.st_dev && (*seen)[i].ino == st.st_ino)
			return errors;
	*seen = xrealloc(*seen, (*nseen + 1) * sizeof(**seen));
	(*seen)[*nseen].dev = st.st_dev;
	(*seen)[(*nseen)++].ino = st.st_ino;
	if ((d = opendir(dir)) == NULL)
		return errors;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
			de->d_name) >= sizeof(path))
			continue;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			errors += check_tree(path, seen, nseen);
	}
	closedir(d);
	return errors;
}

int
htrc_check_tree(const char *dir)
{
	struct seen *seen = NULL;
	size_t nseen = 0;
	int errors;

	errors = check_tree(dir, &seen, &nseen);
	free(seen);
	return errors;
}
