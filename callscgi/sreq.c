/*
 * sreq.c: one SCGI request, from the response socket to the
 * application and back.
 *
 * States (s_state):
 *   SPOOL    the body is received whole first (lib/spool: memory, then
 *            a file), so that a slow upload holds no application worker
 *            and a chunked body gets its CONTENT_LENGTH -> WAIT
 *            (with -s, a body with a Content-Length skips this: it goes
 *            to the application as it arrives)
 *   WAIT     for a connection: every backend down, or -m connections
 *            open, or a Unix socket whose queue is full -> CONNECT
 *   CONNECT  the connection under way -> RUN, or back to WAIT (the
 *            next backend) if it fails: nothing was sent yet
 *   RUN      the netstring head and the body go out; the response comes
 *            in, its CGI head is turned into an HTTP head, and the rest
 *            is relayed -> DONE at the application's end-of-file
 *   DONE     flushing what is left to the client
 * A request is freed from any state when its client goes away (the
 * connection to the application is closed: SCGI's only way to abort).
 *
 * Backpressure: the application is not read while ASH_SCGI_OUT_MAX
 * bytes wait for the client, and (with -s) the client's body is not
 * read while ASH_SCGI_OUT_MAX bytes wait for the application.  Time: -T
 * bounds the wait for a connection (503) and every silence of the
 * application while it owes us something (504); a client too slow to
 * read is not the application's silence.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ashlimits.h"
#include "buf.h"
#include "callscgi.h"
#include "cgi.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "req.h"
#include "scgi.h"
#include "spool.h"

enum sstate { S_SPOOL, S_WAIT, S_CONNECT, S_RUN, S_DONE };

struct sreq {
	struct sreq *s_wnext; /* waiting FIFO */
	enum sstate s_state;
	struct req *s_req;
	char *s_script;	    /* X-Ash-File, absolute, or NULL */
	const char *s_name; /* for the log */
	int s_sock;	    /* the client's, -1 once closed */
	int s_fd;	    /* the application's, or -1 */
	struct backend *s_be;
	struct watch s_sw, s_bw;
	struct timer s_timer;
	uint64_t s_since;	 /* first try for a connection */
	struct spool s_spool;	 /* the body, unless streamed */
	int s_stream;		 /* -s: the body comes from s_sock */
	long long s_clen;	 /* CONTENT_LENGTH */
	long long s_bodyin;	 /* streamed: bytes read so far */
	struct buf s_tobe;	 /* head (and streamed body) to send */
	struct buf s_head;	 /* response head being gathered */
	struct buf s_out;	 /* to the client */
	unsigned s_sent : 1;	 /* all of the request went out */
	unsigned s_headdone : 1; /* response head passed on */
	unsigned s_dead : 1;
};

static struct sreq *waithead, **waittail = &waithead;
static struct timer retrytimer;
static char iobuf[65536];

static void sreq_dispatch(struct sreq *s);
static void sreq_update(struct sreq *s);
static void retry_waiting(void);

/* Answer status if nothing went out yet; then nothing more goes. */
static void
sreq_answer(struct sreq *s, int status, const char *msg)
{
	if (s->s_sock >= 0 && !s->s_headdone) {
		buf_clear(&s->s_out);
		if (http_error_format(&s->s_out, status, msg, NULL) == -1) {
			/* No memory for the page: the one that needs
			 * none, written at once. */
			buf_clear(&s->s_out);
			(void)http_error(s->s_sock, 503, "Out of memory.");
		}
		s->s_headdone = 1;
	}
}

static void
sreq_unwait(struct sreq *s)
{
	struct sreq **pp;

	for (pp = &waithead; *pp; pp = &(*pp)->s_wnext)
		if (*pp == s) {
			*pp = s->s_wnext;
			if (*pp == NULL)
				waittail = pp;
			break;
		}
	s->s_wnext = NULL;
}

