/*
 * conn.c: one client connection, as an explicit state machine driven
 * by the event loop.
 *
 * State table (c_state):
 *   HEAD    reading a request head; idle when c_in is empty
 *           -> WAIT (complete head, root socket busy), REQ (dispatched),
 *              FINAL (error answered), closed (EOF, idle timeout)
 *   WAIT    head parsed, queued until the root socket takes it -> REQ
 *   REQ     request handed on: the body flows client -> c_in -> c_up ->
 *           handler, the response handler -> c_out -> client, both at
 *           once and each bounded by ASH_IOBUF_SIZE (backpressure)
 *           -> HEAD (keep-alive), DUPLEX, FINAL, LINGER, closed
 *   DUPLEX  after "X-Ash-Switch: duplex": raw bytes both ways
 *   FINAL   flushing c_out (an error page) -> LINGER
 *   LINGER  our side shut down; unread client bytes drained and dropped
 *           for a short while so that the client sees our answer and
 *           not a reset -> closed
 *
 * Readiness is remembered per descriptor (c_crd, c_cwr, c_hrd, c_hwr,
 * set from epoll, cleared on EAGAIN), and epoll interest is recomputed
 * from what the connection wants after every step, so nothing is read
 * that there is no room for.  Connections are freed through
 * loop_defer(), never while an event of the current batch may still
 * refer to them.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
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
#include "fdpass.h"
#include "http.h"
#include "ashlimits.h"
#include "log.h"
#include "req.h"

enum cstate { CS_HEAD, CS_WAIT, CS_REQ, CS_DUPLEX, CS_FINAL, CS_LINGER,
    CS_DEAD };
enum bodymode { BM_NONE, BM_LENGTH, BM_CHUNKED, BM_CLOSE };
enum rstate { RS_HEAD, RS_BODY, RS_DONE };
enum tkind { T_NONE, T_HEAD, T_IDLE, T_BODY, T_HANDLER, T_SEND, T_LINGER };

#define LINGER_MS	2000
#define LINGER_MAX	(1024 * 1024)

struct conn {
	struct conn	*c_next, *c_prev;	/* srv.s_conns */
	struct conn	*c_wnext;		/* srv.s_waiting */
	enum cstate	 c_state;
	int		 c_fd;			/* client */
	int		 c_hfd;			/* our end of the response socket */
	int		 c_theirs;		/* its other end, until sent */
	int		 c_dfd;			/* duplex peer */
	struct watch	 c_cw, c_hw, c_dw;
	struct timer	 c_timer;
	enum tkind	 c_tkind;
	unsigned char	 c_crd, c_cwr, c_hrd, c_hwr, c_drd, c_dwr;
	unsigned long long c_id;
	unsigned	 c_nreqs;
	union addr	 c_peer, c_local;
	struct buf	 c_in;		/* from the client */
	struct buf	 c_up;		/* decoded body, to the handler */
	struct buf	 c_hbuf;	/* response head from the handler */
	struct buf	 c_out;		/* to the client */
	struct req	*c_req;		/* parsed, not yet dispatched */
	size_t		 c_linger;	/* bytes drained while lingering */

	/* The current request. */
	unsigned	 c_http11:1, c_ishead:1, c_close:1, c_expect:1;
	unsigned	 c_bodydone:1, c_upshut:1, c_upfail:1, c_started:1;
	unsigned	 c_hdone:1, c_cleof:1, c_deof:1;
	enum bodymode	 c_bmode;	/* request body */
	long long	 c_bleft, c_btotal;
	struct chunkdec	 c_cd;
	enum rstate	 c_rs;
	enum bodymode	 c_rmode;	/* response body */
	long long	 c_rleft;
};

static char iobuf[64 * 1024];

static void	conn_run(struct conn *c);
static void	conn_close(struct conn *c);
static void	handler_event(struct watch *w, uint32_t ev);

/* Helpers. */

/* Our end of a fresh socketpair: its only status flag is O_RDWR. */
static int
set_nonblock(int fd)
{
	return fcntl(fd, F_SETFL, O_RDWR | O_NONBLOCK);
}

/* Printable address and port of a socket address; IPv4-mapped IPv6
 * addresses are shown as IPv4. */
