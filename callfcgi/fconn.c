/*
 * fconn.c: FastCGI connections to the backends, and the requests that
 * run on them.
 *
 * A request (struct freq) goes through these states:
 *   SPOOL  no Content-Length: the body is stored first (cgi_spool), so
 *          that CONTENT_LENGTH can be given -> WAIT
 *   WAIT   waiting for a connection (all busy, or backends down)
 *   RUN    on a connection: BEGIN_REQUEST (KEEP_CONN) and PARAMS sent,
 *          STDIN streamed as the body arrives, STDOUT translated (CGI
 *          head -> HTTP head) and relayed to the client -> DONE at
 *          END_REQUEST
 *   DONE   flushing what is left to the client
 *   DEAD   freed at the end of the loop's batch (loop_defer), so that a
 *          caller still holding it can see it is gone
 * A connection carries one request at a time, or up to b_maxreqs when
 * the application said FCGI_MPXS_CONNS=1.  Kept-alive connections are
 * reused.  Backpressure: a connection is not read while one of its
 * requests has more than QBUF_MAX bytes waiting for its client, and a
 * request's body is not read while its connection has more than
 * CBUF_MAX bytes waiting to be sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "callfcgi.h"
#include "cgi.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "req.h"

#define QBUF_MAX	(64 * 1024)
#define CBUF_MAX	(64 * 1024)
#define HEAD_MAX	(64 * 1024)
#define MPX_DEFAULT	16
#define RETRY_MS	1000

enum cstate { C_CONNECTING, C_READY };
enum qstate { Q_SPOOL, Q_WAIT, Q_RUN, Q_DONE, Q_DEAD };

struct fconn {
	struct fconn	*c_next;	/* b_conns */
	struct backend	*c_be;
	enum cstate	 c_state;
	int		 c_fd;
	struct watch	 c_w;
	struct buf	 c_out;
	struct fcgi_dec	 c_dec;
	struct freq	*c_reqs;	/* running here, via q_cnext */
	int		 c_nreqs;
	unsigned	 c_nextid;
};

struct freq {
	struct freq	*q_next, *q_prev;	/* all requests */
	struct freq	*q_wnext;		/* waiting FIFO */
	struct freq	*q_cnext;		/* on the connection */
	enum qstate	 q_state;
	struct req	*q_req;
	const char	*q_name;		/* for the log */
	char		*q_script;
	int		 q_sock;
	struct watch	 q_sw;
	struct timer	 q_timer;
	struct fconn	*q_conn;
	unsigned	 q_id;
	struct buf	 q_params;		/* BEGIN + PARAMS, kept for retries */
	int		 q_spool;		/* stored body, or -1 */
	long long	 q_spooled;
	int		 q_bodysock;		/* the body comes from q_sock */
	unsigned	 q_stdin_done:1, q_stdin_sent:1, q_gotrec:1;
	unsigned	 q_headdone:1, q_aborted:1;
	int		 q_tries;
	uint64_t	 q_since;
	struct buf	 q_head;		/* CGI head being gathered */
	struct buf	 q_out;			/* to the client */
	struct buf	 q_err;			/* a partial STDERR line */
};

static struct freq *reqs, *waithead, **waittail = &waithead;
static struct timer retrytimer;
static char iobuf[65536];

static void	conn_update(struct fconn *c);
static void	conn_close(struct fconn *c, const char *why);
static void	freq_update(struct freq *q);
static void	freq_free(struct freq *q);
static void	freq_dispatch(struct freq *q);
static void	sock_event(struct watch *w, uint32_t ev);
static void	retry_event(struct timer *t);

/* Requests. */

/* Answer `status` if nothing went out yet (0: nobody to answer). */
static void
freq_answer(struct freq *q, int status, const char *msg)
{
	if (status && q->q_sock >= 0 && !q->q_headdone) {
		http_error(q->q_sock, status, msg);
		q->q_headdone = 1;
	}
}

static void
freq_close_sock(struct freq *q)
{
	if (q->q_sock >= 0) {
		loop_unwatch(loop, &q->q_sw);
		close(q->q_sock);
		q->q_sock = -1;
	}
	buf_free(&q->q_out);
}

