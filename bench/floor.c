/*
 * floor.c: the least work a request can take through the ashd design,
 * as a yardstick for bench/run (bench/README.md, "The floor").
 *
 *	cc -O2 -o floor bench/floor.c
 *	floor front [-a ADDR] PORT -- PROGRAM [ARGS...]
 *	floor pass DIR -- PROGRAM [ARGS...]
 *	floor respond FILE
 *
 * The three speak the request protocol of ashd(7) and nothing else, so
 * they mix with the real programs (htparser -- floor respond FILE, or
 * floor front PORT -- dirplex DIR):
 *
 *   front    the htparser part: an epoll loop accepting HTTP/1.1
 *            keep-alive connections on ADDR (127.0.0.1) and PORT; per
 *            request it parses the head, makes a socket pair, shuts its
 *            own end for writing (no body), sends the request datagram
 *            (method, URL, version, rest, headers, the X-Ash-* headers,
 *            encoded as lib/req.c does) with the other end to PROGRAM,
 *            its persistent root handler, and relays the handler's
 *            response to the client, owning the framing: it drops the
 *            handler's Connection/Keep-Alive/Transfer-Encoding, adds
 *            Date and Server, and Connection: close when it closes.
 *   pass     the dirplex part: receives each datagram on standard input,
 *            takes the first element off the rest string, adds
 *            X-Ash-File: DIR/element and sends the new datagram with the
 *            same descriptor to PROGRAM, its persistent child.
 *   respond  the sendfile part: answers every GET with FILE (read once
 *            at start) and a fixed head, HEAD with the head, anything
 *            else with 405, and closes the response socket.
 *
 * What is left out on purpose (it is work, not protocol): request
 * bodies (a request announcing one is answered 501 and the connection
 * closed), timeouts, limits beyond fixed buffers, error pages, file
 * system lookups (pass does no stat; respond no open), and responses
 * without Content-Length (relayed until end-of-file, then the
 * connection is closed instead of chunked).  What is taken because the
 * design allows it: edge-triggered client sockets registered once per
 * connection, the response socket closed without reading end-of-file
 * once Content-Length bytes came, blocking receive loops in pass and
 * respond (one input, nothing else to wait for), the local address
 * from the listener instead of getsockname(), the peer's from accept4.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define DGRAM_MAX (128 * 1024) /* as ASH_DGRAM_MAX */
#define HEAD_MAX  (16 * 1024)  /* request or response head */
#define BATCH	  64

static void __attribute__((noreturn)) die(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	fprintf(stderr, "floor: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, e ? ": %s\n" : "\n", strerror(e));
	exit(1);
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
	    "usage: floor front [-a ADDR] PORT -- PROGRAM "
	    "[ARGS...]\n"
	    "       floor pass DIR -- PROGRAM [ARGS...]\n"
	    "       floor respond FILE\n");
	exit(2);
}

/* Start PROGRAM as a persistent handler: a SOCK_SEQPACKET socket as
 * its standard input; our end is returned (close-on-exec).  Both ends
 * block (SOCK_NONBLOCK would make the child's nonblocking too); the
 * front says MSG_DONTWAIT instead. */
static int
start_child(char **argv)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		if (dup2(sv[1], 0) == -1)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "floor: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	return sv[0];
}

/* One datagram with exactly one descriptor (MSG_CMSG_CLOEXEC; extra
 * descriptors closed).  Bytes, 0 at end-of-file, -1 on error; *fdp is
 * -1 if none came. */
static ssize_t
recv_dgram(int sock, char *buf, size_t cap, int *fdp)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct msghdr msg;
	struct cmsghdr *c;
	struct iovec iov = { buf, cap };
	ssize_t n;
	size_t i, nfd;
	int fd;

	*fdp = -1;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (*fdp < 0)
				*fdp = fd;
			else
				close(fd);
		}
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (*fdp >= 0)
			close(*fdp);
		*fdp = -1;
	}
	return n;
}

static ssize_t
send_dgram(int sock, const char *data, size_t len, int fd, int flags)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg;
	struct iovec iov = { (void *)data, len };
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	cm.hdr.cmsg_level = SOL_SOCKET;
	cm.hdr.cmsg_type = SCM_RIGHTS;
	cm.hdr.cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(&cm.hdr), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
	while (n < 0 && errno == EINTR);
	return n;
}

