/*
 * callcgi: run CGI/1.1 scripts (RFC 3875) for ashd requests.
 *
 * It runs under either handler convention and tells them apart from
 * its standard input: a SOCK_SEQPACKET socket means persistent (many
 * requests at once, each costing one process: the script, started with
 * posix_spawn), anything else transient (one request, METHOD URL REST
 * as the last arguments).  Either way the script is X-Ash-File, or
 * PROGRAM (-p) with that file as its argument.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "callcgi.h"
#include "log.h"
#include "loop.h"
#include "req.h"

#define DEFAULT_TIMEOUT	300	/* seconds */
#define DEFAULT_PATH	"/usr/local/bin:/usr/bin:/bin"

static struct loop *loop;
static struct watch inwatch, sigwatch;
static int sigfd = -1, ineof;

static void
usage(FILE *out)
{
	fprintf(out, "usage: callcgi [-hcV] [-p PROGRAM | -P PROGRAM "
	    "[ARGS...] ;] [-t SECONDS]\n"
	    "               [METHOD URL REST]\n");
}

/* -P PROGRAM ARGS... ";": the arguments up to the ";" (ashd's form);
 * -1 if there is none. */
static int
program_args(int argc, char **argv)
{
	int i;

	for (i = optind; i < argc && strcmp(argv[i], ";"); i++)
		;
	if (i == argc)
		return -1;
	argv[i] = NULL;
	cgiopt.co_args = argv + optind;
	optind = i + 1;
	return 0;
}

static void
start_one(struct req *r, int fd, void *arg)
{
	job_start(loop, r, fd);
}

static void
input_event(struct watch *w, uint32_t ev)
{
	int rv;

	if ((rv = req_serve(0, 32, start_one, NULL)) < 0)
		log_die_errno(1, "reading requests");
	if (rv > 0) {
		/* End of input: finish what runs, then exit. */
		ineof = 1;
		loop_unwatch(loop, &inwatch);
		cgiopt.co_onejob = 1;
		if (job_count() == 0)
			loop_stop(loop);
	}
}

static void
signal_event(struct watch *w, uint32_t ev)
{
	struct signalfd_siginfo si;
	pid_t pid;

	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		job_reaped(pid);
}

int
main(int argc, char **argv)
{
	socklen_t sl = sizeof(int);
	sigset_t mask;
	const char *p;
	char *end;
	double secs;
	int c, type = 0, persistent, sock;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	cgiopt.co_timeout = DEFAULT_TIMEOUT * 1000;
	while ((c = getopt(argc, argv, "+hVcp:P:t:")) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return log_version();
		case 'c':
			cgiopt.co_chdir = 1;
			break;
		case 'p':
			cgiopt.co_program = optarg;
			cgiopt.co_args = NULL;
			break;
		case 'P':
			cgiopt.co_program = optarg;
			if (program_args(argc, argv) == -1) {
				log_msg(LOG_ERR, "-P %s: the arguments must end "
				    "with \";\"", optarg);
				return 2;
			}
			break;
		case 't':
			secs = strtod(optarg, &end);
			if (*end || !(secs > 0) || secs > 86400 * 30) {
				log_msg(LOG_ERR, "-t %s: bad number of seconds",
				    optarg);
				return 2;
			}
			cgiopt.co_timeout = (uint64_t)(secs * 1000);
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	cgiopt.co_path = (p = getenv("PATH")) ? p : DEFAULT_PATH;
	cgiopt.co_tmpdir = (p = getenv("TMPDIR")) && *p ? p : "/tmp";
	persistent = getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &sl) == 0 &&
	    type == SOCK_SEQPACKET;
	if (!persistent && argc - optind != 3) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((loop = loop_new()) == NULL ||
	    (sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		log_die_errno(1, "epoll");
	watch_init(&sigwatch, sigfd, signal_event, NULL);
	if (loop_watch(loop, &sigwatch, EPOLLIN) == -1)
		log_die_errno(1, "epoll");
	if (persistent) {
		fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
		watch_init(&inwatch, 0, input_event, NULL);
		if (loop_watch(loop, &inwatch, EPOLLIN) == -1)
			log_die_errno(1, "epoll");
	} else {
		struct req *r;
		int null;

		/* Keep one copy of the response socket, so that its end is
		 * seen when the job closes it. */
		if ((sock = fcntl(0, F_DUPFD_CLOEXEC, 3)) == -1 ||
		    (null = open("/dev/null", O_RDWR)) == -1 ||
		    dup2(null, 0) == -1 || dup2(null, 1) == -1)
			log_die_errno(1, "setting up");
		close(null);
		if ((r = req_from_env(argv[optind], argv[optind + 1],
		    argv[optind + 2])) == NULL)
			log_die(1, "out of memory");
		cgiopt.co_onejob = 1;
		job_start(loop, r, sock);
	}
	if (loop_run(loop) == -1)
		log_die_errno(1, "epoll_wait");
	return 0;
}
