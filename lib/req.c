/*
 * req.c: the request head, and its datagram form (ashd(7)).
 *
 * Invariants: every string field is non-NULL and owned: either an
 * allocation of its own or a part of the request's block [r_blk,
 * r_blkend) (a decoded request: the struct, then its header array, then
 * the datagram's strings), which only req_free() releases, with the
 * struct.  r_hdrs has r_hcap slots of which r_nhdrs are used, in the
 * order received.  On any allocation failure the request is left
 * unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "fdpass.h"
#include "log.h"
#include "ashlimits.h"
#include <stdint.h>

#include "http.h"
#include "req.h"

/* Headers a decoded request has room for beyond its own, so that a
 * handler adding one or two (X-Ash-File) allocates nothing more. */
#define REQ_SPARE_HDRS 4
/* And bytes of room for their strings, or a new rest string. */
#define REQ_SPARE_TEXT 128

/* Was p allocated on its own (not a part of r's block)? */
static int
req_ownalloc(const struct req *r, const void *p)
{
	uintptr_t a = (uintptr_t)p;

	return a < (uintptr_t)r->r_blk || a >= (uintptr_t)r->r_blkend;
}

static void
req_free_str(const struct req *r, char *s)
{
	if (req_ownalloc(r, s))
		free(s);
}

/* Might the header names a and b be equal, ignoring case?  A cheap
 * test of the first byte before strcasecmp(): exact for letters, and
 * never false when they are equal. */
static inline int
hdr_maybe(const char *a, const char *b)
{
	return (*a | 0x20) == (*b | 0x20);
}

static int
hdr_is(const char *a, const char *b)
{
	return hdr_maybe(a, b) && !strcasecmp(a, b);
}

struct req *
req_new(const char *method, const char *url, const char *version,
    const char *rest)
{
	struct req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->r_method = strdup(method);
	r->r_url = strdup(url);
	r->r_version = strdup(version);
	r->r_rest = strdup(rest);
	if (!r->r_method || !r->r_url || !r->r_version || !r->r_rest) {
		req_free(r);
		errno = ENOMEM;
		return NULL;
	}
	return r;
}

struct req *
req_dup(const struct req *o)
{
	struct req *r;
	size_t i;

	if ((r = req_new(o->r_method, o->r_url, o->r_version, o->r_rest)) ==
	    NULL)
		return NULL;
	for (i = 0; i < o->r_nhdrs; i++) {
		if (req_add_header(r, o->r_hdrs[i].h_name,
			o->r_hdrs[i].h_value) == -1) {
			req_free(r);
			return NULL;
		}
	}
	return r;
}

void
req_free(struct req *r)
{
	size_t i;

	if (r == NULL)
		return;
	req_free_str(r, r->r_method);
	req_free_str(r, r->r_url);
	req_free_str(r, r->r_version);
	req_free_str(r, r->r_rest);
	for (i = 0; i < r->r_nhdrs; i++) {
		req_free_str(r, r->r_hdrs[i].h_name);
		req_free_str(r, r->r_hdrs[i].h_value);
	}
	if (req_ownalloc(r, r->r_hdrs))
		free(r->r_hdrs);
	free(r);
}

const char *
req_header(const struct req *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->r_nhdrs; i++)
		if (hdr_is(r->r_hdrs[i].h_name, name))
			return r->r_hdrs[i].h_value;
	return NULL;
}

const char *
req_describe(const struct req *r, char *buf, size_t cap)
{
	const char *a = req_header(r, "X-Ash-Address");
	const char *p = req_header(r, "X-Ash-Port");
	int e = errno, v6 = a && strchr(a, ':') && strncmp(a, "unix:", 5);

	if (a && p && strncmp(a, "unix:", 5))
		snprintf(buf, cap, "%s%s%s:%s %s %s", v6 ? "[" : "", a,
		    v6 ? "]" : "", p, r->r_method, r->r_url);
	else if (a)
		snprintf(buf, cap, "%s %s %s", a, r->r_method, r->r_url);
	else
		snprintf(buf, cap, "%s %s", r->r_method, r->r_url);
	errno = e;
	return buf;
}