/*
 * Walk a request datagram: the offset just past the rest string in
 * *restend, the offset of the final empty string returned; -1 if it is
 * not a well-formed datagram.
 */
static ssize_t
dgram_walk(const char *d, size_t len, size_t *restend)
{
	const char *e;
	size_t pos = 0;
	int i;

	for (i = 0;; i++) {
		if (pos >= len ||
		    (e = memchr(d + pos, '\0', len - pos)) == NULL)
			return -1;
		if (i >= 4 && i % 2 == 0 && e == d + pos)
			return pos + 1 == len ? (ssize_t)pos : -1;
		pos = (size_t)(e - d) + 1;
		if (i == 3)
			*restend = pos;
	}
}

/* ---------------------------------------------------------------------
 * respond */

static void
send_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

static int
run_respond(const char *file)
{
	static char dg[DGRAM_MAX];
	static const char bad[] =
	    "HTTP/1.1 405 Method Not Allowed\r\n"
	    "Allow: GET, HEAD\r\nContent-Length: 0\r\n\r\n";
	char *resp, date[64];
	size_t headlen, len, off;
	struct stat st;
	ssize_t n;
	FILE *f;
	int fd;

	prctl(PR_SET_NAME, "floor-respond");
	if ((f = fopen(file, "rb")) == NULL || fstat(fileno(f), &st) == -1)
		die("%s", file);
	if ((resp = malloc(512 + (size_t)st.st_size)) == NULL)
		die("malloc");
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
	    gmtime(&st.st_mtime));
	headlen = (size_t)snprintf(resp, 512,
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Length: %lld\r\nLast-Modified: %s\r\n"
	    "ETag: \"%llx-%llx\"\r\nAccept-Ranges: bytes\r\n\r\n",
	    (long long)st.st_size, date, (long long)st.st_size,
	    (long long)st.st_mtime);
	if (fread(resp + headlen, 1, (size_t)st.st_size, f) !=
	    (size_t)st.st_size)
		die("%s: short read", file);
	fclose(f);
	for (;;) {
		if ((n = recv_dgram(0, dg, sizeof(dg), &fd)) <= 0) {
			if (n == 0)
				return 0;
			die("recvmsg");
		}
		if (fd < 0)
			continue;
		if (dgram_walk(dg, (size_t)n, &off) < 0) {
			close(fd);
			continue;
		}
		if (!strcmp(dg, "GET"))
			len = headlen + (size_t)st.st_size;
		else if (!strcmp(dg, "HEAD"))
			len = headlen;
		else
			len = 0;
		/* Blocking, like the socket: it only blocks if the
		 * front stops reading, and then only this request. */
		send_all(fd, len ? resp : bad, len ? len : sizeof(bad) - 1);
		close(fd);
	}
}

/* ---------------------------------------------------------------------
 * pass */

static int
run_pass(const char *dir, char **child)
{
	static char in[DGRAM_MAX], out[DGRAM_MAX + 4096];
	const char *rest, *slash;
	size_t restend, dl = strlen(dir), el, pos;
	ssize_t n, end;
	int fd, cfd;

	prctl(PR_SET_NAME, "floor-pass");
	cfd = start_child(child);
	for (;;) {
		if ((n = recv_dgram(0, in, sizeof(in), &fd)) <= 0) {
			if (n == 0)
				return 0;
			die("recvmsg");
		}
		if (fd < 0)
			continue;
		if ((end = dgram_walk(in, (size_t)n, &restend)) < 0) {
			close(fd);
			continue;
		}
		/* method, URL, version as they came; the rest string
		 * without its first element; the headers as they came;
		 * X-Ash-File; the end. */
		rest = in + restend - 1;
		while (rest > in && rest[-1] != '\0')
			rest--;
		slash = strchr(rest, '/');
		el = slash ? (size_t)(slash - rest) : strlen(rest);
		pos = (size_t)(rest - in);
		memcpy(out, in, pos);
		memcpy(out + pos, slash ? slash + 1 : "",
		    slash ? strlen(slash + 1) + 1 : 1);
		pos += slash ? strlen(slash + 1) + 1 : 1;
		memcpy(out + pos, in + restend, (size_t)end - restend);
		pos += (size_t)end - restend;
		if (pos + dl + el + 16 > sizeof(out)) {
			close(fd);
			continue;
		}
		memcpy(out + pos, "X-Ash-File", 11);
		pos += 11;
		memcpy(out + pos, dir, dl);
		out[pos + dl] = '/';
		memcpy(out + pos + dl + 1, rest, el);
		pos += dl + 1 + el;
		out[pos++] = '\0';
		out[pos++] = '\0';
		if (send_dgram(cfd, out, pos, fd, 0) < 0)
			die("passing a request on");
		close(fd);
	}
}

