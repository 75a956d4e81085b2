/*
 * cf.c: the configuration reader: lines to words, lines to stanzas,
 * "include" handled in place, and the standard search for a file.
 *
 * Invariants: cr_frames[0..cr_depth) are the files being read, the
 * innermost last.  A frame holds at most one line read ahead (the
 * unindented line that ended the previous stanza) and, after an include
 * stanza, the files still to include from it; those are opened one by
 * one, so a file's stanzas come out in order.  Errors in one stanza or
 * one include are reported and skipped; only I/O and memory errors set
 * cr_dead, after which the reader reports the end.
 */
#include <sys/stat.h>

#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ashlimits.h"
#include "cf.h"

#define CF_BLANKS    " \t\r\f\v"
#define CF_MAXFRAMES (ASH_CFINCLUDE_DEPTH + 1)

/* A line on its way into a stanza. */
struct cfraw {
	int rl_lineno;
	int rl_indented;
	int rl_argc;
	char **rl_argv;	    /* NULL if the line is bad */
	const char *rl_bad; /* why it is bad, or NULL */
};

struct cfframe {
	FILE *f_fp;
	char *f_path; /* as named in messages */
	char *f_dir;  /* absolute */
	dev_t f_dev;
	ino_t f_ino;
	int f_lineno;
	int f_havela;
	struct cfraw f_la; /* line read ahead */
	char **f_inc;	   /* files still to include, or NULL */
	size_t f_ninc;
	size_t f_nextinc;
	int f_incline; /* line of that include */
};

struct cfreader {
	struct cfframe cr_frames[CF_MAXFRAMES];
	int cr_depth;
	char *cr_line; /* ASH_CFLINE_MAX + 2 bytes */
	char *cr_err;
	int cr_errnomem; /* could not even format cr_err */
	int cr_nomem;	 /* memory ran out (cr_dead too) */
	int cr_dead;
};

static int
cf_isblank(int c)
{
	return c != '\0' && strchr(CF_BLANKS, c) != NULL;
}

