/*
 * htls.h: what the parts of htls share.
 *
 * list.c turns one request for a directory into one complete response
 * (head and body in a buffer); main.c gets requests under either
 * handler convention and writes the responses out.
 */
#ifndef HTLS_H
#define HTLS_H

struct buf;
struct req;

struct htls_opts {
	int o_mtime;	   /* -m: a column of modification times */
	int o_size;	   /* -s: a column of file sizes */
	const char *o_css; /* -c: link this stylesheet instead */
};

extern struct htls_opts htls_opts;

/*
 * The response to r (a listing, 304, 301, 404, 405 or an error page)
 * appended to out.  0, or -1 with errno ENOMEM when out of memory
 * (out then holds nothing useful).
 */
int htls_respond(const struct req *r, struct buf *out);

#endif
