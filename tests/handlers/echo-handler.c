/*
 * echo-handler.c: a persistent test handler whose behaviour the query
 * string of the request URL selects, so that the bats suites can make a
 * handler answer (or misbehave) in every way htparser must cope with.
 *
 * It reads request datagrams from the SOCK_SEQPACKET socket on standard
 * input until end-of-file.  Each request is served by a forked child, so
 * a slow request never holds up the next one; the parent only closes
 * its copy of the response socket and reaps children on SIGCHLD.
 *
 * Query parameters ('&'-separated, may be combined):
 *	(none)		read the body, then answer 200 text/plain with lines
 *			"method M", "url U", "version V", "rest R",
 *			"header NAME: VALUE" per header, "body-length N",
 *			"sighup N" (the SIGHUPs received so far)
 *	echo		the request body is the response body
 *	status=NNN	answer with that status (no body for 1xx/204/304)
 *	nolength	no Content-Length in the response
 *	size=N		the body is N bytes of "0123456789abcdef" repeated
 *	close		close the response socket without writing anything
 *	partial		write half a response head, then close
 *	sleep=MS	sleep that many milliseconds before answering
 *	noread		do not read the request body before answering
 *	lf		bare LF line ends in the response head
 *	header=N:V	add the (percent-decoded) header "N: V"; may repeat
 *	duplex		answer 101 with X-Ash-Switch: duplex and a second fd,
 *			then echo everything read from it in upper case
 *	whoami		add who the handler runs as: "uid R E S", "gid R E S",
 *			"groups G...", "cwd DIR", "session-leader yes|no",
 *			"env NAME=VALUE|unset" for HOME SHELL USER LOGNAME
 *			ASHD_USESYSLOG, "fd N TARGET" for 1 and 2
 * For HEAD requests the body is written anyway: dropping it is
 * htparser's job.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fdpass.h"
#include "http.h"
#include "log.h"
#include "req.h"
#include "url.h"

#define MAX_EXTRA_HEADERS 32
#define IO_CHUNK	  65536

struct opts {
	int o_status;
	int o_echo;
	int o_nolength;
	int o_close;
	int o_partial;
	int o_noread;
	int o_lf;
	int o_whoami;
	int o_duplex;
	long long o_size; /* -1: not given */
	long long o_sleep_ms;
	char *o_hdrs[MAX_EXTRA_HEADERS];
	size_t o_nhdrs;
};

static volatile sig_atomic_t nsighup;

static void
sighup(int sig)
{
	(void)sig;
	nsighup++;
}

static void
sigchld(int sig)
{
	int saved = errno;

	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	errno = saved;
}

static int
parse_num(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Add one decoded "Name:Value" parameter as a header line "Name: Value". */
static int
opts_add_header(struct opts *o, const char *val)
{
	size_t len = strlen(val), dlen;
	char *dec, *colon, *line;

	if (o->o_nhdrs >= MAX_EXTRA_HEADERS)
		return -1;
	if ((dec = malloc(len + 1)) == NULL)
		return -1;
	dlen = url_decode(val, len, dec, 0);
	colon = strchr(dec, ':');
	if (dlen != strlen(dec) || colon == NULL || colon == dec) {
		free(dec);
		return -1;
	}
	*colon = '\0';
	if ((line = malloc(dlen + 2)) == NULL) {
		free(dec);
		return -1;
	}
	snprintf(line, dlen + 2, "%s: %s", dec, colon + 1);
	free(dec);
	o->o_hdrs[o->o_nhdrs++] = line;
	return 0;
}

static int
opts_param(struct opts *o, char *name, char *val)
{
	long long n;

	if (strcmp(name, "echo") == 0)
		o->o_echo = 1;
	else if (strcmp(name, "nolength") == 0)
		o->o_nolength = 1;
	else if (strcmp(name, "close") == 0)
		o->o_close = 1;
	else if (strcmp(name, "partial") == 0)
		o->o_partial = 1;
	else if (strcmp(name, "noread") == 0)
		o->o_noread = 1;
	else if (strcmp(name, "lf") == 0)
		o->o_lf = 1;
	else if (strcmp(name, "whoami") == 0)
		o->o_whoami = 1;
	else if (strcmp(name, "duplex") == 0)
		o->o_duplex = 1;
	else if (strcmp(name, "status") == 0) {
		if (parse_num(val, 100, 999, &n) < 0)
			return -1;
		o->o_status = (int)n;
	} else if (strcmp(name, "size") == 0) {
		if (parse_num(val, 0, INT64_MAX, &o->o_size) < 0)
			return -1;
	} else if (strcmp(name, "sleep") == 0) {
		if (parse_num(val, 0, 3600 * 1000, &o->o_sleep_ms) < 0)
			return -1;
	} else if (strcmp(name, "header") == 0) {
		if (val == NULL || opts_add_header(o, val) < 0)
			return -1;
	}
	/* Unknown parameters are ignored: tests may add their own. */
	return 0;
}

static int
opts_parse(struct opts *o, const char *url)
{
	const char *q = strchr(url, '?');
	char *copy, *p, *next, *eq;
	int rc = 0;

	memset(o, 0, sizeof(*o));
	o->o_status = 200;
	o->o_size = -1;
	if (q == NULL)
		return 0;
	if ((copy = strdup(q + 1)) == NULL)
		return -1;
	for (p = copy; p != NULL && rc == 0; p = next) {
		if ((next = strchr(p, '&')) != NULL)
			*next++ = '\0';
		if (*p == '\0')
			continue;
		if ((eq = strchr(p, '=')) != NULL)
			*eq++ = '\0';
		rc = opts_param(o, p, eq);
	}
	free(copy);
	return rc;
}

static void
sleep_ms(long long ms)
{
	struct timespec ts, rem;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &rem) < 0 && errno == EINTR)
		ts = rem;
}

