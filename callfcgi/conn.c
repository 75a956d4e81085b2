/*
 * conn.c: FastCGI connections to the backends.
 *
 * A connection is CONNECTING until its socket is writable, then READY.
 * It carries one request at a time, or up to b_maxreqs when the
 * application said FCGI_MPXS_CONNS=1 (asked with GET_VALUES on the
 * first connection to a backend); kept-alive connections are reused.
 * Records are decoded here and handed to their request (request.c).
 * Backpressure: a connection is not read while one of its requests has
 * more than ASH_FCGI_QBUF_MAX bytes waiting for its client.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ashlimits.h"
#include "fconn.h"
#include "log.h"
#include "req.h"

static char iobuf[65536];

static void conn_write(struct fconn *);

static void
conn_free(void *arg)
{
	struct fconn *c = arg;

	fcgi_dec_free(&c->c_dec);
	buf_free(&c->c_out);
	free(c);
}

/*
 * Did q reach the application through c?  Only when some of its records
 * were written to the socket: a request whose records were all still
 * in c_out (a connection that never came up, or a kept-alive one the
 * application had closed, found at the first read or write) never did.
 * Nothing else is proof: the application may have read the records and
 * run the request (a worker killed while it ran a POST).
 */
static int
conn_reached(const struct fconn *c, const struct freq *q)
{
	return q->q_gotrec || (c->c_state == C_READY && c->c_sent > q->q_start);
}

/*
 * May q go again although it reached the application?  Only a request
 * of a safe method (RFC 9110 9.2.1, which a client may retry itself)
 * that got nothing back, on a kept-alive connection that had served
 * others and that the application closed or reset: an application that
 * ends a connection after some number of requests (php-cgi's
 * PHP_FCGI_MAX_REQUESTS) closes it while the next request is on its
 * way, and then never read it.
 */
static int
conn_stale(const struct fconn *c, const struct freq *q)
{
	const char *m = q->q_req->r_method;

	return c->c_lost && c->c_ended > 0 && !q->q_gotrec &&
	    (!strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS"));
}

/* Close c; its requests end (502, or 503 if memory ran out), or go back
 * to waiting when they never reached the application and nothing of
 * theirs is lost. */
void
conn_close(struct fconn *c, const char *why)
{
	struct backend *b = c->c_be;
	struct fconn *prev;
	struct freq *q;
	int nomem = !strcmp(why, "out of memory") ||
	    !strcmp(why, strerror(ENOMEM));

	if (b->b_conns == c)
		b->b_conns = c->c_next;
	else
		for (prev = b->b_conns; prev; prev = prev->c_next)
			if (prev->c_next == c) {
				prev->c_next = c->c_next;
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
			q->q_tries--; /* not a try of the application */
		/* A streamed body read from the client is gone with c_out. */
		if ((!conn_reached(c, q) || conn_stale(c, q)) &&
		    !q->q_aborted && !nomem &&
		    !(q->q_bodysock && q->q_stdin_sent) && q->q_tries < 3) {
			if (c->c_state == C_READY)
				log_msg(LOG_INFO,
				    "%s: backend %s: %s before %s; sending "
				    "it again",
				    q->q_name, b->b_name, why,
				    conn_reached(c, q)
					? "an answer, after its earlier "
					  "requests"
					: "the request went out");
			spool_rewind(&q->q_body);
			q->q_stdin_done = 0;
			q->q_stdin_sent = 0;
			q->q_state = Q_WAIT;
			freq_dispatch(q);
			continue;
		}
		if (!q->q_headdone && !q->q_aborted)
			log_msg(LOG_ERR, "%s: backend %s: %s", q->q_name,
			    b->b_name, why);
		if (nomem)
			freq_end(q, 503, "Out of memory.");
		else
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
		return; /* late records of an ended request */
	q->q_gotrec = 1;
	loop_timer(loop, &q->q_timer, bconf.bc_timeout);
	switch (rec->fr_type) {
	case FCGI_STDOUT:
		if (freq_stdout(q, rec->fr_content, rec->fr_len) == -1) {
			/* Nothing written yet: the head in q_out goes,
			 * the client gets a whole answer instead. */
			if (!q->q_hsent)
				q->q_headdone = 0;
			freq_answer(q, 500, "Out of memory.");
			freq_close_sock(q);
			q->q_aborted = 1;
		}
		freq_flush_later(q);
		break;
	case FCGI_STDERR:
		freq_stderr(q, rec->fr_content, rec->fr_len);
		break;
	case FCGI_END_REQUEST:
		/* No answer to GET_VALUES before a request ended: it
		 * will not come; go on with the defaults. */
		c->c_be->b_known = 1;
		c->c_ended++;
		freq_endrequest(q, rec);
		break;
	}
}

/* Does one of c's requests have too much waiting for its client? */
int
conn_blocked(const struct fconn *c)
{
	const struct freq *q;

	for (q = c->c_reqs; q; q = q->q_cnext)
		if (q->q_out.b_len >= ASH_FCGI_QBUF_MAX)
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
		c->c_lost = n == 0 || errno == ECONNRESET;
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
			return; /* closed while handling it */
	}
}

static void
conn_event(struct watch *w, uint32_t ev)
{
	struct fconn *c = w->w_arg;
	socklen_t sl = sizeof(int);
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
	if (ev & EPOLLOUT)
		c->c_wblocked = 0;
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !conn_blocked(c)) {
		conn_read(c);
		if (c->c_fd < 0)
			return;
	}
	conn_write(c);
}

