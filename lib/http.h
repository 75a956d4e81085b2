/*
 * http.h: HTTP/1.x message heads, as pure incremental parsers plus the
 * small writers every handler needs.
 *
 * The parsers own nothing: the caller passes its buffer and length and
 * gets back "need more" (0), the number of bytes the head occupies
 * (> 0), or a negative HTTP status to answer (-400, -414, -431, -501,
 * -505...).  They accept LF or CRLF line ends in response heads (handlers
 * may write LF) and only CRLF in request heads (a bare CR or LF alone is
 * accepted there too as the line end, per RFC 9112 2.2, but a bare CR
 * anywhere is rejected).
 */
#ifndef ASHD_HTTP_H
#define ASHD_HTTP_H

#include <stddef.h>
#include <sys/types.h>

struct req;
struct buf;
struct header;

/* Limits the request parser enforces (see ashlimits.h for defaults). */
struct http_limits {
	size_t hl_reqline; /* request line, 414 beyond */
	size_t hl_head;	   /* whole head, 431 beyond */
	size_t hl_headers; /* header count, 431 beyond */
};
void http_limits_default(struct http_limits *l);

/*
 * Parse a request head from buf[0..len).  On success (> 0) *reqp holds a
 * new request (rest string from the URL, headers in order, names and
 * values as sent with surrounding whitespace removed).  Checks: method is
 * a token, target is origin-form ("/...") or "*" (OPTIONS) or
 * absolute-form, version is HTTP/1.0 or HTTP/1.1 (other HTTP/x.y: -505),
 * no control bytes, no whitespace before the colon, no obs-fold.
 * Framing headers are checked by http_req_framing().
 * Returns -ENOMEM-style failure as -500.
 */
int http_parse_request(const char *buf, size_t len, const struct http_limits *l,
    struct req **reqp);

/* What the request's framing headers say about its body. */
struct http_framing {
	int hf_chunked;	     /* Transfer-Encoding: chunked */
	long long hf_length; /* Content-Length, or -1 */
	int hf_close;	     /* Connection: close (or 1.0 w/o keep-alive) */
	int hf_expect;	     /* Expect: 100-continue */
};
/* 0, or the status to answer: 400 (CL+TE, bad or conflicting CL,
 * missing/repeated Host on 1.1, bad Expect... ), 501 (codings other
 * than a final chunked), 417 (an Expect other than 100-continue). */
int http_req_framing(const struct req *r, struct http_framing *f);
/* The Transfer-Encoding fields among the n headers h: 0, *chunked set
 * if they are exactly one "chunked" (any case, list syntax), else
 * -501 (codings before a final chunked) or -400 (anything else). */
int http_coding(const struct header *h, size_t n, int *chunked);
/* 1 if h is a valid Host value: uri-host [ ":" port ] (RFC 9112 3.2),
 * or empty. */
int http_host_valid(const char *h);

/* A response head as a handler wrote it. */
struct http_resp {
	int hr_status;
	char *hr_reason;
	struct header *hr_hdrs;
	size_t hr_nhdrs;
	/* private: hr_hdrs is one block with the strings of the parsed
	 * head, up to here (a reason set later is allocated on its own) */
	const char *hr_blkend;
};
/* > 0: head length, 0: need more, -1: malformed (errno EBADMSG) or
 * ENOMEM.  On success *resp is filled (free with http_resp_free()).
 * Accepts LF or CRLF; the status line must be "HTTP/x.y NNN [reason]";
 * a lone "Status: NNN" CGI head is not accepted here. */
int http_parse_response(const char *buf, size_t len, struct http_resp *resp);
/* The same for a head without a status line (CGI): header lines and
 * the empty line; hr_status stays 0.  At least one field is required. */
int http_parse_fields(const char *buf, size_t len, struct http_resp *resp);
void http_resp_free(struct http_resp *resp);
const char *http_resp_header(const struct http_resp *resp, const char *name);
size_t http_resp_remove(struct http_resp *resp, const char *name);
/* The response's Content-Length as htparser frames the body by it:
 * digits only, every copy equal.  -2 if there is none, -1 if it is
 * unusable. */
long long http_resp_length(const struct http_resp *resp);

/* Reason phrase for a status code ("Unknown" if none). */
const char *http_reason(int status);
/* The IMF-fixdate for t into out (at least 30 bytes). */
void http_date(char *out, size_t cap, long long t);
/* Parse an HTTP date (IMF-fixdate, RFC 850, asctime); -1 if invalid. */
long long http_parse_date(const char *s);

/*
 * A complete small response: status line, Content-Type text/html,
 * Content-Length, optional extra header lines (each "Name: value\r\n",
 * may be NULL) and a short HTML body naming the status and `msg`.
 * http_error_format() appends it to b; http_error() writes it to fd
 * (blocking; EINTR retried) and returns 0 / -1.
 */
int http_error_format(struct buf *b, int status, const char *msg,
    const char *extra);
int http_error(int fd, int status, const char *msg);

/*
 * A complete response with a body: status line, Content-Type `ctype`
 * (NULL: none), Content-Length, optional extra header lines (each
 * "Name: value\r\n", may be NULL), then body[0..len).  Written to fd
 * blocking (EINTR retried); 0 / -1 with errno.
 */
int http_reply(int fd, int status, const char *ctype, const char *extra,
    const void *body, size_t len);

/* Write all of buf to fd, retrying on EINTR and short writes. */
int http_write_all(int fd, const void *buf, size_t len);
#ifdef ASHD_INTERNAL
#define write_all http_write_all /* the tree's older name */
#endif

/* Case-insensitive token-list membership: does the comma-separated
 * header value `list` contain `token`? */
int http_list_has(const char *list, const char *token);

/* The de-chunker of request bodies is in chunk.h. */
#include "chunk.h"

#endif
