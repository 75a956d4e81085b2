/*
 * logfile.c: the file accesslog writes its records to.
 *
 * The file is opened for appending and (unless -L) holds an fcntl(2)
 * write lock, so that two accesslogs never interleave in one file and
 * `accesslog -P FILE` can name the writer.  Records gather in one
 * buffer and go out in one write(2) per batch of requests (or, with -F,
 * per 64 KiB or per second), so that logging costs no system call per
 * request under load and leaves nothing waiting when accesslog is idle.
 *
 * A write that fails (a full disk, a file that became unwritable, a
 * closed pipe) never stops the requests: it is reported on standard
 * error once, the records stay buffered up to LOG_BUF_MAX and are
 * written when writing works again (or after SIGHUP reopened the file);
 * beyond that, new records are counted and dropped, and the count is
 * reported when writing resumes.  Records are dropped whole, so the
 * file never holds a half line followed by another record.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accesslog.h"
#include "buf.h"
#include "log.h"
#include "loop.h"

#define LOG_BUF_MAX   (1024 * 1024) /* held while writes fail */
#define LOG_BUF_FLUSH (64 * 1024)   /* -F: write when this much */
#define LOG_FLUSH_MS  1000	    /* -F: or when this old */

static char *lpath; /* NULL: standard output */
static int lfd = -1;
static int lnolock;
static struct buf lbuf = BUF_INIT;
static int lfailing;	       /* the last write failed */
static unsigned long ldropped; /* records dropped meanwhile */
static struct loop *lloop;
static int lflush = 1;
static int lpending; /* a flush is deferred */
static struct timer ltimer;

static int
lock_file(int fd, const char *path)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	if (errno == EACCES || errno == EAGAIN) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			log_msg(LOG_ERR,
			    "%s: locked by process %ld (-L "
			    "shares a log file)",
			    path, (long)fl.l_pid);
		else
			log_msg(LOG_ERR, "%s: locked by another process", path);
	} else
		log_errno(LOG_ERR, "%s: cannot lock", path);
	return -1;
}

/* Open path for appending (and lock it); the descriptor or -1. */
static int
open_file(const char *path)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		 0666)) == -1) {
		log_errno(LOG_ERR, "%s: cannot open", path);
		return -1;
	}
	if (!lnolock && lock_file(fd, path) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

void
logf_open(const char *path, int nolock)
{
	lnolock = nolock;
	if (strcmp(path, "-") == 0) {
		lfd = 1;
		return;
	}
	lpath = xstrdup(path);
	if ((lfd = open_file(path)) == -1)
		exit(1);
}

static const char *
lname(void)
{
	return lpath ? lpath : "standard output";
}

void
logf_flush(void)
{
	ssize_t n;

	lpending = 0;
	while (lbuf.b_len > 0) {
		n = write(lfd, lbuf.b_data, lbuf.b_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!lfailing)
				log_errno(LOG_ERR,
				    "%s: cannot write the log "
				    "(records are kept and written later)",
				    lname());
			lfailing = 1;
			return;
		}
		buf_consume(&lbuf, (size_t)n);
	}
	if (lfailing) {
		if (ldropped)
			log_msg(LOG_ERR,
			    "%s: writing again; %lu records "
			    "were lost",
			    lname(), ldropped);
		else
			log_msg(LOG_ERR,
			    "%s: writing again, no records "
			    "lost",
			    lname());
		lfailing = 0;
		ldropped = 0;
	}
	if (lbuf.b_cap > 4 * LOG_BUF_FLUSH)
		buf_free(&lbuf); /* give back what a backlog took */
}

static void
flush_deferred(void *arg)
{
	(void)arg;
	logf_flush();
}

static void
flush_timer(struct timer *t)
{
	(void)t;
	logf_flush();
}

void
logf_setup(struct loop *l, int flush)
{
	lloop = l;
	lflush = flush;
	timer_init(&ltimer, flush_timer, NULL);
}

/* After a record was added: see that it is written in time. */
static void
schedule(void)
{
	if (lloop == NULL) {
		logf_flush();
		return;
	}
	if (lflush) {
		if (!lpending && loop_defer(lloop, flush_deferred, NULL) == 0)
			lpending = 1;
		else if (!lpending)
			logf_flush();
		return;
	}
	if (lbuf.b_len >= LOG_BUF_FLUSH) {
		loop_untimer(lloop, &ltimer);
		logf_flush();
	} else if (!timer_armed(&ltimer) &&
	    loop_timer(lloop, &ltimer, LOG_FLUSH_MS) == -1)
		logf_flush();
}

void
logf_record(struct fmt *f, const struct logrec *lr)
{
	if (lfailing && lbuf.b_len >= LOG_BUF_MAX) {
		ldropped++;
		return;
	}
	if (fmt_expand(f, lr, &lbuf) == -1) {
		/* Out of memory: the record is lost, say so once it can
		 * be said. */
		if (lbuf.b_len > 0)
			logf_flush();
		if (fmt_expand(f, lr, &lbuf) == -1) {
			log_msg(LOG_ERR, "out of memory: a log record is lost");
			return;
		}
	}
	schedule();
}

/* Is fd the same file as path names now? */
static int
same_file(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

void
logf_reopen(void)
{
	int fd, same;

	logf_flush();
	if (lpath == NULL)
		return;
	same = same_file(lfd, lpath);
	if (same) {
		/* Not rotated: our own lock would only be lost when the
		 * old descriptor is closed; open without locking. */
		if ((fd = open(lpath, O_WRONLY | O_APPEND | O_CLOEXEC)) == -1) {
			log_errno(LOG_ERR,
			    "%s: cannot reopen, still writing "
			    "the old file",
			    lpath);
			return;
		}
	} else if ((fd = open_file(lpath)) == -1) {
		log_msg(LOG_ERR, "%s: still writing the old file", lpath);
		return;
	}
	close(lfd);
	lfd = fd;
	if (same && !lnolock && lock_file(fd, lpath) == -1)
		log_msg(LOG_ERR, "%s: writing it unlocked", lpath);
	if (lbuf.b_len > 0)
		logf_flush(); /* what a failing file kept */
}

long
logf_lockpid(const char *path)
{
	struct flock fl;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_errno(LOG_ERR, "%s", path);
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == -1) {
		log_errno(LOG_ERR, "%s: cannot test the lock", path);
		close(fd);
		return -1;
	}
	close(fd);
	if (fl.l_type == F_UNLCK) {
		log_msg(LOG_ERR, "%s: no process holds a lock on it", path);
		return -1;
	}
	return (long)fl.l_pid;
}
