/*
 * test_child.c: handler children (lib/child.c).
 *
 * Transient children are a shell script that reports what it got
 * (arguments, REQ_* environment, directory, descriptors) on its
 * standard output, which must be the response socket.  Persistent
 * children are this program run again with "--persistent": it answers
 * every request datagram on the descriptor that came with it, with its
 * pid, the request, the body it read from the descriptor, its directory
 * and any stray descriptors, and exits at end-of-file.
 *
 * Every child started here is waited for before the test ends, and the
 * test checks that none is left over.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cf.h"
#include "child.h"
#include "log.h"
#include "req.h"
#include "tap.h"

static char tmpdir[1024];
static char self[1024];

static void __attribute__((noreturn)) die(const char *what)
{
	perror(what);
	exit(2);
}

static void
put(const char *name, const char *data, mode_t mode)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) ==
	    -1)
		die(path);
	if (write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		die(path);
	close(fd);
}

/* Descriptors >= 3 open in this process other than `but`, as text. */
static void
stray_fds(struct buf *b, int but)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		fd = atoi(de->d_name);
		if (de->d_name[0] != '.' && fd >= 3 && fd != but &&
		    fd != dirfd(d))
			buf_printf(b, " %d", fd);
	}
	closedir(d);
}

/* The persistent handler this program becomes with --persistent. */
static int
handler(void)
{
	struct buf b = BUF_INIT;
	struct req *r;
	char body[256], cwd[1024];
	ssize_t n, k;
	int fd;

	while ((r = req_recv(0, &fd)) != NULL) {
		for (k = 0;
		     (n = read(fd, body + k, sizeof(body) - 1 - (size_t)k)) > 0;
		     k += n)
			;
		body[k] = '\0';
		buf_clear(&b);
		buf_printf(&b, "pid=%d\n%s %s %s rest=%s x=%s\nbody=%s\n",
		    (int)getpid(), r->r_method, r->r_url, r->r_version,
		    r->r_rest, req_header(r, "X-Test"), body);
		if (getenv("TEST_CHILD_SETUP"))
			buf_printf(&b, "setup=%s\n",
			    getenv("TEST_CHILD_SETUP"));
		buf_printf(&b, "cwd=%s\nfds=", getcwd(cwd, sizeof(cwd)));
		stray_fds(&b, fd);
		buf_appendc(&b, '\n');
		if (write(fd, b.b_data, b.b_len) != (ssize_t)b.b_len)
			return 3;
		close(fd);
		req_free(r);
	}
	buf_free(&b);
	return errno == 0 ? 0 : 4;
}

/* Read all of fd until end-of-file; a new string. */
static char *
slurp(int fd)
{
	struct buf b = BUF_INIT;
	char tmp[1024];
	ssize_t n;

	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_append(&b, tmp, (size_t)n);
	buf_appends(&b, "");
	return buf_detach(&b, NULL);
}

/*
 * Hand a request to ch with a fresh response socket, send `body` and
 * return all the answer; NULL if child_handle() failed (*errp: errno).
 */
static char *
ask(struct child *ch, const char *url, const char *rest, const char *body,
    int *errp)
{
	struct req *r;
	char *out;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair");
	if ((r = req_new("GET", url, "HTTP/1.1", rest)) == NULL ||
	    req_add_header(r, "X-Test", "value 1") == -1)
		die("req_new");
	errno = 0;
	rc = child_handle(ch, r, sv[1]);
	*errp = errno;
	req_free(r);
	close(sv[1]);
	if (rc == -1) {
		close(sv[0]);
		return NULL;
	}
	if (write(sv[0], body, strlen(body)) != (ssize_t)strlen(body))
		die("write");
	shutdown(sv[0], SHUT_WR);
	out = slurp(sv[0]);
	close(sv[0]);
	return out;
}

/* Read tmpdir/name and make a child list of its stanzas. */
static struct child *
load(const char *name)
{
	struct cfreader *cr;
	struct stanza *s;
	struct child *list = NULL, **tail = &list, *ch;
	char path[4096], *err;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((cr = cf_open(path)) == NULL)
		die(path);
	while (cf_next(cr, &s) == 1) {
		if ((ch = child_parse(s, &err)) == NULL) {
			tap_diag("%s", err ? err : strerror(errno));
			exit(2);
		}
		*tail = ch;
		tail = &ch->ch_next;
		stanza_free(s);
	}
	cf_close(cr);
	return list;
}

