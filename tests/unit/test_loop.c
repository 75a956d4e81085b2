/*
 * test_loop.c: the event loop (lib/loop.c).
 *
 * Callbacks append a letter to a trace string, so each case checks the
 * exact order in which things ran.  Timers are a few milliseconds
 * apart; no case depends on the scheduler beyond "a timer does not fire
 * before its deadline".  A stop timer bounds every loop_run(), and
 * alarm() turns a hang into a failure.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "tap.h"

static struct loop *L;
static char trace[256];
static int early; /* timers that fired before their deadline */

static void
mark(const char *s)
{
	strncat(trace, s, sizeof(trace) - strlen(trace) - 1);
}

static void __attribute__((noreturn)) die(const char *what)
{
	perror(what);
	exit(2);
}

/* A timer whose t_arg is its letter. */
static void
on_timer(struct timer *t)
{
	if (loop_now() < t->t_when)
		early++;
	if (timer_armed(t))
		early += 100; /* disarmed before its callback */
	mark(t->t_arg);
}

static void
on_stop(struct timer *t)
{
	mark(".");
	loop_stop(L);
}

/* Run until a stop timer `ms` from now (it stays harmless if the loop
 * is stopped earlier: it is disarmed afterwards). */
static int
run_for(uint64_t ms)
{
	struct timer stop;
	int rv;

	timer_init(&stop, on_stop, NULL);
	loop_timer(L, &stop, ms);
	rv = loop_run(L);
	loop_untimer(L, &stop);
	return rv;
}

static void
test_timers(void)
{
	struct timer a, b, c, d, e;
	uint64_t t0;

	trace[0] = '\0';
	early = 0;
	timer_init(&a, on_timer, "a");
	timer_init(&b, on_timer, "b");
	timer_init(&c, on_timer, "c");
	timer_init(&d, on_timer, "d");
	timer_init(&e, on_timer, "e");
	ok(!timer_armed(&a), "fresh timer is not armed");
	t0 = loop_now();
	loop_timer(L, &a, 40);
	loop_timer(L, &b, 10);
	loop_timer(L, &c, 25);
	loop_timer(L, &d, 5);
	loop_timer(L, &e, 18);
	ok(timer_armed(&a) && timer_armed(&e), "armed timers say so");
	loop_timer(L, &a, 1);  /* re-arm: now the first */
	loop_timer(L, &d, 30); /* re-arm: now after c */
	loop_untimer(L, &c);   /* cancelled */
	loop_untimer(L, &c);   /* twice is harmless */
	ok(!timer_armed(&c), "cancelled timer is not armed");
	is_int(run_for(60), 0, "loop_run returns 0 after loop_stop");
	is_str(trace, "abed.",
	    "timers ran in deadline order, cancelled "
	    "one never");
	is_int(early, 0,
	    "no timer fired before its deadline, each disarmed "
	    "before its callback");
	ok(!timer_armed(&a) && !timer_armed(&d), "fired timers are disarmed");
	ok(loop_now() - t0 >= 30, "the run lasted past the last deadline");
}

/* A timer that re-arms itself three times, and one that cancels
 * another already due in the same pass. */
static int ticks;

static void
on_tick(struct timer *t)
{
	mark("t");
	if (++ticks < 4)
		loop_timer(L, t, 2);
}

static void
on_cancel(struct timer *t)
{
	mark("k");
	loop_untimer(L, t->t_arg);
}

static void
test_timers_in_callbacks(void)
{
	struct timer tick, k, victim, late;

	trace[0] = '\0';
	early = 0;
	ticks = 0;
	timer_init(&tick, on_tick, NULL);
	loop_timer(L, &tick, 1);
	is_int(run_for(40), 0, "run");
	is_str(trace, "tttt.", "a timer re-arming itself from its callback");
	ok(!timer_armed(&tick), "and disarmed after its last run");

	/* Both due before the loop looks: the first cancels the second. */
	trace[0] = '\0';
	timer_init(&k, on_cancel, &victim);
	timer_init(&victim, on_timer, "v");
	timer_init(&late, on_timer, "l");
	loop_timer(L, &k, 1);
	loop_timer(L, &victim, 2);
	loop_timer(L, &late, 3);
	usleep(10 * 1000);
	is_int(run_for(20), 0, "run");
	is_str(trace, "kl.",
	    "a due timer cancelled by an earlier one of the "
	    "same pass does not fire");
	is_int(early, 0, "no timer early");
}

/* Descriptor watches. */
struct reader {
	struct watch r_w;
	const char *r_name;
	struct reader *r_other; /* unwatched by this one's callback */
	int r_calls;
	uint32_t r_rev;
	int r_stop; /* loop_stop() from the callback */
};

static void
on_deferred(void *arg)
{
	mark(arg);
}

static void
on_read(struct watch *w, uint32_t rev)
{
	struct reader *r = w->w_arg;
	char c;

	r->r_calls++;
	r->r_rev |= rev;
	mark(r->r_name);
	if (rev & EPOLLIN)
		(void)read(w->w_fd, &c, 1);
	if (r->r_other != NULL)
		loop_unwatch(L, &r->r_other->r_w);
	if (r->r_stop)
		loop_stop(L);
}

static void
on_write_timer(struct timer *t)
{
	int *fd = t->t_arg;

	mark("w");
	if (write(*fd, "x", 1) != 1)
		die("write");
}

static void
reader_init(struct reader *r, int fd, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->r_name = name;
	watch_init(&r->r_w, fd, on_read, r);
}

