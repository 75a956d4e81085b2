/*
 * failalloc.c: an LD_PRELOAD shim that makes allocations fail on the
 * request path of a handler, so that the suites can check that a failed
 * allocation fails that one request (503 or 500) and never the process.
 *
 * ASHD_FAILALLOC names a control file.  Each time the process receives
 * a datagram on standard input (its next request), the shim reads the
 * file: "K" makes the K-th allocation from then on fail (0 is the
 * first), "K+" that one and every later one, "-" or no file nothing.
 * Allocations are malloc, calloc, realloc (to a non-zero size),
 * posix_memalign and aligned_alloc, and so everything of libc that
 * allocates.  At each request it makes CONTROL.hit empty, and when it
 * fails the K-th allocation it writes a byte to it, so that a test can
 * tell when K has gone past the last allocation of a request.  The file
 * stays open from the request on, so that a child the process forks
 * counts on and records its failure even after it has changed to a
 * user that could not create the file.
 *
 * With ASHD_FAILALLOC_START set too, the file is also read once at
 * start, for a process that serves a single request (a transient
 * handler) and so receives no datagram.
 *
 * LD_PRELOAD and the ASHD_FAILALLOC variables are taken out of the
 * environment at start, so that only the process it was preloaded into
 * is affected, not the children it starts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static char ctl[4096], hit[4100];
static long target = -1; /* allocation to fail, -1: none */
static int onward;	 /* and every later one */
static long count;	 /* allocations since the last request */
static int hitfd = -1;	 /* CONTROL.hit, open for this request */
static ssize_t (*real_recvmsg)(int, struct msghdr *, int);

static void failalloc_arm(void);

__attribute__((constructor)) static void
failalloc_init(void)
{
	const char *p = getenv("ASHD_FAILALLOC");

	if (p != NULL && strlen(p) < sizeof(ctl)) {
		strcpy(ctl, p);
		strcpy(hit, p);
		strcat(hit, ".hit");
	}
	/* A process that serves one request (transient): it starts now. */
	if (ctl[0] != '\0' && getenv("ASHD_FAILALLOC_START") != NULL)
		failalloc_arm();
	unsetenv("ASHD_FAILALLOC");
	unsetenv("ASHD_FAILALLOC_START");
	unsetenv("LD_PRELOAD");
	real_recvmsg = (ssize_t(*)(int, struct msghdr *, int))dlsym(RTLD_NEXT,
	    "recvmsg");
}

/* A new request: read the rule for it. */
static void
failalloc_arm(void)
{
	char b[32];
	ssize_t n;
	int fd;

	target = -1;
	onward = 0;
	count = 0;
	if (hitfd >= 0) {
		close(hitfd);
		hitfd = -1;
	}
	if (ctl[0] == '\0' || (fd = open(ctl, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, b, sizeof(b) - 1);
	close(fd);
	if (n <= 0 || b[0] < '0' || b[0] > '9')
		return;
	b[n] = '\0';
	target = strtol(b, NULL, 10);
	onward = strchr(b, '+') != NULL;
	hitfd = open(hit, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0644);
}

/* Should this allocation fail? */
static int
failalloc_now(void)
{
	long n = count++;

	if (target < 0 || n < target || (n > target && !onward))
		return 0;
	if (n == target && hitfd >= 0)
		(void)write(hitfd, "x", 1);
	errno = ENOMEM;
	return 1;
}

ssize_t
recvmsg(int sock, struct msghdr *msg, int flags)
{
	ssize_t n;

	if (real_recvmsg == NULL) {
		errno = ENOSYS;
		return -1;
	}
	n = real_recvmsg(sock, msg, flags);
	if (sock == 0 && n > 0)
		failalloc_arm();
	return n;
}

void *
malloc(size_t n)
{
	return failalloc_now() ? NULL : __libc_malloc(n);
}

void *
calloc(size_t n, size_t m)
{
	return failalloc_now() ? NULL : __libc_calloc(n, m);
}

void *
realloc(void *p, size_t n)
{
	if (n != 0 && failalloc_now())
		return NULL;
	return __libc_realloc(p, n);
}

int
posix_memalign(void **pp, size_t align, size_t n)
{
	if (failalloc_now())
		return ENOMEM;
	return (*pp = __libc_memalign(align, n)) == NULL ? ENOMEM : 0;
}

void *
aligned_alloc(size_t align, size_t n)
{
	return failalloc_now() ? NULL : __libc_memalign(align, n);
}
