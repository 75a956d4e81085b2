/*
 * spool.c: request bodies stored before they go on (see spool.h).
 *
 * Invariant: the body is either all in sp_mem (sp_fd == -1) or all in
 * the file (sp_mem empty); sp_pos <= sp_len.  Reading back from the
 * file uses pread()/sendfile() at sp_pos, so the file offset itself is
 * never relied on.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "spool.h"

#define SPOOL_IOSIZE (64 * 1024)

void
spool_init(struct spool *sp, const char *tmpdir, size_t memmax)
{
	buf_init(&sp->sp_mem, 0);
	sp->sp_fd = -1;
	sp->sp_len = sp->sp_pos = 0;
	sp->sp_memmax = memmax;
	sp->sp_tmpdir = tmpdir;
}

/* A file without a name in the spool's directory. */
static int
spool_tmpfile(const struct spool *sp)
{
	char path[4096];
	int fd, e;

	fd = open(sp->sp_tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 ||
	    (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	/* A file system without O_TMPFILE. */
	if ((size_t)snprintf(path, sizeof(path), "%s/spool.XXXXXX",
		sp->sp_tmpdir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(path, O_CLOEXEC)) == -1)
		return -1;
	if (unlink(path) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Move the body from memory to a file. */
static int
spool_to_file(struct spool *sp)
{
	if ((sp->sp_fd = spool_tmpfile(sp)) == -1)
		return -1;
	if (http_write_all(sp->sp_fd, sp->sp_mem.b_data, sp->sp_mem.b_len) ==
	    -1) {
		int e = errno;

		close(sp->sp_fd);
		sp->sp_fd = -1;
		errno = e;
		return -1;
	}
	buf_free(&sp->sp_mem);
	return 0;
}

int
spool_write(struct spool *sp, const void *data, size_t len)
{
	if (sp->sp_fd < 0 && len > sp->sp_memmax - sp->sp_mem.b_len &&
	    spool_to_file(sp) == -1)
		return -1;
	if (sp->sp_fd >= 0) {
		if (http_write_all(sp->sp_fd, data, len) == -1)
			return -1;
	} else if (buf_append(&sp->sp_mem, data, len) == -1)
		return -1;
	sp->sp_len += (long long)len;
	return 0;
}

int
spool_fill(struct spool *sp, int sock)
{
	char iobuf[16384];
	struct pollfd pfd;
	ssize_t n;

	for (;;) {
		n = recv(sock, iobuf, sizeof(iobuf), MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			break;
		if (spool_write(sp, iobuf, (size_t)n) == -1)
			return -1;
	}
	/* End-of-file: the body's end, or the sender gone?  Only a socket
	 * closed whole also hangs up our sending direction. */
	pfd.fd = sock;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR))) {
		errno = EPIPE;
		return -1;
	}
	return 1;
}

ssize_t
spool_read(struct spool *sp, void *buf, size_t cap)
{
	long long left = sp->sp_len - sp->sp_pos;
	ssize_t n;

	if ((long long)cap > left)
		cap = (size_t)left;
	if (cap == 0)
		return 0;
	if (sp->sp_fd < 0) {
		memcpy(buf, sp->sp_mem.b_data + sp->sp_pos, cap);
		n = (ssize_t)cap;
	} else if ((n = pread(sp->sp_fd, buf, cap, (off_t)sp->sp_pos)) <= 0) {
		if (n == 0)
			errno = EIO; /* the file shrank under us */
		return -1;
	}
	sp->sp_pos += n;
	return n;
}

ssize_t
spool_send(struct spool *sp, int fd)
{
	long long left = sp->sp_len - sp->sp_pos;
	size_t cap = left > SPOOL_IOSIZE ? SPOOL_IOSIZE : (size_t)left;
	off_t off = (off_t)sp->sp_pos;
	ssize_t n;

	if (cap == 0)
		return 0;
	if (sp->sp_fd < 0)
		n = send(fd, sp->sp_mem.b_data + sp->sp_pos, cap,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
	else if ((n = sendfile(fd, sp->sp_fd, &off, cap)) == 0) {
		errno = EIO;
		return -1;
	}
	if (n > 0)
		sp->sp_pos += n;
	return n;
}

long long
spool_left(const struct spool *sp)
{
	return sp->sp_len - sp->sp_pos;
}

void
spool_rewind(struct spool *sp)
{
	sp->sp_pos = 0;
}

void
spool_free(struct spool *sp)
{
	buf_free(&sp->sp_mem);
	if (sp->sp_fd >= 0)
		close(sp->sp_fd);
	sp->sp_fd = -1;
	sp->sp_len = sp->sp_pos = 0;
}
