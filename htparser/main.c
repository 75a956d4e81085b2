/*
 * htparser: the HTTP front-end.  It is the only program that talks to
 * clients: it parses their requests strictly, passes each one with a
 * response socket to the root handler it started, and relays the
 * handler's response back with the framing HTTP/1.1 needs.
 *
 * main() reads the arguments, binds the ports, starts the root handler,
 * daemonises, chroots and drops privileges (in that order), then runs
 * the event loop until shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cf.h"
#include "conn.h"
#include "ashlimits.h"
#include "log.h"

struct server srv;

static pid_t rootpid = -1;
static int rootgone;		/* the root handler ended by itself */
static int pidfd = -1;
static int sigfd = -1;
static struct watch sigwatch;

static void
usage(FILE *out)
{
	fprintf(out, "usage: htparser [-hSf] [-u USER] [-r ROOT] "
	    "[-p PIDFILE] [-o NAME=VALUE]...\n"
	    "                [PORTSPEC...] -- ROOT [ARGS...]\n"
	    "PORTSPEC: plain[:port=PORT][,local=ADDR][,proxy][,https]"
	    "[,reuseport]\n"
	    "          fd[:fd=N|name=NAME][,proxy][,https]  (plain:help, "
	    "fd:help)\n"
	    "          none: the sockets of socket activation (LISTEN_FDS)"
	    "\n"
	    "-o limits and timeouts (seconds): max-line, max-head, "
	    "max-headers, max-body,\n"
	    "   timeout-head, timeout-body, timeout-idle, timeout-handler, "
	    "timeout-send\n");
}

void
opt_default(struct options *o)
{
	http_limits_default(&o->o_lim);
	o->o_maxbody = ASH_BODY_MAX;
	o->o_thead = ASH_TIMEOUT_HEAD * 1000;
	o->o_tbody = ASH_TIMEOUT_BODY * 1000;
	o->o_tidle = ASH_TIMEOUT_IDLE * 1000;
	o->o_thandler = ASH_TIMEOUT_HANDLER * 1000;
	o->o_tsend = ASH_TIMEOUT_SEND * 1000;
}

/* "NAME=VALUE"; 0 or -1 (logged). */
int
opt_set(struct options *o, const char *arg)
{
	static const struct {
		const char	*name;
		int		 secs;
	} names[] = {
		{ "max-line", 0 }, { "max-head", 0 }, { "max-headers", 0 },
		{ "max-body", 0 }, { "timeout-head", 1 },
		{ "timeout-body", 1 }, { "timeout-idle", 1 },
		{ "timeout-handler", 1 }, { "timeout-send", 1 },
	};
	const char *eq = strchr(arg, '=');
	size_t i, nl;
	char *end;
	double d;
	long long v;

	nl = eq ? (size_t)(eq - arg) : strlen(arg);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == nl &&
		    !strncmp(names[i].name, arg, nl))
			break;
	if (i == sizeof(names) / sizeof(names[0]) || eq == NULL ||
	    eq[1] == '\0') {
		log_msg(LOG_ERR, "-o %s: unknown option or missing value", arg);
		return -1;
	}
	errno = 0;
	if (names[i].secs) {
		d = strtod(eq + 1, &end);
		if (*end || errno || !(d > 0) || d > 86400 * 365) {
			log_msg(LOG_ERR, "-o %s: bad number of seconds", arg);
			return -1;
		}
		v = (long long)(d * 1000 + 0.5);
		if (v < 1)
			v = 1;
	} else {
		v = strtoll(eq + 1, &end, 10);
		if (*end || errno || v < 0 || (i != 3 && v == 0) ||
		    (i < 3 && v > 1024 * 1024 * 1024)) {
			log_msg(LOG_ERR, "-o %s: bad number", arg);
			return -1;
		}
	}
	switch (i) {
	case 0: o->o_lim.hl_reqline = (size_t)v; break;
	case 1: o->o_lim.hl_head = (size_t)v; break;
	case 2: o->o_lim.hl_headers = (size_t)v; break;
	case 3: o->o_maxbody = v; break;
	case 4: o->o_thead = (uint64_t)v; break;
	case 5: o->o_tbody = (uint64_t)v; break;
	case 6: o->o_tidle = (uint64_t)v; break;
	case 7: o->o_thandler = (uint64_t)v; break;
	case 8: o->o_tsend = (uint64_t)v; break;
	}
	return 0;
}

/* Start the root handler with a SOCK_SEQPACKET socket on its stdin;
 * exit 1 if it cannot be run (its errno comes back through a pipe
 * that exec closes). */
