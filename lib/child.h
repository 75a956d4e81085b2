/*
 * child.h: handler children a program starts and passes requests to
 * (ashd(7), "Handlers").
 *
 * Configuration: the stanzas
 *
 *	child NAME		a persistent handler: one process, started on
 *	    exec PROG ARGS...	first use, given requests over a socket
 *	fchild NAME		a transient handler: one process per request,
 *	    exec PROG ARGS...	METHOD URL REST appended to its arguments
 *
 * A child runs in the directory of the file that defined it (ch_dir;
 * PROG is looked up in $PATH, or relative to that directory if it holds
 * a '/').  Its standard error is the program's; so is its standard
 * output if it is persistent.  It gets no descriptors >= 3, an empty
 * signal mask, and SIGPIPE and SIGCHLD at their defaults.
 *
 * Persistent children get a SOCK_SEQPACKET socket on standard input and
 * one request datagram (req_send()) per request.  A child whose socket
 * refuses a request (it died) is restarted once and the request sent
 * again.  Sends block while the child's queue is full.  Programs using
 * this module ignore SIGPIPE (every program of the project does).
 *
 * Reaping: a program calls child_reap() from its main loop after
 * SIGCHLD (a flag set by the handler, or signalfd).  It reaps every
 * exited process and marks persistent children dead, so they are
 * started again on their next use.  Programs with other children of
 * their own reap them themselves and call child_exited() for each pid.
 *
 * Functions return 0 / -1 with errno, or a pointer / NULL.
 */
#ifndef ASHD_CHILD_H
#define ASHD_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#include "loop.h"

struct cfread;
struct req;
struct stanza;
struct chq;

enum child_type {
	CHILD_PERSISTENT, /* "child" */
	CHILD_TRANSIENT	  /* "fchild" */
};

struct child {
	struct child *ch_next; /* for the caller's list */
	char *ch_name;
	enum child_type ch_type;
	char **ch_argv; /* program and arguments */
	char *ch_dir;	/* working directory, NULL: inherit */
	pid_t ch_pid;	/* persistent: the process, or 0 */
	int ch_fd;	/* persistent: our end, or -1 */
	/*
	 * Persistent, optional: run in the new process after its socket
	 * is on standard input and before the chdir to ch_dir and the
	 * exec (to change credentials, say); -1 with errno stops the
	 * start, and child_start() fails with that errno.
	 */
	int (*ch_setup)(const struct child *ch);
	/*
	 * Persistent, optional: a handler reached rather than started.
	 * child_start() calls ch_connect(ch) instead of starting a
	 * process; it returns a connected SOCK_SEQPACKET socket
	 * (close-on-exec), or -1 with errno.  ch_pid then stays 0, and
	 * "restarting" the child is connecting again (htpipe's client).
	 */
	int (*ch_connect)(struct child *ch);
	/* Optional: called when requests waited in the queue (see
	 * child_set_loop()) and none waits any more: a relay that stopped
	 * reading its input while they waited reads on. */
	void (*ch_drained)(struct child *ch);
	/* Optional: called by child_reaped() once the process has exited
	 * and is marked dead (httimed ends with its child). */
	void (*ch_exited)(struct child *ch);
	void *ch_arg; /* for the hooks above */
	/* Internal: the list of running persistent children. */
	struct child *ch_rnext;
	struct child *ch_rprev;
	/* Internal: requests waiting for room in the socket (child_set_loop). */
	struct chq *ch_qhead;
	struct chq **ch_qtail;
	size_t ch_nq;
	struct watch ch_watch;
};

/* Is s a "child" or "fchild" stanza? */
int child_is_stanza(const struct stanza *s);
/*
 * Make a child from a child/fchild stanza, with ch_dir = s->s_dir.
 * On error NULL, with *errp a message in the "file:line: ..." form
 * (free() it), or *errp NULL and errno ENOMEM.
 */
struct child *child_parse(const struct stanza *s, char **errp);
/*
 * A child/fchild stanza of a program's configuration (lib/cf's
 * cf_read()) pushed onto *list; a bad stanza, a name the list already
 * has, or a failed allocation is reported and counted in rd instead.
 */
void child_conf(struct cfread *rd, const struct stanza *s, struct child **list);
/* A child made by hand; argv (NULL-terminated, argv[0] the program)
 * and dir (may be NULL) are copied. */
struct child *child_new(const char *name, enum child_type type,
    char *const argv[], const char *dir);
