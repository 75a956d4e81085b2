/*
 * ratequeue: limit the rate of each client's requests with a leaky
 * bucket, passing the requests it lets through to its child, a
 * persistent handler.
 *
 * Each client (X-Ash-Address; requests without a usable address share
 * one bucket) has a level that drains at RATE a second.  A request
 * passes while the level is below SIZE and raises it by one; otherwise
 * it waits in the bucket's brim (up to BRIM requests, oldest first,
 * each let through as soon as the level is below SIZE again); beyond
 * that it is answered 429 with Retry-After.  A waiting request whose
 * client leaves (htparser closes its end of the response socket) is
 * dropped at once, freeing its place.
 *
 *	bucket state		event			next
 *	empty, nothing waits	request			passes, level 1
 *	level < SIZE, none wait	request			passes, level + 1
 *	level >= SIZE		request			waits (brim not full)
 *				request			429 (brim full)
 *	requests waiting	timer: level < SIZE	oldest passes
 *				its client leaves	dropped
 *	level 0, none waiting	RETAIN ms idle		forgotten
 *
 * Memory is bounded: table.c keeps at most rc_buckets buckets, and at
 * most qmax requests wait in all.  End of input stops reading; the
 * requests still waiting are let through at once, and ratequeue exits
 * once its child has taken them.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ashlimits.h"
#include "buf.h"
#include "cf.h"
#include "child.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "ratequeue.h"
#include "req.h"

#define LONGEST_WAIT (1000ULL * 86400 * 365) /* ms, for tiny rates */

struct rqconf rqconf;
static char *cfpath; /* -c, as found */
static struct child *ch;
static long nqueued, qmax;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: ratequeue [-ht] [-c CONFIG] [-s BUCKET-SIZE] "
	    "[-r RATE] [-b BRIM-SIZE] PROGRAM [ARGS...]\n");
}

/* Bring b's level up to now. */
static void
drain(struct bucket *b, uint64_t now)
{
	if (now <= b->b_last)
		return;
	b->b_level -= (double)(now - b->b_last) / 1000.0 * rqconf.rc_rate;
	if (b->b_level < 0)
		b->b_level = 0;
	b->b_last = now;
}

/* Seconds of draining at the rate as milliseconds, rounded up. */
static uint64_t
drain_ms(double level)
{
	double ms = level / rqconf.rc_rate * 1000.0;
	uint64_t n;

	if (!(ms > 0))
		return 0;
	if (ms >= (double)LONGEST_WAIT)
		return LONGEST_WAIT;
	n = (uint64_t)ms;
	return (double)n < ms ? n + 1 : n;
}

/* Arm b's timer: the oldest waiting request's turn, or its expiry. */
static void
schedule(struct bucket *b)
{
	uint64_t ms;

	if (b->b_nq > 0)
		ms = drain_ms(b->b_level - rqconf.rc_size) + 1;
	else
		ms = drain_ms(b->b_level) + ASH_RATEQUEUE_RETAIN;
	if (loop_timer(handler_loop(), &b->b_timer, ms) == -1)
		log_errno(LOG_ERR, "timer");
}

/* Answer status with Retry-After: secs. */
static void
refuse(int fd, int status, uint64_t secs, const char *msg)
{
	struct buf b = BUF_INIT;
	char extra[64];

	snprintf(extra, sizeof(extra), "Retry-After: %llu\r\n",
	    (unsigned long long)(secs > 0 ? secs : 1));
	if (http_error_format(&b, status, msg, extra) == 0)
		(void)write_all(fd, b.b_data, b.b_len);
	else
		http_error(fd, status, msg);
	buf_free(&b);
}

/* Take w off its bucket's brim. */
static void
unqueue(struct waiter *w)
{
	struct bucket *b = w->wt_bucket;

	if (w->wt_prev != NULL)
		w->wt_prev->wt_next = w->wt_next;
	else
		b->b_qhead = w->wt_next;
	if (w->wt_next != NULL)
		w->wt_next->wt_prev = w->wt_prev;
	else
		b->b_qtail = w->wt_prev;
	b->b_nq--;
	loop_unwatch(handler_loop(), &w->wt_watch);
	if (--nqueued == 0)
		handler_release();
}