/* ---------------------------------------------------------------------
 * front
 *
 * Connection states:
 *   HEAD  reading a request head (idle between requests)
 *   WAIT  datagram ready, queued until the root socket takes it -> REQ
 *   REQ   with the handler: its response is relayed; once the body is
 *         complete (c_hfd closed) and c_out is flushed -> HEAD, or closed
 */

enum { EV_LISTEN, EV_ROOT, EV_CLIENT, EV_HANDLER };
enum { CS_HEAD, CS_WAIT, CS_REQ, CS_DEAD };

struct ev {
	int e_kind;
	struct conn *e_conn;
};

struct buf {
	char *b_data;
	size_t b_len, b_cap;
};

struct conn {
	struct ev c_cev, c_hev;
	int c_fd, c_hfd, c_theirs;
	int c_state;
	int c_crd, c_cwr; /* edge-triggered readiness */
	int c_close, c_ishead, c_hdone, c_nodelay, c_out_ev;
	long long c_rleft; /* body to relay; -1: to EOF */
	struct buf c_in, c_resp, c_out, c_q;
	size_t c_outoff;
	struct conn *c_next; /* wait queue, or dead list */
	size_t c_ashvlen;
	char c_ashv[256]; /* the X-Ash-* headers */
};

static int epfd, rootfd, lfd;
static struct ev lev = { EV_LISTEN, NULL }, rootev = { EV_ROOT, NULL };
static struct conn *waithead, **waittail = &waithead, *dead;
static char laddr[INET_ADDRSTRLEN], iobuf[64 * 1024], dgbuf[DGRAM_MAX];
static unsigned lport;
static unsigned long long nextid;

static void
buf_put(struct buf *b, const void *p, size_t n)
{
	size_t cap;

	if (b->b_len + n > b->b_cap) {
		for (cap = b->b_cap ? b->b_cap : 2048; cap < b->b_len + n;)
			cap *= 2;
		if ((b->b_data = realloc(b->b_data, cap)) == NULL)
			die("realloc");
		b->b_cap = cap;
	}
	memcpy(b->b_data + b->b_len, p, n);
	b->b_len += n;
}

static void
buf_puts(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static void
buf_consume(struct buf *b, size_t n)
{
	memmove(b->b_data, b->b_data + n, b->b_len - n);
	b->b_len -= n;
}

static void
epoll_set(int op, int fd, uint32_t events, struct ev *e)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = e;
	if (epoll_ctl(epfd, op, fd, &ev) == -1)
		die("epoll_ctl");
}

/* The Date value, formatted once a second. */
static const char *
date_now(void)
{
	static char date[64];
	static time_t last = -1;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last) {
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT",
		    gmtime_r(&now, &tm));
		last = now;
	}
	return date;
}

static void
conn_close(struct conn *c)
{
	struct conn **pp;

	if (c->c_state == CS_WAIT) {
		for (pp = &waithead; *pp != c; pp = &(*pp)->c_next)
			;
		*pp = c->c_next;
		for (waittail = &waithead; *waittail;)
			waittail = &(*waittail)->c_next;
	}
	close(c->c_fd);
	if (c->c_hfd >= 0)
		close(c->c_hfd);
	if (c->c_theirs >= 0)
		close(c->c_theirs);
	c->c_state = CS_DEAD;
	/* Freed after this batch of events, which may still name it. */
	c->c_next = dead;
	dead = c;
}

/* Answer with a fixed error and close after it. */
static void
conn_error(struct conn *c, const char *status)
{
	if (c->c_hfd >= 0)
		close(c->c_hfd);
	c->c_hfd = -1;
	c->c_out.b_len = c->c_outoff = 0;
	buf_puts(&c->c_out, "HTTP/1.1 ");
	buf_puts(&c->c_out, status);
	buf_puts(&c->c_out,
	    "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	c->c_close = 1;
	c->c_state = CS_REQ;
}

/* Is `tok` one of the comma-separated tokens of v[0..n)? */
static int
has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0, s, e;

	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		for (s = i; i < n && v[i] != ','; i++)
			;
		for (e = i; e > s && (v[e - 1] == ' ' || v[e - 1] == '\t');)
			e--;
		if (e - s == tl && !strncasecmp(v + s, tok, tl))
			return 1;
	}
	return 0;
}