/* Close the connection to the application, if there is one. */
static void
sreq_disconnect(struct sreq *s)
{
	if (s->s_fd < 0)
		return;
	loop_unwatch(loop, &s->s_bw);
	close(s->s_fd);
	s->s_fd = -1;
	s->s_be->b_nconns--;
	s->s_be = NULL;
	/* Its place may go to a waiting request. */
	if (waithead && !timer_armed(&retrytimer))
		loop_timer(loop, &retrytimer, 0);
}

static void
sreq_free(struct sreq *s)
{
	if (s->s_dead)
		return;
	s->s_dead = 1;
	if (s->s_state == S_WAIT)
		sreq_unwait(s);
	sreq_disconnect(s);
	if (s->s_sock >= 0) {
		loop_unwatch(loop, &s->s_sw);
		close(s->s_sock);
		s->s_sock = -1;
	}
	loop_untimer(loop, &s->s_timer);
	spool_free(&s->s_spool);
	buf_free(&s->s_tobe);
	buf_free(&s->s_head);
	buf_free(&s->s_out);
	req_free(s->s_req);
	free(s->s_script);
	if (loop_defer(loop, free, s) == -1)
		log_msg(LOG_ERR, "cannot free a request: leaked");
	handler_release();
}

/* The application is done with s (or failed): answer status if no
 * head went out, then flush what is left and end. */
static void
sreq_end(struct sreq *s, int status, const char *msg)
{
	if (s->s_state == S_WAIT)
		sreq_unwait(s);
	sreq_disconnect(s);
	loop_untimer(loop, &s->s_timer);
	if (status)
		sreq_answer(s, status, msg);
	s->s_state = S_DONE;
	sreq_update(s);
}

/* Send what waits for the client; 0, or -1 if s is gone. */
static int
sreq_flush(struct sreq *s)
{
	ssize_t n;

	while (s->s_sock >= 0 && s->s_out.b_len > 0) {
		n = send(s->s_sock, s->s_out.b_data, s->s_out.b_len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			log_msg(LOG_INFO, "%s: client went away", s->s_name);
			sreq_free(s);
			return -1;
		}
		buf_consume(&s->s_out, (size_t)n);
	}
	if (s->s_state == S_DONE && s->s_out.b_len == 0) {
		sreq_free(s);
		return -1;
	}
	return 0;
}

/* Epoll interest of both sockets. */
static void
sreq_update(struct sreq *s)
{
	uint32_t ev = 0;

	if (s->s_dead)
		return;
	if (s->s_sock >= 0) {
		if (s->s_out.b_len > 0)
			ev |= EPOLLOUT;
		if (s->s_state == S_SPOOL ||
		    (s->s_stream && s->s_state == S_RUN &&
			s->s_bodyin < s->s_clen &&
			s->s_tobe.b_len < ASH_SCGI_OUT_MAX))
			ev |= EPOLLIN;
		if (loop_watch(loop, &s->s_sw, ev) == -1)
			goto fail;
	}
	if (s->s_fd >= 0) {
		ev = 0;
		if (s->s_state == S_CONNECT ||
		    (!s->s_sent &&
			(s->s_tobe.b_len > 0 || spool_left(&s->s_spool) > 0)))
			ev |= EPOLLOUT;
		if (s->s_state == S_RUN && s->s_out.b_len < ASH_SCGI_OUT_MAX)
			ev |= EPOLLIN;
		if (loop_watch(loop, &s->s_bw, ev) == -1)
			goto fail;
	}
	if (s->s_state == S_DONE && s->s_out.b_len == 0)
		sreq_free(s);
	return;
fail:
	log_errno(LOG_ERR, "%s: epoll", s->s_name);
	sreq_free(s);
}

/* The response head: a CGI head, or a status line from an application
 * in NPH mode.  1 passed on, 0 more is needed, -1 s was answered. */
