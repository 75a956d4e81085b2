/*
 * userplex: serve /~user/ trees, each by a persistent handler running
 * as that user.
 *
 * The first element of the rest string names the user (a leading '~'
 * is dropped, so that a dirplex "match notfound" can pass "~alice/x" on
 * as it is); the rest after it goes to the user's handler.  A user is
 * served only if the account exists, is not root, has a uid of at least
 * -m, is in the group of -g, and has PUBDIR (or, unless -I, an
 * executable ~/.ashd/handler); any other name answers 404, so that the
 * answers say nothing about which accounts exist.
 *
 * Each user's handler is a lib/child persistent child, started on first
 * use and again on the next use after it died.  The login happens in
 * the new process (login(), the child's ch_setup): a new session, the
 * groups, gid and uid of the user (setgroups, setresgid, setresuid, all
 * checked afterwards), the home directory, HOME SHELL USER LOGNAME, and
 * ~/.ashd/output and ~/.ashd/error (else /dev/null) as standard output
 * and error.  The checks are made again whenever a handler is started.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "req.h"
#include "url.h"

#define NGROUPS_CAP 1024

struct user {
	struct user *u_next;
	char *u_name;
	struct child *u_child; /* NULL until first served */
	uid_t u_uid;
	gid_t u_gid;
	gid_t u_groups[NGROUPS_CAP];
	int u_ngroups;
	char u_home[PATH_MAX];
	char u_shell[PATH_MAX];
};

static int ignore_own; /* -I */
static gid_t need_gid; /* -g */
static int need_group;
static uid_t min_uid;	   /* -m */
static const char *pubdir; /* -d, or htpub by default */
static char **program;	   /* PROGRAM ARGS, or dirplex PUBDIR */
static struct user *users;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: userplex [-hIs] [-g GROUP] [-m MIN-UID] "
	    "[-d PUBDIR] [PROGRAM [ARGS...]]\n");
}

