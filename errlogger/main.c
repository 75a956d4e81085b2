/*
 * errlogger: run a program with its standard error going to the system
 * log, one message per line (errlogger(1)).
 *
 * The program gets a pipe as standard error and everything else of
 * ours: standard input and output are passed on untouched (a handler
 * keeps its request socket, a transient one its response socket) and
 * then let go of here, so that only the program holds them and its end
 * is seen as soon as it exits.  Lines are sent to the syslog socket
 * ($ASHD_SYSLOG_SOCKET, else /dev/log) in the traditional format
 * (RFC 3164, as syslog(3) writes it): "<PRI>Mmm dd hh:mm:ss TAG[PID]:
 * line", PRI = facility * 8 + priority, PID the program's.  syslog(3)
 * is not used: it cannot be pointed at another socket, and it turns the
 * kern facility into user.
 *
 * errlogger exits at the pipe's end-of-file; if the program has exited
 * by then (or within a second), with the program's status.  SIGTERM,
 * SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 are passed on to the program, so
 * that errlogger can stand in for it wherever a pid is signalled.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ashlimits.h"
#include "log.h"

#define DEFAULT_SOCKET "/dev/log"
#define WAIT_MS	       1000 /* for the program after its end-of-file */

struct name {
	const char *n_name;
	int n_value;
};

static const struct name facilities[] = { { "auth", LOG_AUTH },
	{ "authpriv", LOG_AUTHPRIV }, { "cron", LOG_CRON },
	{ "daemon", LOG_DAEMON }, { "ftp", LOG_FTP }, { "kern", LOG_KERN },
	{ "lpr", LOG_LPR }, { "mail", LOG_MAIL }, { "news", LOG_NEWS },
	{ "user", LOG_USER }, { "uucp", LOG_UUCP }, { "local0", LOG_LOCAL0 },
	{ "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },
	{ "local5", LOG_LOCAL5 }, { "local6", LOG_LOCAL6 },
	{ "local7", LOG_LOCAL7 }, { NULL, 0 } };

static const struct name priorities[] = { { "emerg", LOG_EMERG },
	{ "alert", LOG_ALERT }, { "crit", LOG_CRIT }, { "err", LOG_ERR },
	{ "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG }, { NULL, 0 } };

static const char *sockpath = DEFAULT_SOCKET;
static const char *tag;
static int pri; /* facility | priority */
static pid_t child;
static int logfd = -1; /* the syslog socket, or -1 */
static int logstream;  /* it is SOCK_STREAM */
static int errfd = -1; /* our own standard error */
static int fallback;   /* writing to errfd instead */

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: errlogger [-h] [-n NAME] [-f FACILITY] "
	    "[-p PRIORITY] PROGRAM [ARGS...]\n");
}

static int
lookup(const struct name *t, const char *s, const char *what)
{
	for (; t->n_name != NULL; t++)
		if (strcmp(t->n_name, s) == 0)
			return t->n_value;
	log_msg(LOG_ERR, "%s: unknown %s", s, what);
	exit(2);
}

/* Connect to the syslog socket: a datagram socket, or a stream one
 * where the daemon listens on such (syslog(3) tries both too). */
static int
log_connect(void)
{
	struct sockaddr_un sun;
	int type, fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sockpath) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, sockpath);
	for (type = SOCK_DGRAM;; type = SOCK_STREAM) {
		if ((fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0)) == -1)
			return -1;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			logfd = fd;
			logstream = type == SOCK_STREAM;
			return 0;
		}
		close(fd);
		if (errno != EPROTOTYPE || type == SOCK_STREAM)
			return -1;
	}
}

static int
log_send(const char *msg, size_t len)
{
	ssize_t n;

	if (logfd < 0 && log_connect() == -1)
		return -1;
	do
		n = send(logfd, msg, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	close(logfd);
	logfd = -1;
	return -1;
}

/* One message; the line is the n bytes at s (no newline). */
static void
emit(const char *s, size_t n)
{
	char msg[ERRLOG_LINE_MAX + 256], stamp[32];
	size_t hl, tl, len;
	struct tm tm;
	time_t now;
	int e;

	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm) == 0)
		strcpy(stamp, "Jan  1 00:00:00");
	/* "<PRI>stamp " then "TAG[PID]: " then the line. */
	hl = (size_t)snprintf(msg, sizeof(msg), "<%d>%s ", pri, stamp);
	tl = (size_t)snprintf(msg + hl, sizeof(msg) - hl - ERRLOG_LINE_MAX - 1,
	    "%s[%ld]: ", tag, (long)child);
	if (hl + tl >= sizeof(msg) - ERRLOG_LINE_MAX - 1)
		tl = sizeof(msg) - ERRLOG_LINE_MAX - 2 - hl;
	memcpy(msg + hl + tl, s, n);
	len = hl + tl + n;
	/* A stream socket takes a NUL after each message as its end. */
	msg[len] = '\0';
	if (fallback && log_connect() == 0)
		fallback = 0; /* the daemon is back */
	if (!fallback) {
		/* Once more on a new connection: the daemon may have been
		 * restarted since. */
		if (log_send(msg, len + logstream) == 0 ||
		    log_send(msg, len + logstream) == 0)
			return;
		e = errno;
		fallback = 1;
		dprintf(errfd,
		    "errlogger: %s: %s; writing to standard error "
		    "instead\n",
		    sockpath, strerror(e));
	}
	msg[len] = '\n';
	(void)!write(errfd, msg + hl, tl + n + 1);
}

