/*
 * patplex: pass each request to the handler of the first match stanza
 * whose regular expressions match it (virtual hosts, mount points,
 * rewrites).
 *
 * main() reads the arguments and the configuration, CONFIGFILE and the
 * global patplex.rc (-t stops there), then serves request datagrams
 * from standard input with lib/handler's loop.  A reload (SIGHUP)
 * happens between two requests, never during one: the new ruleset is
 * built completely before it replaces the old one, and a configuration
 * with errors leaves the old one in force.  Persistent children of the
 * old ruleset that the new one still names keep running
 * (ruleset_adopt()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf.h"
#include "handler.h"
#include "log.h"
#include "patplex.h"
#include "req.h"

static struct ruleset *rules;
static const char *cfname; /* CONFIGFILE as given */
static int noglobal;

static void
usage(FILE *out)
{
	fprintf(out, "usage: patplex [-hNt] CONFIGFILE\n");
}

static void
report_stderr(const char *msg)
{
	fprintf(stderr, "%s: %s\n", log_progname(), msg);
}

static void
report_log(const char *msg)
{
	log_msg(LOG_ERR, "%s", msg);
}

/*
 * Read one file found by name.  NULL if it cannot be read, with
 * *notfound set if it does not exist; that is reported only for a
 * required file.
 */
static struct config *
load_file(const char *name, int required, int *notfound,
    void (*report)(const char *))
{
	struct config *cf;
	char *path, *msg;

	*notfound = 0;
	if ((path = cf_find(name)) == NULL) {
		if (errno == ENOMEM)
			log_die(1, "out of memory");
		*notfound = 1;
		if (required) {
			if ((msg = cf_notfound_msg(name)) == NULL)
				log_die(1, "out of memory");
			report(msg);
			free(msg);
		}
		return NULL;
	}
	if ((cf = conf_read(path, report)) == NULL) {
		if (asprintf(&msg, "%s: %s", path, strerror(errno)) == -1)
			log_die(1, "out of memory");
		report(msg);
		free(msg);
	}
	free(path);
	return cf;
}

/*
 * Read CONFIGFILE and, unless -N, the global file (which need not
 * exist).  NULL if a file could not be read; otherwise the ruleset,
 * whose rs_nerrors says whether it may be used.  Every problem goes to
 * `report`.
 */
static struct ruleset *
load(void (*report)(const char *))
{
	struct config *local, *global = NULL;
	int notfound;

	if ((local = load_file(cfname, 1, &notfound, report)) == NULL)
		return NULL;
	if (!noglobal &&
	    (global = load_file("patplex.rc", 0, &notfound, report)) == NULL &&
	    !notfound) {
		conf_free(local);
		return NULL;
	}
	return ruleset_new(local, global, report);
}

/* SIGHUP: switch to a fresh reading of the files, if it is sound. */
static void
reload(void *arg)
{
	struct ruleset *n;

	if ((n = load(report_log)) == NULL || n->rs_nerrors) {
		if (n != NULL)
			log_msg(LOG_ERR,
			    "%s: %d error(s), configuration not "
			    "reloaded, the old one stays in force",
			    cfname, n->rs_nerrors);
		else
			log_msg(LOG_ERR,
			    "%s: configuration not reloaded, "
			    "the old one stays in force",
			    cfname);
		ruleset_free(n);
		return;
	}
	(void)arg;
	ruleset_adopt(rules, n);
	ruleset_free(rules);
	rules = n;
	log_msg(LOG_INFO, "configuration reloaded");
}

static void
serve_one(struct req *r, int fd, void *arg)
{
	(void)arg;
	serve(rules, r, fd);
	close(fd);
	req_free(r);
}

static const struct handler patplex_handler = {
	.h_request = serve_one,
	.h_reload = reload,
	.h_batch = 64,
};

int
main(int argc, char **argv)
{
	int c, check = 0;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	cf_path_add_exedir();
	while ((c = getopt(argc, argv, "VhNt")) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return log_version();
		case 'N':
			noglobal = 1;
			break;
		case 't':
			check = 1;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return 2;
	}
	cfname = argv[optind];
	if ((rules = load(report_stderr)) == NULL)
		return 2;
	if (rules->rs_nerrors) {
		fprintf(stderr, "%s: %d error(s)%s\n", log_progname(),
		    rules->rs_nerrors, check ? "" : ", not starting");
		return 2;
	}
	if (check) {
		printf("%s: configuration OK\n", log_progname());
		return 0;
	}
	return handler_run(&patplex_handler, NULL);
}