/* Write what c_out holds, then let the requests add their bodies. */
static void
conn_write(struct fconn *c)
{
	struct freq *q, *next;
	ssize_t n;

	while (c->c_out.b_len > 0) {
		n = send(c->c_fd, c->c_out.b_data, c->c_out.b_len,
		    MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				c->c_wblocked = errno == EAGAIN;
				break;
			}
			c->c_lost = errno == EPIPE || errno == ECONNRESET;
			conn_close(c, strerror(errno));
			return;
		}
		c->c_sent += (uint64_t)n;
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

/* The deferred write of conn_update(): every request that came in one
 * batch of events goes out in one write, without a round through
 * epoll for a socket that can almost always take it at once. */
static void
conn_flush(void *arg)
{
	struct fconn *c = arg;

	c->c_flushq = 0;
	if (c->c_fd >= 0)
		conn_write(c);
}

void
conn_update(struct fconn *c)
{
	uint32_t ev = 0;

	if (c->c_fd < 0)
		return;
	if (c->c_state == C_CONNECTING || (c->c_out.b_len > 0 && c->c_wblocked))
		ev |= EPOLLOUT;
	else if (c->c_out.b_len > 0 && !c->c_flushq) {
		if (loop_defer(loop, conn_flush, c) == 0)
			c->c_flushq = 1;
		else
			ev |= EPOLLOUT;
	}
	if (c->c_state == C_READY && !conn_blocked(c))
		ev |= EPOLLIN;
	if (loop_watch(loop, &c->c_w, ev) == -1)
		conn_close(c, "epoll failed");
}

static struct fconn *
conn_new(struct backend *b)
{
	static const char *const names[] = { FCGI_MAX_CONNS, FCGI_MAX_REQS,
		FCGI_MPXS_CONNS };
	struct fconn *c;
	int fd;

	if ((fd = backend_connect(b)) == -1) {
		backend_down(b, strerror(errno));
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	c->c_be = b;
	c->c_fd = fd;
	c->c_state = C_CONNECTING;
	fcgi_dec_init(&c->c_dec);
	watch_init(&c->c_w, fd, conn_event, c);
	if (!b->b_known && fcgi_encode_get_values(&c->c_out, names, 3) == -1) {
		conn_free(c);
		goto nomem;
	}
	c->c_next = b->b_conns;
	b->b_conns = c;
	b->b_nconns++;
	return c;
nomem:
	close(fd);
	errno = ENOMEM;
	return NULL;
}

/* A connection of b that can take a request now, or NULL (errno
 * ENOMEM if one could not be made for want of memory). */
struct fconn *
conn_for(struct backend *b)
{
	struct fconn *c;
	int maxreqs = b->b_mpx
	    ? (b->b_maxreqs ? b->b_maxreqs : ASH_FCGI_MPX_DEFAULT)
	    : 1;

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
		maxconns = b->b_maxconns *
		    (bconf.bc_argv ? bconf.bc_nprocs : 1);
	else
		maxconns = bconf.bc_argv ? bconf.bc_nprocs : 16;
	if (bconf.bc_maxconns > 0 && bconf.bc_maxconns < maxconns)
		maxconns = bconf.bc_maxconns;
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
void
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
	q->q_start = c->c_sent + off;
	/* The request id is in bytes 2-3 of every record header. */
	if (buf_append(&c->c_out, q->q_params.b_data, q->q_params.b_len) ==
	    -1) {
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
	loop_timer(loop, &q->q_timer, bconf.bc_timeout);
	freq_pump_stdin(q);
}