/* Take q off its connection. */
static void
freq_detach(struct freq *q)
{
	struct fconn *c = q->q_conn;
	struct freq **pp;

	if (c == NULL)
		return;
	for (pp = &c->c_reqs; *pp; pp = &(*pp)->q_cnext) {
		if (*pp == q) {
			*pp = q->q_cnext;
			break;
		}
	}
	c->c_nreqs--;
	q->q_conn = NULL;
	q->q_cnext = NULL;
	conn_update(c);
	/* The connection may take a waiting request now. */
	freq_retry_waiting();
}

/* End q: answer if it can, then flush and free. */
static void
freq_end(struct freq *q, int status, const char *msg)
{
	freq_detach(q);
	loop_untimer(loop, &q->q_timer);
	freq_answer(q, status, msg);
	q->q_state = Q_DONE;
	if (q->q_sock < 0 || q->q_out.b_len == 0) {
		freq_free(q);
		return;
	}
	freq_update(q);
}

static void
freq_free(struct freq *q)
{
	struct freq **pp;

	if (q->q_state == Q_DEAD)
		return;
	freq_detach(q);
	if (q->q_state == Q_WAIT)
		for (pp = &waithead; *pp; pp = &(*pp)->q_wnext)
			if (*pp == q) {
				*pp = q->q_wnext;
				if (*pp == NULL)
					waittail = pp;
				break;
			}
	freq_close_sock(q);
	loop_untimer(loop, &q->q_timer);
	if (q->q_spool >= 0)
		close(q->q_spool);
	if (q->q_err.b_len)
		log_msg(LOG_WARNING, "%s: %s", q->q_name, q->q_err.b_data);
	buf_free(&q->q_params);
	buf_free(&q->q_head);
	buf_free(&q->q_out);
	buf_free(&q->q_err);
	req_free(q->q_req);
	q->q_req = NULL;
	free(q->q_script);
	q->q_script = NULL;
	if (q->q_prev)
		q->q_prev->q_next = q->q_next;
	else
		reqs = q->q_next;
	if (q->q_next)
		q->q_next->q_prev = q->q_prev;
	q->q_state = Q_DEAD;
	if (loop_defer(loop, free, q) == -1)
		log_msg(LOG_ERR, "cannot free a request: leaked");
	handler_release();
}

/* The client left: stop the application's work on it. */
static void
freq_abort(struct freq *q)
{
	struct fconn *c = q->q_conn;

	log_msg(LOG_INFO, "%s: client went away", q->q_name);
	freq_close_sock(q);
	if (q->q_state != Q_RUN || c == NULL) {
		freq_free(q);
		return;
	}
	if (c->c_state == C_READY && !q->q_aborted &&
	    fcgi_encode_abort(&c->c_out, q->q_id) == 0) {
		q->q_aborted = 1;
		conn_update(c);
		return;		/* END_REQUEST will free it */
	}
	conn_close(c, "abort not possible");
}

/* Send buffered output to the client; -1 if q is gone. */
static int
freq_flush(struct freq *q)
{
	ssize_t n;

	while (q->q_sock >= 0 && q->q_out.b_len > 0) {
		n = send(q->q_sock, q->q_out.b_data, q->q_out.b_len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			freq_abort(q);
			return -1;
		}
		buf_consume(&q->q_out, (size_t)n);
	}
	if (q->q_state == Q_DONE && q->q_out.b_len == 0) {
		freq_free(q);
		return -1;
	}
	if (q->q_conn)
		conn_update(q->q_conn);
	return 0;
}

/* STDOUT data for q. */
static int
freq_stdout(struct freq *q, const char *data, size_t len)
{
	struct http_resp rp;
	const char *why;
	int n;

	if (q->q_aborted || q->q_sock < 0)
		return 0;
	if (q->q_headdone)
		return buf_append(&q->q_out, data, len);
	if (buf_append(&q->q_head, data, len) == -1)
		return -1;
	n = cgi_parse_head(q->q_head.b_data, q->q_head.b_len, &rp, &why);
	if (n == 0 && q->q_head.b_len < HEAD_MAX)
		return 0;
	if (n <= 0) {
		log_msg(LOG_ERR, "%s: backend %s: %s", q->q_name,
		    q->q_conn->c_be->b_name, n == 0 ? "response head too large" :
		    why ? why : strerror(errno));
		freq_answer(q, 502, "The application sent an invalid response.");
		q->q_aborted = 1;	/* discard the rest */
		freq_close_sock(q);
		return 0;
	}
	if (cgi_http_head(&q->q_out, &rp) == -1 ||
	    buf_append(&q->q_out, q->q_head.b_data + n,
	    q->q_head.b_len - (size_t)n) == -1) {
		http_resp_free(&rp);
		return -1;
	}
	http_resp_free(&rp);
	buf_free(&q->q_head);
	q->q_headdone = 1;
	return 0;
}

