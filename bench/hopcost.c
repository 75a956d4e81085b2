/*
 * hopcost.c: what the kernel charges for the steps every request takes
 * through the ashd design, measured on this machine, so that the
 * benchmark's figures can be set against a floor.
 *
 *	cc -O2 -o hopcost hopcost.c && ./hopcost [ITERATIONS]
 *
 * Each line is the mean wall-clock time of one step over ITERATIONS
 * (default 200000) repetitions in a tight loop:
 *   socketpair+close	making and closing the per-request response
 *			socket pair (htparser, once per request)
 *   pass-fd		one sendmsg() with SCM_RIGHTS and the recvmsg()
 *			that receives it, plus closing the copy (each hop:
 *			htparser to dirplex, dirplex to sendfile)
 *   wake-up hop		one byte to another process blocked in read() and
 *			its answer, halved: what handing work to a
 *			sleeping process costs (ping-pong over a socket
 *			pair)
 *   epoll_ctl add+del	watching a new descriptor (htparser's end of the
 *			pair, once per request)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
send_fd(int sock, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	char c = 'r';

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &c;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	cm.hdr.cmsg_level = SOL_SOCKET;
	cm.hdr.cmsg_type = SCM_RIGHTS;
	cm.hdr.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.hdr), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1)
		die("sendmsg");
}

static int
recv_fd(int sock)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	char c;
	int fd;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = &c;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1 ||
	    msg.msg_controllen < CMSG_LEN(sizeof(int)))
		die("recvmsg");
	memcpy(&fd, CMSG_DATA(&cm.hdr), sizeof(int));
	return fd;
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000, i;
	int sp[2], dg[2], pp[2], ep;
	struct epoll_event ev;
	double t0;
	pid_t pid;
	char c;

	if (n <= 0) {
		fprintf(stderr, "usage: hopcost [ITERATIONS]\n");
		return 2;
	}

	t0 = now();
	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
			die("socketpair");
		close(sp[0]);
		close(sp[1]);
	}
	printf("socketpair+close   %8.2f us\n", (now() - t0) / (double)n * 1e6);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, dg) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		die("socketpair");
	t0 = now();
	for (i = 0; i < n; i++) {
		send_fd(dg[0], sp[1]);
		close(recv_fd(dg[1]));
	}
	printf("pass-fd            %8.2f us\n", (now() - t0) / (double)n * 1e6);

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	ev.events = EPOLLIN;
	ev.data.fd = sp[0];
	t0 = now();
	for (i = 0; i < n; i++) {
		if (epoll_ctl(ep, EPOLL_CTL_ADD, sp[0], &ev) ||
		    epoll_ctl(ep, EPOLL_CTL_DEL, sp[0], NULL))
			die("epoll_ctl");
	}
	printf("epoll_ctl add+del  %8.2f us\n", (now() - t0) / (double)n * 1e6);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pp))
		die("socketpair");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		close(pp[0]);
		while (read(pp[1], &c, 1) == 1)
			if (write(pp[1], &c, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(pp[1]);
	n /= 4;
	t0 = now();
	for (i = 0; i < n; i++) {
		if (write(pp[0], "x", 1) != 1 || read(pp[0], &c, 1) != 1)
			die("ping-pong");
	}
	printf("wake-up hop        %8.2f us\n",
	    (now() - t0) / (double)n / 2 * 1e6);
	close(pp[0]);
	waitpid(pid, NULL, 0);
	return 0;
}
