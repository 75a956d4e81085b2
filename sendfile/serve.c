/*
 * serve.c: the response plan for a file: method check, file lookup,
 * content type, precompressed siblings, validators, conditional
 * requests (RFC 9110 13.2.2 order) and single byte ranges.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ashlimits.h"
#include "fcache.h"
#include "http.h"
#include "log.h"
#include "mime.h"
#include "req.h"
#include "serve.h"

void
reply_free(struct reply *rp)
{
	buf_free(&rp->rp_head);
	if (rp->rp_fd >= 0)
		close(rp->rp_fd);
	rp->rp_fd = -1;
}

static int
plan_error(struct reply *rp, int status, const char *msg, const char *extra)
{
	rp->rp_status = status;
	buf_clear(&rp->rp_head);
	if (rp->rp_fd >= 0)
		close(rp->rp_fd);
	rp->rp_fd = -1;
	rp->rp_len = 0;
	return http_error_format(&rp->rp_head, status, msg, extra);
}

/* q-value of `coding` in an Accept-Encoding value (0 if absent). */
static int
accepts(const char *ae, const char *coding)
{
	const char *p = ae, *e, *q;
	size_t n, cl = strlen(coding);

	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		e = p + strcspn(p, ",");
		n = strcspn(p, " \t;,");
		if (n == cl && !strncasecmp(p, coding, cl)) {
			q = memchr(p, ';', (size_t)(e - p));
			if (q == NULL)
				return 1;
			while (*++q == ' ')
				;
			if (strncasecmp(q, "q=", 2))
				return 1;
			return strtod(q + 2, NULL) > 0;
		}
		p = *e ? e + 1 : e;
	}
	return 0;
}

int
etag_match(const char *list, const char *etag, int weak)
{
	const char *p = list, *s, *e;
	size_t n;

	if (!strcmp(list, "*"))
		return 1;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		s = p;
		if (!strncmp(s, "W/", 2)) {
			if (!weak) {
				p = s + 2 + strcspn(s + 2, ",");
				continue;
			}
			s += 2;
		}
		e = s + strcspn(s, ",");
		n = (size_t)(e - s);
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == strlen(etag) && !memcmp(s, etag, n))
			return 1;
		p = e;
	}
	return 0;
}

