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
	const char *so_ctype; /* -c */
	const char *so_file;  /* -f */
};

struct reply {
	int rp_status;
	struct buf rp_head; /* complete response head */
	int rp_fd;	    /* file to send from, or -1 */
	off_t rp_off;	    /* first byte */
	off_t rp_len;	    /* bytes to send (0 for HEAD) */
};

/* Fill rp for r.  Always produces a response (errors become error
 * pages); returns -1 only when even that failed (out of memory). */
int serve_plan(const struct req *r, const struct sfopts *o, struct reply *rp);
void reply_free(struct reply *rp);
/*
 * The common case without serve_plan(): a GET or HEAD of a small
 * regular file (fcache.h) without a Range or a precompressed sibling,
 * where no conditional header applies.  1 with the whole response in
 * *datap, *lenp (valid until the next call), or 0: use serve_plan().
 */
int serve_cached(const struct req *r, const struct sfopts *o,
    const char **datap, size_t *lenp);
/* The ETag of the file st describes (enc: the sibling's coding, or
 * NULL); the first lines of a 200 or 206 head, up to Accept-Ranges. */
struct stat;
void file_etag(char *out, size_t cap, const struct stat *st, const char *enc);
int plan_head(struct buf *b, int status, const char *ctype, off_t len,
    const char *lastmod, const char *etag);
/* A body of at most max bytes goes into rp_head, so that head and body
 * leave in one write: 1 done, 0 not (too big, or the file changed), -1
 * error. */
int reply_inline(struct reply *rp, size_t max);

/* Exposed for the unit tests: parse a Range header value against a
 * file size.  1 range set in *off and *len, 0 ignore the header (bad
 * syntax or several ranges), -1 unsatisfiable (416). */
int range_parse(const char *v, off_t size, off_t *off, off_t *len);
/* Does an If-None-Match / If-Match list match etag?  weak: compare
 * weakly (ignore W/). */
int etag_match(const char *list, const char *etag, int weak);

#endif
