/*
 * patplex.h: patplex's configuration model and its two halves,
 * conf.c (reading the files into a ruleset) and match.c (choosing the
 * match stanza for a request and passing the request on).
 *
 * A ruleset is CONFIGFILE plus the global patplex.rc, with every match
 * stanza of both in one array sorted by precedence: priority (highest
 * first), then CONFIGFILE before the global file, then file order.  A
 * request goes to the first stanza of that array whose rules all match,
 * so the order is decided once, at load time.  Rulesets are immutable
 * once built, except for p_fired, which match.c uses to disable the
 * stanzas a request has already been through (reparse).
 */
#ifndef PATPLEX_H
#define PATPLEX_H

#include <regex.h>
#include <stddef.h>

struct child;
struct req;

enum rtype { R_POINT, R_URL, R_METHOD, R_HEADER, R_ALL };

#define RF_ICASE  0x1 /* flag i: case-insensitive */
#define RF_SUB	  0x2 /* flag s: groups feed restpat */
#define RF_DECODE 0x4 /* flag q: match the percent-decoded text */

struct rule {
	enum rtype ru_type;
	int ru_flags;
	int ru_line;
	char *ru_header; /* R_HEADER: the header's name */
	regex_t ru_re;	 /* valid if ru_hasre */
	int ru_hasre;
};

/* One piece of a restpat template. */
enum tkind { T_TEXT, T_GROUP, T_REST, T_HEADER };
struct tpart {
	enum tkind t_kind;
	int t_group;  /* T_GROUP: 0-9 */
	char *t_text; /* T_TEXT: the text; T_HEADER: the name */
};

struct pattern {
	struct pattern *p_next; /* in its file, in file order */
	int p_line;		/* of the "match" line */
	char *p_file;		/* the file, as named (maybe included) */
	struct rule *p_rules;
	size_t p_nrules;
	int p_sub; /* rule feeding $0-$9, or -1 */
	int p_priority;
	char *p_handler;      /* NULL: the action is reparse */
	int p_hline;	      /* line of the action */
	char **p_set;	      /* name, value, name, value..., NULL */
	struct tpart *p_tmpl; /* restpat, or NULL */
	size_t p_ntmpl;
	unsigned long p_fired; /* serial of the last request it took */
};

struct config {
	char *cf_path;
	struct child *cf_children;
	struct pattern *cf_patterns;
	size_t cf_npatterns;
	int cf_nerrors;
};

struct ruleset {
	struct config *rs_local;   /* CONFIGFILE */
	struct config *rs_global;  /* patplex.rc, or NULL */
	struct pattern **rs_order; /* every stanza, by precedence */
	size_t rs_n;
	int rs_nerrors; /* in both files, and across them */
};

/*
 * Read a configuration file.  Each error is passed to `report` as
 * "file:line: what" and counted in cf_nerrors; the stanzas that were
 * right are kept.  NULL if the file cannot be opened (errno set).
 */
struct config *conf_read(const char *path, void (*report)(const char *));
void conf_free(struct config *cf);

/*
 * Make a ruleset of two files (global may be NULL); they belong to it
 * from now on.  Checks what needs both files (every handler named must
 * be defined in one of them), reporting and counting errors in
 * rs_nerrors, which also includes the files' own errors.
 */
struct ruleset *ruleset_new(struct config *local, struct config *global,
    void (*report)(const char *));
void ruleset_free(struct ruleset *rs);
/* Hand the running children of `old` over to `new` by name (see
 * child_adopt()); a child whose program, arguments or directory
 * changed is restarted instead.  Children only in `old` are stopped. */
void ruleset_adopt(struct ruleset *old, struct ruleset *new);
/* The child called `name`: CONFIGFILE first, then the global file. */
struct child *ruleset_child(const struct ruleset *rs, const char *name);

/* match.c: the stanza that takes r, after every rewrite (restpat,
 * point, set, reparse) has been applied to r: 0 with *pp set, or the
 * status to answer (404 no match, 414 rewritten too long, 503 out of
 * memory). */
int ruleset_route(struct ruleset *rs, struct req *r, const struct pattern **pp);
/* Route request r with response socket fd (not closed). */
void serve(struct ruleset *rs, struct req *r, int fd);

#endif
