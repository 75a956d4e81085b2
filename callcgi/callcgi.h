/*
 * callcgi.h: options and the per-request job machinery (job.c) that
 * both conventions of callcgi use.
 */
#ifndef CALLCGI_H
#define CALLCGI_H

#include <stdint.h>
#include <sys/types.h>

#include "loop.h"

struct req;

struct cgiopts {
	const char *co_program; /* -p or -P: interpreter, or NULL */
	char **co_args;		/* -P: its arguments, NULL-terminated */
	int co_chdir;		/* -c: run in the script's directory */
	uint64_t co_timeout;	/* -t, milliseconds */
	const char *co_path;	/* PATH given to scripts */
	const char *co_tmpdir;	/* where bodies too big for memory go */
	int co_stream;		/* -s: stream bodies with a length */
	int co_limit;		/* -l: most scripts at once, 0: any */
	int co_queue;		/* -q: most requests waiting for one */
	uint64_t co_wait;	/* -w: how long one waits, milliseconds */
};

extern struct cgiopts cgiopt;

/* Serve request r (taken over) answering on sock (taken over); each
 * job is held (handler_hold()) until it is over. */
void job_start(struct loop *l, struct req *r, int sock);
/* A child process has been reaped. */
void job_reaped(pid_t pid);

#endif