static int
sreq_head(struct sreq *s)
{
	struct http_resp rp;
	const char *why = NULL, *h = s->s_head.b_data;
	size_t len = s->s_head.b_len;
	int n;

	if (len < 5 && !strncmp(h, "HTTP/", len))
		n = 0;
	else if (!strncmp(h, "HTTP/", 5)) {
		n = http_parse_response(h, len, &rp);
		why = "malformed response head";
	} else
		n = cgi_parse_head(h, len, &rp, &why);
	if (n == 0 && len < ASH_RESPHEAD_MAX)
		return 0;
	if (n < 0 && errno == ENOMEM) {
		sreq_end(s, 503, "Out of memory.");
		return -1;
	}
	if (n <= 0) {
		log_msg(LOG_ERR, "%s: backend %s: %s", s->s_name,
		    s->s_be->b_name,
		    n == 0    ? "response head too large"
			: why ? why
			      : "malformed response head");
		sreq_end(s, 502, "The application sent an invalid response.");
		return -1;
	}
	if (cgi_http_head(&s->s_out, &rp) == -1 ||
	    buf_append(&s->s_out, h + n, len - (size_t)n) == -1) {
		http_resp_free(&rp);
		sreq_end(s, 503, "Out of memory.");
		return -1;
	}
	http_resp_free(&rp);
	buf_free(&s->s_head);
	s->s_headdone = 1;
	return 1;
}

