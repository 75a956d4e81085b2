/*
 * htpipe: pass requests over a named Unix socket, so that a handler
 * tree outlives restarts of the program in front of it (htparser
 * restarted for a new certificate) and can be reached from several
 * trees.
 *
 * Client (-C): requests from standard input go over a SOCK_SEQPACKET
 * connection to SOCKET-PATH, each with its response socket, unchanged.
 * Server (-S, server.c): listens at SOCKET-PATH, starts CHILD, and
 * passes it every request of every connection.  Default: a client that,
 * when nobody answers at SOCKET-PATH, first starts a server (this
 * program again with -S, in a session of its own so that it survives
 * the client) and waits for it to listen.
 *
 * The client reaches the server through lib/child (ch_connect): sends
 * never block, and a server that went away is connected to again (in
 * the default mode started again) for the next request, which is sent
 * once more; what cannot be passed on is answered 503.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ashlimits.h"
#include "child.h"
#include "handler.h"
#include "htpipe.h"
#include "log.h"
#include "loop.h"
#include "req.h"

static const char *spath;
static char **chargv;		/* CHILD ARGS..., or NULL */
static char *progname;		/* argv[0], to start a server */
static char selfpath[PATH_MAX]; /* this program, or "" */
static int climode;		/* -C */
static struct child *server;	/* the connection, as a child */

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: htpipe [-h] [-CS] SOCKET-PATH "
	    "[CHILD [ARGS...]]\n");
}

int
pipe_addr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun->sun_path, path);
	return 0;
}

int
pipe_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd, e;

	if (pipe_addr(&sun, path) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Start `htpipe -S -- SOCKET-PATH CHILD ARGS...` in a session of its
 * own, standard input /dev/null; its pid, or -1. */
static pid_t
server_spawn(void)
{
	char **av;
	sigset_t none;
	size_t n, i;
	pid_t pid;
	int null;

	for (n = 0; chargv[n] != NULL; n++)
		;
	if ((av = calloc(n + 5, sizeof(*av))) == NULL)
		return -1;
	av[0] = progname;
	av[1] = "-S";
	av[2] = "--";
	av[3] = (char *)spath;
	for (i = 0; i < n; i++)
		av[4 + i] = chargv[i];
	if ((pid = fork()) == 0) {
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		if ((null = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(null, 0) == -1)
			_exit(127);
		if (selfpath[0] != '\0')
			execv(selfpath, av);
		execvp(progname, av);
		_exit(127);
	}
	free(av);
	return pid;
}

/* A short pause while the new server comes up. */
static void
nap(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* ch_connect of the server: connect, in the default mode starting a
 * server if nobody answers. */
static int
server_connect(struct child *ch)
{
	uint64_t until;
	pid_t pid;
	int fd, st;

	if ((fd = pipe_connect(spath)) != -1 || climode ||
	    (errno != ECONNREFUSED && errno != ENOENT)) {
		/* Once running, no server is 503, not a missing program. */
		if (fd == -1 && errno == ENOENT && ch->ch_arg != NULL)
			errno = ECONNREFUSED;
		return fd;
	}
	if ((pid = server_spawn()) == -1)
		return -1;
	until = loop_now() + ASH_HTPIPE_START;
	while ((fd = pipe_connect(spath)) == -1) {
		if (errno != ECONNREFUSED && errno != ENOENT)
			return -1;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			/* It failed, unless another one won the race. */
			if ((fd = pipe_connect(spath)) != -1)
				return fd;
			log_msg(LOG_ERR,
			    "%s: the server started for it "
			    "exited with status %d",
			    spath,
			    WIFEXITED(st) ? WEXITSTATUS(st)
					  : 128 + WTERMSIG(st));
			errno = ECONNREFUSED;
			return -1;
		}
		if (loop_now() >= until) {
			errno = ETIMEDOUT;
			return -1;
		}
		nap();
	}
	return fd;
}

static void
relay(struct req *r, int fd, void *arg)
{
	(void)arg;
	child_pass(server, r, fd);
}

static void
reaped(pid_t pid, int st, void *arg)
{
	(void)arg;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		log_msg(LOG_WARNING,
		    "%s: server process %ld ended with "
		    "status %d",
		    spath, (long)pid,
		    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

static const struct handler client_handler = {
	.h_request = relay,
	.h_reaped = reaped,
};

static int
client_run(void)
{
	char *dummy[2] = { (char *)spath, NULL };
	int rv;

	if (!handler_check_input())
		return 1;
	handler_loop();
	if ((server = child_new(spath, CHILD_PERSISTENT,
		 chargv ? chargv : dummy, NULL)) == NULL)
		log_die_errno(1, "out of memory");
	server->ch_connect = server_connect;
	if (child_start(server) == -1)
		log_die_errno(1, "%s", spath);
	handler_follow(server);
	server->ch_arg = server; /* running */
	rv = handler_run(&client_handler, NULL);
	child_free(server);
	return rv;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	ssize_t n;
	int c, srvmode = 0;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	progname = argv[0];
	n = readlink("/proc/self/exe", selfpath, sizeof(selfpath) - 1);
	selfpath[n > 0 ? n : 0] = '\0';
	while ((c = getopt(argc, argv, "+VhCS")) != -1) {
		switch (c) {
		case 'V':
			return log_version();
		case 'h':
			usage(stdout);
			return 0;
		case 'C':
			climode = 1;
			break;
		case 'S':
			srvmode = 1;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 1 || (climode && srvmode) ||
	    (!climode && argc - optind < 2)) {
		usage(stderr);
		return 2;
	}
	spath = argv[optind];
	if (argc - optind > 1)
		chargv = argv + optind + 1;
	if (pipe_addr(&sun, spath) == -1)
		log_die_errno(2, "%s", spath);
	if (srvmode)
		return server_run(spath, chargv);
	return client_run();
}
