/*
 * backend.h: where a gateway handler (callfcgi, callscgi) finds its
 * application: the addresses of its command line, the four modes of
 * ashd's callscgi, and the processes it starts in them.
 *
 * Modes (bconf.bc_mode, from the options; see callscgi(1)):
 *   client     an address (-u, -t, -i) only: connect to it; a request
 *              waits up to -N seconds for it to come up
 *   anonymous  PROGRAM only: a private listening Unix socket
 *              $TMPDIR/NAME.XXXXXX/sock, -n copies of PROGRAM started
 *              with it on standard input and restarted when they exit;
 *              killed, and the socket removed, by backend_stop()
 *   launching  an address and PROGRAM: connect, or else listen at the
 *              first address and start the copies there (left running
 *              when the handler exits)
 *   mixed      an address, PROGRAM and -N: start the copies with
 *              /dev/null on standard input (PROGRAM makes its own
 *              socket); requests wait up to -N seconds for it
 *
 * Backends are tried in the order given (-u and -t as they come, then
 * -i).  One whose connection fails is marked down for
 * ASH_BACKEND_DOWN_MS and skipped meanwhile, so requests fail over to
 * the next.  A request waiting for a backend tries again every quarter
 * of ASH_BACKEND_RETRY_MS (ashlimits.h).
 *
 * Start-up functions log and exit on failure; the others return 0 / -1
 * with errno.
 */
#ifndef ASHD_BACKEND_H
#define ASHD_BACKEND_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

struct loop;

struct backend {
	struct backend *b_next;
	char *b_name; /* "unix:PATH", "tcp:HOST:PORT" */
	struct sockaddr_storage b_addr;
	socklen_t b_alen;
	uint64_t b_downuntil; /* loop_now() ms; 0: up */
	int b_nconns;	      /* connections the handler has open */
	void *b_conns;	      /* the handler's list of them */
	/* What the application said of its limits, where its protocol
	 * lets it (FastCGI's FCGI_GET_VALUES); 0 otherwise. */
	int b_known;	/* it has answered */
	int b_mpx;	/* several requests per connection */
	int b_maxreqs;	/* per connection, when b_mpx */
	int b_maxconns; /* connections it takes */
};

enum backend_mode {
	BACKEND_CLIENT,
	BACKEND_ANONYMOUS,
	BACKEND_LAUNCHING,
	BACKEND_MIXED
};

/* The command line's part that backend_option() reads. */
struct backend_conf {
	int bc_retries;	       /* -N seconds, -1: not given */
	int bc_nprocs;	       /* -n copies of PROGRAM (1) */
	int bc_maxconns;       /* -m per backend, 0: not given */
	uint64_t bc_timeout;   /* -T, in ms (60 s) */
	char **bc_argv;	       /* PROGRAM ARGS, or NULL */
	const char *bc_tmpdir; /* $TMPDIR, else /tmp */
	enum backend_mode bc_mode;
};

extern struct backend_conf bconf;
extern struct backend *backends;

/* The options backend_option() takes, for getopt(). */
#define BACKEND_GETOPT "N:i:u:t:n:m:T:"

/* Defaults; call before reading the options. */
void backend_init(void);
/* Option c with its argument: 1 if it is one of BACKEND_GETOPT, 0 if
 * not, -1 if its value is bad (logged: exit 2). */
int backend_option(int c, const char *arg);
/* After the options: argv (NULL-terminated) is PROGRAM [ARGS...], or
 * empty.  Adds the -i address and sets the mode; -1 if there is
 * neither an address nor a program (a usage error). */
int backend_args(char **argv);
/* Start what the mode starts, its processes' restart timers on loop l;
 * exits with status 1 on failure. */
void backend_start(struct loop *l);
/* pid (a child) exited: 1 if it was one of ours (then restarted). */
int backend_reaped(pid_t pid, int status);
/* At exit: anonymous mode kills its processes (SIGTERM to their
 * process groups) and removes its socket. */
void backend_stop(void);
/*
 * The rest of a gateway handler's main(), after backend_args(): start
 * what the mode starts, serve requests with h (lib/handler; h_reaped
 * may be backend_child(), which restarts the application), then
 * backend_stop().  Returns main()'s exit status.
 */
struct handler;
int backend_serve(const struct handler *h);
/*
 * The whole main() of a gateway handler (callfcgi, callscgi): -h prints
 * usage(stdout), -V the version, -s sets *streamp, the options of
 * BACKEND_GETOPT and PROGRAM [ARGS...] as backend_args() takes them (a
 * usage error prints usage(stderr): status 2); then *loopp is the run
 * loop and backend_serve(h).  Returns main()'s exit status.
 */
struct loop;
int backend_main(int argc, char **argv, void (*usage)(FILE *out), int *streamp,
    struct loop **loopp, const struct handler *h);
/* backend_reaped() as a struct handler's h_reaped. */
void backend_child(pid_t pid, int status, void *arg);

/* A non-blocking connection to b under way: the fd, or -1 with errno
 * (EAGAIN: a Unix socket whose queue is full). */
int backend_connect(const struct backend *b);
/* b failed: skip it for ASH_BACKEND_DOWN_MS (logged once). */
void backend_down(struct backend *b, const char *why);
int backend_up(const struct backend *b);
/*
 * A request found no backend up, and has waited since `since`
 * (loop_now()): 0 to keep waiting, or the status to answer once its
 * time is over (-N seconds, else two retries): 502 with one backend,
 * 503 with several.
 */
int backend_giveup(uint64_t since);

#endif