static size_t
put_str(char *d, size_t pos, const char *s, size_t n)
{
	memcpy(d + pos, s, n);
	d[pos + n] = '\0';
	return pos + n + 1;
}

/* One header line [p, eol) into the datagram at *pos; -1 if it says
 * there is a body, -2 if malformed. */
static int
put_header(struct conn *c, const char *p, const char *eol, size_t *pos)
{
	const char *colon, *v, *ve;
	size_t nl;

	if ((colon = memchr(p, ':', (size_t)(eol - p))) == NULL || colon == p)
		return -2;
	nl = (size_t)(colon - p);
	for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
		;
	for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
		;
	if (nl >= 6 && !strncasecmp(p, "X-Ash-", 6))
		return 0; /* reserved: never from a client */
	if (nl == 10 && !strncasecmp(p, "Connection", 10)) {
		if (has_token(v, (size_t)(ve - v), "close"))
			c->c_close = 1;
		else if (has_token(v, (size_t)(ve - v), "keep-alive"))
			c->c_close = 0;
	} else if ((nl == 14 && !strncasecmp(p, "Content-Length", 14) &&
		       !(ve - v == 1 && *v == '0')) ||
	    (nl == 17 && !strncasecmp(p, "Transfer-Encoding", 17)))
		return -1;
	*pos = put_str(dgbuf, *pos, p, nl);
	*pos = put_str(dgbuf, *pos, v, (size_t)(ve - v));
	return 0;
}

/*
 * A complete request head in c_in becomes the request datagram in
 * dgbuf: its length, 0 if the head is not complete, -1 to close.
 */
static ssize_t
parse_request(struct conn *c, size_t *headlen)
{
	const char *p = c->c_in.b_data, *end, *eol, *sp1, *sp2, *u, *ue;
	size_t pos = 0;
	int rv;

	if ((end = memmem(p, c->c_in.b_len, "\r\n\r\n", 4)) == NULL)
		return c->c_in.b_len > HEAD_MAX ? -1 : 0;
	*headlen = (size_t)(end - p) + 4;
	eol = memchr(p, '\r', (size_t)(end - p) + 1);
	if ((sp1 = memchr(p, ' ', (size_t)(eol - p))) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1))) == NULL)
		return -1;
	pos = put_str(dgbuf, pos, p, (size_t)(sp1 - p));
	pos = put_str(dgbuf, pos, sp1 + 1, (size_t)(sp2 - sp1 - 1));
	pos = put_str(dgbuf, pos, sp2 + 1, (size_t)(eol - sp2 - 1));
	u = sp1 + 1 + (sp1[1] == '/');
	for (ue = u; ue < sp2 && *ue != '?'; ue++)
		;
	pos = put_str(dgbuf, pos, u, (size_t)(ue - u));
	c->c_ishead = sp1 - p == 4 && !memcmp(p, "HEAD", 4);
	c->c_close = !(eol - sp2 - 1 == 8 && !memcmp(sp2 + 1, "HTTP/1.1", 8));
	for (p = eol + 2; p < end + 2; p = eol + 2) {
		eol = memchr(p, '\r', (size_t)(end + 2 - p));
		if ((rv = put_header(c, p, eol, &pos)) == -2)
			return -1;
		if (rv == -1) {
			conn_error(c, "501 Not Implemented");
			return -2;
		}
	}
	memcpy(dgbuf + pos, c->c_ashv, c->c_ashvlen);
	pos += c->c_ashvlen;
	dgbuf[pos++] = '\0';
	return (ssize_t)pos;
}

/* The datagram is with the root handler: watch for the response. */
static void
dispatched(struct conn *c)
{
	close(c->c_theirs);
	c->c_theirs = -1;
	epoll_set(EPOLL_CTL_ADD, c->c_hfd, EPOLLIN, &c->c_hev);
	c->c_state = CS_REQ;
}

