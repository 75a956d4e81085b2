/*
 * htextauth: HTTP Basic authentication by an external command, in
 * front of one persistent child handler.
 *
 * Per request:
 *	-s and not over HTTPS		403
 *	no Basic credentials		401 with the challenge
 *	malformed credentials		400
 *	cached (and fresh)		passed on
 *	otherwise			the command is run: exit 0 passes it
 *					on (and caches it), another exit 401
 *					with the command's message, a signal,
 *					a timeout or no command at all 500
 * A request passed on loses its Authorization header and gains
 * X-Ash-Remote-User (the user name) and X-Ash-Auth-Type ("Basic").
 *
 * The command gets the user name and the password as two lines on its
 * standard input, never in its arguments or environment.  It runs
 * without blocking the loop: other requests are served meanwhile.  An
 * authentication in flight is an `auth`, finished once both its output
 * has ended and its exit status has been reaped.  When stopped, it
 * finishes those before it closes the child's socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ashlimits.h"
#include "buf.h"
#include "child.h"
#include "handler.h"
#include "htextauth.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "req.h"

struct auth {
	struct auth *a_next;
	struct req *a_req;
	int a_fd; /* the client's response socket */
	struct cred a_cred;
	pid_t a_pid; /* 0 once reaped */
	int a_status;
	struct watch a_out; /* the command's standard output */
	struct buf a_msg;
	struct timer a_timer;
};

extern char **environ;

static char **authcmd;
static struct child *kid;
static const char *realm = "auth";
static int https_only;
static struct auth *auths;
static struct watch kidwatch;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: htextauth [-hCs] [-r REALM] [-T SECONDS] "
	    "AUTHCMD [ARGS...] -- CHILD [ARGS...]\n");
}

/* The 401 challenge, with `msg` on the page. */
static void
challenge(int fd, const char *msg)
{
	struct buf b = BUF_INIT, h = BUF_INIT;
	const char *p;

	buf_appends(&h, "WWW-Authenticate: Basic realm=\"");
	for (p = realm; *p; p++) {
		if (*p == '"' || *p == '\\')
			buf_appendc(&h, '\\');
		buf_appendc(&h, *p);
	}
	if (buf_appends(&h, "\", charset=\"UTF-8\"\r\n") == -1 ||
	    http_error_format(&b, 401, msg, h.b_data) == -1)
		http_error(fd, 503, "Out of memory.");
	else
		write_all(fd, b.b_data, b.b_len);
	buf_free(&b);
	buf_free(&h);
}

/* Pass r on to the child as user `user`. */
static void
pass_on(struct req *r, int fd, const char *user)
{
	req_remove_header(r, "Authorization");
	if (req_set_header(r, "X-Ash-Remote-User", user) == -1 ||
	    req_set_header(r, "X-Ash-Auth-Type", "Basic") == -1) {
		http_error(fd, 503, "Out of memory.");
		return;
	}
	if (kid->ch_fd < 0 && kid->ch_pid == 0) {
		/* It exited: so do we, as ashd's htextauth does. */
		http_error(fd, 503, "The handler is not available.");
		handler_stop();
		return;
	}
	if (child_handle(kid, r, fd) == -1) {
		log_errno(LOG_ERR, "passing a request on");
		http_error(fd, 503, "The handler is not available.");
	}
}

static void
auth_free(struct auth *a)
{
	struct auth **p;

	for (p = &auths; *p != NULL; p = &(*p)->a_next)
		if (*p == a) {
			*p = a->a_next;
			break;
		}
	if (a->a_out.w_fd >= 0) {
		loop_unwatch(handler_loop(), &a->a_out);
		close(a->a_out.w_fd);
	}
	loop_untimer(handler_loop(), &a->a_timer);
	close(a->a_fd);
	req_free(a->a_req);
	cred_free(&a->a_cred);
	buf_free(&a->a_msg);
	free(a);
	handler_release();
}

