/*
 * child.c: starting handler children and passing requests to them.
 *
 * Invariants: a persistent child is running iff ch_fd >= 0; then it
 * is on the list `running`, which child_exited() searches, and ch_pid
 * > 0 unless it is reached through ch_connect (ch_pid 0).  Every descriptor opened here is close-on-exec, and a new
 * process closes every descriptor >= 3 before exec, so no child holds
 * another's socket (which would keep it from seeing end-of-file).
 *
 * Every process is started by child_run() (run.c), which reports a
 * failed setup, chdir or exec at once, so the caller learns that a
 * program is missing and can answer the client itself.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ashlimits.h"
#include "buf.h"
#include "cf.h"
#include "fdpass.h"
#include "http.h"
#include "log.h"
#include "req.h"
#include "child.h"

extern char **environ;

static struct child *running;
static struct loop *cloop;

/* A request waiting for room in a persistent child's socket. */
struct chq {
	struct chq *q_next;
	struct buf q_dgram;
	int q_fd;
};

static void child_writable(struct watch *w, uint32_t ev);
static void child_qfail(struct child *ch);

struct child *
child_new(const char *name, enum child_type type, char *const argv[],
    const char *dir)
{
	struct child *ch;

	if (argv[0] == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((ch = calloc(1, sizeof(*ch))) == NULL)
		return NULL;
	ch->ch_type = type;
	ch->ch_fd = -1;
	ch->ch_qtail = &ch->ch_qhead;
	ch->ch_name = strdup(name);
	ch->ch_argv = cf_strv_dup(argv);
	ch->ch_dir = dir ? strdup(dir) : NULL;
	if (ch->ch_name == NULL || ch->ch_argv == NULL ||
	    (dir != NULL && ch->ch_dir == NULL)) {
		child_free(ch);
		errno = ENOMEM;
		return NULL;
	}
	return ch;
}

void
child_free(struct child *ch)
{
	if (ch == NULL)
		return;
	child_stop(ch);
	child_qfail(ch);
	free(ch->ch_name);
	cf_strv_free(ch->ch_argv);
	free(ch->ch_dir);
	/* With an event loop, the struct (which holds the child's watch)
	 * goes after the loop's current batch of events, which may still
	 * hold one for it: a child freed from another event's callback
	 * (a reload, a stop on SIGTERM).  Should deferring fail for want of
	 * memory, it is left behind rather than touched once freed. */
	if (cloop == NULL)
		free(ch);
	else
		loop_defer(cloop, free, ch);
}

void
child_free_list(struct child *list)
{
	struct child *next;

	for (; list != NULL; list = next) {
		next = list->ch_next;
		child_free(list);
	}
}

struct child *
child_find(struct child *list, const char *name)
{
	for (; list != NULL; list = list->ch_next)
		if (strcmp(list->ch_name, name) == 0)
			return list;
	return NULL;
}

int
child_is_stanza(const struct stanza *s)
{
	const char *w = s->s_lines[0].cl_argv[0];

	return strcmp(w, "child") == 0 || strcmp(w, "fchild") == 0;
}

struct child *
child_parse(const struct stanza *s, char **errp)
{
	const struct cfline *l, *ex = NULL;
	const char *kw = s->s_lines[0].cl_argv[0], *name;
	struct child *ch;
	size_t i;

	*errp = NULL;
	if (!child_is_stanza(s)) {
		*errp = stanza_error(s, NULL, "not a child stanza: %s", kw);
		return NULL;
	}
	if (s->s_lines[0].cl_argc != 2) {
		*errp = stanza_error(s, NULL, "%s: %s", kw,
		    s->s_lines[0].cl_argc < 2 ? "missing name"
					      : "too many arguments");
		return NULL;
	}
	name = s->s_lines[0].cl_argv[1];
	for (i = 1; i < s->s_nlines; i++) {
		l = &s->s_lines[i];
		if (strcmp(l->cl_argv[0], "exec") != 0)
			*errp = stanza_error(s, l,
			    "%s %s: unknown directive %s", kw, name,
			    l->cl_argv[0]);
		else if (ex != NULL)
			*errp = stanza_error(s, l, "%s %s: exec given twice",
			    kw, name);
		else if (l->cl_argc < 2)
			*errp = stanza_error(s, l, "%s %s: exec: no program",
			    kw, name);
		else {
			ex = l;
			continue;
		}
		return NULL;
	}
	if (ex == NULL) {
		*errp = stanza_error(s, NULL, "%s %s: missing exec", kw, name);
		return NULL;
	}
	ch = child_new(name, kw[0] == 'f' ? CHILD_TRANSIENT : CHILD_PERSISTENT,
	    ex->cl_argv + 1, s->s_dir);
	return ch;
}

void
child_conf(struct cfread *rd, const struct stanza *s, struct child **list)
{
	struct child *ch;
	char *err;

	if ((ch = child_parse(s, &err)) == NULL) {
		if (err == NULL) {
			cf_nomem(rd);
			return;
		}
		cf_report(rd, err);
		free(err);
		return;
	}
	if (child_find(*list, ch->ch_name)) {
		cf_err(rd, s, NULL, "handler \"%s\" is defined twice",
		    ch->ch_name);
		child_free(ch);
		return;
	}
	ch->ch_next = *list;
	*list = ch;
}

static void
child_link(struct child *ch)
{
	ch->ch_rprev = NULL;
	ch->ch_rnext = running;
	if (running != NULL)
		running->ch_rprev = ch;
	running = ch;
}

static void
child_unlink(struct child *ch)
{
	if (ch->ch_rprev != NULL)
		ch->ch_rprev->ch_rnext = ch->ch_rnext;
	else if (running == ch)
		running = ch->ch_rnext;
	if (ch->ch_rnext != NULL)
		ch->ch_rnext->ch_rprev = ch->ch_rprev;
	ch->ch_rnext = ch->ch_rprev = NULL;
}

/* child_run()'s hook for a child's ch_setup. */
static int
child_setup(void *arg)
{
	const struct child *ch = arg;

	return ch->ch_setup(ch);
}

int
child_start(struct child *ch)
{
	struct child_run how = CHILD_RUN_INIT;
	pid_t pid;
	int sv[2], e;

	if (ch->ch_type != CHILD_PERSISTENT) {
		errno = EINVAL;
		return -1;
	}
	if (ch->ch_fd >= 0)
		return 0;
	if (ch->ch_connect != NULL) {
		if ((sv[0] = ch->ch_connect(ch)) == -1)
			return -1;
		pid = 0;
	} else {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) ==
		    -1)
			return -1;
		how.cr_in = sv[1];
		how.cr_dir = ch->ch_dir;
		if (ch->ch_setup != NULL) {
			how.cr_setup = child_setup;
			how.cr_arg = ch;
		}
		pid = child_run(ch->ch_argv, &how);
		e = errno;
		close(sv[1]);
		if (pid == -1) {
			close(sv[0]);
			errno = e;
			return -1;
		}
	}
	ch->ch_fd = sv[0];
	ch->ch_pid = pid;
	child_link(ch);
	if (cloop != NULL) {
		if (fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) ==
		    -1)
			log_errno(LOG_WARNING, "child %s: fcntl", ch->ch_name);
		watch_init(&ch->ch_watch, sv[0], child_writable, ch);
	}
	return 0;
}

