/*
 * test_spool.c: request bodies stored before they go on (lib/spool.c).
 *
 * Each table row is a body size and the size of the pieces it arrives
 * in, through a socket pair as a client's body comes through htparser
 * (the writer shuts down its sending direction at the end).  The body
 * must come back byte for byte through spool_read() and through
 * spool_send() to a socket with a small buffer (so that EAGAIN
 * happens), twice (spool_rewind()), and live in memory exactly when it
 * fits in the limit; in a file without a name otherwise.  Then the
 * failures: a sender that closes the socket whole before the end, and a
 * directory where no file can be made.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "tap.h"

#define MEMMAX 1000

static const char *tmpdir;

static void __attribute__((noreturn)) die(const char *what)
{
	perror(what);
	exit(99);
}

static char *
pattern(size_t n)
{
	char *p = malloc(n ? n : 1);
	size_t i;

	if (p == NULL)
		die("malloc");
	for (i = 0; i < n; i++)
		p[i] = (char)((i * 31 + (i >> 8)) & 0xff);
	return p;
}

static void
nonblock(int fd)
{
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		die("fcntl");
}

/* Fill sp from a socket pair fed `len` bytes of body in `piece`-byte
 * writes, the spool reading after each write.  Returns spool_fill()'s
 * last result. */
static int
fill_from(struct spool *sp, const char *body, size_t len, size_t piece,
    int close_early)
{
	int sv[2], rv = 0;
	size_t off = 0, n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	while (off < len) {
		n = len - off < piece ? len - off : piece;
		if (write(sv[1], body + off, n) != (ssize_t)n)
			die("write");
		off += n;
		if ((rv = spool_fill(sp, sv[0])) != 0)
			break;
	}
	if (close_early)
		close(sv[1]);
	else
		shutdown(sv[1], SHUT_WR);
	if (rv == 0)
		rv = spool_fill(sp, sv[0]);
	close(sv[0]);
	if (!close_early)
		close(sv[1]);
	return rv;
}

/* Everything spool_send() gives, through a socket with a small buffer. */
static int
drain_send(struct spool *sp, char *out, size_t cap, size_t *lenp)
{
	int sv[2], size = 4096, again = 0;
	ssize_t n, r;
	size_t got = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("socketpair");
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	nonblock(sv[0]);
	nonblock(sv[1]);
	do {
		/* Send until the socket is full, then empty it. */
		while ((n = spool_send(sp, sv[0])) > 0)
			;
		if (n < 0 && errno != EAGAIN)
			die("spool_send");
		again += n < 0;
		while ((r = read(sv[1], out + got, cap - got)) > 0)
			got += (size_t)r;
	} while (n != 0);
	close(sv[0]);
	close(sv[1]);
	*lenp = got;
	return again;
}

static int
is_nameless(int fd)
{
	char link[64], target[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, target, sizeof(target) - 1)) < 0)
		return 0;
	target[n] = '\0';
	return strstr(target, "(deleted)") != NULL;
}

static const struct row {
	int line;
	size_t len, piece;
} rows[] = {
	{ __LINE__, 0, 1 },
	{ __LINE__, 1, 1 },
	{ __LINE__, MEMMAX - 1, 7 },
	{ __LINE__, MEMMAX, MEMMAX },
	{ __LINE__, MEMMAX + 1, 1 },
	{ __LINE__, MEMMAX + 1, MEMMAX + 1 },
	{ __LINE__, 3 * MEMMAX, 999 },
	{ __LINE__, 300 * 1024, 65536 },
	{ __LINE__, 1024 * 1024 + 3, 16384 },
};

static void
check_row(const struct row *r)
{
	struct spool sp;
	char *body = pattern(r->len), *out = malloc(r->len + 1), buf[333];
	size_t got;
	ssize_t n;
	int rv, pass, again = 0;

	if (out == NULL)
		die("malloc");
	spool_init(&sp, tmpdir, MEMMAX);
	rv = fill_from(&sp, body, r->len, r->piece, 0);
	ok_at(r->line, rv == 1, "%zu bytes in %zu-byte pieces: end of body",
	    r->len, r->piece);
	is_int_at(r->line, sp.sp_len, r->len, "length stored");
	ok_at(r->line, (sp.sp_fd >= 0) == (r->len > MEMMAX), "%s",
	    r->len > MEMMAX ? "in a file" : "in memory");
	if (sp.sp_fd >= 0)
		ok_at(r->line, is_nameless(sp.sp_fd) && sp.sp_mem.b_len == 0,
		    "the file has no name; memory freed");
	got = 0;
	while ((n = spool_read(&sp, out + got, sizeof(buf))) > 0)
		got += (size_t)n;
	ok_at(r->line, n == 0 && got == r->len && !memcmp(out, body, got),
	    "spool_read gives the body back");
	is_int_at(r->line, spool_left(&sp), 0, "nothing left");
	for (pass = 0; pass < 2; pass++) {
		spool_rewind(&sp);
		is_int_at(r->line, spool_left(&sp), r->len, "rewound");
		memset(out, 0, r->len);
		again += drain_send(&sp, out, r->len + 1, &got);
		ok_at(r->line, got == r->len && !memcmp(out, body, got),
		    "spool_send gives the body back (pass %d)", pass + 1);
	}
	if (r->len > 64 * 1024)
		ok_at(r->line, again > 0, "a full socket was waited for");
	spool_free(&sp);
	is_int_at(r->line, sp.sp_fd, -1, "freed");
	free(body);
	free(out);
}

static void
check_failures(void)
{
	struct spool sp;
	char *body = pattern(5000);

	/* The sender closes its socket whole: the end never came. */
	spool_init(&sp, tmpdir, MEMMAX);
	errno = 0;
	ok(fill_from(&sp, body, 10, 10, 1) == -1 && errno == EPIPE,
	    "a sender gone before the end: EPIPE");
	spool_free(&sp);
	spool_init(&sp, tmpdir, MEMMAX);
	ok(fill_from(&sp, body, 5000, 100, 1) == -1 && errno == EPIPE,
	    "the same with the body in a file");
	spool_free(&sp);

	/* No file can be made: the error comes when memory is full, and
	 * what fits in memory still works. */
	spool_init(&sp, "/nonexistent/dir", MEMMAX);
	ok(spool_write(&sp, body, MEMMAX) == 0, "memory needs no directory");
	errno = 0;
	ok(spool_write(&sp, body, 1) == -1 && errno == ENOENT,
	    "past the limit, the missing directory is an error");
	is_int(sp.sp_len, MEMMAX, "what was stored stays");
	spool_free(&sp);
	free(body);
}

int
main(void)
{
	size_t i;

	if ((tmpdir = getenv("TMPDIR")) == NULL || *tmpdir == '\0')
		tmpdir = "/tmp";
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_row(&rows[i]);
	check_failures();
	return tap_done();
}
