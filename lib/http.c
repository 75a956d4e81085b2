/*
 * http.c: HTTP/1.x heads: the strict request parser htparser uses, the
 * lenient-about-line-ends response parser handlers' output goes
 * through, and the small writers (error pages, dates).
 *
 * Parsers are pure: they look at (buf, len), allocate only the result,
 * and return 0 for "need more", the head length, or -status.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "ashlimits.h"
#include "req.h"
#include "url.h"

/* RFC 9110 5.6.2 tchar: ALPHA, DIGIT and "!#$%&'*+-.^_`|~", as a
 * bit per ASCII byte (bytes 0-63, 64-127). */
static const unsigned long long tchar_bits[2] = { 0x03ff6cfa00000000ULL,
	0x57ffffffc7fffffeULL };

static inline int
is_tchar(unsigned char c)
{
	return c < 128 && (tchar_bits[c >> 6] >> (c & 63)) & 1;
}

/* Field-value bytes: VCHAR, SP, HTAB, obs-text. */
static inline int
is_fvchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

void
http_limits_default(struct http_limits *l)
{
	l->hl_reqline = ASH_REQLINE_MAX;
	l->hl_head = ASH_HEAD_MAX;
	l->hl_headers = ASH_HEADERS_MAX;
}

/*
 * Find the next line in buf[pos..len): sets *eol to the index of its
 * terminating LF.  Returns 1 if found, 0 if more is needed, -400 on a
 * bare CR (a CR not directly followed by LF).
 */
static int
next_line(const char *buf, size_t len, size_t pos, size_t *eol)
{
	const char *lf, *cr;

	lf = memchr(buf + pos, '\n', len - pos);
	cr = memchr(buf + pos, '\r', (lf ? (size_t)(lf - buf) : len) - pos);
	if (cr != NULL) {
		if (cr + 1 == buf + len)
			return 0;
		if (cr[1] != '\n')
			return -400;
	}
	if (lf == NULL)
		return 0;
	*eol = (size_t)(lf - buf);
	return 1;
}

/* Is the field name a the name b, in any case?  The first bytes are
 * compared before strcasecmp(), which most names then never reach. */
static inline int
name_is(const char *a, const char *b)
{
	return (*a | 0x20) == (*b | 0x20) && !strcasecmp(a, b);
}

/* Length of the line ending at eol without its CR. */
static size_t
line_len(const char *buf, size_t start, size_t eol)
{
	size_t n = eol - start;

	if (n > 0 && buf[eol - 1] == '\r')
		n--;
	return n;
}

/*
 * Parse "HTTP/d.d": 0 for 1.0 and 1.1, 1 for a later 1.x (to be served
 * as 1.1, RFC 9110 2.5), -505 for another major version, -400 for
 * garbage.
 */
static int
parse_version(const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' ||
	    v[5] > '9' || v[7] < '0' || v[7] > '9')
		return -400;
	if (v[5] != '1')
		return -505;
	return v[7] > '1';
}

/* Bytes a request target may hold (RFC 3986 characters, '%' escapes). */
static int
is_targetchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && !strchr("\"#<>\\^`{|}", c);
}

/* An absolute-form target's authority must name a host, and no user. */
static int
check_authority(const char *t, size_t n)
{
	const char *a = memchr(t, ':', n) + 3, *e;

	e = a;
	while (e < t + n && *e != '/' && *e != '?')
		e++;
	if (e == a || memchr(a, '@', (size_t)(e - a)) != NULL)
		return -400;
	return 0;
}

