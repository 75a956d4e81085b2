/*
 * spool.h: a request body received whole before it goes on to an
 * application, so that a slow client holds no application worker while
 * it uploads, and a chunked body gets a length (CONTENT_LENGTH).
 *
 * The body is kept in memory up to sp_memmax bytes; past that, all of
 * it moves to a temporary file that has no name (O_TMPFILE in the
 * directory given, else a file unlinked at once), so nothing is left
 * behind whatever happens to the process.
 *
 *	spool_init(&sp, tmpdir, memmax);
 *	spool_fill(&sp, sock)	on each readable event, until it gives 1
 *	spool_send(&sp, fd)	on each writable event, until it gives 0
 *	  (or spool_read() for a caller that frames the bytes itself)
 *	spool_rewind(&sp)	to give the body again from its start
 *	spool_free(&sp);
 *
 * Functions return 0 / -1 with errno unless said otherwise.
 */
#ifndef ASHD_SPOOL_H
#define ASHD_SPOOL_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct spool {
	struct buf sp_mem; /* the body while it fits */
	int sp_fd;	   /* the file past that, or -1 */
	long long sp_len;  /* bytes stored */
	long long sp_pos;  /* bytes given back */
	size_t sp_memmax;
	const char *sp_tmpdir;
};

/* An empty spool (tmpdir is kept, not copied). */
void spool_init(struct spool *sp, const char *tmpdir, size_t memmax);
/* Store len more bytes; fails with the file's errno (ENOSPC...). */
int spool_write(struct spool *sp, const void *data, size_t len);
/*
 * Store what the stream socket `sock` has now, without blocking.
 * Returns 1 at the end of the body (the other side shut down its
 * writing), 0 if more is to come, -1 on error, with errno EPIPE if the
 * other side closed the socket whole (a client that left: the end of
 * its body never came).
 */
int spool_fill(struct spool *sp, int sock);
/* Copy up to cap of the next bytes to buf: how many, 0 at the end. */
ssize_t spool_read(struct spool *sp, void *buf, size_t cap);
/*
 * Send the next bytes to the non-blocking socket fd (sendfile(2) from
 * the file): how many went, 0 at the end, -1 with errno (EAGAIN: fd has
 * no room now).
 */
ssize_t spool_send(struct spool *sp, int fd);
/* Bytes not given back yet. */
long long spool_left(const struct spool *sp);
void spool_rewind(struct spool *sp);
void spool_free(struct spool *sp);

#endif
