/*
 * multifscgi: run NUM copies of a FastCGI or SCGI server on the one
 * listening socket it was given on standard input, starting again any
 * copy that exits (see multifscgi(1)).
 *
 * The copies are lib/pool's: each in a process group of its own, with
 * the socket inherited as standard input, SIGTERM from the kernel if
 * multifscgi dies.  SIGTERM or SIGINT stops the pool: SIGTERM to every
 * copy, SIGKILL to those still running KILL_MS later, and multifscgi
 * exits once all are reaped (a second signal: at once, after SIGKILL).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "handler.h"
#include "log.h"
#include "loop.h"
#include "pool.h"

#define KILL_MS 5000

static struct pool *pool;
static struct timer killtimer;
static int stopping;

static void
usage(FILE *out)
{
	fprintf(out, "usage: multifscgi [-hV] NUM PROGRAM [ARGS...]\n");
}

static void
kill_rest(struct timer *t)
{
	(void)t;
	log_msg(LOG_WARNING,
	    "%d process(es) still running %d ms after "
	    "SIGTERM: killing them",
	    pool_running(pool), KILL_MS);
	pool_stop(pool, SIGKILL);
}

static void
stop(void *arg)
{
	(void)arg;
	stopping = 1;
	pool_stop(pool, SIGTERM);
	if (pool_running(pool) > 0) {
		handler_hold();
		loop_timer(handler_loop(), &killtimer, KILL_MS);
	}
}

static void
reaped(pid_t pid, int status, void *arg)
{
	(void)arg;
	if (pool_reaped(pool, pid, status) && stopping &&
	    pool_running(pool) == 0) {
		loop_untimer(handler_loop(), &killtimer);
		handler_release();
	}
}

static const struct handler multifscgi_handler = {
	.h_reaped = reaped,
	.h_stop = stop,
};

int
main(int argc, char **argv)
{
	char *end;
	long num;
	int c, rv;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	while ((c = getopt(argc, argv, "+hV")) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return log_version();
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	num = strtol(argv[optind], &end, 10);
	if (*argv[optind] == '\0' || *end || num < 1 || num > 4096) {
		log_msg(LOG_ERR, "%s: bad number of processes (1 to 4096)",
		    argv[optind]);
		return 2;
	}
	timer_init(&killtimer, kill_rest, NULL);
	pool = pool_new(handler_loop(), argv + optind + 1, (int)num, 0,
	    POOL_PDEATHSIG);
	rv = handler_run_own(&multifscgi_handler, NULL);
	/* A second signal: no more waiting. */
	if (pool_running(pool) > 0)
		pool_stop(pool, SIGKILL);
	return rv;
}
