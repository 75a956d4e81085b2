/*
 * log.c: "program: message" on stderr, or syslog when asked.
 *
 * Messages are formatted into a bounded stack buffer (long messages are
 * cut with a visible "..." marker: a log line is not data) and control
 * characters are escaped as \xHH so that client data cannot forge lines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static const char *progname = "ashd";
static int use_syslog;

void
log_init(const char *name)
{
	const char *p;

	if (name && (p = strrchr(name, '/')) != NULL)
		name = p + 1;
	if (name && *name)
		progname = name;
	if (getenv("ASHD_USESYSLOG") != NULL)
		log_use_syslog();
}

#ifndef PACKAGE_NAME
#define PACKAGE_NAME	"ashd-ng"
#define PACKAGE_VERSION "0"
#endif

int
log_want_version(int argc, char **argv)
{
	return argc == 2 && !strcmp(argv[1], "--version");
}

int
log_version(void)
{
	printf("%s (%s) %s\n", progname, PACKAGE_NAME, PACKAGE_VERSION);
	return fflush(stdout) == 0 ? 0 : 1;
}

void
log_use_syslog(void)
{
	if (!use_syslog)
		openlog(progname, LOG_PID, LOG_DAEMON);
	use_syslog = 1;
}

const char *
log_progname(void)
{
	return progname;
}

static void
log_out(int prio, const char *msg)
{
	char line[2048];
	size_t o = 0;
	const unsigned char *s;

	for (s = (const unsigned char *)msg; *s && o + 5 < sizeof(line); s++) {
		if (*s < 0x20 || *s == 0x7f) {
			snprintf(line + o, sizeof(line) - o, "\\x%02x", *s);
			o += 4;
		} else
			line[o++] = (char)*s;
	}
	if (*s && o + 4 < sizeof(line)) {
		memcpy(line + o, "...", 3);
		o += 3;
	}
	line[o] = '\0';
	if (use_syslog)
		syslog(prio, "%s", line);
	else
		fprintf(stderr, "%s: %s\n", progname, line);
}

static void
log_v(int prio, int err, const char *fmt, va_list ap)
{
	char msg[2048];
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	if (err && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s",
		    strerror(err));
	log_out(prio, msg);
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(prio, 0, fmt, ap);
	va_end(ap);
}

void
log_errno(int prio, const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	log_v(prio, err, fmt, ap);
	va_end(ap);
	errno = err;
}

void
log_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(status);
}

void
log_die_errno(int status, const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	log_v(LOG_ERR, err, fmt, ap);
	va_end(ap);
	exit(status);
}
