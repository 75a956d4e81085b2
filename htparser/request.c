/*
 * request.c: htparser's request side: parsing a request head, handing
 * the request to the root handler (in order, queueing while its socket
 * is full), and moving the body from the client to the handler,
 * de-chunked and bounded (see conn.c for the states).
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

/* Printable address and port of a socket address (conn.h). */
void
addr_str(const union addr *a, char *host, size_t hcap, unsigned *port)
{
	struct in_addr v4;
	size_t i, n;

	if (a->sa.sa_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6.sin6_addr)) {
			memcpy(&v4, &a->sin6.sin6_addr.s6_addr[12], 4);
			inet_ntop(AF_INET, &v4, host, (socklen_t)hcap);
		} else
			inet_ntop(AF_INET6, &a->sin6.sin6_addr, host,
			    (socklen_t)hcap);
		*port = ntohs(a->sin6.sin6_port);
	} else if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->sin.sin_addr, host, (socklen_t)hcap);
		*port = ntohs(a->sin.sin_port);
	} else if (a->sa.sa_family == AF_UNIX) {
		/* The path as far as it is printable: it may come from a
		 * PROXY header, and goes into headers and logs. */
		n = strnlen(a->sun.sun_path, sizeof(a->sun.sun_path));
		for (i = 0; i < n; i++)
			if ((unsigned char)a->sun.sun_path[i] <= 0x20 ||
			    (unsigned char)a->sun.sun_path[i] >= 0x7f)
				break;
		snprintf(host, hcap, "unix:%.*s", (int)i, a->sun.sun_path);
		*port = 0;
	} else {
		snprintf(host, hcap, "unknown");
		*port = 0;
	}
}

/* Request heads and dispatch. */


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
		addr_str(&c->c_peer, host, sizeof(host), &port);
		addr_str(&c->c_local, shost, sizeof(shost), &sport);
		n = snprintf(NULL, 0, fmt, host, 0, port, 0, shost, 0, sport,
		    0, proto, 0, c->c_id);
		if (n < 0 || (c->c_ashv = malloc((size_t)n + 1)) == NULL)
			return -1;
		snprintf(c->c_ashv, (size_t)n + 1, fmt, host, 0, port, 0,
		    shost, 0, sport, 0, proto, 0, c->c_id);
	}
	v = c->c_ashv;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (req_add_header(r, names[i], v) == -1)
			return -1;
		v += strlen(v) + 1;
	}
	return 0;
}

/* Hand c_req to the root handler.  0 sent, 1 must wait, -1 failed
 * (answered). */
static int
dispatch(struct conn *c)
{
	int sp[2];

	if (c->c_hfd < 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    sp) == -1) {
			conn_log(c, LOG_ERR, "socketpair: %s", strerror(errno));
			conn_fail(c, 503, "Out of resources.");
			return -1;
		}
		/* Both ends stay blocking, as the handler expects of its
		 * own; every call on ours says MSG_DONTWAIT (or
		 * SPLICE_F_NONBLOCK), which saves an fcntl() per request. */
		c->c_hfd = sp[0];
		c->c_theirs = sp[1];
		watch_init(&c->c_hw, c->c_hfd, handler_event, c);
	}
	if (srv.s_rootfd < 0) {
		conn_fail(c, 503, "The server is shutting down.");
		return -1;
	}
	/* Without a body the handler sees end-of-file from the start. */
	if (c->c_bodydone && !c->c_upshut) {
		shutdown(c->c_hfd, SHUT_WR);
		c->c_upshut = 1;
	}
	if (req_send(srv.s_rootfd, c->c_req, c->c_theirs) == -1) {
		if (errno == EAGAIN || errno == ENOBUFS)
			return 1;
		if (errno == EMSGSIZE) {
			conn_fail(c, 431, "The request head is too large.");
			return -1;
		}
		conn_log(c, LOG_ERR, "cannot pass the request to the root "
		    "handler: %s", strerror(errno));
		conn_fail(c, 503, "The root handler is not available.");
		return -1;
	}
	close(c->c_theirs);
	c->c_theirs = -1;
	req_free(c->c_req);
	c->c_req = NULL;
	c->c_state = CS_REQ;
	/* Nothing can have come back yet: wait for epoll to say so. */
	c->c_hrd = 0;
	c->c_hwr = 1;
	c->c_rs = RS_HEAD;
	if (!c->c_bodydone && c->c_expect && c->c_in.b_len == 0) {
		if (buf_appends(&c->c_out, "HTTP/1.1 100 Continue\r\n\r\n") == -1) {
			conn_fail(c, 500, "Out of memory.");
			return -1;
		}
	}
	return 0;
}

