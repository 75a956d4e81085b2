/*
 * test_req.c: the request head, its datagram form and its transport
 * with a descriptor (lib/req.c, lib/fdpass.c).
 *
 * Requests are compared through a text dump ("METHOD URL VERSION
 * [rest]" then one "name: value" line per header).  Descriptor leaks
 * are checked by counting /proc/self/fd before and after, with the
 * descriptors in flight not yet in the table.  Every receive happens
 * only after its datagram is queued, so nothing blocks; alarm() turns
 * a hang into a failure anyway.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ashlimits.h"
#include "buf.h"
#include "fdpass.h"
#include "req.h"
#include "tap.h"

static void __attribute__((noreturn)) die(const char *what)
{
	perror(what);
	exit(2);
}

static int
count_fds(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		die("/proc/self/fd");
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The request as text, in a new allocation (NULL for NULL). */
static char *
dump(const struct req *r)
{
	struct buf b = BUF_INIT;
	size_t i;

	if (r == NULL)
		return NULL;
	buf_printf(&b, "%s %s %s [%s]\n", r->r_method, r->r_url, r->r_version,
	    r->r_rest);
	for (i = 0; i < r->r_nhdrs; i++)
		buf_printf(&b, "%s: %s\n", r->r_hdrs[i].h_name,
		    r->r_hdrs[i].h_value);
	return buf_detach(&b, NULL);
}

static void
is_req_at(int line, const struct req *r, const char *want, const char *what)
{
	char *d = dump(r);

	is_str_at(line, d, want, what);
	free(d);
}
#define is_req(r, want, what) is_req_at(__LINE__, r, want, what)

/* Two requests are the same: fields and headers, in order. */
static int
req_equal(const struct req *a, const struct req *b)
{
	size_t i;

	if (a == NULL || b == NULL || strcmp(a->r_method, b->r_method) ||
	    strcmp(a->r_url, b->r_url) || strcmp(a->r_version, b->r_version) ||
	    strcmp(a->r_rest, b->r_rest) || a->r_nhdrs != b->r_nhdrs)
		return 0;
	for (i = 0; i < a->r_nhdrs; i++)
		if (strcmp(a->r_hdrs[i].h_name, b->r_hdrs[i].h_name) ||
		    strcmp(a->r_hdrs[i].h_value, b->r_hdrs[i].h_value))
			return 0;
	return 1;
}

static struct req *
sample(void)
{
	struct req *r;

	if ((r = req_new("GET", "/a/b?c=d", "HTTP/1.1", "a/b")) == NULL)
		die("req_new");
	if (req_add_header(r, "Host", "example.com") == -1 ||
	    req_add_header(r, "Accept", "*/*") == -1)
		die("req_add_header");
	return r;
}