/* The rest string of the request target t[0..tn): *rp, *rn. */
static void
target_rest(const char *t, size_t tn, const char **rp, size_t *rn)
{
	const char *e = t + tn, *q;

	*rp = t;
	*rn = 0;
	if (tn >= 7 &&
	    (!strncasecmp(t, "http://", 7) ||
		(tn >= 8 && !strncasecmp(t, "https://", 8)))) {
		t += t[4] == ':' ? 7 : 8;
		while (t < e && *t != '/' && *t != '?')
			t++;
		if (t == e || *t != '/')
			return;
	} else if (tn == 1 && *t == '*')
		return;
	/* The path without its leading "/" and without the query. */
	if (t < e && *t == '/')
		t++;
	q = memchr(t, '?', (size_t)(e - t));
	*rp = t;
	*rn = (size_t)((q ? q : e) - t);
}

/* The parts of a request line, as spans of it. */
struct reqline {
	const char *rl_m, *rl_t, *rl_v;
	size_t rl_mn, rl_tn;
};

/* Validate and split the request line into *rl (the version is
 * "HTTP/1.1" for a later 1.x); 0 or -status. */
static int
parse_reqline(const char *line, size_t n, struct reqline *rl)
{
	const char *sp1, *sp2;
	size_t i;
	int rv;

	if ((sp1 = memchr(line, ' ', n)) == NULL || sp1 == line)
		return -400;
	for (i = 0; line + i < sp1; i++)
		if (!is_tchar((unsigned char)line[i]))
			return -400;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line));
	if (sp2 == NULL || sp2 == sp1 + 1)
		return -400;
	for (i = (size_t)(sp1 + 1 - line); line + i < sp2; i++)
		if (!is_targetchar((unsigned char)line[i]))
			return -400;
	if ((rv = parse_version(sp2 + 1, n - (size_t)(sp2 + 1 - line))) < 0)
		return rv;
	if (sp1[1] != '/' &&
	    !(sp2 - sp1 == 2 && sp1[1] == '*' && sp1 - line == 7 &&
		!memcmp(line, "OPTIONS", 7))) {
		if (strncasecmp(sp1 + 1, "http://", 7) &&
		    strncasecmp(sp1 + 1, "https://", 8))
			return -400;
		if (check_authority(sp1 + 1, (size_t)(sp2 - sp1 - 1)) < 0)
			return -400;
	}
	rl->rl_m = line;
	rl->rl_mn = (size_t)(sp1 - line);
	rl->rl_t = sp1 + 1;
	rl->rl_tn = (size_t)(sp2 - sp1 - 1);
	rl->rl_v = rv == 1 ? "HTTP/1.1" : sp2 + 1;
	return 0;
}

/* Parse one header line into r; 0 or -status. */
static int
parse_header(struct req *r, const char *line, size_t n)
{
	const char *colon, *vs, *ve;
	size_t i;

	if (line[0] == ' ' || line[0] == '\t')
		return -400; /* obs-fold */
	if ((colon = memchr(line, ':', n)) == NULL || colon == line)
		return -400;
	for (i = 0; line + i < colon; i++)
		if (!is_tchar((unsigned char)line[i]))
			return -400; /* includes whitespace before ':' */
	vs = colon + 1;
	ve = line + n;
	for (i = 0; vs + i < ve; i++)
		if (!is_fvchar((unsigned char)vs[i]))
			return -400;
	while (vs < ve && (*vs == ' ' || *vs == '\t'))
		vs++;
	while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
		ve--;
	if (req_add_header_n(r, line, (size_t)(colon - line), vs,
		(size_t)(ve - vs)) == -1)
		return -500;
	return 0;
}

/* Room a parsed request's block keeps for the headers htparser adds
 * to every request (X-Ash-Address and five more), so that they cost
 * no allocation of their own. */
#define PARSE_SPARE_HDRS 8
#define PARSE_SPARE_TEXT 256

int
http_parse_request(const char *buf, size_t len, const struct http_limits *l,
    struct req **reqp)
{
	struct reqline rl;
	struct req *r = NULL;
	const char *rest;
	size_t pos = 0, eol, n, hstart, hend, nlines = 0, restn;
	int rv;

