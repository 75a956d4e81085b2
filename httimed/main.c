/*
 * httimed: pass every request to one persistent child handler, and
 * exit after TIMEOUT seconds without a request, so that a rarely used
 * handler costs no process while idle.  The parent (dirplex, patplex,
 * any user of lib/child) starts httimed again on the next request.
 *
 * Going idle without losing a request: the parent may have sent
 * requests that are not read yet.  So at the timeout httimed shuts its
 * standard input down both ways.  The parent's next send fails at once
 * (and it starts a new httimed for that request), while the datagrams
 * already queued are still read and passed on, up to end-of-file.  Then
 * the child's socket is closed: the child finishes what it has and
 * exits on its own.
 *
 * If the child exits, httimed stops the same way (ashd's page: "If the
 * child handler exits, httimed exits as well"); lib/child tells when it
 * reaps it (ch_exited).
 *
 *	state		event			next
 *	serving		request			serving, idle timer restarted
 *	serving		idle timer, child died	closing: stdin shut down
 *	closing		queued request		closing (passed on)
 *	closing		end of input		stopped: once the requests
 *						waiting for the child are
 *						sent, its socket is closed
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ashlimits.h"
#include "child.h"
#include "handler.h"
#include "log.h"
#include "loop.h"
#include "req.h"

static struct child *ch;
static struct timer idle;
static int closing;
static long timeout = ASH_HTTIMED_TIMEOUT;

static void
usage(FILE *out)
{
	fprintf(out, "usage: httimed [-h] [-t TIMEOUT] CHILD [ARGS...]\n");
}

/* Take no more requests; those already sent to us are still served. */
static void
close_input(void)
{
	if (closing)
		return;
	closing = 1;
	loop_untimer(handler_loop(), &idle);
	if (shutdown(0, SHUT_RDWR) == -1)
		handler_stop();
}

static void
idle_fire(struct timer *t)
{
	(void)t;
	close_input();
}

static void
child_gone(struct child *c)
{
	if (!closing)
		log_msg(LOG_WARNING, "child %s exited; exiting too",
		    c->ch_argv[0]);
	close_input();
}

static void
serve_one(struct req *r, int fd, void *arg)
{
	(void)arg;
	if (!closing &&
	    loop_timer(handler_loop(), &idle, (uint64_t)timeout * 1000) == -1)
		log_errno(LOG_ERR, "timer");
	child_pass(ch, r, fd);
}

static void
stop(void *arg)
{
	(void)arg;
	loop_untimer(handler_loop(), &idle);
}

static const struct handler httimed_handler = {
	.h_request = serve_one,
	.h_stop = stop,
};

int
main(int argc, char **argv)
{
	char *end;
	int c, rv;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	while ((c = getopt(argc, argv, "+Vht:")) != -1) {
		switch (c) {
		case 'V':
			return log_version();
		case 'h':
			usage(stdout);
			return 0;
		case 't':
			errno = 0;
			timeout = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || errno != 0 ||
			    timeout < 1 || timeout > INT_MAX / 1000) {
				log_msg(LOG_ERR,
				    "-t %s: not a positive number "
				    "of seconds",
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
	if (!handler_check_input())
		return 1;
	handler_loop();
	if ((ch = child_new(argv[optind], CHILD_PERSISTENT, argv + optind,
		 NULL)) == NULL)
		log_die_errno(1, "out of memory");
	if (child_start(ch) == -1)
		log_die_errno(1, "%s", argv[optind]);
	ch->ch_exited = child_gone;
	handler_follow(ch);
	timer_init(&idle, idle_fire, NULL);
	if (loop_timer(handler_loop(), &idle, (uint64_t)timeout * 1000) == -1)
		log_die_errno(1, "timer");
	rv = handler_run(&httimed_handler, NULL);
	child_free(ch);
	return rv;
}