static void
test_headers(void)
{
	struct req *r;

	r = req_new("POST", "/x?y", "HTTP/1.0", "x");
	ok(r != NULL, "req_new");
	is_req(r, "POST /x?y HTTP/1.0 [x]\n", "fresh request");
	ok(req_header(r, "Host") == NULL, "no headers yet");
	is_int(req_add_header(r, "Host", "a"), 0, "add Host");
	req_add_header(r, "X-Foo", "1");
	req_add_header(r, "Accept", "*/*");
	req_add_header(r, "x-foo", "2");
	req_add_header(r, "X-FOO-Bar", "3");
	req_add_header(r, "Empty", "");
	is_req(r,
	    "POST /x?y HTTP/1.0 [x]\nHost: a\nX-Foo: 1\nAccept: */*\n"
	    "x-foo: 2\nX-FOO-Bar: 3\nEmpty: \n",
	    "added in order, dups kept");
	is_str(req_header(r, "x-FOO"), "1",
	    "lookup is case-insensitive, "
	    "first value");
	is_str(req_header(r, "X-FOO-BAR"), "3", "lookup of a longer name");
	is_str(req_header(r, "empty"), "", "empty value found");
	ok(req_header(r, "X-Fo") == NULL, "no prefix match in lookup");
	ok(req_header(r, "Missing") == NULL, "missing header is NULL");

	is_int(req_set_header(r, "X-FOO", "new"), 0, "set an existing name");
	is_req(r,
	    "POST /x?y HTTP/1.0 [x]\nHost: a\nX-Foo: new\nAccept: */*\n"
	    "X-FOO-Bar: 3\nEmpty: \n",
	    "set replaces the first in place and drops the others");
	is_int(req_set_header(r, "New", "v"), 0, "set an absent name");
	is_req(r,
	    "POST /x?y HTTP/1.0 [x]\nHost: a\nX-Foo: new\nAccept: */*\n"
	    "X-FOO-Bar: 3\nEmpty: \nNew: v\n",
	    "set appends when absent");

	req_add_header(r, "Via", "1");
	req_add_header(r, "Host", "b");
	req_add_header(r, "VIA", "2");
	is_int(req_remove_header(r, "via"), 2, "remove counts every match");
	is_int(req_remove_header(r, "via"), 0, "remove of an absent name");
	is_int(req_remove_header(r, "X-Foo-"), 0,
	    "remove is not a prefix "
	    "match");
	is_req(r,
	    "POST /x?y HTTP/1.0 [x]\nHost: a\nX-Foo: new\nAccept: */*\n"
	    "X-FOO-Bar: 3\nEmpty: \nNew: v\nHost: b\n",
	    "order kept after removals");
	is_int(req_remove_header(r, "HOST"), 2, "remove both Host headers");
	is_int(req_remove_prefix(r, "x-foo"), 2, "remove_prefix, any case");
	is_req(r, "POST /x?y HTTP/1.0 [x]\nAccept: */*\nEmpty: \nNew: v\n",
	    "remove_prefix leaves the rest in order");
	is_int(req_remove_prefix(r, "Zz"), 0, "remove_prefix with no match");
	is_int(req_set_rest(r, "y/z"), 0, "req_set_rest");
	is_str(r->r_rest, "y/z", "rest replaced");
	is_int(req_remove_prefix(r, ""), 3, "empty prefix removes all");
	is_int(r->r_nhdrs, 0, "no headers left");
	is_int(req_add_header(r, "After", "1"), 0, "add after emptying");
	is_req(r, "POST /x?y HTTP/1.0 [y/z]\nAfter: 1\n", "usable again");
	req_free(r);
	req_free(NULL);
}

static void
test_dup(void)
{
	struct req *r, *d;
	char name[32];
	int i;

	r = sample();
	for (i = 0; i < 40; i++) { /* past the first header array */
		snprintf(name, sizeof(name), "H%d", i);
		req_add_header(r, name, name + 1);
	}
	d = req_dup(r);
	ok(req_equal(r, d), "req_dup is equal");
	ok(d != NULL && d->r_method != r->r_method && d->r_url != r->r_url &&
		d->r_rest != r->r_rest && d->r_hdrs != r->r_hdrs &&
		d->r_hdrs[0].h_value != r->r_hdrs[0].h_value,
	    "req_dup is deep");
	req_set_header(d, "Host", "changed");
	req_remove_prefix(d, "H");
	req_set_rest(d, "other");
	is_str(req_header(r, "Host"), "example.com", "original unchanged");
	is_str(r->r_rest, "a/b", "original rest unchanged");
	is_int(r->r_nhdrs, 42, "original headers unchanged");
	req_free(d);
	req_free(r);
}

/* Encode r, decode it back, and compare; also checks the exact size. */
static void
roundtrip_at(int line, const struct req *r, const char *what)
{
	struct buf b = BUF_INIT;
	struct req *d;
	size_t i, want;
	char *copy;

	want = strlen(r->r_method) + strlen(r->r_url) + strlen(r->r_version) +
	    strlen(r->r_rest) + 4 + 1;
	for (i = 0; i < r->r_nhdrs; i++)
		want += strlen(r->r_hdrs[i].h_name) +
		    strlen(r->r_hdrs[i].h_value) + 2;
	ok_at(line, req_encode(r, &b) == 0 && b.b_len == want,
	    "%s: encoded, %zu bytes", what, want);
	/* Decode from an exact-size copy so that over-reads are caught. */
	copy = malloc(b.b_len);
	memcpy(copy, b.b_data, b.b_len);
	d = req_decode(copy, b.b_len);
	ok_at(line, req_equal(r, d), "%s: decodes to the same request", what);
	req_free(d);
	free(copy);
	buf_free(&b);
}

