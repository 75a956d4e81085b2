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
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cf.h"
#include "child.h"
#include "dirplex.h"
#include "log.h"
#include "loop.h"
#include "req.h"

static struct loop *loop;
static struct watch inwatch, sigwatch;
static int sigfd = -1;
static const char *extra;	/* -c CONFIG, or NULL */
static int noglobal;		/* -N */

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
	serve(r, fd);
	close(fd);
	req_free(r);
}

static void
input_event(struct watch *w, uint32_t ev)
{
	int rv;

	if ((rv = req_serve(0, 64, serve_one, NULL)) < 0)
		log_die_errno(1, "standard input is not a request socket");
	if (rv > 0)
		loop_stop(loop);
}

static void
signal_event(struct watch *w, uint32_t ev)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGHUP)
			continue;
		if (!noglobal)
			conf_reload("dirplex.rc", &cf_global);
		if (extra)
			conf_reload(extra, &cf_extra);
	}
	child_reap();
}

int
main(int argc, char **argv)
{
	char real[PATH_MAX];
	sigset_t mask;
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
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((loop = loop_new()) == NULL ||
	    (sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		log_die_errno(1, "epoll");
	child_set_loop(loop);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	watch_init(&inwatch, 0, input_event, NULL);
	watch_init(&sigwatch, sigfd, signal_event, NULL);
	if (loop_watch(loop, &inwatch, EPOLLIN) == -1 ||
	    loop_watch(loop, &sigwatch, EPOLLIN) == -1)
		log_die_errno(1, "epoll");
	if (loop_run(loop) == -1)
		log_die_errno(1, "epoll_wait");
	return 0;
}