/* Where to cut the n bytes at s to send at most ERRLOG_LINE_MAX: not
 * inside a UTF-8 character (unless it is no such thing). */
static size_t
cut_at(const char *s, size_t n)
{
	size_t cut;

	if (n <= ERRLOG_LINE_MAX)
		return n;
	for (cut = ERRLOG_LINE_MAX; cut > ERRLOG_LINE_MAX - 4 &&
	     ((unsigned char)s[cut] & 0xc0) == 0x80;
	     cut--)
		;
	return cut > ERRLOG_LINE_MAX - 4 ? cut : ERRLOG_LINE_MAX;
}

/* Send the line at s (n bytes, newline removed; empty lines are not
 * sent) in messages of at most ERRLOG_LINE_MAX bytes; NUL bytes, which
 * would end a message early, become spaces. */
static void
emit_line(char *s, size_t n)
{
	size_t cut, i;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	for (i = 0; i < n; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	while (n > 0) {
		cut = cut_at(s, n);
		emit(s, cut);
		s += cut;
		n -= cut;
	}
}

/* Read lines from the pipe until its end-of-file. */
static void
relay(int fd)
{
	char buf[ERRLOG_LINE_MAX * 2];
	size_t len = 0, start;
	char *nl;
	ssize_t n;

	for (;;) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		start = 0;
		while ((nl = memchr(buf + start, '\n', len - start)) != NULL) {
			emit_line(buf + start, (size_t)(nl - (buf + start)));
			start = (size_t)(nl - buf) + 1;
		}
		if (start == 0 && len == sizeof(buf)) {
			/* No newline in a full buffer: a very long line. */
			start = cut_at(buf, len);
			emit_line(buf, start);
		}
		memmove(buf, buf + start, len - start);
		len -= start;
	}
	if (n < 0)
		log_errno(LOG_ERR, "reading the pipe");
	if (len > 0)
		emit_line(buf, len);
}

static void
forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

/* The program's exit status if it exits within WAIT_MS, else 0.
 * SIGCHLD is blocked (main()), so it waits pending for sigtimedwait(). */
static int
child_status(void)
{
	struct timespec left = { WAIT_MS / 1000, WAIT_MS % 1000 * 1000000 };
	struct timespec t0, now;
	sigset_t chld;
	long long ns;
	int st;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (waitpid(child, &st, WNOHANG) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ns = (long long)WAIT_MS * 1000000 -
		    ((long long)(now.tv_sec - t0.tv_sec) * 1000000000 +
			(now.tv_nsec - t0.tv_nsec));
		if (ns <= 0)
			return 0; /* still running: not ours to wait for */
		left.tv_sec = (time_t)(ns / 1000000000);
		left.tv_nsec = (long)(ns % 1000000000);
		sigtimedwait(&chld, NULL, &left);
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 0;
}

/* The program, with the pipe as standard error; exec failures go
 * through the pipe too, and so to the log. */
static void __attribute__((noreturn)) run_program(char **argv, int p[2])
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(p[1], 2) == -1)
		_exit(127);
	execvp(argv[0], argv);
	dprintf(2, "errlogger: %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Pass the signals on; *mask gets them. */
static void
setup_signals(sigset_t *mask)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2 };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	sigemptyset(mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(mask, sigs[i]);
	}
	signal(SIGPIPE, SIG_IGN);
}

int
main(int argc, char **argv)
{
	const char *name = NULL, *p;
	sigset_t mask, old;
	int c, fac = LOG_DAEMON, prio = LOG_WARNING, pp[2], null;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	while ((c = getopt(argc, argv, "+Vhn:f:p:")) != -1) {
		switch (c) {
		case 'V':
			return log_version();
		case 'h':
			usage(stdout);
			return 0;
		case 'n':
			name = optarg;
			break;
		case 'f':
			fac = lookup(facilities, optarg, "facility");
			break;
		case 'p':
			prio = lookup(priorities, optarg, "priority");
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (name == NULL)
		name = (p = strrchr(argv[optind], '/')) ? p + 1 : argv[optind];
	tag = name;
	pri = fac | prio;
	if ((p = getenv("ASHD_SYSLOG_SOCKET")) != NULL && *p)
		sockpath = p;
	if ((errfd = fcntl(2, F_DUPFD_CLOEXEC, 3)) == -1)
		errfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (pipe2(pp, O_CLOEXEC) == -1)
		log_die_errno(1, "pipe");
	/* Signals wait until there is a program to pass them to; SIGCHLD
	 * stays blocked for child_status(). */
	setup_signals(&mask);
	sigprocmask(SIG_BLOCK, &mask, &old);
	sigaddset(&old, SIGCHLD);
	if ((child = fork()) == -1)
		log_die_errno(1, "fork");
	if (child == 0)
		run_program(argv + optind, pp);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(pp[1]);
	/* Only the program holds its standard input and output now. */
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(null, 0);
		dup2(null, 1);
		close(null);
	}
	relay(pp[0]);
	close(pp[0]);
	return child_status();
}