static void
test_datagram(void)
{
	static const char want[] = "GET\0/a/b?c=d\0HTTP/1.1\0a/b\0"
				   "Host\0example.com\0Accept\0*/*\0";
	struct buf b = BUF_INIT;
	struct req *r;
	char name[32], *big, bytes[256];
	int i;

	r = sample();
	buf_appends(&b, "pre");
	is_int(req_encode(r, &b), 0, "req_encode");
	ok(b.b_len == 3 + sizeof(want) && !memcmp(b.b_data, "pre", 3) &&
		!memcmp(b.b_data + 3, want, sizeof(want)),
	    "datagram layout (appended after existing data, final \"\")");
	buf_free(&b);
	roundtrip_at(__LINE__, r, "sample");
	req_free(r);

	r = req_new("", "", "", "");
	ok(r != NULL, "request of empty strings");
	is_int(req_encode(r, &b), 0, "encode empty method");
	errno = 0;
	ok(req_decode(b.b_data, b.b_len) == NULL && errno == EBADMSG,
	    "an empty method does not decode");
	buf_free(&b);
	req_free(r);

	r = req_new("GET", "/", "HTTP/1.1", "");
	for (i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "X-Header-%d", i);
		req_add_header(r, name, name + 2);
	}
	req_add_header(r, "X-Header-7", "duplicate");
	roundtrip_at(__LINE__, r, "501 headers");
	req_free(r);

	big = malloc(100 * 1024 + 1);
	for (i = 0; i < 100 * 1024; i++)
		big[i] = (char)('a' + i % 26);
	big[100 * 1024] = '\0';
	r = req_new("GET", big, "HTTP/1.1", big + 1);
	req_add_header(r, "Long", big);
	req_add_header(r, "Short", "x");
	roundtrip_at(__LINE__, r, "100 KB values");
	req_free(r);
	free(big);

	for (i = 0; i < 255; i++)
		bytes[i] = (char)(i + 1);
	bytes[255] = '\0';
	r = req_new(bytes, bytes + 10, bytes + 100, bytes + 200);
	req_add_header(r, bytes, bytes);
	req_add_header(r, "\x7f\xff", "\r\n\t :");
	roundtrip_at(__LINE__, r, "bytes 1..255 in every field");
	req_free(r);
}

/*
 * A decoded request lives in one block (lib/req.c); every function that
 * changes it must tell the block's strings from ones added later, and
 * move the header array out of the block when it grows past it.  An
 * invalid free() here aborts the test (and valgrind names it).
 */
static void
test_decoded_edit(void)
{
	static const char dg[] = "GET\0/a/b\0HTTP/1.1\0a/b\0"
				 "Host\0h\0Accept\0*/*\0X-Ash-Port\0"
				 "1\0\0";
	struct buf b = BUF_INIT;
	struct req *r, *d;
	char name[16];
	int i;

	r = req_decode(dg, sizeof(dg) - 1);
	ok(r != NULL && r->r_nhdrs == 3, "decoded, 3 headers");
	ok(r->r_hdrs[0].h_name != dg + 20 &&
		!strcmp(r->r_hdrs[0].h_name, "Host"),
	    "the strings are a copy, not the caller's buffer");
	is_int(req_set_header(r, "host", "new"), 0, "set a decoded header");
	is_str(req_header(r, "Host"), "new", "its new value");
	is_int(req_set_header(r, "Host", "newer"), 0, "set it again");
	is_int(req_set_rest(r, "b"), 0, "set the decoded rest");
	is_int(req_set_rest(r, "c"), 0, "and again");
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "X-Added-%d", i);
		is_int(req_add_header(r, name, name), 0, "add a header");
	}
	is_str(req_header(r, "accept"), "*/*",
	    "a decoded header kept when "
	    "the array moved out of the block");
	is_str(req_header(r, "X-Added-19"), "X-Added-19", "the last added");
	is_int(req_remove_header(r, "Accept"), 1, "remove a decoded header");
	is_int(req_remove_header(r, "X-Added-3"), 1, "remove an added one");
	is_int(req_remove_prefix(r, "X-Ash-"), 1, "remove by prefix");
	is_int(req_set_header(r, "X-Added-0", "v"), 0, "set an added one");
	d = req_dup(r);
	ok(req_equal(r, d), "req_dup of an edited decoded request");
	is_int(req_encode(d, &b), 0, "encode it");
	req_free(d);
	d = req_decode(b.b_data, b.b_len);
	ok(req_equal(r, d) && d->r_nhdrs == 20 && !strcmp(d->r_rest, "c") &&
		!strcmp(d->r_hdrs[0].h_value, "newer"),
	    "it decodes to the same request");
	req_free(d);
	req_free(r);
	buf_free(&b);

	/* Within the spare room: the array stays in the block. */
	r = req_decode(dg, sizeof(dg) - 1);
	is_int(req_add_header(r, "X-Ash-File", "/f"), 0, "add one header");
	ok((const char *)r->r_hdrs > r->r_blk &&
		(const char *)r->r_hdrs < r->r_blkend,
	    "one added header needs no new array");
	is_int(req_remove_header(r, "X-Ash-File"), 1, "and remove it");
	req_free(r);
}

