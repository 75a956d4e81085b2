/*
 * pool.c: NUM copies of an application, restarted when they exit (see
 * pool.h).
 *
 * Each slot of the pool is in one of three states: running (p_pid >
 * 0), waiting for a delayed restart (its timer armed), or idle (pool
 * stopped).  An exit moves a running slot to waiting or straight back
 * to running.  Processes start through lib/child's child_run().
 *
 * An exited copy's process group is ended: SIGTERM at once, SIGKILL
 * ASH_POOL_KILL_MS later.  A slot tracks one such group at a time (a
 * second exit within the grace sends the first group SIGKILL at once).
 * The group's id is the exited copy's pid, which the kernel gives to no
 * new process while the group has members; the SIGKILL is not sent
 * should the number belong to a copy of the pool again by then.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ashlimits.h"
#include "child.h"
#include "log.h"
#include "loop.h"
#include "pool.h"

struct slot {
	struct pool *s_pool;
	pid_t s_pid;	      /* 0: not running */
	uint64_t s_started;   /* loop_now() at the start */
	struct timer s_timer; /* delayed restart */
	pid_t s_orphans;      /* group of an exited copy, sent SIGTERM */
	struct timer s_kill;  /* SIGKILL to s_orphans */
};

struct pool {
	struct loop *p_loop;
	char *const *p_argv;
	int p_fd; /* their stdin, -1: /dev/null */
	int p_flags;
	int p_n;
	int p_stopped;
	struct slot *p_slots;
};

/* In the new process, before the exec: SIGTERM when we die.  The
 * parent may have died before the flag was set. */
static int
slot_setup(void *arg)
{
	pid_t parent = *(const pid_t *)arg;

	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		return -1;
	if (getppid() != parent) {
		errno = ESRCH;
		return -1;
	}
	return 0;
}

static void
slot_start(struct slot *s)
{
	struct child_run how = CHILD_RUN_INIT;
	struct pool *p = s->s_pool;
	pid_t pid, self = getpid();

	how.cr_in = p->p_fd;
	how.cr_pgrp = 1;
	if (p->p_flags & POOL_PDEATHSIG) {
		how.cr_setup = slot_setup;
		how.cr_arg = &self;
	}
	if ((pid = child_run(p->p_argv, &how)) == -1) {
		log_errno(LOG_ERR, "%s", p->p_argv[0]);
		loop_timer(p->p_loop, &s->s_timer, ASH_POOL_RESTART_MS);
		return;
	}
	s->s_pid = pid;
	s->s_started = loop_now();
}

static void
slot_timer(struct timer *t)
{
	struct slot *s = t->t_arg;

	if (!s->s_pool->p_stopped && s->s_pid == 0)
		slot_start(s);
}

/* Is pid a running copy of p? */
static int
pool_owns(const struct pool *p, pid_t pid)
{
	int i;

	for (i = 0; i < p->p_n; i++)
		if (p->p_slots[i].s_pid == pid)
			return 1;
	return 0;
}

static void
slot_kill(struct timer *t)
{
	struct slot *s = t->t_arg;

	if (s->s_orphans > 0 && !pool_owns(s->s_pool, s->s_orphans) &&
	    kill(-s->s_orphans, SIGKILL) == 0)
		log_msg(LOG_INFO,
		    "process group %d: SIGKILL to what is left "
		    "%d ms after SIGTERM",
		    (int)s->s_orphans, ASH_POOL_KILL_MS);
	s->s_orphans = 0;
}

/*
 * The copy pid has exited.  Whatever it started is left in its process
 * group (the workers of a php-cgi master killed by SIGKILL), serving
 * from the inherited socket beside the new copy, with nobody to stop or
 * replace them: end them.
 */
static void
slot_end_group(struct slot *s, pid_t pid)
{
	struct pool *p = s->s_pool;

	if (kill(-pid, SIGTERM) == -1)
		return; /* nothing left in it */
	if (!p->p_stopped)
		log_msg(LOG_WARNING,
		    "%s (pid %d) left processes in its group: "
		    "SIGTERM to them",
		    p->p_argv[0], (int)pid);
	if (s->s_orphans > 0 && !pool_owns(p, s->s_orphans))
		kill(-s->s_orphans, SIGKILL);
	s->s_orphans = pid;
	loop_timer(p->p_loop, &s->s_kill, ASH_POOL_KILL_MS);
}

struct pool *
pool_new(struct loop *l, char *const argv[], int n, int fd, int flags)
{
	struct pool *p;
	int i;

	p = xcalloc(1, sizeof(*p));
	p->p_loop = l;
	p->p_argv = argv;
	p->p_fd = fd;
	p->p_flags = flags;
	p->p_n = n;
	p->p_slots = xcalloc((size_t)n, sizeof(*p->p_slots));
	for (i = 0; i < n; i++) {
		p->p_slots[i].s_pool = p;
		timer_init(&p->p_slots[i].s_timer, slot_timer, &p->p_slots[i]);
		timer_init(&p->p_slots[i].s_kill, slot_kill, &p->p_slots[i]);
	}
	for (i = 0; i < n; i++)
		slot_start(&p->p_slots[i]);
	return p;
}

int
pool_reaped(struct pool *p, pid_t pid, int status)
{
	struct slot *s;
	int i, failed;

	for (i = 0; i < p->p_n; i++)
		if (p->p_slots[i].s_pid == pid)
			break;
	if (pid <= 0 || i == p->p_n)
		return 0;
	s = &p->p_slots[i];
	s->s_pid = 0;
	if (p->p_stopped) {
		slot_end_group(s, pid);
		return 1;
	}
	failed = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
	if (WIFSIGNALED(status))
		log_msg(LOG_WARNING,
		    "%s (pid %d) killed by signal %d; "
		    "restarting it",
		    p->p_argv[0], (int)pid, WTERMSIG(status));
	else if (failed)
		log_msg(LOG_WARNING,
		    "%s (pid %d) exited with status %d; "
		    "restarting it",
		    p->p_argv[0], (int)pid, WEXITSTATUS(status));
	slot_end_group(s, pid);
	/* A normal exit (php-cgi after PHP_FCGI_MAX_REQUESTS) is replaced
	 * at once; a failure right after the start waits. */
	if (failed && loop_now() - s->s_started < ASH_POOL_RESTART_MS)
		loop_timer(p->p_loop, &s->s_timer, ASH_POOL_RESTART_MS);
	else
		slot_start(s);
	return 1;
}

void
pool_stop(struct pool *p, int sig)
{
	int i;

	p->p_stopped = 1;
	for (i = 0; i < p->p_n; i++) {
		loop_untimer(p->p_loop, &p->p_slots[i].s_timer);
		if (sig && p->p_slots[i].s_pid > 0 &&
		    kill(-p->p_slots[i].s_pid, sig) == -1)
			kill(p->p_slots[i].s_pid, sig);
	}
}

int
pool_running(const struct pool *p)
{
	int i, n = 0;

	for (i = 0; i < p->p_n; i++)
		n += p->p_slots[i].s_pid > 0;
	return n;
}

pid_t
pool_pid(const struct pool *p, int i)
{
	return i >= 0 && i < p->p_n ? p->p_slots[i].s_pid : 0;
}

void
pool_free(struct pool *p)
{
	int i;

	if (p == NULL)
		return;
	pool_stop(p, 0);
	for (i = 0; i < p->p_n; i++)
		loop_untimer(p->p_loop, &p->p_slots[i].s_kill);
	free(p->p_slots);
	free(p);
}