/* STDERR data: logged a line at a time. */
static void
freq_stderr(struct freq *q, const char *data, size_t len)
{
	char *nl;
	size_t l;

	if (buf_append(&q->q_err, data, len) == -1)
		return;
	while ((nl = memchr(q->q_err.b_data, '\n', q->q_err.b_len)) != NULL ||
	    q->q_err.b_len > 4096) {
		l = nl ? (size_t)(nl - q->q_err.b_data) : q->q_err.b_len;
		log_msg(LOG_WARNING, "%s: %.*s", q->q_name, (int)l,
		    q->q_err.b_data);
		buf_consume(&q->q_err, nl ? l + 1 : l);
	}
}

static void
freq_endrequest(struct freq *q, const struct fcgi_rec *rec)
{
	uint32_t app;
	int proto;

	if (fcgi_parse_end(rec->fr_content, rec->fr_len, &app, &proto) == -1)
		proto = -1;
	switch (proto) {
	case FCGI_REQUEST_COMPLETE:
		if (!q->q_headdone && !q->q_aborted)
			log_msg(LOG_ERR, "%s: backend %s: %s", q->q_name,
			    q->q_conn->c_be->b_name, q->q_head.b_len ?
			    "incomplete response head" : "no response");
		freq_end(q, 502, "The application sent no valid response.");
		return;
	case FCGI_CANT_MPX_CONN:
		q->q_conn->c_be->b_mpx = 0;
		log_msg(LOG_WARNING, "%s: backend %s cannot multiplex",
		    q->q_name, q->q_conn->c_be->b_name);
		freq_end(q, 503, "The application is busy.");
		return;
	case FCGI_OVERLOADED:
		log_msg(LOG_WARNING, "%s: backend %s: overloaded", q->q_name,
		    q->q_conn->c_be->b_name);
		freq_end(q, 503, "The application is overloaded.");
		return;
	default:
		log_msg(LOG_ERR, "%s: backend %s: %s", q->q_name,
		    q->q_conn->c_be->b_name, proto == FCGI_UNKNOWN_ROLE ?
		    "does not take the responder role" : "bad END_REQUEST");
		freq_end(q, 502, "The application refused the request.");
		return;
	}
}

/* Body bytes for q's STDIN, while the connection has room. */
static void
freq_pump_stdin(struct freq *q)
{
	struct fconn *c = q->q_conn;
	ssize_t n;

	while (c && !q->q_stdin_done && c->c_out.b_len < CBUF_MAX &&
	    !q->q_aborted) {
		if (q->q_bodysock)
			n = recv(q->q_sock, iobuf, sizeof(iobuf), MSG_DONTWAIT);
		else if (q->q_spool >= 0)
			n = read(q->q_spool, iobuf, sizeof(iobuf));
		else
			n = 0;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0) {
			freq_abort(q);
			return;
		}
		if (n == 0) {
			q->q_stdin_done = 1;
			if (fcgi_encode_stream_end(&c->c_out, FCGI_STDIN,
			    q->q_id) == -1)
				conn_close(c, "out of memory");
			break;
		}
		if (fcgi_encode_stream(&c->c_out, FCGI_STDIN, q->q_id, iobuf,
		    (size_t)n) == -1) {
			conn_close(c, "out of memory");
			return;
		}
		q->q_stdin_sent = 1;
		/* The application cannot be blamed for a slow client. */
		loop_timer(loop, &q->q_timer, opt.o_timeout);
	}
	if (c)
		conn_update(c);
	freq_update(q);
}