/* Stop (child_stop()) and free one child, or a whole ch_next list. */
void child_free(struct child *ch);
void child_free_list(struct child *list);
/* First child named `name` in a ch_next list, or NULL. */
struct child *child_find(struct child *list, const char *name);

/* Start a persistent child now (no-op if running). */
int child_start(struct child *ch);
/* Close our end of a persistent child's socket: it sees end-of-file and
 * exits (it is reaped later).  ch_pid becomes 0, ch_fd -1. */
void child_stop(struct child *ch);

/*
 * Make sends to persistent children non-blocking: with a loop set, a
 * request the child's socket has no room for waits in a queue of the
 * child (its response socket duplicated), sent as soon as the socket
 * is writable, so that one slow child never stalls the program.  If
 * the child dies with requests waiting, or is freed, each waiting
 * client gets 503.  A queue longer than ASH_CHILD_QUEUE_MAX makes
 * child_handle() fail with EAGAIN.  Without a loop, sends block.
 */
void child_set_loop(struct loop *l);

/*
 * Hand request r with its response socket fd to ch: send it to a
 * persistent child (starting or restarting it as needed), or start a
 * transient one.  fd is not closed: the caller closes its copy.  -1
 * with errno if the request could not be handed over; the caller then
 * answers the client itself.
 */
int child_handle(struct child *ch, const struct req *r, int fd);

/*
 * child_handle() for a relay, which is done with the request either
 * way: if it cannot be handed over, log why and answer the client 503
 * (500 if the program is missing); then close fd and free r.  0 / -1.
 */
int child_pass(struct child *ch, struct req *r, int fd);

/*
 * Start a transient handler for one request: argv + METHOD URL REST,
 * in directory dir (NULL: inherit), fd on standard input and output.
 * The environment is the program's without any REQ_* variables and
 * HTTP_VERSION, plus REQ_<NAME>=value for every header (NAME upper-case,
 * '-' made '_'; a header whose name has any character other than
 * letters, digits and '-' is left out, so that none can pose as another;
 * repeated names are joined with ", ") and HTTP_VERSION=r_version.  Returns the pid once
 * the program has been executed, or -1 with errno if it could not be
 * (ENOENT for a missing program, as execvp(3) reported it).
 */
pid_t
child_spawn(char *const argv[], const char *dir, const struct req *r, int fd);

/* How child_run() starts a program. */
struct child_run {
	int cr_in;	    /* fd for standard input, -1: /dev/null */
	int cr_out;	    /* fd for standard output, -1: ours */
	int cr_err;	    /* fd for standard error, -1: ours */
	const char *cr_dir; /* working directory, NULL: ours */
	char **cr_envp;	    /* environment, NULL: ours */
	int cr_pgrp;	    /* in a process group of its own */
	/* Optional: run in the new process after its descriptors are in
	 * place, before the chdir and the exec; -1 with errno fails the
	 * start with that errno.  Without it, posix_spawn(3) is used. */
	int (*cr_setup)(void *arg);
	void *cr_arg;
};
#define CHILD_RUN_INIT \
	{ \
		-1, -1, -1, NULL, NULL, 0, NULL, NULL \
	}

/*
 * The one way the project starts a process: argv[0] (looked up in
 * $PATH unless it holds a '/', then relative to cr_dir) with arguments
 * argv, descriptors 0-2 as `how` says and no others, an empty signal
 * mask, SIGPIPE and SIGCHLD at their defaults.  Returns the pid once
 * the program runs, or -1 with errno saying why it could not be started
 * (ENOENT for a missing program or directory, EACCES, what cr_setup
 * said, ...).  Start from CHILD_RUN_INIT.
 */
pid_t child_run(char *const argv[], const struct child_run *how);

/* Note that pid has exited: if it is a running persistent child, mark it
 * dead (child_stop()).  Returns 1 if it was one, else 0. */
int child_exited(pid_t pid);
/* pid exited with status (waitpid()): if it is a running persistent
 * child, log a failure, mark it dead and answer what waited for it with
 * 503.  Returns 1 if it was one, else 0. */
int child_reaped(pid_t pid, int status);
/* Reap every exited child process without blocking (waitpid(-1)),
 * calling child_reaped() for each.  Returns how many were reaped. */
int child_reap(void);

/*
 * Reload: move the running processes of `old` (pid and socket) to the
 * entries of `new` with the same name and type, then stop every old
 * persistent child not taken over.  `old` is left with nothing
 * running and can be freed with child_free_list().
 */
void child_adopt(struct child *old, struct child *new);

#endif
