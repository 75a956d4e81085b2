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
#include <stdarg.h>
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
report_default(const char *msg)
{
	log_msg(LOG_ERR, "%s", msg);
}

/* Report "file:line: ..." for line l of s. */
static void
conf_err(struct config *cf, void (*report)(const char *),
    const struct stanza *s, const struct cfline *l, const char *fmt, ...)
{
	char msg[512], *e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((e = stanza_error(s, l, "%s", msg)) == NULL)
		log_die(1, "out of memory");
	report(e);
	free(e);
	cf->cf_nerrors++;
}

static char **
strv_dup(char **v)
{
	size_t n, i;
	char **d;

	for (n = 0; v[n]; n++)
		;
	d = xcalloc(n + 1, sizeof(*d));
	for (i = 0; i < n; i++)
		d[i] = xstrdup(v[i]);
	return d;
}

static void
strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static void
match_free(struct match *m)
{
	size_t i;

	for (i = 0; i < m->m_nrules; i++)
		strv_free(m->m_rules[i].ru_pats);
	free(m->m_rules);
	free(m->m_handler);
	strv_free(m->m_fork);
	strv_free(m->m_set);
	free(m);
}

/* Append name/value to a NULL-terminated pair list. */
static char **
set_add(char **set, const char *name, const char *value)
{
	size_t n = 0;

	if (set)
		for (; set[n]; n++)
			;
	set = xrealloc(set, (n + 3) * sizeof(*set));
	set[n] = xstrdup(name);
	set[n + 1] = xstrdup(value);
	set[n + 2] = NULL;
	return set;
}

static struct match *
parse_match(struct config *cf, const struct stanza *s,
    void (*report)(const char *))
{
	const struct cfline *l = &s->s_lines[0];
	struct match *m;
	char hdr[256];
	size_t i;
	int bad = 0;

	m = xcalloc(1, sizeof(*m));
	if (l->cl_argc > 2 || (l->cl_argc == 2 &&
	    strcmp(l->cl_argv[1], "directory") &&
	    strcmp(l->cl_argv[1], "notfound"))) {
		conf_err(cf, report, s, l, "match takes nothing, "
		    "\"directory\" or \"notfound\"");
		bad = 1;
	} else if (l->cl_argc == 2)
		m->m_kind = l->cl_argv[1][0] == 'd' ? MK_DIRECTORY :
		    MK_NOTFOUND;
	for (i = 1; i < s->s_nlines; i++) {
		const char *w;
		struct rule *ru;

		l = &s->s_lines[i];
		w = l->cl_argv[0];
		if (!strcmp(w, "filename") || !strcmp(w, "pathname") ||
		    !strcmp(w, "default") || !strcmp(w, "local")) {
			int pats = w[1] == 'i' || w[1] == 'a';

			if (pats != (l->cl_argc > 1)) {
				conf_err(cf, report, s, l, pats ? "%s needs "
				    "at least one pattern" : "%s takes no "
				    "arguments", w);
				bad = 1;
				continue;
			}
			m->m_rules = xrealloc(m->m_rules, (m->m_nrules + 1) *
			    sizeof(*m->m_rules));
			ru = &m->m_rules[m->m_nrules++];
			ru->ru_type = w[0] == 'f' ? R_FILENAME : w[0] == 'p' ?
			    R_PATHNAME : w[0] == 'd' ? R_DEFAULT : R_LOCAL;
			ru->ru_pats = pats ? strv_dup(l->cl_argv + 1) : NULL;
			if (ru->ru_type == R_DEFAULT)
				m->m_default = 1;
		} else if (!strcmp(w, "handler") || !strcmp(w, "fork")) {
			if (m->m_handler || m->m_fork) {
				conf_err(cf, report, s, l, "a match has "
				    "exactly one action (handler or fork)");
				bad = 1;
			} else if (l->cl_argc < 2 || (w[0] == 'h' &&
			    l->cl_argc != 2)) {
				conf_err(cf, report, s, l, w[0] == 'h' ?
				    "handler takes one name" : "fork needs "
				    "a program");
				bad = 1;
			} else if (w[0] == 'h')
				m->m_handler = xstrdup(l->cl_argv[1]);
			else
				m->m_fork = strv_dup(l->cl_argv + 1);
		} else if (!strcmp(w, "set") || !strcmp(w, "xset")) {
			if (l->cl_argc != 3) {
				conf_err(cf, report, s, l, "%s takes a header "
				    "name and a value", w);
				bad = 1;
				continue;
			}
			snprintf(hdr, sizeof(hdr), "%s%s", w[0] == 'x' ?
			    "X-Ash-" : "", l->cl_argv[1]);
			m->m_set = set_add(m->m_set, hdr, l->cl_argv[2]);
		} else {
			conf_err(cf, report, s, l, "unknown match line \"%s\"",
			    w);
			bad = 1;
		}
	}
	if (!bad && m->m_nrules == 0) {
		conf_err(cf, report, s, NULL, "match has no rules");
		bad = 1;
	}
	if (!bad && !m->m_handler && !m->m_fork) {
		conf_err(cf, report, s, NULL, "match has no action (handler "
		    "or fork)");
		bad = 1;
	}
	if (bad) {
		match_free(m);
		return NULL;
	}
	return m;
}

