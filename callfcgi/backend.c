/*
 * backend.c: where the FastCGI applications are, and the ones callfcgi
 * runs itself.
 *
 * Backends are tried in the order given; one that refuses a connection
 * is marked down for ASH_FCGI_DOWN_MS and skipped meanwhile, so requests fail
 * over to the next.  Application processes (-n copies of PROGRAM) are
 * restarted when they exit: at once after a normal exit, after
 * ASH_FCGI_RESTART_MS if they failed within that time of starting (a program
 * that dies at once does not spin).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ashlimits.h"
#include "callfcgi.h"
#include "child.h"
#include "log.h"


struct backend *backends;

struct proc {
	pid_t		p_pid;
	uint64_t	p_started;
	struct timer	p_timer;	/* delayed restart */
};

static struct proc *procs;
static int nprocs, proclisten = -1, stopping;

int
backend_add(const char *spec, int tcp)
{
	struct addrinfo hints, *res;
	struct backend *b, **tail;
	struct sockaddr_un *sun;
	char *copy, *host, *port;
	int rv;

	b = xcalloc(1, sizeof(*b));
	if (!tcp) {
		sun = (struct sockaddr_un *)&b->b_addr;
		if (strlen(spec) >= sizeof(sun->sun_path)) {
			log_msg(LOG_ERR, "-u %s: path too long", spec);
			free(b);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, spec);
		b->b_alen = sizeof(*sun);
		b->b_name = xmalloc(strlen(spec) + 6);
		sprintf(b->b_name, "unix:%s", spec);
	} else {
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
			free(b);
			return -1;
		}
		memcpy(&b->b_addr, res->ai_addr, res->ai_addrlen);
		b->b_alen = res->ai_addrlen;
		freeaddrinfo(res);
		b->b_name = xmalloc(strlen(spec) + 5);
		sprintf(b->b_name, "tcp:%s", spec);
	}
	for (tail = &backends; *tail; tail = &(*tail)->b_next)
		;
	*tail = b;
	return 0;
}

int
backend_connect(struct backend *b)
{
	int fd;

	if ((fd = socket(b->b_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&b->b_addr, b->b_alen) == -1 &&
	    errno != EINPROGRESS) {
		int e = errno;

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
	    b->b_name, why, ASH_FCGI_DOWN_MS);
	b->b_downuntil = loop_now() + ASH_FCGI_DOWN_MS;
}

int
backend_up(const struct backend *b)
{
	return b->b_downuntil == 0 || loop_now() >= b->b_downuntil;
}

int
backend_listen(struct backend *b)
{
	int fd, one = 1;

	if ((fd = socket(b->b_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	if (b->b_addr.ss_family == AF_UNIX)
		unlink(((struct sockaddr_un *)&b->b_addr)->sun_path);
	else
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&b->b_addr, b->b_alen) == -1 ||
	    listen(fd, 128) == -1) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Start process i of the pool; a failure is retried after ASH_FCGI_RESTART_MS. */
static void
proc_spawn(int i)
{
	struct child_run how = CHILD_RUN_INIT;
	pid_t pid;

	how.cr_in = proclisten;
	how.cr_pgrp = 1;
	if ((pid = child_run(opt.o_argv, &how)) == -1) {
		log_errno(LOG_ERR, "%s", opt.o_argv[0]);
		loop_timer(loop, &procs[i].p_timer, ASH_FCGI_RESTART_MS);
		return;
	}
	procs[i].p_pid = pid;
	procs[i].p_started = loop_now();
}

static void
proc_restart(struct timer *t)
{
	struct proc *p = t->t_arg;

	if (!stopping)
		proc_spawn((int)(p - procs));
}

void
procs_start(int listenfd)
{
	int i;

	if (procs == NULL) {
		nprocs = opt.o_nprocs;
		procs = xcalloc((size_t)nprocs, sizeof(*procs));
		for (i = 0; i < nprocs; i++)
			timer_init(&procs[i].p_timer, proc_restart, &procs[i]);
	}
	proclisten = listenfd;
	for (i = 0; i < nprocs; i++)
		if (procs[i].p_pid == 0 && !timer_armed(&procs[i].p_timer))
			proc_spawn(i);
}

int
procs_running(void)
{
	int i, n = 0;

	for (i = 0; i < nprocs; i++)
		n += procs[i].p_pid > 0;
	return n;
}

void
procs_reaped(pid_t pid, int status)
{
	int i;

	for (i = 0; i < nprocs; i++) {
		if (procs[i].p_pid != pid)
			continue;
		procs[i].p_pid = 0;
		if (stopping)
			return;
		if (WIFSIGNALED(status))
			log_msg(LOG_WARNING, "%s (pid %d) killed by signal %d; "
			    "restarting it", opt.o_argv[0], (int)pid,
			    WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			log_msg(LOG_WARNING, "%s (pid %d) exited with status "
			    "%d; restarting it", opt.o_argv[0], (int)pid,
			    WEXITSTATUS(status));
		/* A normal exit (php-cgi after PHP_FCGI_MAX_REQUESTS) is
		 * replaced at once; a crash right after start waits. */
		if ((WIFSIGNALED(status) || WEXITSTATUS(status) != 0) &&
		    loop_now() - procs[i].p_started < ASH_FCGI_RESTART_MS)
			loop_timer(loop, &procs[i].p_timer, ASH_FCGI_RESTART_MS);
		else
			proc_spawn(i);
		return;
	}
}

void
procs_stop(void)
{
	int i;

	stopping = 1;
	for (i = 0; i < nprocs; i++) {
		if (procs[i].p_pid > 0)
			kill(-procs[i].p_pid, SIGTERM);
		loop_untimer(loop, &procs[i].p_timer);
	}
}