struct req *
req_block(size_t nh, size_t text)
{
	struct req *r;

	if (text > SIZE_MAX - sizeof(*r) ||
	    nh > (SIZE_MAX - sizeof(*r) - text) / sizeof(struct header)) {
		errno = ENOMEM;
		return NULL;
	}
	if ((r = malloc(sizeof(*r) + nh * sizeof(struct header) + text)) ==
	    NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	r->r_hdrs = (struct header *)(r + 1);
	r->r_hcap = nh;
	r->r_blkfree = (char *)(r->r_hdrs + nh);
	r->r_blk = (const char *)r;
	r->r_blkend = r->r_blkfree + text;
	return r;
}

char *
req_block_str(struct req *r, const char *s, size_t n)
{
	char *d = r->r_blkfree;

	if (d == NULL || (size_t)(r->r_blkend - d) <= n)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	r->r_blkfree = d + n + 1;
	return d;
}

int
req_add_header(struct req *r, const char *name, const char *value)
{
	return req_add_header_n(r, name, strlen(name), value, strlen(value));
}

int
req_add_header_n(struct req *r, const char *name, size_t nl, const char *value,
    size_t vl)
{
	struct header *n;
	char *hn, *hv;
	size_t ncap;

	if (r->r_nhdrs == r->r_hcap) {
		ncap = r->r_hcap ? r->r_hcap * 2 : 16;
		if (ncap > SIZE_MAX / sizeof(*n))
			n = NULL;
		else if (req_ownalloc(r, r->r_hdrs))
			n = realloc(r->r_hdrs, ncap * sizeof(*n));
		else if ((n = malloc(ncap * sizeof(*n))) != NULL)
			memcpy(n, r->r_hdrs, r->r_nhdrs * sizeof(*n));
		if (n == NULL) {
			errno = ENOMEM;
			return -1;
		}
		r->r_hdrs = n;
		r->r_hcap = ncap;
	}
	/* In the block's room while they fit (both, or neither: a
	 * header's two strings are dropped together). */
	if (r->r_blkfree != NULL &&
	    (size_t)(r->r_blkend - r->r_blkfree) >= nl + vl + 2) {
		hn = req_block_str(r, name, nl);
		hv = req_block_str(r, value, vl);
	} else {
		hn = strndup(name, nl);
		hv = strndup(value, vl);
		if (hn == NULL || hv == NULL) {
			free(hn);
			free(hv);
			errno = ENOMEM;
			return -1;
		}
	}
	r->r_hdrs[r->r_nhdrs].h_name = hn;
	r->r_hdrs[r->r_nhdrs].h_value = hv;
	r->r_nhdrs++;
	return 0;
}

static void
req_drop(struct req *r, size_t i)
{
	req_free_str(r, r->r_hdrs[i].h_name);
	req_free_str(r, r->r_hdrs[i].h_value);
	memmove(&r->r_hdrs[i], &r->r_hdrs[i + 1],
	    (r->r_nhdrs - i - 1) * sizeof(r->r_hdrs[0]));
	r->r_nhdrs--;
}

int
req_set_header(struct req *r, const char *name, const char *value)
{
	size_t i;
	char *v;

	for (i = 0; i < r->r_nhdrs; i++)
		if (hdr_is(r->r_hdrs[i].h_name, name))
			break;
	if (i == r->r_nhdrs)
		return req_add_header(r, name, value);
	if ((v = strdup(value)) == NULL)
		return -1;
	req_free_str(r, r->r_hdrs[i].h_value);
	r->r_hdrs[i].h_value = v;
	for (i++; i < r->r_nhdrs;) {
		if (hdr_is(r->r_hdrs[i].h_name, name))
			req_drop(r, i);
		else
			i++;
	}
	return 0;
}

size_t
req_remove_header(struct req *r, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < r->r_nhdrs;) {
		if (hdr_is(r->r_hdrs[i].h_name, name)) {
			req_drop(r, i);
			n++;
		} else
			i++;
	}
	return n;
}

