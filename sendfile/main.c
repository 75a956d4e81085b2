/*
 * sendfile: send one file as the response, with validators, ranges and
 * precompressed siblings.
 *
 * It runs under either handler convention and tells them apart from
 * its standard input: a SOCK_SEQPACKET socket means persistent (many
 * requests, served concurrently from one event loop, none blocking
 * another); anything else means transient (the response socket on
 * stdin/stdout, METHOD URL REST as the last arguments, headers in
 * REQ_* variables).  The body goes out with sendfile(2).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ashlimits.h"
#include "cf.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "mime.h"
#include "req.h"
#include "serve.h"

struct xfer {
	struct watch x_watch;
	int x_sock;
	struct reply x_rp;
	size_t x_headoff;
};

static struct sfopts opts;
static struct loop *loop;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: sendfile [-h] [-c CONTENT-TYPE] [-f FILE] "
	    "[METHOD URL REST]\n");
}

/* Send what can be sent now: 1 finished, 0 blocked, -1 failed. */
static int
xfer_push(struct xfer *x)
{
	struct reply *rp = &x->x_rp;
	ssize_t n;
	size_t step;

	while (x->x_headoff < rp->rp_head.b_len) {
		n = send(x->x_sock, rp->rp_head.b_data + x->x_headoff,
		    rp->rp_head.b_len - x->x_headoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN ? 0 : errno == EINTR ? 0 : -1;
		x->x_headoff += (size_t)n;
	}
	while (rp->rp_len > 0) {
		step = rp->rp_len > ASH_SENDFILE_STEP ? ASH_SENDFILE_STEP
						      : (size_t)rp->rp_len;
		n = sendfile(x->x_sock, rp->rp_fd, &rp->rp_off, step);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1; /* the file shrank under us */
		rp->rp_len -= n;
	}
	return 1;
}

static void
xfer_done(struct xfer *x)
{
	loop_unwatch(loop, &x->x_watch);
	close(x->x_sock);
	reply_free(&x->x_rp);
	free(x);
	handler_release();
}

static void
xfer_event(struct watch *w, uint32_t ev)
{
	struct xfer *x = w->w_arg;

	(void)ev;
	if (xfer_push(x) != 0)
		xfer_done(x);
}

/* A cached response (serve_cached()) sent at once: 1, or 0 if it
 * would have blocked, with what was sent in *sentp. */
static int
send_cached(int sock, const char *data, size_t len, size_t *sentp)
{
	ssize_t n;

	*sentp = 0;
	n = send(sock, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n < 0 || (size_t)n == len)
		return 1; /* sent, or the client is gone */
	*sentp = (size_t)n;
	return 0;
}

static void
serve_one(struct req *r, int sock)
{
	struct xfer *x;
	const char *data;
	size_t len, sent;
	int cached;

	if ((cached = serve_cached(r, &opts, &data, &len)) &&
	    send_cached(sock, data, len, &sent)) {
		close(sock);
		return;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		http_error(sock, 503, "Out of memory.");
		close(sock);
		return;
	}
	x->x_sock = sock;
	x->x_rp.rp_fd = -1;
	handler_hold();
	if (cached ? buf_append(&x->x_rp.rp_head, data + sent, len - sent)
		   : serve_plan(r, &opts, &x->x_rp)) {
		http_error(sock, 500, "Out of memory.");
		xfer_done(x);
		return;
	}
	reply_inline(&x->x_rp, ASH_SENDFILE_INLINE_MAX);
	/* sendfile(2) takes no MSG_DONTWAIT.  The socket is htparser's
	 * fresh socketpair end: no other flags to keep. */
	if (x->x_rp.rp_len > 0)
		fcntl(sock, F_SETFL, O_NONBLOCK);
	watch_init(&x->x_watch, sock, xfer_event, x);
	if (xfer_push(x) != 0 || loop_watch(loop, &x->x_watch, EPOLLOUT) == -1)
		xfer_done(x);
}

static void
start_one(struct req *r, int fd, void *arg)
{
	(void)arg;
	serve_one(r, fd);
	req_free(r);
}

static const struct handler sendfile_handler = {
	.h_request = start_one,
};

/* The transient convention: rebuild the request from argv and env. */
static int
transient(char **args)
{
	struct reply rp;
	struct req *r;
	ssize_t n;

	if ((r = req_from_env(args[0], args[1], args[2])) == NULL)
		log_die(1, "out of memory");
	if (serve_plan(r, &opts, &rp) == -1)
		log_die(1, "out of memory");
	req_free(r);
	if (write_all(1, rp.rp_head.b_data, rp.rp_head.b_len) == -1)
		return 1;
	while (rp.rp_len > 0) {
		n = sendfile(1, rp.rp_fd, &rp.rp_off,
		    rp.rp_len > ASH_SENDFILE_STEP ? ASH_SENDFILE_STEP
						  : (size_t)rp.rp_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;
		rp.rp_len -= n;
	}
	reply_free(&rp);
	return 0;
}

int
main(int argc, char **argv)
{
	char *mt;
	int c;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	while ((c = getopt(argc, argv, "Vhc:f:")) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return log_version();
		case 'c':
			opts.so_ctype = optarg;
			break;
		case 'f':
			opts.so_file = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if ((mt = cf_find("mime.types")) != NULL) {
		if (mime_load(mt) == -1)
			log_errno(LOG_WARNING, "%s", mt);
		free(mt);
	}
	if (handler_persistent()) {
		loop = handler_loop();
		return handler_run(&sendfile_handler, NULL);
	}
	if (argc - optind != 3) {
		usage(stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	return transient(argv + optind);
}
