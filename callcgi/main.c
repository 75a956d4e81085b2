/*
 * callcgi: run CGI/1.1 scripts (RFC 3875) for ashd requests.
 *
 * It runs under either handler convention and tells them apart from
 * its standard input: a SOCK_SEQPACKET socket means persistent (many
 * requests at once on lib/handler's loop, each costing one process: the
 * script, started by child_run()), anything else transient (one
 * request, METHOD URL REST as the last arguments).  Either way the script is X-Ash-File, or
 * PROGRAM (-p) with that file as its argument.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ashlimits.h"
#include "callcgi.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "req.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

static struct loop *loop;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: callcgi [-hcsV] [-l LIMIT] [-q LENGTH] [-w SECONDS] "
	    "[-t SECONDS]\n"
	    "               [-p PROGRAM | -P PROGRAM [ARGS...] ;] "
	    "[METHOD URL REST]\n");
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

/* -l by default: ASH_CGI_PER_CPU scripts per processor, at most a
 * quarter of the processes the user may have. */
static int
default_limit(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long n = (cpus > 0 ? cpus : 1) * ASH_CGI_PER_CPU;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / 4 < (rlim_t)n)
		n = (long)(rl.rlim_cur / 4);
	return n < 1 ? 1 : n > ASH_CGI_LIMIT_MAX ? ASH_CGI_LIMIT_MAX : (int)n;
}

/* A count for -l or -q: 0 to ASH_CGI_LIMIT_MAX; -1 if bad. */
static int
count_arg(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 0 || n > ASH_CGI_LIMIT_MAX)
		return -1;
	return (int)n;
}

static void
start_one(struct req *r, int fd, void *arg)
{
	(void)arg;
	job_start(loop, r, fd);
}

static void
reaped(pid_t pid, int status, void *arg)
{
	(void)status;
	(void)arg;
	job_reaped(pid);
}

static const struct handler callcgi_handler = {
	.h_request = start_one,
	.h_reaped = reaped,
};

/* The transient response socket until the job takes it over: whoever
 * exits before that (memory ran out setting up) still answers. */
static int unanswered = -1;

static void
answer_at_exit(void)
{
	if (unanswered >= 0)
		http_error(unanswered, 503, "The script cannot be run now.");
}

/* The transient convention: the request from argv and the environment,
 * the response socket on stdin/stdout. */
static int
transient(char **args)
{
	struct req *r;
	int sock, null;

	/* Keep one copy of the response socket, so that its end is seen
	 * when the job closes it. */
	if ((sock = fcntl(0, F_DUPFD_CLOEXEC, 3)) == -1 ||
	    (null = open("/dev/null", O_RDWR)) == -1 || dup2(null, 0) == -1 ||
	    dup2(null, 1) == -1)
		log_die_errno(1, "setting up");
	close(null);
	unanswered = sock;
	atexit(answer_at_exit);
	loop = handler_loop();
	if ((r = req_from_env(args[0], args[1], args[2])) == NULL)
		log_die(1, "out of memory");
	unanswered = -1;
	return handler_run_one(&callcgi_handler, NULL, r, sock);
}

int
main(int argc, char **argv)
{
	const char *p;
	char *end;
	double secs;
	int c, n, persistent;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	cgiopt.co_timeout = ASH_CGI_TIMEOUT * 1000;
	cgiopt.co_limit = cgiopt.co_queue = -1;
	cgiopt.co_wait = ASH_CGI_WAIT * 1000;
	while ((c = getopt(argc, argv, "+hVcsl:q:w:p:P:t:")) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return log_version();
		case 'c':
			cgiopt.co_chdir = 1;
			break;
		case 's':
			cgiopt.co_stream = 1;
			break;
		case 'l':
		case 'q':
			if ((n = count_arg(optarg)) == -1) {
				log_msg(LOG_ERR,
				    "-%c %s: not a number from 0 to %d", c,
				    optarg, ASH_CGI_LIMIT_MAX);
				return 2;
			}
			*(c == 'l' ? &cgiopt.co_limit : &cgiopt.co_queue) = n;
			break;
		case 'p':
			cgiopt.co_program = optarg;
			cgiopt.co_args = NULL;
			break;
		case 'P':
			cgiopt.co_program = optarg;
			if (program_args(argc, argv) == -1) {
				log_msg(LOG_ERR,
				    "-P %s: the arguments must end "
				    "with \";\"",
				    optarg);
				return 2;
			}
			break;
		case 't':
		case 'w':
			secs = strtod(optarg, &end);
			if (end == optarg || *end || !(secs > 0) ||
			    secs > 86400 * 30) {
				log_msg(LOG_ERR,
				    "-%c %s: bad number of seconds", c, optarg);
				return 2;
			}
			*(c == 't' ? &cgiopt.co_timeout
				   : &cgiopt.co_wait) = (uint64_t)(secs * 1000);
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (cgiopt.co_limit == -1)
		cgiopt.co_limit = default_limit();
	if (cgiopt.co_queue == -1)
		cgiopt.co_queue = cgiopt.co_limit * ASH_CGI_QUEUE_PER;
	cgiopt.co_path = (p = getenv("PATH")) ? p : DEFAULT_PATH;
	cgiopt.co_tmpdir = (p = getenv("TMPDIR")) && *p ? p : "/tmp";
	persistent = handler_persistent();
	if (!persistent && argc - optind != 3) {
		usage(stderr);
		return 2;
	}
	if (!persistent)
		return transient(argv + optind);
	loop = handler_loop();
	return handler_run(&callcgi_handler, NULL);
}
