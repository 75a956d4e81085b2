/*
 * fcache.h: sendfile's cache of whole responses to small files.
 *
 * An entry holds the 200 head of a regular file of at most
 * ASH_SENDFILE_CACHE_FILE bytes followed by its body, so that a repeat
 * request costs one stat(2) of the path and one send(2): no open, read
 * or close of the file, no formatting of dates and validators, no
 * content type lookup.  It is keyed by the path and the content type
 * asked for (-c or X-Ash-Content-Type; none: the one mime_type() gives
 * for the path), and valid while the file's
 * device, inode, size, modification time and change time are those
 * of the caller's fresh stat(2) of the path: a file written in place,
 * replaced by rename(2), truncated or made unreadable (chmod changes
 * the change time) is read again on the next request.  Entries are
 * direct-mapped by a hash of the path (ASH_SENDFILE_CACHE of them); a
 * path that takes another's slot evicts it.
 */
#ifndef SENDFILE_FCACHE_H
#define SENDFILE_FCACHE_H

#include <sys/stat.h>
#include <time.h>

#include "buf.h"

struct fcent {
	char *fc_path;
	char *fc_ctype; /* asked for, or NULL: */
	int fc_derived; /* mime_type() of the path */
	dev_t fc_dev;
	ino_t fc_ino;
	off_t fc_size;
	struct timespec fc_mtim;
	struct timespec fc_ctim;
	char fc_etag[96];
	struct buf fc_resp; /* the 200 head, then the body */
	size_t fc_headlen;
};

/*
 * The entry for the regular file `path` as served with `ctype` (NULL:
 * mime_type(path)), st its
 * stat(2) just made by the caller: from the cache if it still matches,
 * else read now (and kept).  NULL if the file is not a regular file of
 * at most ASH_SENDFILE_CACHE_FILE bytes, changed while it was read,
 * cannot be opened, or memory ran out: then serve it the usual way.
 * The entry is valid until the next call.
 */
const struct fcent *
fcache_get(const char *path, const char *ctype, const struct stat *st);
/* Forget every entry (tests). */
void fcache_clear(void);

#endif