static void
start_root(char **argv, const sigset_t *oldmask)
{
	int sp[2], ep[2], e = 0;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1 ||
	    pipe2(ep, O_CLOEXEC) == -1)
		log_die_errno(1, "socketpair");
	if ((rootpid = fork()) == -1)
		log_die_errno(1, "fork");
	if (rootpid == 0) {
		if (dup2(sp[1], 0) == -1)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		sigprocmask(SIG_SETMASK, oldmask, NULL);
		execvp(argv[0], argv);
		e = errno;
		(void)!write(ep[1], &e, sizeof(e));
		_exit(127);
	}
	close(ep[1]);
	while ((n = read(ep[0], &e, sizeof(e))) == -1 && errno == EINTR)
		;
	close(ep[0]);
	if (n == (ssize_t)sizeof(e)) {
		waitpid(rootpid, NULL, 0);
		errno = e;
		log_die_errno(1, "cannot start the root handler %s", argv[0]);
	}
	close(sp[1]);
	srv.s_rootfd = sp[0];
	if (fcntl(sp[0], F_SETFL, fcntl(sp[0], F_GETFL) | O_NONBLOCK) == -1)
		log_die_errno(1, "fcntl");
}

static void
daemonize(void)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		log_die_errno(1, "fork");
	if (pid > 0)
		_exit(0);
	setsid();
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/* The PID file is created anew and stays open (it works after chroot). */
static void
pidfile_open(const char *path)
{
	char num[32];
	int n;

	if (unlink(path) == -1 && errno != ENOENT)
		log_die_errno(1, "%s", path);
	if ((pidfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0644)) == -1)
		log_die_errno(1, "%s", path);
	n = snprintf(num, sizeof(num), "%ld\n", (long)getpid());
	if (write(pidfd, num, (size_t)n) != n)
		log_die_errno(1, "%s", path);
}

static void
pidfile_mark(void)
{
	if (pidfd >= 0) {
		lseek(pidfd, 0, SEEK_END);
		(void)!write(pidfd, "\n", 1);
	}
}

static void
drop_privileges(const char *root, const struct passwd *pw)
{
	if (root) {
		if (chroot(root) == -1 || chdir("/") == -1)
			log_die_errno(1, "chroot %s", root);
	}
	if (pw == NULL)
		return;
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		log_die_errno(1, "cannot become %s", pw->pw_name);
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || (pw->pw_uid != 0 && setuid(0) == 0))
		log_die(1, "dropping privileges to %s failed", pw->pw_name);
}

/*
 * Descriptors: raise the soft limit as far as the hard one allows (up
 * to FD_WANT), then admit connections (one descriptor each) only while
 * FD_SPARE descriptors stay free for everything else and a response
 * socket stays free for each request in flight (half the rest, at most
 * FD_ACTIVE of them).  Past that, new clients get 503 while the
 * connections there are keep working.
 */
#define FD_WANT		65536
#define FD_SPARE	32
#define FD_ACTIVE	1024

static void
set_conn_limit(void)
{
	struct rlimit rl;
	size_t avail;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		srv.s_maxconns = 1000;
		return;
	}
	if (rl.rlim_cur < FD_WANT && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < FD_WANT ? rl.rlim_max : FD_WANT;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur <= FD_SPARE + 2) {
		srv.s_maxconns = 1;
		return;
	}
	avail = (size_t)(rl.rlim_cur - FD_SPARE);
	srv.s_maxconns = avail - (avail / 2 < FD_ACTIVE ? avail / 2 : FD_ACTIVE);
}

/* First shutdown signal, or the root handler went away. */
static void
begin_shutdown(const char *why)
{
	if (srv.s_stopping)
		return;
	log_msg(LOG_INFO, "shutting down: %s", why);
	pidfile_mark();
	listeners_close();
	srv.s_stopping = 1;
	conn_shutdown_all();
}

void
root_close(void)
{
	if (srv.s_rootfd >= 0) {
		loop_unwatch(srv.s_loop, &srv.s_rootwatch);
		close(srv.s_rootfd);
		srv.s_rootfd = -1;
	}
}

static void
finish(int status)
{
	if (pidfd >= 0 && ftruncate(pidfd, 0) == -1)
		log_errno(LOG_WARNING, "PID file");
	exit(status);
}

void
root_update(void)
{
	if (srv.s_rootfd >= 0 && loop_watch(srv.s_loop, &srv.s_rootwatch,
	    EPOLLRDHUP | (srv.s_waiting ? EPOLLOUT : 0)) == -1)
		log_errno(LOG_ERR, "epoll");
}

static void
root_event(struct watch *w, uint32_t ev)
{
	if (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLIN)) {
		log_msg(LOG_ERR, "the root handler closed its socket");
		if (!srv.s_stopping)
			rootgone = 1;
		/* Requests still waiting for it cannot be served. */
		while (srv.s_waiting)
			conn_root_writable();
		begin_shutdown("root handler gone");
		root_close();
		return;
	}
	if (ev & EPOLLOUT)
		conn_root_writable();
}