/* One stanza into cf; errors reported. */
static void
conf_stanza(struct config *cf, struct stanza *s, struct match ***tail,
    void (*report)(const char *))
{
	const struct cfline *l = &s->s_lines[0];
	const char *w = l->cl_argv[0];
	struct child *ch;
	struct match *m;
	char *err;

	if (child_is_stanza(s)) {
		if ((ch = child_parse(s, &err)) == NULL) {
			if (err == NULL)
				log_die(1, "out of memory");
			report(err);
			free(err);
			cf->cf_nerrors++;
			return;
		}
		if (child_find(cf->cf_children, ch->ch_name))
			conf_err(cf, report, s, NULL, "handler \"%s\" is "
			    "defined twice", ch->ch_name);
		ch->ch_next = cf->cf_children;
		cf->cf_children = ch;
		return;
	}
	if (strcmp(w, "match") && s->s_nlines > 1) {
		conf_err(cf, report, s, &s->s_lines[1], "%s takes no "
		    "indented lines", w);
		return;
	}
	if (!strcmp(w, "match")) {
		if ((m = parse_match(cf, s, report)) != NULL) {
			**tail = m;
			*tail = &m->m_next;
		}
	} else if (!strcmp(w, "index-file")) {
		strv_free(cf->cf_index);
		cf->cf_index = strv_dup(l->cl_argv + 1);
		cf->cf_hasindex = 1;
	} else if (!strcmp(w, "dot-allow")) {
		strv_free(cf->cf_dotallow);
		cf->cf_dotallow = strv_dup(l->cl_argv + 1);
		cf->cf_hasdot = 1;
	} else if (!strcmp(w, "capture")) {
		if (l->cl_argc < 2 || l->cl_argc > 3)
			conf_err(cf, report, s, NULL, "capture takes a "
			    "handler name and optional flags");
		else if (l->cl_argc == 3 && strspn(l->cl_argv[2], "D") !=
		    strlen(l->cl_argv[2]))
			conf_err(cf, report, s, NULL, "unknown capture flags "
			    "\"%s\" (only D)", l->cl_argv[2]);
		else if (!cf->cf_htrc)
			conf_err(cf, report, s, NULL, "capture belongs in "
			    ".htrc files");
		else {
			free(cf->cf_capture);
			cf->cf_capture = xstrdup(l->cl_argv[1]);
			cf->cf_capdot = l->cl_argc == 3;
		}
	} else
		conf_err(cf, report, s, NULL, "unknown directive \"%s\"", w);
}

struct config *
conf_read(const char *path, const char *dir, int htrc,
    void (*report)(const char *))
{
	struct cfreader *cr;
	struct config *cf;
	struct stanza *s;
	struct match **tail;
	int rv;

	if (report == NULL)
		report = report_default;
	if ((cr = cf_open(path)) == NULL)
		return NULL;
	cf = xcalloc(1, sizeof(*cf));
	cf->cf_path = xstrdup(path);
	cf->cf_dir = xstrdup(dir);
	cf->cf_htrc = htrc;
	tail = &cf->cf_matches;
	while ((rv = cf_next(cr, &s)) != 0) {
		if (rv < 0) {
			report(cf_error(cr));
			cf->cf_nerrors++;
			continue;
		}
		conf_stanza(cf, s, &tail, report);
		stanza_free(s);
	}
	cf_close(cr);
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
	strv_free(cf->cf_index);
	strv_free(cf->cf_dotallow);
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
		log_msg(LOG_ERR, "reload: %s: %d error(s), keeping the "
		    "configuration in force", path, ncf->cf_nerrors);
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
	struct htrc	*h_next;
	char		*h_dir;
	struct config	*h_cf;		/* NULL: none there (negative cache) */
	time_t		 h_checked;
	struct stat	 h_st;
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

struct config *
htrc_get(const char *dir)
{
	struct htrc *h;
	struct config *ncf;
	struct stat st;
	char path[4096];
	time_t now = time(NULL);

	for (h = htrcs; h; h = h->h_next)
		if (!strcmp(h->h_dir, dir))
			break;
	if (h && h->h_checked == now)
		return h->h_cf;
	if (h == NULL) {
		h = xcalloc(1, sizeof(*h));
		h->h_dir = xstrdup(dir);
		h->h_next = htrcs;
		htrcs = h;
	}
	h->h_checked = now;
	if ((size_t)snprintf(path, sizeof(path), "%s/.htrc", dir) >=
	    sizeof(path) || stat(path, &st) == -1 || !S_ISREG(st.st_mode)) {
		if (h->h_cf) {
			child_free_list(h->h_cf->cf_children);
			h->h_cf->cf_children = NULL;
			conf_free(h->h_cf);
			h->h_cf = NULL;
		}
		return NULL;
	}
	if (h->h_cf && same_file(&st, &h->h_st))
		return h->h_cf;
	if ((ncf = conf_read(path, dir, 1, NULL)) == NULL) {
		/* There but unreadable: its rules cannot be applied, so the
		 * subtree is answered 500 rather than served without them. */
		log_errno(LOG_ERR, "%s", path);
		ncf = xcalloc(1, sizeof(*ncf));
		ncf->cf_path = xstrdup(path);
		ncf->cf_dir = xstrdup(dir);
		ncf->cf_htrc = 1;
		ncf->cf_nerrors = 1;
	}
	if (h->h_cf) {
		child_adopt(h->h_cf->cf_children, ncf->cf_children);
		conf_free(h->h_cf);
	}
	h->h_cf = ncf;
	h->h_st = st;
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
	dev_t	dev;
	ino_t	ino;
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
	    sizeof(path) && stat(path, &st) == 0) {
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
