/*
 * callfcgi: pass ashd requests to FastCGI applications (FastCGI 1.0,
 * Responder role), as a persistent handler.
 *
 * Modes, as ashd's callscgi (see callfcgi(1)):
 *   client     an address (-u/-t) only: connect to it, retrying -N times
 *   anonymous  PROGRAM only: a private listening Unix socket, PROGRAM
 *              started -n times with it on standard input, restarted
 *              when it exits, killed when callfcgi exits
 *   launching  an address and PROGRAM: connect, or else listen there
 *              and start PROGRAM (left running when callfcgi exits)
 *   mixed      an address, PROGRAM and -N: start PROGRAM, which makes
 *              its own socket, and retry connecting once a second
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "callfcgi.h"
#include "handler.h"
#include "log.h"
#include "req.h"

struct options opt;
struct loop *loop;

static int anonymous;
static char *anondir, *anonpath;

static void
usage(FILE *out)
{
	fprintf(out, "usage: callfcgi [-h] [-N RETRIES] [-i ID] [-u UNIXPATH] "
	    "[-t [HOST:]PORT]...\n"
	    "                [-n PROCESSES] [-m CONNECTIONS] [-T SECONDS] "
	    "[PROGRAM [ARGS...]]\n");
}

static void
cleanup(void)
{
	if (anonymous) {
		procs_stop();
		if (anonpath)
			unlink(anonpath);
		if (anondir)
			rmdir(anondir);
	}
}

static void
start_one(struct req *r, int fd, void *arg)
{
	(void)arg;
	freq_start(r, fd);
}

static void
reaped(pid_t pid, int status, void *arg)
{
	(void)arg;
	procs_reaped(pid, status);
}

static const struct handler callfcgi_handler = {
	.h_request = start_one,
	.h_reaped = reaped,
	.h_batch = 64,
};

/* Anonymous mode: a listening socket in a private directory. */
static int
anon_socket(void)
{
	const char *tmp = opt.o_tmpdir;
	char *d;
	size_t n = strlen(tmp) + 32;
	int fd;

	d = xmalloc(n);
	snprintf(d, n, "%s/callfcgi.XXXXXX", tmp);
	if (mkdtemp(d) == NULL)
		log_die_errno(1, "%s", d);
	anondir = d;
	anonpath = xmalloc(n + 8);
	snprintf(anonpath, n + 8, "%s/sock", d);
	if (backend_add(anonpath, 0) == -1)
		exit(1);
	if ((fd = backend_listen(backends)) == -1)
		log_die_errno(1, "%s", anonpath);
	return fd;
}

/* Launching mode: is something already listening at b? */
static int
can_connect(struct backend *b)
{
	int fd = backend_connect(b), err = 0;
	socklen_t sl = sizeof(err);
	fd_set w;
	struct timeval tv = { 2, 0 };

	if (fd == -1)
		return 0;
	FD_ZERO(&w);
	FD_SET(fd, &w);
	if (select(fd + 1, NULL, &w, NULL, &tv) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1 || err) {
		close(fd);
		return 0;
	}
	close(fd);
	return 1;
}

int
main(int argc, char **argv)
{
	const char *id = NULL, *p;
	char *end, *path;
	double secs;
	long v;
	int c, fd, rv;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	opt.o_retries = -1;
	opt.o_nprocs = 1;
	opt.o_maxconns = 0;
	opt.o_timeout = 60 * 1000;
	opt.o_tmpdir = (p = getenv("TMPDIR")) && *p ? p : "/tmp";
	while ((c = getopt(argc, argv, "+VhN:i:u:t:n:m:T:")) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return log_version();
		case 'N':
		case 'n':
		case 'm':
			v = strtol(optarg, &end, 10);
			if (*end || v < (c == 'N' ? 0 : 1) || v > 4096) {
				log_msg(LOG_ERR, "-%c %s: bad number", c, optarg);
				return 2;
			}
			if (c == 'N')
				opt.o_retries = (int)v;
			else if (c == 'n')
				opt.o_nprocs = (int)v;
			else
				opt.o_maxconns = (int)v;
			break;
		case 'i':
			id = optarg;
			break;
		case 'u':
		case 't':
			if (backend_add(optarg, c == 't') == -1)
				return 2;
			break;
		case 'T':
			secs = strtod(optarg, &end);
			if (*end || !(secs > 0) || secs > 86400) {
				log_msg(LOG_ERR, "-T %s: bad number of seconds",
				    optarg);
				return 2;
			}
			opt.o_timeout = (uint64_t)(secs * 1000);
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		opt.o_argv = argv + optind;
	if (id) {
		size_t n = strlen(opt.o_tmpdir) + strlen(id) + 32;

		path = xmalloc(n);
		snprintf(path, n, "%s/callfcgi-%ld-%s", opt.o_tmpdir,
		    (long)getuid(), id);
		if (backend_add(path, 0) == -1)
			return 2;
		free(path);
	}
	if (backends == NULL && opt.o_argv == NULL) {
		usage(stderr);
		return 2;
	}
	loop = handler_loop();
	if (backends == NULL) {
		anonymous = 1;
		fd = anon_socket();
		procs_start(fd);
	} else if (opt.o_argv && opt.o_retries < 0) {
		if (!can_connect(backends)) {
			if ((fd = backend_listen(backends)) == -1)
				log_die_errno(1, "%s", backends->b_name);
			procs_start(fd);
			close(fd);
		}
	} else if (opt.o_argv) {
		if (!can_connect(backends))
			procs_start(-1);
	}
	rv = handler_run(&callfcgi_handler, NULL);
	cleanup();
	return rv;
}