static void
dispatch(struct conn *c, size_t len)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		conn_error(c, "503 Service Unavailable");
		return;
	}
	/* No body: the handler sees end-of-file at once. */
	shutdown(sp[0], SHUT_WR);
	c->c_hfd = sp[0];
	c->c_theirs = sp[1];
	c->c_hdone = 0;
	c->c_resp.b_len = 0;
	if (waithead == NULL &&
	    send_dgram(rootfd, dgbuf, len, sp[1], MSG_DONTWAIT) >= 0) {
		dispatched(c);
		return;
	}
	if (waithead == NULL && errno != EAGAIN && errno != ENOBUFS)
		die("sending to the root handler");
	c->c_q.b_len = 0;
	buf_put(&c->c_q, dgbuf, len);
	c->c_state = CS_WAIT;
	c->c_next = NULL;
	if (waithead == NULL)
		epoll_set(EPOLL_CTL_MOD, rootfd, EPOLLOUT, &rootev);
	*waittail = c;
	waittail = &c->c_next;
}

static void conn_run(struct conn *);

static void
root_event(uint32_t events)
{
	struct conn *c;

	if (events & (EPOLLHUP | EPOLLERR)) {
		errno = 0;
		die("the root handler went away");
	}
	while ((c = waithead) != NULL) {
		if (send_dgram(rootfd, c->c_q.b_data, c->c_q.b_len, c->c_theirs,
			MSG_DONTWAIT) < 0) {
			if (errno == EAGAIN || errno == ENOBUFS)
				return;
			die("sending to the root handler");
		}
		if ((waithead = c->c_next) == NULL)
			waittail = &waithead;
		dispatched(c);
		conn_run(c);
	}
	epoll_set(EPOLL_CTL_MOD, rootfd, 0, &rootev);
}

/* The handler's head, complete in c_resp, becomes the client's in
 * c_out: the head's length, 0 if not complete yet, -1 if unusable. */
static ssize_t
start_response(struct conn *c)
{
	const char *p = c->c_resp.b_data, *end = p + c->c_resp.b_len;
	const char *eol, *le, *colon, *hend = NULL;
	long long cl = -1;
	int status, date = 0, server = 0, nobody;
	size_t nl;

	for (eol = p; (eol = memchr(eol, '\n', (size_t)(end - eol))); eol++) {
		if (eol + 1 < end && eol[1] == '\n') {
			hend = eol + 2;
			break;
		}
		if (eol + 2 < end && eol[1] == '\r' && eol[2] == '\n') {
			hend = eol + 3;
			break;
		}
	}
	if (hend == NULL)
		return c->c_resp.b_len > HEAD_MAX ? -1 : 0;
	eol = memchr(p, '\n', (size_t)(hend - p));
	le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
	if (le - p < 12 || memcmp(p, "HTTP/1.", 7))
		return -1;
	status = atoi(p + 9);
	buf_put(&c->c_out, p, (size_t)(le - p));
	buf_put(&c->c_out, "\r\n", 2);
	for (p = eol + 1; p < hend; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(hend - p));
		le = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
		if (le == p)
			break;
		if ((colon = memchr(p, ':', (size_t)(le - p))) == NULL)
			return -1;
		nl = (size_t)(colon - p);
		if (nl == 17 && !strncasecmp(p, "Transfer-Encoding", 17))
			return -1; /* not relayed by the floor */
		if ((nl == 10 &&
			(!strncasecmp(p, "Connection", 10) ||
			    !strncasecmp(p, "Keep-Alive", 10))) ||
		    (nl >= 6 && !strncasecmp(p, "X-Ash-", 6)))
			continue;
		if (nl == 14 && !strncasecmp(p, "Content-Length", 14))
			cl = strtoll(colon + 1, NULL, 10);
		date |= nl == 4 && !strncasecmp(p, "Date", 4);
		server |= nl == 6 && !strncasecmp(p, "Server", 6);
		buf_put(&c->c_out, p, (size_t)(le - p));
		buf_put(&c->c_out, "\r\n", 2);
	}
	if (!date) {
		buf_puts(&c->c_out, "Date: ");
		buf_puts(&c->c_out, date_now());
		buf_put(&c->c_out, "\r\n", 2);
	}
	if (!server)
		buf_puts(&c->c_out, "Server: floor\r\n");
	nobody = c->c_ishead || status < 200 || status == 204 || status == 304;
	c->c_rleft = nobody ? 0 : cl;
	if (c->c_rleft < 0)
		c->c_close = 1; /* until end-of-file */
	if (c->c_close)
		buf_puts(&c->c_out, "Connection: close\r\n");
	buf_put(&c->c_out, "\r\n", 2);
	return hend - c->c_resp.b_data;
}