/* Response bytes from the application. */
static void
sreq_read_app(struct sreq *s)
{
	ssize_t n;

	n = recv(s->s_fd, iobuf, sizeof(iobuf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (s->s_headdone) {
			if (n < 0)
				log_errno(LOG_WARNING,
				    "%s: backend %s: "
				    "response cut short",
				    s->s_name, s->s_be->b_name);
			sreq_end(s, 0, NULL);
			return;
		}
		log_msg(LOG_ERR, "%s: backend %s: %s", s->s_name,
		    s->s_be->b_name,
		    n < 0		  ? strerror(errno)
			: s->s_head.b_len ? "incomplete response head"
					  : "no response");
		sreq_end(s, 502, "The application sent no valid response.");
		return;
	}
	loop_timer(loop, &s->s_timer, bconf.bc_timeout);
	if (s->s_headdone) {
		if (buf_append(&s->s_out, iobuf, (size_t)n) == -1) {
			log_errno(LOG_ERR, "%s", s->s_name);
			sreq_free(s);
		}
		return;
	}
	if (buf_append(&s->s_head, iobuf, (size_t)n) == -1) {
		sreq_end(s, 503, "Out of memory.");
		return;
	}
	sreq_head(s);
}

/* The head, then the body, to the application. */
static void
sreq_write_app(struct sreq *s)
{
	ssize_t n;

	while (!s->s_sent) {
		if (s->s_tobe.b_len > 0)
			n = send(s->s_fd, s->s_tobe.b_data, s->s_tobe.b_len,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		else if (s->s_stream) {
			s->s_sent = s->s_bodyin == s->s_clen;
			break;
		} else if ((n = spool_send(&s->s_spool, s->s_fd)) == 0) {
			s->s_sent = 1;
			break;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n < 0) {
			/* It may have answered without reading it all:
			 * what it says decides. */
			log_errno(LOG_INFO,
			    "%s: backend %s: sending the "
			    "request",
			    s->s_name, s->s_be->b_name);
			s->s_sent = 1;
			break;
		}
		if (s->s_tobe.b_len > 0)
			buf_consume(&s->s_tobe, (size_t)n);
		loop_timer(loop, &s->s_timer, bconf.bc_timeout);
	}
}

/* -s: body bytes from the client, kept for the application. */
static void
sreq_read_body(struct sreq *s)
{
	long long left;
	ssize_t n;

	while ((left = s->s_clen - s->s_bodyin) > 0 &&
	    s->s_tobe.b_len < ASH_SCGI_OUT_MAX) {
		n = recv(s->s_sock, iobuf,
		    left < (long long)sizeof(iobuf) ? (size_t)left
						    : sizeof(iobuf),
		    MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			log_msg(LOG_INFO, "%s: client went away", s->s_name);
			sreq_free(s);
			return;
		}
		if (buf_append(&s->s_tobe, iobuf, (size_t)n) == -1) {
			sreq_end(s, 503, "Out of memory.");
			return;
		}
		s->s_bodyin += n;
	}
}

static void
app_event(struct watch *w, uint32_t ev)
{
	struct sreq *s = w->w_arg;
	socklen_t sl = sizeof(int);
	int err = 0;

	if (s->s_state == S_CONNECT) {
		if (getsockopt(s->s_fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
			err = errno;
		if (err) {
			/* Nothing went out: another backend, or a wait. */
			backend_down(s->s_be, strerror(err));
			sreq_disconnect(s);
			sreq_dispatch(s);
			return;
		}
		s->s_state = S_RUN;
	}
	if ((ev & EPOLLOUT) && !s->s_sent)
		sreq_write_app(s);
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    s->s_out.b_len < ASH_SCGI_OUT_MAX)
		sreq_read_app(s);
	if (!s->s_dead && sreq_flush(s) == 0)
		sreq_update(s);
}

static void
sreq_timeout(struct timer *t)
{
	struct sreq *s = t->t_arg;

	if (s->s_state == S_WAIT) {
		log_msg(LOG_WARNING, "%s: no backend available in time",
		    s->s_name);
		sreq_end(s, 503, "No application is available.");
		return;
	}
	if (s->s_state != S_CONNECT && s->s_state != S_RUN)
		return;
	if (s->s_out.b_len >= ASH_SCGI_OUT_MAX) {
		/* Waiting for the client, not for the application. */
		loop_timer(loop, &s->s_timer, bconf.bc_timeout);
		return;
	}
	log_msg(LOG_WARNING, "%s: backend %s silent for %llu ms", s->s_name,
	    s->s_be->b_name, (unsigned long long)bconf.bc_timeout);
	sreq_end(s, 504, "The application did not answer in time.");
}

/* Connect s to the first backend that can take it, or make it wait. */
static void
sreq_dispatch(struct sreq *s)
{
	struct backend *b;
	int anyup = 0, status, fd;

	for (b = backends; b; b = b->b_next) {
		if (!backend_up(b))
			continue;
		if (bconf.bc_maxconns > 0 && b->b_nconns >= bconf.bc_maxconns) {
			anyup = 1;
			continue;
		}
		if ((fd = backend_connect(b)) == -1) {
			if (errno == EAGAIN) /* its queue is full */
				anyup = 1;
			else
				backend_down(b, strerror(errno));
			continue;
		}
		s->s_fd = fd;
		s->s_be = b;
		b->b_nconns++;
		s->s_state = S_CONNECT;
		watch_init(&s->s_bw, fd, app_event, s);
		loop_timer(loop, &s->s_timer, bconf.bc_timeout);
		sreq_update(s);
		return;
	}
	if (!anyup && (status = backend_giveup(s->s_since)) != 0) {
		log_msg(LOG_ERR, "%s: no backend can be reached", s->s_name);
		sreq_end(s, status, "The application cannot be reached.");
		return;
	}
	s->s_state = S_WAIT;
	s->s_wnext = NULL;
	*waittail = s;
	waittail = &s->s_wnext;
	if (!timer_armed(&retrytimer))
		loop_timer(loop, &retrytimer, ASH_BACKEND_RETRY_MS / 4);
	sreq_update(s);
}

/* Each waiting request gets one try, in order; those that still
 * cannot go queue up again behind. */
static void
retry_waiting(void)
{
	struct sreq *s;
	int n;

	for (n = 0, s = waithead; s; s = s->s_wnext)
		n++;
	while (n-- > 0 && (s = waithead) != NULL) {
		waithead = s->s_wnext;
		if (waithead == NULL)
			waittail = &waithead;
		s->s_wnext = NULL;
		sreq_dispatch(s);
	}
}

static void
retry_event(struct timer *t)
{
	(void)t;
	retry_waiting();
}

/* The body is stored (or will be streamed): build the head and go. */
static void
sreq_ready(struct sreq *s)
{
	struct cgienv env;

	if (cgi_env_build(&env, s->s_req, s->s_script, s->s_clen) == -1) {
		sreq_end(s, 503, "Out of memory.");
		return;
	}
	if (scgi_encode_head(&s->s_tobe, &env, s->s_clen) == -1) {
		cgi_env_free(&env);
		sreq_end(s, 503, "Out of memory.");
		return;
	}
	cgi_env_free(&env);
	s->s_since = loop_now();
	/* Requests wait for a connection at most as long as for an
	 * answer. */
	loop_timer(loop, &s->s_timer, bconf.bc_timeout);
	if (waithead == NULL) {
		sreq_dispatch(s);
		return;
	}
	/* Behind those already waiting. */
	s->s_state = S_WAIT;
	*waittail = s;
	waittail = &s->s_wnext;
	retry_waiting();
}

static void
sreq_spool(struct sreq *s)
{
	int rv, e;

	if ((rv = spool_fill(&s->s_spool, s->s_sock)) == 0) {
		sreq_update(s);
		return;
	}
	if (rv < 0) {
		if (errno == EPIPE || errno == ECONNRESET) {
			log_msg(LOG_INFO, "%s: client went away", s->s_name);
			sreq_free(s);
			return;
		}
		e = errno;
		log_errno(LOG_ERR, "%s: storing the request body in %s",
		    s->s_name, bconf.bc_tmpdir);
		if (e == ENOMEM)
			sreq_end(s, 503, "Out of memory.");
		else
			sreq_end(s, 500, "Cannot store the request body.");
		return;
	}
	s->s_clen = s->s_spool.sp_len;
	sreq_ready(s);
}

static void
sock_event(struct watch *w, uint32_t ev)
{
	struct sreq *s = w->w_arg;

	if (s->s_state == S_SPOOL) {
		sreq_spool(s);
		return;
	}
	if ((ev & (EPOLLHUP | EPOLLERR)) &&
	    !(s->s_stream && s->s_bodyin < s->s_clen && (ev & EPOLLIN))) {
		log_msg(LOG_INFO, "%s: client went away", s->s_name);
		sreq_free(s);
		return;
	}
	if ((ev & EPOLLIN) && s->s_state == S_RUN && s->s_stream) {
		sreq_read_body(s);
		if (!s->s_dead && s->s_fd >= 0)
			sreq_write_app(s);
	}
	if (!s->s_dead && sreq_flush(s) == 0)
		sreq_update(s);
}

void
sreq_start(struct req *r, int sock, void *arg)
{
	const char *file, *cl, *base;
	struct sreq *s;

	(void)arg;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		http_error(sock, 503, "Out of memory.");
		close(sock);
		req_free(r);
		return;
	}
	handler_hold();
	s->s_req = r;
	s->s_sock = sock;
	s->s_fd = -1;
	/* Log lines name the script, else the URL asked for. */
	s->s_name = r->r_url;
	spool_init(&s->s_spool, bconf.bc_tmpdir, ASH_SPOOL_MEM);
	watch_init(&s->s_sw, sock, sock_event, s);
	timer_init(&s->s_timer, sreq_timeout, s);
	if (retrytimer.t_cb == NULL)
		timer_init(&retrytimer, retry_event, NULL);
	if ((file = req_header(r, "X-Ash-File")) != NULL) {
		if ((s->s_script = cgi_abs_path(file)) == NULL) {
			sreq_end(s, 503, "Out of memory.");
			return;
		}
		base = strrchr(s->s_script, '/');
		s->s_name = base ? base + 1 : s->s_script;
	}
	if (streambody && (cl = req_header(r, "Content-Length")) != NULL) {
		s->s_stream = 1;
		s->s_clen = strtoll(cl, NULL, 10);
		sreq_ready(s);
		return;
	}
	s->s_state = S_SPOOL;
	sreq_spool(s);
}
