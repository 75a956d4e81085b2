/*
 * pool.h: a pool of application processes: NUM copies of one program,
 * all with the same descriptor on their standard input (the listening
 * socket of a FastCGI or SCGI application, or /dev/null), each copy
 * restarted when it exits.  callfcgi and callscgi run their
 * applications with it; multifscgi is nothing else.
 *
 * Every copy runs in a process group of its own (so that stopping it
 * reaches whatever it started), started by child_run() (lib/child).
 * When a copy exits, what is left in its group (the workers of a
 * php-cgi master that was killed) gets SIGTERM, and SIGKILL
 * ASH_POOL_KILL_MS later if still running.  A
 * copy that exits is started again at once; one that failed (a signal,
 * or a status other than 0) within ASH_POOL_RESTART_MS of its start, or
 * could not be started, waits ASH_POOL_RESTART_MS first, so that a
 * program that dies at once does not spin.
 *
 * The program reaps its children (lib/handler does) and hands each
 * exit to pool_reaped().  Start-up failures are fatal (x*alloc).
 */
#ifndef ASHD_POOL_H
#define ASHD_POOL_H

#include <sys/types.h>

struct loop;
struct pool;

/* Flags of pool_new(). */
#define POOL_PDEATHSIG \
	0x1 /* the copies get SIGTERM if we die,
				 * even by SIGKILL (PR_SET_PDEATHSIG) */

/*
 * Start n copies of argv (argv[0] looked up in PATH) with fd on their
 * standard input (-1: /dev/null).  fd stays open and owned by the
 * caller as long as the pool runs: restarts need it.  The loop is the
 * one the restart timers go on.
 */
struct pool *
pool_new(struct loop *l, char *const argv[], int n, int fd, int flags);
/* pid has exited with status: if it was a copy of this pool, start it
 * again (or not, once stopped) and return 1; else 0. */
int pool_reaped(struct pool *p, pid_t pid, int status);
/* Stop restarting; send sig to the process group of every running
 * copy (0: send nothing). */
void pool_stop(struct pool *p, int sig);
/* How many copies run (started and not yet reaped). */
int pool_running(const struct pool *p);
/* The pid of copy i (0 <= i < n), 0 if it is not running. */
pid_t pool_pid(const struct pool *p, int i);
/* Stop restarting and free; running copies are left alone. */
void pool_free(struct pool *p);

#endif