/* Strings added to a block request go into its room while they fit,
 * then are allocated on their own; both kinds are edited and freed
 * alike. */
static void
test_block_room(void)
{
	static const char dg[] = "GET\0/a\0HTTP/1.1\0a\0Host\0h\0\0";
	struct req *r, *d;
	char name[16], *room;
	int i, inblock = 0;

	r = req_block(2, 24);
	ok(r != NULL && r->r_nhdrs == 0 && r->r_hcap == 2, "req_block");
	room = r->r_blkfree;
	r->r_method = req_block_str(r, "GET", 3);
	r->r_url = req_block_str(r, "/x?q", 4);
	r->r_version = req_block_str(r, "HTTP/1.1", 8);
	ok(r->r_method == room && !strcmp(r->r_url, "/x?q") &&
		r->r_blkfree == room + 18,
	    "req_block_str copies into the room, NUL-terminated");
	ok(req_block_str(r, "abcdef", 6) == NULL && r->r_blkfree == room + 18,
	    "a string the room cannot hold is refused");
	r->r_rest = req_block_str(r, "x", 1);
	is_int(req_add_header_n(r, "Hostxx", 4, "hyy", 1), 0,
	    "req_add_header_n takes the lengths given");
	is_str(req_header(r, "host"), "h", "the header as cut");
	ok(!((const char *)r->r_hdrs[0].h_name >= r->r_blk &&
	       (const char *)r->r_hdrs[0].h_name < r->r_blkend),
	    "not in the room (full): allocated on its own");
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "X-%d", i);
		is_int(req_add_header(r, name, "v"), 0, "add past the array");
	}
	is_int(req_set_rest(r, "a/much/longer/rest"), 0, "set the rest");
	is_int(req_remove_header(r, "X-3"), 1, "remove one");
	d = req_dup(r);
	ok(req_equal(r, d) && r->r_nhdrs == 10, "the same as its copy");
	req_free(d);
	req_free(r);

	/* A decoded request has room for a few more strings. */
	r = req_decode(dg, sizeof(dg) - 1);
	is_int(req_add_header(r, "X-Ash-File", "/srv/a"), 0, "add to decoded");
	is_int(req_set_rest(r, ""), 0, "and set its rest");
	inblock = r->r_rest >= r->r_blk && r->r_rest < r->r_blkend &&
	    r->r_hdrs[1].h_value >= r->r_blk &&
	    r->r_hdrs[1].h_value < r->r_blkend;
	ok(inblock, "both went into the decoded block's room");
	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "X-Long-%d", i);
		is_int(req_set_header(r, "X-Many", name), 0, "set repeatedly");
		is_int(req_set_rest(r, name), 0, "set the rest repeatedly");
	}
	is_str(req_header(r, "X-Many"), "X-Long-39", "the last value set");
	is_str(r->r_rest, "X-Long-39", "the last rest set");
	req_free(r);
}

static void
test_malformed(void)
{
#define ROW(s) \
	{ \
		__LINE__, s, sizeof(s) - 1 \
	}
	static const struct {
		int line;
		const char *data;
		size_t len;
	} rows[] = {
		ROW(""),
		ROW("GET"),
		ROW("GET\0"),
		ROW("GET\0/\0HTTP/1.1\0"),
		/* no terminating empty string */
		ROW("GET\0/\0HTTP/1.1\0\0"),
		ROW("GET\0/\0HTTP/1.1\0\0Host\0a\0"),
		/* last string not NUL-terminated */
		ROW("GET\0/\0HTTP/1.1\0\0Host\0a"),
		ROW("GET\0/\0HTTP/1.1\0\0Host\0a\0\0x"),
		/* odd count of header strings */
		ROW("GET\0/\0HTTP/1.1\0\0Host\0"),
		ROW("GET\0/\0HTTP/1.1\0\0Host\0a\0X\0"),
		ROW("GET\0/\0HTTP/1.1\0\0Host\0a\0X\0\0"),
		/* trailing garbage */
		ROW("GET\0/\0HTTP/1.1\0\0Host\0a\0\0junk"),
		ROW("GET\0/\0HTTP/1.1\0\0Host\0a\0\0\0"),
		ROW("GET\0/\0HTTP/1.1\0\0\0\0"),
		/* empty method */
		ROW("\0/\0HTTP/1.1\0\0\0"),
		ROW("\0\0\0\0\0"),
	};
#undef ROW
	struct req *r;
	char *copy;
	size_t i;
	int err;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		copy = malloc(rows[i].len ? rows[i].len : 1);
		memcpy(copy, rows[i].data, rows[i].len);
		errno = 0;
		r = req_decode(copy, rows[i].len);
		err = errno;
		ok_at(rows[i].line, r == NULL && err == EBADMSG,
		    "malformed datagram %zu (%zu bytes): NULL/EBADMSG", i,
		    rows[i].len);
		req_free(r);
		free(copy);
	}
	/* The shortest good one, for contrast. */
	r = req_decode("GET\0/\0HTTP/1.1\0\0\0", 17);
	is_req(r, "GET / HTTP/1.1 []\n", "minimal datagram decodes");
	req_free(r);
}

