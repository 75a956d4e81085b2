/*
 * relay.c: accesslog's extended mode (-e).  The child gets a socket of
 * ours instead of htparser's; the request body is copied to it and its
 * response copied back, so that the record can say what was answered
 * and how much of it went out.
 *
 * Per request (struct relay), two directions at once, each holding at
 * most one read's worth of bytes (backpressure both ways):
 *
 *   up	    htparser (rl_cfd) -> child (rl_hfd): the request body, counted
 *	    (%i); its end is passed on as shutdown(SHUT_WR)
 *   down   child -> htparser: the response
 *	    HEAD  gathering the head (and a descriptor passed with it,
 *		  "X-Ash-Switch: duplex"); a head htparser would refuse is
 *		  answered 502 here, so that the record holds what the
 *		  client got -> BODY, DONE (duplex: after the head)
 *	    BODY  copied, or spliced through a pipe once it is long
 *		  (zero-copy); -> DONE at the child's end-of-file or when
 *		  htparser is gone
 *	    DONE  the record is written, both sockets closed
 *
 * The body count (%o) is what htparser accepted, counted as it sends
 * to the client: nothing after HEAD and for 1xx/204/304 (htparser sends
 * no body), at most Content-Length, the data of a handler's own
 * chunking without its framing.  A client that leaves makes htparser
 * close its socket, which ends the count.
 *
 * Readiness is remembered per descriptor (rl_crd, rl_cwr, rl_hrd,
 * rl_hwr; set from epoll, cleared on EAGAIN) and epoll interest is
 * recomputed after each step; a request answered at once (the usual
 * small file) never has htparser's socket in epoll at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "ashlimits.h"
#include "buf.h"
#include "child.h"
#include "fdpass.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "req.h"

#define SPLICE_MIN   (64 * 1024) /* body length worth a pipe */
#define SPLICE_CHUNK (64 * 1024)
#define PIPE_POOL    8 /* idle pipes kept */

enum rl_state { RL_HEAD, RL_BODY, RL_DONE };
/* Which response bytes the body count takes. */
enum rl_count { RC_NONE, RC_LENGTH, RC_ALL, RC_CHUNKED };

struct relay {
	struct req *rl_req;
	struct fmt *rl_fmt;
	struct timespec rl_when; /* realtime, for the record */
	struct timespec rl_t0;	 /* monotonic, for %d */
	int rl_cfd;		 /* htparser's response socket */
	int rl_hfd;		 /* ours, to the child */
	int rl_dfd;		 /* passed with the head, or -1 */
	struct watch rl_cw, rl_hw;
	int rl_crd, rl_cwr, rl_hrd, rl_hwr;
	/* up */
	struct buf rl_up; /* read, not yet sent */
	int rl_upeof;
	long long rl_in;
	/* down */
	enum rl_state rl_state;
	struct buf rl_head; /* an incomplete head */
	struct buf rl_down; /* read, not yet sent */
	size_t rl_headleft; /* head bytes at its front */
	int rl_heof;	    /* nothing more to read from the child */
	struct http_resp rl_resp;
	int rl_hasresp;
	int rl_status;
	enum rl_count rl_count;
	long long rl_left; /* RC_LENGTH: bytes still counted */
	struct chunkdec rl_cd;
	long long rl_out;  /* counted */
	long long rl_sent; /* body bytes sent, counted or not */
	int rl_pipe[2];
	size_t rl_piped;
	/* The relays in flight, oldest first, for the sweep. */
	struct relay *rl_next, *rl_prev;
	int rl_swept; /* htparser's socket watched for
					 * its hang-up */
};

static char iobuf[64 * 1024];
static int pool[PIPE_POOL][2];
static int npool;
static struct relay *oldest, *newest;
static struct timer sweeper;
static int sweeper_init;

static void relay_step(struct relay *rl);

/* Pipes */

static int
pipe_get(int p[2])
{
	if (npool > 0) {
		npool--;
		p[0] = pool[npool][0];
		p[1] = pool[npool][1];
		return 0;
	}
	return pipe2(p, O_NONBLOCK | O_CLOEXEC);
}