/* Wait up to two seconds for child_reap() to reap something. */
static int
reap_some(void)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int i, n;

	for (i = 0; i < 200; i++) {
		if ((n = child_reap()) > 0)
			return n;
		nanosleep(&ts, NULL);
	}
	return 0;
}

static const struct {
	int line;
	const char *in;
	const char *err; /* NULL: parses */
} parse_rows[] = {
	{ __LINE__, "child a\n\texec prog x\n", NULL },
	{ __LINE__, "fchild a\n\texec prog\n", NULL },
	{ __LINE__, "child\n\texec prog\n", "t.rc:1: child: missing name" },
	{ __LINE__, "fchild a b\n\texec prog\n",
	    "t.rc:1: fchild: too many arguments" },
	{ __LINE__, "child a\n", "t.rc:1: child a: missing exec" },
	{ __LINE__, "child a\n\n  exec\n",
	    "t.rc:3: child a: exec: no program" },
	{ __LINE__, "fchild a\n exec x\n exec y\n",
	    "t.rc:3: fchild a: exec given twice" },
	{ __LINE__, "child a\n exec x\n run y\n",
	    "t.rc:3: child a: unknown directive run" },
	{ __LINE__, "match\n handler a\n",
	    "t.rc:1: not a child stanza: match" },
};

static void
test_parse(void)
{
	struct cfreader *cr;
	struct stanza *s;
	struct child *ch;
	char path[4096], *err;
	const char *rel;
	size_t i;

	snprintf(path, sizeof(path), "%s/t.rc", tmpdir);
	for (i = 0; i < sizeof(parse_rows) / sizeof(parse_rows[0]); i++) {
		put("t.rc", parse_rows[i].in, 0644);
		if ((cr = cf_open(path)) == NULL || cf_next(cr, &s) != 1)
			die("t.rc");
		ch = child_parse(s, &err);
		rel = err && !strncmp(err, tmpdir, strlen(tmpdir))
		    ? err + strlen(tmpdir) + 1
		    : err;
		ok_at(parse_rows[i].line,
		    (ch != NULL) == (parse_rows[i].err == NULL),
		    "child_parse %s", ch ? "succeeds" : "fails");
		is_str_at(parse_rows[i].line, rel, parse_rows[i].err,
		    "child_parse message");
		child_free(ch);
		free(err);
		stanza_free(s);
		cf_close(cr);
	}

	put("t.rc", "child p\n\texec prog \"a b\"\nfchild t\n exec x\n", 0644);
	ch = load("t.rc");
	ok(ch->ch_type == CHILD_PERSISTENT && !strcmp(ch->ch_name, "p") &&
		!strcmp(ch->ch_argv[0], "prog") &&
		!strcmp(ch->ch_argv[1], "a b") && ch->ch_argv[2] == NULL &&
		!strcmp(ch->ch_dir, tmpdir) && ch->ch_pid == 0 &&
		ch->ch_fd == -1,
	    "child: fields");
	ok(ch->ch_next->ch_type == CHILD_TRANSIENT &&
		child_find(ch, "t") == ch->ch_next &&
		child_find(ch, "u") == NULL,
	    "fchild: fields, child_find");
	child_free_list(ch);
}

/* The lower level, and programs that cannot be run. */
static void
test_spawn(const struct req *r)
{
	char *argv[] = { "/bin/sh", "-c", "exit 7", NULL };
	char *bad[] = { "no-such-program-here", NULL };
	pid_t pid;
	int status;

	pid = child_spawn(argv, NULL, r, 1);
	ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		WEXITSTATUS(status) == 7,
	    "child_spawn: returns the pid");
	errno = 0;
	ok(child_spawn(bad, NULL, r, 1) == -1 && errno == ENOENT,
	    "child_spawn: missing program is ENOENT");
	errno = 0;
	ok(child_spawn(argv, "/no/such/dir", r, 1) == -1 && errno == ENOENT,
	    "child_spawn: bad directory is ENOENT");
	ok(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD,
	    "child_spawn: failures leave no zombie");
}

