/*
 * accesslog.h: the parts of accesslog (see accesslog(1)).
 *
 *	main.c		arguments, the child, the request path of the
 *			plain mode (log, then pass the request on)
 *	format.c	the FORMAT string: compiled once, expanded per
 *			request with every field escaped
 *	logfile.c	the log file: append-only, locked, buffered,
 *			reopened on SIGHUP, write errors reported and
 *			survived
 *	relay.c		the extended mode (-e): the response is relayed
 *			through accesslog and counted as it goes out
 */
#ifndef ACCESSLOG_H
#define ACCESSLOG_H

#include <stddef.h>
#include <time.h>

struct buf;
struct child;
struct http_resp;
struct loop;
struct req;

/* What one log record is made of. */
struct logrec {
	const struct req *lr_req;
	struct timespec lr_when; /* request received (realtime) */
	int lr_ext;		 /* the fields below are known */
	int lr_status;
	long long lr_in;		 /* request body bytes */
	long long lr_out;		 /* response body bytes */
	long long lr_usec;		 /* handler time, microseconds */
	const struct http_resp *lr_resp; /* response head, or NULL */
};

/* format.c */
struct fmt;
/* NULL with *errp a message (free() it) if the format is malformed. */
struct fmt *fmt_compile(const char *s, char **errp);
void fmt_free(struct fmt *f);
/* Append the record and a newline to b; 0 / -1 (b is left as it was). */
int fmt_expand(struct fmt *f, const struct logrec *lr, struct buf *b);
/* Append s to b escaped as every field is (accesslog(1), FORMAT). */
int fmt_escape(struct buf *b, const char *s);

/* logfile.c */
/* Open (and unless nolock, lock) the log; "-" is standard output.
 * Dies on failure: call it at start-up. */
void logf_open(const char *path, int nolock);
/* Records are flushed when the current batch of events has been
 * handled (flush) or when 64 KiB have gathered or a second has passed
 * (no flush, -F). */
void logf_setup(struct loop *l, int flush);
/* Format one record into the buffer. */
void logf_record(struct fmt *f, const struct logrec *lr);
/* SIGHUP: write what is buffered, then reopen the file by name. */
void logf_reopen(void);
/* Write what is buffered (at exit). */
void logf_flush(void);
/* -P: the pid holding the lock on path; -1 (logged) if none. */
long logf_lockpid(const char *path);

/* relay.c */
/* Pass r on to ch through a socket of our own and relay the response;
 * the record is logged when the response has ended.  r and fd are taken
 * over. */
void relay_start(struct child *ch, struct fmt *f, struct req *r, int fd);

#endif