/* Parse a decimal off_t; -1 if not all digits or too large. */
static off_t
parse_off(const char *s, size_t n)
{
	off_t v = 0;
	size_t i;

	if (n == 0 || n > 18)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
range_parse(const char *v, off_t size, off_t *off, off_t *len)
{
	const char *dash;
	off_t a, b;

	if (strncasecmp(v, "bytes=", 6))
		return 0;
	v += 6;
	while (*v == ' ')
		v++;
	if (strchr(v, ',') || (dash = strchr(v, '-')) == NULL)
		return 0;
	if (dash == v) {
		if ((b = parse_off(dash + 1, strlen(dash + 1))) < 0)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*len = b > size ? size : b;
		*off = size - *len;
		return 1;
	}
	if ((a = parse_off(v, (size_t)(dash - v))) < 0)
		return 0;
	if (dash[1] == '\0')
		b = size - 1;
	else if ((b = parse_off(dash + 1, strlen(dash + 1))) < 0 || b < a)
		return 0;
	if (a >= size)
		return -1;
	if (b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

/*
 * Which precompressed siblings a file has (bit i for sibs[i]), looked
 * up at most once a second per file: a direct-mapped cache keyed by the
 * path (ASH_SENDFILE_SIBCACHE entries) saves two stat(2) calls on most
 * requests.
 */
static const struct {
	const char *suffix, *coding;
} sibs[] = { { ".br", "br" }, { ".gz", "gzip" } };

static unsigned
siblings(const char *path)
{
	static struct {
		char *path;
		time_t checked;
		unsigned have;
	} cache[ASH_SENDFILE_SIBCACHE];
	char alt[PATH_MAX];
	struct stat ast;
	unsigned h = 2166136261u, have = 0;
	time_t now = time(NULL);
	const char *p;
	size_t i;

	for (p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h %= ASH_SENDFILE_SIBCACHE;
	if (cache[h].path && cache[h].checked == now &&
	    !strcmp(cache[h].path, path))
		return cache[h].have;
	for (i = 0; i < sizeof(sibs) / sizeof(sibs[0]); i++)
		if ((size_t)snprintf(alt, sizeof(alt), "%s%s", path,
			sibs[i].suffix) < sizeof(alt) &&
		    stat(alt, &ast) == 0 && S_ISREG(ast.st_mode))
			have |= 1u << i;
	if (cache[h].path == NULL || strcmp(cache[h].path, path)) {
		free(cache[h].path);
		cache[h].path = strdup(path);
	}
	cache[h].checked = now;
	cache[h].have = have;
	return have;
}

/* Open a precompressed sibling if the client takes it. */
static int
pick_encoding(const struct req *r, const char *path, struct stat *st, int *fd,
    const char **enc, int *vary)
{
	const char *ae = req_header(r, "Accept-Encoding");
	unsigned have = siblings(path);
	char alt[PATH_MAX];
	struct stat ast;
	size_t i;
	int afd;

	for (i = 0; i < sizeof(sibs) / sizeof(sibs[0]); i++) {
		if (!(have & (1u << i)))
			continue;
		*vary = 1;
		if ((size_t)snprintf(alt, sizeof(alt), "%s%s", path,
			sibs[i].suffix) >= sizeof(alt))
			continue;
		if (*enc || ae == NULL || !accepts(ae, sibs[i].coding))
			continue;
		if ((afd = open(alt, O_RDONLY | O_CLOEXEC)) == -1 ||
		    fstat(afd, &ast) == -1) {
			if (afd >= 0)
				close(afd);
			continue;
		}
		close(*fd);
		*fd = afd;
		*st = ast;
		*enc = sibs[i].coding;
	}
	return 0;
}

/* 0 go on, or the status the conditional headers decide (304/412). */
static int
conditional(const struct req *r, const char *etag, time_t mtime)
{
	const char *v;
	long long d;

	if ((v = req_header(r, "If-Match")) != NULL) {
		if (!etag_match(v, etag, 0))
			return 412;
	} else if ((v = req_header(r, "If-Unmodified-Since")) != NULL &&
	    (d = http_parse_date(v)) >= 0 && mtime > d)
		return 412;
	if ((v = req_header(r, "If-None-Match")) != NULL) {
		if (etag_match(v, etag, 1))
			return 304;
	} else if ((v = req_header(r, "If-Modified-Since")) != NULL &&
	    (d = http_parse_date(v)) >= 0 && mtime <= d)
		return 304;
	return 0;
}

/* Should a Range header be honoured, given If-Range? */
static int
if_range_ok(const struct req *r, const char *etag, const char *lastmod)
{
	const char *v = req_header(r, "If-Range");

	if (v == NULL)
		return 1;
	if (*v == '"')
		return !strcmp(v, etag);
	return !strcmp(v, lastmod);
}

/* The method checked and the file opened into rp->rp_fd (*pathp, *st):
 * 1, or else serve_plan()'s result with an error planned. */
static int
plan_open(const struct req *r, const struct sfopts *o, struct reply *rp,
    const char **pathp, struct stat *st)
{
	const char *path;
	int fd, err;

	if (strcmp(r->r_method, "HEAD") && strcmp(r->r_method, "GET"))
		return plan_error(rp, 405, "Only GET and HEAD are allowed.",
		    "Allow: GET, HEAD\r\n");
	if ((path = o->so_file) == NULL) {
		if ((path = req_header(r, "X-Ash-File")) == NULL) {
			log_msg(LOG_ERR, "no X-Ash-File header and no -f");
			return plan_error(rp, 500, "No file to send.", NULL);
		}
		if (*r->r_rest)
			return plan_error(rp, 404, "Not found.", NULL);
	}
	/* O_NONBLOCK: a fifo put in the file's place must not stall. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1 ||
	    fstat(fd, st) == -1) {
		err = errno;
		if (fd >= 0)
			close(fd);
		if (err != ENOENT && err != ENOTDIR)
			log_msg(LOG_WARNING, "%s: %s", path, strerror(err));
		return plan_error(rp, err == EACCES ? 403 : 404,
		    err == EACCES ? "Forbidden." : "Not found.", NULL);
	}
	rp->rp_fd = fd;
	if (!S_ISREG(st->st_mode))
		return plan_error(rp, 404, "Not found.", NULL);
	*pathp = path;
	return 1;
}

void
file_etag(char *out, size_t cap, const struct stat *st, const char *enc)
{
	snprintf(out, cap, "\"%" PRIxMAX "-%" PRIxMAX "-%lx%s%s\"",
	    (uintmax_t)st->st_size, (uintmax_t)st->st_mtime,
	    (unsigned long)st->st_mtim.tv_nsec, enc ? "-" : "", enc ? enc : "");
}

int
plan_head(struct buf *b, int status, const char *ctype, off_t len,
    const char *lastmod, const char *etag)
{
	return buf_printf(b,
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %" PRIdMAX "\r\nLast-Modified: %s\r\n"
	    "ETag: %s\r\nAccept-Ranges: bytes\r\n",
	    status, http_reason(status), ctype, (intmax_t)len, lastmod, etag);
}

/*
 * The headers serve_cached() looks at, found in one pass over the
 * request's headers instead of a walk per name.  Any conditional header
 * sets sh_cond: conditional() then reads them as serve_plan() does.
 */
struct sfhdrs {
	const char *sh_file;  /* X-Ash-File */
	const char *sh_ctype; /* X-Ash-Content-Type */
	int sh_range;	      /* Range */
	int sh_cond;	      /* If-* */
};

static void
pick_headers(const struct req *r, struct sfhdrs *h)
{
	const char *n;
	size_t i;

	memset(h, 0, sizeof(*h));
	for (i = 0; i < r->r_nhdrs; i++) {
		n = r->r_hdrs[i].h_name;
		switch (*n | 0x20) {
		case 'x':
			if (h->sh_file == NULL && !strcasecmp(n, "X-Ash-File"))
				h->sh_file = r->r_hdrs[i].h_value;
			else if (h->sh_ctype == NULL &&
			    !strcasecmp(n, "X-Ash-Content-Type"))
				h->sh_ctype = r->r_hdrs[i].h_value;
			break;
		case 'r':
			h->sh_range |= !strcasecmp(n, "Range");
			break;
		case 'i':
			h->sh_cond |= !strncasecmp(n, "If-", 3);
			break;
		}
	}
}

int
serve_cached(const struct req *r, const struct sfopts *o, const char **datap,
    size_t *lenp)
{
	const struct fcent *e;
	const char *path, *ctype;
	struct sfhdrs h;
	struct stat st;
	int head;

	if (!(head = !strcmp(r->r_method, "HEAD")) &&
	    strcmp(r->r_method, "GET"))
		return 0;
	pick_headers(r, &h);
	if ((path = o->so_file) == NULL &&
	    ((path = h.sh_file) == NULL || *r->r_rest))
		return 0;
	/* A range, or a sibling to choose between: serve_plan() does it. */
	if ((h.sh_range && !head) || siblings(path) != 0)
		return 0;
	ctype = o->so_ctype ? o->so_ctype : h.sh_ctype;
	if (stat(path, &st) == -1 || (e = fcache_get(path, ctype, &st)) == NULL)
		return 0;
	if (h.sh_cond && conditional(r, e->fc_etag, e->fc_mtim.tv_sec) != 0)
		return 0;
	*datap = e->fc_resp.b_data;
	*lenp = head ? e->fc_headlen : e->fc_resp.b_len;
	return 1;
}

int
serve_plan(const struct req *r, const struct sfopts *o, struct reply *rp)
{
	const char *path = NULL, *ctype, *enc = NULL, *rv;
	char etag[96], lastmod[64], extra[128];
	struct stat st;
	int vary = 0, head, cond, ranged = 0, rv_open;
	off_t off = 0, len;

	buf_init(&rp->rp_head, 0);
	rp->rp_fd = -1;
	rp->rp_off = rp->rp_len = 0;
	head = !strcmp(r->r_method, "HEAD");
	if ((rv_open = plan_open(r, o, rp, &path, &st)) != 1)
		return rv_open;
	ctype = o->so_ctype				 ? o->so_ctype
	    : (rv = req_header(r, "X-Ash-Content-Type")) ? rv
							 : mime_type(path);
	pick_encoding(r, path, &st, &rp->rp_fd, &enc, &vary);
	file_etag(etag, sizeof(etag), &st, enc);
	http_date(lastmod, sizeof(lastmod), (long long)st.st_mtime);
	len = st.st_size;
	if ((cond = conditional(r, etag, st.st_mtime)) == 412)
		return plan_error(rp, 412, "Precondition failed.", NULL);
	if (cond == 304) {
		close(rp->rp_fd);
		rp->rp_fd = -1;
		rp->rp_status = 304;
		return buf_printf(&rp->rp_head,
		    "HTTP/1.1 304 Not Modified\r\n"
		    "ETag: %s\r\nLast-Modified: %s\r\n%s\r\n",
		    etag, lastmod, vary ? "Vary: Accept-Encoding\r\n" : "");
	}
	if ((rv = req_header(r, "Range")) != NULL && !head &&
	    if_range_ok(r, etag, lastmod)) {
		ranged = range_parse(rv, st.st_size, &off, &len);
		if (ranged < 0) {
			snprintf(extra, sizeof(extra),
			    "Content-Range: bytes "
			    "*/%" PRIdMAX "\r\n",
			    (intmax_t)st.st_size);
			return plan_error(rp, 416, "Range not satisfiable.",
			    extra);
		}
	}
	rp->rp_status = ranged ? 206 : 200;
	rp->rp_off = off;
	rp->rp_len = head ? 0 : len;
	if (plan_head(&rp->rp_head, rp->rp_status, ctype, len, lastmod, etag) ==
	    -1)
		return -1;
	if (enc &&
	    buf_printf(&rp->rp_head, "Content-Encoding: %s\r\n", enc) == -1)
		return -1;
	if (vary &&
	    buf_appends(&rp->rp_head, "Vary: Accept-Encoding\r\n") == -1)
		return -1;
	if (ranged &&
	    buf_printf(&rp->rp_head,
		"Content-Range: bytes %" PRIdMAX "-%" PRIdMAX "/%" PRIdMAX
		"\r\n",
		(intmax_t)off, (intmax_t)(off + len - 1),
		(intmax_t)st.st_size) == -1)
		return -1;
	if (buf_appends(&rp->rp_head, "\r\n") == -1)
		return -1;
	if (rp->rp_len == 0) {
		close(rp->rp_fd);
		rp->rp_fd = -1;
	}
	return 0;
}

int
reply_inline(struct reply *rp, size_t max)
{
	ssize_t n;
	size_t len = (size_t)rp->rp_len;

	if (rp->rp_fd < 0 || rp->rp_len <= 0 || len > max)
		return 0;
	if (buf_reserve(&rp->rp_head, len) == -1)
		return -1;
	n = pread(rp->rp_fd, rp->rp_head.b_data + rp->rp_head.b_len, len,
	    rp->rp_off);
	if (n != (ssize_t)len)
		return n < 0 ? -1 : 0; /* changed under us: sendfile it */
	rp->rp_head.b_len += len;
	rp->rp_head.b_data[rp->rp_head.b_len] = '\0';
	close(rp->rp_fd);
	rp->rp_fd = -1;
	rp->rp_len = 0;
	return 1;
}
