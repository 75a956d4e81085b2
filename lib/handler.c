/*
 * handler.c: the run loop of a persistent handler (see handler.h).
 *
 * One loop per process.  Signals arrive through a signalfd in the same
 * loop, so a reload or a reap happens between two events, never inside
 * one.  States: serving (stdin watched) -> stopped (stdin replaced by
 * /dev/null, so that whoever sends to us sees the socket gone and can
 * start another handler) -> returned once nothing is held.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ashlimits.h"
#include "child.h"
#include "handler.h"
#include "log.h"
#include "loop.h"
#include "req.h"

static struct loop *hloop;
static struct watch inwatch, sigwatch;
static const struct handler *H;
static void *harg;
static struct child *followed; /* handler_follow() */
static int sigfd = -1;
static int serving; /* stdin is a request socket we read */
static int paused;  /* handler_pause(): stdin not read for now */
static int stopped; /* no more requests will be read */
static int held;    /* work in flight */
static int status;  /* handler_run()'s result */

static void
done_check(void)
{
	if (stopped && held == 0 && (followed == NULL || followed->ch_nq == 0))
		loop_stop(hloop);
}

void
handler_stop(void)
{
	int null;

	if (stopped)
		return;
	stopped = 1;
	if (serving) {
		serving = 0;
		loop_unwatch(hloop, &inwatch);
		if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1) {
			dup2(null, 0);
			close(null);
		}
	}
	if (H && H->h_stop)
		H->h_stop(harg);
	done_check();
}

void
handler_pause(int on)
{
	paused = on;
	if (!serving)
		return;
	if (on)
		loop_unwatch(hloop, &inwatch);
	else if (loop_watch(hloop, &inwatch, EPOLLIN) == -1) {
		log_errno(LOG_ERR, "event loop");
		status = 1;
		loop_stop(hloop);
	}
}

static void
follow_drained(struct child *ch)
{
	(void)ch;
	handler_pause(0);
	done_check();
}

void
handler_follow(struct child *ch)
{
	followed = ch;
	ch->ch_drained = follow_drained;
}

void
handler_hold(void)
{
	held++;
}

void
handler_release(void)
{
	if (held > 0)
		held--;
	done_check();
}

static void
reap(void)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (!child_reaped(pid, st) && H && H->h_reaped)
			H->h_reaped(pid, st, harg);
}

static void
signal_event(struct watch *w, uint32_t ev)
{
	struct signalfd_siginfo si;
	int chld = 0, hup = 0;

	(void)w;
	(void)ev;
	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			chld = 1;
			break;
		case SIGHUP:
			hup = 1;
			break;
		default: /* SIGTERM, SIGINT */
			if (stopped) {
				loop_stop(hloop);
				return;
			}
			handler_stop();
			break;
		}
	}
	if (chld)
		reap();
	if (hup && H && H->h_reload)
		H->h_reload(harg);
}

struct loop *
handler_loop(void)
{
	sigset_t mask;

	if (hloop != NULL)
		return hloop;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if ((hloop = loop_new()) == NULL ||
	    (sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		log_die_errno(1, "event loop");
	watch_init(&sigwatch, sigfd, signal_event, NULL);
	if (loop_watch(hloop, &sigwatch, EPOLLIN) == -1)
		log_die_errno(1, "event loop");
	child_set_loop(hloop);
	return hloop;
}

static int delivered; /* input_event(): one more request read */

static void
deliver(struct req *r, int fd, void *arg)
{
	(void)arg;
	delivered = 1;
	H->h_request(r, fd, harg);
}

/* Read up to a batch of requests, one at a time, so that a request
 * that pauses the input (handler_pause()) is the last one read. */
static void
input_event(struct watch *w, uint32_t ev)
{
	int rv = 0, n;

	(void)w;
	(void)ev;
	for (n = H->h_batch > 0 ? H->h_batch : ASH_HANDLER_BATCH; n > 0; n--) {
		delivered = 0;
		if ((rv = req_serve(0, 1, deliver, NULL)) != 0 || !delivered)
			break;
		if (followed != NULL && followed->ch_nq > 0)
			handler_pause(1);
		if (paused || stopped)
			break;
	}
	if (rv < 0) {
		log_errno(LOG_ERR, "standard input is not a request socket");
		status = 1;
		loop_stop(hloop);
	} else if (rv > 0)
		handler_stop();
}

static int
run(void)
{
	done_check();
	if (loop_run(hloop) == -1) {
		log_errno(LOG_ERR, "epoll_wait");
		return 1;
	}
	return status;
}

int
handler_run(const struct handler *h, void *arg)
{
	H = h;
	harg = arg;
	if (!handler_check_input())
		return 1;
	handler_loop();
	if (fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK) == -1)
		log_die_errno(1, "standard input");
	watch_init(&inwatch, 0, input_event, NULL);
	serving = 1;
	if (!paused && loop_watch(hloop, &inwatch, EPOLLIN) == -1)
		log_die_errno(1, "event loop");
	return run();
}

int
handler_run_own(const struct handler *h, void *arg)
{
	H = h;
	harg = arg;
	handler_loop();
	return run();
}

int
handler_run_one(const struct handler *h, void *arg, struct req *r, int fd)
{
	H = h;
	harg = arg;
	handler_loop();
	stopped = 1;
	h->h_request(r, fd, arg);
	return run();
}

int
handler_check_input(void)
{
	if (handler_persistent())
		return 1;
	log_msg(LOG_ERR,
	    "standard input is not a request socket "
	    "(a persistent handler is started by another handler, "
	    "see ashd(7))");
	return 0;
}

int
handler_persistent(void)
{
	socklen_t sl = sizeof(int);
	int type = 0;

	return getsockopt(0, SOL_SOCKET, SO_TYPE, &type, &sl) == 0 &&
	    type == SOCK_SEQPACKET;
}
