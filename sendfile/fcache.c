/*
 * fcache.c: the cache of small files' responses (see fcache.h).
 *
 * Invariant: a slot with fc_path set holds a complete response, head
 * and body, read from the file that the key (device, inode, size,
 * modification and change times) describes, and checked after the read
 * to be still that file, unchanged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ashlimits.h"
#include "fcache.h"
#include "http.h"
#include "mime.h"
#include "serve.h"

static struct fcent cache[ASH_SENDFILE_CACHE];

static int
same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Is e's file (still) the one st describes? */
static int
fcent_fresh(const struct fcent *e, const struct stat *st)
{
	return e->fc_dev == st->st_dev && e->fc_ino == st->st_ino &&
	    e->fc_size == st->st_size && same_time(&e->fc_mtim, &st->st_mtim) &&
	    same_time(&e->fc_ctim, &st->st_ctim);
}

static void
fcent_clear(struct fcent *e)
{
	free(e->fc_path);
	free(e->fc_ctype);
	buf_free(&e->fc_resp);
	memset(e, 0, sizeof(*e));
}

/* Read path (which st describes) into e: 0, or -1 leaving e empty. */
static int
fcent_fill(struct fcent *e, const char *path, const char *ctype,
    const struct stat *st)
{
	char lastmod[64];
	struct stat fst;
	size_t len = (size_t)st->st_size;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	if (ctype)
		e->fc_ctype = strdup(ctype);
	else
		e->fc_derived = 1;
	e->fc_dev = st->st_dev;
	e->fc_ino = st->st_ino;
	e->fc_size = st->st_size;
	e->fc_mtim = st->st_mtim;
	e->fc_ctim = st->st_ctim;
	if (fstat(fd, &fst) == -1 || !fcent_fresh(e, &fst) ||
	    (e->fc_path = strdup(path)) == NULL ||
	    (!e->fc_derived && e->fc_ctype == NULL))
		goto fail;
	file_etag(e->fc_etag, sizeof(e->fc_etag), st, NULL);
	http_date(lastmod, sizeof(lastmod), (long long)st->st_mtime);
	if (plan_head(&e->fc_resp, 200, ctype ? ctype : mime_type(path),
		st->st_size, lastmod, e->fc_etag) == -1 ||
	    buf_appends(&e->fc_resp, "\r\n") == -1)
		goto fail;
	e->fc_headlen = e->fc_resp.b_len;
	if (buf_reserve(&e->fc_resp, len) == -1)
		goto fail;
	/* One byte more than expected: a file that grew is caught. */
	n = pread(fd, e->fc_resp.b_data + e->fc_headlen, len + 1, 0);
	if (n != (ssize_t)len || fstat(fd, &fst) == -1 || !fcent_fresh(e, &fst))
		goto fail;
	e->fc_resp.b_len += len;
	e->fc_resp.b_data[e->fc_resp.b_len] = '\0';
	close(fd);
	return 0;
fail:
	close(fd);
	fcent_clear(e);
	return -1;
}

const struct fcent *
fcache_get(const char *path, const char *ctype, const struct stat *st)
{
	struct fcent *e;
	unsigned h = 2166136261u;
	const char *p;

	if (!S_ISREG(st->st_mode) || st->st_size > ASH_SENDFILE_CACHE_FILE)
		return NULL;
	for (p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	e = &cache[h % ASH_SENDFILE_CACHE];
	if (e->fc_path != NULL && fcent_fresh(e, st) &&
	    !strcmp(e->fc_path, path) &&
	    (ctype ? e->fc_ctype != NULL && !strcmp(e->fc_ctype, ctype)
		   : e->fc_derived))
		return e;
	fcent_clear(e);
	return fcent_fill(e, path, ctype, st) == 0 ? e : NULL;
}

void
fcache_clear(void)
{
	size_t i;

	for (i = 0; i < ASH_SENDFILE_CACHE; i++)
		fcent_clear(&cache[i]);
}
