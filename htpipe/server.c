/*
 * server.c: htpipe's server mode.  It listens at SOCKET-PATH, starts
 * CHILD (a persistent handler, lib/child: started again on its next
 * use if it dies), accepts any number of clients and passes every
 * request datagram of each, with its response socket, to the child.
 *
 * The socket file: a live server already answering there is never
 * displaced (htpipe exits instead); a stale socket file is replaced.
 * At the end the file is removed if it is still the one this server
 * made; a server whose file is removed or replaced (another server won
 * a start-up race) exits within a second.  The server runs until then,
 * or SIGTERM or SIGINT; clients come and go (htparser restarted)
 * without the child noticing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "child.h"
#include "handler.h"
#include "htpipe.h"
#include "log.h"
#include "loop.h"
#include "req.h"

#define ACCEPT_PAUSE 1000 /* ms without accepting after EMFILE */
#define FILE_CHECK   1000 /* ms between looks at the socket file */
#define CONN_BATCH   32	  /* datagrams per wake-up and connection */

/* One client connection. */
struct pconn {
	struct pconn *pc_next;
	struct pconn *pc_prev;
	struct watch pc_watch;
	int pc_fd;
};

static struct child *ch;
static const char *spath;
static struct stat sfile; /* the socket file we made */
static struct watch lwatch;
static struct timer ltimer;
static struct timer ftimer;
static struct pconn *conns;
static int lfd = -1;
static int paused; /* the child's queue is not empty */

/* Listen at path, displacing only a stale socket file. */
static int
listen_at(const char *path)
{
	struct sockaddr_un sun;
	struct stat sb;
	int fd, tries, e;

	if (pipe_addr(&sun, path) == -1)
		return -1;
	for (tries = 0; tries < 3; tries++) {
		if ((fd = pipe_connect(path)) != -1) {
			close(fd); /* another server answers there */
			errno = EADDRINUSE;
			return -1;
		}
		if (lstat(path, &sb) == 0) {
			if (!S_ISSOCK(sb.st_mode)) {
				errno = EEXIST;
				return -1;
			}
			if (unlink(path) == -1 && errno != ENOENT)
				return -1;
		}
		if ((fd = socket(AF_UNIX,
			 SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) ==
		    -1)
			return -1;
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
		    stat(path, &sfile) == 0 && listen(fd, SOMAXCONN) == 0)
			return fd;
		e = errno;
		close(fd);
		errno = e;
		if (e != EADDRINUSE)
			return -1;
	}
	return -1;
}

static void
conn_close(struct pconn *pc)
{
	loop_unwatch(handler_loop(), &pc->pc_watch);
	close(pc->pc_fd);
	if (pc->pc_prev != NULL)
		pc->pc_prev->pc_next = pc->pc_next;
	else
		conns = pc->pc_next;
	if (pc->pc_next != NULL)
		pc->pc_next->pc_prev = pc->pc_prev;
	/* Freed after the current batch of events, which may still hold
	 * one for this connection (stop() closes them all from a signal's
	 * event).  Should deferring fail for want of memory, the struct is
	 * left behind rather than touched after it is freed. */
	loop_defer(handler_loop(), free, pc);
}

static void
deliver(struct req *r, int fd, void *arg)
{
	(void)arg;
	child_pass(ch, r, fd);
}

/* Read from every connection, or from none (paused). */
static void
conns_watch(void)
{
	struct pconn *pc;

	for (pc = conns; pc != NULL; pc = pc->pc_next) {
		if (paused)
			loop_unwatch(handler_loop(), &pc->pc_watch);
		else if (loop_watch(handler_loop(), &pc->pc_watch, EPOLLIN) ==
		    -1)
			log_errno(LOG_ERR, "epoll");
	}
}

/* The child took every waiting request: read on. */
static void
child_drained(struct child *c)
{
	(void)c;
	if (paused) {
		paused = 0;
		conns_watch();
	}
}