/* Output ended and status reaped: answer. */
static void
auth_finish(struct auth *a)
{
	int st = a->a_status;

	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		cache_add(&a->a_cred, time(NULL));
		pass_on(a->a_req, a->a_fd, a->a_cred.c_user);
	} else if (WIFEXITED(st)) {
		while (a->a_msg.b_len > 0 &&
		    strchr("\r\n \t", a->a_msg.b_data[a->a_msg.b_len - 1]))
			a->a_msg.b_data[--a->a_msg.b_len] = '\0';
		challenge(a->a_fd,
		    a->a_msg.b_len ? a->a_msg.b_data
				   : "The credentials are not valid.");
	} else {
		log_msg(LOG_ERR, "%s: killed by signal %d", authcmd[0],
		    WTERMSIG(st));
		http_error(a->a_fd, 500,
		    "The credentials could not be "
		    "checked.");
	}
	auth_free(a);
}

static void
auth_output(struct watch *w, uint32_t ev)
{
	struct auth *a = w->w_arg;
	char tmp[512];
	ssize_t n;

	(void)ev;
	while ((n = read(w->w_fd, tmp, sizeof(tmp))) > 0)
		if (a->a_msg.b_len < ASH_AUTH_MSG_MAX)
			buf_append(&a->a_msg, tmp,
			    (size_t)n > ASH_AUTH_MSG_MAX - a->a_msg.b_len
				? ASH_AUTH_MSG_MAX - a->a_msg.b_len
				: (size_t)n);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	loop_unwatch(handler_loop(), w);
	close(w->w_fd);
	w->w_fd = -1;
	if (a->a_pid == 0)
		auth_finish(a);
}

static void
auth_timeout(struct timer *t)
{
	struct auth *a = t->t_arg;

	log_msg(LOG_ERR, "%s: no answer in %d s, killed", authcmd[0],
	    ASH_AUTH_TIMEOUT);
	if (a->a_pid > 0)
		kill(a->a_pid, SIGKILL);
	/* Its exit (a signal) ends it with 500; a grandchild holding the
	 * output open must not keep it. */
	if (a->a_out.w_fd >= 0) {
		loop_unwatch(handler_loop(), &a->a_out);
		close(a->a_out.w_fd);
		a->a_out.w_fd = -1;
	}
	if (a->a_pid == 0)
		auth_finish(a);
}

static void
reaped(pid_t pid, int status, void *arg)
{
	struct auth *a;

	(void)arg;
	for (a = auths; a != NULL; a = a->a_next)
		if (a->a_pid == pid)
			break;
	if (a == NULL)
		return;
	a->a_pid = 0;
	a->a_status = status;
	if (a->a_out.w_fd < 0)
		auth_finish(a);
}

/* Start the command for a; 0, or -1 (logged, errno ENOMEM if memory ran
 * out) if it could not run. */