static void
freq_timeout(struct timer *t)
{
	struct freq *q = t->t_arg;
	struct fconn *c = q->q_conn;

	if (q->q_state != Q_RUN || c == NULL) {
		log_msg(LOG_WARNING, "%s: no backend available in time",
		    q->q_name);
		freq_answer(q, 503, "No application is available.");
		freq_free(q);
		return;
	}
	log_msg(LOG_WARNING, "%s: backend %s silent for %llu ms", q->q_name,
	    c->c_be->b_name, (unsigned long long)opt.o_timeout);
	freq_answer(q, 504, "The application did not answer in time.");
	if (c->c_nreqs == 1)
		conn_close(c, "timed out");
	else
		freq_abort(q);
}

/* Epoll interest of the client's socket. */
static void
freq_update(struct freq *q)
{
	uint32_t ev = 0;

	if (q->q_sock < 0)
		return;
	if (q->q_out.b_len > 0)
		ev |= EPOLLOUT;
	if (q->q_state == Q_SPOOL || (q->q_state == Q_RUN && q->q_bodysock &&
	    !q->q_stdin_done && q->q_conn &&
	    q->q_conn->c_out.b_len < CBUF_MAX))
		ev |= EPOLLIN;
	loop_watch(loop, &q->q_sw, ev);
}

/* Connections. */

static void
conn_free(void *arg)
{
	struct fconn *c = arg;

	fcgi_dec_free(&c->c_dec);
	buf_free(&c->c_out);
	free(c);
}

/* Close c; its requests end (502 if nothing was sent for them), or
 * go back to waiting when nothing of theirs is lost. */
static void
conn_close(struct fconn *c, const char *why)
{
	struct backend *b = c->c_be;
	struct fconn **pp;
	struct freq *q;

	for (pp = &b->b_conns; *pp; pp = &(*pp)->c_next)
		if (*pp == c) {
			*pp = c->c_next;
			break;
		}
	b->b_nconns--;
	loop_unwatch(loop, &c->c_w);
	close(c->c_fd);
	c->c_fd = -1;
	while ((q = c->c_reqs) != NULL) {
		c->c_reqs = q->q_cnext;
		q->q_conn = NULL;
		q->q_cnext = NULL;
		if (c->c_state == C_CONNECTING)
			q->q_tries--;	/* never reached the application */
		if (!q->q_gotrec && !q->q_stdin_sent && !q->q_aborted &&
		    q->q_tries < 3) {
			/* Nothing lost (a kept-alive connection the
			 * application had closed): try again. */
			if (q->q_spool >= 0)
				lseek(q->q_spool, 0, SEEK_SET);
			q->q_stdin_done = 0;
			q->q_state = Q_WAIT;
			freq_dispatch(q);
			continue;
		}
		if (!q->q_headdone && !q->q_aborted)
			log_msg(LOG_ERR, "%s: backend %s: %s", q->q_name,
			    b->b_name, why);
		freq_end(q, 502, "The application failed.");
	}
	c->c_nreqs = 0;
	loop_defer(loop, conn_free, c);
}

static void
conn_values(struct fconn *c, const struct fcgi_rec *rec)
{
	struct backend *b = c->c_be;
	struct fcgi_nv nv;
	size_t off = 0;
	char val[32];

	while (fcgi_next_nv(rec->fr_content, rec->fr_len, &off, &nv) == 1) {
		if (nv.nv_valuelen >= sizeof(val))
			continue;
		memcpy(val, nv.nv_value, nv.nv_valuelen);
		val[nv.nv_valuelen] = '\0';
		if (nv.nv_namelen == 15 &&
		    !memcmp(nv.nv_name, FCGI_MPXS_CONNS, 15))
			b->b_mpx = atoi(val) > 0;
		else if (nv.nv_namelen == 13 &&
		    !memcmp(nv.nv_name, FCGI_MAX_REQS, 13) && atoi(val) > 0)
			b->b_maxreqs = atoi(val);
		else if (nv.nv_namelen == 14 &&
		    !memcmp(nv.nv_name, FCGI_MAX_CONNS, 14) && atoi(val) > 0)
			b->b_maxconns = atoi(val);
	}
	b->b_known = 1;
}