static void
conn_event(struct watch *w, uint32_t ev)
{
	struct pconn *pc = w->w_arg;
	int rv;

	(void)ev;
	if ((rv = req_serve(pc->pc_fd, CONN_BATCH, deliver, NULL)) < 0)
		log_errno(LOG_WARNING, "client connection");
	if (rv != 0)
		conn_close(pc);
	if (ch->ch_nq > 0 && !paused) {
		/* Requests wait for the child: let the clients feel it. */
		paused = 1;
		conns_watch();
	}
}

static void
accept_resume(struct timer *t)
{
	(void)t;
	if (lfd >= 0 && loop_watch(handler_loop(), &lwatch, EPOLLIN) == -1)
		log_errno(LOG_ERR, "epoll");
}

static void
accept_event(struct watch *w, uint32_t ev)
{
	struct pconn *pc;
	int fd;

	(void)w;
	(void)ev;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) !=
	    -1) {
		if ((pc = calloc(1, sizeof(*pc))) == NULL) {
			close(fd);
			continue;
		}
		pc->pc_fd = fd;
		watch_init(&pc->pc_watch, fd, conn_event, pc);
		if (!paused &&
		    loop_watch(handler_loop(), &pc->pc_watch, EPOLLIN) == -1) {
			close(fd);
			free(pc);
			continue;
		}
		if ((pc->pc_next = conns) != NULL)
			conns->pc_prev = pc;
		conns = pc;
	}
	if (errno == EMFILE || errno == ENFILE || errno == ENOMEM ||
	    errno == ENOBUFS) {
		log_errno(LOG_WARNING, "accept");
		loop_watch(handler_loop(), &lwatch, 0);
		loop_timer(handler_loop(), &ltimer, ACCEPT_PAUSE);
	}
}

static int
file_ours(void)
{
	struct stat sb;

	return stat(spath, &sb) == 0 && sb.st_dev == sfile.st_dev &&
	    sb.st_ino == sfile.st_ino;
}

/* Remove the socket file if it is still ours. */
static void
unlink_ours(void)
{
	if (file_ours())
		unlink(spath);
}

/* Nobody can reach a server whose socket file is gone or replaced
 * (another server won a start-up race): it ends, so that its clients
 * connect to the other one. */
static void
file_check(struct timer *t)
{
	if (file_ours()) {
		loop_timer(handler_loop(), t, FILE_CHECK);
		return;
	}
	log_msg(LOG_WARNING,
	    "%s: the socket file is gone or replaced; "
	    "exiting",
	    spath);
	handler_stop();
}

static void
stop(void *arg)
{
	(void)arg;
	if (lfd >= 0) {
		loop_unwatch(handler_loop(), &lwatch);
		loop_untimer(handler_loop(), &ltimer);
		loop_untimer(handler_loop(), &ftimer);
		close(lfd);
		lfd = -1;
		unlink_ours();
	}
	while (conns != NULL)
		conn_close(conns);
}

static const struct handler server_handler = {
	.h_stop = stop,
};

int
server_run(const char *path, char **argv)
{
	int rv;

	spath = path;
	handler_loop();
	if ((ch = child_new(argv[0], CHILD_PERSISTENT, argv, NULL)) == NULL)
		log_die_errno(1, "out of memory");
	ch->ch_drained = child_drained;
	if ((lfd = listen_at(path)) == -1)
		log_die_errno(1, "%s", path);
	if (child_start(ch) == -1) {
		log_errno(LOG_ERR, "%s", argv[0]);
		unlink_ours();
		return 1;
	}
	watch_init(&lwatch, lfd, accept_event, NULL);
	timer_init(&ltimer, accept_resume, NULL);
	timer_init(&ftimer, file_check, NULL);
	if (loop_watch(handler_loop(), &lwatch, EPOLLIN) == -1 ||
	    loop_timer(handler_loop(), &ftimer, FILE_CHECK) == -1)
		log_die_errno(1, "epoll");
	rv = handler_run_own(&server_handler, NULL);
	stop(NULL);
	child_free(ch);
	return rv;
}
