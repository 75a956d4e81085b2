/*
 * conn.c: one client connection, as an explicit state machine driven
 * by the event loop (request.c and resp.c hold the steps of the REQ
 * state's two directions; struct conn is in conn.h).
 *
 * State table (c_state):
 *   PROXY   on a "proxy" port, reading the PROXY header (proxyhdr.c)
 *           -> HEAD (valid header), closed (anything else, timeout)
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
 *
 * Shutdown (conn_shutdown_all): idle keep-alive connections close; every
 * other one gets to finish its request, including connections accepted
 * whose first request has not arrived yet, and the root socket stays
 * open until none of them can send another request (shutdown_check).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

char conn_iobuf[ASH_READBUF_SIZE];

static void conn_close(struct conn *c);

/* Helpers. */

void
conn_log(struct conn *c, int prio, const char *fmt, ...)
{
	char host[sizeof(c->c_peer.sun.sun_path) + 8], where[160], msg[512];
	unsigned port;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conn_addr_str(&c->c_peer, host, sizeof(host), &port);
	if (c->c_peer.sa.sa_family == AF_UNIX)
		snprintf(where, sizeof(where), "%s", host);
	else
		snprintf(where, sizeof(where),
		    strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	log_msg(prio, "%s%s%s: %s", where, c->c_what ? " " : "",
	    c->c_what ? c->c_what : "", msg);
}

/* Printable address and port of a socket address (conn.h). */
void
conn_addr_str(const union addr *a, char *host, size_t hcap, unsigned *port)
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

/* Timers. */

static uint64_t
tkind_ms(enum tkind k)
{
	switch (k) {
	case T_HEAD:
		return srv.s_opt.o_thead;
	case T_IDLE:
		return srv.s_opt.o_tidle;
	case T_BODY:
		return srv.s_opt.o_tbody;
	case T_HANDLER:
		return srv.s_opt.o_thandler;
	case T_SEND:
		return srv.s_opt.o_tsend;
	case T_LINGER:
		return ASH_LINGER_MS;
	default:
		return 0;
	}
}

void
conn_timer(struct conn *c, enum tkind k)
{
	c->c_tkind = k;
	if (k == T_NONE ||
	    loop_timer(srv.s_loop, &c->c_timer, tkind_ms(k)) == -1)
		loop_untimer(srv.s_loop, &c->c_timer);
}

/* Errors answered by htparser itself. */

void
conn_abort(struct conn *c)
{
	conn_close(c);
}

static void
drop_handler(struct conn *c)
{
	resp_splice_end(c);
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
void
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
	snprintf(extra, sizeof(extra),
	    "Date: %s\r\nServer: %s/%s\r\nConnection: close\r\n", date,
	    PACKAGE_NAME, PACKAGE_VERSION);
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

/*
 * Before every write to the client but its first: TCP_NODELAY, as nginx
 * sets it on a connection that stays open.  With Nagle's algorithm a
 * write waits while an earlier one is not acknowledged, and a client
 * delays its acknowledgement; the first write has nothing before it,
 * so a connection that is written once (a small response, then the
 * close) never needs the system call.
 */
void
conn_nodelay(struct conn *c)
{
	int one = 1;

	if (!c->c_wrote) {
		c->c_wrote = 1;
		return;
	}
	if (!c->c_nodelay) {
		setsockopt(c->c_fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		c->c_nodelay = 1;
	}
}

/* Write what c_out holds; 1 progress, 0 blocked or nothing, -1 dead. */
int
conn_flush(struct conn *c)
{
	ssize_t n;

	if (c->c_out.b_len == 0 || !c->c_cwr)
		return 0;
	conn_nodelay(c);
	n = send(c->c_fd, c->c_out.b_data, c->c_out.b_len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			c->c_cwr = errno == EINTR;
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
int
conn_read(struct conn *c, size_t max)
{
	size_t room;
	ssize_t n;

	if (!c->c_crd || c->c_in.b_len >= max)
		return 0;
	room = max - c->c_in.b_len;
	if (room > sizeof(conn_iobuf))
		room = sizeof(conn_iobuf);
	n = recv(c->c_fd, conn_iobuf, room, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			/* Edge-triggered: only EAGAIN means "wait". */
			c->c_crd = errno == EINTR;
			return 0;
		}
		return -1;
	}
	if (n == 0) {
		c->c_cleof = 1;
		return -1;
	}
	/* Less than asked: TCP gave all it had, and whatever comes next
	 * raises a new edge; no read just to meet EAGAIN.  Not once the
	 * client's end was signalled: that edge has come and gone. */
	if ((size_t)n < room && !c->c_rdhup)
		c->c_crd = 0;
	if (buf_append(&c->c_in, conn_iobuf, (size_t)n) == -1)
		return -1;
	c->c_mrbytes += (unsigned long long)n;
	return 1;
}

/* Reset the connection for its next request, or close it.  A body the
 * handler did not read (c_upfail) was read to its end all the same: the
 * next request starts where it ends, as the response head promised. */
static void
finish_request(struct conn *c)
{
	drop_handler(c);
	if (c->c_close || !c->c_bodydone || srv.s_stopping) {
		c->c_state = CS_FINAL;
		return;
	}
	buf_free(&c->c_up);
	buf_free(&c->c_hbuf);
	conn_enter_head(c);
}

/* CS_REQ. */
static int
step_req(struct conn *c)
{
	int rv, prog = 0;

	if (c->c_hfd >= 0 && !c->c_upshut && (rv = rq_step_upload(c)) != 0) {
		if (rv < 0)
			return 1;
		prog = 1;
	}
	if (c->c_rs == RS_HEAD)
		rv = resp_step_head(c);
	else
		rv = resp_step_body(c);
	if (rv < 0)
		return 1;
	prog |= rv;
	if (c->c_state != CS_REQ)
		return 1;
	if ((rv = conn_flush(c)) < 0) {
		conn_abort(c);
		return 1;
	}
	prog |= rv;
	if (c->c_rs == RS_BODY && c->c_hdone && c->c_out.b_len == 0 &&
	    c->c_piped == 0) {
		/* Any body the client is still sending is unwanted now. */
		if (!c->c_bodydone)
			c->c_close = 1;
		finish_request(c);
		return 1;
	}
	return prog;
}

/* CS_FINAL and CS_LINGER. */
static int
step_final(struct conn *c)
{
	ssize_t n;
	int rv;

	if (c->c_state == CS_FINAL) {
		if ((rv = conn_flush(c)) < 0) {
			conn_abort(c);
			return 1;
		}
		if (c->c_out.b_len > 0)
			return rv;
		/* The client said this request is its last and sent nothing
		 * after it (RFC 9112 9.6): nothing can come that a close
		 * would answer with a reset, no lingering needed. */
		if (c->c_clclose && c->c_bodydone && c->c_in.b_len == 0) {
			conn_close(c);
			return 1;
		}
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
	n = recv(c->c_fd, conn_iobuf, sizeof(conn_iobuf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		c->c_crd = 0;
		return 0;
	}
	if (n <= 0 || (c->c_linger += (size_t)n) > ASH_LINGER_MAX) {
		conn_abort(c);
		return 1;
	}
	return 1;
}

/* Waiting for a request head (or idle between requests). */
void
conn_enter_head(struct conn *c)
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
	if (srv.s_stopping && c->c_in.b_len == 0 && c->c_nreqs > 0)
		conn_abort(c);
}

/*
 * Epoll interest from what the connection wants now.  The client's
 * socket is watched edge-triggered: its readiness is already kept in
 * c_crd and c_cwr, cleared only by EAGAIN, and what the connection
 * wants decides whether it reads or writes, so its interest does not
 * change between requests (an epoll_ctl(2) saved at each end of a
 * request and at each start); it grows to EPOLLOUT once a write would
 * block, and stays.  The handler's sockets are watched level-triggered
 * for what there is room for.
 */
static void
conn_update(struct conn *c)
{
	uint32_t ce = EPOLLIN | EPOLLRDHUP | EPOLLET, he = 0, de = 0;

	ce |= c->c_cw.w_events & EPOLLOUT;
	switch (c->c_state) {
	case CS_REQ:
		if (!c->c_hdone && c->c_out.b_len < ASH_IOBUF_SIZE &&
		    c->c_piped < ASH_SPLICE_MIN)
			he |= EPOLLIN;
		if (c->c_up.b_len > 0)
			he |= EPOLLOUT;
		break;
	case CS_DUPLEX:
		if (!c->c_deof && c->c_out.b_len < ASH_IOBUF_SIZE)
			de |= EPOLLIN;
		if (c->c_in.b_len > 0)
			de |= EPOLLOUT;
		break;
	case CS_DEAD:
		return;
	default:
		break;
	}
	/* EPOLLOUT only from the first write that would block on: a
	 * socket added writable would report it at once, for nothing. */
	if (!c->c_cwr)
		ce |= EPOLLOUT;
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
conn_pick_timer(struct conn *c)
{
	if ((c->c_out.b_len > 0 || c->c_piped > 0) && !c->c_cwr)
		conn_timer(c, T_SEND);
	else if (!c->c_bodydone && c->c_up.b_len == 0)
		conn_timer(c, T_BODY);
	else
		conn_timer(c, T_HANDLER);
}

/*
 * Shutting down: once no connection can send another request (none is
 * reading a PROXY header or a request head, none waits for the root
 * socket), the root socket closes and the root handler sees its end.
 */
static void
shutdown_check(void)
{
	struct conn *c;

	if (!srv.s_stopping || srv.s_rootfd < 0)
		return;
	for (c = srv.s_conns; c; c = c->c_next)
		if (c->c_state == CS_PROXY || c->c_state == CS_HEAD ||
		    c->c_state == CS_WAIT)
			return;
	root_close();
}

void
conn_run(struct conn *c)
{
	int prog, any = 0;

	do {
		switch (c->c_state) {
		case CS_PROXY:
			prog = proxyhdr_step(c);
			break;
		case CS_HEAD:
			prog = rq_step_head(c);
			break;
		case CS_REQ:
			prog = step_req(c);
			break;
		case CS_DUPLEX:
			prog = resp_step_duplex(c);
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
		conn_pick_timer(c);
	rq_rate_update(c);
	conn_update(c);
	if (srv.s_stopping)
		shutdown_check();
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
	if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->c_rdhup = 1;
	if ((ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && c->c_state == CS_REQ &&
	    c->c_bodydone && client_gone(c)) {
		conn_abort(c);
		return;
	}
	conn_run(c);
}

void
conn_handler_event(struct watch *w, uint32_t ev)
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

	/* Whatever ran out, the request will not be passed on. */
	if (c->c_state == CS_WAIT)
		root_unqueue(c);
	switch (c->c_tkind) {
	case T_HEAD:
		if (c->c_state == CS_PROXY) {
			if (c->c_in.b_len > 0)
				conn_log(c, LOG_WARNING,
				    "PROXY header: incomplete after the time "
				    "limit");
			conn_abort(c);
			return;
		}
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
		conn_log(c, LOG_WARNING, "handler timed out");
		conn_fail(c, 504, "The handler did not answer in time.");
		break;
	default:
		return;
	}
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
	free(c->c_ashv);
	free(c->c_what);
	free(c);
}

static void
conn_close(struct conn *c)
{
	if (c->c_state == CS_DEAD)
		return;
	if (c->c_state == CS_WAIT)
		root_unqueue(c);
	c->c_state = CS_DEAD;
	drop_handler(c);
	loop_forget(srv.s_loop, &c->c_cw);
	loop_untimer(srv.s_loop, &c->c_timer);
	loop_untimer(srv.s_loop, &c->c_rtimer);
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
	else if (srv.s_stopping)
		shutdown_check();
}

static const char overload_msg[] = "HTTP/1.1 503 Service Unavailable\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Length: 20\r\n"
				   "Connection: close\r\n"
				   "\r\n"
				   "Server overloaded.\r\n";

/* Say so in the log, but at most once a minute. */
static void
overload_log(const char *why)
{
	static uint64_t last;
	uint64_t now = loop_now();

	if (last == 0 || now - last >= ASH_OVERLOAD_LOG_MS) {
		log_msg(LOG_WARNING, "%s: new connections get 503", why);
		last = now;
	}
}

/* Out of descriptors anyway: use the reserve to tell one client so. */
static void
accept_overload(struct listener *l)
{
	int fd;

	overload_log("out of file descriptors");
	if (srv.s_reservefd < 0)
		return;
	close(srv.s_reservefd);
	srv.s_reservefd = -1;
	fd = accept4(l->l_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd >= 0) {
		(void)!send(fd, overload_msg, sizeof(overload_msg) - 1,
		    MSG_NOSIGNAL);
		close(fd);
	}
	srv.s_reservefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

int
conn_accept(struct listener *l, int max)
{
	union addr peer;
	struct conn *c;
	socklen_t sl, pl;
	int fd, i, n = 0;

	for (i = 0; i < max; i++) {
		pl = sizeof(peer);
		fd = accept4(l->l_fd, &peer.sa, &pl,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				accept_overload(l);
			else if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_errno(LOG_WARNING, "accept");
			return n;
		}
		n++;
		if (srv.s_nconns >= srv.s_maxconns) {
			/* Keep descriptors for the requests of the
			 * connections there are. */
			overload_log("connection limit reached");
			(void)!send(fd, overload_msg, sizeof(overload_msg) - 1,
			    MSG_NOSIGNAL);
			close(fd);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->c_fd = fd;
		c->c_hfd = c->c_theirs = c->c_dfd = -1;
		c->c_pipe[0] = c->c_pipe[1] = -1;
		c->c_id = ++srv.s_nextid;
		memcpy(&c->c_peer, &peer,
		    pl < sizeof(peer) ? pl : sizeof(peer));
		sl = sizeof(c->c_local);
		if (l->l_haslocal)
			c->c_local = l->l_local;
		else
			getsockname(fd, &c->c_local.sa, &sl);
		watch_init(&c->c_cw, fd, client_event, c);
		watch_init(&c->c_hw, -1, conn_handler_event, c);
		timer_init(&c->c_timer, conn_timeout, c);
		timer_init(&c->c_rtimer, rq_rate_timeout, c);
		c->c_next = srv.s_conns;
		if (srv.s_conns)
			srv.s_conns->c_prev = c;
		srv.s_conns = c;
		srv.s_nconns++;
		c->c_crd = c->c_cwr = 1;
		c->c_https = l->l_https;
		conn_enter_head(c);
		/* The head timer runs from here: on a proxy port it covers
		 * the PROXY header and the first request head together. */
		if (l->l_proxy)
			c->c_state = CS_PROXY;
		conn_run(c);
	}
	return n;
}

/* The first shutdown signal, or the root handler went away (root.c):
 * the PID file says so, listening stops, and every connection finishes
 * its request without keep-alive. */
void
conn_shutdown_all(const char *why)
{
	struct conn *c, *next;

	if (srv.s_stopping)
		return;
	log_msg(LOG_INFO, "shutting down: %s", why);
	if (srv.s_pidfd >= 0) {
		/* The PID file protocol (htparser(1), FILES). */
		lseek(srv.s_pidfd, 0, SEEK_END);
		(void)!write(srv.s_pidfd, "\n", 1);
	}
	listen_stop();
	srv.s_stopping = 1;
	for (c = srv.s_conns; c; c = next) {
		next = c->c_next;
		c->c_close = 1;
		/* Idle between requests: the client will see the close
		 * before it sends again, or retry as HTTP lets it. */
		if (c->c_state == CS_HEAD && c->c_nreqs > 0 &&
		    c->c_in.b_len == 0)
			conn_abort(c);
	}
	if (srv.s_nconns == 0)
		loop_stop(srv.s_loop);
	else
		shutdown_check();
}