	*reqp = NULL;
	/* RFC 9112 2.2: ignore empty lines before the request line. */
	while (pos < len &&
	    (buf[pos] == '\n' ||
		(buf[pos] == '\r' && pos + 1 < len && buf[pos + 1] == '\n')))
		pos += buf[pos] == '\r' ? 2 : 1;
	if (pos > 64)
		return -400;
	if ((rv = next_line(buf, len, pos, &eol)) <= 0) {
		if (rv == 0 && len > pos &&
		    len - pos - (buf[len - 1] == '\r') > l->hl_reqline)
			return -414;
		return rv;
	}
	if ((n = line_len(buf, pos, eol)) > l->hl_reqline)
		return -414;
	hstart = eol + 1;
	/* The whole head must be there before anything is allocated. */
	{
		size_t p = hstart, e;

		for (;;) {
			if (p - pos > l->hl_head)
				return -431;
			if ((rv = next_line(buf, len, p, &e)) <= 0) {
				if (rv == 0 && len - pos > l->hl_head)
					return -431;
				return rv;
			}
			if (line_len(buf, p, e) == 0)
				break;
			nlines++;
			p = e + 1;
		}
		if (e + 1 - pos > l->hl_head)
			return -431;
		hend = e + 1;
	}
	if ((rv = parse_reqline(buf + pos, n, &rl)) < 0)
		return rv;
	target_rest(rl.rl_t, rl.rl_tn, &rest, &restn);
	/* One block: the request line's four strings, and each header
	 * line's name and value, NUL-terminated, in at most the line's
	 * length and its LF; then the room kept for later headers. */
	if (nlines > l->hl_headers)
		nlines = l->hl_headers;
	if ((r = req_block(nlines + PARSE_SPARE_HDRS,
		 rl.rl_mn + rl.rl_tn + restn + 12 + (hend - hstart) +
		     PARSE_SPARE_TEXT)) == NULL)
		return -500;
	r->r_method = req_block_str(r, rl.rl_m, rl.rl_mn);
	r->r_url = req_block_str(r, rl.rl_t, rl.rl_tn);
	r->r_version = req_block_str(r, rl.rl_v, 8);
	r->r_rest = req_block_str(r, rest, restn);
	rv = -500;
	if (!r->r_method || !r->r_url || !r->r_version || !r->r_rest)
		goto fail;
	for (pos = hstart;;) {
		next_line(buf, len, pos, &eol);
		if ((n = line_len(buf, pos, eol)) == 0)
			break;
		if (r->r_nhdrs >= l->hl_headers) {
			rv = -431;
			goto fail;
		}
		if ((rv = parse_header(r, buf + pos, n)) < 0)
			goto fail;
		pos = eol + 1;
	}
	*reqp = r;
	return (int)(eol + 1);
fail:
	req_free(r);
	return rv;
}

/* Iterate over the elements of a comma-separated list: *sp and *np get the
 * next trimmed element; returns 0 at the end. */
static int
list_next(const char **p, const char **sp, size_t *np)
{
	const char *s = *p, *e;

	if (*s == '\0')
		return 0;
	e = s + strcspn(s, ",");
	*p = *e ? e + 1 : e;
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*sp = s;
	*np = (size_t)(e - s);
	return 1;
}

int
http_list_has(const char *list, const char *token)
{
	const char *s;
	size_t n, tl = strlen(token);

	while (list_next(&list, &s, &n))
		if (n == tl && !strncasecmp(s, token, n))
			return 1;
	return 0;
}

/* Content-Length: every comma-separated element of every field must be
 * the same non-empty digit string (RFC 9110 8.6); 0 or -400. */
