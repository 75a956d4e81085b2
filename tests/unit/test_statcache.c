/*
 * test_statcache.c: dirplex's memory of what the walk found
 * (dirplex/statcache.c): a file or directory found is remembered for
 * the same second only, a failed lookup never, and paths that share a
 * slot evict each other without being mixed up.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ashlimits.h"
#include "dirplex.h"
#include "tap.h"

static char dir[] = "/tmp/test_statcache.XXXXXX";

static void
touch(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fclose(f) == EOF) {
		perror(path);
		exit(1);
	}
}

/* The type statcache_type() gives, or 0 if it fails. */
static mode_t
type_of(const char *path, time_t now)
{
	mode_t t;

	return statcache_type(path, now, &t) == 0 ? t : 0;
}

int
main(void)
{
	char f[PATH_MAX], d[PATH_MAX], p[PATH_MAX];
	time_t now = 1000;
	int i, bad = 0;

	if (mkdtemp(dir) == NULL) {
		perror(dir);
		return 1;
	}
	snprintf(f, sizeof(f), "%s/f", dir);
	snprintf(d, sizeof(d), "%s/d", dir);

	is_int(type_of(f, now), 0, "nothing there");
	touch(f);
	is_int(type_of(f, now), S_IFREG,
	    "a failed lookup is not kept: a "
	    "new file is seen in the same second");
	unlink(f);
	is_int(type_of(f, now), S_IFREG,
	    "a file removed in the same second "
	    "is still the file found (the bound: under a second)");
	is_int(type_of(f, now + 1), 0, "the next second it is gone");
	is_int(type_of(f, now + 1), 0, "and stays gone");

	mkdir(d, 0700);
	is_int(type_of(d, now + 2), S_IFDIR, "a directory");
	rmdir(d);
	touch(d);
	is_int(type_of(d, now + 2), S_IFDIR,
	    "replaced by a file in the same "
	    "second: still the directory");
	is_int(type_of(d, now + 3), S_IFREG, "the next second: the file");
	is_int(type_of(d, now + 2), S_IFREG,
	    "a clock set back: looked up "
	    "again, not taken from the cache");
	unlink(d);

	for (i = 0; i < 2 * ASH_DIRPLEX_STATCACHE; i++) {
		snprintf(p, sizeof(p), "%s/%d", dir, i);
		if (i % 2)
			touch(p);
		else
			mkdir(p, 0700);
	}
	for (i = 0; i < 4 * ASH_DIRPLEX_STATCACHE; i++) {
		int k = i % (2 * ASH_DIRPLEX_STATCACHE);

		snprintf(p, sizeof(p), "%s/%d", dir, k);
		bad += type_of(p, now + 5) != (k % 2 ? S_IFREG : S_IFDIR);
	}
	is_int(bad, 0,
	    "twice as many paths as slots, twice over: each "
	    "one's own type");
	for (i = 0; i < 2 * ASH_DIRPLEX_STATCACHE; i++) {
		snprintf(p, sizeof(p), "%s/%d", dir, i);
		if (i % 2)
			unlink(p);
		else
			rmdir(p);
	}
	rmdir(dir);
	return tap_done();
}