static void
socketpair_or_die(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		die("socketpair");
}

/* Send a datagram carrying nfd descriptors (any count). */
static void
send_fds(int sock, const void *data, size_t len, const int *fds, int nfd)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 8)];
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;

	memset(&msg, 0, sizeof(msg));
	memset(cbuf, 0, sizeof(cbuf));
	iov.iov_base = (void *)data;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfd > 0) {
		msg.msg_control = cbuf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfd);
	}
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != (ssize_t)len)
		die("sendmsg");
}

/* The descriptor received is the one sent: same file, and bytes written
 * to it come out of the pipe's read end. */
static void
check_fd_at(int line, int fd, int wfd, int rfd, const char *what)
{
	struct stat a, b;
	char buf[16];
	int flags;

	if (!ok_at(line, fd >= 0, "%s: a descriptor arrived", what))
		return;
	ok_at(line,
	    fd != wfd && fstat(fd, &a) == 0 && fstat(wfd, &b) == 0 &&
		a.st_ino == b.st_ino && a.st_dev == b.st_dev,
	    "%s: same file (inode) as the one sent", what);
	flags = fcntl(fd, F_GETFD);
	ok_at(line, flags != -1 && (flags & FD_CLOEXEC),
	    "%s: received fd is close-on-exec", what);
	ok_at(line,
	    write(fd, "ping", 4) == 4 && read(rfd, buf, sizeof(buf)) == 4 &&
		!memcmp(buf, "ping", 4),
	    "%s: writes arrive at the peer", what);
}