static void
test_watch(void)
{
	struct reader r, s;
	struct timer wt;
	int p[2], sv[2];

	if (pipe(p) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		die("pipe");

	/* Readability: a timer writes, the watch fires and stops the loop. */
	trace[0] = '\0';
	reader_init(&r, p[0], "r");
	r.r_stop = 1;
	is_int(loop_watch(L, &r.r_w, EPOLLIN), 0, "loop_watch EPOLLIN");
	timer_init(&wt, on_write_timer, &p[1]);
	loop_timer(L, &wt, 5);
	is_int(run_for(1000), 0, "run");
	is_str(trace, "wr", "the pipe's watch fired after the write");
	ok(r.r_calls == 1 && (r.r_rev & EPOLLIN), "one call with EPOLLIN");

	/* Interest 0: registered but silent, though readable. */
	trace[0] = '\0';
	if (write(p[1], "y", 1) != 1)
		die("write");
	is_int(loop_watch(L, &r.r_w, 0), 0, "loop_watch 0");
	is_int(run_for(15), 0, "run");
	is_str(trace, ".", "no event with interest 0");
	is_int(loop_watch(L, &r.r_w, EPOLLIN), 0, "back to EPOLLIN");
	trace[0] = '\0';
	is_int(run_for(1000), 0, "run");
	is_str(trace, "r", "the pending byte is reported now");

	/* Unwatch: no more events, even though readable. */
	trace[0] = '\0';
	if (write(p[1], "z", 1) != 1)
		die("write");
	loop_unwatch(L, &r.r_w);
	loop_unwatch(L, &r.r_w); /* twice is harmless */
	is_int(run_for(15), 0, "run");
	is_str(trace, ".", "no event after loop_unwatch");
	is_int(loop_watch(L, &r.r_w, EPOLLIN), 0, "watch again after unwatch");
	trace[0] = '\0';
	is_int(run_for(1000), 0, "run");
	is_str(trace, "r", "events again after re-watching");

	/* Changing interest from EPOLLIN to EPOLLOUT. */
	trace[0] = '\0';
	reader_init(&s, sv[0], "s");
	s.r_stop = 1;
	is_int(loop_watch(L, &s.r_w, EPOLLIN), 0, "socket: EPOLLIN");
	is_int(run_for(15), 0, "run");
	is_str(trace, ".", "nothing to read: no event");
	is_int(loop_watch(L, &s.r_w, EPOLLOUT), 0, "socket: EPOLLOUT");
	trace[0] = '\0';
	is_int(run_for(1000), 0, "run");
	ok(!strcmp(trace, "s") && (s.r_rev & EPOLLOUT) && !(s.r_rev & EPOLLIN),
	    "EPOLLOUT reported (trace \"%s\")", trace);
	loop_unwatch(L, &s.r_w);
	loop_unwatch(L, &r.r_w);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* Deferred calls run after the whole batch; a callback's unwatch keeps
 * the other watcher of the same batch from being called. */
static void
on_read_defer(struct watch *w, uint32_t rev)
{
	on_read(w, rev);
	loop_defer(L, on_deferred, "D");
}

static void
on_deferred_stop(void *arg)
{
	mark(arg);
	loop_stop(L);
}

static void
on_deferred_chain(void *arg)
{
	mark(arg);
	loop_defer(L, on_deferred_stop, "2");
}

static void
test_defer(void)
{
	struct reader a, b;
	int p[2], q[2];

	if (pipe(p) == -1 || pipe(q) == -1)
		die("pipe");
	if (write(p[1], "a", 1) != 1 || write(q[1], "b", 1) != 1)
		die("write");

	/* Both readable before the loop looks: one batch of two events. */
	trace[0] = '\0';
	reader_init(&a, p[0], "a");
	reader_init(&b, q[0], "b");
	a.r_w.w_cb = b.r_w.w_cb = on_read_defer;
	loop_watch(L, &a.r_w, EPOLLIN);
	loop_watch(L, &b.r_w, EPOLLIN);
	is_int(run_for(20), 0, "run");
	ok(!strcmp(trace, "abDD.") || !strcmp(trace, "baDD."),
	    "deferred calls run after the batch (trace \"%s\")", trace);

	/* A callback unwatching the other watcher of the same batch. */
	trace[0] = '\0';
	if (write(p[1], "a", 1) != 1 || write(q[1], "b", 1) != 1)
		die("write");
	a.r_other = &b;
	b.r_other = &a;
	is_int(run_for(20), 0, "run");
	ok(a.r_calls + b.r_calls == 3 &&
		(!strcmp(trace, "aD.") || !strcmp(trace, "bD.")),
	    "an unwatched watcher is not called "
	    "later in the batch (trace \"%s\")",
	    trace);
	loop_unwatch(L, &a.r_w);
	loop_unwatch(L, &b.r_w);

	/* Deferred before loop_run: runs on the first turn; one deferred
	 * from a deferred call runs too; loop_stop() from it ends the run
	 * before the stop timer. */
	trace[0] = '\0';
	loop_defer(L, on_deferred_chain, "1");
	is_int(run_for(1000), 0, "run");
	is_str(trace, "12", "deferred chain ran and loop_stop ended the run");
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

int
main(void)
{
	uint64_t a, b;

	alarm(10);
	a = loop_now();
	usleep(2000);
	b = loop_now();
	ok(b >= a + 2 && b < a + 1000, "loop_now counts milliseconds");
	if ((L = loop_new()) == NULL)
		die("loop_new");
	test_timers();
	test_timers_in_callbacks();
	test_watch();
	test_defer();
	loop_free(L);
	return tap_done();
}
