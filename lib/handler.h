/*
 * handler.h: the run loop of a persistent handler (ashd(7),
 * "Handlers"), shared by every program that takes requests over a
 * socket on its standard input.
 *
 * A handler's main() reads its arguments and configuration, sets
 * itself up, and ends with
 *
 *	static const struct handler h = {
 *		.h_request = serve_one,		each request, r and fd taken over
 *		.h_reload = reload,		SIGHUP (NULL: ignored)
 *		.h_reaped = reaped,		a child of its own exited
 *		.h_stop = stop,			no more requests will come
 *	};
 *	return handler_run(&h, arg);
 *
 * handler_run() owns the process-wide parts:
 *
 *	event			what happens
 *	datagram on stdin	h_request(r, fd, arg), up to h_batch per wake-up;
 *				a malformed datagram is logged and skipped
 *	end of stdin		stop: stdin is no longer read, h_stop(arg)
 *	SIGTERM, SIGINT		the same; a second one makes handler_run()
 *				return at once
 *	SIGHUP			h_reload(arg), between two requests
 *	SIGCHLD			every exited child is reaped: persistent
 *				children of lib/child are marked dead (started
 *				again on next use), others go to h_reaped
 *	stopped, nothing held	handler_run() returns 0
 *
 * Work that outlives h_request (a transfer, a CGI script, a FastCGI
 * request) is counted with handler_hold() and handler_release(), so
 * that a stopped handler drains what it started before it returns.
 * SIGPIPE is ignored, so a vanished client is an EPIPE, never a death.
 */
#ifndef ASHD_HANDLER_H
#define ASHD_HANDLER_H

#include <sys/types.h>

struct child;
struct loop;
struct req;

struct handler {
	void (*h_request)(struct req *r, int fd, void *arg);
	void (*h_reload)(void *arg);
	void (*h_reaped)(pid_t pid, int status, void *arg);
	void (*h_stop)(void *arg);
	int h_batch; /* datagrams per wake-up, 0: 32 */
};

/*
 * The loop every watcher and timer of the program goes on, made (with
 * SIGPIPE ignored, the signals above blocked and lib/child's sends made
 * non-blocking on it) on the first call.  Dies if it cannot be made:
 * call it at start-up.
 */
struct loop *handler_loop(void);

/* Serve requests from standard input until stopped and drained.
 * Returns main()'s exit status: 0, or 1 if the loop failed (logged). */
int handler_run(const struct handler *h, void *arg);

/*
 * The same loop for a program whose requests come from sockets of its
 * own (htpipe's server) rather than from standard input, which is left
 * alone: h_request is never called by the loop.  Signals, reaping and
 * draining are those of handler_run(); the loop runs until
 * handler_stop() (or SIGTERM, SIGINT) and nothing is held.
 */
int handler_run_own(const struct handler *h, void *arg);

/*
 * The transient convention with the same machinery: hand the one
 * request r (fd its response socket) to h_request, then run the loop
 * until nothing is held.  Returns as handler_run().
 */
int handler_run_one(const struct handler *h, void *arg, struct req *r, int fd);

/*
 * For a relay that passes its requests to the one child ch: read no
 * requests while some wait in ch's queue (lib/child), so that the
 * sender feels the child's pace instead of its requests being refused
 * once the queue is full.  Reading goes on when the queue is empty
 * (sets ch->ch_drained; a program that calls handler_pause() for
 * reasons of its own does not use this).  A stopped handler returns
 * only once the queue is empty, so that nothing it accepted is lost.
 */
void handler_follow(struct child *ch);

/* Count a piece of work in flight, and its end. */
void handler_hold(void);
void handler_release(void);
/* Stop taking requests, as at end of input. */
void handler_stop(void);
/*
 * Stop reading standard input for now (on = 1), or go on (on = 0):
 * requests wait in the socket, so that the sender feels the
 * backpressure (httrcall at its limit of children).  May be called
 * before handler_run(); does not keep a stopped handler from stopping.
 */
void handler_pause(int on);

/* Is standard input a request socket (the persistent convention)? */
int handler_persistent(void);
/* The same, saying why a persistent handler cannot run if it is not:
 * for programs that set things up (start a child) before
 * handler_run(), which checks it too. */
int handler_check_input(void);

#endif