static void
addr_str(const union addr *a, char *host, size_t hcap, unsigned *port)
{
	struct in_addr v4;

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
	} else {
		snprintf(host, hcap, "unknown");
		*port = 0;
	}
}

/* Timers. */

static uint64_t
tkind_ms(enum tkind k)
{
	switch (k) {
	case T_HEAD:	return srv.s_opt.o_thead;
	case T_IDLE:	return srv.s_opt.o_tidle;
	case T_BODY:	return srv.s_opt.o_tbody;
	case T_HANDLER:	return srv.s_opt.o_thandler;
	case T_SEND:	return srv.s_opt.o_tsend;
	case T_LINGER:	return LINGER_MS;
	default:	return 0;
	}
}

static void
conn_timer(struct conn *c, enum tkind k)
{
	c->c_tkind = k;
	if (k == T_NONE || loop_timer(srv.s_loop, &c->c_timer,
	    tkind_ms(k)) == -1)
		loop_untimer(srv.s_loop, &c->c_timer);
}

/* Errors answered by htparser itself. */

static void
conn_abort(struct conn *c)
{
	conn_close(c);
}

static void
drop_handler(struct conn *c)
{
	if (c->c_hfd >= 0) {
		/* Only we hold this socket: closing it unregisters it. */
		loop_forget(srv.s_loop, &c->c_hw);
		close(c->c_hfd);
		c->c_hfd = -1;
	}
	if (c->c_theirs >= 0) {
		close(c->c_theirs);
		c->c_theirs = -1;
	}
	if (c->c_dfd >= 0) {
		loop_unwatch(srv.s_loop, &c->c_dw);
		close(c->c_dfd);
		c->c_dfd = -1;
	}
}

/*
 * Answer `status` and close.  If part of a response already went out,
 * all that can be done is to close the connection.
 */
static void
conn_fail(struct conn *c, int status, const char *msg)
{
	char date[64], extra[160];

	drop_handler(c);
	req_free(c->c_req);
	c->c_req = NULL;
	if (c->c_started) {
		conn_abort(c);
		return;
	}
	buf_clear(&c->c_out);
	buf_free(&c->c_up);
	buf_free(&c->c_hbuf);
	http_date(date, sizeof(date), (long long)time(NULL));
	snprintf(extra, sizeof(extra), "Date: %s\r\nServer: %s/%s\r\n"
	    "Connection: close\r\n", date, PACKAGE_NAME, PACKAGE_VERSION);
	if (http_error_format(&c->c_out, status, msg, extra) == -1) {
		conn_abort(c);
		return;
	}
	c->c_started = 1;
	c->c_close = 1;
	c->c_state = CS_FINAL;
	conn_timer(c, T_SEND);
}

/* Client output. */

/* Write what c_out holds; 1 progress, 0 blocked or nothing, -1 dead. */
static int
flush_client(struct conn *c)
{
	ssize_t n;

	if (c->c_out.b_len == 0 || !c->c_cwr)
		return 0;
	n = send(c->c_fd, c->c_out.b_data, c->c_out.b_len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			c->c_cwr = 0;
			return 0;
		}
		return -1;
	}
	buf_consume(&c->c_out, (size_t)n);
	if (c->c_out.b_len == 0)
		buf_free(&c->c_out);
	return 1;
}

/* Read from the client into c_in, up to `max` buffered bytes.
 * 1 progress, 0 blocked/full, -1 EOF or error. */
static int
read_client(struct conn *c, size_t max)
{
	size_t room;
	ssize_t n;

	if (!c->c_crd || c->c_in.b_len >= max)
		return 0;
	room = max - c->c_in.b_len;
	if (room > sizeof(iobuf))
		room = sizeof(iobuf);
	n = recv(c->c_fd, iobuf, room, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			c->c_crd = 0;
			return 0;
		}
		return -1;
	}
	if (n == 0) {
		c->c_cleof = 1;
		return -1;
	}
	if (buf_append(&c->c_in, iobuf, (size_t)n) == -1)
		return -1;
	return 1;
}

/* Request heads and dispatch. */

static void	enter_head(struct conn *c);

