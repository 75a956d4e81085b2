/*
 * request.c: callfcgi's requests and their way through a FastCGI
 * connection (conn.c).
 *
 * A request (struct freq) goes through these states:
 *   SPOOL  the body is received whole first (lib/spool: memory, then
 *          an unnamed file), so that a slow upload holds no connection
 *          (no application worker) and a chunked body gets its
 *          CONTENT_LENGTH -> WAIT; with -s, a body with a
 *          Content-Length skips this and is streamed as it arrives
 *   WAIT   waiting for a connection (all busy, or backends down)
 *   RUN    on a connection: BEGIN_REQUEST (KEEP_CONN) and PARAMS sent,
 *          STDIN from the stored body (or streamed), STDOUT translated
 *          (CGI head -> HTTP head) and relayed to the client -> DONE at
 *          END_REQUEST
 *   DONE   flushing what is left to the client
 *   DEAD   freed at the end of the loop's batch (loop_defer), so that a
 *          caller still holding it can see it is gone
 * Backpressure: a request's body is not read while its connection has
 * more than ASH_FCGI_CBUF_MAX bytes waiting to be sent.  -T bounds the
 * wait for a connection and the application's silences, not the time
 * the body takes to arrive (htparser's limits do).  Each request is held
 * (handler_hold()) from freq_start() to freq_free().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ashlimits.h"
#include "cgi.h"
#include "fconn.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "req.h"

static struct freq *reqs, *waithead, **waittail = &waithead;
static struct timer retrytimer;
static char iobuf[65536]; /* a body on its way */

static void freq_free(struct freq *q);
static void sock_event(struct watch *w, uint32_t ev);
static void retry_event(struct timer *t);

/* Requests. */

/* Answer `status` if nothing went out yet (0: nobody to answer). */
void
freq_answer(struct freq *q, int status, const char *msg)
{
	if (status && q->q_sock >= 0 && !q->q_headdone) {
		http_error(q->q_sock, status, msg);
		q->q_headdone = 1;
	}
}

void
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
void
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
	if (freq_flush(q) == 0)
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
	spool_free(&q->q_body);
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
		return; /* END_REQUEST will free it */
	}
	conn_close(c, "abort not possible");
}

/* Send buffered output to the client; -1 if q is gone. */
int
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
		q->q_hsent = 1;
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

static void
flush_deferred(void *arg)
{
	struct freq *q = arg;

	q->q_flushq = 0;
	if (q->q_state != Q_DEAD && freq_flush(q) == 0)
		freq_update(q);
}

/* STDOUT came for q: written after the batch of events, so that an
 * END_REQUEST read with it can still give the head a length. */
void
freq_flush_later(struct freq *q)
{
	if (q->q_flushq)
		return;
	if (loop_defer(loop, flush_deferred, q) == 0)
		q->q_flushq = 1;
	else if (freq_flush(q) == 0)
		freq_update(q);
}

/* The whole response is in q_out and none of it was written: say its
 * length, so that htparser need not chunk it nor wait for the end. */
static void
freq_add_length(struct freq *q)
{
	static const char name[] = "Content-Length: ";
	char field[48], digits[24], *d = digits + sizeof(digits);
	size_t at, body, n, dn;

	if (q->q_hsent || q->q_nolen || !q->q_headdone || q->q_sock < 0 ||
	    q->q_headlen < 2 || q->q_out.b_len < q->q_headlen)
		return;
	body = q->q_out.b_len - q->q_headlen;
	do
		*--d = (char)('0' + body % 10);
	while ((body /= 10) != 0);
	dn = (size_t)(digits + sizeof(digits) - d);
	memcpy(field, name, sizeof(name) - 1);
	memcpy(field + sizeof(name) - 1, d, dn);
	memcpy(field + sizeof(name) - 1 + dn, "\r\n", 2);
	n = sizeof(name) - 1 + dn + 2;
	if (buf_reserve(&q->q_out, n) == -1)
		return; /* then without: htparser frames it */
	/* Before the blank line that ends the head. */
	at = q->q_headlen - 2;
	memmove(q->q_out.b_data + at + n, q->q_out.b_data + at,
	    q->q_out.b_len - at);
	memcpy(q->q_out.b_data + at, field, n);
	q->q_out.b_len += n;
	q->q_out.b_data[q->q_out.b_len] = '\0';
	q->q_headlen += n;
}

/* STDOUT data for q. */
int
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
	if (n == 0 && q->q_head.b_len < ASH_FCGI_HEAD_MAX)
		return 0;
	if (n < 0 && why == NULL && errno == ENOMEM) {
		freq_answer(q, 503, "Out of memory.");
		q->q_aborted = 1; /* discard the rest */
		freq_close_sock(q);
		return 0;
	}
	if (n <= 0) {
		log_msg(LOG_ERR, "%s: backend %s: %s", q->q_name,
		    q->q_conn->c_be->b_name,
		    n == 0    ? "response head too large"
			: why ? why
			      : strerror(errno));
		freq_answer(q, 502,
		    "The application sent an invalid response.");
		q->q_aborted = 1; /* discard the rest */
		freq_close_sock(q);
		return 0;
	}
	/* No length of ours where the head frames the body itself, or
	 * where there is no body to measure. */
	q->q_nolen = http_resp_header(&rp, "Content-Length") != NULL ||
	    http_resp_header(&rp, "Transfer-Encoding") != NULL ||
	    rp.hr_status < 200 || rp.hr_status == 204 || rp.hr_status == 304 ||
	    !strcmp(q->q_req->r_method, "HEAD");
	if (cgi_http_head(&q->q_out, &rp) == -1) {
		http_resp_free(&rp);
		return -1;
	}
	q->q_headlen = q->q_out.b_len;
	if (buf_append(&q->q_out, q->q_head.b_data + n,
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
void
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

void
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
			    q->q_conn->c_be->b_name,
			    q->q_head.b_len ? "incomplete response head"
					    : "no response");
		if (!q->q_aborted)
			freq_add_length(q);
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
		    q->q_conn->c_be->b_name,
		    proto == FCGI_UNKNOWN_ROLE
			? "does not take the responder role"
			: "bad END_REQUEST");
		freq_end(q, 502, "The application refused the request.");
		return;
	}
}

