/*
 * map.c: from a request to a file, and from the file to a handler.
 *
 * The walk starts at DIR and takes one element of the rest string per
 * step (SPEC A5).  `chain` holds the .htrc files met on the way,
 * nearest last; configuration is consulted nearest first: the chain
 * backwards, then -c, then the global file.  Nothing outside DIR can
 * be reached: an element is URL-decoded and refused if it holds a '/'
 * or NUL, starts with '.' (unless dot-allow says so) or is empty;
 * symbolic links inside DIR are followed, as in ashd.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ashlimits.h"
#include "buf.h"
#include "child.h"
#include "dirplex.h"
#include "http.h"
#include "log.h"
#include "req.h"
#include "url.h"

char *rootdir;
struct config *cf_extra, *cf_global;

struct walk {
	struct config
	    *w_chain[ASH_HTRC_CHAIN_MAX]; /* .htrc files, nearest last */
	size_t w_n;
	int w_broken; /* a .htrc had errors */
	int w_nomem;  /* one could not be read: ENOMEM */
	time_t w_now; /* for statcache_type() */
};

/* The i-th configuration by distance (0 = nearest), or NULL. */
static struct config *
walk_conf(const struct walk *w, size_t i)
{
	if (i < w->w_n)
		return w->w_chain[w->w_n - 1 - i];
	i -= w->w_n;
	if (i == 0 && cf_extra)
		return cf_extra;
	if (cf_extra)
		i--;
	return i == 0 ? cf_global : NULL;
}

static void
walk_enter(struct walk *w, const char *dir)
{
	struct config *cf;

	if ((cf = htrc_get(dir)) == NULL)
		return;
	if (w->w_n == ASH_HTRC_CHAIN_MAX) {
		w->w_broken = 1;
		return;
	}
	if (cf->cf_nerrors)
		w->w_broken = 1;
	if (cf->cf_nomem)
		w->w_nomem = 1;
	w->w_chain[w->w_n++] = cf;
}

static int
glob_any(char **pats, const char *s, int flags)
{
	for (; *pats; pats++)
		if (fnmatch(*pats, s, flags) == 0)
			return 1;
	return 0;
}

static int
dot_allowed(const struct walk *w, const char *name)
{
	struct config *cf;
	size_t i;

	for (i = 0; (cf = walk_conf(w, i)) != NULL; i++)
		if (cf->cf_hasdot)
			return glob_any(cf->cf_dotallow, name, 0);
	return 0;
}

/* The regular file in dir whose name before its first dot is `name`
 * (no dot in name): the alphabetically first, so the choice is stable. */
static char *
find_stem(const char *dir, const char *name)
{
	struct dirent *de;
	struct stat st;
	size_t nl = strlen(name);
	char *best = NULL;
	DIR *d;

	if (strchr(name, '.') || (d = opendir(dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, name, nl) || de->d_name[nl] != '.')
			continue;
		if (best != NULL && strcmp(de->d_name, best) >= 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		free(best);
		best = strdup(de->d_name);
	}
	closedir(d);
	return best;
}

/* "DIR/NAME", a new allocation (NULL if out of memory). */
static char *
path_join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *p;

	if ((p = malloc(dl + nl + 2)) == NULL)
		return NULL;
	memcpy(p, dir, dl);
	p[dl] = '/';
	memcpy(p + dl + 1, name, nl + 1);
	return p;
}

/* Does stanza m match `path` (absolute; `name` its last element)? */
static int
match_rules(const struct config *cf, const struct match *m, const char *path,
    const char *name)
{
	size_t i, dl = strlen(cf->cf_dir);
	const char *rel, *slash;

	for (i = 0; i < m->m_nrules; i++) {
		const struct rule *ru = &m->m_rules[i];

		switch (ru->ru_type) {
		case R_FILENAME:
			if (!glob_any(ru->ru_pats, name, 0))
				return 0;
			break;
		case R_PATHNAME:
			if (strncmp(path, cf->cf_dir, dl) || path[dl] != '/')
				return 0;
			rel = path + dl + 1;
			if (!glob_any(ru->ru_pats, rel, FNM_PATHNAME))
				return 0;
			break;
		case R_LOCAL:
			slash = strrchr(path, '/');
			if ((size_t)(slash - path) != dl ||
			    strncmp(path, cf->cf_dir, dl))
				return 0;
			break;
		case R_DEFAULT:
			break;
		}
	}
	return 1;
}

/* The winning match stanza of kind k, nearest first, defaults last. */
static const struct match *
find_match(const struct walk *w, enum mkind k, const char *path,
    const char *name, const struct config **cfp)
{
	const struct config *cf;
	const struct match *m;
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0; (cf = walk_conf(w, i)) != NULL; i++) {
			for (m = cf->cf_matches; m; m = m->m_next) {
				if (m->m_kind != k || m->m_default != pass)
					continue;
				if (match_rules(cf, m, path, name)) {
					*cfp = cf;
					return m;
				}
			}
		}
	}
	return NULL;
}