static void
test_transport(void)
{
	struct req *r, *got;
	struct buf b = BUF_INIT;
	int sv[2], p[2], fds[2], fd, before, err, sndbuf;
	char *big;
	ssize_t n;

	socketpair_or_die(sv);
	if (pipe(p) == -1)
		die("pipe");
	r = sample();

	/* A normal request. */
	is_int(req_send(sv[0], r, p[1]), 0, "req_send");
	ok(fcntl(p[1], F_GETFD) != -1, "req_send does not close the fd");
	fd = -2;
	got = req_recv(sv[1], &fd);
	ok(req_equal(r, got), "req_recv gives the request sent");
	check_fd_at(__LINE__, fd, p[1], p[0], "req_recv");
	req_free(got);
	if (fd >= 0)
		close(fd);

	/* No descriptor: EBADMSG, nothing leaked, the next one arrives. */
	req_encode(r, &b);
	before = count_fds();
	is_int(fd_send(sv[0], b.b_data, b.b_len, -1), (long long)b.b_len,
	    "fd_send without a descriptor");
	fd = -2;
	errno = 0;
	got = req_recv(sv[1], &fd);
	err = errno;
	ok(got == NULL && err == EBADMSG, "no fd: NULL/EBADMSG (errno %d)",
	    err);
	is_int(fd, -1, "no fd: *fdp is -1");
	is_int(count_fds(), before, "no fd: no descriptor leaked");
	req_free(got);

	/* Two descriptors: EBADMSG and both closed. */
	fds[0] = p[1];
	fds[1] = p[0];
	before = count_fds();
	send_fds(sv[0], b.b_data, b.b_len, fds, 2);
	fd = -2;
	errno = 0;
	got = req_recv(sv[1], &fd);
	err = errno;
	ok(got == NULL && err == EBADMSG, "two fds: NULL/EBADMSG (errno %d)",
	    err);
	is_int(fd, -1, "two fds: *fdp is -1");
	is_int(count_fds(), before, "two fds: both closed");
	req_free(got);

	/* A malformed datagram with one fd: EBADMSG and the fd closed. */
	before = count_fds();
	send_fds(sv[0], "GET\0/\0", 6, fds, 1);
	errno = 0;
	got = req_recv(sv[1], &fd);
	err = errno;
	ok(got == NULL && err == EBADMSG && fd == -1,
	    "malformed datagram: NULL/EBADMSG");
	is_int(count_fds(), before, "malformed datagram: fd closed");
	req_free(got);

	/* The connection still works. */
	is_int(req_send(sv[0], r, p[1]), 0, "req_send after errors");
	got = req_recv(sv[1], &fd);
	ok(req_equal(r, got), "next request arrives after errors");
	check_fd_at(__LINE__, fd, p[1], p[0], "after errors");
	req_free(got);
	if (fd >= 0)
		close(fd);
	buf_free(&b);

	/* Oversized: req_send refuses it; sent raw, req_recv drops it with
	 * its descriptor and the next request still arrives. */
	big = malloc(ASH_DGRAM_MAX + 1);
	memset(big, 'v', ASH_DGRAM_MAX);
	big[ASH_DGRAM_MAX] = '\0';
	got = req_new("GET", "/", "HTTP/1.1", "");
	req_add_header(got, "Big", big);
	errno = 0;
	is_int(req_send(sv[0], got, p[1]), -1,
	    "req_send of an oversized "
	    "request fails");
	is_int(errno, EMSGSIZE, "req_send: EMSGSIZE");
	req_encode(got, &b);
	req_free(got);
	sndbuf = 4 * ASH_DGRAM_MAX;
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) ==
	    -1)
		die("SO_SNDBUF");
	before = count_fds();
	n = fd_send(sv[0], b.b_data, b.b_len, p[1]);
	if (n == -1 && errno == EMSGSIZE) {
		printf("ok %d # SKIP net.core.wmem_max too small for a %zu "
		       "byte datagram\n",
		    ++tap_n, b.b_len);
	} else {
		is_int(n, (long long)b.b_len, "raw oversized datagram sent");
		fd = -2;
		errno = 0;
		got = req_recv(sv[1], &fd);
		err = errno;
		ok(got == NULL && err == EMSGSIZE,
		    "oversized: NULL/EMSGSIZE (errno %d)", err);
		is_int(fd, -1, "oversized: *fdp is -1");
		is_int(count_fds(), before, "oversized: its fd was closed");
		req_free(got);
		is_int(req_send(sv[0], r, p[1]), 0, "req_send after oversized");
		got = req_recv(sv[1], &fd);
		ok(req_equal(r, got), "next request arrives after oversized");
		check_fd_at(__LINE__, fd, p[1], p[0], "after oversized");
		req_free(got);
		if (fd >= 0)
			close(fd);
	}
	buf_free(&b);
	free(big);

	/* EOF: NULL with errno 0. */
	close(sv[0]);
	fd = -2;
	errno = EINVAL;
	got = req_recv(sv[1], &fd);
	err = errno;
	ok(got == NULL && err == 0, "EOF: NULL with errno 0 (errno %d)", err);
	is_int(fd, -1, "EOF: *fdp is -1");
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	req_free(r);
}

/*
 * An encoding whose length lands exactly on ASH_DGRAM_MAX after one
 * append and then goes past it must still be refused: the limit is on
 * the length, whatever spare capacity the buffer has by then.
 */