/* Keep an empty pipe for the next long body. */
static void
pipe_put(int p[2], size_t piped)
{
	if (p[0] < 0)
		return;
	if (piped == 0 && npool < PIPE_POOL) {
		pool[npool][0] = p[0];
		pool[npool][1] = p[1];
		npool++;
	} else {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -1;
}

/* Counting */

/* n bytes of the response (data: NULL when spliced) were accepted by
 * htparser: count the body bytes among them. */
static void
count_sent(struct relay *rl, const char *data, size_t n)
{
	const char *d;
	size_t h, dl;
	ssize_t used;

	h = n < rl->rl_headleft ? n : rl->rl_headleft;
	rl->rl_headleft -= h;
	n -= h;
	if (data)
		data += h;
	rl->rl_sent += (long long)n;
	switch (rl->rl_count) {
	case RC_NONE:
		break;
	case RC_ALL:
		rl->rl_out += (long long)n;
		break;
	case RC_LENGTH:
		if ((long long)n > rl->rl_left)
			n = (size_t)rl->rl_left;
		rl->rl_left -= (long long)n;
		rl->rl_out += (long long)n;
		break;
	case RC_CHUNKED:
		while (n > 0 && data != NULL) {
			if ((used = chunk_feed(&rl->rl_cd, data, n, &d, &dl)) <=
			    0) {
				rl->rl_count = RC_NONE; /* not chunked */
				break;
			}
			rl->rl_out += (long long)dl;
			data += used;
			n -= (size_t)used;
		}
		break;
	}
}

/* The response head is in: how its body counts.  0, or -1 if htparser
 * would refuse the head. */
static int
head_done(struct relay *rl)
{
	const struct http_resp *rp = &rl->rl_resp;
	const char *sw;
	long long len;
	int te, nobody, duplex;

	rl->rl_status = rp->hr_status;
	sw = http_resp_header(rp, "X-Ash-Switch");
	duplex = sw && !strcasecmp(sw, "duplex") && rl->rl_dfd >= 0;
	te = http_resp_header(rp, "Transfer-Encoding") != NULL;
	if ((len = http_resp_length(rp)) == -1 && !te)
		return -1;
	nobody = !strcmp(rl->rl_req->r_method, "HEAD") || rp->hr_status < 200 ||
	    rp->hr_status == 204 || rp->hr_status == 304;
	if (duplex || nobody)
		rl->rl_count = RC_NONE;
	else if (te) {
		rl->rl_count = RC_CHUNKED;
		chunk_init(&rl->rl_cd);
	} else if (len >= 0) {
		rl->rl_count = RC_LENGTH;
		rl->rl_left = len;
	} else
		rl->rl_count = RC_ALL;
	if (!duplex && rl->rl_dfd >= 0) {
		close(rl->rl_dfd);
		rl->rl_dfd = -1;
	}
	return 0;
}

/* Down: sending */

/* Send what can go at once; the rest waits in rl_down.  0, or -1 when
 * htparser is gone. */
static int
emit(struct relay *rl, const char *data, size_t len)
{
	ssize_t n = 0;

	if (rl->rl_down.b_len == 0 && rl->rl_cwr) {
		n = send(rl->rl_cfd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n < 0) {
			rl->rl_cwr = 0;
			n = 0;
		}
		count_sent(rl, data, (size_t)n);
	}
	if ((size_t)n < len &&
	    buf_append(&rl->rl_down, data + n, len - (size_t)n) == -1) {
		log_msg(LOG_ERR, "out of memory relaying a response");
		return -1;
	}
	return 0;
}

/* Answer the client ourselves (the child's head was unusable). */
static void
answer(struct relay *rl, int status, const char *why)
{
	struct buf b = BUF_INIT;
	const char *e;

	log_msg(LOG_WARNING, "%s: %s", rl->rl_req->r_url, why);
	rl->rl_heof = 1;
	rl->rl_state = RL_BODY;
	rl->rl_status = status;
	rl->rl_count = strcmp(rl->rl_req->r_method, "HEAD") ? RC_ALL : RC_NONE;
	if (rl->rl_dfd >= 0) {
		close(rl->rl_dfd);
		rl->rl_dfd = -1;
	}
	if (http_error_format(&b, status, why, NULL) == -1 ||
	    (e = strstr(b.b_data, "\r\n\r\n")) == NULL) {
		/* No memory for the page: the one that needs none, written
		 * at once (nothing has gone to htparser yet). */
		rl->rl_state = RL_DONE;
		buf_free(&b);
		if (http_error(rl->rl_cfd, 503, "Out of memory.") == 0) {
			rl->rl_status = 503;
			rl->rl_headleft = 0;
		}
		return;
	}
	rl->rl_headleft = (size_t)(e + 4 - b.b_data);
	if (emit(rl, b.b_data, b.b_len) == -1)
		rl->rl_state = RL_DONE;
	buf_free(&b);
}

/* Duplex: the descriptor goes on with the head; from then on htparser
 * talks to it directly.  0, or -1 when htparser is gone. */
static int
pass_duplex(struct relay *rl, const char *data, size_t len)
{
	ssize_t n;
	int dfd = rl->rl_dfd;

	rl->rl_dfd = -1;
	rl->rl_heof = rl->rl_upeof = 1;
	n = fd_send(rl->rl_cfd, data, len, dfd);
	close(dfd);
	if (n < 0)
		return -1;
	rl->rl_headleft = 0;
	if ((size_t)n < len &&
	    buf_append(&rl->rl_down, data + n, len - (size_t)n) == -1)
		return -1;
	return 0;
}

/* Head bytes from the child.  0, or -1 when htparser is gone. */
static int
head_in(struct relay *rl, const char *data, size_t len)
{
	int hl, rv;

	if (rl->rl_head.b_len > 0) {
		if (buf_append(&rl->rl_head, data, len) == -1) {
			answer(rl, 503, "Out of memory.");
			return 0;
		}
		data = rl->rl_head.b_data;
		len = rl->rl_head.b_len;
	}
	hl = http_parse_response(data, len, &rl->rl_resp);
	if (hl == 0 && len < ASH_RESPHEAD_MAX) {
		/* Need more: keep what came (unless it is kept already). */
		if (rl->rl_head.b_len == 0 &&
		    buf_append(&rl->rl_head, data, len) == -1)
			answer(rl, 503, "Out of memory.");
		return 0;
	}
	if (hl == -1 && errno == ENOMEM) {
		answer(rl, 503, "Out of memory.");
		return 0;
	}
	rl->rl_hasresp = hl > 0;
	if (hl <= 0 || head_done(rl) == -1) {
		answer(rl, 502, "the handler sent an invalid response head");
		return 0;
	}
	rl->rl_state = RL_BODY;
	rl->rl_headleft = (size_t)hl;
	rv = rl->rl_dfd >= 0 ? pass_duplex(rl, data, len) : emit(rl, data, len);
	buf_free(&rl->rl_head);
	return rv;
}

/* A long body goes through a pipe, never through our memory. */
static int
want_splice(struct relay *rl)
{
	if (rl->rl_pipe[0] >= 0)
		return 1;
	if (rl->rl_state != RL_BODY || rl->rl_down.b_len > 0 || rl->rl_heof ||
	    rl->rl_count == RC_CHUNKED)
		return 0;
	if (rl->rl_count == RC_LENGTH ? rl->rl_left < SPLICE_MIN
				      : rl->rl_sent < SPLICE_MIN)
		return 0;
	/* splice(2) into a socket blocks on the socket's own mode. */
	if (fcntl(rl->rl_cfd, F_SETFL, O_RDWR | O_NONBLOCK) == -1 ||
	    pipe_get(rl->rl_pipe) == -1) {
		rl->rl_pipe[0] = rl->rl_pipe[1] = -1;
		return 0;
	}
	return 1;
}

/* Down through the pipe.  1 progress, 0 none. */
static int
down_splice(struct relay *rl)
{
	size_t want;
	ssize_t n;

	if (rl->rl_piped > 0) {
		if (!rl->rl_cwr)
			return 0;
		n = splice(rl->rl_pipe[0], NULL, rl->rl_cfd, NULL, rl->rl_piped,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rl->rl_cwr = 0;
			return 0;
		}
		if (n <= 0) {
			rl->rl_state = RL_DONE; /* htparser is gone */
			return 1;
		}
		rl->rl_piped -= (size_t)n;
		count_sent(rl, NULL, (size_t)n);
		return 1;
	}
	if (rl->rl_heof || (rl->rl_count == RC_LENGTH && rl->rl_left == 0)) {
		rl->rl_state = RL_DONE;
		return 1;
	}
	if (!rl->rl_hrd)
		return 0;
	want = SPLICE_CHUNK;
	if (rl->rl_count == RC_LENGTH && rl->rl_left < (long long)want)
		want = (size_t)rl->rl_left;
	n = splice(rl->rl_hfd, NULL, rl->rl_pipe[1], NULL, want,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		rl->rl_hrd = 0;
		return 0;
	}
	if (n <= 0)
		rl->rl_heof = 1; /* end, or a reset: the same */
	else
		rl->rl_piped += (size_t)n;
	return 1;
}

/* Child -> htparser.  1 progress, 0 none. */
static int
down_step(struct relay *rl)
{
	ssize_t n;
	int fd;

	if (rl->rl_down.b_len > 0) {
		if (!rl->rl_cwr)
			return 0;
		n = send(rl->rl_cfd, rl->rl_down.b_data, rl->rl_down.b_len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rl->rl_cwr = 0;
			return 0;
		}
		if (n < 0) {
			rl->rl_state = RL_DONE;
			return 1;
		}
		count_sent(rl, rl->rl_down.b_data, (size_t)n);
		buf_consume(&rl->rl_down, (size_t)n);
		return 1;
	}
	if (want_splice(rl))
		return down_splice(rl);
	if (rl->rl_heof ||
	    (rl->rl_count == RC_LENGTH && rl->rl_left == 0 &&
		rl->rl_headleft == 0)) {
		/* All of it: htparser is done with the response too once
		 * Content-Length bytes are in (what follows is dropped). */
		rl->rl_state = RL_DONE;
		return 1;
	}
	if (!rl->rl_hrd)
		return 0;
	if (rl->rl_state == RL_HEAD) {
		n = fd_recv_stream(rl->rl_hfd, iobuf, sizeof(iobuf), &fd,
		    MSG_DONTWAIT);
		if (fd >= 0 && rl->rl_dfd < 0)
			rl->rl_dfd = fd;
		else if (fd >= 0)
			close(fd);
	} else
		n = recv(rl->rl_hfd, iobuf, sizeof(iobuf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		rl->rl_hrd = 0;
		return 0;
	}
	if (n <= 0) {
		rl->rl_heof = 1;
		if (rl->rl_state == RL_HEAD)
			answer(rl, 502,
			    "the handler closed the response "
			    "socket without a complete response head");
		return 1;
	}
	if ((rl->rl_state == RL_HEAD ? head_in(rl, iobuf, (size_t)n)
				     : emit(rl, iobuf, (size_t)n)) == -1)
		rl->rl_state = RL_DONE;
	return 1;
}

/* Up */

/* The body has ended (or cannot go on): the child reads end-of-file. */
static void
up_end(struct relay *rl)
{
	rl->rl_upeof = 1;
	buf_free(&rl->rl_up);
	shutdown(rl->rl_hfd, SHUT_WR);
}

/* Send to the child what can go; keep the rest.  0, or -1 if the child
 * takes no more. */
static int
up_send(struct relay *rl, const char *data, size_t len)
{
	ssize_t n = 0;

	if (rl->rl_hwr) {
		n = send(rl->rl_hfd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n < 0) {
			rl->rl_hwr = 0;
			n = 0;
		}
	}
	if ((size_t)n < len &&
	    buf_append(&rl->rl_up, data + n, len - (size_t)n) == -1)
		return -1;
	return 0;
}

/* htparser -> child.  1 progress, 0 none. */
static int
up_step(struct relay *rl)
{
	ssize_t n;

	if (rl->rl_up.b_len > 0) {
		if (!rl->rl_hwr)
			return 0;
		n = send(rl->rl_hfd, rl->rl_up.b_data, rl->rl_up.b_len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rl->rl_hwr = 0;
			return 0;
		}
		if (n < 0)
			up_end(rl);
		else
			buf_consume(&rl->rl_up, (size_t)n);
		return 1;
	}
	if (!rl->rl_crd)
		return 0;
	n = recv(rl->rl_cfd, iobuf, sizeof(iobuf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		rl->rl_crd = 0;
		return 0;
	}
	if (n <= 0) {
		up_end(rl);
		return 1;
	}
	rl->rl_in += n;
	if (up_send(rl, iobuf, (size_t)n) == -1)
		up_end(rl);
	return 1;
}

/* The sweep */

/*
 * htparser closes its socket when the client goes away or the handler
 * takes too long; a relay only learns of it when it next writes there,
 * which a handler that has not answered yet never makes it do.  So a
 * relay still in flight after SWEEP_MS has htparser's socket watched for
 * its hang-up from then on: a fast request costs no epoll_ctl() for it.
 */
#define SWEEP_MS 1000

static void
sweep(struct timer *t)
{
	struct timespec now;
	struct relay *rl;

	(void)t;
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (rl = oldest; rl != NULL; rl = rl->rl_next) {
		if ((now.tv_sec - rl->rl_t0.tv_sec) * 1000 +
			(now.tv_nsec - rl->rl_t0.tv_nsec) / 1000000 <
		    SWEEP_MS)
			break;
		if (!rl->rl_swept) {
			rl->rl_swept = 1;
			if (!rl->rl_cw.w_added)
				loop_watch(handler_loop(), &rl->rl_cw, 0);
		}
	}
	if (oldest != NULL)
		loop_timer(handler_loop(), &sweeper, SWEEP_MS);
}

static void
relay_link(struct relay *rl)
{
	rl->rl_prev = newest;
	if (newest)
		newest->rl_next = rl;
	else
		oldest = rl;
	newest = rl;
	if (!sweeper_init) {
		timer_init(&sweeper, sweep, NULL);
		sweeper_init = 1;
	}
	if (!timer_armed(&sweeper))
		loop_timer(handler_loop(), &sweeper, SWEEP_MS);
}

static void
relay_unlink(struct relay *rl)
{
	if (rl->rl_prev)
		rl->rl_prev->rl_next = rl->rl_next;
	else
		oldest = rl->rl_next;
	if (rl->rl_next)
		rl->rl_next->rl_prev = rl->rl_prev;
	else
		newest = rl->rl_prev;
	if (oldest == NULL)
		loop_untimer(handler_loop(), &sweeper);
}

/* The loop */

static long long
usec_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)(t.tv_sec - t0->tv_sec) * 1000000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000;
}

static void
relay_end(struct relay *rl)
{
	struct logrec lr;

	memset(&lr, 0, sizeof(lr));
	lr.lr_req = rl->rl_req;
	lr.lr_when = rl->rl_when;
	lr.lr_ext = 1;
	/* Gone before the head went out: htparser answered, or nobody. */
	lr.lr_status = rl->rl_status > 0 && rl->rl_headleft == 0 &&
		rl->rl_state != RL_HEAD
	    ? rl->rl_status
	    : -1;
	lr.lr_in = rl->rl_in;
	lr.lr_out = rl->rl_out;
	lr.lr_usec = usec_since(&rl->rl_t0);
	lr.lr_resp = rl->rl_hasresp ? &rl->rl_resp : NULL;
	logf_record(rl->rl_fmt, &lr);
	/* htparser's socket may still be open in the handler that passed
	 * it to us (for a moment), so epoll must be told; ours is ours
	 * alone (a child being started has exec'd, and dropped it, before
	 * child_handle() returns), and closing it is enough. */
	loop_unwatch(handler_loop(), &rl->rl_cw);
	loop_forget(handler_loop(), &rl->rl_hw);
	close(rl->rl_cfd);
	close(rl->rl_hfd);
	if (rl->rl_dfd >= 0)
		close(rl->rl_dfd);
	pipe_put(rl->rl_pipe, rl->rl_piped);
	if (rl->rl_hasresp)
		http_resp_free(&rl->rl_resp);
	buf_free(&rl->rl_up);
	buf_free(&rl->rl_head);
	buf_free(&rl->rl_down);
	req_free(rl->rl_req);
	relay_unlink(rl);
	/* An event of this batch may still name rl: freed after it. */
	if (loop_defer(handler_loop(), free, rl) == -1)
		log_msg(LOG_ERR, "out of memory: %zu bytes leaked",
		    sizeof(*rl));
	handler_release();
}

/* Watch for what each side waits for; a side waiting for nothing is
 * not watched (a hung-up socket would be reported over and over). */
static void
relay_interest(struct relay *rl)
{
	uint32_t h = 0, c = 0;
	int down = rl->rl_down.b_len > 0 || rl->rl_piped > 0;

	if (!rl->rl_heof && !down && !rl->rl_hrd)
		h |= EPOLLIN;
	if (!rl->rl_upeof && rl->rl_up.b_len > 0 && !rl->rl_hwr)
		h |= EPOLLOUT;
	if (!rl->rl_upeof && rl->rl_up.b_len == 0 && !rl->rl_crd)
		c |= EPOLLIN;
	if (down && !rl->rl_cwr)
		c |= EPOLLOUT;
	if (h)
		loop_watch(handler_loop(), &rl->rl_hw, h);
	else
		loop_unwatch(handler_loop(), &rl->rl_hw);
	if (c || rl->rl_swept)
		loop_watch(handler_loop(), &rl->rl_cw, c);
	else
		loop_unwatch(handler_loop(), &rl->rl_cw);
}

static void
relay_step(struct relay *rl)
{
	int prog;

	do {
		prog = 0;
		if (!rl->rl_upeof)
			prog |= up_step(rl);
		if (rl->rl_state != RL_DONE)
			prog |= down_step(rl);
		if (rl->rl_state == RL_DONE) {
			relay_end(rl);
			return;
		}
	} while (prog);
	relay_interest(rl);
}

static void
relay_event(struct watch *w, uint32_t ev)
{
	struct relay *rl = w->w_arg;

	if (w == &rl->rl_cw) {
		if (ev & (EPOLLHUP | EPOLLERR)) {
			/* htparser closed its end: the client is gone. */
			rl->rl_state = RL_DONE;
			relay_end(rl);
			return;
		}
		if (ev & EPOLLIN)
			rl->rl_crd = 1;
		if (ev & EPOLLOUT)
			rl->rl_cwr = 1;
	} else {
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
			rl->rl_hrd = 1;
		if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			rl->rl_hwr = 1;
	}
	relay_step(rl);
}

/* The request could not be relayed: answer it, and log that. */
static void
relay_refuse(struct fmt *f, struct req *r, int fd, struct timespec *when)
{
	struct logrec lr;
	struct buf b = BUF_INIT;
	const char *e;

	memset(&lr, 0, sizeof(lr));
	lr.lr_req = r;
	lr.lr_when = *when;
	lr.lr_ext = 1;
	lr.lr_status = 503;
	if (http_error_format(&b, 503, "The handler is not available.", NULL) ==
	    -1)
		/* No memory for the page: the one that needs none. */
		(void)http_error(fd, 503, "The handler is not available.");
	else if (write_all(fd, b.b_data, b.b_len) == 0 &&
	    strcmp(r->r_method, "HEAD") != 0 &&
	    (e = strstr(b.b_data, "\r\n\r\n")) != NULL)
		lr.lr_out = (long long)(b.b_len - (size_t)(e + 4 - b.b_data));
	buf_free(&b);
	logf_record(f, &lr);
	close(fd);
	req_free(r);
}

void
relay_start(struct child *ch, struct fmt *f, struct req *r, int fd)
{
	struct timespec when;
	struct relay *rl;
	int sv[2];

	clock_gettime(CLOCK_REALTIME, &when);
	if ((rl = calloc(1, sizeof(*rl))) == NULL) {
		relay_refuse(f, r, fd, &when);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_errno(LOG_ERR, "socketpair");
		free(rl);
		relay_refuse(f, r, fd, &when);
		return;
	}
	if (child_handle(ch, r, sv[1]) == -1) {
		log_errno(LOG_ERR, "cannot pass the request to the child");
		close(sv[0]);
		close(sv[1]);
		free(rl);
		relay_refuse(f, r, fd, &when);
		return;
	}
	close(sv[1]);
	rl->rl_req = r;
	rl->rl_fmt = f;
	rl->rl_when = when;
	clock_gettime(CLOCK_MONOTONIC, &rl->rl_t0);
	rl->rl_cfd = fd;
	rl->rl_hfd = sv[0];
	rl->rl_dfd = -1;
	rl->rl_pipe[0] = rl->rl_pipe[1] = -1;
	rl->rl_crd = rl->rl_cwr = rl->rl_hwr = 1;
	watch_init(&rl->rl_cw, fd, relay_event, rl);
	watch_init(&rl->rl_hw, sv[0], relay_event, rl);
	buf_init(&rl->rl_up, 0);
	buf_init(&rl->rl_head, 0);
	buf_init(&rl->rl_down, 0);
	handler_hold();
	relay_link(rl);
	relay_step(rl);
}
