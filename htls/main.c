/*
 * htls: list a directory that has no index file, as dirplex hands it
 * over (the directory in X-Ash-File, an empty rest string).
 *
 * Both handler conventions: started with METHOD URL REST as its last
 * arguments (ashd's way: "match directory" + "fork htls"), it serves
 * that one request on standard output; with a request socket on
 * standard input (a "child" stanza) it serves requests until
 * end-of-file.  Each response is built whole in memory (list.c); a
 * persistent htls writes it without blocking, so that a client slow to
 * read never holds up the next listing.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "handler.h"
#include "htls.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "req.h"

/* A response on its way out. */
struct out {
	struct watch o_watch;
	struct buf o_buf;
	size_t o_off;
};

static void
usage(FILE *out)
{
	fprintf(out, "usage: htls [-hms] [-c STYLESHEET] [METHOD URL REST]\n");
}

static void
out_done(struct out *o)
{
	loop_unwatch(handler_loop(), &o->o_watch);
	close(o->o_watch.w_fd);
	buf_free(&o->o_buf);
	free(o);
	handler_release();
}

/* Write what the socket takes: 1 finished (or failed), 0 blocked. */
static int
out_push(struct out *o)
{
	ssize_t n;

	while (o->o_off < o->o_buf.b_len) {
		n = send(o->o_watch.w_fd, o->o_buf.b_data + o->o_off,
		    o->o_buf.b_len - o->o_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : 1;
		o->o_off += (size_t)n;
	}
	return 1;
}

static void
out_event(struct watch *w, uint32_t ev)
{
	struct out *o = w->w_arg;

	(void)ev;
	if (out_push(o))
		out_done(o);
}

static void
serve_one(struct req *r, int fd, void *arg)
{
	struct out *o;

	(void)arg;
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		http_error(fd, 503, "Out of memory.");
		close(fd);
		req_free(r);
		return;
	}
	handler_hold();
	watch_init(&o->o_watch, fd, out_event, o);
	if (htls_respond(r, &o->o_buf) == -1) {
		buf_clear(&o->o_buf);
		http_error(fd, 503, "Out of memory.");
		out_done(o);
	} else if (out_push(o) ||
	    loop_watch(handler_loop(), &o->o_watch, EPOLLOUT) == -1)
		out_done(o);
	req_free(r);
}

static const struct handler htls_handler = {
	.h_request = serve_one,
};

/* ashd's convention: one request from the arguments and environment. */
static int
transient(char **args)
{
	struct buf b = BUF_INIT;
	struct req *r;
	int rv;

	if ((r = req_from_env(args[0], args[1], args[2])) == NULL ||
	    htls_respond(r, &b) == -1)
		log_die(1, "out of memory");
	rv = write_all(1, b.b_data, b.b_len) == -1 ? 1 : 0;
	buf_free(&b);
	req_free(r);
	return rv;
}

int
main(int argc, char **argv)
{
	int c;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	setlocale(LC_COLLATE, "");
	while ((c = getopt(argc, argv, "Vhmsc:")) != -1) {
		switch (c) {
		case 'V':
			return log_version();
		case 'h':
			usage(stdout);
			return 0;
		case 'm':
			htls_opts.o_mtime = 1;
			break;
		case 's':
			htls_opts.o_size = 1;
			break;
		case 'c':
			htls_opts.o_css = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (handler_persistent()) {
		if (argc != optind) {
			usage(stderr);
			return 2;
		}
		return handler_run(&htls_handler, NULL);
	}
	if (argc - optind < 3) {
		usage(stderr);
		return 2;
	}
	return transient(argv + argc - 3);
}