static void
emit_body(struct conn *c, const char *p, size_t n)
{
	if (c->c_rleft >= 0 && (long long)n > c->c_rleft)
		n = (size_t)c->c_rleft;
	if (c->c_rleft > 0)
		c->c_rleft -= (long long)n;
	buf_put(&c->c_out, p, n);
}

static void
handler_event(struct conn *c)
{
	ssize_t n, hl;

	if (c->c_state != CS_REQ || c->c_hfd < 0)
		return;
	n = recv(c->c_hfd, iobuf, sizeof(iobuf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (!c->c_hdone) {
		if (n <= 0) {
			conn_error(c, "502 Bad Gateway");
			conn_run(c);
			return;
		}
		buf_put(&c->c_resp, iobuf, (size_t)n);
		if ((hl = start_response(c)) <= 0) {
			if (hl < 0) {
				conn_error(c, "502 Bad Gateway");
				conn_run(c);
			}
			return;
		}
		c->c_hdone = 1;
		emit_body(c, c->c_resp.b_data + hl,
		    c->c_resp.b_len - (size_t)hl);
	} else if (n <= 0) {
		if (c->c_rleft > 0)
			c->c_close = 1; /* cut short */
		c->c_rleft = 0;
	} else
		emit_body(c, iobuf, (size_t)n);
	/* The whole body came: done with the handler, without waiting
	 * for its end-of-file. */
	if (c->c_rleft == 0) {
		close(c->c_hfd);
		c->c_hfd = -1;
	}
	conn_run(c);
}

/* Write what c_out holds; -1 if the client is gone. */
static int
flush_client(struct conn *c)
{
	ssize_t n;

	if (c->c_outoff == c->c_out.b_len || !c->c_cwr)
		return 0;
	n = send(c->c_fd, c->c_out.b_data + c->c_outoff,
	    c->c_out.b_len - c->c_outoff, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		c->c_cwr = 0;
		if (!c->c_out_ev) {
			/* Rare: the first time, ask for EPOLLOUT too. */
			epoll_set(EPOLL_CTL_MOD, c->c_fd,
			    EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
			    &c->c_cev);
			c->c_out_ev = 1;
		}
		return 0;
	}
	if ((c->c_outoff += (size_t)n) == c->c_out.b_len)
		c->c_out.b_len = c->c_outoff = 0;
	return 0;
}

static void
conn_run(struct conn *c)
{
	size_t hl = 0, room;
	ssize_t n;
	int one = 1;

	for (;;) {
		if (flush_client(c) == -1) {
			conn_close(c);
			return;
		}
		if (c->c_state == CS_REQ && c->c_hfd < 0 &&
		    c->c_out.b_len == 0) {
			if (c->c_close) {
				conn_close(c);
				return;
			}
			if (!c->c_nodelay) {
				/* Staying open: as nginx, no Nagle from now. */
				setsockopt(c->c_fd, IPPROTO_TCP, TCP_NODELAY,
				    &one, sizeof(one));
				c->c_nodelay = 1;
			}
			c->c_state = CS_HEAD;
		}
		if (c->c_state != CS_HEAD)
			return;
		if (c->c_in.b_len > 0) {
			if ((n = parse_request(c, &hl)) == -1) {
				conn_close(c);
				return;
			}
			if (n != 0) {
				buf_consume(&c->c_in, hl);
				if (n > 0)
					dispatch(c, (size_t)n);
				continue;
			}
		}
		if (!c->c_crd)
			return;
		if (c->c_in.b_cap - c->c_in.b_len < 4096) {
			buf_put(&c->c_in, iobuf, 4096);
			c->c_in.b_len -= 4096;
		}
		room = c->c_in.b_cap - c->c_in.b_len;
		n = recv(c->c_fd, c->c_in.b_data + c->c_in.b_len, room, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			c->c_crd = 0;
			return;
		}
		if (n <= 0) {
			conn_close(c);
			return;
		}
		if ((size_t)n < room)
			c->c_crd = 0; /* drained (as nginx takes it) */
		c->c_in.b_len += (size_t)n;
	}
}

static void
put_ashv(struct conn *c, const char *name, const char *value)
{
	size_t nl = strlen(name) + 1, vl = strlen(value) + 1;

	if (c->c_ashvlen + nl + vl > sizeof(c->c_ashv))
		return;
	memcpy(c->c_ashv + c->c_ashvlen, name, nl);
	memcpy(c->c_ashv + c->c_ashvlen + nl, value, vl);
	c->c_ashvlen += nl + vl;
}

static void
accept_event(void)
{
	struct sockaddr_in sa;
	socklen_t sl;
	struct conn *c;
	char host[INET_ADDRSTRLEN], num[32];
	int fd, i;

	for (i = 0; i < BATCH; i++) {
		sl = sizeof(sa);
		if ((fd = accept4(lfd, (struct sockaddr *)&sa, &sl,
			 SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
			return;
		if ((c = calloc(1, sizeof(*c))) == NULL)
			die("calloc");
		c->c_fd = fd;
		c->c_hfd = c->c_theirs = -1;
		c->c_cev.e_kind = EV_CLIENT;
		c->c_hev.e_kind = EV_HANDLER;
		c->c_cev.e_conn = c->c_hev.e_conn = c;
		c->c_cwr = 1;
		c->c_state = CS_HEAD;
		/* Formatted once per connection, as htparser does. */
		inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host));
		put_ashv(c, "X-Ash-Address", host);
		snprintf(num, sizeof(num), "%u", ntohs(sa.sin_port));
		put_ashv(c, "X-Ash-Port", num);
		put_ashv(c, "X-Ash-Server-Address", laddr);
		snprintf(num, sizeof(num), "%u", lport);
		put_ashv(c, "X-Ash-Server-Port", num);
		put_ashv(c, "X-Ash-Protocol", "http");
		snprintf(num, sizeof(num), "%llu", ++nextid);
		put_ashv(c, "X-Ash-Connection-ID", num);
		/* Edge-triggered, once for the connection's lifetime;
		 * EPOLLOUT only if a send ever has to wait. */
		epoll_set(EPOLL_CTL_ADD, fd, EPOLLIN | EPOLLRDHUP | EPOLLET,
		    &c->c_cev);
	}
}

static void
client_event(struct conn *c, uint32_t ev)
{
	if (c->c_state == CS_DEAD)
		return;
	if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->c_crd = 1;
	if (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		c->c_cwr = 1;
	conn_run(c);
}

static void
conn_free_dead(void)
{
	struct conn *c;

	while ((c = dead) != NULL) {
		dead = c->c_next;
		free(c->c_in.b_data);
		free(c->c_resp.b_data);
		free(c->c_out.b_data);
		free(c->c_q.b_data);
		free(c);
	}
}

static void
front_listen(const char *addr, const char *port)
{
	struct sockaddr_in sa;
	char *end;
	long p;
	int one = 1;

	p = strtol(port, &end, 10);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)p);
	if (*end || p <= 0 || p > 65535 ||
	    inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		usage();
	snprintf(laddr, sizeof(laddr), "%s", addr);
	lport = (unsigned)p;
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		 0)) == -1)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 1024) == -1)
		die("%s port %s", addr, port);
}

