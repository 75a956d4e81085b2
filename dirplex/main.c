/*
 * dirplex: serve a directory tree by mapping the rest string to files
 * and passing each request to the handler its configuration names.
 *
 * main() reads the arguments and the configuration (-t stops there,
 * having checked the global and -c files and every .htrc under DIR),
 * then serves request datagrams from standard input until end-of-file.
 * Children are reaped from the loop, so none is left a zombie.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf.h"
#include "dirplex.h"
#include "handler.h"
#include "log.h"
#include "req.h"

static const char *extra; /* -c CONFIG, or NULL */
static int noglobal;	  /* -N */

static void
usage(FILE *out)
{
	fprintf(out, "usage: dirplex [-hNt] [-c CONFIG] DIR\n");
}

static void
report_stderr(const char *msg)
{
	fprintf(stderr, "%s: %s\n", log_progname(), msg);
}

/* Read a configuration file found by name; exits 2 if it has errors. */
static struct config *
load(const char *name, int required, int check)
{
	struct config *cf;
	char *path;

	if ((path = cf_find(name)) == NULL) {
		if (required) {
			if ((path = cf_notfound_msg(name)) == NULL)
				log_die(1, "out of memory");
			log_die(2, "%s", path);
		}
		return NULL;
	}
	if ((cf = conf_read(path, rootdir, 0, report_stderr)) == NULL)
		log_die_errno(2, "%s", path);
	if (cf->cf_nerrors && !check)
		log_die(2, "%s: %d error(s), not starting", path,
		    cf->cf_nerrors);
	free(path);
	return cf;
}

static void
serve_one(struct req *r, int fd, void *arg)
{
	(void)arg;
	serve(r, fd);
	close(fd);
	req_free(r);
}

/* SIGHUP: read the -c and global files again (.htrc files are read
 * again whenever they change). */
static void
reload(void *arg)
{
	(void)arg;
	if (!noglobal)
		conf_reload("dirplex.rc", &cf_global);
	if (extra)
		conf_reload(extra, &cf_extra);
}

static const struct handler dirplex_handler = {
	.h_request = serve_one,
	.h_reload = reload,
	.h_batch = 64,
};

int
main(int argc, char **argv)
{
	char real[PATH_MAX];
	int c, check = 0, errors;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	cf_path_add_exedir();
	while ((c = getopt(argc, argv, "VhNtc:")) != -1) {
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
		case 'c':
			extra = optarg;
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
	if (realpath(argv[optind], real) == NULL)
		log_die_errno(2, "%s", argv[optind]);
	rootdir = xstrdup(real);
	if (!noglobal)
		cf_global = load("dirplex.rc", 0, check);
	if (extra)
		cf_extra = load(extra, 1, check);
	if (check) {
		errors = (cf_global ? cf_global->cf_nerrors : 0) +
		    (cf_extra ? cf_extra->cf_nerrors : 0) +
		    htrc_check_tree(rootdir);
		if (errors) {
			fprintf(stderr, "%s: %d error(s)\n", log_progname(),
			    errors);
			return 2;
		}
		printf("%s: configuration OK\n", log_progname());
		return 0;
	}
	return handler_run(&dirplex_handler, NULL);
}
