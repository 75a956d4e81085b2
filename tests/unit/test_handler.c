/*
 * test_handler.c: the run loop of persistent handlers (lib/handler.c).
 *
 * Each case forks a handler whose standard input is one end of a
 * SOCK_SEQPACKET pair, talks to it as a parent handler would (request
 * datagrams with a response socket each, signals, end of input) and
 * checks what the handler did through the response sockets and its exit
 * status.  The handler answers "URL ARG" on each response socket; the
 * URL picks what it does:
 *
 *	/now	answer at once
 *	/held	hold the request, answer it 200 ms later (a timer)
 *	/fork	start a child that exits 3 at once; h_reaped answers
 *		"reaped STATUS" on the response socket, kept till then
 *	/pause	answer, and read no more requests for 300 ms
 *		(handler_pause())
 *
 * SIGHUP makes the next answers carry "reloaded".  alarm() turns a hang
 * into a failure.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <poll.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handler.h"
#include "loop.h"
#include "req.h"
#include "tap.h"

static int reloads, stops;
static int forkfd = -1;
static struct timer heldtimer;
static int heldfd = -1;
static struct timer pausetimer;

static void __attribute__((noreturn)) die(const char *what)
{
	perror(what);
	exit(99);
}

static void
answer(int fd, const char *what)
{
	char buf[128];
	int n;

	n = snprintf(buf, sizeof(buf), "%s%s%s", what,
	    reloads ? " reloaded" : "", stops ? " stopped" : "");
	if (write(fd, buf, (size_t)n) != n)
		die("write");
	close(fd);
}

static void
held_fire(struct timer *t)
{
	(void)t;
	answer(heldfd, "/held");
	heldfd = -1;
	handler_release();
}

static void
pause_over(struct timer *t)
{
	(void)t;
	handler_pause(0);
}

static void
on_request(struct req *r, int fd, void *arg)
{
	pid_t pid;

	(void)arg;
	if (!strcmp(r->r_url, "/pause")) {
		handler_pause(1);
		timer_init(&pausetimer, pause_over, NULL);
		loop_timer(handler_loop(), &pausetimer, 300);
		answer(fd, r->r_url);
	} else if (!strcmp(r->r_url, "/held")) {
		heldfd = fd;
		handler_hold();
		timer_init(&heldtimer, held_fire, NULL);
		loop_timer(handler_loop(), &heldtimer, 200);
	} else if (!strcmp(r->r_url, "/fork")) {
		forkfd = fd;
		handler_hold();
		if ((pid = fork()) == 0)
			_exit(3);
	} else
		answer(fd, r->r_url);
	req_free(r);
}

static void
on_reload(void *arg)
{
	(void)arg;
	reloads++;
}

static void
on_reaped(pid_t pid, int st, void *arg)
{
	char buf[32];

	(void)pid;
	(void)arg;
	snprintf(buf, sizeof(buf), "reaped %d", WEXITSTATUS(st));
	answer(forkfd, buf);
	forkfd = -1;
	handler_release();
}

static void
on_stop(void *arg)
{
	(void)arg;
	stops++;
}

static const struct handler testh = {
	.h_request = on_request,
	.h_reload = on_reload,
	.h_reaped = on_reaped,
	.h_stop = on_stop,
};

/* Start the handler; *sockp is our end of its standard input. */
static pid_t
start(int *sockp)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		die("socketpair");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		close(sv[0]);
		dup2(sv[1], 0);
		close(sv[1]);
		alarm(10);
		_exit(handler_run(&testh, NULL));
	}
	close(sv[1]);
	*sockp = sv[0];
	return pid;
}

/* Send a request for `url`; returns our end of its response socket. */
static int
send_req(int sock, const char *url)
{
	struct req *r;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (r = req_new("GET", url, "HTTP/1.1", url + 1)) == NULL)
		die("send_req");
	if (req_send(sock, r, sv[1]) == -1)
		die("req_send");
	req_free(r);
	close(sv[1]);
	return sv[0];
}

/* Everything the handler wrote on a response socket, until it closed. */
static char *
reply(int fd)
{
	static char buf[256];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

static int
wait_status(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) != pid)
		die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int