static void __attribute__((noreturn)) run_front(int argc, char **argv)
{
	struct epoll_event evs[BATCH];
	const char *addr = "127.0.0.1";
	struct ev *e;
	int i, n;

	prctl(PR_SET_NAME, "floor-front");
	if (argc > 2 && !strcmp(argv[0], "-a")) {
		addr = argv[1];
		argv += 2;
		argc -= 2;
	}
	if (argc < 3 || strcmp(argv[1], "--"))
		usage();
	front_listen(addr, argv[0]);
	rootfd = start_child(argv + 2);
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	epoll_set(EPOLL_CTL_ADD, lfd, EPOLLIN, &lev);
	epoll_set(EPOLL_CTL_ADD, rootfd, 0, &rootev);
	for (;;) {
		if ((n = epoll_wait(epfd, evs, BATCH, -1)) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			e = evs[i].data.ptr;
			switch (e->e_kind) {
			case EV_LISTEN:
				accept_event();
				break;
			case EV_ROOT:
				root_event(evs[i].events);
				break;
			case EV_CLIENT:
				client_event(e->e_conn, evs[i].events);
				break;
			case EV_HANDLER:
				handler_event(e->e_conn);
				break;
			}
		}
		conn_free_dead();
	}
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "front"))
		run_front(argc - 2, argv + 2);
	if (!strcmp(argv[1], "pass") && argc > 4 && !strcmp(argv[3], "--"))
		return run_pass(argv[2], argv + 4);
	if (!strcmp(argv[1], "respond") && argc == 3)
		return run_respond(argv[2]);
	usage();
}