void
child_stop(struct child *ch)
{
	if (ch->ch_fd >= 0) {
		if (cloop != NULL)
			loop_unwatch(cloop, &ch->ch_watch);
		close(ch->ch_fd);
		child_unlink(ch);
	}
	ch->ch_fd = -1;
	ch->ch_pid = 0;
}

/* Does this send error mean the child is gone? */
static int
child_gone(int e)
{
	return e == EPIPE || e == ECONNREFUSED || e == ENOTCONN ||
	    e == ECONNRESET;
}

void
child_set_loop(struct loop *l)
{
	cloop = l;
}

/* Answer every waiting request with 503 and empty the queue. */
static void
child_qfail(struct child *ch)
{
	struct chq *q;
	int had = ch->ch_qhead != NULL;

	while ((q = ch->ch_qhead) != NULL) {
		ch->ch_qhead = q->q_next;
		http_error(q->q_fd, 503, "The handler is not available.");
		close(q->q_fd);
		buf_free(&q->q_dgram);
		free(q);
	}
	ch->ch_qtail = &ch->ch_qhead;
	ch->ch_nq = 0;
	if (had && ch->ch_drained != NULL)
		ch->ch_drained(ch);
}

/* Queue r for ch; 0, or -1 with errno (EAGAIN: queue full). */
static int
child_enqueue(struct child *ch, const struct req *r, int fd)
{
	struct chq *q;

	if (ch->ch_nq >= ASH_CHILD_QUEUE_MAX) {
		errno = EAGAIN;
		return -1;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return -1;
	if (req_encode(r, &q->q_dgram) == -1 ||
	    (q->q_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1) {
		buf_free(&q->q_dgram);
		free(q);
		return -1;
	}
	*ch->ch_qtail = q;
	ch->ch_qtail = &q->q_next;
	ch->ch_nq++;
	if (loop_watch(cloop, &ch->ch_watch, EPOLLOUT) == -1)
		log_errno(LOG_ERR, "child %s: epoll", ch->ch_name);
	return 0;
}

/* Send what the queue holds while the socket takes it. */
static void
child_writable(struct watch *w, uint32_t ev)
{
	struct child *ch = w->w_arg;
	struct chq *q;

	while ((q = ch->ch_qhead) != NULL) {
		if (fd_send(ch->ch_fd, q->q_dgram.b_data, q->q_dgram.b_len,
			q->q_fd) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			log_errno(LOG_WARNING, "child %s", ch->ch_name);
			child_stop(ch);
			child_qfail(ch);
			return;
		}
		ch->ch_qhead = q->q_next;
		if (ch->ch_qhead == NULL)
			ch->ch_qtail = &ch->ch_qhead;
		ch->ch_nq--;
		close(q->q_fd);
		buf_free(&q->q_dgram);
		free(q);
	}
	loop_watch(cloop, &ch->ch_watch, 0);
	if (ch->ch_drained != NULL)
		ch->ch_drained(ch);
}

int
child_handle(struct child *ch, const struct req *r, int fd)
{
	int e, tries;

	if (ch->ch_type == CHILD_TRANSIENT)
		return child_spawn(ch->ch_argv, ch->ch_dir, r, fd) == -1 ? -1
									 : 0;
	for (tries = 0; tries < 2; tries++) {
		if (child_start(ch) == -1)
			return -1;
		if (ch->ch_qhead != NULL)
			return child_enqueue(ch, r, fd);
		if (req_send(ch->ch_fd, r, fd) == 0)
			return 0;
		e = errno;
		if (cloop != NULL && (e == EAGAIN || e == ENOBUFS))
			return child_enqueue(ch, r, fd);
		if (!child_gone(e))
			return -1;
		log_msg(LOG_WARNING, "child %s: %s%s", ch->ch_name, strerror(e),
		    tries ? "" : ", restarting it");
		child_stop(ch);
		errno = e;
	}
	return -1;
}

int
child_pass(struct child *ch, struct req *r, int fd)
{
	int rv, e;

	if ((rv = child_handle(ch, r, fd)) == -1) {
		e = errno;
		log_errno(LOG_ERR, "child %s", ch->ch_name);
		http_error(fd, e == ENOENT ? 500 : 503,
		    "The handler is not available.");
	}
	close(fd);
	req_free(r);
	return rv;
}

/* Add "name=value" to envp[own..*np), or "SEP value" to an existing
 * entry of that name (sep: ", ", or "; " for cookies, RFC 6265 5.4);
 * 0 / -1. */
static int
child_env_add(char **envp, size_t own, size_t *np, const char *name, size_t nl,
    const char *value, const char *sep)
{
	size_t i, vl = strlen(value), ol;
	char *s;

	for (i = own; i < *np; i++) {
		if (strncmp(envp[i], name, nl) == 0 && envp[i][nl] == '=') {
			ol = strlen(envp[i]);
			if ((s = realloc(envp[i], ol + vl + 3)) == NULL)
				return -1;
			memcpy(s + ol, sep, 2);
			memcpy(s + ol + 2, value, vl + 1);
			envp[i] = s;
			return 0;
		}
	}
	if ((s = malloc(nl + vl + 2)) == NULL)
		return -1;
	memcpy(s, name, nl);
	s[nl] = '=';
	memcpy(s + nl + 1, value, vl + 1);
	envp[(*np)++] = s;
	return 0;
}

/*
 * Make the REQ_ name of header h into b (room for strlen(h) + 5); 0 for
 * a name that cannot be told apart from another once '-' is '_' (one
 * with '_' or other characters): such headers are not passed, so that
 * "X_Real_IP" cannot pose as "X-Real-IP".
 */
static size_t
child_env_name(const char *h, char *b)
{
	size_t n = 4;

	memcpy(b, "REQ_", 4);
	for (; *h != '\0'; h++) {
		if (*h >= 'a' && *h <= 'z')
			b[n++] = (char)(*h - 'a' + 'A');
		else if ((*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9'))
			b[n++] = *h;
		else if (*h == '-')
			b[n++] = '_';
		else
			return 0;
	}
	b[n] = '\0';
	return n;
}

static void
child_env_free(char **envp, size_t own)
{
	size_t i;

	if (envp == NULL)
		return;
	for (i = own; envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}

/* The environment of a transient handler: inherited strings up to
 * *ownp, new ones after.  NULL on ENOMEM. */
static char **
child_env(const struct req *r, size_t *ownp)
{
	char **envp, *nb;
	size_t n, i, k = 0, nl;

	for (n = 0; environ[n] != NULL; n++)
		;
	if ((envp = calloc(n + r->r_nhdrs + 2, sizeof(*envp))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "REQ_", 4) != 0 &&
		    strncmp(environ[i], "HTTP_VERSION=", 13) != 0)
			envp[k++] = environ[i];
	*ownp = k;
	if (child_env_add(envp, k, &k, "HTTP_VERSION", 12, r->r_version, ", "))
		goto fail;
	for (i = 0; i < r->r_nhdrs; i++) {
		if (r->r_hdrs[i].h_name[0] == '\0')
			continue;
		if ((nb = malloc(strlen(r->r_hdrs[i].h_name) + 5)) == NULL)
			goto fail;
		nl = child_env_name(r->r_hdrs[i].h_name, nb);
		if (nl > 0 &&
		    child_env_add(envp, *ownp, &k, nb, nl, r->r_hdrs[i].h_value,
			strcasecmp(r->r_hdrs[i].h_name, "Cookie")
			    ? ", "
			    : "; ") == -1) {
			free(nb);
			goto fail;
		}
		free(nb);
	}
	envp[k] = NULL;
	return envp;
fail:
	child_env_free(envp, *ownp);
	errno = ENOMEM;
	return NULL;
}

pid_t
child_spawn(char *const argv[], const char *dir, const struct req *r, int fd)
{
	struct child_run how = CHILD_RUN_INIT;
	char **av = NULL, **envp = NULL;
	size_t n, own = 0;
	pid_t pid = -1;
	int e;

	for (n = 0; argv[n] != NULL; n++)
		;
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((av = calloc(n + 4, sizeof(*av))) == NULL)
		goto fail;
	memcpy(av, argv, n * sizeof(*av));
	av[n] = r->r_method;
	av[n + 1] = r->r_url;
	av[n + 2] = r->r_rest;
	if ((envp = child_env(r, &own)) == NULL)
		goto fail;
	how.cr_in = how.cr_out = fd;
	how.cr_dir = dir;
	how.cr_envp = envp;
	pid = child_run(av, &how);
fail:
	e = errno;
	free(av);
	child_env_free(envp, own);
	errno = e;
	return pid;
}

static struct child *
child_bypid(pid_t pid)
{
	struct child *ch;

	for (ch = running; ch != NULL; ch = ch->ch_rnext)
		if (ch->ch_pid == pid)
			return ch;
	return NULL;
}

int
child_exited(pid_t pid)
{
	struct child *ch;

	if ((ch = child_bypid(pid)) == NULL)
		return 0;
	child_stop(ch);
	return 1;
}

int
child_reaped(pid_t pid, int status)
{
	struct child *ch;

	if ((ch = child_bypid(pid)) == NULL)
		return 0;
	if (WIFSIGNALED(status))
		log_msg(LOG_WARNING, "child %s: killed by signal %d",
		    ch->ch_name, WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0)
		log_msg(LOG_WARNING, "child %s: exited with status %d",
		    ch->ch_name, WEXITSTATUS(status));
	child_stop(ch);
	child_qfail(ch);
	if (ch->ch_exited != NULL)
		ch->ch_exited(ch);
	return 1;
}

int
child_reap(void)
{
	pid_t pid;
	int st, n = 0;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		n++;
		child_reaped(pid, st);
	}
	return n;
}

void
child_adopt(struct child *old, struct child *new)
{
	struct child *o, *n;

	for (o = old; o != NULL; o = o->ch_next) {
		if (o->ch_fd < 0)
			continue;
		n = child_find(new, o->ch_name);
		if (n == NULL || n->ch_type != o->ch_type || n->ch_fd >= 0) {
			child_stop(o);
			continue;
		}
		n->ch_fd = o->ch_fd;
		n->ch_pid = o->ch_pid;
		child_unlink(o);
		if (cloop != NULL) {
			loop_unwatch(cloop, &o->ch_watch);
			watch_init(&n->ch_watch, n->ch_fd, child_writable, n);
		}
		if (o->ch_qhead != NULL) {
			n->ch_qhead = o->ch_qhead;
			n->ch_qtail = o->ch_qtail;
			n->ch_nq = o->ch_nq;
			o->ch_qhead = NULL;
			o->ch_qtail = &o->ch_qhead;
			o->ch_nq = 0;
			if (loop_watch(cloop, &n->ch_watch, EPOLLOUT) == -1)
				log_errno(LOG_ERR, "child %s: epoll",
				    n->ch_name);
		}
		o->ch_fd = -1;
		o->ch_pid = 0;
		child_link(n);
	}
}