size_t
req_remove_prefix(struct req *r, const char *prefix)
{
	size_t i, n = 0, pl = strlen(prefix);

	for (i = 0; i < r->r_nhdrs;) {
		if ((pl == 0 || hdr_maybe(r->r_hdrs[i].h_name, prefix)) &&
		    !strncasecmp(r->r_hdrs[i].h_name, prefix, pl)) {
			req_drop(r, i);
			n++;
		} else
			i++;
	}
	return n;
}

int
req_set_rest(struct req *r, const char *rest)
{
	size_t n = strlen(rest);
	char *d;

	if ((d = req_block_str(r, rest, n)) == NULL &&
	    (d = strdup(rest)) == NULL)
		return -1;
	req_free_str(r, r->r_rest);
	r->r_rest = d;
	return 0;
}

int
req_encode(const struct req *r, struct buf *b)
{
	size_t i, need;
	char *p;

	/* The size first: one allocation, not a doubling per few
	 * strings (this runs for every request at every hop). */
	need = strlen(r->r_method) + strlen(r->r_url) + strlen(r->r_version) +
	    strlen(r->r_rest) + 5;
	for (i = 0; i < r->r_nhdrs; i++)
		need += strlen(r->r_hdrs[i].h_name) +
		    strlen(r->r_hdrs[i].h_value) + 2;
	if (buf_reserve(b, need) == -1)
		return -1;
	p = b->b_data + b->b_len;
	p = stpcpy(p, r->r_method) + 1;
	p = stpcpy(p, r->r_url) + 1;
	p = stpcpy(p, r->r_version) + 1;
	p = stpcpy(p, r->r_rest) + 1;
	for (i = 0; i < r->r_nhdrs; i++) {
		p = stpcpy(p, r->r_hdrs[i].h_name) + 1;
		p = stpcpy(p, r->r_hdrs[i].h_value) + 1;
	}
	*p = '\0';
	b->b_len += need;
	b->b_data[b->b_len] = '\0';
	return 0;
}

/* Next NUL-terminated string at *pos, or NULL if none is complete. */
static const char *
dgram_str(const char *data, size_t len, size_t *pos)
{
	const char *s, *e;

	if (*pos >= len)
		return NULL;
	s = data + *pos;
	if ((e = memchr(s, '\0', len - *pos)) == NULL)
		return NULL;
	*pos += (size_t)(e - s) + 1;
	return s;
}

/*
 * Check a datagram and count its headers: 0 and *nhp, or -1 if it is
 * malformed (a string without its NUL, an empty method, a name without
 * a value, bytes after the final empty string).
 */
static int
dgram_check(const char *data, size_t len, size_t *nhp)
{
	const char *m, *n;
	size_t pos = 0, i, nh = 0;

	m = dgram_str(data, len, &pos);
	for (i = 0; i < 3; i++)
		if (dgram_str(data, len, &pos) == NULL)
			return -1;
	if (m == NULL || *m == '\0')
		return -1;
	for (;;) {
		if ((n = dgram_str(data, len, &pos)) == NULL)
			return -1;
		if (*n == '\0')
			break;
		if (dgram_str(data, len, &pos) == NULL)
			return -1;
		nh++;
	}
	if (pos != len)
		return -1;
	*nhp = nh;
	return 0;
}

