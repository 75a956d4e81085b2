/*
 * req.h: the request head that travels between handlers.
 *
 * A request is the method, raw URL and version exactly as the client
 * sent them, the rest string (the part of the URL still to be routed),
 * and an ordered list of headers.  Header names compare
 * case-insensitively; order and duplicates are preserved.  Every string
 * is owned by the request and freed by req_free(); change the fields
 * only through the functions below.
 *
 * A decoded request (req_decode(), req_recv()) is one allocation: the
 * struct, the header array and a copy of the datagram its strings point
 * into.  The functions below tell those strings from ones they added
 * later by their address (r_blk .. r_blkend), so a decoded request
 * costs one malloc() however many headers it has.
 *
 * Functions returning int give 0 / -1 with errno (ENOMEM); pointer
 * functions give NULL on failure.
 */
#ifndef ASHD_REQ_H
#define ASHD_REQ_H

#include <stddef.h>

struct header {
	char *h_name;
	char *h_value;
};

struct req {
	char *r_method;
	char *r_url;
	char *r_version;
	char *r_rest;
	struct header *r_hdrs;
	size_t r_nhdrs;
	size_t r_hcap;
	/* private: the block of a decoded or parsed request (see
	 * above), else empty, and its unused room: strings added later
	 * go there while they fit */
	const char *r_blk;
	const char *r_blkend;
	char *r_blkfree;
};

struct req *req_new(const char *method, const char *url, const char *version,
    const char *rest);
/*
 * For the parsers in lib/: a request of one block with room for nh
 * headers and text bytes of strings, its fields unset (NULL).  Fill it
 * with req_block_str() and req_add_header_n(); whatever no longer fits
 * is allocated on its own, as for any request.
 */
struct req *req_block(size_t nh, size_t text);
/* Copy s[0..n) into r's block, NUL-terminated: the copy, or NULL if
 * the block has no room left (nothing is allocated). */
char *req_block_str(struct req *r, const char *s, size_t n);
struct req *req_dup(const struct req *r);
void req_free(struct req *r);

/* First value of the header `name`, or NULL. */
const char *req_header(const struct req *r, const char *name);
/* Append a header at the end (duplicates allowed). */
int req_add_header(struct req *r, const char *name, const char *value);
/* The same with the name and value as name[0..nl) and value[0..vl). */
int req_add_header_n(struct req *r, const char *name, size_t nl,
    const char *value, size_t vl);
/* Replace every `name` header by a single one with `value`, in the place
 * of the first; append if absent. */
int req_set_header(struct req *r, const char *name, const char *value);
/* Remove every `name` header; returns how many were removed. */
size_t req_remove_header(struct req *r, const char *name);
/* Remove every header whose name starts with `prefix` (any case). */
size_t req_remove_prefix(struct req *r, const char *prefix);
int req_set_rest(struct req *r, const char *rest);
/*
 * Who and what a request is, for log lines: "ADDRESS:PORT METHOD URL",
 * the client from the X-Ash-Address and X-Ash-Port headers htparser
 * adds (an IPv6 address in brackets; "METHOD URL" alone without them),
 * written to buf (cap bytes, the URL cut short to fit).  Returns buf;
 * errno is left as it was.
 */
const char *req_describe(const struct req *r, char *buf, size_t cap);
/* A size for that buffer: room for the client and a URL of 200 bytes. */
#define LOG_WHO_MAX 320

/*
 * The request a transient handler was started for: method, URL and
 * rest string from its last three arguments, the version from
 * HTTP_VERSION (default HTTP/1.1), headers from the REQ_* variables
 * (REQ_X_ASH_FILE -> X-ASH-FILE: names compare case-insensitively, and
 * '_' stands for '-').  NULL on ENOMEM.
 */
struct req *req_from_env(const char *method, const char *url, const char *rest);

/*
 * The request datagram (ashd(7)): method, URL, version, rest, then
 * name/value pairs, each string NUL-terminated, then one empty string.
 */
/* Append the datagram form of r to b. */
struct buf;
int req_encode(const struct req *r, struct buf *b);
/* Parse a datagram; NULL with errno EBADMSG if malformed, ENOMEM. */
struct req *req_decode(const char *data, size_t len);

/*
 * Send r with the response socket `fd` over the SOCK_SEQPACKET socket
 * `sock` (fd is not closed).  Blocking unless sock is non-blocking, in
 * which case -1/EAGAIN may be returned.  EMSGSIZE if the datagram would
 * exceed ASH_DGRAM_MAX.
 */
int req_send(int sock, const struct req *r, int fd);
/*
 * Receive one request.  Returns the request and stores the response
 * socket (close-on-exec) in *fdp.  Returns NULL with errno 0 at
 * end-of-file, or with errno set on error: EBADMSG for a malformed
 * datagram or one without exactly one fd (any fds received are closed),
 * EMSGSIZE for one over ASH_DGRAM_MAX, EAGAIN on a non-blocking socket,
 * ENOMEM if it could not be decoded for want of memory: then *fdp is
 * the response socket, for the caller to answer (503) and close.
 * It receives into one buffer of the process (not thread-safe).
 */
struct req *req_recv(int sock, int *fdp);
/*
 * The input loop of every persistent handler: receive up to `batch`
 * requests from the non-blocking socket `sock` and hand each to
 * fn(r, fd, arg), which takes both over.  Malformed datagrams are
 * logged and skipped; one that cannot be decoded for want of memory is
 * answered 503.  Returns 0 when the socket has nothing more for
 * now (or the batch is done), 1 at end-of-file, -1 with errno on an
 * error that will not go away (sock is not a request socket).
 */
int req_serve(int sock, int batch, void (*fn)(struct req *r, int fd, void *arg),
    void *arg);

#endif
