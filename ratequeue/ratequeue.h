/*
 * ratequeue.h: the parts of ratequeue (main.c: the leaky buckets and
 * the handler; table.c: the table of buckets; conf.c: the settings).
 */
#ifndef RATEQUEUE_H
#define RATEQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

struct req;

/* The settings (-s, -r, -b, or the -c file). */
struct rqconf {
	double rc_size;	 /* level below which requests pass */
	double rc_rate;	 /* requests a second the level drains */
	long rc_brim;	 /* requests that may wait per bucket */
	long rc_buckets; /* buckets at most (ours) */
};

/* A client: its address family (0: none or unparseable) and bytes. */
struct rqkey {
	uint8_t k_family;
	uint8_t k_len;
	uint8_t k_addr[16];
};

/* A request waiting in a bucket's brim, its response socket watched
 * so that a client that leaves frees its place at once. */
struct waiter {
	struct waiter *wt_next;
	struct waiter *wt_prev;
	struct bucket *wt_bucket;
	struct req *wt_req;
	int wt_fd;
	struct watch wt_watch;
};

/*
 * One client's leaky bucket.  b_level is the level at time b_last
 * (loop_now() ms); it drains at rc_rate a second.  The timer fires when
 * the first waiting request may pass, or, with nothing waiting, when
 * the bucket has been empty for ASH_RATEQUEUE_RETAIN ms (then it is
 * forgotten).
 */
struct bucket {
	struct bucket *b_hnext; /* hash chain */
	struct bucket *b_lnext; /* use order, most recent first */
	struct bucket *b_lprev;
	struct waiter *b_qhead; /* the brim, oldest first */
	struct waiter *b_qtail;
	struct timer b_timer;
	double b_level;
	uint64_t b_last;
	uint64_t b_wtime;	 /* blocking logged at */
	unsigned long b_blocked; /* 429s not logged yet */
	long b_nq;
	int b_blocking;
	struct rqkey b_key;
};

/* main.c */
extern struct rqconf rqconf;
/* Forget a bucket (no request waits in it); logs what it blocked. */
void bucket_forget(struct bucket *b);

/* table.c: buckets by key, at most rc_buckets of them. */
int table_init(long max);
/* The client of a request (X-Ash-Address). */
void key_of(const struct req *r, struct rqkey *k);
/* The key as text, into buf (at least 64 bytes). */
const char *key_format(const struct rqkey *k, char *buf, size_t cap);
/* The bucket of k, made if new (its timer calling tcb; the least
 * recently used bucket without waiting requests is forgotten to make
 * room at the limit), moved to the front of the use order.  NULL with errno ENOMEM, or EAGAIN if every bucket has
 * requests waiting. */
struct bucket *table_get(const struct rqkey *k, void (*tcb)(struct timer *));
/* Unlink b from the table (the caller frees it). */
void table_remove(struct bucket *b);
/* Change the limit (reload); evicts down to it. */
int table_resize(long max);
/* Every bucket, oldest first (fn may not remove others). */
void table_walk(void (*fn)(struct bucket *b));
long table_count(void);

/* conf.c */
void conf_default(struct rqconf *c);
/* Read the -c file into *c, starting from the defaults.  0, or -1 with
 * every error logged ("file:line: ...").  Unknown directives are
 * warned about. */
int conf_read(const char *path, struct rqconf *c);

#endif