static void
conn_record(struct fconn *c, const struct fcgi_rec *rec)
{
	struct freq *q;

	if (rec->fr_id == FCGI_NULL_REQUEST_ID) {
		if (rec->fr_type == FCGI_GET_VALUES_RESULT)
			conn_values(c, rec);
		return;
	}
	for (q = c->c_reqs; q; q = q->q_cnext)
		if (q->q_id == rec->fr_id)
			break;
	if (q == NULL)
		return;		/* late records of an ended request */
	q->q_gotrec = 1;
	loop_timer(loop, &q->q_timer, opt.o_timeout);
	switch (rec->fr_type) {
	case FCGI_STDOUT:
		if (freq_stdout(q, rec->fr_content, rec->fr_len) == -1) {
			freq_answer(q, 500, "Out of memory.");
			freq_close_sock(q);
			q->q_aborted = 1;
		}
		if (freq_flush(q) == 0)
			freq_update(q);
		break;
	case FCGI_STDERR:
		freq_stderr(q, rec->fr_content, rec->fr_len);
		break;
	case FCGI_END_REQUEST:
		/* No answer to GET_VALUES before a request ended: it
		 * will not come; go on with the defaults. */
		c->c_be->b_known = 1;
		freq_endrequest(q, rec);
		break;
	}
}

/* Does one of c's requests have too much waiting for its client? */
static int
conn_blocked(const struct fconn *c)
{
	const struct freq *q;

	for (q = c->c_reqs; q; q = q->q_cnext)
		if (q->q_out.b_len >= QBUF_MAX)
			return 1;
	return 0;
}

static void
conn_read(struct fconn *c)
{
	struct fcgi_rec rec;
	size_t off = 0, used;
	ssize_t n;
	int rv;

	n = recv(c->c_fd, iobuf, sizeof(iobuf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c, n == 0 ? "connection closed" : strerror(errno));
		return;
	}
	while (off < (size_t)n) {
		rv = fcgi_dec_feed(&c->c_dec, iobuf + off, (size_t)n - off,
		    &used, &rec);
		off += used;
		if (rv < 0) {
			conn_close(c, fcgi_dec_error(&c->c_dec));
			return;
		}
		if (rv == 0)
			break;
		conn_record(c, &rec);
		if (c->c_fd < 0)
			return;		/* closed while handling it */
	}
}

