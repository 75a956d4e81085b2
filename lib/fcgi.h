/*
 * fcgi.h: the FastCGI 1.0 wire format, as pure encoders and a push
 * decoder.  Nothing here does I/O: encoders append to a struct buf, the
 * decoder is handed whatever bytes the caller has read.
 *
 * A connection carries records.  Each record is an 8-byte header
 *
 *	version (1) | type | request id (2, big-endian) |
 *	content length (2, big-endian) | padding length | reserved
 *
 * followed by that many content bytes and padding bytes.  Records of
 * the stream types (PARAMS, STDIN, STDOUT, STDERR, DATA) carry a byte
 * stream in pieces; an empty record of the type ends the stream.
 * Management records (GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE) use
 * request id 0, FCGI_NULL_REQUEST_ID.
 *
 * Conventions: functions returning int give 0 on success and -1 with
 * errno on failure (EINVAL: an argument out of the range the wire can
 * carry; EMSGSIZE: a single record or name-value length too large;
 * ENOMEM, or EMSGSIZE from a buffer limit, from struct buf; EBADMSG:
 * malformed input), unless documented otherwise.  A failing encoder
 * leaves the buffer exactly as it was.  Lengths are byte counts: names,
 * values and contents may hold any bytes, NUL included.
 */
#ifndef ASHD_FCGI_H
#define ASHD_FCGI_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define FCGI_VERSION_1	     1
#define FCGI_HEADER_LEN	     8
#define FCGI_MAX_CONTENT     65535 /* content bytes in one record */
#define FCGI_MAX_PADDING     255
#define FCGI_MAX_ID	     65535	  /* request ids are 16 bits */
#define FCGI_NV_MAX	     0x7fffffffUL /* longest name or value */
#define FCGI_NULL_REQUEST_ID 0		  /* management records */

/* Record types. */
#define FCGI_BEGIN_REQUEST     1 /* server: start a request (role, flags) */
#define FCGI_ABORT_REQUEST     2 /* server: the client went away */
#define FCGI_END_REQUEST       3 /* app: request done (app and protocol status) */
#define FCGI_PARAMS	       4  /* server: name-value pairs, stream */
#define FCGI_STDIN	       5  /* server: request body, stream */
#define FCGI_STDOUT	       6  /* app: response, stream */
#define FCGI_STDERR	       7  /* app: error messages, stream */
#define FCGI_DATA	       8  /* server: filter role's file data, stream */
#define FCGI_GET_VALUES	       9  /* server: query variables (names only) */
#define FCGI_GET_VALUES_RESULT 10 /* app: the variables' values */
#define FCGI_UNKNOWN_TYPE      11 /* app: a record type it does not know */
#define FCGI_MAXTYPE	       FCGI_UNKNOWN_TYPE

/* Roles, in BEGIN_REQUEST. */
#define FCGI_RESPONDER	1
#define FCGI_AUTHORIZER 2
#define FCGI_FILTER	3

/* BEGIN_REQUEST flags: keep the connection open after this request. */
#define FCGI_KEEP_CONN 1

/* Protocol statuses, in END_REQUEST. */
#define FCGI_REQUEST_COMPLETE 0
#define FCGI_CANT_MPX_CONN    1
#define FCGI_OVERLOADED	      2
#define FCGI_UNKNOWN_ROLE     3

/* Variable names for GET_VALUES / GET_VALUES_RESULT. */
#define FCGI_MAX_CONNS	"FCGI_MAX_CONNS"
#define FCGI_MAX_REQS	"FCGI_MAX_REQS"
#define FCGI_MPXS_CONNS "FCGI_MPXS_CONNS"

/* The type's name without "FCGI_" ("STDOUT"), or "UNKNOWN"; for logs. */
const char *fcgi_type_name(int type);

/*
 * A name-value pair.  Neither string needs a NUL; the parser's pairs
 * point into the buffer it was given.
 */
struct fcgi_nv {
	const char *nv_name;
	size_t nv_namelen;
	const char *nv_value;
	size_t nv_valuelen;
};

/* Encoders.  Each appends to b. */

/*
 * A record header.  type 0-255 (any, so tests and UNKNOWN_TYPE replies
 * can name types this file does not know), id 0-65535, clen 0-65535,
 * plen 0-255; EINVAL otherwise.
 */
int fcgi_encode_header(struct buf *b, int type, unsigned int id, size_t clen,
    size_t plen);
/*
 * One whole record: header, content[0..clen), and zero padding up to a
 * multiple of 8 bytes.  clen > 65535 is EMSGSIZE.
 */
int fcgi_encode_record(struct buf *b, int type, unsigned int id,
    const void *content, size_t clen);
/* BEGIN_REQUEST: role 0-65535, flags 0-255 (FCGI_KEEP_CONN). */
int fcgi_encode_begin(struct buf *b, unsigned int id, int role, int flags);
int fcgi_encode_abort(struct buf *b, unsigned int id);
/* END_REQUEST: the CGI exit status and a protocol status 0-255. */
int fcgi_encode_end(struct buf *b, unsigned int id, uint32_t app_status,
    int proto_status);
/*
 * Part of a stream: data[0..len) as records of at most 65535 content
 * bytes, each padded to a multiple of 8.  len == 0 appends nothing (an
 * empty record would end the stream).  type must be one of the stream
 * types (EINVAL otherwise).  Any length is accepted; the size
 * arithmetic is overflow-checked (ENOMEM).
 */
int fcgi_encode_stream(struct buf *b, int type, unsigned int id,
    const void *data, size_t len);
