/*
 * backend.c: the addresses and modes of a gateway handler (see
 * backend.h), and the pool of application processes it starts.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ashlimits.h"
#include "backend.h"
#include "handler.h"
#include "log.h"
#include "loop.h"
#include "pool.h"

struct backend_conf bconf;
struct backend *backends;

static const char *sockid; /* -i */
static struct pool *pool;
static char *anondir, *anonpath;

void
backend_init(void)
{
	const char *p;

	bconf.bc_retries = -1;
	bconf.bc_nprocs = 1;
	bconf.bc_maxconns = 0;
	bconf.bc_timeout = ASH_BACKEND_TIMEOUT * 1000;
	bconf.bc_tmpdir = (p = getenv("TMPDIR")) && *p ? p : "/tmp";
}

static void
append(struct backend *b)
{
	struct backend **tail;

	for (tail = &backends; *tail; tail = &(*tail)->b_next)
		;
	*tail = b;
}

static int
add_unix(const char *spec)
{
	struct sockaddr_un *sun;
	struct backend *b;

	b = xcalloc(1, sizeof(*b));
	sun = (struct sockaddr_un *)&b->b_addr;
	if (strlen(spec) >= sizeof(sun->sun_path)) {
		log_msg(LOG_ERR, "%s: Unix socket path too long", spec);
		free(b);
		return -1;
	}
	sun->sun_family = AF_UNIX;
	strcpy(sun->sun_path, spec);
	b->b_alen = sizeof(*sun);
	b->b_name = xmalloc(strlen(spec) + 6);
	sprintf(b->b_name, "unix:%s", spec);
	append(b);
	return 0;
}

