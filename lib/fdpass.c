/*
 * fdpass.c: datagrams carrying exactly one descriptor (SCM_RIGHTS).
 *
 * Every descriptor that arrives is either handed to the caller or
 * closed here, whatever went wrong with the message.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fdpass.h"

ssize_t
fd_send(int sock, const void *data, size_t len, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

/* Close every descriptor in the control data; return how many. */
static int
fd_collect(struct msghdr *msg, int *first)
{
	struct cmsghdr *c;
	size_t i, nfd;
	int fd, count = 0;

	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int),
			    sizeof(int));
			if (count++ == 0 && first)
				*first = fd;
			else
				close(fd);
		}
	}
	return count;
}

/* One recvmsg() with rflags: the bytes, the first descriptor in *fdp
 * (or -1; all are closed if fdp is NULL), how many came, and the
 * message flags. */
static ssize_t
recv_fds(int sock, void *buf, size_t cap, int rflags, int *fdp, int *countp,
    int *flagsp)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct msghdr msg;
	struct iovec iov;
	ssize_t n;

	if (fdp)
		*fdp = -1;
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = cap;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | rflags);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	*countp = fd_collect(&msg, fdp);
	*flagsp = msg.msg_flags;
	return n;
}

ssize_t
fd_recv(int sock, void *buf, size_t cap, int *fdp)
{
	ssize_t n;
	int fd = -1, count, flags;

	if (fdp)
		*fdp = -1;
	if ((n = recv_fds(sock, buf, cap, 0, fdp ? &fd : NULL, &count,
		 &flags)) < 0)
		return -1;
	if (flags & MSG_TRUNC) {
		if (fd >= 0)
			close(fd);
		errno = EMSGSIZE;
		return -1;
	}
	if (fdp == NULL)
		return n;
	if (n == 0 && fd >= 0) {
		/* Descriptors on an empty message: not ours to keep. */
		close(fd);
		fd = -1;
		count = 0;
	}
	if ((flags & MSG_CTRUNC) || (n > 0 && count != 1)) {
		if (fd >= 0)
			close(fd);
		errno = EBADMSG;
		return -1;
	}
	*fdp = fd;
	return n;
}

ssize_t
fd_recv_stream(int sock, void *buf, size_t cap, int *fdp, int rflags)
{
	int count, flags;

	return recv_fds(sock, buf, cap, rflags, fdp, &count, &flags);
}

ssize_t
fd_peek_len(int sock)
{
	ssize_t n;
	char c;

	do
		n = recv(sock, &c, 1, MSG_PEEK | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	return n;
}