/* The root handler is gone: a failure unless we asked it to go. */
static void
root_reaped(int status)
{
	rootpid = -1;
	if (srv.s_stopping && !rootgone)
		return;
	rootgone = 1;
	if (WIFEXITED(status))
		log_msg(LOG_ERR, "the root handler exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_msg(LOG_ERR, "the root handler was killed by signal %d",
		    WTERMSIG(status));
	begin_shutdown("root handler exited");
}

/* The root handler closed its socket by itself: say how it ended, if
 * it does so within a second. */
static void
root_last_words(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i, status;

	for (i = 0; i < 100 && rootpid > 0; i++) {
		if (waitpid(rootpid, &status, WNOHANG) == rootpid)
			root_reaped(status);
		else
			nanosleep(&ts, NULL);
	}
}

static void
signal_event(struct watch *w, uint32_t ev)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (srv.s_stopping) {
				log_msg(LOG_INFO, "second signal: exiting now");
				finish(0);
			}
			begin_shutdown(si.ssi_signo == SIGTERM ? "SIGTERM" :
			    "SIGINT");
			break;
		case SIGHUP:
			/* Not ours to act on: the root handler reloads. */
			if (rootpid > 0 && kill(rootpid, SIGHUP) == -1)
				log_errno(LOG_WARNING, "SIGHUP to the root handler");
			break;
		case SIGCHLD:
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
				if (pid == rootpid)
					root_reaped(status);
			}
			break;
		}
	}
}

int
main(int argc, char **argv)
{
	const char *user = NULL, *root = NULL, *pidpath = NULL;
	struct passwd *pw = NULL;
	struct listener *l;
	sigset_t mask, oldmask;
	int c, i, daemon = 0, rv, nports = 0;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	cf_path_add_exedir();
	opt_default(&srv.s_opt);
	srv.s_rootfd = -1;
	while ((c = getopt(argc, argv, "+VhSfu:r:p:o:")) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return log_version();
		case 'S':
			log_use_syslog();
			setenv("ASHD_USESYSLOG", "1", 1);
			break;
		case 'f':
			daemon = 1;
			break;
		case 'u':
			user = *optarg ? optarg : NULL;
			break;
		case 'r':
			root = *optarg ? optarg : NULL;
			break;
		case 'p':
			pidpath = *optarg ? optarg : NULL;
			break;
		case 'o':
			if (opt_set(&srv.s_opt, optarg) == -1)
				return 2;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	for (i = optind; i < argc && strcmp(argv[i], "--"); i++)
		;
	/* No PORTSPEC: getopt() took the "--" (socket activation). */
	if (i == argc && optind > 1 && !strcmp(argv[optind - 1], "--") &&
	    argv[optind - 1] != optarg)
		i = optind - 1;
	for (c = optind; c < i; c++) {
		/* Help first, before anything is bound. */
		const char *p = strchr(argv[c], ':');

		if (p && (!strcmp(p, ":help") || strstr(p, ",help"))) {
			if ((rv = portspec_open(argv[c])) == 1)
				return 0;
			return 2;
		}
	}
	if (i >= argc - 1) {
		usage(stderr);
		return 2;
	}
	if (user && (pw = getpwnam(user)) == NULL)
		log_die(2, "%s: no such user", user);
	signal(SIGPIPE, SIG_IGN);
	if ((srv.s_loop = loop_new()) == NULL)
		log_die_errno(1, "epoll");
	for (c = optind; c < i; c++) {
		if ((rv = portspec_open(argv[c])) < 0)
			return rv == -1 ? 2 : 1;
		nports++;
	}
	if (nports == 0 && (rv = portspec_open(NULL)) < 0)
		return rv == -1 ? 2 : 1;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	start_root(argv + i + 1, &oldmask);
	if (daemon)
		daemonize();
	if (pidpath)
		pidfile_open(pidpath);
	drop_privileges(root, pw);
	if ((sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		log_die_errno(1, "signalfd");
	srv.s_reservefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	set_conn_limit();
	watch_init(&sigwatch, sigfd, signal_event, NULL);
	watch_init(&srv.s_rootwatch, srv.s_rootfd, root_event, NULL);
	if (loop_watch(srv.s_loop, &sigwatch, EPOLLIN) == -1)
		log_die_errno(1, "epoll");
	root_update();
	for (l = srv.s_listeners; l; l = l->l_next)
		if (loop_watch(srv.s_loop, &l->l_watch, EPOLLIN) == -1)
			log_die_errno(1, "epoll");
	if (loop_run(srv.s_loop) == -1)
		log_die_errno(1, "epoll_wait");
	if (rootgone)
		root_last_words();
	finish(rootgone ? 1 : 0);
}
