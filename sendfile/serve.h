/*
 * serve.h: what sendfile answers to one request, worked out before
 * any byte is written: the response head and which part of which file
 * follows it.
 */
#ifndef SENDFILE_SERVE_H
#define SENDFILE_SERVE_H

#include <sys/types.h>

#include "buf.h"

struct req;

struct sfopts {
	const char	*so_ctype;	/* -c */
	const char	*so_file;	/* -f */
};

struct reply {
	int		 rp_status;
	struct buf	 rp_head;	/* complete response head */
	int		 rp_fd;		/* file to send from, or -1 */
	off_t		 rp_off;	/* first byte */
	off_t		 rp_len;	/* bytes to send (0 for HEAD) */
};

/* Fill rp for r.  Always produces a response (errors become error
 * pages); returns -1 only when even that failed (out of memory). */
int	serve_plan(const struct req *r, const struct sfopts *o,
	    struct reply *rp);
void	reply_free(struct reply *rp);
/* A body of at most max bytes goes into rp_head, so that head and body
 * leave in one write: 1 done, 0 not (too big, or the file changed), -1
 * error. */
int	reply_inline(struct reply *rp, size_t max);

/* Exposed for the unit tests: parse a Range header value against a
 * file size.  1 range set in *off and *len, 0 ignore the header (bad
 * syntax or several ranges), -1 unsatisfiable (416). */
int	range_parse(const char *v, off_t size, off_t *off, off_t *len);
/* Does an If-None-Match / If-Match list match etag?  weak: compare
 * weakly (ignore W/). */
int	etag_match(const char *list, const char *etag, int weak);

#endif