/* Read the request body to end-of-file, counting it and keeping it in
 * `keep` when given. */
static int
body_read(int fd, struct buf *keep, long long *total)
{
	char tmp[IO_CHUNK];
	ssize_t n;

	*total = 0;
	for (;;) {
		n = read(fd, tmp, sizeof(tmp));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return 0;
		*total += n;
		if (keep != NULL && buf_append(keep, tmp, (size_t)n) < 0)
			return -1;
	}
}

static int
describe(struct buf *b, const struct req *r, long long bodylen)
{
	size_t i;

	if (buf_printf(b, "method %s\nurl %s\nversion %s\nrest %s\n",
		r->r_method, r->r_url, r->r_version, r->r_rest) < 0)
		return -1;
	for (i = 0; i < r->r_nhdrs; i++)
		if (buf_printf(b, "header %s: %s\n", r->r_hdrs[i].h_name,
			r->r_hdrs[i].h_value) < 0)
			return -1;
	return buf_printf(b, "body-length %lld\nsighup %d\n", bodylen,
	    (int)nsighup);
}

/* Who this process is (the whoami parameter). */
static int
whoami(struct buf *b)
{
	static const char *vars[] = { "HOME", "SHELL", "USER", "LOGNAME",
		"ASHD_USESYSLOG" };
	gid_t g[256];
	uid_t r, e, s;
	gid_t rg, eg, sg;
	char cwd[4096], path[64], target[4096];
	ssize_t k;
	int n, i;

	if (getresuid(&r, &e, &s) == -1 || getresgid(&rg, &eg, &sg) == -1 ||
	    (n = getgroups(256, g)) == -1 || getcwd(cwd, sizeof(cwd)) == NULL)
		return -1;
	buf_printf(b, "uid %d %d %d\ngid %d %d %d\ngroups", (int)r, (int)e,
	    (int)s, (int)rg, (int)eg, (int)sg);
	for (i = 0; i < n; i++)
		buf_printf(b, " %d", (int)g[i]);
	buf_printf(b, "\ncwd %s\nsession-leader %s\n", cwd,
	    getsid(0) == getpid() || getsid(0) == getppid() ? "yes" : "no");
	for (i = 0; i < (int)(sizeof(vars) / sizeof(vars[0])); i++)
		buf_printf(b, "env %s=%s\n", vars[i],
		    getenv(vars[i]) ? getenv(vars[i]) : "unset");
	for (i = 1; i <= 2; i++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", i);
		if ((k = readlink(path, target, sizeof(target) - 1)) < 0)
			k = 0;
		target[k] = '\0';
		buf_printf(b, "fd %d %s\n", i, target);
	}
	return 0;
}

/* Write `size` bytes of the repeating pattern; IO_CHUNK is a multiple
 * of 16 so every chunk continues the pattern. */
static int
pattern_write(int fd, long long size)
{
	static const char digits[] = "0123456789abcdef";
	static char pat[IO_CHUNK];
	size_t i, n;

	for (i = 0; i < sizeof(pat); i++)
		pat[i] = digits[i % 16];
	while (size > 0) {
		n = size > IO_CHUNK ? IO_CHUNK : (size_t)size;
		if (write_all(fd, pat, n) < 0)
			return -1;
		size -= (long long)n;
	}
	return 0;
}

