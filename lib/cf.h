/*
 * cf.h: the configuration language shared by dirplex, patplex and every
 * later program (ashd(7), "Configuration").
 *
 * A file is a sequence of stanzas.  A stanza is an unindented start line
 * followed by zero or more indented lines (indented = starting with a
 * space or a tab; how deep carries no meaning).  Blank lines and lines
 * whose first non-blank character is '#' are skipped anywhere, also
 * inside a stanza.  A stanza never spans two files.
 *
 * Words.  A line is split into words at blanks (space, tab, CR, FF, VT):
 *
 *	input		word		note
 *	a b		"a" "b"
 *	"a b"		"a b"		quotes group; they may sit inside a
 *	x"a b"y		"xa by"		word and are removed
 *	""		""		an empty word
 *	a\ b		"a b"		backslash + blank: the blank
 *	\" \\		'"' '\'		backslash + quote or backslash
 *	\d  a\		"\d" "a\"	any other backslash is kept as is
 *	"abc		error		unterminated quote
 *
 * Escapes work the same inside and outside quotes.  Keeping other
 * backslashes means regular expressions (patplex) need no doubling.
 * A line is at most ASH_CFLINE_MAX bytes without its newline; a longer
 * line, or one holding a NUL byte, is an error, never truncated.  A
 * trailing CR (CRLF files) is dropped.
 *
 * Includes.  An unindented "include FILE..." line (with no indented
 * lines) is handled by the reader and never returned: every FILE is a
 * glob(3) pattern, relative to the directory of the including file, and
 * the files it names are read in place, in sorted order, one pattern
 * after the other.  A plain name (no '/', no metacharacters) that
 * names nothing beside the including file is looked for as cf_find()
 * does, so that a .htrc can "include listing.rc" from etc/ashd.  A pattern with metacharacters (* ? [) that matches
 * nothing is fine and matched directories are skipped; a plain name
 * that cannot be read is an error.  Includes nest up to
 * ASH_CFINCLUDE_DEPTH levels; including a file that is being read
 * (a cycle) is an error.
 *
 * Errors read "file:line: what is wrong".  The top file is named as
 * given to cf_open(); included files by the includer's (absolute)
 * directory joined with the pattern, or by the glob(3) match.
 */
#ifndef ASHD_CF_H
#define ASHD_CF_H

#include <stddef.h>

struct cfline {
	int cl_lineno;
	int cl_argc;	/* >= 1 */
	char **cl_argv; /* NULL-terminated; one allocation */
};

struct stanza {
	char *s_file;		/* file the stanza is in, as named */
	char *s_dir;		/* that file's directory, absolute */
	int s_line;		/* line of the start line */
	struct cfline *s_lines; /* s_lines[0] is the start line */
	size_t s_nlines;	/* >= 1 */
};

struct cfreader;

/* Open the file at `path` (as given, no search; see cf_find()).
 * NULL with errno if it cannot be opened or is a directory (EISDIR). */
struct cfreader *cf_open(const char *path);
void cf_close(struct cfreader *cr);

/*
 * Read the next stanza into *sp (free it with stanza_free()).
 * Returns 1 for a stanza, 0 at the end of the configuration, -1 on an
 * error described by cf_error().  After an error the caller may call
 * cf_next() again to go on and find further errors (for -t): the bad
 * stanza or include is skipped.  After an error the reader cannot get
 * past (I/O error, out of memory) the next call returns 0.
 */
int cf_next(struct cfreader *cr, struct stanza **sp);
/* The last error, "file:line: what is wrong" ("" if none); valid until
 * the next cf_next() or cf_close(). */
const char *cf_error(const struct cfreader *cr);

void stanza_free(struct stanza *s);

/*
 * "file:line: message" for line `l` of stanza `s` (NULL: the start
 * line), so that programs report their own errors in the reader's form.
 * Returns a new string (free() it), NULL on ENOMEM.
 */
char *stanza_error(const struct stanza *s, const struct cfline *l,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Split one line into words as described above.  Returns the number
 * of words and a NULL-terminated array in *argvp, allocated as one
 * block (free() it), or -1 with errno EINVAL (unterminated quote) or
 * ENOMEM.
 */
int cf_split(const char *line, char ***argvp);

/*
 * The standard search for a configuration file, ashd's.  A name holding
 * '/' is returned as is.  Otherwise the first regular file of:
 *	$HOME/.ashd/etc/ashd/NAME	(ashd's)
 *	$HOME/.ashd/etc/NAME		(what ashd's manual says; kept)
 *	P/etc/ashd/NAME			for every $PATH entry E holding a
 *					'/', P being E without its last
 *					element, by name ("/usr/bin" ->
 *					"/usr", "/bin" -> "")
 *	P/etc/ashd/NAME			the same for the directory of the
 *					running program
 *	SYSCONFDIR/ashd/NAME
 * Returns a new string (free() it), or NULL with errno ENOENT if none
 * exists, ENOMEM.
 */
char *cf_find(const char *name);
/*
 * Append the directory of the running program to $PATH unless it is on
 * it already.  The shipped configuration names the project's programs
 * without a directory (as ashd's does); installed side by side, they
 * are then found by the handlers that start them even when that
 * directory is not on the PATH they were given.  Entries already there
 * still come first.  0, or -1 (errno).
 */
int cf_path_add_exedir(void);
/* What to say when cf_find(name) found nothing: for a name without '/'
 * that it was searched for, and that ./NAME is how to give a file in
 * the current directory.  New string, NULL on ENOMEM. */
char *cf_notfound_msg(const char *name);

/*
 * Reading a program's own configuration: every stanza of a file handed
 * to the program's parser, each error reported as "file:line: what"
 * and counted.  Nothing here dies: a failed allocation is counted (and
 * reported once) in rd_nomem, so that a file read while serving (a
 * .htrc) fails the request, not the process.
 */
struct cfread {
	void (*rd_report)(const char *msg); /* NULL: logged (LOG_ERR) */
	int rd_nerrors; /* errors reported, rd_nomem included */
	int rd_nomem;	/* memory ran out: the reading is incomplete */
};

/* Did the reader stop for want of memory? */
int cf_out_of_memory(const struct cfreader *cr);

/* Read every stanza of the file at path, calling stanza(rd, s, arg) for
 * each (s is freed afterwards).  0, or -1 with errno if the file cannot
 * be opened or memory ran out (ENOMEM; rd_nomem also set). */
int cf_read(const char *path, struct cfread *rd,
    void (*stanza)(struct cfread *rd, const struct stanza *s, void *arg),
    void *arg);
/* Report "file:line: message" for line l of s (NULL: the start line)
 * and count it. */
void cf_err(struct cfread *rd, const struct stanza *s, const struct cfline *l,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Report a message already in that form, and count it. */
void cf_report(struct cfread *rd, const char *msg);
/* Note a failed allocation: reported once, counted. */
void cf_nomem(struct cfread *rd);

/* NULL-terminated string vectors, as configurations keep word lists.
 * cf_strv_dup: a deep copy, NULL on ENOMEM.  cf_set_add: append the
 * pair name, value to *setp (a name, value, ... NULL list, or NULL);
 * 0, or -1 on ENOMEM leaving *setp as it was. */
char **cf_strv_dup(char *const *v);
void cf_strv_free(char **v);
int cf_set_add(char ***setp, const char *name, const char *value);

#endif
