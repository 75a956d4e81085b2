/*
 * dirplex.h: dirplex's configuration model and its two halves,
 * conf.c (reading configuration files, keeping .htrc files fresh) and
 * map.c (mapping a request to a file and choosing its handler).
 */
#ifndef DIRPLEX_H
#define DIRPLEX_H

#include <sys/stat.h>
#include <time.h>

struct child;
struct req;

enum mkind { MK_FILE, MK_DIRECTORY, MK_NOTFOUND };
enum rtype { R_FILENAME, R_PATHNAME, R_DEFAULT, R_LOCAL };

struct rule {
	enum rtype ru_type;
	char **ru_pats; /* NULL-terminated (filename/pathname) */
};

struct match {
	struct match *m_next;
	enum mkind m_kind;
	struct rule *m_rules;
	size_t m_nrules;
	int m_default;	 /* has a "default" rule */
	char *m_handler; /* "handler NAME", or NULL */
	char **m_fork;	 /* "fork PROG ARGS", or NULL */
	char **m_set;	 /* header, value, header, value..., NULL */
};

struct config {
	char *cf_path; /* file name */
	char *cf_dir;  /* directory rules are relative to */
	int cf_htrc;   /* a .htrc (not -c or global) */
	struct child *cf_children;
	char **cf_index; /* index-file names */
	int cf_hasindex;
	char **cf_dotallow; /* dot-allow globs */
	int cf_hasdot;
	struct match *cf_matches;
	char *cf_capture; /* capture HANDLER */
	int cf_capdot;	  /* capture flag D */
	int cf_nerrors;	  /* the file had errors (logged) */
	int cf_nomem;	  /* htrc_get(): could not be read, ENOMEM */
	/* .htrc cache bookkeeping */
	struct stat cf_st;
	time_t cf_checked;
};

/*
 * Read a configuration file.  Errors are reported through `report`
 * ("file:line: what", one call each) and counted in cf_nerrors; the
 * stanzas that were fine are kept.  NULL with errno if the file cannot
 * be opened or memory ran out (ENOMEM).  dir: what pathname/local rules are relative to.
 */
struct config *conf_read(const char *path, const char *dir, int htrc,
    void (*report)(const char *msg));
void conf_free(struct config *cf);
/* SIGHUP: read the file found by `name` (cf_find()) again; without
 * errors it replaces *cfp, whose children of the same names keep
 * running; otherwise *cfp stays in force.  Logged either way. */
void conf_reload(const char *name, struct config **cfp);

/* The .htrc of directory `dir` (absolute), read or re-read as needed;
 * NULL if there is none.  If memory ran out, a shared stand-in with
 * cf_nerrors and cf_nomem set (tried again on the next call). */
struct config *htrc_get(const char *dir);
/* Check every .htrc below dir (for -t); returns the number of errors. */
int htrc_check_tree(const char *dir);

/*
 * statcache.c: the type of what is at `path` (S_IFREG, S_IFDIR, or
 * another S_IFMT value) in *typep, 0; -1 with errno if stat(2) fails.
 * A regular file or a directory found is remembered while `now` (the
 * time(3) of the request) stays the same: for less than a second.
 */
int statcache_type(const char *path, time_t now, mode_t *typep);

/* map.c */
extern char *rootdir;		 /* DIR, absolute */
extern struct config *cf_extra;	 /* -c, or NULL */
extern struct config *cf_global; /* dirplex.rc, or NULL */
void serve(struct req *r, int fd);

#endif