static void
test_transient(void)
{
	struct child *list;
	struct req *r;
	struct stat st;
	char want[8192], conf[2048], *out;
	pid_t pid;
	int sv[2], stray, status;

	snprintf(conf, sizeof(conf), "%s/conf", tmpdir);
	if (mkdir(conf, 0755) == -1 || mkdir("bin", 0755) == -1)
		die("mkdir");
	put("bin/tr.sh",
	    "#!/bin/sh\n"
	    "echo \"argc=$#\"\n"
	    "for a in \"$@\"; do echo \"arg=[$a]\"; done\n"
	    "echo \"pwd=$(pwd -P)\"\n"
	    "env | grep '^REQ_' | LC_ALL=C sort\n"
	    "echo \"HTTP_VERSION=$HTTP_VERSION\"\n"
	    "echo \"in=$(readlink /proc/$$/fd/0) out=$(readlink /proc/$$/fd/1)\"\n"
	    "IFS= read -r line; echo \"read=$line\"\n"
	    "echo \"fds=$(ls /proc/self/fd | tr '\\n' ' ')\"\n",
	    0755);
	snprintf(want, sizeof(want),
	    "fchild tr\n\texec \"%s/bin/tr.sh\" "
	    "\"first arg\" second\n",
	    tmpdir);
	put("conf/tr.rc", want, 0644);
	list = load("conf/tr.rc");

	/* A descriptor that would be inherited if nothing closed it (kept
	 * open for the persistent tests too). */
	if ((stray = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(stray, 20) == -1)
		die("/dev/null");
	close(stray);
	setenv("REQ_STALE", "1", 1);
	setenv("HTTP_VERSION", "stale", 1);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1 ||
	    fstat(sv[1], &st) == -1)
		die("socketpair");
	if ((r = req_new("GET", "/x/y?q=1", "HTTP/1.0", "x/y")) == NULL)
		die("req_new");
	req_add_header(r, "Host", "example.org");
	req_add_header(r, "X-Foo-Bar", "baz qux");
	req_add_header(r, "weird.name+x", "v");	 /* left out */
	req_add_header(r, "X_Foo_Bar", "spoof"); /* left out */
	req_add_header(r, "Accept", "a");
	req_add_header(r, "accept", "b");
	is_int(child_handle(list, r, sv[1]), 0, "transient: child_handle");
	close(sv[1]);
	if (write(sv[0], "hello\nrest", 10) != 10)
		die("write");
	shutdown(sv[0], SHUT_WR);
	out = slurp(sv[0]);
	close(sv[0]);
	snprintf(want, sizeof(want),
	    "argc=5\narg=[first arg]\narg=[second]\n"
	    "arg=[GET]\narg=[/x/y?q=1]\narg=[x/y]\npwd=%s\n"
	    "REQ_ACCEPT=a, b\nREQ_HOST=example.org\n"
	    "REQ_X_FOO_BAR=baz qux\nHTTP_VERSION=HTTP/1.0\n"
	    "in=socket:[%lu] out=socket:[%lu]\nread=hello\nfds=0 1 2 3 \n",
	    conf, (unsigned long)st.st_ino, (unsigned long)st.st_ino);
	is_str(out, want, "transient: argv, environment, directory, fds");
	free(out);
	pid = waitpid(-1, &status, 0);
	ok(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "transient: exited");
	child_free_list(list);

	test_spawn(r);
	req_free(r);
	unsetenv("REQ_STALE");
	unsetenv("HTTP_VERSION");
}

/* The pid a persistent handler reported, or -1. */
static long
pid_of(const char *out)
{
	return out && !strncmp(out, "pid=", 4) ? atol(out + 4) : -1;
}

/* Reload: ph survives with the same process, other is stopped. */
static void
test_reload(struct child *list, struct child *ph, struct child *other, pid_t p3,
    pid_t po)
{
	struct child *nlist, *nph;
	char want[8192], *out;
	int e, status;

	snprintf(want, sizeof(want),
	    "child ph\n\texec \"%s\" --persistent\n"
	    "child new\n\texec \"%s\" --persistent\n",
	    self, self);
	put("conf/p2.rc", want, 0644);
	nlist = load("conf/p2.rc");
	child_adopt(list, nlist);
	nph = child_find(nlist, "ph");
	ok(nph->ch_pid == p3 && nph->ch_fd >= 0 && ph->ch_pid == 0 &&
		ph->ch_fd == -1,
	    "child_adopt: ph moved to the new list");
	ok(other->ch_pid == 0 && other->ch_fd == -1 &&
		waitpid(po, &status, 0) == po && WIFEXITED(status) &&
		WEXITSTATUS(status) == 0,
	    "child_adopt: other stopped, exited");
	child_free_list(list);
	out = ask(nph, "/6", "6", "", &e);
	ok(pid_of(out) == p3, "child_adopt: same process answers");
	free(out);
	ok(child_find(nlist, "new")->ch_pid == 0,
	    "child_adopt: new child not started");

	/* Freeing the list stops the rest; nothing is left over. */
	child_free_list(nlist);
	ok(waitpid(p3, &status, 0) == p3 && WIFEXITED(status) &&
		WEXITSTATUS(status) == 0,
	    "child_free_list: ph exits at EOF");
	ok(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD,
	    "no children left");
}

