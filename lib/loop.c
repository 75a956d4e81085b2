/*
 * loop.c: epoll, a timer heap and deferred calls.
 *
 * Timers live in a binary min-heap ordered by t_when; each timer knows
 * its slot (t_idx, 1-based, 0 = unarmed) so it can be moved or removed
 * in O(log n).  Deferred calls queue in a growable array and run after
 * each batch of events, so a callback may free an object that a later
 * event of the same batch refers to only through loop_defer().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "ashlimits.h"
#include "loop.h"

struct deferred {
	void (*d_fn)(void *);
	void *d_arg;
};

struct loop {
	int l_epfd;
	int l_stop;
	struct timer **l_heap;
	size_t l_nheap, l_heapcap;
	struct deferred *l_defer;
	size_t l_ndefer, l_defercap;
};

struct loop *
loop_new(void)
{
	struct loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->l_epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(l);
		return NULL;
	}
	return l;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	close(l->l_epfd);
	free(l->l_heap);
	free(l->l_defer);
	free(l);
}

uint64_t
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
watch_init(struct watch *w, int fd, void (*cb)(struct watch *, uint32_t),
    void *arg)
{
	memset(w, 0, sizeof(*w));
	w->w_fd = fd;
	w->w_cb = cb;
	w->w_arg = arg;
}

int
loop_watch(struct loop *l, struct watch *w, uint32_t events)
{
	struct epoll_event ev;

	if (w->w_added && w->w_events == events)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(l->l_epfd, w->w_added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
		w->w_fd, &ev) == -1)
		return -1;
	w->w_added = 1;
	w->w_events = events;
	return 0;
}

void
loop_unwatch(struct loop *l, struct watch *w)
{
	if (!w->w_added)
		return;
	epoll_ctl(l->l_epfd, EPOLL_CTL_DEL, w->w_fd, NULL);
	w->w_added = 0;
	w->w_events = 0;
}

void
loop_forget(struct loop *l, struct watch *w)
{
	w->w_added = 0;
	w->w_events = 0;
}

void
timer_init(struct timer *t, void (*cb)(struct timer *), void *arg)
{
	memset(t, 0, sizeof(*t));
	t->t_cb = cb;
	t->t_arg = arg;
}

int
timer_armed(const struct timer *t)
{
	return t->t_idx != 0;
}

static void
heap_set(struct loop *l, size_t i, struct timer *t)
{
	l->l_heap[i] = t;
	t->t_idx = i + 1;
}

static void
heap_up(struct loop *l, size_t i)
{
	struct timer *t = l->l_heap[i];

	while (i > 0 && l->l_heap[(i - 1) / 2]->t_when > t->t_when) {
		heap_set(l, i, l->l_heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(l, i, t);
}

static void
heap_down(struct loop *l, size_t i)
{
	struct timer *t = l->l_heap[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= l->l_nheap)
			break;
		if (c + 1 < l->l_nheap &&
		    l->l_heap[c + 1]->t_when < l->l_heap[c]->t_when)
			c++;
		if (l->l_heap[c]->t_when >= t->t_when)
			break;
		heap_set(l, i, l->l_heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void
loop_untimer(struct loop *l, struct timer *t)
{
	size_t i;
	struct timer *last;

	if (t->t_idx == 0)
		return;
	i = t->t_idx - 1;
	t->t_idx = 0;
	last = l->l_heap[--l->l_nheap];
	if (i == l->l_nheap)
		return;
	heap_set(l, i, last);
	heap_up(l, i);
	heap_down(l, last->t_idx - 1);
}

int
loop_timer(struct loop *l, struct timer *t, uint64_t ms)
{
	struct timer **n;
	size_t ncap;

	loop_untimer(l, t);
	if (l->l_nheap == l->l_heapcap) {
		ncap = l->l_heapcap ? l->l_heapcap * 2 : 64;
		if ((n = realloc(l->l_heap, ncap * sizeof(*n))) == NULL)
			return -1;
		l->l_heap = n;
		l->l_heapcap = ncap;
	}
	t->t_when = loop_now() + ms;
	heap_set(l, l->l_nheap++, t);
	heap_up(l, l->l_nheap - 1);
	return 0;
}

int
loop_defer(struct loop *l, void (*fn)(void *), void *arg)
{
	struct deferred *n;
	size_t ncap;

	if (l->l_ndefer == l->l_defercap) {
		ncap = l->l_defercap ? l->l_defercap * 2 : 16;
		if ((n = realloc(l->l_defer, ncap * sizeof(*n))) == NULL)
			return -1;
		l->l_defer = n;
		l->l_defercap = ncap;
	}
	l->l_defer[l->l_ndefer].d_fn = fn;
	l->l_defer[l->l_ndefer].d_arg = arg;
	l->l_ndefer++;
	return 0;
}

static void
run_deferred(struct loop *l)
{
	size_t i;

	/* Deferred calls may defer more; those run in this pass too. */
	for (i = 0; i < l->l_ndefer; i++)
		l->l_defer[i].d_fn(l->l_defer[i].d_arg);
	l->l_ndefer = 0;
}

static void
run_timers(struct loop *l)
{
	uint64_t now = loop_now();
	struct timer *t;

	while (l->l_nheap > 0 && l->l_heap[0]->t_when <= now) {
		t = l->l_heap[0];
		loop_untimer(l, t);
		t->t_cb(t);
	}
}

int
loop_run(struct loop *l)
{
	struct epoll_event evs[ASH_LOOP_BATCH];
	struct watch *w;
	uint64_t now;
	int i, n, timeout;

	/* A loop_stop() before loop_run() makes it return at once. */
	while (!l->l_stop) {
		run_deferred(l);
		if (l->l_stop)
			break;
		timeout = -1;
		if (l->l_nheap > 0) {
			now = loop_now();
			timeout = l->l_heap[0]->t_when <= now
			    ? 0
			    : (int)(l->l_heap[0]->t_when - now);
		}
		n = epoll_wait(l->l_epfd, evs, ASH_LOOP_BATCH, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (i = 0; i < n; i++) {
			w = evs[i].data.ptr;
			if (w->w_added)
				w->w_cb(w, evs[i].events);
		}
		run_deferred(l);
		run_timers(l);
	}
	l->l_stop = 0;
	return 0;
}

void
loop_stop(struct loop *l)
{
	l->l_stop = 1;
}