static void
conn_event(struct watch *w, uint32_t ev)
{
	struct fconn *c = w->w_arg;
	struct freq *q, *next;
	socklen_t sl = sizeof(int);
	ssize_t n;
	int err = 0;

	if (c->c_state == C_CONNECTING) {
		if (getsockopt(c->c_fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
			err = errno;
		if (err) {
			backend_down(c->c_be, strerror(err));
			conn_close(c, strerror(err));
			return;
		}
		c->c_state = C_READY;
	}
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !conn_blocked(c)) {
		conn_read(c);
		if (c->c_fd < 0)
			return;
	}
	while (c->c_out.b_len > 0) {
		n = send(c->c_fd, c->c_out.b_data, c->c_out.b_len,
		    MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_close(c, strerror(errno));
			return;
		}
		buf_consume(&c->c_out, (size_t)n);
	}
	for (q = c->c_reqs; q; q = next) {
		next = q->q_cnext;
		if (!q->q_stdin_done)
			freq_pump_stdin(q);
		if (c->c_fd < 0)
			return;
	}
	conn_update(c);
}

static void
conn_update(struct fconn *c)
{
	uint32_t ev = 0;

	if (c->c_fd < 0)
		return;
	if (c->c_state == C_CONNECTING || c->c_out.b_len > 0)
		ev |= EPOLLOUT;
	if (c->c_state == C_READY && !conn_blocked(c))
		ev |= EPOLLIN;
	if (loop_watch(loop, &c->c_w, ev) == -1)
		conn_close(c, "epoll failed");
}

static struct fconn *
conn_new(struct backend *b)
{
	static const char *const names[] = {
		FCGI_MAX_CONNS, FCGI_MAX_REQS, FCGI_MPXS_CONNS
	};
	struct fconn *c;
	int fd;

	if ((fd = backend_connect(b)) == -1) {
		backend_down(b, strerror(errno));
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->c_be = b;
	c->c_fd = fd;
	c->c_state = C_CONNECTING;
	fcgi_dec_init(&c->c_dec);
	watch_init(&c->c_w, fd, conn_event, c);
	if (!b->b_known)
		fcgi_encode_get_values(&c->c_out, names, 3);
	c->c_next = b->b_conns;
	b->b_conns = c;
	b->b_nconns++;
	return c;
}

/* A connection of b that can take a request now, or NULL. */
static struct fconn *
conn_for(struct backend *b)
{
	struct fconn *c;
	int maxreqs = b->b_mpx ? (b->b_maxreqs ? b->b_maxreqs :
	    MPX_DEFAULT) : 1;

	int maxconns;

	for (c = b->b_conns; c; c = c->c_next)
		if (c->c_nreqs < maxreqs)
			return c;
	/*
	 * Until the application said how many connections it takes, one:
	 * a single-process one (php-cgi -b) would never accept a second
	 * while the first is kept alive.  Then what it said (times the
	 * processes of our pool, which each answer for themselves), else
	 * the pool's size or 16; -m caps it.
	 */
	if (!b->b_known)
		maxconns = 1;
	else if (b->b_maxconns > 0)
		maxconns = b->b_maxconns * (opt.o_argv ? opt.o_nprocs : 1);
	else
		maxconns = opt.o_argv ? opt.o_nprocs : 16;
	if (opt.o_maxconns > 0 && opt.o_maxconns < maxconns)
		maxconns = opt.o_maxconns;
	if (b->b_nconns >= maxconns)
		return NULL;
	return conn_new(b);
}

static unsigned
conn_id(struct fconn *c)
{
	struct freq *q;

	for (;;) {
		c->c_nextid = c->c_nextid % FCGI_MAX_ID + 1;
		for (q = c->c_reqs; q; q = q->q_cnext)
			if (q->q_id == c->c_nextid)
				break;
		if (q == NULL)
			return c->c_nextid;
	}
}

/* Start q on c. */
static void
conn_attach(struct fconn *c, struct freq *q)
{
	size_t off;

	q->q_conn = c;
	q->q_id = conn_id(c);
	q->q_cnext = c->c_reqs;
	c->c_reqs = q;
	c->c_nreqs++;
	q->q_state = Q_RUN;
	q->q_tries++;
	off = c->c_out.b_len;
	/* The request id is in bytes 2-3 of every record header. */
	if (buf_append(&c->c_out, q->q_params.b_data,
	    q->q_params.b_len) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	for (; off + FCGI_HEADER_LEN <= c->c_out.b_len;) {
		unsigned char *h = (unsigned char *)c->c_out.b_data + off;
		size_t clen = (size_t)h[4] << 8 | h[5];

		h[2] = (unsigned char)(q->q_id >> 8);
		h[3] = (unsigned char)q->q_id;
		off += FCGI_HEADER_LEN + clen + h[6];
	}
	loop_timer(loop, &q->q_timer, opt.o_timeout);
	freq_pump_stdin(q);
}

/* Put q on a connection, or make it wait. */
static void
freq_dispatch(struct freq *q)
{
	struct backend *b;
	struct fconn *c;
	int anyup = 0;

	for (b = backends; b; b = b->b_next) {
		if (!backend_up(b))
			continue;
		if ((c = conn_for(b)) != NULL) {
			conn_attach(c, q);
			return;
		}
		anyup |= backend_up(b);
	}
	if (!anyup && opt.o_retries <= 0 &&
	    loop_now() - q->q_since > RETRY_MS * 2) {
		log_msg(LOG_ERR, "%s: no backend can be reached", q->q_name);
		freq_answer(q, backends->b_next ? 503 : 502,
		    "The application cannot be reached.");
		freq_free(q);
		return;
	}
	if (!anyup && opt.o_retries > 0 &&
	    loop_now() - q->q_since > (uint64_t)opt.o_retries * RETRY_MS) {
		log_msg(LOG_ERR, "%s: no backend came up", q->q_name);
		freq_answer(q, backends->b_next ? 503 : 502,
		    "The application cannot be reached.");
		freq_free(q);
		return;
	}
	q->q_state = Q_WAIT;
	q->q_wnext = NULL;
	*waittail = q;
	waittail = &q->q_wnext;
	if (!timer_armed(&retrytimer))
		loop_timer(loop, &retrytimer, RETRY_MS / 4);
}

void
freq_retry_waiting(void)
{
	struct freq *q;
	int n;

	/* Each waiting request gets one try; those that still cannot go
	 * queue up again behind. */
	for (n = 0, q = waithead; q; q = q->q_wnext)
		n++;
	while (n-- > 0 && (q = waithead) != NULL) {
		waithead = q->q_wnext;
		if (waithead == NULL)
			waittail = &waithead;
		freq_dispatch(q);
	}
}

static void
retry_event(struct timer *t)
{
	freq_retry_waiting();
}

/* Build what the application gets for q: BEGIN_REQUEST and PARAMS
 * (with request id 0, patched in conn_attach()). */
static int
freq_params(struct freq *q)
{
	struct fcgi_nv *nv;
	struct cgienv env;
	size_t i;
	int rv;

	if (cgi_env_build(&env, q->q_req, q->q_script,
	    q->q_bodysock ? -1 : q->q_spooled) == -1)
		return -1;
	if ((nv = calloc(env.ce_n + 1, sizeof(*nv))) == NULL) {
		cgi_env_free(&env);
		return -1;
	}
	for (i = 0; i < env.ce_n; i++) {
		nv[i].nv_name = env.ce_vars[i].cv_name;
		nv[i].nv_namelen = strlen(env.ce_vars[i].cv_name);
		nv[i].nv_value = env.ce_vars[i].cv_value;
		nv[i].nv_valuelen = strlen(env.ce_vars[i].cv_value);
	}
	rv = fcgi_encode_begin(&q->q_params, 0, FCGI_RESPONDER,
	    FCGI_KEEP_CONN) == -1 || fcgi_encode_params(&q->q_params, 0, nv,
	    env.ce_n) == -1 ? -1 : 0;
	free(nv);
	cgi_env_free(&env);
	return rv;
}

static void
freq_ready(struct freq *q)
{
	if (freq_params(q) == -1) {
		freq_answer(q, 500, "Out of memory.");
		freq_free(q);
		return;
	}
	q->q_since = loop_now();
	freq_dispatch(q);
	if (q->q_state != Q_DEAD)
		freq_update(q);
}

static void
sock_event(struct watch *w, uint32_t ev)
{
	struct freq *q = w->w_arg;
	int rv;

	if (q->q_state == Q_SPOOL) {
		rv = cgi_spool(q->q_sock, opt.o_tmpdir, &q->q_spool,
		    &q->q_spooled);
		if (rv == 0) {
			freq_update(q);
			return;
		}
		if (rv < 0) {
			if (errno != ECONNRESET && errno != EPIPE)
				log_errno(LOG_ERR, "%s: storing the request "
				    "body in %s", q->q_name, opt.o_tmpdir);
			freq_answer(q, 500, "Cannot store the request body.");
			freq_free(q);
			return;
		}
		freq_ready(q);
		return;
	}
	if ((ev & (EPOLLHUP | EPOLLERR)) && !(ev & EPOLLIN)) {
		freq_abort(q);
		return;
	}
	if ((ev & EPOLLIN) && q->q_state == Q_RUN && q->q_bodysock)
		freq_pump_stdin(q);
	if (q->q_state != Q_DEAD && freq_flush(q) == 0)
		freq_update(q);
}

void
freq_start(struct req *r, int sock)
{
	struct freq *q;
	const char *file, *base;

	q = xcalloc(1, sizeof(*q));
	q->q_req = r;
	q->q_sock = sock;
	q->q_spool = -1;
	/* Log lines name the script, else the URL asked for. */
	q->q_name = r->r_url;
	watch_init(&q->q_sw, sock, sock_event, q);
	timer_init(&q->q_timer, freq_timeout, q);
	if (!timer_armed(&retrytimer))
		timer_init(&retrytimer, retry_event, NULL);
	q->q_next = reqs;
	if (reqs)
		reqs->q_prev = q;
	reqs = q;
	handler_hold();
	if ((file = req_header(r, "X-Ash-File")) != NULL) {
		q->q_script = realpath(file, NULL);
		if (q->q_script == NULL)
			q->q_script = xstrdup(file);
		base = strrchr(q->q_script, '/');
		q->q_name = base ? base + 1 : q->q_script;
	}
	/* Requests wait for a backend at most as long as for an answer. */
	loop_timer(loop, &q->q_timer, opt.o_timeout);
	if (req_header(r, "Content-Length") != NULL) {
		q->q_bodysock = 1;
		freq_ready(q);
		return;
	}
	q->q_state = Q_SPOOL;
	sock_event(&q->q_sw, EPOLLIN);
}
