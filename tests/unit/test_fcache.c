/*
 * test_fcache.c: sendfile's cache of small files' responses
 * (sendfile/fcache.c): what an entry holds, that a matching stat(2)
 * is served without reading the file, and that every way a file can
 * change (written in place with its times put back, replaced by
 * rename, grown, another content type asked for) is seen on the next
 * request, also when paths evict each other.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ashlimits.h"
#include "fcache.h"
#include "tap.h"

static char dir[] = "/tmp/test_fcache.XXXXXX";

static void
put(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(data, f) == EOF || fclose(f) == EOF) {
		perror(path);
		exit(1);
	}
}

static struct stat
st_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		perror(path);
		exit(1);
	}
	return st;
}

/* The body of e, as a string (the test's files are text). */
static const char *
body(const struct fcent *e)
{
	return e ? e->fc_resp.b_data + e->fc_headlen : "(no entry)";
}

static int
head_has(const struct fcent *e, const char *line)
{
	return e &&
	    memmem(e->fc_resp.b_data, e->fc_headlen, line, strlen(line)) !=
	    NULL;
}

/* Put the modification time of path back to that of st. */
static void
put_mtime(const char *path, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (utimensat(AT_FDCWD, path, ts, 0) == -1) {
		perror(path);
		exit(1);
	}
}

static void
test_entry(const char *a)
{
	const struct fcent *e, *e2;
	struct stat st, old;

	put(a, "hello");
	st = st_of(a);
	e = fcache_get(a, NULL, &st);
	ok(e != NULL, "a small file is cached");
	is_str(body(e), "hello", "the body follows the head");
	ok(head_has(e, "HTTP/1.1 200 OK\r\n") &&
		head_has(e, "\r\nContent-Type: text/plain") &&
		head_has(e, "\r\nContent-Length: 5\r\n") &&
		head_has(e, "\r\nETag: \"") &&
		head_has(e, "\r\nLast-Modified: ") &&
		e->fc_resp.b_data[e->fc_headlen - 4] == '\r' &&
		!memcmp(e->fc_resp.b_data + e->fc_headlen - 4, "\r\n\r\n", 4),
	    "the head: status, type, length, validators, the empty line");
	e2 = fcache_get(a, NULL, &st);
	ok(e2 == e && !strcmp(body(e2), "hello"), "the same entry again");

	/* Served from memory: the file is not read while st matches. */
	old = st;
	usleep(20000);
	put(a, "HELLO");
	put_mtime(a, &old);
	is_str(body(fcache_get(a, NULL, &old)), "hello",
	    "an unchanged stat "
	    "is served from the cache, without reading the file");
	/* The same size and mtime, but the change time moved. */
	st = st_of(a);
	ok(st.st_size == old.st_size &&
		st.st_mtim.tv_nsec == old.st_mtim.tv_nsec,
	    "written in place, size and mtime kept");
	is_str(body(fcache_get(a, NULL, &st)), "HELLO",
	    "...read again: the "
	    "change time is part of the key");
}

static void
test_changes(const char *a, const char *b)
{
	const struct fcent *e;
	struct stat st, old;

	old = st_of(a);
	put(b, "WORLD");
	put_mtime(b, &old);
	if (rename(b, a) == -1) {
		perror(b);
		exit(1);
	}
	st = st_of(a);
	is_str(body(fcache_get(a, NULL, &st)), "WORLD",
	    "replaced by rename "
	    "(a new inode, same size and mtime): read again");
	put(a, "longer now");
	st = st_of(a);
	e = fcache_get(a, NULL, &st);
	ok(!strcmp(body(e), "longer now") &&
		head_has(e, "\r\nContent-Length: 10\r\n"),
	    "grown: read again, "
	    "new length");
	e = fcache_get(a, "x/y", &st);
	ok(head_has(e, "\r\nContent-Type: x/y\r\n"),
	    "another content type "
	    "asked for: another head");
	e = fcache_get(a, NULL, &st);
	ok(head_has(e, "\r\nContent-Type: text/plain"),
	    "and back to the "
	    "derived type");
	st.st_size++;
	ok(fcache_get(a, NULL, &st) == NULL,
	    "a stat that does not match "
	    "the open file: not cached (changed while read)");
	if (unlink(a) == -1) {
		perror(a);
		exit(1);
	}
	st.st_size--;
	ok(fcache_get(a, NULL, &st) == NULL,
	    "a file gone since the stat: "
	    "no entry");
}

static void
test_limits(const char *big)
{
	struct stat st;
	char *data;

	data = malloc(ASH_SENDFILE_CACHE_FILE + 2);
	memset(data, 'x', ASH_SENDFILE_CACHE_FILE);
	data[ASH_SENDFILE_CACHE_FILE] = '\0';
	put(big, data);
	st = st_of(big);
	ok(fcache_get(big, NULL, &st) != NULL,
	    "a file of exactly the limit "
	    "is cached");
	strcpy(data + ASH_SENDFILE_CACHE_FILE, "x");
	put(big, data);
	st = st_of(big);
	ok(fcache_get(big, NULL, &st) == NULL, "one byte more is not");
	free(data);
	st = st_of(dir);
	ok(fcache_get(dir, NULL, &st) == NULL, "a directory is not");
}

/* More paths than slots: collisions evict, never mix up. */
static void
test_evict(void)
{
	char path[PATH_MAX], want[32];
	struct stat st;
	int i, round, bad = 0;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < 2 * ASH_SENDFILE_CACHE; i++) {
			snprintf(path, sizeof(path), "%s/f%d", dir, i);
			snprintf(want, sizeof(want), "file %d", i);
			if (round == 0)
				put(path, want);
			st = st_of(path);
			bad += strcmp(body(fcache_get(path, NULL, &st)),
				   want) != 0;
		}
	}
	is_int(bad, 0,
	    "512 files through 256 slots, twice: each one's own "
	    "body");
	for (i = 0; i < 2 * ASH_SENDFILE_CACHE; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		unlink(path);
	}
}

int
main(void)
{
	char a[PATH_MAX], b[PATH_MAX], big[PATH_MAX];

	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	snprintf(a, sizeof(a), "%s/a.txt", dir);
	snprintf(b, sizeof(b), "%s/b.txt", dir);
	snprintf(big, sizeof(big), "%s/big", dir);
	test_entry(a);
	test_changes(a, b);
	test_limits(big);
	test_evict();
	fcache_clear();
	unlink(big);
	rmdir(dir);
	return tap_done();
}