/* Add the X-Ash-* headers describing this connection. */
static int
add_ash_headers(struct conn *c, struct req *r)
{
	char host[INET6_ADDRSTRLEN], num[32];
	unsigned port;

	req_remove_prefix(r, "X-Ash-");
	addr_str(&c->c_peer, host, sizeof(host), &port);
	snprintf(num, sizeof(num), "%u", port);
	if (req_add_header(r, "X-Ash-Address", host) == -1 ||
	    req_add_header(r, "X-Ash-Port", num) == -1)
		return -1;
	addr_str(&c->c_local, host, sizeof(host), &port);
	snprintf(num, sizeof(num), "%u", port);
	if (req_add_header(r, "X-Ash-Server-Address", host) == -1 ||
	    req_add_header(r, "X-Ash-Server-Port", num) == -1 ||
	    req_add_header(r, "X-Ash-Protocol", "http") == -1)
		return -1;
	snprintf(num, sizeof(num), "%llu", c->c_id);
	return req_add_header(r, "X-Ash-Connection-ID", num);
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
			log_errno(LOG_ERR, "socketpair");
			conn_fail(c, 503, "Out of resources.");
			return -1;
		}
		c->c_hfd = sp[0];
		c->c_theirs = sp[1];
		if (set_nonblock(c->c_hfd) == -1) {
			conn_fail(c, 500, "Internal error.");
			return -1;
		}
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
		log_errno(LOG_ERR, "cannot pass request to the root handler");
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

static void
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

