/*
 * request.c: htparser's request side: parsing a request head, adding
 * the X-Ash-* headers, handing the request to root.c, and moving the
 * body from the client to the handler, de-chunked and bounded (see
 * conn.c for the states).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "conn.h"
#include "http.h"
#include "ashlimits.h"
#include "log.h"
#include "req.h"
#include "url.h"

/* Request heads. */

/* Add the X-Ash-* headers describing this connection.  Their values
 * are the same for every request of the connection: they are formatted
 * once, at its first request, into c_ashv, NUL after each, in the
 * order of names[]. */
static int
add_ash_headers(struct conn *c, struct req *r)
{
	static const char *names[] = { "X-Ash-Address", "X-Ash-Port",
		"X-Ash-Server-Address", "X-Ash-Server-Port", "X-Ash-Protocol",
		"X-Ash-Connection-ID" };
	static const char fmt[] = "%s%c%u%c%s%c%u%c%s%c%llu";
	char host[sizeof(c->c_peer.sun.sun_path) + 8];
	char shost[sizeof(c->c_peer.sun.sun_path) + 8];
	const char *proto = c->c_https ? "https" : "http";
	const char *v;
	unsigned port, sport;
	size_t i;
	int n;

	req_remove_prefix(r, "X-Ash-");
	if (c->c_ashv == NULL) {
		conn_addr_str(&c->c_peer, host, sizeof(host), &port);
		conn_addr_str(&c->c_local, shost, sizeof(shost), &sport);
		n = snprintf(NULL, 0, fmt, host, 0, port, 0, shost, 0, sport, 0,
		    proto, 0, c->c_id);
		if (n < 0 || (c->c_ashv = malloc((size_t)n + 1)) == NULL)
			return -1;
		snprintf(c->c_ashv, (size_t)n + 1, fmt, host, 0, port, 0, shost,
		    0, sport, 0, proto, 0, c->c_id);
	}
	v = c->c_ashv;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (req_add_header(r, names[i], v) == -1)
			return -1;
		v += strlen(v) + 1;
	}
	return 0;
}

/* What the error page says for a status the request parsers return. */
static const char *
rq_status_msg(int status)
{
	switch (status) {
	case 414:
		return "The request line is too long.";
	case 417:
		return "Unsupported expectation.";
	case 431:
		return "The request head is too large.";
	case 501:
		return "Unsupported transfer coding.";
	case 505:
		return "Only HTTP/1.0 and HTTP/1.1 are supported.";
	default:
		return "Malformed request.";
	}
}

/* "METHOD URL" for log lines, the URL cut short (logs escape the rest
 * of what a client may send). */
static void
set_what(struct conn *c, const struct req *r)
{
	size_t ml = strlen(r->r_method), ul = strlen(r->r_url);
	size_t n = ml + ul + 2;

	if (n > ASH_LOG_WHAT_MAX)
		n = ASH_LOG_WHAT_MAX;
	/* The buffer of the last request is kept when it is big enough. */
	if (n > c->c_whatcap) {
		free(c->c_what);
		c->c_whatcap = 0;
		if ((c->c_what = malloc(n)) == NULL)
			return;
		c->c_whatcap = n;
	}
	if (ml > n - 1)
		ml = n - 1;
	memcpy(c->c_what, r->r_method, ml);
	if (ml + 1 < n) {
		c->c_what[ml++] = ' ';
		if (ul > n - 1 - ml)
			ul = n - 1 - ml;
		memcpy(c->c_what + ml, r->r_url, ul);
		ml += ul;
	}
	c->c_what[ml] = '\0';
}

/*
 * An absolute-form target names the host itself, and then the Host
 * field is ignored (RFC 9112 3.2.2): the handlers get the target's
 * authority as Host, so that nothing routed by Host can be told one
 * host and serve another.  0, or -1 if answered.
 */
static int
rq_abs_host(struct conn *c, struct req *r)
{
	const char *a = r->r_url;
	char *host;
	int rv;

	if (!strncasecmp(a, "http://", 7))
		a += 7;
	else if (!strncasecmp(a, "https://", 8))
		a += 8;
	else
		return 0;
	if ((host = strndup(a, strcspn(a, "/?"))) == NULL) {
		conn_fail(c, 500, "Out of memory.");
		return -1;
	}
	rv = -1;
	if (!http_host_valid(host))
		conn_fail(c, 400, "Invalid host in the target.");
	else if (req_set_header(r, "Host", host) == -1)
		conn_fail(c, 500, "Out of memory.");
	else
		rv = 0;
	free(host);
	return rv;
}