static void
wait_enqueue(struct conn *c)
{
	c->c_state = CS_WAIT;
	c->c_wnext = NULL;
	if (srv.s_waittail)
		srv.s_waittail->c_wnext = c;
	else
		srv.s_waiting = c;
	srv.s_waittail = c;
	conn_timer(c, T_HANDLER);
	root_update();
}

void
wait_remove(struct conn *c)
{
	struct conn **pp;

	for (pp = &srv.s_waiting; *pp; pp = &(*pp)->c_wnext) {
		if (*pp == c) {
			*pp = c->c_wnext;
			break;
		}
	}
	srv.s_waittail = NULL;
	for (c = srv.s_waiting; c; c = c->c_wnext)
		srv.s_waittail = c;
}

void
conn_root_writable(void)
{
	struct conn *c;
	int rv;

	while ((c = srv.s_waiting) != NULL) {
		rv = dispatch(c);
		if (rv == 1)
			return;
		srv.s_waiting = c->c_wnext;
		if (srv.s_waiting == NULL)
			srv.s_waittail = NULL;
		conn_run(c);
	}
	root_update();
}

/* "METHOD URL" for log lines, the URL cut short (logs escape the rest
 * of what a client may send). */
static void
set_what(struct conn *c, const struct req *r)
{
	size_t n = strlen(r->r_method) + strlen(r->r_url) + 2;

	free(c->c_what);
	if (n > 300)
		n = 300;
	if ((c->c_what = malloc(n)) != NULL)
		snprintf(c->c_what, n, "%s %s", r->r_method, r->r_url);
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
		conn_fail(c, st, st == 501 ? "Unsupported transfer coding." :
		    st == 417 ? "Unsupported expectation." :
		    "Malformed request framing.");
		return -1;
	}
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
	if (srv.s_waiting != NULL) {
		wait_enqueue(c);
		return 0;
	}
	switch (dispatch(c)) {
	case 1:
		wait_enqueue(c);
		return 0;
	case -1:
		return -1;
	}
	conn_timer(c, c->c_bodydone ? T_HANDLER : T_BODY);
	return 0;
}

/* CS_HEAD: 1 if something changed. */
int
step_head(struct conn *c)
{
	struct req *r;
	int n;

	if (c->c_in.b_len > 0) {
		if (c->c_tkind == T_IDLE)
			conn_timer(c, T_HEAD);
		n = http_parse_request(c->c_in.b_data, c->c_in.b_len,
		    &srv.s_opt.o_lim, &r);
		if (n < 0) {
			conn_fail(c, -n, -n == 414 ? "The request line is "
			    "too long." : -n == 431 ? "The request head is "
			    "too large." : -n == 505 ? "Only HTTP/1.0 and "
			    "HTTP/1.1 are supported." : "Malformed request.");
			return 1;
		}
		if (n > 0) {
			buf_consume(&c->c_in, (size_t)n);
			start_request(c, r);
			return 1;
		}
	}
	n = read_client(c, srv.s_opt.o_lim.hl_head + 1024);
	if (n < 0) {
		conn_abort(c);
		return 1;
	}
	return n;
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
		if (!c->c_upfail && buf_append(&c->c_up, c->c_in.b_data,
		    take) == -1)
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
step_upload(struct conn *c)
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
			 * body, drop it, and close after the response. */
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
		rv = read_client(c, ASH_IOBUF_SIZE);
		if (rv < 0) {
			/* The client went away in the middle of its body. */
			conn_abort(c);
			return -1;
		}
		prog |= rv;
	}
	return prog;
}