static int
framing_length(const struct req *r, long long *lenp)
{
	const char *p, *e, *s;
	long long v, seen = -1;
	size_t i, j, n;

	for (i = 0; i < r->r_nhdrs; i++) {
		if (!name_is(r->r_hdrs[i].h_name, "Content-Length"))
			continue;
		for (p = r->r_hdrs[i].h_value;; p = e + 1) {
			e = p + strcspn(p, ",");
			for (s = p; s < e && (*s == ' ' || *s == '\t'); s++)
				;
			for (n = (size_t)(e - s);
			     n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t');
			     n--)
				;
			if (n == 0 || n > 18)
				return -400;
			for (v = 0, j = 0; j < n; j++) {
				if (s[j] < '0' || s[j] > '9')
					return -400;
				v = v * 10 + (s[j] - '0');
			}
			if (seen >= 0 && v != seen)
				return -400;
			seen = v;
			if (*e == '\0')
				break;
		}
	}
	*lenp = seen;
	return 0;
}

int
http_coding(const struct header *h, size_t nh, int *chunked)
{
	const char *p, *s;
	size_t i, n, nchunked = 0, nother = 0;
	int any = 0, last_chunked = 0;

	for (i = 0; i < nh; i++) {
		if (!name_is(h[i].h_name, "Transfer-Encoding"))
			continue;
		any = 1;
		p = h[i].h_value;
		if (*p == '\0')
			return -400;
		while (list_next(&p, &s, &n)) {
			if (n == 0)
				continue; /* RFC 9110 5.6.1.2 */
			last_chunked = n == 7 && !strncasecmp(s, "chunked", 7);
			if (last_chunked)
				nchunked++;
			else
				nother++;
		}
	}
	*chunked = 0;
	if (!any)
		return 0;
	if (nchunked > 1)
		return -400;
	if (!last_chunked)
		return nother && last_chunked ? -501 : -400;
	if (nother)
		return -501;
	*chunked = 1;
	return 0;
}

int
http_host_valid(const char *h)
{
	const char *p = h;

	if (*p == '[') {
		for (p++; *p && *p != ']'; p++)
			if (!isxdigit((unsigned char)*p) && !strchr(":.vV", *p))
				return 0;
		if (*p++ != ']')
			return 0;
	} else {
		for (; *p && *p != ':'; p++)
			if (!isalnum((unsigned char)*p) &&
			    !strchr("-._~%!$&'()*+,;=", *p))
				return 0;
	}
	if (*p == ':')
		for (p++; *p; p++)
			if (!isdigit((unsigned char)*p))
				return 0;
	return *p == '\0';
}

int
http_req_framing(const struct req *r, struct http_framing *f)
{
	size_t i, nhost = 0;
	int http11 = !strcmp(r->r_version, "HTTP/1.1"), rv, close, keep;

	memset(f, 0, sizeof(*f));
	f->hf_length = -1;
	for (i = 0; i < r->r_nhdrs; i++)
		if (name_is(r->r_hdrs[i].h_name, "Host"))
			nhost++;
	if (nhost > 1 || (http11 && nhost == 0))
		return 400;
	if ((rv = http_coding(r->r_hdrs, r->r_nhdrs, &f->hf_chunked)) < 0)
		return -rv;
	if ((rv = framing_length(r, &f->hf_length)) < 0)
		return -rv;
	if (f->hf_chunked && (f->hf_length >= 0 || !http11))
		return 400;
	/* Repeated fields are one list (RFC 9110 5.3). */
	close = keep = 0;
	for (i = 0; i < r->r_nhdrs; i++) {
		const char *n = r->r_hdrs[i].h_name, *v = r->r_hdrs[i].h_value;

		if (name_is(n, "Connection")) {
			close |= http_list_has(v, "close");
			keep |= http_list_has(v, "keep-alive");
		} else if (name_is(n, "Expect")) {
			if (*v == '\0')
				continue; /* an empty list asks nothing */
			if (strcasecmp(v, "100-continue"))
				return 417;
			f->hf_expect = http11;
		} else if (name_is(n, "Host") && !http_host_valid(v))
			return 400;
	}
	f->hf_close = http11 ? close : !keep;
	return 0;
}

/* Response heads. */