/*
 * The request target: the rest string handlers route on has its
 * dot-segments resolved (lib/url: url_resolve_rest()), so that no
 * handler meets a ".." in it; the URL stays as the client sent it.
 * 0, or -1 if answered.
 */
static int
rq_target(struct conn *c, struct req *r)
{
	switch (url_resolve_rest(r->r_rest)) {
	case 0:
		return 0;
	case URL_DOTS_ABOVE:
		conn_fail(c, 400, "The path climbs above the root.");
		return -1;
	default:
		conn_fail(c, 400, "Encoded dot-segment in the path.");
		return -1;
	}
}

/* Set up the request's body and pass it on.  0, or -1 if answered. */
static int
start_request(struct conn *c, struct req *r)
{
	struct http_framing f;
	int st;

	c->c_req = r;
	c->c_nreqs++;
	set_what(c, r);
	c->c_http11 = !strcmp(r->r_version, "HTTP/1.1");
	c->c_ishead = !strcmp(r->r_method, "HEAD");
	if ((st = http_req_framing(r, &f)) != 0) {
		conn_fail(c, st, rq_status_msg(st));
		return -1;
	}
	if (rq_target(c, r) == -1 || rq_abs_host(c, r) == -1)
		return -1;
	c->c_clclose = f.hf_close;
	c->c_close = f.hf_close || srv.s_stopping;
	c->c_expect = f.hf_expect;
	if (f.hf_chunked) {
		c->c_bmode = BM_CHUNKED;
		chunk_init(&c->c_cd);
		req_remove_header(r, "Transfer-Encoding");
	} else if (f.hf_length > 0) {
		if (srv.s_opt.o_maxbody && f.hf_length > srv.s_opt.o_maxbody) {
			conn_fail(c, 413, "The request body is too large.");
			return -1;
		}
		c->c_bmode = BM_LENGTH;
		c->c_bleft = f.hf_length;
	} else {
		c->c_bmode = BM_NONE;
		c->c_bodydone = 1;
	}
	req_remove_header(r, "Expect");
	if (add_ash_headers(c, r) == -1) {
		conn_fail(c, 500, "Out of memory.");
		return -1;
	}
	switch (root_submit(c)) {
	case 1:
		return 0;
	case -1:
		return -1;
	}
	conn_timer(c, c->c_bodydone ? T_HANDLER : T_BODY);
	return 0;
}

/* CS_HEAD: 1 if something changed. */
int
rq_step_head(struct conn *c)
{
	struct req *r;
	int n;

	if (c->c_in.b_len > 0) {
		if (c->c_tkind == T_IDLE)
			conn_timer(c, T_HEAD);
		n = http_parse_request(c->c_in.b_data, c->c_in.b_len,
		    &srv.s_opt.o_lim, &r);
		if (n < 0) {
			conn_fail(c, -n, rq_status_msg(-n));
			return 1;
		}
		if (n > 0) {
			buf_consume(&c->c_in, (size_t)n);
			start_request(c, r);
			return 1;
		}
	}
	n = conn_read(c, srv.s_opt.o_lim.hl_head + 1024);
	if (n < 0) {
		conn_abort(c);
		return 1;
	}
	return n;
}

/*
 * The minimum rate (-o min-rate): while a request head or body is
 * arriving, after min-rate-grace, each min-rate-window must bring at
 * least min-rate bytes a second, or the client gets 408.  A window in
 * which htparser itself held the body back (the handler not reading,
 * the request queued for the root socket) does not count.
 */
static enum rphase
rate_phase(const struct conn *c)
{
	if (srv.s_opt.o_minrate == 0)
		return RP_NONE;
	switch (c->c_state) {
	case CS_PROXY:
		return RP_HEAD;
	case CS_HEAD:
		/* Not while idle between requests. */
		return c->c_tkind == T_HEAD ? RP_HEAD : RP_NONE;
	case CS_WAIT:
	case CS_REQ:
		return c->c_bodydone ? RP_NONE : RP_BODY;
	default:
		return RP_NONE;
	}
}

/* htparser is not reading the body now (conn_update's condition). */
static int
rate_held(const struct conn *c)
{
	return c->c_mrphase == RP_BODY &&
	    (c->c_state == CS_WAIT || c->c_up.b_len >= ASH_IOBUF_SIZE ||
		c->c_in.b_len >= ASH_IOBUF_SIZE);
}

static void
rate_arm(struct conn *c, uint64_t ms)
{
	if (loop_timer(srv.s_loop, &c->c_rtimer, ms) == -1)
		loop_untimer(srv.s_loop, &c->c_rtimer);
}