/* Body bytes for q's STDIN, while the connection has room. */
void
freq_pump_stdin(struct freq *q)
{
	struct fconn *c = q->q_conn;
	ssize_t n;

	while (c && !q->q_stdin_done && c->c_out.b_len < ASH_FCGI_CBUF_MAX &&
	    !q->q_aborted) {
		if (q->q_bodysock)
			n = recv(q->q_sock, iobuf, sizeof(iobuf), MSG_DONTWAIT);
		else
			n = spool_read(&q->q_body, iobuf, sizeof(iobuf));
		if (n < 0 && q->q_bodysock &&
		    (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0) {
			if (!q->q_bodysock)
				log_errno(LOG_ERR,
				    "%s: reading the stored body", q->q_name);
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
		loop_timer(loop, &q->q_timer, bconf.bc_timeout);
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
	    c->c_be->b_name, (unsigned long long)bconf.bc_timeout);
	freq_answer(q, 504, "The application did not answer in time.");
	if (c->c_nreqs == 1)
		conn_close(c, "timed out");
	else
		freq_abort(q);
}

/* Epoll interest of the client's socket. */
void
freq_update(struct freq *q)
{
	uint32_t ev = 0;

	if (q->q_sock < 0)
		return;
	if (q->q_out.b_len > 0)
		ev |= EPOLLOUT;
	if (q->q_state == Q_SPOOL ||
	    (q->q_state == Q_RUN && q->q_bodysock && !q->q_stdin_done &&
		q->q_conn && q->q_conn->c_out.b_len < ASH_FCGI_CBUF_MAX))
		ev |= EPOLLIN;
	loop_watch(loop, &q->q_sw, ev);
}

/* Put q on a connection, or make it wait. */
void
freq_dispatch(struct freq *q)
{
	struct backend *b;
	struct fconn *c;
	int anyup = 0, status;

	for (b = backends; b; b = b->b_next) {
		if (!backend_up(b))
			continue;
		errno = 0;
		if ((c = conn_for(b)) != NULL) {
			conn_attach(c, q);
			return;
		}
		if (errno == ENOMEM) {
			freq_answer(q, 503, "Out of memory.");
			freq_free(q);
			return;
		}
		anyup |= backend_up(b);
	}
	if (!anyup && (status = backend_giveup(q->q_since)) != 0) {
		log_msg(LOG_ERR, "%s: no backend can be reached", q->q_name);
		freq_answer(q, status, "The application cannot be reached.");
		freq_free(q);
		return;
	}
	q->q_state = Q_WAIT;
	q->q_wnext = NULL;
	*waittail = q;
	waittail = &q->q_wnext;
	if (!timer_armed(&retrytimer))
		loop_timer(loop, &retrytimer, ASH_BACKEND_RETRY_MS / 4);
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

	/* A stored body gives its length; an empty one, the request's
	 * Content-Length (0) if it had one. */
	if (cgi_env_build(&env, q->q_req, q->q_script,
		q->q_bodysock || q->q_body.sp_len == 0
		    ? -1
		    : q->q_body.sp_len) == -1)
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
		 FCGI_KEEP_CONN) == -1 ||
		fcgi_encode_params(&q->q_params, 0, nv, env.ce_n) == -1
	    ? -1
	    : 0;
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
	/* Requests wait for a backend at most as long as for an answer. */
	loop_timer(loop, &q->q_timer, bconf.bc_timeout);
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
		if ((rv = spool_fill(&q->q_body, q->q_sock)) == 0) {
			freq_update(q);
			return;
		}
		if (rv < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			log_msg(LOG_INFO, "%s: client went away", q->q_name);
			freq_free(q);
			return;
		}
		if (rv < 0 && errno == ENOMEM) {
			freq_answer(q, 503, "Out of memory.");
			freq_free(q);
			return;
		}
		if (rv < 0) {
			log_errno(LOG_ERR, "%s: storing the request body in %s",
			    q->q_name, bconf.bc_tmpdir);
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
	char *script = NULL;

	if ((file = req_header(r, "X-Ash-File")) != NULL)
		script = cgi_abs_path(file);
	if ((file != NULL && script == NULL) ||
	    (q = calloc(1, sizeof(*q))) == NULL) {
		http_error(sock, 503, "Out of memory.");
		close(sock);
		req_free(r);
		free(script);
		return;
	}
	q->q_req = r;
	q->q_sock = sock;
	spool_init(&q->q_body, bconf.bc_tmpdir, ASH_SPOOL_MEM);
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
	if ((q->q_script = script) != NULL) {
		base = strrchr(q->q_script, '/');
		q->q_name = base ? base + 1 : q->q_script;
	}
	if (streambody && req_header(r, "Content-Length") != NULL) {
		q->q_bodysock = 1;
		freq_ready(q);
		return;
	}
	q->q_state = Q_SPOOL;
	sock_event(&q->q_sw, EPOLLIN);
}
