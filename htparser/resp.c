/*
 * resp.c: htparser's response side: reading the handler's response head
 * (and a passed descriptor for duplex), composing the client's head with
 * the framing HTTP/1.1 needs, relaying the body with backpressure, and
 * the raw two-way pipe after "X-Ash-Switch: duplex" (see conn.c).
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
#include "fdpass.h"
#include "http.h"
#include "ashlimits.h"
#include "log.h"
#include "req.h"

/* Responses. */

/* "Name: value\r\n" onto b; pieces, not printf: this is per header of
 * every response. */
static int
append_field(struct buf *b, const char *name, const char *value)
{
	if (buf_appends(b, name) == -1 || buf_append(b, ": ", 2) == -1 ||
	    buf_appends(b, value) == -1 || buf_append(b, "\r\n", 2) == -1)
		return -1;
	return 0;
}

/* The status line (the parser allows three-digit codes only). */
static int
append_status(struct buf *b, const struct http_resp *rp)
{
	char line[16];
	int s = rp->hr_status;

	if (s < 100 || s > 999)
		return -1;
	memcpy(line, "HTTP/1.1 ", 9);
	line[9] = (char)('0' + s / 100);
	line[10] = (char)('0' + s / 10 % 10);
	line[11] = (char)('0' + s % 10);
	line[12] = ' ';
	if (buf_append(b, line, 13) == -1 ||
	    buf_appends(b, *rp->hr_reason ? rp->hr_reason : http_reason(s)) ==
		-1 ||
	    buf_append(b, "\r\n", 2) == -1)
		return -1;
	return 0;
}

/* "Content-Length: N\r\n", without printf: every response has one. */
static int
append_length(struct buf *b, long long len)
{
	char digits[24], *p = digits + sizeof(digits);
	unsigned long long v = (unsigned long long)len;

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	if (buf_appends(b, "Content-Length: ") == -1 ||
	    buf_append(b, p, (size_t)(digits + sizeof(digits) - p)) == -1 ||
	    buf_append(b, "\r\n", 2) == -1)
		return -1;
	return 0;
}

/* The Date value for now, formatted once a second. */
static const char *
date_now(void)
{
	static char date[64];
	static time_t last = (time_t)-1;
	time_t now = time(NULL);

	if (now != last) {
		http_date(date, sizeof(date), (long long)now);
		last = now;
	}
	return date;
}

/* Read from the response socket; while the head is read, a descriptor
 * may come with it (duplex). */