/* After each step of c (conn_run): start, stop or go on measuring. */
void
rq_rate_update(struct conn *c)
{
	enum rphase p = rate_phase(c);

	if (p != c->c_mrphase) {
		c->c_mrphase = p;
		if (p == RP_NONE) {
			loop_untimer(srv.s_loop, &c->c_rtimer);
			return;
		}
		c->c_mrgrace = 1;
		rate_arm(c, srv.s_opt.o_mrgrace);
	}
	if (rate_held(c))
		c->c_mrheld = 1;
}

void
rq_rate_timeout(struct timer *t)
{
	struct conn *c = t->t_arg;
	const struct options *o = &srv.s_opt;
	int head = c->c_mrphase == RP_HEAD;

	if (!c->c_mrgrace && !c->c_mrheld &&
	    (double)c->c_mrbytes * 1000 <
		(double)o->o_minrate * (double)o->o_mrwindow) {
		conn_log(c, LOG_INFO,
		    "request %s below min-rate: %llu bytes in %g s",
		    head ? "head" : "body", c->c_mrbytes,
		    (double)o->o_mrwindow / 1000);
		if (head && (c->c_state == CS_PROXY || c->c_in.b_len == 0)) {
			conn_abort(c);
			return;
		}
		if (c->c_state == CS_WAIT)
			root_unqueue(c);
		conn_fail(c, 408,
		    head ? "The request head arrived too slowly."
			 : "The request body arrived too slowly.");
		conn_run(c);
		return;
	}
	c->c_mrgrace = 0;
	c->c_mrbytes = 0;
	c->c_mrheld = rate_held(c);
	rate_arm(c, o->o_mrwindow);
}

/* Request bodies. */

/* Move body bytes from c_in to c_up.  1 progress, 0 none, -1 answered. */
static int
decode_body(struct conn *c)
{
	const char *data;
	size_t dlen, take;
	ssize_t n;

	if (c->c_bodydone || c->c_in.b_len == 0 ||
	    c->c_up.b_len >= ASH_IOBUF_SIZE)
		return 0;
	if (c->c_bmode == BM_LENGTH) {
		take = c->c_in.b_len;
		if ((long long)take > c->c_bleft)
			take = (size_t)c->c_bleft;
		if (!c->c_upfail &&
		    buf_append(&c->c_up, c->c_in.b_data, take) == -1)
			goto nomem;
		buf_consume(&c->c_in, take);
		if ((c->c_bleft -= (long long)take) == 0)
			c->c_bodydone = 1;
		return 1;
	}
	n = chunk_feed(&c->c_cd, c->c_in.b_data, c->c_in.b_len, &data, &dlen);
	if (n < 0) {
		conn_fail(c, -n, "Malformed chunked body.");
		return -1;
	}
	c->c_btotal += (long long)dlen;
	if (srv.s_opt.o_maxbody && c->c_btotal > srv.s_opt.o_maxbody) {
		conn_fail(c, 413, "The request body is too large.");
		return -1;
	}
	if (dlen && !c->c_upfail && buf_append(&c->c_up, data, dlen) == -1)
		goto nomem;
	buf_consume(&c->c_in, (size_t)n);
	if (chunk_done(&c->c_cd))
		c->c_bodydone = 1;
	return n > 0;
nomem:
	conn_fail(c, 500, "Out of memory.");
	return -1;
}

/* Client -> handler.  1 progress, 0 none, -1 connection finished. */
int
rq_step_upload(struct conn *c)
{
	ssize_t n;
	int rv, prog = 0;

	if (c->c_up.b_len > 0 && c->c_hwr) {
		n = send(c->c_hfd, c->c_up.b_data, c->c_up.b_len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			c->c_hwr = 0;
		else if (n < 0) {
			/* The handler stopped reading: keep consuming the
			 * body and drop it. */
			c->c_upfail = 1;
			buf_free(&c->c_up);
			prog = 1;
		} else {
			buf_consume(&c->c_up, (size_t)n);
			if (c->c_up.b_len == 0)
				buf_free(&c->c_up);
			prog = 1;
		}
	}
	if ((rv = decode_body(c)) != 0)
		return rv;
	if (c->c_bodydone && c->c_up.b_len == 0 && !c->c_upshut) {
		shutdown(c->c_hfd, SHUT_WR);
		c->c_upshut = 1;
		return 1;
	}
	if (!c->c_bodydone && c->c_up.b_len < ASH_IOBUF_SIZE) {
		rv = conn_read(c, ASH_IOBUF_SIZE);
		if (rv < 0) {
			/* The client went away in the middle of its body. */
			conn_abort(c);
			return -1;
		}
		prog |= rv;
	}
	return prog;
}
