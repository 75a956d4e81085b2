/*
 * accesslog: a persistent handler in front of one child handler,
 * writing a record of every request to a log file (accesslog(1)).
 *
 * main() reads the arguments, compiles the format (a bad one stops it
 * here, exit 2), opens and locks the log, starts the child and serves.
 * Plain mode: each request is passed on with htparser's socket, then
 * logged; nothing of the response is seen.  Extended mode (-e): the
 * response is relayed and counted (relay.c) and logged when it ends.
 *
 * The child's socket is watched for its hang-up: if the child exits
 * (closes it) while requests are still coming, accesslog stops too (as
 * ashd's does), so that htparser sees its root handler gone.  SIGHUP reopens the log;
 * SIGTERM, or the end of input, stops taking requests, lets relayed
 * ones finish, and writes every buffered record before exiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accesslog.h"
#include "child.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "req.h"

#define DEFAULT_FORMAT "%{%Y-%m-%d %H:%M:%S}t %m %u %A \"%G\""
#define APACHE_FORMAT \
	"%A - - [%{%d/%b/%Y:%H:%M:%S %z}t] " \
	"\"%m %u %v\" %c %o \"%R\" \"%G\""

static struct child *child;
static struct fmt *format;
static int extended;
static int stopping;
static int status; /* exit status */
static char *pidfile;
static int hupfd = -1; /* our end of the child's socket */
static struct watch hupwatch;
static pid_t gone_pid; /* the child that has exited */
static char *child_name;
static struct timer gonetimer;

#define GONE_WAIT_MS 1000 /* for the exited child to be reaped */

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: accesslog [-hFaeL] [-f FORMAT] [-p PIDFILE] "
	    "OUTFILE CHILD [ARGS...]\n"
	    "       accesslog -P LOGFILE\n");
}

/* Plain mode: pass the request on, then log it. */
static void
serve_plain(struct req *r, int fd)
{
	struct logrec lr;

	memset(&lr, 0, sizeof(lr));
	clock_gettime(CLOCK_REALTIME, &lr.lr_when);
	if (child_handle(child, r, fd) == -1) {
		log_errno(LOG_ERR, "cannot pass the request to the child");
		http_error(fd, 503, "The handler is not available.");
	}
	close(fd);
	lr.lr_req = r;
	logf_record(format, &lr);
	req_free(r);
}

static void
serve_one(struct req *r, int fd, void *arg)
{
	(void)arg;
	if (extended)
		relay_start(child, format, r, fd);
	else
		serve_plain(r, fd);
}

static void
reload(void *arg)
{
	(void)arg;
	logf_reopen();
}

static void
stop(void *arg)
{
	(void)arg;
	stopping = 1;
	if (hupfd >= 0) {
		loop_unwatch(handler_loop(), &hupwatch);
		close(hupfd);
		hupfd = -1;
	}
	/* The child sees end-of-file and finishes what it has; requests
	 * still queued for it are answered 503. */
	child_free(child);
	child = NULL;
}

/* Waited long enough for the child to be reaped. */
static void
gone_timeout(struct timer *t)
{
	(void)t;
	gone_pid = 0;
	handler_release();
}

/* The child closed its socket (it exited) while we were serving.  If it
 * has not been reaped yet, wait a moment for it, to say how it ended. */
static void
child_gone(struct watch *w, uint32_t ev)
{
	(void)w;
	(void)ev;
	log_msg(LOG_ERR, "child %s has exited: stopping", child->ch_name);
	status = 1;
	if ((gone_pid = child->ch_pid) > 0) {
		timer_init(&gonetimer, gone_timeout, NULL);
		if (loop_timer(handler_loop(), &gonetimer, GONE_WAIT_MS) == 0)
			handler_hold();
		else
			gone_pid = 0;
	}
	handler_stop();
}

/* The child is reaped after stop() let go of it: say how it ended, as
 * lib/child does for the children it still knows. */