static char *
cf_vformat(const char *file, int line, const char *fmt, va_list ap)
{
	va_list aq;
	char *s;
	int pl, ml;

	va_copy(aq, ap);
	ml = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	pl = snprintf(NULL, 0, "%s:%d: ", file, line);
	if (ml < 0 || pl < 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((s = malloc((size_t)pl + (size_t)ml + 1)) == NULL)
		return NULL;
	snprintf(s, (size_t)pl + 1, "%s:%d: ", file, line);
	vsnprintf(s + pl, (size_t)ml + 1, fmt, ap);
	return s;
}

static void __attribute__((format(printf, 4, 5)))
cf_seterr(struct cfreader *cr, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	free(cr->cr_err);
	va_start(ap, fmt);
	cr->cr_err = cf_vformat(file, line, fmt, ap);
	va_end(ap);
	cr->cr_errnomem = cr->cr_err == NULL;
}

static void
cf_fatal(struct cfreader *cr, const char *file, int line, int err)
{
	cf_seterr(cr, file, line, "%s", strerror(err));
	cr->cr_dead = 1;
	cr->cr_nomem |= err == ENOMEM;
}

char *
stanza_error(const struct stanza *s, const struct cfline *l, const char *fmt,
    ...)
{
	va_list ap;
	char *r;

	va_start(ap, fmt);
	r = cf_vformat(s->s_file, l ? l->cl_lineno : s->s_line, fmt, ap);
	va_end(ap);
	return r;
}

const char *
cf_error(const struct cfreader *cr)
{
	if (cr->cr_errnomem)
		return "out of memory";
	return cr->cr_err ? cr->cr_err : "";
}

int
cf_split(const char *line, char ***argvp)
{
	const char *p = line;
	char *tmp, *o, **argv, *data;
	size_t len = strlen(line), used;
	int i, n = 0, q;

	*argvp = NULL;
	if (len > ASH_CFLINE_MAX) {
		errno = E2BIG;
		return -1;
	}
	/* Words never grow: every word but the last ends at a blank. */
	if ((tmp = malloc(len + 1)) == NULL)
		return -1;
	o = tmp;
	for (;;) {
		while (cf_isblank(*p))
			p++;
		if (*p == '\0')
			break;
		for (q = 0;;) {
			if (*p == '\\' &&
			    (cf_isblank(p[1]) || p[1] == '"' || p[1] == '\\')) {
				*o++ = p[1];
				p += 2;
			} else if (*p == '"') {
				q = !q;
				p++;
			} else if (*p == '\0' && q) {
				free(tmp);
				errno = EINVAL;
				return -1;
			} else if (*p == '\0' || (!q && cf_isblank(*p)))
				break;
			else
				*o++ = *p++;
		}
		*o++ = '\0';
		n++;
	}
	used = (size_t)(o - tmp);
	if ((argv = malloc(((size_t)n + 1) * sizeof(*argv) + used)) == NULL) {
		free(tmp);
		return -1;
	}
	data = (char *)(argv + n + 1);
	memcpy(data, tmp, used);
	free(tmp);
	for (i = 0; i < n; i++) {
		argv[i] = data;
		data += strlen(data) + 1;
	}
	argv[n] = NULL;
	*argvp = argv;
	return n;
}

/* path's directory, absolute (not canonical); NULL on ENOMEM. */
static char *
cf_absdir(const char *path)
{
	const char *sl = strrchr(path, '/');
	char *cwd = NULL, *r = NULL;
	size_t dl, cl;

	if (sl == path)
		return strdup("/");
	dl = sl ? (size_t)(sl - path) : 0;
	if (path[0] != '/') {
		if ((cwd = getcwd(NULL, 0)) == NULL)
			return NULL;
	}
	cl = cwd ? strlen(cwd) : 0;
	if ((r = malloc(cl + dl + 2)) == NULL)
		goto out;
	if (cwd != NULL) {
		memcpy(r, cwd, cl);
		if (dl > 0)
			r[cl++] = '/';
	}
	memcpy(r + cl, path, dl);
	r[cl + dl] = '\0';
out:
	free(cwd);
	return r;
}

/* dir/name, or name if absolute; with esc, dir is escaped for glob(3). */
static char *
cf_join(const char *dir, const char *name, int esc)
{
	size_t dl = strlen(dir), nl = strlen(name), i;
	char *r, *o;

	if (name[0] == '/')
		return strdup(name);
	if ((r = malloc(2 * dl + nl + 2)) == NULL)
		return NULL;
	for (o = r, i = 0; i < dl; i++) {
		if (esc && strchr("*?[\\", dir[i]))
			*o++ = '\\';
		*o++ = dir[i];
	}
	if (dl == 0 || dir[dl - 1] != '/')
		*o++ = '/';
	memcpy(o, name, nl + 1);
	return r;
}

static void
cf_incfree(struct cfframe *f)
{
	size_t i;

	for (i = 0; i < f->f_ninc; i++)
		free(f->f_inc[i]);
	free(f->f_inc);
	f->f_inc = NULL;
	f->f_ninc = f->f_nextinc = 0;
}

static void
cf_pop(struct cfreader *cr)
{
	struct cfframe *f = &cr->cr_frames[--cr->cr_depth];

	fclose(f->f_fp);
	free(f->f_path);
	free(f->f_dir);
	if (f->f_havela)
		free(f->f_la.rl_argv);
	cf_incfree(f);
	memset(f, 0, sizeof(*f));
}

/*
 * Start reading `path` as the innermost file.  0, or -1 with errno and
 * *whyp saying what is wrong (ENOMEM is the only fatal errno).
 */
static int
cf_push(struct cfreader *cr, const char *path, const char **whyp)
{
	struct cfframe *f;
	struct stat st;
	FILE *fp = NULL;
	int i;

	*whyp = NULL;
	if (cr->cr_depth == CF_MAXFRAMES) {
		*whyp = "includes nested too deeply";
		errno = ELOOP;
		goto fail;
	}
	if ((fp = fopen(path, "re")) == NULL || fstat(fileno(fp), &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	for (i = 0; i < cr->cr_depth; i++) {
		if (cr->cr_frames[i].f_dev == st.st_dev &&
		    cr->cr_frames[i].f_ino == st.st_ino) {
			*whyp = "include cycle: the file is already being read";
			errno = ELOOP;
			goto fail;
		}
	}
	f = &cr->cr_frames[cr->cr_depth];
	memset(f, 0, sizeof(*f));
	f->f_path = strdup(path);
	f->f_dir = cf_absdir(path);
	if (f->f_path == NULL || f->f_dir == NULL) {
		free(f->f_path);
		free(f->f_dir);
		errno = ENOMEM;
		goto fail;
	}
	f->f_fp = fp;
	f->f_dev = st.st_dev;
	f->f_ino = st.st_ino;
	cr->cr_depth++;
	return 0;
fail:
	if (*whyp == NULL)
		*whyp = strerror(errno);
	if (fp != NULL)
		fclose(fp);
	return -1;
}

struct cfreader *
cf_open(const char *path)
{
	struct cfreader *cr;
	const char *why;
	int e;

	if ((cr = calloc(1, sizeof(*cr))) == NULL)
		return NULL;
	if ((cr->cr_line = malloc(ASH_CFLINE_MAX + 2)) == NULL ||
	    cf_push(cr, path, &why) == -1) {
		e = errno;
		cf_close(cr);
		errno = e;
		return NULL;
	}
	return cr;
}

void
cf_close(struct cfreader *cr)
{
	if (cr == NULL)
		return;
	while (cr->cr_depth > 0)
		cf_pop(cr);
	free(cr->cr_line);
	free(cr->cr_err);
	free(cr);
}

void
stanza_free(struct stanza *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->s_nlines; i++)
		free(s->s_lines[i].cl_argv);
	free(s->s_lines);
	free(s->s_file);
	free(s->s_dir);
	free(s);
}

/*
 * Read one line of f into cr_line.  1: a line (*badp says why it is
 * unusable, or NULL), 0: end of file, -1: read error.
 */
static int
cf_readline(struct cfreader *cr, struct cfframe *f, const char **badp)
{
	size_t n = 0;
	int c, nul = 0;

	*badp = NULL;
	while ((c = getc(f->f_fp)) != EOF && c != '\n') {
		if (c == '\0')
			nul = 1;
		if (n <= ASH_CFLINE_MAX)
			cr->cr_line[n] = (char)c;
		n++;
	}
	if (ferror(f->f_fp))
		return -1;
	if (c == EOF && n == 0)
		return 0;
	f->f_lineno++;
	if (n > 0 && n <= ASH_CFLINE_MAX + 1 && cr->cr_line[n - 1] == '\r')
		n--;
	if (n > ASH_CFLINE_MAX) {
		*badp = "line too long";
		n = ASH_CFLINE_MAX;
	} else if (nul)
		*badp = "NUL byte in line";
	cr->cr_line[n] = '\0';
	return 1;
}

/* The next line that is neither blank nor a comment: 1, 0 at the end of
 * the file, -1 on a fatal error (recorded). */
static int
cf_getraw(struct cfreader *cr, struct cfframe *f, struct cfraw *rl)
{
	const char *p, *bad;
	int r;

	for (;;) {
		if ((r = cf_readline(cr, f, &bad)) == -1)
			cf_fatal(cr, f->f_path, f->f_lineno + 1, errno);
		if (r <= 0)
			return r;
		p = cr->cr_line;
		memset(rl, 0, sizeof(*rl));
		rl->rl_lineno = f->f_lineno;
		rl->rl_indented = *p == ' ' || *p == '\t';
		if ((rl->rl_bad = bad) != NULL)
			return 1;
		p += strspn(p, CF_BLANKS);
		if (*p == '\0' || *p == '#')
			continue;
		if ((rl->rl_argc = cf_split(p, &rl->rl_argv)) == -1) {
			if (errno != EINVAL) {
				cf_fatal(cr, f->f_path, f->f_lineno, errno);
				return -1;
			}
			rl->rl_bad = "unterminated quote";
		}
		return 1;
	}
}

/* Move rl's words to the end of s; 0 / -1 (ENOMEM). */
static int
cf_addline(struct stanza *s, struct cfraw *rl)
{
	struct cfline *n;
	size_t cap;

	/* Capacity is the next power of two: grow when n is one. */
	if ((s->s_nlines & (s->s_nlines - 1)) == 0) {
		cap = s->s_nlines ? 2 * s->s_nlines : 1;
		if ((n = realloc(s->s_lines, cap * sizeof(*n))) == NULL)
			return -1;
		s->s_lines = n;
	}
	n = &s->s_lines[s->s_nlines++];
	n->cl_lineno = rl->rl_lineno;
	n->cl_argc = rl->rl_argc;
	n->cl_argv = rl->rl_argv;
	rl->rl_argv = NULL;
	return 0;
}

static struct stanza *
cf_stanza_new(const struct cfframe *f, int line)
{
	struct stanza *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->s_file = strdup(f->f_path);
	s->s_dir = strdup(f->f_dir);
	s->s_line = line;
	if (s->s_file == NULL || s->s_dir == NULL) {
		stanza_free(s);
		return NULL;
	}
	return s;
}

/*
 * Read the next stanza of f: 1 (*sp set), 0 at the end of the file, -1
 * on an error (recorded; a bad stanza has been read to its end).
 */
static int
cf_stanza_read(struct cfreader *cr, struct cfframe *f, struct stanza **sp)
{
	struct stanza *s = NULL;
	struct cfraw rl;
	const char *bad = NULL;
	int r, badline = 0;

	*sp = NULL;
	if (f->f_havela) {
		rl = f->f_la;
		f->f_havela = 0;
	} else if ((r = cf_getraw(cr, f, &rl)) <= 0)
		return r;
	if ((s = cf_stanza_new(f, rl.rl_lineno)) == NULL)
		goto nomem;
	if (rl.rl_bad || rl.rl_indented) {
		bad = rl.rl_bad ? rl.rl_bad : "indented line outside a stanza";
		badline = rl.rl_lineno;
	} else if (cf_addline(s, &rl) == -1)
		goto nomem;
	free(rl.rl_argv);
	rl.rl_argv = NULL;
	for (;;) {
		if ((r = cf_getraw(cr, f, &rl)) == -1)
			goto fail;
		if (r == 0)
			break;
		if (!rl.rl_indented) {
			f->f_la = rl;
			f->f_havela = 1;
			break;
		}
		if (rl.rl_bad && bad == NULL) {
			bad = rl.rl_bad;
			badline = rl.rl_lineno;
		} else if (bad == NULL && cf_addline(s, &rl) == -1)
			goto nomem;
		free(rl.rl_argv);
		rl.rl_argv = NULL;
	}
	if (bad != NULL) {
		cf_seterr(cr, f->f_path, badline, "%s", bad);
		goto fail;
	}
	*sp = s;
	return 1;
nomem:
	cf_fatal(cr, f->f_path, rl.rl_lineno, ENOMEM);
	free(rl.rl_argv);
fail:
	stanza_free(s);
	return -1;
}

/* Append the files `pat` names to f's include list; 0 / -1 (recorded). */
static int
cf_expand(struct cfreader *cr, struct cfframe *f, const char *pat, int line)
{
	glob_t g;
	struct stat st;
	char *p, *q, **n;
	size_t i;
	int r, isglob = strpbrk(pat, "*?[") != NULL;

	memset(&g, 0, sizeof(g));
	if ((p = cf_join(f->f_dir, pat, isglob)) == NULL)
		goto nomem;
	if (!isglob && strchr(pat, '/') == NULL && stat(p, &st) == -1 &&
	    errno == ENOENT) {
		/* Not beside the includer: one of the shipped files? */
		if ((q = cf_find(pat)) != NULL) {
			free(p);
			p = q;
		} else if (errno == ENOMEM)
			goto nomem;
	}
	if (!isglob) {
		g.gl_pathc = 1;
		g.gl_pathv = &p;
	} else if ((r = glob(p, 0, NULL, &g)) == GLOB_NOSPACE)
		goto nomem;
	else if (r == GLOB_ABORTED) {
		cf_seterr(cr, f->f_path, line,
		    "include %s: cannot read a directory", pat);
		goto fail;
	}
	if ((n = realloc(f->f_inc,
		 (f->f_ninc + g.gl_pathc + 1) * sizeof(*n))) == NULL)
		goto nomem;
	f->f_inc = n;
	for (i = 0; i < g.gl_pathc; i++) {
		/* A glob skips directories and such; a plain name must be a
		 * file, which cf_push() checks. */
		if (isglob && stat(g.gl_pathv[i], &st) == 0 &&
		    !S_ISREG(st.st_mode))
			continue;
		if ((n[f->f_ninc] = strdup(g.gl_pathv[i])) == NULL)
			goto nomem;
		f->f_ninc++;
	}
	if (isglob)
		globfree(&g);
	free(p);
	return 0;
nomem:
	cf_fatal(cr, f->f_path, line, ENOMEM);
fail:
	if (isglob)
		globfree(&g);
	free(p);
	return -1;
}

/* Turn an include stanza into f's include list; 0 / -1 (recorded). */
static int
cf_include(struct cfreader *cr, struct cfframe *f, const struct stanza *s)
{
	int i;

	if (s->s_nlines > 1) {
		cf_seterr(cr, s->s_file, s->s_lines[1].cl_lineno,
		    "include takes no indented lines");
		return -1;
	}
	if (s->s_lines[0].cl_argc < 2) {
		cf_seterr(cr, s->s_file, s->s_line, "include: no file given");
		return -1;
	}
	if ((f->f_inc = calloc(1, sizeof(*f->f_inc))) == NULL) {
		cf_fatal(cr, s->s_file, s->s_line, ENOMEM);
		return -1;
	}
	f->f_incline = s->s_line;
	for (i = 1; i < s->s_lines[0].cl_argc; i++) {
		if (cf_expand(cr, f, s->s_lines[0].cl_argv[i], s->s_line)) {
			cf_incfree(f);
			return -1;
		}
	}
	return 0;
}

int
cf_next(struct cfreader *cr, struct stanza **sp)
{
	struct cfframe *f;
	struct stanza *s;
	const char *why, *path;
	int r;

	*sp = NULL;
	while (!cr->cr_dead && cr->cr_depth > 0) {
		f = &cr->cr_frames[cr->cr_depth - 1];
		if (f->f_inc != NULL && f->f_nextinc < f->f_ninc) {
			path = f->f_inc[f->f_nextinc++];
			if (cf_push(cr, path, &why) == 0)
				continue;
			if (errno == ENOMEM)
				cf_fatal(cr, f->f_path, f->f_incline, errno);
			else
				cf_seterr(cr, f->f_path, f->f_incline,
				    "include %s: %s", path, why);
			return -1;
		}
		if (f->f_inc != NULL) {
			cf_incfree(f);
			continue;
		}
		if ((r = cf_stanza_read(cr, f, &s)) == 0) {
			cf_pop(cr);
			continue;
		}
		if (r == -1)
			return -1;
		if (strcmp(s->s_lines[0].cl_argv[0], "include") == 0) {
			r = cf_include(cr, f, s);
			stanza_free(s);
			if (r == -1)
				return -1;
			continue;
		}
		*sp = s;
		return 1;
	}
	return 0;
}

int
cf_out_of_memory(const struct cfreader *cr)
{
	return cr->cr_errnomem || cr->cr_nomem;
}
