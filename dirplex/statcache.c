/*
 * statcache.c: what the walk found at a path, remembered for the rest
 * of the second (see dirplex.h).
 *
 * Only what was found is kept (a regular file or a directory, by its
 * type), never a failed lookup: a file that appears is seen at once, and
 * the stem search (find_stem()) of a name that is not there runs as
 * before.  What is kept may be stale for less than a second, as the
 * .htrc files are: a file removed or turned into a directory (or the
 * reverse) in that second is still routed as what it was, and its
 * handler finds the change (sendfile answers 404 for a file gone).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ashlimits.h"
#include "dirplex.h"

static struct {
	char *path;
	mode_t type; /* S_IFREG or S_IFDIR */
	time_t checked;
} cache[ASH_DIRPLEX_STATCACHE];

int
statcache_type(const char *path, time_t now, mode_t *typep)
{
	struct stat st;
	unsigned h = 2166136261u;
	const char *p;
	size_t n;

	for (p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h %= ASH_DIRPLEX_STATCACHE;
	if (cache[h].path != NULL && cache[h].checked == now &&
	    !strcmp(cache[h].path, path)) {
		*typep = cache[h].type;
		return 0;
	}
	if (stat(path, &st) == -1)
		return -1;
	*typep = st.st_mode & S_IFMT;
	if (*typep != S_IFREG && *typep != S_IFDIR)
		return 0;
	n = (size_t)(p - path) + 1;
	if (cache[h].path == NULL || strcmp(cache[h].path, path)) {
		free(cache[h].path);
		/* Out of memory: not kept, no harm. */
		if ((cache[h].path = malloc(n)) == NULL)
			return 0;
		memcpy(cache[h].path, path, n);
	}
	cache[h].type = *typep;
	cache[h].checked = now;
	return 0;
}