static void
resp_add(struct http_resp *resp, char **text, const char *name, size_t nl,
    const char *value, size_t vl)
{
	struct header *h = &resp->hr_hdrs[resp->hr_nhdrs++];
	char *d = *text;

	h->h_name = d;
	memcpy(d, name, nl);
	d[nl] = '\0';
	d += nl + 1;
	h->h_value = d;
	memcpy(d, value, vl);
	d[vl] = '\0';
	*text = d + vl + 1;
}

/* Is p a string of resp's block? */
static int
resp_inblock(const struct http_resp *resp, const char *p)
{
	return p >= (const char *)resp->hr_hdrs && p < resp->hr_blkend;
}

/* The status line l[0..n): 0 with its reason phrase at *rp (*rn
 * bytes), or -1 if malformed. */
static int
resp_statusline(struct http_resp *resp, const char *l, size_t n,
    const char **rp, size_t *rn)
{
	const char *p;
	size_t i;

	if (n < 12 || strncmp(l, "HTTP/", 5))
		return -1;
	if ((p = memchr(l, ' ', n)) == NULL || (size_t)(p - l) + 4 > n)
		return -1;
	p++;
	for (i = 0; i < 3; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	resp->hr_status = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	if (resp->hr_status < 100 || resp->hr_status > 599)
		return -1;
	p += 3;
	if (p < l + n && *p != ' ')
		return -1;
	if (p < l + n)
		p++;
	for (i = 0; p + i < l + n; i++)
		if (!is_fvchar((unsigned char)p[i]))
			return -1;
	*rp = p;
	*rn = (size_t)(l + n - p);
	return 0;
}

/* A head of header lines (after a status line if `status`). */
static int
parse_head(const char *buf, size_t len, struct http_resp *resp, int status)
{
	const char *lf, *l, *colon, *vs, *ve, *reason;
	size_t pos = 0, n, i, nl = 0, rn;
	char *text;

	memset(resp, 0, sizeof(*resp));
	/* Find the end first: nothing is allocated for a partial head. */
	for (;;) {
		if ((lf = memchr(buf + pos, '\n', len - pos)) == NULL)
			return 0;
		n = (size_t)(lf - (buf + pos));
		if (n == 0 || (n == 1 && buf[pos] == '\r'))
			break;
		pos += n + 1;
		nl++;
	}
	if (pos == 0)
		goto bad;
	len = (size_t)(lf - buf) + 1;
	/* One block: the header array, then each line's strings,
	 * NUL-terminated, in at most the line's length and its LF. */
	if ((resp->hr_hdrs = malloc(nl * sizeof(struct header) + len)) == NULL)
		goto nomem;
	text = (char *)(resp->hr_hdrs + nl);
	resp->hr_blkend = text + len;
	for (pos = 0;; pos += n + 1) {
		l = buf + pos;
		lf = memchr(l, '\n', len - pos);
		n = (size_t)(lf - l);
		i = n && l[n - 1] == '\r' ? n - 1 : n;
		if (i == 0)
			break;
		if (memchr(l, '\r', i) || memchr(l, '\0', i))
			goto bad;
		if (pos == 0 && status) {
			if (resp_statusline(resp, l, i, &reason, &rn) == -1)
				goto bad;
			resp->hr_reason = text;
			memcpy(text, reason, rn);
			text[rn] = '\0';
			text += rn + 1;
			continue;
		}
		if ((colon = memchr(l, ':', i)) == NULL || colon == l)
			goto bad;
		for (vs = l; vs < colon; vs++)
			if (!is_tchar((unsigned char)*vs))
				goto bad;
		vs = colon + 1;
		ve = l + i;
		for (; vs < ve; vs++)
			if (!is_fvchar((unsigned char)*vs))
				goto bad;
		vs = colon + 1;
		while (vs < ve && (*vs == ' ' || *vs == '\t'))
			vs++;
		while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		resp_add(resp, &text, l, (size_t)(colon - l), vs,
		    (size_t)(ve - vs));
	}
	return (int)len;
nomem:
	http_resp_free(resp);
	errno = ENOMEM;
	return -1;
bad:
	http_resp_free(resp);
	errno = EBADMSG;
	return -1;
}

int
http_parse_response(const char *buf, size_t len, struct http_resp *resp)
{
	return parse_head(buf, len, resp, 1);
}

int
http_parse_fields(const char *buf, size_t len, struct http_resp *resp)
{
	return parse_head(buf, len, resp, 0);
}

void
http_resp_free(struct http_resp *resp)
{
	if (!resp_inblock(resp, resp->hr_reason))
		free(resp->hr_reason);
	free(resp->hr_hdrs);
	memset(resp, 0, sizeof(*resp));
}

const char *
http_resp_header(const struct http_resp *resp, const char *name)
{
	size_t i;

	for (i = 0; i < resp->hr_nhdrs; i++)
		if (name_is(resp->hr_hdrs[i].h_name, name))
			return resp->hr_hdrs[i].h_value;
	return NULL;
}

size_t
http_resp_remove(struct http_resp *resp, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < resp->hr_nhdrs;) {
		if (!name_is(resp->hr_hdrs[i].h_name, name)) {
			i++;
			continue;
		}
		memmove(&resp->hr_hdrs[i], &resp->hr_hdrs[i + 1],
		    (resp->hr_nhdrs - i - 1) * sizeof(resp->hr_hdrs[0]));
		resp->hr_nhdrs--;
		n++;
	}
	return n;
}