static void
test_limit_boundary(void)
{
	struct buf b = BUF_INIT;
	struct req *r;
	size_t vlen;
	char *v;
	int rv, err, sv[2], sndbuf, fd, nullfd;

	/* "GET\0/\0HTTP/1.1\0\0" is 16 bytes, "X\0" 2, the value vlen + 1. */
	vlen = ASH_DGRAM_MAX - 16 - 2 - 1;
	v = malloc(vlen + 1);
	memset(v, 'w', vlen);
	v[vlen] = '\0';
	r = req_new("GET", "/", "HTTP/1.1", "");
	req_add_header(r, "X", v);
	req_add_header(r, "Y", "z");
	buf_init(&b, ASH_DGRAM_MAX);
	errno = 0;
	rv = req_encode(r, &b);
	err = errno;
	ok(rv == -1 && err == EMSGSIZE,
	    "req_encode into a buffer limited to ASH_DGRAM_MAX refuses %zu "
	    "bytes (rv %d, len %zu)",
	    ASH_DGRAM_MAX + (size_t)5, rv, b.b_len);
	is_int(b.b_len, 0, "req_encode failure leaves the buffer as it was");
	buf_free(&b);

	/* Through req_send, with a send buffer big enough that only the
	 * library can refuse it. */
	socketpair_or_die(sv);
	sndbuf = 4 * ASH_DGRAM_MAX;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	errno = 0;
	if ((nullfd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		die("/dev/null");
	rv = req_send(sv[0], r, nullfd);
	err = errno;
	ok(rv == -1 && err == EMSGSIZE,
	    "req_send of ASH_DGRAM_MAX + 5 bytes: -1/EMSGSIZE (rv %d)", rv);
	if (rv == 0) { /* take it off the queue */
		struct req *g = req_recv(sv[1], &fd);

		req_free(g);
	}
	close(nullfd);
	close(sv[0]);
	close(sv[1]);
	req_free(r);
	free(v);
}

static void
test_fdpass(void)
{
	int sv[2], p[2], fd, before, err;
	char buf[16];
	ssize_t n;

	socketpair_or_die(sv);
	if (pipe(p) == -1)
		die("pipe");

	is_int(fd_send(sv[0], "hello", 5, p[1]), 5, "fd_send");
	is_int(fd_peek_len(sv[1]), 5, "fd_peek_len");
	is_int(fd_peek_len(sv[1]), 5, "fd_peek_len does not consume");
	fd = -2;
	n = fd_recv(sv[1], buf, sizeof(buf), &fd);
	ok(n == 5 && !memcmp(buf, "hello", 5), "fd_recv data");
	check_fd_at(__LINE__, fd, p[1], p[0], "fd_recv");
	if (fd >= 0)
		close(fd);

	/* Too small a buffer: EMSGSIZE, and the fd does not leak. */
	before = count_fds();
	fd_send(sv[0], "hello", 5, p[1]);
	fd = -2;
	errno = 0;
	n = fd_recv(sv[1], buf, 2, &fd);
	err = errno;
	ok(n == -1 && err == EMSGSIZE, "fd_recv into 2 bytes: -1/EMSGSIZE");
	is_int(fd, -1, "too small: *fdp is -1");
	is_int(count_fds(), before, "too small: fd closed");

	/* fdp NULL: data only, any fd closed. */
	before = count_fds();
	fd_send(sv[0], "abc", 3, p[1]);
	n = fd_recv(sv[1], buf, sizeof(buf), NULL);
	ok(n == 3 && !memcmp(buf, "abc", 3), "fd_recv with fdp NULL");
	is_int(count_fds(), before, "fdp NULL: fd closed");
	fd_send(sv[0], "abc", 3, -1);
	n = fd_recv(sv[1], buf, sizeof(buf), NULL);
	is_int(n, 3, "fd_recv with fdp NULL, no fd sent");

	/* Without an fd but fdp given: EBADMSG. */
	fd_send(sv[0], "abc", 3, -1);
	errno = 0;
	n = fd_recv(sv[1], buf, sizeof(buf), &fd);
	err = errno;
	ok(n == -1 && err == EBADMSG && fd == -1, "no fd: -1/EBADMSG");

	/* EOF. */
	close(sv[0]);
	is_int(fd_peek_len(sv[1]), 0, "fd_peek_len at EOF");
	fd = -2;
	is_int(fd_recv(sv[1], buf, sizeof(buf), &fd), 0, "fd_recv at EOF");
	is_int(fd, -1, "EOF: *fdp is -1");
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

/* fd_recv_stream(): bytes with no descriptor, one, or several. */
static void
test_fd_stream(void)
{
	char buf[16];
	ssize_t n;
	int sp[2], p1[2], p2[2], fd, before = count_fds();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1 ||
	    pipe(p1) == -1 || pipe(p2) == -1)
		abort();
	is_int(write(sp[1], "ab", 2), 2, "stream: plain bytes written");
	n = fd_recv_stream(sp[0], buf, sizeof(buf), &fd, 0);
	ok(n == 2 && fd == -1, "stream: bytes without a descriptor");
	is_int(fd_send(sp[1], "c", 1, p1[0]), 1, "stream: byte with an fd");
	n = fd_recv_stream(sp[0], buf, sizeof(buf), &fd, 0);
	ok(n == 1 && buf[0] == 'c' && fd >= 0, "stream: the fd arrives");
	ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "stream: cloexec");
	if (fd >= 0)
		close(fd);
	n = fd_recv_stream(sp[0], buf, sizeof(buf), &fd, MSG_DONTWAIT);
	ok(n == -1 && errno == EAGAIN && fd == -1,
	    "stream: MSG_DONTWAIT on a blocking socket with nothing to read");
	close(sp[1]);
	n = fd_recv_stream(sp[0], buf, sizeof(buf), &fd, 0);
	ok(n == 0 && fd == -1, "stream: end-of-file");
	close(sp[0]);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
	is_int(count_fds(), before, "stream: nothing leaked");
}

struct served {
	int n;
	char rest[4][16];
};

static void
serve_cb(struct req *r, int fd, void *arg)
{
	struct served *sv = arg;

	if (sv->n < 4)
		snprintf(sv->rest[sv->n], sizeof(sv->rest[0]), "%s", r->r_rest);
	sv->n++;
	close(fd);
	req_free(r);
}

/* req_serve(): requests in order, a bad datagram skipped, the batch
 * bound, end-of-file. */
static void
test_serve(void)
{
	struct served sv;
	struct req *r;
	int sp[2], p[2], rv, before = count_fds();

	memset(&sv, 0, sizeof(sv));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1 ||
	    pipe(p) == -1 || fcntl(sp[0], F_SETFL, O_NONBLOCK) == -1)
		abort();
	r = req_new("GET", "/a", "HTTP/1.1", "a");
	req_send(sp[1], r, p[0]);
	fd_send(sp[1], "bad", 3, p[0]); /* malformed */
	req_set_rest(r, "b");
	req_send(sp[1], r, p[0]);
	req_set_rest(r, "c");
	req_send(sp[1], r, p[0]);
	req_free(r);
	rv = req_serve(sp[0], 2, serve_cb, &sv);
	ok(rv == 0 && sv.n == 1 && !strcmp(sv.rest[0], "a"),
	    "serve: the batch bound counts the bad datagram too");
	rv = req_serve(sp[0], 64, serve_cb, &sv);
	ok(rv == 0 && sv.n == 3 && !strcmp(sv.rest[1], "b") &&
		!strcmp(sv.rest[2], "c"),
	    "serve: the rest, in order, then 0");
	close(sp[1]);
	is_int(req_serve(sp[0], 64, serve_cb, &sv), 1, "serve: end-of-file");
	close(sp[0]);
	close(p[0]);
	close(p[1]);
	is_int(count_fds(), before, "serve: nothing leaked");
}