main(void)
{
	struct pollfd pfd;
	struct req *r;
	pid_t pid;
	int sock, a, b, sv[2];

	alarm(30);

	/* Requests are served; end of input ends it with status 0. */
	pid = start(&sock);
	a = send_req(sock, "/one");
	b = send_req(sock, "/two");
	is_str(reply(a), "/one", "first request answered");
	is_str(reply(b), "/two", "second request answered");
	close(sock);
	is_int(wait_status(pid), 0, "end of input: exit status 0");

	/* End of input while a request is held: drained, then exit. */
	pid = start(&sock);
	a = send_req(sock, "/held");
	close(sock);
	is_str(reply(a), "/held stopped",
	    "held request finished after "
	    "end of input");
	is_int(wait_status(pid), 0, "drained, then exit status 0");

	/* SIGTERM stops the input but drains the held request. */
	pid = start(&sock);
	a = send_req(sock, "/held");
	b = send_req(sock, "/now");
	is_str(reply(b), "/now", "request before SIGTERM answered");
	kill(pid, SIGTERM);
	is_str(reply(a), "/held stopped",
	    "held request finished after "
	    "SIGTERM");
	is_int(wait_status(pid), 0, "SIGTERM: drained, exit status 0");
	/* Its input was let go at once: a send now fails. */
	close(sock);

	/* A second SIGTERM does not wait for the held request. */
	pid = start(&sock);
	a = send_req(sock, "/held");
	b = send_req(sock, "/now");
	reply(b);
	kill(pid, SIGTERM);
	usleep(20000);
	kill(pid, SIGTERM);
	is_int(wait_status(pid), 0, "second SIGTERM: exit at once");
	is_str(reply(a), "", "held request dropped by the second SIGTERM");
	close(sock);

	/* After SIGTERM the input is let go: a sender sees it gone. */
	pid = start(&sock);
	a = send_req(sock, "/held");
	b = send_req(sock, "/now");
	reply(b);
	kill(pid, SIGTERM);
	usleep(50000);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (r = req_new("GET", "/late", "HTTP/1.1", "late")) == NULL)
		die("socketpair");
	ok(req_send(sock, r, sv[1]) == -1 && errno == EPIPE,
	    "a request sent after SIGTERM is refused (EPIPE)");
	req_free(r);
	close(sv[0]);
	close(sv[1]);
	reply(a);
	is_int(wait_status(pid), 0, "exit status 0");
	close(sock);

	/* SIGHUP reaches h_reload between requests. */
	pid = start(&sock);
	a = send_req(sock, "/before");
	is_str(reply(a), "/before", "before SIGHUP");
	kill(pid, SIGHUP);
	usleep(50000);
	a = send_req(sock, "/after");
	is_str(reply(a), "/after reloaded", "SIGHUP called h_reload");
	close(sock);
	is_int(wait_status(pid), 0, "exit status 0");

	/* A child of its own is reaped and reported with its status. */
	pid = start(&sock);
	a = send_req(sock, "/fork");
	is_str(reply(a), "reaped 3", "h_reaped got the child's status");
	close(sock);
	is_int(wait_status(pid), 0, "exit status 0");

	/* handler_pause(): requests wait in the socket, then are read. */
	pid = start(&sock);
	a = send_req(sock, "/pause");
	is_str(reply(a), "/pause", "request before the pause answered");
	b = send_req(sock, "/later");
	pfd.fd = b;
	pfd.events = POLLIN;
	is_int(poll(&pfd, 1, 150), 0, "paused: the next request waits");
	is_str(reply(b), "/later", "after the pause it is answered");
	close(sock);
	is_int(wait_status(pid), 0, "exit status 0");

	/* handler_run_own(): standard input is left alone; SIGTERM stops
	 * it, calling h_stop. */
	if (pipe(sv) == -1)
		die("pipe");
	if ((pid = fork()) == 0) {
		struct stat before, after;

		dup2(sv[0], 0);
		alarm(10);
		fstat(0, &before);
		if (handler_run_own(&testh, NULL) != 0)
			_exit(5);
		fstat(0, &after);
		_exit(stops == 1 && before.st_ino == after.st_ino ? 0 : 6);
	}
	usleep(50000);
	kill(pid, SIGTERM);
	is_int(wait_status(pid), 0,
	    "handler_run_own: runs without reading "
	    "stdin, SIGTERM calls h_stop and returns 0");
	close(sv[0]);
	close(sv[1]);

	/* Standard input that is not a request socket: status 1. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	if ((pid = fork()) == 0) {
		dup2(sv[1], 0);
		close(sv[0]);
		close(sv[1]);
		alarm(10);
		_exit(handler_run(&testh, NULL));
	}
	close(sv[1]);
	if (write(sv[0], "junk", 4) != 4)
		die("write");
	is_int(wait_status(pid), 1, "a stream on stdin: exit status 1");
	close(sv[0]);

	/* The transient convention: one request, then return. */
	if ((pid = fork()) == 0) {
		int p[2];

		alarm(10);
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) == -1 ||
		    (r = req_new("GET", "/held", "HTTP/1.1", "held")) == NULL)
			_exit(98);
		if (handler_run_one(&testh, NULL, r, p[1]) != 0)
			_exit(97);
		_exit(strcmp(reply(p[0]), "/held") ? 96 : 0);
	}
	is_int(wait_status(pid), 0,
	    "handler_run_one serves one held request "
	    "and returns");

	return tap_done();
}