static int
auth_spawn(struct auth *a)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, e = 0;
	struct buf line = BUF_INIT;

	/* The two lines first: without them the command must not run. */
	if (buf_printf(&line, "%s\n%s\n", a->a_cred.c_user, a->a_cred.c_pass) ==
		-1 ||
	    pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		goto fail;
	/* The command starts with no signal blocked or ignored. */
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at,
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_init(&fa);
	/* The file actions allocate: without them the command would
	 * read our own standard input. */
	if ((e = posix_spawn_file_actions_adddup2(&fa, in[0], 0)) == 0 &&
	    (e = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) == 0)
		e = posix_spawnp(&a->a_pid, authcmd[0], &fa, &at, authcmd,
		    environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (e != 0) {
		errno = e;
		a->a_pid = 0;
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	/* Two short lines always fit in an empty pipe: no blocking. */
	write_all(in[1], line.b_data, line.b_len);
	explicit_bzero(line.b_data, line.b_len);
	buf_free(&line);
	close(in[1]);
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	watch_init(&a->a_out, out[0], auth_output, a);
	timer_init(&a->a_timer, auth_timeout, a);
	if (loop_watch(handler_loop(), &a->a_out, EPOLLIN) == -1 ||
	    loop_timer(handler_loop(), &a->a_timer,
		ASH_AUTH_TIMEOUT * 1000ULL) == -1) {
		/* Its answer would never be heard: end it (its output is
		 * closed with a). */
		e = errno;
		log_errno(LOG_ERR, "event loop");
		kill(a->a_pid, SIGKILL);
		a->a_pid = 0;
		errno = e;
		return -1;
	}
	return 0;
fail:
	e = errno;
	log_errno(LOG_ERR, "%s", authcmd[0]);
	if (line.b_data != NULL)
		explicit_bzero(line.b_data, line.b_len);
	buf_free(&line);
	if (in[0] >= 0)
		close(in[0]);
	if (in[1] >= 0)
		close(in[1]);
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
	errno = e;
	return -1;
}

static void
serve(struct req *r, int fd, void *arg)
{
	const char *proto, *why;
	struct auth *a = NULL;
	struct cred c;
	int st;

	(void)arg;
	proto = req_header(r, "X-Ash-Protocol");
	if (https_only && (proto == NULL || strcmp(proto, "https"))) {
		http_error(fd, 403,
		    "This resource must be requested over "
		    "HTTPS.");
		goto done;
	}
	st = cred_parse(req_header(r, "Authorization"), &c, &why);
	if (st == 401 || st == 400) {
		if (st == 401)
			challenge(fd, why);
		else
			http_error(fd, 400, why);
		goto done;
	}
	if (st == -1 || (a = calloc(1, sizeof(*a))) == NULL) {
		cred_free(&c);
		http_error(fd, 503, "Out of memory.");
		goto done;
	}
	if (cache_check(&c, time(NULL))) {
		pass_on(r, fd, c.c_user);
		cred_free(&c);
		free(a);
		goto done;
	}
	a->a_req = r;
	a->a_fd = fd;
	a->a_cred = c;
	a->a_out.w_fd = -1;
	handler_hold();
	a->a_next = auths;
	auths = a;
	if (auth_spawn(a) == -1) {
		if (errno == ENOMEM)
			http_error(fd, 503, "Out of memory.");
		else
			http_error(fd, 500,
			    "The credentials could not be checked.");
		auth_free(a);
	}
	return;
done:
	close(fd);
	req_free(r);
}

static void
kid_gone(struct watch *w, uint32_t ev)
{
	(void)ev;
	log_msg(LOG_ERR, "%s exited; so does htextauth", kid->ch_argv[0]);
	loop_unwatch(handler_loop(), w);
	close(w->w_fd);
	handler_stop();
}

static const struct handler htextauth_handler = {
	.h_request = serve,
	.h_reaped = reaped,
};

/* Start the child now, and hear of its end through a pidfd. */
static void
kid_start(char **argv)
{
	int pfd;

	if ((kid = child_new("child", CHILD_PERSISTENT, argv, NULL)) == NULL)
		log_die_errno(1, "out of memory");
	handler_loop();
	if (child_start(kid) == -1)
		log_die_errno(1, "%s", argv[0]);
	pfd = (int)syscall(SYS_pidfd_open, kid->ch_pid, 0);
	if (pfd == -1)
		return; /* old kernel: noticed on the next request */
	fcntl(pfd, F_SETFD, FD_CLOEXEC);
	watch_init(&kidwatch, pfd, kid_gone, NULL);
	if (loop_watch(handler_loop(), &kidwatch, EPOLLIN) == -1)
		log_die_errno(1, "event loop");
}

int
main(int argc, char **argv)
{
	long ttl = ASH_AUTH_CACHE_TTL;
	int c, i, rv, cached = 1;
	const char *p;
	char *end;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	while ((c = getopt(argc, argv, "+VhCsr:T:")) != -1) {
		switch (c) {
		case 'V':
			return log_version();
		case 'h':
			usage(stdout);
			return 0;
		case 'C':
			cached = 0;
			break;
		case 's':
			https_only = 1;
			break;
		case 'r':
			realm = optarg;
			for (p = realm; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					log_die(2,
					    "-r: a control character "
					    "in the realm");
			break;
		case 'T':
			errno = 0;
			ttl = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || ttl < 0)
				log_die(2, "-T %s: not a number of seconds",
				    optarg);
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	for (i = optind; i < argc && strcmp(argv[i], "--") != 0; i++)
		;
	if (i == optind || i >= argc - 1) {
		usage(stderr);
		return 2;
	}
	argv[i] = NULL;
	authcmd = argv + optind;
	cache_setup(cached, ttl);
	if (!handler_persistent())
		log_die(1,
		    "standard input is not a request socket "
		    "(htextauth is a persistent handler, see ashd(7))");
	kid_start(argv + i + 1);
	rv = handler_run(&htextauth_handler, NULL);
	/* Drained: now the child may see end-of-file. */
	child_stop(kid);
	cache_clear();
	return rv;
}