static ssize_t
read_handler(struct conn *c, char *dst, size_t cap)
{
	ssize_t n;
	int fd;

	if (c->c_rs == RS_HEAD) {
		n = fd_recv_stream(c->c_hfd, dst, cap, &fd, MSG_DONTWAIT);
		if (fd >= 0 && c->c_dfd < 0)
			c->c_dfd = fd;
		else if (fd >= 0)
			close(fd);
	} else
		n = recv(c->c_hfd, dst, cap, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		c->c_hrd = 0;
	return n;
}

/*
 * The framing of the response to the client: htparser's own, whatever
 * the handler said (htparser(1), RESPONSES).  NULL, or why the
 * response cannot be framed (502).
 */
static const char *
set_framing(struct conn *c, const struct http_resp *rp, int duplex,
    long long *lenp)
{
	int te, nobody;
	long long len;

	/* Only a single "chunked" can be taken off (RFC 9112 6.1): with
	 * any other coding the message would end only at the close, in a
	 * coding the client never asked for. */
	if (http_coding(rp->hr_hdrs, rp->hr_nhdrs, &te) < 0)
		return "a transfer coding other than chunked";
	if ((len = http_resp_length(rp)) == -1)
		return "a malformed Content-Length";
	if (te && len >= 0)
		return "both Transfer-Encoding and Content-Length";
	nobody = c->c_ishead || rp->hr_status < 200 || rp->hr_status == 204 ||
	    rp->hr_status == 304;
	c->c_hchunk = 0;
	if (duplex || nobody)
		c->c_rmode = BM_NONE;
	else if (len >= 0) {
		c->c_rmode = BM_LENGTH;
		c->c_rleft = len;
	} else if (c->c_http11)
		c->c_rmode = BM_CHUNKED;
	else {
		c->c_rmode = BM_CLOSE;
		c->c_close = 1;
	}
	if (te && c->c_rmode != BM_NONE) {
		c->c_hchunk = 1;
		chunk_init(&c->c_rcd);
	}
	/* No length on a response that cannot have a body at all. */
	*lenp = rp->hr_status < 200 || rp->hr_status == 204 ? -1 : len;
	return NULL;
}

static const char nomem[] = "no memory";

/* Is n a field of the handler's head htparser does not pass on (its
 * own framing, hop-by-hop fields, X-Ash-*)?  By the first letter
 * first: most fields are then told apart without a strcasecmp(). */
static int
hop_field(const char *n, int duplex)
{
	switch (*n | 0x20) {
	case 'c':
		return (!duplex && !strcasecmp(n, "Connection")) ||
		    !strcasecmp(n, "Content-Length");
	case 'k':
		return !strcasecmp(n, "Keep-Alive");
	case 'p':
		return !strcasecmp(n, "Proxy-Connection");
	case 't':
		return !strcasecmp(n, "Transfer-Encoding");
	case 'x':
		return !strncasecmp(n, "X-Ash-", 6);
	default:
		return 0;
	}
}

/* Compose the client's response head from the handler's; NULL, or why
 * it cannot be sent (502; 500 for nomem). */
static const char *
start_response(struct conn *c, struct http_resp *rp)
{
	const char *sw, *why;
	long long len;
	size_t i;
	int duplex;

	sw = http_resp_header(rp, "X-Ash-Switch");
	duplex = sw && !strcasecmp(sw, "duplex") && c->c_dfd >= 0;
	if ((why = set_framing(c, rp, duplex, &len)) != NULL)
		return why;
	if (!duplex && rp->hr_status < 200)
		c->c_close = 1; /* no interim responses from handlers */
	/* An answer before the whole body (a refusal, as a rule): the
	 * rest of the body is not read for another request, and the
	 * client is told so before it sends more (conn.c lingers). */
	if (!duplex && !c->c_bodydone)
		c->c_close = 1;
	if (srv.s_stopping)
		c->c_close = 1;
	/* The head comes out about the size it came in, and a small body
	 * read with it follows: one allocation instead of a doubling per
	 * few headers. */
	if (buf_reserve(&c->c_out, c->c_hbuf.b_len + 128) == -1 ||
	    append_status(&c->c_out, rp) == -1)
		return nomem;
	for (i = 0; i < rp->hr_nhdrs; i++) {
		const char *n = rp->hr_hdrs[i].h_name;

		if (hop_field(n, duplex))
			continue;
		if (append_field(&c->c_out, n, rp->hr_hdrs[i].h_value) == -1)
			return nomem;
	}
	if (!http_resp_header(rp, "Date") &&
	    append_field(&c->c_out, "Date", date_now()) == -1)
		return nomem;
	if (!http_resp_header(rp, "Server") &&
	    buf_appends(&c->c_out,
		"Server: " PACKAGE_NAME "/" PACKAGE_VERSION "\r\n") == -1)
		return nomem;
	if (len >= 0 && append_length(&c->c_out, len) == -1)
		return nomem;
	if (c->c_rmode == BM_CHUNKED &&
	    buf_appends(&c->c_out, "Transfer-Encoding: chunked\r\n") == -1)
		return nomem;
	if (!duplex &&
	    buf_appends(&c->c_out,
		c->c_close	  ? "Connection: close\r\n"
		    : c->c_http11 ? ""
				  : "Connection: keep-alive\r\n") == -1)
		return nomem;
	if (buf_appends(&c->c_out, "\r\n") == -1)
		return nomem;
	c->c_started = 1;
	if (duplex)
		c->c_state = CS_DUPLEX;
	else if (c->c_dfd >= 0) {
		close(c->c_dfd);
		c->c_dfd = -1;
	}
	return NULL;
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

/* The handler's output ended (EOF, the length was reached, or its
 * last chunk came). */
static int
end_body(struct conn *c)
{
	c->c_hdone = 1;
	if (c->c_hchunk && !chunk_done(&c->c_rcd)) {
		/* No last chunk: the client must see a cut body, never a
		 * complete one, so no last chunk of ours either. */
		conn_log(c, LOG_WARNING,
		    "handler ended its chunked response early");
		c->c_close = 1;
		return 0;
	}
	if (c->c_rmode == BM_CHUNKED)
		return buf_appends(&c->c_out, "0\r\n\r\n");
	if (c->c_rmode == BM_LENGTH && c->c_rleft > 0) {
		/* Truncated by the handler: the client must not take
		 * what follows as the next response. */
		conn_log(c, LOG_WARNING,
		    "handler ended its response %lld bytes short", c->c_rleft);
		c->c_close = 1;
	}
	return 0;
}

/* Body bytes from the handler, decoded first if the handler chunked
 * them; what follows its last chunk is dropped.  0, or -1 (then the
 * connection is to be aborted). */
static int
relay_body(struct conn *c, const char *data, size_t len)
{
	const char *d;
	size_t dl;
	ssize_t n;

	if (!c->c_hchunk)
		return emit_body(c, data, len);
	while (len > 0 && !chunk_done(&c->c_rcd)) {
		if ((n = chunk_feed(&c->c_rcd, data, len, &d, &dl)) < 0) {
			/* What came before goes out, and then the close:
			 * the client sees the body cut. */
			conn_log(c, LOG_WARNING,
			    "handler sent a malformed chunked body");
			c->c_hdone = c->c_close = 1;
			return 0;
		}
		if (emit_body(c, d, dl) == -1)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	if (chunk_done(&c->c_rcd) && !c->c_hdone)
		return end_body(c);
	return 0;
}

/* Handler -> client, the response head.  1 progress, 0 none, -1 ended. */
int
resp_step_head(struct conn *c)
{
	struct http_resp rp;
	const char *why;
	size_t room;
	ssize_t n;
	int hl;

	if (!c->c_hrd)
		return 0;
	room = ASH_RESPHEAD_MAX - c->c_hbuf.b_len;
	if (room > sizeof(conn_iobuf))
		room = sizeof(conn_iobuf);
	if ((n = read_handler(c, conn_iobuf, room)) < 0) {
		if (!c->c_hrd)
			return 0;
		conn_log(c, LOG_WARNING, "reading from the handler: %s",
		    strerror(errno));
		conn_fail(c, 502, "The handler failed.");
		return -1;
	}
	if (n == 0) {
		conn_log(c, LOG_WARNING,
		    "handler closed without a complete response head");
		conn_fail(c, 502, "The handler sent no valid response.");
		return -1;
	}
	if (buf_append(&c->c_hbuf, conn_iobuf, (size_t)n) == -1) {
		conn_fail(c, 500, "Out of memory.");
		return -1;
	}
	hl = http_parse_response(c->c_hbuf.b_data, c->c_hbuf.b_len, &rp);
	if (hl == 0 && c->c_hbuf.b_len >= ASH_RESPHEAD_MAX)
		hl = -1, errno = EMSGSIZE;
	if (hl == 0)
		return 1;
	if (hl < 0) {
		conn_log(c, LOG_WARNING,
		    "handler sent a malformed response head");
		conn_fail(c, 502, "The handler sent an invalid response.");
		return -1;
	}
	if ((why = start_response(c, &rp)) != NULL) {
		http_resp_free(&rp);
		conn_log(c, LOG_WARNING, "handler's response head: %s", why);
		if (why == nomem)
			conn_fail(c, 500, "Out of memory.");
		else
			conn_fail(c, 502,
			    "The handler sent an invalid response.");
		return -1;
	}
	http_resp_free(&rp);
	c->c_rs = RS_BODY;
	if (c->c_rmode == BM_LENGTH && c->c_rleft == 0)
		c->c_hdone = 1;
	n = (ssize_t)(c->c_hbuf.b_len - (size_t)hl);
	if (relay_body(c, c->c_hbuf.b_data + hl, (size_t)n) == -1) {
		conn_abort(c);
		return -1;
	}
	if (c->c_state == CS_DUPLEX && c->c_rmode == BM_NONE)
		buf_append(&c->c_out, c->c_hbuf.b_data + hl, (size_t)n);
	buf_free(&c->c_hbuf);
	return 1;
}

void
resp_splice_end(struct conn *c)
{
	if (c->c_pipe[0] >= 0) {
		close(c->c_pipe[0]);
		close(c->c_pipe[1]);
	}
	c->c_pipe[0] = c->c_pipe[1] = -1;
	c->c_piped = 0;
}

/*
 * A long body of known length goes from the handler's socket to the
 * client's through a pipe, never copied into htparser (zero-copy).
 * 1 progress, 0 none, -1 ended.
 */
static int
step_splice(struct conn *c)
{
	size_t want;
	ssize_t n;
	int prog = 0;

	if (c->c_piped > 0 && c->c_cwr) {
		conn_nodelay(c);
		n = splice(c->c_pipe[0], NULL, c->c_fd, NULL, c->c_piped,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			c->c_cwr = 0;
		else if (n <= 0) {
			conn_abort(c);
			return -1;
		} else {
			c->c_piped -= (size_t)n;
			prog = 1;
		}
	}
	if (!c->c_hdone && c->c_hrd && c->c_piped < ASH_SPLICE_MIN) {
		want = (size_t)(c->c_rleft < ASH_SPLICE_PIPE ? c->c_rleft
							     : ASH_SPLICE_PIPE);
		n = splice(c->c_hfd, NULL, c->c_pipe[1], NULL, want,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			c->c_hrd = 0;
		else if (n <= 0) {
			/* The handler ended (or broke) its response short. */
			if (end_body(c)) {
				conn_abort(c);
				return -1;
			}
			prog = 1;
		} else {
			c->c_piped += (size_t)n;
			c->c_rleft -= n;
			if (c->c_rleft == 0)
				c->c_hdone = 1;
			prog = 1;
		}
	}
	return prog;
}

/* Handler -> client, the body.  1 progress, 0 none, -1 ended. */
int
resp_step_body(struct conn *c)
{
	size_t room;
	ssize_t n;

	/* Once the head is out, a long body switches to splicing. */
	if (c->c_pipe[0] < 0 && c->c_rmode == BM_LENGTH &&
	    c->c_rleft >= ASH_SPLICE_MIN && c->c_out.b_len == 0 &&
	    !c->c_hdone) {
		if (pipe2(c->c_pipe, O_NONBLOCK | O_CLOEXEC) == -1)
			c->c_pipe[0] = c->c_pipe[1] = -1; /* copy */
		else
			fcntl(c->c_pipe[1], F_SETPIPE_SZ, ASH_SPLICE_PIPE);
	}
	if (c->c_pipe[0] >= 0)
		return step_splice(c);
	if (c->c_hdone || !c->c_hrd || c->c_out.b_len >= ASH_IOBUF_SIZE)
		return 0;
	room = ASH_IOBUF_SIZE;
	if (c->c_rmode == BM_LENGTH && (long long)room > c->c_rleft)
		room = (size_t)c->c_rleft;
	if ((n = read_handler(c, conn_iobuf, room)) < 0) {
		if (!c->c_hrd)
			return 0;
		n = 0; /* a reset is an end, like EOF */
	}
	if (n == 0 ? end_body(c) : relay_body(c, conn_iobuf, (size_t)n)) {
		conn_abort(c);
		return -1;
	}
	return 1;
}

/* CS_DUPLEX: a raw pipe between the client and c_dfd. */
int
resp_step_duplex(struct conn *c)
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
		if ((rv = conn_read(c, ASH_IOBUF_SIZE)) < 0) {
			if (!c->c_cleof)
				goto end;
			shutdown(c->c_dfd, SHUT_WR);
			prog = 1;
		} else
			prog |= rv;
	}
	/* peer -> client */
	if (!c->c_deof && c->c_drd && c->c_out.b_len < ASH_IOBUF_SIZE) {
		n = recv(c->c_dfd, conn_iobuf, ASH_IOBUF_SIZE, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			c->c_drd = 0;
		else if (n <= 0) {
			c->c_deof = 1;
			prog = 1;
		} else {
			if (buf_append(&c->c_out, conn_iobuf, (size_t)n) == -1)
				goto end;
			prog = 1;
		}
	}
	if ((rv = conn_flush(c)) < 0)
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
