/*
 * root.c: the root handler: starting it, passing it requests over its
 * SOCK_SEQPACKET socket, and noticing when it goes away.
 *
 * Requests are passed in the order their heads complete.  When the
 * socket is full (the handler is busy), a connection waits in a FIFO
 * (srv.s_waiting, state CS_WAIT) and EPOLLOUT is asked on the socket;
 * every later request queues behind it, so that none overtakes another.
 * When the root handler closes its socket or exits, htparser stops as
 * on the first SIGTERM (conn_shutdown_all), and what still waits is
 * answered 503.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ashlimits.h"
#include "child.h"
#include "conn.h"
#include "log.h"
#include "req.h"

static pid_t rootpid = -1;
static int rootgone; /* the root handler ended by itself */

static void root_event(struct watch *w, uint32_t ev);

/* Start the root handler with a SOCK_SEQPACKET socket on its stdin
 * (lib/child: an empty signal mask); exit 1 if it cannot be run. */
void
root_start(char **argv)
{
	struct child_run how = CHILD_RUN_INIT;
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		log_die_errno(1, "socketpair");
	how.cr_in = sp[1];
	if ((rootpid = child_run(argv, &how)) == -1)
		log_die_errno(1, "cannot start the root handler %s", argv[0]);
	close(sp[1]);
	srv.s_rootfd = sp[0];
	if (fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK) == -1)
		log_die_errno(1, "fcntl");
}

/* Watch the root socket (once the event loop exists). */
void
root_watch(void)
{
	watch_init(&srv.s_rootwatch, srv.s_rootfd, root_event, NULL);
	root_update();
}

/* Ask for EPOLLOUT on the root socket while requests wait. */
void
root_update(void)
{
	if (srv.s_rootfd >= 0 &&
	    loop_watch(srv.s_loop, &srv.s_rootwatch,
		EPOLLRDHUP | (srv.s_waiting ? EPOLLOUT : 0)) == -1)
		log_errno(LOG_ERR, "epoll");
}

void
root_close(void)
{
	if (srv.s_rootfd >= 0) {
		loop_unwatch(srv.s_loop, &srv.s_rootwatch);
		close(srv.s_rootfd);
		srv.s_rootfd = -1;
	}
}

void
root_hup(void)
{
	/* Not ours to act on: the root handler reloads. */
	if (rootpid > 0 && kill(rootpid, SIGHUP) == -1)
		log_errno(LOG_WARNING, "SIGHUP to the root handler");
}

int
root_failed(void)
{
	return rootgone;
}

/* Hand c_req to the root handler.  0 sent, 1 must wait, -1 failed
 * (answered). */
static int
root_send(struct conn *c)
{
	int sp[2];

	if (c->c_hfd < 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) {
			conn_log(c, LOG_ERR, "socketpair: %s", strerror(errno));
			conn_fail(c, 503, "Out of resources.");
			return -1;
		}
		/* Both ends stay blocking, as the handler expects of its
		 * own; every call on ours says MSG_DONTWAIT (or
		 * SPLICE_F_NONBLOCK), which saves an fcntl() per request. */
		c->c_hfd = sp[0];
		c->c_theirs = sp[1];
		watch_init(&c->c_hw, c->c_hfd, conn_handler_event, c);
	}
	if (srv.s_rootfd < 0) {
		conn_fail(c, 503, "The server is shutting down.");
		return -1;
	}
	/* Without a body the handler sees end-of-file from the start. */
	if (c->c_bodydone && !c->c_upshut) {
		shutdown(c->c_hfd, SHUT_WR);
		c->c_upshut = 1;
	}
	if (req_send(srv.s_rootfd, c->c_req, c->c_theirs) == -1) {
		if (errno == EAGAIN || errno == ENOBUFS)
			return 1;
		if (errno == EMSGSIZE) {
			conn_fail(c, 431, "The request head is too large.");
			return -1;
		}
		conn_log(c, LOG_ERR,
		    "cannot pass the request to the root handler: %s",
		    strerror(errno));
		conn_fail(c, 503, "The root handler is not available.");
		return -1;
	}
	close(c->c_theirs);
	c->c_theirs = -1;
	req_free(c->c_req);
	c->c_req = NULL;
	c->c_state = CS_REQ;
	/* Nothing can have come back yet: wait for epoll to say so. */
	c->c_hrd = 0;
	c->c_hwr = 1;
	c->c_rs = RS_HEAD;
	if (!c->c_bodydone && c->c_expect && c->c_in.b_len == 0) {
		if (buf_appends(&c->c_out, "HTTP/1.1 100 Continue\r\n\r\n")) {
			conn_fail(c, 500, "Out of memory.");
			return -1;
		}
	}
	return 0;
}

static void
root_enqueue(struct conn *c)
{
	c->c_state = CS_WAIT;
	c->c_wnext = NULL;
	if (srv.s_waittail)
		srv.s_waittail->c_wnext = c;
	else
		srv.s_waiting = c;
	srv.s_waittail = c;
	conn_timer(c, T_HANDLER);
	root_update();
}

int
root_submit(struct conn *c)
{
	int rv;

	if (srv.s_waiting != NULL) {
		root_enqueue(c);
		return 1;
	}
	if ((rv = root_send(c)) == 1)
		root_enqueue(c);
	return rv;
}

void
root_unqueue(struct conn *c)
{
	struct conn **pp;

	for (pp = &srv.s_waiting; *pp; pp = &(*pp)->c_wnext) {
		if (*pp == c) {
			*pp = c->c_wnext;
			break;
		}
	}
	srv.s_waittail = NULL;
	for (c = srv.s_waiting; c; c = c->c_wnext)
		srv.s_waittail = c;
}

/* The root socket has room (or is gone): pass on what waits. */
static void
root_writable(void)
{
	struct conn *c;

	while ((c = srv.s_waiting) != NULL) {
		if (root_send(c) == 1)
			return;
		srv.s_waiting = c->c_wnext;
		if (srv.s_waiting == NULL)
			srv.s_waittail = NULL;
		conn_run(c);
	}
	root_update();
}

static void
root_event(struct watch *w, uint32_t ev)
{
	(void)w;
	if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLIN)) {
		log_msg(LOG_ERR, "the root handler closed its socket");
		if (!srv.s_stopping)
			rootgone = 1;
		/* Requests still waiting for it cannot be served. */
		while (srv.s_waiting)
			root_writable();
		conn_shutdown_all("root handler gone");
		root_close();
		return;
	}
	if (ev & EPOLLOUT)
		root_writable();
}

/* The root handler is gone: a failure unless we asked it to go. */
static void
root_ended(int status)
{
	rootpid = -1;
	if (srv.s_stopping && !rootgone)
		return;
	rootgone = 1;
	if (WIFEXITED(status))
		log_msg(LOG_ERR, "the root handler exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_msg(LOG_ERR, "the root handler was killed by signal %d",
		    WTERMSIG(status));
	conn_shutdown_all("root handler exited");
}

int
root_reaped(pid_t pid, int status)
{
	if (pid != rootpid || pid <= 0)
		return 0;
	root_ended(status);
	return 1;
}

/* The root handler closed its socket by itself: say how it ended, if
 * it does so within a second. */
void
root_last_words(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 }; /* 10 ms */
	int i, status;

	if (!rootgone)
		return;
	for (i = 0; i < ASH_ROOT_REAP_MS / 10 && rootpid > 0; i++) {
		if (waitpid(rootpid, &status, WNOHANG) == rootpid)
			root_ended(status);
		else
			nanosleep(&ts, NULL);
	}
}
