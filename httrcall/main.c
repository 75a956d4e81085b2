/*
 * httrcall: a persistent handler that runs a transient handler for
 * every request it gets, so that a transient handler can stand where
 * only persistent ones are accepted (the root of htparser, the child
 * of a persistent handler).
 *
 * Each request starts PROGRAM ARGS... METHOD URL REST with the response
 * socket on its standard input and output and the headers as REQ_*
 * variables (lib/child's child_spawn(), the convention of ashd(7)).
 *
 * With -l LIMIT, at most LIMIT of them run at once.  At the limit
 * httrcall stops reading its standard input (handler_pause()) until one
 * exits: the requests wait in the socket, and the parent feels the
 * backpressure, as ashd's httrcall blocks.  Every running program is
 * held work, so that at end of input httrcall waits for the last one
 * and leaves no orphan behind.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "req.h"

static char **prog; /* PROGRAM ARGS... */
static long limit;  /* 0: none */
static long running;

static void
usage(FILE *out)
{
	fprintf(out, "usage: httrcall [-h] [-l LIMIT] PROGRAM [ARGS...]\n");
}

static void
serve_one(struct req *r, int fd, void *arg)
{
	(void)arg;
	if (child_spawn(prog, NULL, r, fd) == -1) {
		log_errno(LOG_ERR, "%s", prog[0]);
		http_error(fd, errno == ENOENT ? 500 : 503,
		    "The handler is not available.");
	} else {
		running++;
		handler_hold();
		if (limit > 0 && running >= limit)
			handler_pause(1);
	}
	close(fd);
	req_free(r);
}

static void
reaped(pid_t pid, int st, void *arg)
{
	(void)arg;
	if (WIFSIGNALED(st))
		log_msg(LOG_WARNING, "%s: process %ld killed by signal %d%s",
		    prog[0], (long)pid, WTERMSIG(st),
		    WCOREDUMP(st) ? " (core dumped)" : "");
	if (running > 0) {
		running--;
		handler_release();
	}
	if (limit == 0 || running < limit)
		handler_pause(0);
}

int
main(int argc, char **argv)
{
	struct handler h = {
		.h_request = serve_one,
		.h_reaped = reaped,
	};
	char *end;
	int c;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	while ((c = getopt(argc, argv, "+Vhl:")) != -1) {
		switch (c) {
		case 'V':
			return log_version();
		case 'h':
			usage(stdout);
			return 0;
		case 'l':
			errno = 0;
			limit = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno != 0 ||
			    limit < 0 || limit > INT_MAX) {
				log_msg(LOG_ERR,
				    "-l %s: not a number of "
				    "processes",
				    optarg);
				return 2;
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 1) {
		usage(stderr);
		return 2;
	}
	prog = argv + optind;
	/* One request at a time, so that none is read past the limit. */
	if (limit > 0)
		h.h_batch = 1;
	return handler_run(&h, NULL);
}