long long
http_resp_length(const struct http_resp *resp)
{
	long long v, seen = -2;
	const char *p;
	size_t i;

	for (i = 0; i < resp->hr_nhdrs; i++) {
		if (!name_is(resp->hr_hdrs[i].h_name, "Content-Length"))
			continue;
		p = resp->hr_hdrs[i].h_value;
		if (*p == '\0' || strlen(p) > 18)
			return -1;
		for (v = 0; *p; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v = v * 10 + (*p - '0');
		}
		if (seen != -2 && v != seen)
			return -1;
		seen = v;
	}
	return seen;
}

const char *
http_reason(int status)
{
	static const struct {
		int code;
		const char *text;
	} reasons[] = {
		{ 100, "Continue" },
		{ 101, "Switching Protocols" },
		{ 200, "OK" },
		{ 201, "Created" },
		{ 202, "Accepted" },
		{ 203, "Non-Authoritative Information" },
		{ 204, "No Content" },
		{ 205, "Reset Content" },
		{ 206, "Partial Content" },
		{ 300, "Multiple Choices" },
		{ 301, "Moved Permanently" },
		{ 302, "Found" },
		{ 303, "See Other" },
		{ 304, "Not Modified" },
		{ 307, "Temporary Redirect" },
		{ 308, "Permanent Redirect" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" },
		{ 408, "Request Timeout" },
		{ 409, "Conflict" },
		{ 410, "Gone" },
		{ 411, "Length Required" },
		{ 412, "Precondition Failed" },
		{ 413, "Content Too Large" },
		{ 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 416, "Range Not Satisfiable" },
		{ 417, "Expectation Failed" },
		{ 421, "Misdirected Request" },
		{ 426, "Upgrade Required" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 502, "Bad Gateway" },
		{ 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" },
	};
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == status)
			return reasons[i].text;
	return "Unknown";
}

void
http_date(char *out, size_t cap, long long t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

long long
http_parse_date(const char *s)
{
	static const char *fmts[] = {
		"%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850 */
		"%a %b %e %H:%M:%S %Y",	     /* asctime */
	};
	struct tm tm;
	const char *e;
	size_t i;

	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		if ((e = strptime(s, fmts[i], &tm)) != NULL && *e == '\0')
			return (long long)timegm(&tm);
	}
	return -1;
}