/* A named handler, nearest configuration first. */
static struct child *
find_handler(const struct walk *w, const char *name)
{
	struct config *cf;
	struct child *ch;
	size_t i;

	for (i = 0; (cf = walk_conf(w, i)) != NULL; i++)
		if ((ch = child_find(cf->cf_children, name)) != NULL)
			return ch;
	return NULL;
}

/* Pass r on to the handler called `name`. */
static void
pass_named(const struct walk *w, const char *name, struct req *r, int fd)
{
	struct child *ch;
	char who[LOG_WHO_MAX];

	if ((ch = find_handler(w, name)) == NULL) {
		if (strcmp(name, ".notfound")) {
			log_msg(LOG_ERR, "%s: no handler named \"%s\"",
			    req_describe(r, who, sizeof(who)), name);
			http_error(fd, 500, "Server configuration error.");
		} else
			http_error(fd, 404,
			    "The requested resource was not "
			    "found.");
		return;
	}
	if (child_handle(ch, r, fd) == -1) {
		log_errno(LOG_ERR, "%s: handler %s",
		    req_describe(r, who, sizeof(who)), name);
		http_error(fd, errno == ENOENT ? 500 : 503,
		    "The handler is not available.");
	}
}

static void
apply_match(const struct walk *w, const struct config *cf,
    const struct match *m, struct req *r, int fd)
{
	char **s, who[LOG_WHO_MAX];

	for (s = m->m_set; s && *s; s += 2)
		if (req_set_header(r, s[0], s[1]) == -1)
			goto nomem;
	if (m->m_handler) {
		pass_named(w, m->m_handler, r, fd);
		return;
	}
	if (child_spawn(m->m_fork, cf->cf_dir, r, fd) == -1) {
		log_errno(LOG_ERR, "%s: fork %s",
		    req_describe(r, who, sizeof(who)), m->m_fork[0]);
		http_error(fd, 500, "The handler could not be started.");
	}
	return;
nomem:
	http_error(fd, 503, "Out of memory.");
}

/* A .htrc on the way could not be used. */
static void
broken(const struct walk *w, int fd)
{
	if (w->w_nomem)
		http_error(fd, 503, "Out of memory.");
	else
		http_error(fd, 500, "Server configuration error.");
}

/*
 * 404: notfound matches (their rules see the name that was not found,
 * dir/name), else the .notfound handler.  The rest string is what it
 * was where the lookup failed; a notfound match also gets X-Ash-File
 * naming what was last found there (the directory, or a file that no
 * match stanza took), as in ashd.
 */
static void
not_found(const struct walk *w, const char *dir, const char *name,
    const char *found, struct req *r, int fd)
{
	const struct config *cf;
	const struct match *m;
	char *path;

	if (w->w_broken) {
		broken(w, fd);
		return;
	}
	if ((path = path_join(dir, name)) == NULL) {
		http_error(fd, 503, "Out of memory.");
		return;
	}
	if ((m = find_match(w, MK_NOTFOUND, path, name, &cf)) != NULL) {
		if (req_set_header(r, "X-Ash-File", found) == -1)
			http_error(fd, 503, "Out of memory.");
		else
			apply_match(w, cf, m, r, fd);
	} else
		pass_named(w, ".notfound", r, fd);
	free(path);
}

/* 301 to the URL with a slash added to its path. */
static void
redirect_slash(struct req *r, int fd)
{
	struct buf b = BUF_INIT, loc = BUF_INIT;
	size_t pl = strcspn(r->r_url, "?");

	if (buf_append(&loc, r->r_url, pl) == -1 ||
	    buf_appendc(&loc, '/') == -1 ||
	    buf_appends(&loc, r->r_url + pl) == -1 ||
	    strpbrk(loc.b_data, "\r\n") != NULL ||
	    buf_printf(&b,
		"HTTP/1.1 301 Moved Permanently\r\n"
		"Location: %s\r\nContent-Type: text/html; charset=utf-8\r\n"
		"Content-Length: 0\r\n\r\n",
		loc.b_data) == -1)
		http_error(fd, 500, "Cannot redirect.");
	else
		write_all(fd, b.b_data, b.b_len);
	buf_free(&b);
	buf_free(&loc);
}

/* Use a found file (or directory, with kind MK_DIRECTORY). */
static void
dispatch(const struct walk *w, enum mkind k, const char *path, struct req *r,
    int fd)
{
	const struct config *cf;
	const struct match *m;
	const char *name = strrchr(path, '/') + 1;

	if (w->w_broken) {
		broken(w, fd);
		return;
	}
	if ((m = find_match(w, k, path, name, &cf)) == NULL) {
		char *dir;

		if (k == MK_DIRECTORY) {
			/* No index and no "match directory": no listing,
			 * as ashd, nginx and Apache answer. */
			http_error(fd, 403, "This directory has no index.");
			return;
		}
		dir = strndup(path, (size_t)(name - 1 - path));

		if (dir == NULL)
			http_error(fd, 503, "Out of memory.");
		else
			not_found(w, dir, name, path, r, fd);
		free(dir);
		return;
	}
	if (req_set_header(r, "X-Ash-File", path) == -1) {
		http_error(fd, 503, "Out of memory.");
		return;
	}
	apply_match(w, cf, m, r, fd);
}