/* Let the oldest waiting requests through while the level allows. */
static void
release(struct bucket *b)
{
	struct waiter *w;

	while ((w = b->b_qhead) != NULL && b->b_level < rqconf.rc_size) {
		unqueue(w);
		b->b_level += 1;
		child_pass(ch, w->wt_req, w->wt_fd);
		free(w);
	}
}

/* The client of a waiting request went away: drop it. */
static void
waiter_event(struct watch *wa, uint32_t ev)
{
	struct waiter *w = wa->w_arg;
	struct bucket *b = w->wt_bucket;

	(void)ev;
	unqueue(w);
	close(w->wt_fd);
	req_free(w->wt_req);
	free(w);
	schedule(b);
}

static int
enqueue(struct bucket *b, struct req *r, int fd)
{
	struct waiter *w;

	if (nqueued >= qmax || (w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->wt_bucket = b;
	w->wt_req = r;
	w->wt_fd = fd;
	/* No events asked: epoll still tells EPOLLHUP and EPOLLERR. */
	watch_init(&w->wt_watch, fd, waiter_event, w);
	if (loop_watch(handler_loop(), &w->wt_watch, 0) == -1) {
		free(w);
		return -1;
	}
	if ((w->wt_prev = b->b_qtail) != NULL)
		b->b_qtail->wt_next = w;
	else
		b->b_qhead = w;
	b->b_qtail = w;
	b->b_nq++;
	if (nqueued++ == 0)
		handler_hold();
	return 0;
}

/* Count a 429 for the log: the first, then once a minute. */
static void
note_blocked(struct bucket *b, uint64_t now)
{
	char a[64];

	b->b_blocked++;
	if (!b->b_blocking) {
		b->b_blocking = 1;
		b->b_wtime = now;
		log_msg(LOG_NOTICE, "blocking requests from %s",
		    key_format(&b->b_key, a, sizeof(a)));
	} else if (now - b->b_wtime >= ASH_RATEQUEUE_LOGEVERY) {
		log_msg(LOG_NOTICE, "blocked %lu requests from %s",
		    b->b_blocked, key_format(&b->b_key, a, sizeof(a)));
		b->b_blocked = 0;
		b->b_wtime = now;
	}
}

void
bucket_forget(struct bucket *b)
{
	char a[64];

	if (b->b_blocked > 0)
		log_msg(LOG_NOTICE, "blocked %lu requests from %s",
		    b->b_blocked, key_format(&b->b_key, a, sizeof(a)));
	loop_untimer(handler_loop(), &b->b_timer);
	table_remove(b);
	free(b);
}

static void
bucket_timer(struct timer *t)
{
	struct bucket *b = t->t_arg;

	drain(b, loop_now());
	release(b);
	if (b->b_nq == 0 && b->b_level <= 0)
		bucket_forget(b);
	else
		schedule(b);
}

static void
serve_one(struct req *r, int fd, void *arg)
{
	struct bucket *b;
	struct rqkey k;
	uint64_t now = loop_now(), secs;

	(void)arg;
	key_of(r, &k);
	if ((b = table_get(&k, bucket_timer)) == NULL) {
		log_errno(LOG_ERR, "no room for another client");
		refuse(fd, 503, 1, "The server is busy.");
		goto done;
	}
	drain(b, now);
	release(b);
	if (b->b_nq == 0 && b->b_level < rqconf.rc_size) {
		b->b_level += 1;
		child_pass(ch, r, fd);
		schedule(b);
		return;
	}
	secs = (drain_ms(b->b_level - rqconf.rc_size) + 999) / 1000;
	if (b->b_nq < rqconf.rc_brim) {
		if (enqueue(b, r, fd) == 0) {
			schedule(b);
			return;
		}
		refuse(fd, 503, secs, "The server is busy.");
	} else {
		note_blocked(b, now);
		refuse(fd, 429, secs,
		    "Your client is sending requests "
		    "faster than this server accepts them.");
	}
	schedule(b);
done:
	close(fd);
	req_free(r);
}

static void
drain_now(struct bucket *b)
{
	drain(b, loop_now());
}

static void
resettle(struct bucket *b)
{
	release(b);
	schedule(b);
}

/* SIGHUP: read the -c file again; keep the settings if it fails. */
static void
reload(void *arg)
{
	struct rqconf c;

	(void)arg;
	if (cfpath == NULL)
		return;
	if (conf_read(cfpath, &c) == -1) {
		log_msg(LOG_ERR, "%s: keeping the settings in use", cfpath);
		return;
	}
	table_walk(drain_now); /* at the old rate up to now */
	rqconf = c;
	if (table_resize(c.rc_buckets) == -1)
		log_errno(LOG_ERR, "buckets");
	table_walk(resettle);
}

static void
release_all(struct bucket *b)
{
	struct waiter *w;

	while ((w = b->b_qhead) != NULL) {
		unqueue(w);
		child_pass(ch, w->wt_req, w->wt_fd);
		free(w);
	}
}

/* End of input: what waits is let through at once, rather than keep
 * the shutdown of the whole tree waiting on the rate. */
static void
stop(void *arg)
{
	(void)arg;
	table_walk(release_all);
}

static const struct handler ratequeue_handler = {
	.h_request = serve_one,
	.h_reload = reload,
	.h_stop = stop,
};

/* The value of -s or -r: a positive number, else exit 2. */
static double
positive(int opt, const char *s)
{
	char *end;
	double x;

	x = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || !isfinite(x) || !(x > 0))
		log_die(2, "-%c %s: not a positive number", opt, s);
	return x;
}

/* The value of -b: a whole number, 0 or more, else exit 2. */
static long
whole(int opt, const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || n < 0 || n > (1L << 24))
		log_die(2, "-%c %s: not a number from 0 to %ld", opt, s,
		    1L << 24);
	return n;
}