static void
test_persistent(void)
{
	struct child *list, *ph, *other;
	char want[8192], conf[2048], *out;
	pid_t p1, p2, p3, po;
	int e, status;

	snprintf(conf, sizeof(conf), "%s/conf", tmpdir);
	snprintf(want, sizeof(want),
	    "child other\n\texec \"%s\" --persistent\n"
	    "child ph\n\texec \"%s\" --persistent\n"
	    "child gone\n\texec no-such-program-here\n",
	    self, self);
	put("conf/p.rc", want, 0644);
	list = load("conf/p.rc");
	other = child_find(list, "other");
	ph = child_find(list, "ph");
	ok(ph->ch_pid == 0 && ph->ch_fd == -1, "persistent: not started early");

	/* Start "other" first: ph must not inherit its socket. */
	out = ask(other, "/o", "o", "", &e);
	po = other->ch_pid;
	ok(out && pid_of(out) == po, "persistent: other answers");
	free(out);
	out = ask(ph, "/a/b?c", "a/b", "the body", &e);
	p1 = ph->ch_pid;
	snprintf(want, sizeof(want),
	    "pid=%d\nGET /a/b?c HTTP/1.1 rest=a/b "
	    "x=value 1\nbody=the body\ncwd=%s\nfds=\n",
	    (int)p1, conf);
	ok(p1 > 0 && ph->ch_fd >= 0, "persistent: started on first use");
	is_str(out, want, "persistent: request, fd both ways, cwd, no fds");
	free(out);
	out = ask(ph, "/2", "2", "", &e);
	ok(pid_of(out) == p1, "persistent: same process next time");
	free(out);

	/* Killed but not reaped: the send fails and it is restarted. */
	kill(p1, SIGKILL);
	waitpid(p1, &status, 0);
	out = ask(ph, "/3", "3", "again", &e);
	p2 = ph->ch_pid;
	ok(p2 > 0 && p2 != p1 && pid_of(out) == p2 &&
		strstr(out, "body=again\n") != NULL,
	    "persistent: restarted after it died, request resent");
	free(out);

	/* Killed and reaped: marked dead, started on next use. */
	kill(p2, SIGTERM);
	ok(reap_some() == 1 && ph->ch_pid == 0 && ph->ch_fd == -1,
	    "child_reap marks it dead");
	out = ask(ph, "/4", "4", "", &e);
	p3 = ph->ch_pid;
	ok(p3 > 0 && p3 != p2 && pid_of(out) == p3,
	    "persistent: started again after reaping");
	free(out);

	out = ask(child_find(list, "gone"), "/5", "5", "", &e);
	ok(out == NULL && e == ENOENT, "persistent: missing program fails");

	test_reload(list, ph, other, p3, po);
}

/* ch_setup hooks: one that refuses, one that leaves a mark. */
static int
setup_refuse(const struct child *ch)
{
	(void)ch;
	errno = EACCES;
	return -1;
}

static int
setup_mark(const struct child *ch)
{
	return setenv("TEST_CHILD_SETUP", ch->ch_arg, 1);
}

static void
test_setup(void)
{
	char *argv[] = { self, "--persistent", NULL };
	struct child *ch;
	char *out;
	int e;

	ch = child_new("s", CHILD_PERSISTENT, argv, NULL);
	ch->ch_setup = setup_refuse;
	ok(child_start(ch) == -1 && errno == EACCES && ch->ch_fd == -1 &&
		ch->ch_pid == 0,
	    "ch_setup: its failure fails the start");
	ch->ch_setup = setup_mark;
	ch->ch_arg = "marked";
	out = ask(ch, "/s", "s", "", &e);
	ok(out != NULL && strstr(out, "setup=marked\n") != NULL,
	    "ch_setup: runs in the new process before exec");
	free(out);
	child_free(ch);
}

