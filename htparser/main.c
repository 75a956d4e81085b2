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

static int sigfd = -1;
static struct watch sigwatch;

/* What the command line says. */
struct args {
	const char *a_user, *a_root, *a_pidpath;
	int a_daemon;
	char **a_ports; /* PORTSPECs, a_nports of them */
	int a_nports;
	char **a_handler; /* ROOT ARGS... (NULL: none given) */
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: htparser [-hSf] [-u USER] [-r ROOT] [-p PIDFILE] [-o "
	    "NAME=VALUE]...\n"
	    "                [PORTSPEC...] -- ROOT [ARGS...]\n"
	    "PORTSPEC: "
	    "plain[:port=PORT][,local=ADDR][,proxy][,https][,reuseport]\n"
	    "          fd[:fd=N|name=NAME][,proxy][,https]  (plain:help, "
	    "fd:help)\n"
	    "          none: the sockets of socket activation (LISTEN_FDS)\n"
	    "-o limits and timeouts (-o help: with their defaults):\n");
	opt_names(out, "   ", 79);
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
	if ((srv.s_pidfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		 0644)) == -1)
		log_die_errno(1, "%s", path);
	n = snprintf(num, sizeof(num), "%ld\n", (long)getpid());
	if (write(srv.s_pidfd, num, (size_t)n) != n)
		log_die_errno(1, "%s", path);
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
 * to ASH_FD_WANT), then admit connections (one descriptor each) only while
 * ASH_FD_SPARE descriptors stay free for everything else and a response
 * socket stays free for each request in flight (half the rest, at most
 * ASH_FD_ACTIVE of them).  Past that, new clients get 503 while the
 * connections there are keep working.
 */

static void
set_conn_limit(void)
{
	struct rlimit rl;
	size_t avail;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		srv.s_maxconns = 1000;
		return;
	}
	if (rl.rlim_cur < ASH_FD_WANT && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < ASH_FD_WANT ? rl.rlim_max
							: ASH_FD_WANT;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur <= ASH_FD_SPARE + 2) {
		srv.s_maxconns = 1;
		return;
	}
	avail = (size_t)(rl.rlim_cur - ASH_FD_SPARE);
	srv.s_maxconns = avail -
	    (avail / 2 < ASH_FD_ACTIVE ? avail / 2 : ASH_FD_ACTIVE);
}

static void
finish(int status)
{
	if (srv.s_pidfd >= 0 && ftruncate(srv.s_pidfd, 0) == -1)
		log_errno(LOG_WARNING, "PID file");
	exit(status);
}

static void
signal_event(struct watch *w, uint32_t ev)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	(void)w;
	(void)ev;
	while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (srv.s_stopping) {
				log_msg(LOG_INFO, "second signal: exiting now");
				finish(0);
			}
			conn_shutdown_all(
			    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		case SIGHUP:
			root_hup();
			break;
		case SIGCHLD:
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
				root_reaped(pid, status);
			break;
		}
	}
}

/* Options into srv.s_opt and a; returns -1 to go on, else the exit
 * status. */
static int
parse_args(int argc, char **argv, struct args *a)
{
	int c, i;

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
			a->a_daemon = 1;
			break;
		case 'u':
			a->a_user = *optarg ? optarg : NULL;
			break;
		case 'r':
			a->a_root = *optarg ? optarg : NULL;
			break;
		case 'p':
			a->a_pidpath = *optarg ? optarg : NULL;
			break;
		case 'o':
			if (!strcmp(optarg, "help")) {
				opt_help(stdout);
				return 0;
			}
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
	a->a_ports = argv + optind;
	a->a_nports = i > optind ? i - optind : 0;
	a->a_handler = i < argc - 1 ? argv + i + 1 : NULL;
	return -1;
}

/* PORTSPEC:help prints the parameters (before anything is bound):
 * returns -1 if there is no such argument, else the exit status. */
static int
ports_help(const struct args *a)
{
	const char *p;
	int i;

	for (i = 0; i < a->a_nports; i++) {
		p = strchr(a->a_ports[i], ':');
		if (p && (!strcmp(p, ":help") || strstr(p, ",help")))
			return listen_portspec(a->a_ports[i]) == 1 ? 0 : 2;
	}
	return -1;
}

/* Bind every port; -1 done, else the exit status. */
static int
ports_open(const struct args *a)
{
	int i, rv;

	for (i = 0; i < a->a_nports; i++)
		if ((rv = listen_portspec(a->a_ports[i])) < 0)
			return rv == -1 ? 2 : 1;
	if (a->a_nports == 0 && (rv = listen_portspec(NULL)) < 0)
		return rv == -1 ? 2 : 1;
	return -1;
}

/* Signals come through a signalfd (lib/child starts the root handler
 * with none blocked). */
static void
signals_block(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGCHLD);
	sigaddset(mask, SIGHUP);
	sigprocmask(SIG_BLOCK, mask, NULL);
}

/* Everything into the event loop. */
static void
watch_all(const sigset_t *mask)
{
	struct listener *l;

	if ((sigfd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		log_die_errno(1, "signalfd");
	watch_init(&sigwatch, sigfd, signal_event, NULL);
	if (loop_watch(srv.s_loop, &sigwatch, EPOLLIN) == -1)
		log_die_errno(1, "epoll");
	root_watch();
	for (l = srv.s_listeners; l; l = l->l_next)
		if (loop_watch(srv.s_loop, &l->l_watch, EPOLLIN) == -1)
			log_die_errno(1, "epoll");
}

int
main(int argc, char **argv)
{
	struct args a;
	struct passwd *pw = NULL;
	sigset_t mask;
	int rv;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	cf_path_add_exedir();
	opt_default(&srv.s_opt);
	srv.s_rootfd = srv.s_pidfd = -1;
	memset(&a, 0, sizeof(a));
	if ((rv = parse_args(argc, argv, &a)) >= 0 ||
	    (rv = ports_help(&a)) >= 0)
		return rv;
	if (a.a_handler == NULL) {
		usage(stderr);
		return 2;
	}
	if (a.a_user && (pw = getpwnam(a.a_user)) == NULL)
		log_die(2, "%s: no such user", a.a_user);
	signal(SIGPIPE, SIG_IGN);
	if ((srv.s_loop = loop_new()) == NULL)
		log_die_errno(1, "epoll");
	if ((rv = ports_open(&a)) >= 0)
		return rv;
	signals_block(&mask);
	root_start(a.a_handler);
	if (a.a_daemon)
		daemonize();
	if (a.a_pidpath)
		pidfile_open(a.a_pidpath);
	drop_privileges(a.a_root, pw);
	srv.s_reservefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	set_conn_limit();
	watch_all(&mask);
	if (loop_run(srv.s_loop) == -1)
		log_die_errno(1, "epoll_wait");
	root_last_words();
	finish(root_failed() ? 1 : 0);
}