/* -c NAME: as given if it exists or names a path, else searched. */
static char *
conf_path(const char *name)
{
	char *p;

	if (strchr(name, '/') != NULL || access(name, F_OK) == 0 ||
	    (p = cf_find(name)) == NULL)
		return xstrdup(name);
	return p;
}

static void
set_qmax(void)
{
	struct rlimit rl;

	qmax = ASH_RATEQUEUE_QUEUED;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && (rlim_t)qmax > rl.rlim_cur / 2)
		qmax = (long)(rl.rlim_cur / 2);
}

int
main(int argc, char **argv)
{
	int c, check = 0, rv;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	conf_default(&rqconf);
	while ((c = getopt(argc, argv, "+Vhtc:s:r:b:")) != -1) {
		switch (c) {
		case 'V':
			return log_version();
		case 'h':
			usage(stdout);
			return 0;
		case 't':
			check = 1;
			break;
		case 'c':
			free(cfpath);
			cfpath = conf_path(optarg);
			break;
		case 's':
			rqconf.rc_size = positive(c, optarg);
			break;
		case 'r':
			rqconf.rc_rate = positive(c, optarg);
			break;
		case 'b':
			rqconf.rc_brim = whole(c, optarg);
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind < 1 && !check) {
		usage(stderr);
		return 2;
	}
	if (cfpath != NULL && conf_read(cfpath, &rqconf) == -1)
		return 2;
	if (check) {
		printf("%s: configuration OK\n", log_progname());
		return 0;
	}
	if (!handler_check_input())
		return 1;
	handler_loop();
	set_qmax();
	if (table_init(rqconf.rc_buckets) == -1)
		log_die_errno(1, "buckets");
	if ((ch = child_new(argv[optind], CHILD_PERSISTENT, argv + optind,
		 NULL)) == NULL)
		log_die_errno(1, "out of memory");
	if (child_start(ch) == -1)
		log_die_errno(1, "%s", argv[optind]);
	handler_follow(ch);
	rv = handler_run(&ratequeue_handler, NULL);
	child_free(ch);
	return rv;
}