static void
reaped(pid_t pid, int st, void *arg)
{
	(void)arg;
	if (pid != gone_pid || pid == 0)
		return;
	if (WIFSIGNALED(st))
		log_msg(LOG_WARNING, "child %s: killed by signal %d",
		    child_name, WTERMSIG(st));
	else if (WEXITSTATUS(st) != 0)
		log_msg(LOG_WARNING, "child %s: exited with status %d",
		    child_name, WEXITSTATUS(st));
	gone_pid = 0;
	loop_untimer(handler_loop(), &gonetimer);
	handler_release();
}

static void
start_child(char **argv)
{
	const char *name = strrchr(argv[0], '/');

	child = child_new(name ? name + 1 : argv[0], CHILD_PERSISTENT, argv,
	    NULL);
	if (child == NULL)
		log_die_errno(1, "child");
	if (child_start(child) == -1)
		log_die_errno(1, "%s", argv[0]);
	child_name = xstrdup(child->ch_name);
	/* A copy of our end, watched with no events: the hang-up of the
	 * child's end is reported all the same.  stop() closes it before
	 * the child's socket, so that the child then sees end-of-file. */
	if ((hupfd = fcntl(child->ch_fd, F_DUPFD_CLOEXEC, 3)) == -1)
		log_die_errno(1, "child socket");
	watch_init(&hupwatch, hupfd, child_gone, NULL);
	if (loop_watch(handler_loop(), &hupwatch, 0) == -1)
		log_die_errno(1, "event loop");
}

/* The name -p gives. */
static void
pidfile_name(const char *arg, const char *outfile)
{
	if (strcmp(arg, "-") == 0) {
		if (strcmp(outfile, "-") == 0)
			log_die(2,
			    "-p -: the log is standard output, "
			    "which has no name to add .pid to");
		if (asprintf(&pidfile, "%s.pid", outfile) == -1)
			log_die_errno(1, "pid file");
	} else
		pidfile = xstrdup(arg);
}

static void
write_pidfile(void)
{
	FILE *f;

	if ((f = fopen(pidfile, "w")) == NULL ||
	    fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) == EOF)
		log_die_errno(1, "%s", pidfile);
}

static const struct handler accesslog_handler = {
	.h_request = serve_one,
	.h_reload = reload,
	.h_reaped = reaped,
	.h_stop = stop,
};

int
main(int argc, char **argv)
{
	const char *fmtstr = DEFAULT_FORMAT, *pidarg = NULL;
	char *err;
	long pid;
	int c, flush = 1, nolock = 0, rv;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	while ((c = getopt(argc, argv, "+VhFaeLf:p:P:")) != -1) {
		switch (c) {
		case 'V':
			return log_version();
		case 'h':
			usage(stdout);
			return 0;
		case 'F':
			flush = 0;
			break;
		case 'a':
			fmtstr = APACHE_FORMAT;
			break;
		case 'e':
			extended = 1;
			break;
		case 'L':
			nolock = 1;
			break;
		case 'f':
			fmtstr = optarg;
			break;
		case 'p':
			pidarg = optarg;
			break;
		case 'P':
			if ((pid = logf_lockpid(optarg)) < 0)
				return 1;
			printf("%ld\n", pid);
			return fflush(stdout) == EOF ? 1 : 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	if ((format = fmt_compile(fmtstr, &err)) == NULL) {
		if (err == NULL)
			log_die(1, "out of memory");
		log_msg(LOG_ERR, "%s", err);
		free(err);
		return 2;
	}
	if (pidarg)
		pidfile_name(pidarg, argv[optind]);
	if (!handler_persistent()) {
		log_msg(LOG_ERR,
		    "standard input is not a request socket "
		    "(accesslog is a persistent handler, see ashd(7))");
		return 1;
	}
	logf_open(argv[optind], nolock);
	if (pidfile)
		write_pidfile();
	logf_setup(handler_loop(), flush);
	start_child(argv + optind + 1);
	rv = handler_run(&accesslog_handler, NULL);
	logf_flush();
	if (pidfile)
		unlink(pidfile);
	fmt_free(format);
	return rv ? rv : status;
}