/* A directory's index file, if any (new string). */
static char *
find_index(const struct walk *w, const char *dir)
{
	static char *none[] = { NULL };
	struct config *cf;
	mode_t type;
	char **names = none, *p, *stem;
	size_t i;

	/* As in ashd, no index-file anywhere means no index file (the
	 * shipped dirplex.rc names "index"). */
	for (i = 0; (cf = walk_conf(w, i)) != NULL; i++) {
		if (cf->cf_hasindex) {
			names = cf->cf_index;
			break;
		}
	}
	for (; *names; names++) {
		if ((p = path_join(dir, *names)) == NULL)
			return NULL;
		if (statcache_type(p, w->w_now, &type) == 0 && type == S_IFREG)
			return p;
		free(p);
		if ((stem = find_stem(dir, *names)) != NULL) {
			p = path_join(dir, stem);
			free(stem);
			if (p && statcache_type(p, w->w_now, &type) == 0 &&
			    type == S_IFREG)
				return p;
			free(p);
		}
	}
	return NULL;
}

/* Capture by the nearest .htrc (the one of the directory just
 * entered)?  Returns 1 if the request was passed on. */
static int
try_capture(const struct walk *w, const char *dir, struct req *r, int fd)
{
	struct config *cf;

	if (w->w_n == 0)
		return 0;
	cf = w->w_chain[w->w_n - 1];
	if (cf->cf_capture == NULL || strcmp(cf->cf_dir, dir))
		return 0;
	if (!strcmp(dir, rootdir) && !cf->cf_capdot)
		return 0;
	pass_named(w, cf->cf_capture, r, fd);
	return 1;
}

/* The path of elem in dir, or of the file its stem names (find_stem())
 * if there is none; *typep its type (S_IFMT bits; 0: nothing there).
 * NULL on ENOMEM. */
static char *
lookup(const struct walk *w, const char *dir, const char *elem, mode_t *typep)
{
	char *path, *stem;

	if ((path = path_join(dir, elem)) == NULL)
		return NULL;
	if (statcache_type(path, w->w_now, typep) == 0)
		return path;
	*typep = 0;
	if ((stem = find_stem(dir, elem)) != NULL) {
		free(path);
		path = path_join(dir, stem);
		free(stem);
		if (path != NULL && statcache_type(path, w->w_now, typep) == -1)
			*typep = 0;
	}
	return path;
}

void
serve(struct req *r, int fd)
{
	struct walk w;
	mode_t type;
	char *dir, *elem = NULL, *next = NULL, *rest;
	const char *slash;
	size_t el, dl;

	memset(&w, 0, sizeof(w));
	w.w_now = time(NULL);
	if ((dir = strdup(rootdir)) == NULL ||
	    (rest = strdup(r->r_rest)) == NULL) {
		free(dir);
		http_error(fd, 503, "Out of memory.");
		return;
	}
	walk_enter(&w, dir);
	for (;;) {
		if (req_set_rest(r, rest) == -1)
			goto nomem;
		if (try_capture(&w, dir, r, fd))
			goto done;
		if (*rest == '\0') {
			free(next);
			if ((next = find_index(&w, dir)) != NULL)
				dispatch(&w, MK_FILE, next, r, fd);
			else
				dispatch(&w, MK_DIRECTORY, dir, r, fd);
			goto done;
		}
		slash = strchr(rest, '/');
		el = slash ? (size_t)(slash - rest) : strlen(rest);
		free(elem);
		if ((elem = malloc(el + 1)) == NULL)
			goto nomem;
		dl = url_decode(rest, el, elem, 0);
		/* What follows the element, its slash included. */
		memmove(rest, rest + el, strlen(rest + el) + 1);
		if (dl == 0 || strlen(elem) != dl || strchr(elem, '/') ||
		    !strcmp(elem, ".") || !strcmp(elem, "..") ||
		    (elem[0] == '.' && !dot_allowed(&w, elem))) {
			not_found(&w, dir, elem, dir, r, fd);
			goto done;
		}
		free(next);
		if ((next = lookup(&w, dir, elem, &type)) == NULL)
			goto nomem;
		if (type == S_IFDIR) {
			if (slash == NULL) {
				redirect_slash(r, fd);
				goto done;
			}
			memmove(rest, rest + 1, strlen(rest));
			free(dir);
			dir = next;
			next = NULL;
			walk_enter(&w, dir);
			continue;
		}
		if (type == S_IFREG) {
			/* The rest keeps its slash, as in ashd: "/x" after
			 * "file/x", "/" after "file/", "" after "file". */
			if (req_set_rest(r, rest) == -1)
				goto nomem;
			dispatch(&w, MK_FILE, next, r, fd);
			goto done;
		}
		not_found(&w, dir, elem, dir, r, fd);
		goto done;
	}
nomem:
	http_error(fd, 503, "Out of memory.");
done:
	free(dir);
	free(elem);
	free(next);
	free(rest);
}