struct req *
req_decode(const char *data, size_t len)
{
	struct req *r;
	char *d, *p;
	size_t nh, cap, i;

	if (dgram_check(data, len, &nh) == -1) {
		errno = EBADMSG;
		return NULL;
	}
	/* One block: the struct, the header array, the strings.  The
	 * sizes are bounded by ASH_DGRAM_MAX (a string is at least its
	 * NUL, so nh < len). */
	cap = nh + REQ_SPARE_HDRS;
	if ((r = req_block(cap, len + REQ_SPARE_TEXT)) == NULL)
		return NULL;
	d = r->r_blkfree;
	memcpy(d, data, len);
	r->r_blkfree = d + len;
	r->r_nhdrs = nh;
	/* Checked above: every string is there and NUL-terminated. */
	p = d;
	r->r_method = p;
	p += strlen(p) + 1;
	r->r_url = p;
	p += strlen(p) + 1;
	r->r_version = p;
	p += strlen(p) + 1;
	r->r_rest = p;
	p += strlen(p) + 1;
	for (i = 0; i < nh; i++) {
		r->r_hdrs[i].h_name = p;
		p += strlen(p) + 1;
		r->r_hdrs[i].h_value = p;
		p += strlen(p) + 1;
	}
	return r;
}

int
req_send(int sock, const struct req *r, int fd)
{
	/* One buffer for the process, kept between calls (a datagram is
	 * sent before the next is encoded); let go of when a large one
	 * made it grow. */
	static struct buf b = { NULL, 0, 0, ASH_DGRAM_MAX };
	ssize_t n;

	b.b_len = 0;
	n = req_encode(r, &b) == -1 ? -1 : fd_send(sock, b.b_data, b.b_len, fd);
	if (b.b_cap > 16 * 1024)
		buf_free(&b);
	return n < 0 ? -1 : 0;
}

struct req *
req_recv(int sock, int *fdp)
{
	/* One receive buffer for the process, allocated on first use: a
	 * datagram is decoded into its own strings before the next call. */
	static char *data;
	struct req *r;
	ssize_t got;
	int fd = -1, err;

	*fdp = -1;
	if (data == NULL && (data = malloc(ASH_DGRAM_MAX)) == NULL)
		return NULL;
	if ((got = fd_recv(sock, data, ASH_DGRAM_MAX, &fd)) < 0)
		return NULL; /* EMSGSIZE, EBADMSG: fds already closed */
	if (got == 0) {
		errno = 0;
		return NULL;
	}
	if ((r = req_decode(data, (size_t)got)) == NULL) {
		err = errno;
		if (err == ENOMEM)
			*fdp = fd; /* for the caller to answer 503 */
		else
			close(fd);
		errno = err;
		return NULL;
	}
	*fdp = fd;
	return r;
}

int
req_serve(int sock, int batch, void (*fn)(struct req *, int, void *), void *arg)
{
	struct req *r;
	int fd, i;

	for (i = 0; i < batch; i++) {
		if ((r = req_recv(sock, &fd)) == NULL) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			if (errno == EBADMSG || errno == EMSGSIZE) {
				log_errno(LOG_WARNING, "bad request datagram");
				continue;
			}
			if (errno == ENOMEM && fd >= 0) {
				/* That request fails, not the handler. */
				http_error(fd, 503, "Out of memory.");
				close(fd);
				continue;
			}
			return errno != 0 ? -1 : 1;
		}
		fn(r, fd, arg);
	}
	return 0;
}

struct req *
req_from_env(const char *method, const char *url, const char *rest)
{
	extern char **environ;
	const char *v, *eq;
	struct req *r;
	char **e, *name, *p;

	v = getenv("HTTP_VERSION");
	if ((r = req_new(method, url, v ? v : "HTTP/1.1", rest)) == NULL)
		return NULL;
	for (e = environ; *e; e++) {
		if (strncmp(*e, "REQ_", 4) || (eq = strchr(*e, '=')) == NULL)
			continue;
		if ((name = strndup(*e + 4, (size_t)(eq - *e - 4))) == NULL)
			goto fail;
		for (p = name; *p; p++)
			if (*p == '_')
				*p = '-';
		if (req_add_header(r, name, eq + 1) == -1) {
			free(name);
			goto fail;
		}
		free(name);
	}
	return r;
fail:
	req_free(r);
	errno = ENOMEM;
	return NULL;
}