static int
head_format(struct buf *h, const struct opts *o, long long bodylen, int hasbody)
{
	const char *eol = o->o_lf ? "\n" : "\r\n";
	size_t i;

	if (buf_printf(h, "HTTP/1.1 %d %s%s", o->o_status,
		http_reason(o->o_status), eol) < 0)
		return -1;
	if (hasbody && buf_printf(h, "Content-Type: text/plain%s", eol) < 0)
		return -1;
	if (hasbody && !o->o_nolength &&
	    buf_printf(h, "Content-Length: %lld%s", bodylen, eol) < 0)
		return -1;
	for (i = 0; i < o->o_nhdrs; i++)
		if (buf_printf(h, "%s%s", o->o_hdrs[i], eol) < 0)
			return -1;
	return buf_appends(h, eol);
}

/* 101 with a socketpair end attached, then an upper-casing echo. */
static int
serve_duplex(int fd, const struct opts *o)
{
	const char *eol = o->o_lf ? "\n" : "\r\n";
	struct buf h = BUF_INIT;
	char tmp[IO_CHUNK];
	int sv[2] = { -1, -1 }, rc = -1;
	ssize_t n, i;

	if (buf_printf(&h,
		"HTTP/1.1 101 Switching Protocols%sUpgrade: test%s"
		"Connection: Upgrade%sX-Ash-Switch: duplex%s%s",
		eol, eol, eol, eol, eol) < 0)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail;
	if (fd_send(fd, h.b_data, h.b_len, sv[0]) != (ssize_t)h.b_len)
		goto fail;
	close(sv[0]);
	sv[0] = -1;
	close(fd);
	for (;;) {
		n = read(sv[1], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++)
			tmp[i] = (char)toupper((unsigned char)tmp[i]);
		if (write_all(sv[1], tmp, (size_t)n) < 0)
			goto fail;
	}
	rc = n == 0 ? 0 : -1;
fail:
	if (rc < 0)
		log_errno(LOG_ERR, "duplex");
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	buf_free(&h);
	return rc;
}

static int
serve(struct req *r, int fd)
{
	static const char half[] = "HTTP/1.1 200 OK\r\nContent-";
	struct opts o;
	struct buf body = BUF_INIT, head = BUF_INIT;
	long long bodylen = 0, outlen;
	int hasbody, rc = -1;

	if (opts_parse(&o, r->r_url) < 0) {
		log_msg(LOG_ERR, "bad parameters in %s", r->r_url);
		return http_error(fd, 400, "bad echo-handler parameters");
	}
	if (o.o_close)
		return 0;
	if (o.o_duplex)
		return serve_duplex(fd, &o);
	if (!o.o_noread &&
	    body_read(fd, o.o_echo ? &body : NULL, &bodylen) < 0) {
		log_errno(LOG_ERR, "reading the request body");
		goto fail;
	}
	if (o.o_sleep_ms > 0)
		sleep_ms(o.o_sleep_ms);
	if (o.o_partial) {
		rc = write_all(fd, half, sizeof(half) - 1);
		goto fail;
	}
	hasbody = !(o.o_status < 200 || o.o_status == 204 || o.o_status == 304);
	if (hasbody && o.o_size < 0 && !o.o_echo &&
	    describe(&body, r, bodylen) < 0)
		goto fail;
	if (hasbody && o.o_whoami && whoami(&body) < 0)
		goto fail;
	outlen = o.o_size >= 0 ? o.o_size : (long long)body.b_len;
	if (head_format(&head, &o, outlen, hasbody) < 0)
		goto fail;
	if (write_all(fd, head.b_data, head.b_len) < 0)
		goto fail;
	if (hasbody && o.o_size >= 0)
		rc = pattern_write(fd, o.o_size);
	else if (hasbody && body.b_len > 0)
		rc = write_all(fd, body.b_data, body.b_len);
	else
		rc = 0;
fail:
	buf_free(&body);
	buf_free(&head);
	return rc;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;
	struct req *r;
	pid_t pid;
	int fd;

	(void)argc;
	(void)argv;
	log_init("echo-handler");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = sighup;
	sigaction(SIGHUP, &sa, NULL);

	for (;;) {
		fd = -1;
		if ((r = req_recv(0, &fd)) == NULL) {
			if (errno == 0)
				break;
			if (errno == EINTR)
				continue;
			if (errno == EBADMSG || errno == EMSGSIZE) {
				log_errno(LOG_WARNING, "bad request datagram");
				continue;
			}
			log_die_errno(1, "receiving a request");
		}
		if ((pid = fork()) == 0) {
			sa.sa_handler = SIG_DFL;
			sa.sa_flags = 0;
			sigaction(SIGCHLD, &sa, NULL);
			close(0);
			_exit(serve(r, fd) < 0 ? 1 : 0);
		}
		if (pid < 0) {
			log_errno(LOG_ERR, "fork");
			http_error(fd, 503, "echo-handler cannot fork");
		}
		close(fd);
		req_free(r);
	}
	return 0;
}