/* The empty record that ends a stream. */
int fcgi_encode_stream_end(struct buf *b, int type, unsigned int id);
/*
 * One name-value pair (no record header): each length in one byte when
 * < 128, else in four with the high bit set.  Lengths above FCGI_NV_MAX
 * are EMSGSIZE.
 */
int fcgi_encode_nv(struct buf *b, const void *name, size_t namelen,
    const void *value, size_t valuelen);
/*
 * A whole PARAMS stream for request id: the pairs nv[0..n) as stream
 * records (a pair may span records), then the empty end record.
 */
int fcgi_encode_params(struct buf *b, unsigned int id, const struct fcgi_nv *nv,
    size_t n);
/*
 * GET_VALUES asking for names[0..n) (NUL-terminated), each sent with an
 * empty value; GET_VALUES_RESULT with the pairs nv[0..n).  Both are a
 * single management record: content over 65535 bytes is EMSGSIZE.
 */
int fcgi_encode_get_values(struct buf *b, const char *const *names, size_t n);
int fcgi_encode_get_values_result(struct buf *b, const struct fcgi_nv *nv,
    size_t n);
/* UNKNOWN_TYPE naming the type (0-255) that was not understood. */
int fcgi_encode_unknown_type(struct buf *b, int type);

/* Record bodies.  Each takes a record's content and its length. */

/* BEGIN_REQUEST: the body must be exactly 8 bytes (EBADMSG). */
int fcgi_parse_begin(const void *content, size_t len, int *rolep, int *flagsp);
/* END_REQUEST: the body must be exactly 8 bytes (EBADMSG). */
int fcgi_parse_end(const void *content, size_t len, uint32_t *app_statusp,
    int *proto_statusp);
/* UNKNOWN_TYPE: the body must be exactly 8 bytes (EBADMSG). */
int fcgi_parse_unknown_type(const void *content, size_t len, int *typep);

/*
 * Name-value pairs in buf[0..len) (a GET_VALUES(_RESULT) record's
 * content, or a whole PARAMS stream gathered by the caller), one per
 * call from *offp (start at 0):
 *	 1  *nv holds the pair (pointing into buf), *offp moved past it;
 *	 0  *offp == len: no more pairs;
 *	-1  errno EBADMSG: a length field is cut short, or the lengths run
 *	    past len; *offp is left at the bad pair.  (EINVAL: *offp > len.)
 * Nothing past buf[len - 1] is read, whatever the lengths say.
 */
int fcgi_next_nv(const void *buf, size_t len, size_t *offp, struct fcgi_nv *nv);

/*
 * The push decoder.  Feed it bytes as they arrive, cut anywhere; it
 * hands out one complete record at a time and skips padding (any
 * 0-255).  Content that arrives in one piece is not copied: the record
 * points into the caller's data; content cut across feeds is gathered
 * in the decoder (at most FCGI_MAX_CONTENT bytes, allocated on demand).
 * Record types are not checked (unknown ones go to the caller, who may
 * answer UNKNOWN_TYPE); the version byte must be 1.  A caller that
 * gathers a whole stream (PARAMS) caps it itself, with a limit from
 * ashlimits.h.
 */
enum fcgi_dec_state {
	FCGI_DEC_HEADER,  /* gathering a header; dc_hlen bytes so far */
	FCGI_DEC_CONTENT, /* gathering content into dc_content */
	FCGI_DEC_PADDING, /* skipping dc_left padding bytes */
	FCGI_DEC_ERROR	  /* stopped; dc_err says why */
};

struct fcgi_dec {
	enum fcgi_dec_state dc_state;
	unsigned char dc_hdr[FCGI_HEADER_LEN];
	size_t dc_hlen;
	size_t dc_clen;	       /* content length of the record */
	size_t dc_left;	       /* padding bytes still to skip */
	struct buf dc_content; /* content cut across feeds */
	const char *dc_err;
	int dc_errno; /* errno of the error, for later feeds */
};

/* A decoded record. */
struct fcgi_rec {
	int fr_type;
	unsigned int fr_id;
	const char *fr_content; /* never NULL, even when fr_len == 0 */
	size_t fr_len;
};

void fcgi_dec_init(struct fcgi_dec *d);
/* Release the decoder's memory; it is re-initialised and reusable. */
void fcgi_dec_free(struct fcgi_dec *d);
/*
 * Decode from data[0..len).  *usedp gets the bytes consumed.
 *	 1  a record is in *rec; call again with data + *usedp for more.
 *	    rec->fr_content stays valid until the next fcgi_dec_feed() or
 *	    fcgi_dec_free() on d, and while data[] is unchanged.
 *	 0  all len bytes consumed (*usedp == len); need more input.
 *	-1  error, errno EBADMSG (version != 1) or ENOMEM; the reason is
 *	    fcgi_dec_error(d) and *usedp is not meaningful.  The decoder
 *	    stays in error: every later feed returns -1 with the same
 *	    errno, consuming nothing.
 * The record is handed out as soon as its content is complete; its
 * padding is skipped by the following feeds.
 */
int fcgi_dec_feed(struct fcgi_dec *d, const void *data, size_t len,
    size_t *usedp, struct fcgi_rec *rec);
/* 1 between records (nothing of a header, content or padding pending),
 * so that end of input there is a clean end; 0 otherwise. */
int fcgi_dec_idle(const struct fcgi_dec *d);
/* Why the decoder stopped (a constant string such as
 * "version is not 1"), or NULL if it has not. */
const char *fcgi_dec_error(const struct fcgi_dec *d);

#endif
