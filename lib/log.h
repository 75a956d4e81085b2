/*
 * log.h: diagnostics for every program.
 *
 * Messages go to standard error as "program: message", or to syslog
 * (identity = program name, with the pid) when log_init() finds
 * ASHD_USESYSLOG in the environment or log_use_syslog() was called.
 * Messages are single lines: control characters in them are escaped so
 * that client-supplied data cannot forge log lines.
 */
#ifndef ASHD_LOG_H
#define ASHD_LOG_H

#include <syslog.h>

void log_init(const char *progname);
/* `--version` as the only argument?  (Only then: a transient handler's
 * operands come from the request.)  Every program also takes -V. */
int log_want_version(int argc, char **argv);
/* Print "program (package) version" to standard output; returns 0,
 * the exit status. */
int log_version(void);
void log_use_syslog(void);
const char *log_progname(void);
void
log_msg(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like log_msg(), with ": strerror(errno)" appended. */
void
log_errno(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log at LOG_ERR and exit(status). */
void log_die(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));
void log_die_errno(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#ifdef ASHD_INTERNAL
/* Inside the project's tree only (not part of the installed API):
 * allocation helpers for start-up and configuration paths, where
 * running out of memory is fatal (exit status 1). */
#include <stddef.h>
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
#endif

#endif