static pid_t connpid;
static int connects;

/* ch_connect of the "connect" test: a new --persistent process on a
 * socketpair stands for a server reached by connecting; refused while
 * ch_arg is NULL. */
static int
connect_hook(struct child *ch)
{
	int sv[2];

	connects++;
	if (ch->ch_arg == NULL) {
		errno = ECONNREFUSED;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair");
	if ((connpid = fork()) == 0) {
		dup2(sv[1], 0);
		execl(self, self, "--persistent", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	return sv[0];
}

static void
test_connect(void)
{
	char *argv[] = { "not-run", NULL }, *out;
	struct child *ch;
	pid_t p1;
	int e, status, sv[2];

	if ((ch = child_new("conn", CHILD_PERSISTENT, argv, NULL)) == NULL)
		die("child_new");
	ch->ch_connect = connect_hook;
	ch->ch_arg = ch;
	out = ask(ch, "/c", "c", "x", &e);
	p1 = connpid;
	ok(out != NULL && pid_of(out) == p1 && ch->ch_pid == 0 &&
		ch->ch_fd >= 0 && connects == 1,
	    "ch_connect: reached, not started (ch_pid 0)");
	free(out);
	/* The server goes away: connected again, the request sent again. */
	kill(p1, SIGKILL);
	waitpid(p1, &status, 0);
	out = ask(ch, "/d", "d", "y", &e);
	ok(out != NULL && connpid != p1 && pid_of(out) == connpid &&
		strstr(out, "body=y\n") != NULL && connects == 2,
	    "ch_connect: connected again once the server went away");
	free(out);
	/* Nobody answers: child_handle() fails with the hook's errno. */
	ch->ch_arg = NULL;
	kill(connpid, SIGKILL);
	waitpid(connpid, &status, 0);
	out = ask(ch, "/e", "e", "", &e);
	ok(out == NULL && e == ECONNREFUSED && ch->ch_fd == -1,
	    "ch_connect: refused connection fails the request");
	/* child_pass() answers the client itself, and closes fd. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair");
	ok(child_pass(ch, req_new("GET", "/f", "HTTP/1.1", "f"), sv[1]) == -1,
	    "child_pass: -1 when nobody answers");
	out = slurp(sv[0]);
	ok(strncmp(out, "HTTP/1.1 503 ", 13) == 0,
	    "child_pass: the client gets 503");
	free(out);
	close(sv[0]);
	child_free(ch);
}

static struct child *exited_ch;
static int exited_n;

static void
on_exited(struct child *ch)
{
	exited_ch = ch;
	exited_n++;
}

/* ch_exited: called once when the reaped process was the child's. */
static void
test_exited(void)
{
	char *argv[] = { self, "--persistent", NULL };
	struct child *ch;
	pid_t pid;

	if ((ch = child_new("x", CHILD_PERSISTENT, argv, NULL)) == NULL ||
	    child_start(ch) == -1)
		die("child_start");
	ch->ch_exited = on_exited;
	pid = ch->ch_pid;
	kill(pid, SIGKILL);
	while (exited_n == 0 && reap_some() > 0)
		; /* others of earlier tests may end first */
	ok(exited_n == 1 && exited_ch == ch && ch->ch_fd == -1 &&
		ch->ch_pid == 0,
	    "ch_exited: called once the child is reaped and marked dead");
	child_free(ch);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(int argc, char **argv)
{
	char t[1024], *p;
	const char *td = getenv("TMPDIR");
	ssize_t n;

	if (argc == 2 && strcmp(argv[1], "--persistent") == 0)
		return handler();
	alarm(30);
	signal(SIGPIPE, SIG_IGN);
	log_init("test_child");
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0)
		die("readlink");
	self[n] = '\0';
	snprintf(t, sizeof(t), "%s/test_child.XXXXXX", td && *td ? td : "/tmp");
	if (mkdtemp(t) == NULL || (p = realpath(t, NULL)) == NULL ||
	    strlen(p) >= sizeof(tmpdir))
		die("mkdtemp");
	strcpy(tmpdir, p);
	free(p);
	if (chdir(tmpdir) == -1)
		die(tmpdir);
	test_parse();
	test_transient();
	test_persistent();
	test_setup();
	test_connect();
	test_exited();
	close(20);
	if (chdir("/") == -1)
		die("/");
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
