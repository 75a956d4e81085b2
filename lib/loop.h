/*
 * loop.h: the event loop: epoll for descriptors, a binary heap of
 * timers on CLOCK_MONOTONIC (millisecond resolution), and deferred
 * calls that run after the current batch of events, so that an object
 * freed while handling one event is never touched by a later event of
 * the same batch.
 *
 * Watchers and timers are embedded in the caller's objects; the loop
 * never allocates per event.  Callbacks may add, change and remove any
 * watcher or timer, including their own.
 */
#ifndef ASHD_LOOP_H
#define ASHD_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct loop;

struct watch {
	int w_fd;
	uint32_t w_events; /* EPOLLIN/EPOLLOUT... currently asked */
	void (*w_cb)(struct watch *w, uint32_t revents);
	void *w_arg;
	int w_added;
};

struct timer {
	uint64_t t_when; /* absolute, loop_now() milliseconds */
	size_t t_idx;	 /* heap position + 1; 0 = not armed */
	void (*t_cb)(struct timer *t);
	void *t_arg;
};

struct loop *loop_new(void);
void loop_free(struct loop *l);

void watch_init(struct watch *w, int fd, void (*cb)(struct watch *, uint32_t),
    void *arg);
/* Ask for `events` (0 = none, the fd stays registered); 0 / -1. */
int loop_watch(struct loop *l, struct watch *w, uint32_t events);
/* Unregister (before closing the fd). */
void loop_unwatch(struct loop *l, struct watch *w);
/* Mark w unregistered without telling epoll, for a descriptor about to
 * be closed whose open file description nobody else holds (closing it
 * then removes it from epoll): saves a system call per close. */
void loop_forget(struct loop *l, struct watch *w);

void timer_init(struct timer *t, void (*cb)(struct timer *), void *arg);
/* (Re)arm to fire `ms` milliseconds from now; 0 / -1 (ENOMEM). */
int loop_timer(struct loop *l, struct timer *t, uint64_t ms);
void loop_untimer(struct loop *l, struct timer *t);
int timer_armed(const struct timer *t);

/* Run fn(arg) after the current batch of events (or on the next turn). */
int loop_defer(struct loop *l, void (*fn)(void *), void *arg);

uint64_t loop_now(void);
/* Run until loop_stop(); returns 0, or -1 if epoll failed. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