/* req_describe(): the client and the request, for log lines. */
static void
test_describe(void)
{
	static const struct {
		int line;
		const char *addr, *port, *url;
		size_t cap;
		const char *want;
	} rows[] = {
		{ __LINE__, "192.0.2.7", "4711", "/x?y", 320,
		    "192.0.2.7:4711 GET /x?y" },
		{ __LINE__, "2001:db8::1", "80", "/", 320,
		    "[2001:db8::1]:80 GET /" },
		{ __LINE__, "unix:/run/c", "0", "/u", 320,
		    "unix:/run/c GET /u" },
		{ __LINE__, NULL, NULL, "/n", 320, "GET /n" },
		{ __LINE__, "192.0.2.7", NULL, "/p", 320, "192.0.2.7 GET /p" },
		{ __LINE__, "192.0.2.7", "4711", "/long/url", 24,
		    "192.0.2.7:4711 GET /lon" },
	};
	char buf[LOG_WHO_MAX];
	struct req *r;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = req_new("GET", rows[i].url, "HTTP/1.1", "");
		if (r == NULL)
			die("req_new");
		if (rows[i].addr)
			req_add_header(r, "X-Ash-Address", rows[i].addr);
		if (rows[i].port)
			req_add_header(r, "X-Ash-Port", rows[i].port);
		errno = EPIPE;
		is_str_at(rows[i].line, req_describe(r, buf, rows[i].cap),
		    rows[i].want, "req_describe");
		ok_at(rows[i].line, errno == EPIPE, "errno kept");
		req_free(r);
	}
}

int
main(void)
{
	int before;

	alarm(20);
	before = count_fds();
	test_headers();
	test_dup();
	test_datagram();
	test_decoded_edit();
	test_block_room();
	test_malformed();
	test_transport();
	test_limit_boundary();
	test_fdpass();
	test_fd_stream();
	test_serve();
	test_describe();
	is_int(count_fds(), before, "no descriptor left open at the end");
	return tap_done();
}