/* [HOST:]PORT, HOST may be a bracketed IPv6 address; resolved now. */
static int
add_tcp(const char *spec)
{
	struct addrinfo hints, *res;
	struct backend *b;
	char *copy, *host, *port;
	int rv;

	copy = xstrdup(spec);
	if ((port = strrchr(copy, ':')) != NULL) {
		*port++ = '\0';
		host = copy;
	} else {
		port = copy;
		host = "";
	}
	if (*host == '[' && host[strlen(host) - 1] == ']') {
		host++;
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rv = getaddrinfo(*host ? host : "localhost", port, &hints, &res);
	free(copy);
	if (rv != 0) {
		log_msg(LOG_ERR, "-t %s: %s", spec, gai_strerror(rv));
		return -1;
	}
	b = xcalloc(1, sizeof(*b));
	memcpy(&b->b_addr, res->ai_addr, res->ai_addrlen);
	b->b_alen = res->ai_addrlen;
	freeaddrinfo(res);
	b->b_name = xmalloc(strlen(spec) + 5);
	sprintf(b->b_name, "tcp:%s", spec);
	append(b);
	return 0;
}

/* A number in [min, max] for option c. */
static int
number(int c, const char *arg, long min, long max, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(arg, &end, 10);
	if (*arg == '\0' || *end || errno || *v < min || *v > max) {
		log_msg(LOG_ERR, "-%c %s: bad number (%ld to %ld)", c, arg, min,
		    max);
		return -1;
	}
	return 0;
}

int
backend_option(int c, const char *arg)
{
	double secs;
	char *end;
	long v;

	switch (c) {
	case 'N':
	case 'n':
	case 'm':
		if (number(c, arg, c == 'N' ? 0 : 1, 4096, &v) == -1)
			return -1;
		if (c == 'N')
			bconf.bc_retries = (int)v;
		else if (c == 'n')
			bconf.bc_nprocs = (int)v;
		else
			bconf.bc_maxconns = (int)v;
		return 1;
	case 'i':
		sockid = arg;
		return 1;
	case 'u':
		return add_unix(arg) == -1 ? -1 : 1;
	case 't':
		return add_tcp(arg) == -1 ? -1 : 1;
	case 'T':
		secs = strtod(arg, &end);
		if (*arg == '\0' || *end || !(secs > 0) || secs > 86400) {
			log_msg(LOG_ERR, "-T %s: bad number of seconds", arg);
			return -1;
		}
		bconf.bc_timeout = (uint64_t)(secs * 1000);
		return 1;
	default:
		return 0;
	}
}

int
backend_args(char **argv)
{
	size_t n;
	char *path;
	int rv;

	if (argv && argv[0])
		bconf.bc_argv = argv;
	if (sockid) {
		n = strlen(bconf.bc_tmpdir) + strlen(log_progname()) +
		    strlen(sockid) + 32;
		path = xmalloc(n);
		snprintf(path, n, "%s/%s-%ld-%s", bconf.bc_tmpdir,
		    log_progname(), (long)getuid(), sockid);
		rv = add_unix(path);
		free(path);
		if (rv == -1)
			return -1;
	}
	if (backends == NULL && bconf.bc_argv == NULL)
		return -1;
	if (backends == NULL)
		bconf.bc_mode = BACKEND_ANONYMOUS;
	else if (bconf.bc_argv == NULL)
		bconf.bc_mode = BACKEND_CLIENT;
	else if (bconf.bc_retries < 0)
		bconf.bc_mode = BACKEND_LAUNCHING;
	else
		bconf.bc_mode = BACKEND_MIXED;
	return 0;
}

int
backend_connect(const struct backend *b)
{
	int fd, e;

	if ((fd = socket(b->b_addr.ss_family,
		 SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)&b->b_addr, b->b_alen) == -1 &&
	    errno != EINPROGRESS) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

void
backend_down(struct backend *b, const char *why)
{
	if (!backend_up(b))
		return;
	log_msg(LOG_WARNING, "backend %s: %s; trying others for %d ms",
	    b->b_name, why, ASH_BACKEND_DOWN_MS);
	b->b_downuntil = loop_now() + ASH_BACKEND_DOWN_MS;
}

int
backend_up(const struct backend *b)
{
	return b->b_downuntil == 0 || loop_now() >= b->b_downuntil;
}

int
backend_giveup(uint64_t since)
{
	uint64_t waited = loop_now() - since;

	if (bconf.bc_retries > 0
		? waited <= (uint64_t)bconf.bc_retries * ASH_BACKEND_RETRY_MS
		: waited <= ASH_BACKEND_RETRY_MS * 2)
		return 0;
	return backends->b_next ? 503 : 502;
}

/* A listening socket at b's address, replacing a stale Unix socket. */
static int
backend_listen(const struct backend *b)
{
	int fd, one = 1, e;

	if ((fd = socket(b->b_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1)
		return -1;
	if (b->b_addr.ss_family == AF_UNIX)
		unlink(((const struct sockaddr_un *)&b->b_addr)->sun_path);
	else
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&b->b_addr, b->b_alen) == -1 ||
	    listen(fd, 128) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Anonymous mode: a listening socket in a private directory. */
static int
anon_socket(void)
{
	size_t n = strlen(bconf.bc_tmpdir) + strlen(log_progname()) + 32;
	int fd;

	anondir = xmalloc(n);
	snprintf(anondir, n, "%s/%s.XXXXXX", bconf.bc_tmpdir, log_progname());
	if (mkdtemp(anondir) == NULL)
		log_die_errno(1, "%s", anondir);
	anonpath = xmalloc(n + 8);
	snprintf(anonpath, n + 8, "%s/sock", anondir);
	if (add_unix(anonpath) == -1)
		exit(1);
	if ((fd = backend_listen(backends)) == -1)
		log_die_errno(1, "%s", anonpath);
	return fd;
}

/* Launching and mixed mode: is something already listening at b?
 * (Waits up to two seconds: this is start-up.) */
static int
can_connect(const struct backend *b)
{
	struct timeval tv = { 2, 0 };
	socklen_t sl = sizeof(int);
	int fd = backend_connect(b), err = 0, ok;
	fd_set w;

	if (fd == -1)
		return 0;
	FD_ZERO(&w);
	FD_SET(fd, &w);
	ok = select(fd + 1, NULL, &w, NULL, &tv) == 1 &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && !err;
	close(fd);
	return ok;
}

void
backend_start(struct loop *l)
{
	int fd;

	switch (bconf.bc_mode) {
	case BACKEND_CLIENT:
		break;
	case BACKEND_ANONYMOUS:
		/* The socket stays open here: restarts need it, and
		 * connections queue on it while no copy runs. */
		fd = anon_socket();
		pool = pool_new(l, bconf.bc_argv, bconf.bc_nprocs, fd,
		    POOL_PDEATHSIG);
		break;
	case BACKEND_LAUNCHING:
		if (can_connect(backends))
			break;
		if ((fd = backend_listen(backends)) == -1)
			log_die_errno(1, "%s", backends->b_name);
		pool = pool_new(l, bconf.bc_argv, bconf.bc_nprocs, fd, 0);
		break;
	case BACKEND_MIXED:
		if (!can_connect(backends))
			pool = pool_new(l, bconf.bc_argv, bconf.bc_nprocs, -1,
			    0);
		break;
	}
}

int
backend_reaped(pid_t pid, int status)
{
	return pool != NULL && pool_reaped(pool, pid, status);
}

void
backend_stop(void)
{
	if (pool == NULL)
		return;
	if (bconf.bc_mode == BACKEND_ANONYMOUS) {
		pool_stop(pool, SIGTERM);
		if (anonpath)
			unlink(anonpath);
		if (anondir)
			rmdir(anondir);
	} else
		pool_stop(pool, 0);
}

void
backend_child(pid_t pid, int status, void *arg)
{
	(void)arg;
	backend_reaped(pid, status);
}

int
backend_serve(const struct handler *h)
{
	int rv;

	/* Nothing is started for a handler that cannot run. */
	if (!handler_check_input())
		return 1;
	backend_start(handler_loop());
	rv = handler_run(h, NULL);
	backend_stop();
	return rv;
}

int
backend_main(int argc, char **argv, void (*usage)(FILE *out), int *streamp,
    struct loop **loopp, const struct handler *h)
{
	int c;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	backend_init();
	while ((c = getopt(argc, argv, "+hsV" BACKEND_GETOPT)) != -1) {
		switch (backend_option(c, optarg)) {
		case 1:
			continue;
		case -1:
			return 2;
		}
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 's':
			*streamp = 1;
			break;
		case 'V':
			return log_version();
		default:
			usage(stderr);
			return 2;
		}
	}
	if (backend_args(argv + optind) == -1) {
		usage(stderr);
		return 2;
	}
	*loopp = handler_loop();
	return backend_serve(h);
}