/* Set up the request's body and pass it on.  0, or -1 if answered. */
static int
start_request(struct conn *c, struct req *r)
{
	struct http_framing f;
	int st;

	c->c_req = r;
	c->c_nreqs++;
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
static int
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
static int
step_upload(struct conn *c)
{
	ssize_t n;
	int rv, prog = 0;

	if (c->c_up.b_len > 0 && c->c_hwr) {
		n = send(c->c_hfd, c->c_up.b_data, c->c_up.b_len, MSG_NOSIGNAL);
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

/* Responses. */

/* Read from the response socket, capturing a passed fd (duplex). */
static ssize_t
read_handler(struct conn *c, char *dst, size_t cap)
{
	ssize_t n;
	int fd = -1;

	if (c->c_rs == RS_HEAD) {
		/* fd_recv() refuses messages without exactly one fd, so
		 * read with a plain recvmsg here. */
		union {
			struct cmsghdr	hdr;
			char		buf[CMSG_SPACE(sizeof(int) * 4)];
		} cm;
		struct msghdr msg;
		struct iovec iov;
		struct cmsghdr *cmp;
		size_t i, nfd;
		int f;

		memset(&msg, 0, sizeof(msg));
		iov.iov_base = dst;
		iov.iov_len = cap;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof(cm.buf);
		n = recvmsg(c->c_hfd, &msg, MSG_CMSG_CLOEXEC);
		for (cmp = n >= 0 ? CMSG_FIRSTHDR(&msg) : NULL; cmp;
		    cmp = CMSG_NXTHDR(&msg, cmp)) {
			if (cmp->cmsg_level != SOL_SOCKET ||
			    cmp->cmsg_type != SCM_RIGHTS)
				continue;
			nfd = (cmp->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < nfd; i++) {
				memcpy(&f, CMSG_DATA(cmp) + i * sizeof(int),
				    sizeof(int));
				if (fd < 0 && c->c_dfd < 0)
					fd = f;
				else
					close(f);
			}
		}
		if (fd >= 0)
			c->c_dfd = fd;
	} else
		n = recv(c->c_hfd, dst, cap, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		c->c_hrd = 0;
	return n;
}

/* Content-Length from a handler: digits only, all copies equal. */
static long long
resp_length(const struct http_resp *rp)
{
	long long v, seen = -2;
	const char *p;
	size_t i;

	for (i = 0; i < rp->hr_nhdrs; i++) {
		if (strcasecmp(rp->hr_hdrs[i].h_name, "Content-Length"))
			continue;
		p = rp->hr_hdrs[i].h_value;
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

/* Compose the client's response head from the handler's. */
static int
start_response(struct conn *c, struct http_resp *rp)
{
	const char *sw, *te;
	char date[64];
	long long len;
	size_t i;
	int nobody, duplex, rawchunk;

	sw = http_resp_header(rp, "X-Ash-Switch");
	duplex = sw && !strcasecmp(sw, "duplex") && c->c_dfd >= 0;
	te = http_resp_header(rp, "Transfer-Encoding");
	rawchunk = te != NULL;
	if ((len = resp_length(rp)) == -1 && !rawchunk)
		return -1;
	nobody = c->c_ishead || rp->hr_status < 200 ||
	    rp->hr_status == 204 || rp->hr_status == 304;
	if (duplex)
		c->c_rmode = BM_NONE;
	else if (nobody)
		c->c_rmode = BM_NONE;
	else if (rawchunk) {
		/* A handler that did its own coding: pass the bytes on
		 * and end the connection with them. */
		c->c_rmode = BM_CLOSE;
		c->c_close = 1;
	} else if (len >= 0) {
		c->c_rmode = BM_LENGTH;
		c->c_rleft = len;
	} else if (c->c_http11)
		c->c_rmode = BM_CHUNKED;
	else {
		c->c_rmode = BM_CLOSE;
		c->c_close = 1;
	}
	if (!duplex && rp->hr_status < 200)
		c->c_close = 1;		/* no interim responses from handlers */
	if (srv.s_stopping)
		c->c_close = 1;
	if (buf_printf(&c->c_out, "HTTP/1.1 %d %s\r\n", rp->hr_status,
	    *rp->hr_reason ? rp->hr_reason : http_reason(rp->hr_status)) == -1)
		return -1;
	for (i = 0; i < rp->hr_nhdrs; i++) {
		const char *n = rp->hr_hdrs[i].h_name;

		if (!strncasecmp(n, "X-Ash-", 6) || !strcasecmp(n, "Keep-Alive") ||
		    !strcasecmp(n, "Proxy-Connection") ||
		    (!duplex && !strcasecmp(n, "Connection")) ||
		    (!rawchunk && !strcasecmp(n, "Transfer-Encoding")))
			continue;
		if (buf_printf(&c->c_out, "%s: %s\r\n", n,
		    rp->hr_hdrs[i].h_value) == -1)
			return -1;
	}
	if (!http_resp_header(rp, "Date")) {
		http_date(date, sizeof(date), (long long)time(NULL));
		if (buf_printf(&c->c_out, "Date: %s\r\n", date) == -1)
			return -1;
	}
	if (!http_resp_header(rp, "Server") &&
	    buf_appends(&c->c_out, "Server: " PACKAGE_NAME "/"
	    PACKAGE_VERSION "\r\n") == -1)
		return -1;
	if (c->c_rmode == BM_CHUNKED &&
	    buf_appends(&c->c_out, "Transfer-Encoding: chunked\r\n") == -1)
		return -1;
	if (!duplex && buf_appends(&c->c_out, c->c_close ?
	    "Connection: close\r\n" : c->c_http11 ? "" :
	    "Connection: keep-alive\r\n") == -1)
		return -1;
	if (buf_appends(&c->c_out, "\r\n") == -1)
		return -1;
	c->c_started = 1;
	if (duplex)
		c->c_state = CS_DUPLEX;
	else if (c->c_dfd >= 0) {
		close(c->c_dfd);
		c->c_dfd = -1;
	}
	return 0;
}

/* Append body bytes from the handler to c_out per c_rmode. */
static int
emit_body(struct conn *c, const char *data, size_t len)
{
	if (len == 0)
		return 0;
	switch (c->c_rmode) {
	case BM_NONE:
		return 0;
	case BM_LENGTH:
		if ((long long)len > c->c_rleft)
			len = (size_t)c->c_rleft;
		c->c_rleft -= (long long)len;
		if (c->c_rleft == 0)
			c->c_hdone = 1;
		return buf_append(&c->c_out, data, len);
	case BM_CHUNKED:
		if (buf_printf(&c->c_out, "%zx\r\n", len) == -1 ||
		    buf_append(&c->c_out, data, len) == -1)
			return -1;
		return buf_appends(&c->c_out, "\r\n");
	case BM_CLOSE:
		return buf_append(&c->c_out, data, len);
	}
	return 0;
}

/* The handler's output ended (EOF, or the length was reached). */
static int
end_body(struct conn *c)
{
	c->c_hdone = 1;
	if (c->c_rmode == BM_CHUNKED)
		return buf_appends(&c->c_out, "0\r\n\r\n");
	if (c->c_rmode == BM_LENGTH && c->c_rleft > 0) {
		/* Truncated by the handler: the client must not take
		 * what follows as the next response. */
		log_msg(LOG_WARNING, "handler ended its response %lld bytes "
		    "short", c->c_rleft);
		c->c_close = 1;
	}
	return 0;
}

/* Handler -> client, the response head.  1 progress, 0 none, -1 ended. */
static int
step_resphead(struct conn *c)
{
	struct http_resp rp;
	size_t room;
	ssize_t n;
	int hl;

	if (!c->c_hrd)
		return 0;
	room = ASH_RESPHEAD_MAX - c->c_hbuf.b_len;
	if (room > sizeof(iobuf))
		room = sizeof(iobuf);
	if ((n = read_handler(c, iobuf, room)) < 0) {
		if (!c->c_hrd)
			return 0;
		log_errno(LOG_WARNING, "reading from handler");
		conn_fail(c, 502, "The handler failed.");
		return -1;
	}
	if (n == 0) {
		log_msg(LOG_WARNING, "handler closed the response socket "
		    "without a complete response head");
		conn_fail(c, 502, "The handler sent no valid response.");
		return -1;
	}
	if (buf_append(&c->c_hbuf, iobuf, (size_t)n) == -1) {
		conn_fail(c, 500, "Out of memory.");
		return -1;
	}
	hl = http_parse_response(c->c_hbuf.b_data, c->c_hbuf.b_len, &rp);
	if (hl == 0 && c->c_hbuf.b_len >= ASH_RESPHEAD_MAX)
		hl = -1, errno = EMSGSIZE;
	if (hl == 0)
		return 1;
	if (hl < 0) {
		log_msg(LOG_WARNING, "handler sent a malformed response head");
		conn_fail(c, 502, "The handler sent an invalid response.");
		return -1;
	}
	if (start_response(c, &rp) == -1) {
		http_resp_free(&rp);
		log_msg(LOG_WARNING, "handler sent an unusable response head");
		conn_fail(c, 502, "The handler sent an invalid response.");
		return -1;
	}
	http_resp_free(&rp);
	c->c_rs = RS_BODY;
	if (c->c_rmode == BM_LENGTH && c->c_rleft == 0)
		c->c_hdone = 1;
	if (emit_body(c, c->c_hbuf.b_data + hl, c->c_hbuf.b_len - (size_t)hl)
	    == -1) {
		conn_abort(c);
		return -1;
	}
	if (c->c_state == CS_DUPLEX && c->c_rmode == BM_NONE)
		buf_append(&c->c_out, c->c_hbuf.b_data + hl,
		    c->c_hbuf.b_len - (size_t)hl);
	buf_free(&c->c_hbuf);
	return 1;
}

/* Handler -> client, the body.  1 progress, 0 none, -1 ended. */
static int
step_respbody(struct conn *c)
{
	size_t room;
	ssize_t n;

	if (c->c_hdone || !c->c_hrd || c->c_out.b_len >= ASH_IOBUF_SIZE)
		return 0;
	room = ASH_IOBUF_SIZE;
	if (c->c_rmode == BM_LENGTH && (long long)room > c->c_rleft)
		room = (size_t)c->c_rleft;
	if ((n = read_handler(c, iobuf, room)) < 0) {
		if (!c->c_hrd)
			return 0;
		n = 0;	/* a reset is an end, like EOF */
	}
	if (n == 0 ? end_body(c) : emit_body(c, iobuf, (size_t)n)) {
		conn_abort(c);
		return -1;
	}
	return 1;
}

/* Reset the connection for its next request, or close it. */
static void
finish_request(struct conn *c)
{
	drop_handler(c);
	if (c->c_close || !c->c_bodydone || c->c_upfail || srv.s_stopping) {
		c->c_state = CS_FINAL;
		return;
	}
	buf_free(&c->c_up);
	buf_free(&c->c_hbuf);
	enter_head(c);
}

/* CS_REQ. */
static int
step_req(struct conn *c)
{
	int rv, prog = 0;

	if (c->c_hfd >= 0 && !c->c_upshut && (rv = step_upload(c)) != 0) {
		if (rv < 0)
			return 1;
		prog = 1;
	}
	if (c->c_rs == RS_HEAD)
		rv = step_resphead(c);
	else
		rv = step_respbody(c);
	if (rv < 0)
		return 1;
	prog |= rv;
	if (c->c_state != CS_REQ)
		return 1;
	if ((rv = flush_client(c)) < 0) {
		conn_abort(c);
		return 1;
	}
	prog |= rv;
	if (c->c_rs == RS_BODY && c->c_hdone && c->c_out.b_len == 0) {
		/* Any body the client is still sending is unwanted now. */
		if (!c->c_bodydone)
			c->c_close = 1;
		finish_request(c);
		return 1;
	}
	return prog;
}

/* CS_DUPLEX: a raw pipe between the client and c_dfd. */
static int
step_duplex(struct conn *c)
{
	ssize_t n;
	int prog = 0, rv;

	if (c->c_hfd >= 0) {
		loop_unwatch(srv.s_loop, &c->c_hw);
		close(c->c_hfd);
		c->c_hfd = -1;
		watch_init(&c->c_dw, c->c_dfd, c->c_hw.w_cb, c);
		c->c_drd = c->c_dwr = 1;
		fcntl(c->c_dfd, F_SETFL, fcntl(c->c_dfd, F_GETFL) | O_NONBLOCK);
	}
	/* client -> peer */
	if (c->c_in.b_len > 0 && c->c_dwr) {
		n = send(c->c_dfd, c->c_in.b_data, c->c_in.b_len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			c->c_dwr = 0;
		else if (n < 0)
			goto end;
		else {
			buf_consume(&c->c_in, (size_t)n);
			prog = 1;
		}
	}
	if (!c->c_cleof && c->c_in.b_len == 0) {
		if ((rv = read_client(c, ASH_IOBUF_SIZE)) < 0) {
			if (!c->c_cleof)
				goto end;
			shutdown(c->c_dfd, SHUT_WR);
			prog = 1;
		} else
			prog |= rv;
	}
	/* peer -> client */
	if (!c->c_deof && c->c_drd && c->c_out.b_len < ASH_IOBUF_SIZE) {
		n = recv(c->c_dfd, iobuf, ASH_IOBUF_SIZE, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			c->c_drd = 0;
		else if (n <= 0) {
			c->c_deof = 1;
			prog = 1;
		} else {
			if (buf_append(&c->c_out, iobuf, (size_t)n) == -1)
				goto end;
			prog = 1;
		}
	}
	if ((rv = flush_client(c)) < 0)
		goto end;
	prog |= rv;
	if (c->c_deof && c->c_out.b_len == 0) {
		if (c->c_cleof && c->c_in.b_len == 0)
			goto end;
		shutdown(c->c_fd, SHUT_WR);
		if (c->c_cleof)
			goto end;
	}
	return prog;
end:
	conn_abort(c);
	return 1;
}

/* CS_FINAL and CS_LINGER. */
static int
step_final(struct conn *c)
{
	ssize_t n;
	int rv;

	if (c->c_state == CS_FINAL) {
		if ((rv = flush_client(c)) < 0) {
			conn_abort(c);
			return 1;
		}
		if (c->c_out.b_len > 0)
			return rv;
		drop_handler(c);
		shutdown(c->c_fd, SHUT_WR);
		c->c_state = CS_LINGER;
		c->c_crd = 1;
		buf_free(&c->c_in);
		buf_free(&c->c_up);
		conn_timer(c, T_LINGER);
		return 1;
	}
	if (!c->c_crd)
		return 0;
	n = recv(c->c_fd, iobuf, sizeof(iobuf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		c->c_crd = 0;
		return 0;
	}
	if (n <= 0 || (c->c_linger += (size_t)n) > LINGER_MAX) {
		conn_abort(c);
		return 1;
	}
	return 1;
}

/* Waiting for a request head (or idle between requests). */
static void
enter_head(struct conn *c)
{
	c->c_state = CS_HEAD;
	c->c_ishead = c->c_expect = 0;
	c->c_bodydone = c->c_upshut = c->c_upfail = c->c_started = 0;
	c->c_hdone = 0;
	c->c_bmode = c->c_rmode = BM_NONE;
	c->c_bleft = c->c_btotal = c->c_rleft = 0;
	c->c_rs = RS_HEAD;
	if (c->c_in.b_len == 0) {
		buf_free(&c->c_in);
		conn_timer(c, c->c_nreqs ? T_IDLE : T_HEAD);
	} else
		conn_timer(c, T_HEAD);
	if (srv.s_stopping && c->c_in.b_len == 0)
		conn_abort(c);
}

/* Epoll interest from what the connection wants now. */
static void
conn_update(struct conn *c)
{
	uint32_t ce = 0, he = 0, de = 0;

	switch (c->c_state) {
	case CS_HEAD:
		ce = EPOLLIN;
		break;
	case CS_WAIT:
		break;
	case CS_REQ:
		if (!c->c_bodydone && c->c_up.b_len < ASH_IOBUF_SIZE &&
		    c->c_in.b_len < ASH_IOBUF_SIZE)
			ce |= EPOLLIN;
		if (c->c_bodydone && !c->c_cleof)
			ce |= EPOLLRDHUP;
		if (c->c_out.b_len > 0)
			ce |= EPOLLOUT;
		if (!c->c_hdone && c->c_out.b_len < ASH_IOBUF_SIZE)
			he |= EPOLLIN;
		if (c->c_up.b_len > 0)
			he |= EPOLLOUT;
		break;
	case CS_DUPLEX:
		if (!c->c_cleof && c->c_in.b_len == 0)
			ce |= EPOLLIN;
		if (c->c_out.b_len > 0)
			ce |= EPOLLOUT;
		if (!c->c_deof && c->c_out.b_len < ASH_IOBUF_SIZE)
			de |= EPOLLIN;
		if (c->c_in.b_len > 0)
			de |= EPOLLOUT;
		break;
	case CS_FINAL:
		ce = EPOLLOUT;
		break;
	case CS_LINGER:
		ce = EPOLLIN;
		break;
	case CS_DEAD:
		return;
	}
	if (loop_watch(srv.s_loop, &c->c_cw, ce) == -1)
		goto fail;
	if (c->c_hfd >= 0 && c->c_state != CS_WAIT &&
	    loop_watch(srv.s_loop, &c->c_hw, he) == -1)
		goto fail;
	if (c->c_state == CS_DUPLEX && c->c_hfd < 0 &&
	    loop_watch(srv.s_loop, &c->c_dw, de) == -1)
		goto fail;
	return;
fail:
	log_errno(LOG_ERR, "epoll");
	conn_abort(c);
}

/* Pick the timer that matches what the request waits for. */
static void
req_timer(struct conn *c)
{
	if (c->c_out.b_len > 0 && !c->c_cwr)
		conn_timer(c, T_SEND);
	else if (!c->c_bodydone && c->c_up.b_len == 0)
		conn_timer(c, T_BODY);
	else
		conn_timer(c, T_HANDLER);
}

static void
conn_run(struct conn *c)
{
	int prog, any = 0;

	do {
		switch (c->c_state) {
		case CS_HEAD:
			prog = step_head(c);
			break;
		case CS_REQ:
			prog = step_req(c);
			break;
		case CS_DUPLEX:
			prog = step_duplex(c);
			break;
		case CS_FINAL:
		case CS_LINGER:
			prog = step_final(c);
			break;
		default:
			prog = 0;
			break;
		}
		any |= prog;
	} while (prog && c->c_state != CS_DEAD);
	if (c->c_state == CS_DEAD)
		return;
	if (any && (c->c_state == CS_REQ || c->c_state == CS_DUPLEX))
		req_timer(c);
	conn_update(c);
}

/* A client that shut down its side while its request is being served
 * has gone away (as nginx decides): nothing more will be read. */
static int
client_gone(struct conn *c)
{
	char ch;
	ssize_t n;

	n = recv(c->c_fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
}

static void
client_event(struct watch *w, uint32_t ev)
{
	struct conn *c = w->w_arg;

	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
		c->c_crd = 1;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->c_cwr = 1;
	if ((ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && c->c_state == CS_REQ &&
	    c->c_bodydone && client_gone(c)) {
		conn_abort(c);
		return;
	}
	conn_run(c);
}

static void
handler_event(struct watch *w, uint32_t ev)
{
	struct conn *c = w->w_arg;

	if (c->c_state == CS_DUPLEX && w == &c->c_dw) {
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
			c->c_drd = 1;
		if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			c->c_dwr = 1;
	} else {
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
			c->c_hrd = 1;
		if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			c->c_hwr = 1;
	}
	conn_run(c);
}

static void
conn_timeout(struct timer *t)
{
	struct conn *c = t->t_arg;

	switch (c->c_tkind) {
	case T_HEAD:
		if (c->c_in.b_len > 0) {
			conn_fail(c, 408, "The request head took too long.");
			break;
		}
		/* FALLTHROUGH */
	case T_IDLE:
	case T_SEND:
	case T_LINGER:
		conn_abort(c);
		return;
	case T_BODY:
		conn_fail(c, 408, "The request body stalled.");
		break;
	case T_HANDLER:
		log_msg(LOG_WARNING, "handler timed out");
		conn_fail(c, 504, "The handler did not answer in time.");
		break;
	default:
		return;
	}
	if (c->c_state == CS_WAIT)
		wait_remove(c);
	conn_run(c);
}

static void
conn_free(void *arg)
{
	struct conn *c = arg;

	buf_free(&c->c_in);
	buf_free(&c->c_up);
	buf_free(&c->c_hbuf);
	buf_free(&c->c_out);
	req_free(c->c_req);
	free(c);
}

static void
conn_close(struct conn *c)
{
	if (c->c_state == CS_DEAD)
		return;
	if (c->c_state == CS_WAIT)
		wait_remove(c);
	c->c_state = CS_DEAD;
	drop_handler(c);
	loop_forget(srv.s_loop, &c->c_cw);
	loop_untimer(srv.s_loop, &c->c_timer);
	close(c->c_fd);
	if (c->c_prev)
		c->c_prev->c_next = c->c_next;
	else
		srv.s_conns = c->c_next;
	if (c->c_next)
		c->c_next->c_prev = c->c_prev;
	srv.s_nconns--;
	if (loop_defer(srv.s_loop, conn_free, c) == -1)
		log_msg(LOG_ERR, "cannot free a connection: leaked");
	if (srv.s_stopping && srv.s_nconns == 0)
		loop_stop(srv.s_loop);
}

/* Out of descriptors: use the reserve to tell one client so. */
static void
accept_overload(struct listener *l)
{
	static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain\r\nContent-Length: 20\r\n"
	    "Connection: close\r\n\r\nServer overloaded.\r\n";
	int fd;

	if (srv.s_reservefd < 0)
		return;
	close(srv.s_reservefd);
	srv.s_reservefd = -1;
	if ((fd = accept4(l->l_fd, NULL, NULL, SOCK_CLOEXEC |
	    SOCK_NONBLOCK)) >= 0) {
		(void)!send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
		close(fd);
	}
	srv.s_reservefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void
conn_accept(struct listener *l)
{
	struct conn *c;
	socklen_t sl;
	int fd, one = 1, i;

	for (i = 0; i < 64 && !srv.s_stopping; i++) {
		fd = accept4(l->l_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				log_msg(LOG_WARNING, "out of file descriptors");
				accept_overload(l);
			} else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_errno(LOG_WARNING, "accept");
			return;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->c_fd = fd;
		c->c_hfd = c->c_theirs = c->c_dfd = -1;
		c->c_id = ++srv.s_nextid;
		sl = sizeof(c->c_peer);
		getpeername(fd, &c->c_peer.sa, &sl);
		sl = sizeof(c->c_local);
		getsockname(fd, &c->c_local.sa, &sl);
		watch_init(&c->c_cw, fd, client_event, c);
		watch_init(&c->c_hw, -1, handler_event, c);
		timer_init(&c->c_timer, conn_timeout, c);
		c->c_next = srv.s_conns;
		if (srv.s_conns)
			srv.s_conns->c_prev = c;
		srv.s_conns = c;
		srv.s_nconns++;
		c->c_crd = c->c_cwr = 1;
		enter_head(c);
		conn_run(c);
	}
}

void
conn_shutdown_all(void)
{
	struct conn *c, *next;

	for (c = srv.s_conns; c; c = next) {
		next = c->c_next;
		c->c_close = 1;
		if (c->c_state == CS_HEAD)
			conn_abort(c);
		else if (c->c_state == CS_WAIT) {
			wait_remove(c);
			conn_fail(c, 503, "The server is shutting down.");
			conn_run(c);
		}
	}
	if (srv.s_nconns == 0)
		loop_stop(srv.s_loop);
}