/* Open `name` in append mode as fd `to`, else /dev/null. */
static int
redirect(const char *name, int to)
{
	int fd;

	if ((fd = open(name, O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC)) ==
		-1 &&
	    (fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fd != to && dup2(fd, to) == -1)
		return -1;
	if (fd != to)
		close(fd);
	return 0;
}

/* Become u, and check that it took: every id, no other group. */
static int
gid_cmp(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return x < y ? -1 : x > y;
}

static int
become(const struct user *u)
{
	gid_t g[NGROUPS_CAP], want[NGROUPS_CAP];
	uid_t r, e, s;
	gid_t rg, eg, sg;
	int n, i;

	if (setgroups((size_t)u->u_ngroups, u->u_groups) == -1 ||
	    setresgid(u->u_gid, u->u_gid, u->u_gid) == -1 ||
	    setresuid(u->u_uid, u->u_uid, u->u_uid) == -1)
		return -1;
	if (getresuid(&r, &e, &s) == -1 || getresgid(&rg, &eg, &sg) == -1 ||
	    r != u->u_uid || e != u->u_uid || s != u->u_uid || rg != u->u_gid ||
	    eg != u->u_gid || sg != u->u_gid ||
	    (n = getgroups(NGROUPS_CAP, g)) != u->u_ngroups)
		goto lost;
	/* The kernel keeps the list sorted: compare sorted copies. */
	memcpy(want, u->u_groups, (size_t)n * sizeof(*want));
	qsort(want, (size_t)n, sizeof(*want), gid_cmp);
	qsort(g, (size_t)n, sizeof(*g), gid_cmp);
	for (i = 0; i < n; i++)
		if (g[i] != want[i])
			goto lost;
	/* No way back. */
	if (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0)
		goto lost;
	return 0;
lost:
	errno = EPERM;
	return -1;
}

/* ch_setup: log in as the user (in the new process). */
static int
login(const struct child *ch)
{
	const struct user *u = ch->ch_arg;

	if (setsid() == -1)
		return -1;
	if (getuid() == 0) {
		if (become(u) == -1)
			return -1;
	} else if (getuid() != u->u_uid || geteuid() != u->u_uid) {
		errno = EPERM;
		return -1;
	}
	if (chdir(u->u_home) == -1)
		return -1;
	if (setenv("HOME", u->u_home, 1) == -1 ||
	    setenv("SHELL", u->u_shell, 1) == -1 ||
	    setenv("USER", u->u_name, 1) == -1 ||
	    setenv("LOGNAME", u->u_name, 1) == -1)
		return -1;
	if (redirect(".ashd/output", 1) == -1 ||
	    redirect(".ashd/error", 2) == -1)
		return -1;
	return 0;
}

/* A plausible account name: [A-Za-z0-9._-], not starting with '-'. */
static int
name_ok(const char *s)
{
	if (*s == '\0' || *s == '-' || *s == '.' || strlen(s) > 64)
		return 0;
	return strspn(s,
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		   "0123456789._-") == strlen(s);
}

/* Fill u from the account database; 0, or -1 if it must not be served. */
static int
user_load(struct user *u)
{
	struct passwd *pw;
	int n = NGROUPS_CAP, i, member = !need_group;

	errno = 0;
	if ((pw = getpwnam(u->u_name)) == NULL)
		return -1;
	if (pw->pw_uid == 0 || pw->pw_uid < min_uid)
		return -1;
	if (getuid() != 0 && pw->pw_uid != getuid())
		return -1; /* not root: only its own user */
	if (getgrouplist(pw->pw_name, pw->pw_gid, u->u_groups, &n) == -1) {
		if (n <= NGROUPS_CAP) {
			/* Not too many: the lookup itself failed. */
			if (errno == 0)
				errno = ENOMEM;
			return -1;
		}
		log_msg(LOG_ERR, "%s: more than %d groups", u->u_name,
		    NGROUPS_CAP);
		errno = 0;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (u->u_groups[i] == need_gid)
			member = 1;
	if (!member)
		return -1;
	if (snprintf(u->u_home, sizeof(u->u_home), "%s", pw->pw_dir) >=
		(int)sizeof(u->u_home) ||
	    pw->pw_dir[0] != '/')
		return -1;
	snprintf(u->u_shell, sizeof(u->u_shell), "%s",
	    pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh");
	u->u_uid = pw->pw_uid;
	u->u_gid = pw->pw_gid;
	u->u_ngroups = n;
	return 0;
}

/*
 * The program to start for u: ~/.ashd/handler if it is executable
 * (unless -I), else PROGRAM, if PUBDIR (relative to the home directory)
 * is a directory.  A new child, or NULL (errno ENOENT: not served).
 */
static struct child *
user_child(struct user *u)
{
	char path[PATH_MAX + 32], *own[2] = { path, NULL };
	struct child *ch;
	struct stat st;

	snprintf(path, sizeof(path), "%s/.ashd/handler", u->u_home);
	if (!ignore_own && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0111)) {
		ch = child_new(u->u_name, CHILD_PERSISTENT, own, NULL);
	} else {
		if (pubdir != NULL) {
			snprintf(path, sizeof(path), "%s/%s",
			    pubdir[0] == '/' ? "" : u->u_home, pubdir);
			if (stat(path, &st) == -1 || !S_ISDIR(st.st_mode)) {
				errno = ENOENT;
				return NULL;
			}
		}
		ch = child_new(u->u_name, CHILD_PERSISTENT, program, NULL);
	}
	if (ch != NULL) {
		ch->ch_setup = login;
		ch->ch_arg = u;
	}
	return ch;
}

/* The user `name` with a running handler, or ready to start one. */
static struct user *
user_get(const char *name)
{
	struct user *u, **p;

	for (p = &users; (u = *p) != NULL; p = &u->u_next)
		if (strcmp(u->u_name, name) == 0)
			break;
	if (u != NULL && u->u_child != NULL && u->u_child->ch_fd >= 0)
		return u;
	if (u == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL ||
		    (u->u_name = strdup(name)) == NULL) {
			free(u);
			return NULL;
		}
		u->u_next = users;
		users = u;
	}
	/* Not running: check the account and what to start again. */
	child_free(u->u_child);
	u->u_child = NULL;
	if (user_load(u) == 0)
		u->u_child = user_child(u);
	return u->u_child ? u : NULL;
}

/* 301 to the URL with a slash after its path. */
static void
add_slash(const struct req *r, int fd)
{
	struct buf b = BUF_INIT;
	size_t pl = strcspn(r->r_url, "?");

	if (strpbrk(r->r_url, "\r\n") != NULL ||
	    buf_printf(&b,
		"HTTP/1.1 301 Moved Permanently\r\nLocation: %.*s/%s\r\n"
		"Content-Length: 0\r\n\r\n",
		(int)pl, r->r_url, r->r_url + pl) == -1)
		http_error(fd, 503, "Out of memory.");
	else
		write_all(fd, b.b_data, b.b_len);
	buf_free(&b);
}

static void
serve(struct req *r, int fd, void *arg)
{
	const char *slash = strchr(r->r_rest, '/');
	char *name = NULL, *n;
	struct user *u;
	size_t len;

	(void)arg;
	if (slash == NULL && r->r_rest[0] != '\0') {
		add_slash(r, fd);
		goto done;
	}
	len = slash ? (size_t)(slash - r->r_rest) : 0;
	if ((name = malloc(len + 1)) == NULL) {
		http_error(fd, 503, "Out of memory.");
		goto done;
	}
	n = name;
	if (url_decode(r->r_rest, len, name, 0) != strlen(name))
		name[0] = '\0';
	if (*n == '~')
		n++;
	errno = 0;
	if (!name_ok(n) || (u = user_get(n)) == NULL) {
		if (errno == ENOMEM)
			http_error(fd, 503, "Out of memory.");
		else
			http_error(fd, 404,
			    "The requested resource was not "
			    "found.");
		goto done;
	}
	req_remove_header(r, "X-Ash-File");
	if (req_set_rest(r, slash + 1) == -1) {
		http_error(fd, 503, "Out of memory.");
		goto done;
	}
	if (child_handle(u->u_child, r, fd) == -1) {
		log_errno(LOG_ERR, "user %s", u->u_name);
		http_error(fd, errno == EAGAIN || errno == ENOMEM ? 503 : 500,
		    "The user's "
		    "handler could not be started.");
	}
done:
	free(name);
	close(fd);
	req_free(r);
}

/* End of input or SIGHUP: every handler gets end-of-file. */
static void
stop_all(void *arg)
{
	struct user *u;

	(void)arg;
	for (u = users; u != NULL; u = u->u_next)
		if (u->u_child != NULL)
			child_stop(u->u_child);
}

static const struct handler userplex_handler = {
	.h_request = serve,
	.h_reload = stop_all,
	.h_stop = stop_all,
};

static void
set_group(const char *name)
{
	struct group *gr;
	char *end;
	unsigned long v;

	need_group = 1;
	if ((gr = getgrnam(name)) != NULL) {
		need_gid = gr->gr_gid;
		return;
	}
	errno = 0;
	v = strtoul(name, &end, 10);
	if (errno || end == name || *end || v > (gid_t)-2)
		log_die(2, "-g %s: no such group", name);
	need_gid = (gid_t)v;
}

int
main(int argc, char **argv)
{
	static char *dirplex[3] = { "dirplex", NULL, NULL };
	unsigned long v;
	char *end;
	int c, syslog_kids = 0;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	while ((c = getopt(argc, argv, "+VhIsg:m:d:")) != -1) {
		switch (c) {
		case 'V':
			return log_version();
		case 'h':
			usage(stdout);
			return 0;
		case 'I':
			ignore_own = 1;
			break;
		case 's':
			syslog_kids = 1;
			break;
		case 'g':
			set_group(optarg);
			break;
		case 'm':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end ||
			    optarg[0] == '-' || v > (uid_t)-2)
				log_die(2, "-m %s: not a uid", optarg);
			min_uid = (uid_t)v;
			break;
		case 'd':
			pubdir = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		program = argv + optind;
	else {
		if (pubdir == NULL)
			pubdir = "htpub";
		dirplex[1] = (char *)pubdir;
		program = dirplex;
	}
	if ((syslog_kids ? setenv("ASHD_USESYSLOG", "1", 1)
			 : unsetenv("ASHD_USESYSLOG")) == -1)
		log_die_errno(1, "environment");
	return handler_run(&userplex_handler, NULL);
}
