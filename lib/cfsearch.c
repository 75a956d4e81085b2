/*
 * cfsearch.c: where configuration files are found (cf_find(), see
 * cf.h): the user's ~/.ashd/etc, etc/ashd beside every $PATH entry and
 * beside the running program, then SYSCONFDIR/ashd; the message for a
 * name not found, and the program's own directory added to $PATH.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

/* dir (dl bytes) + mid + name if it is a regular file: 1 (*rp set), 0
 * if not, -1 on ENOMEM. */
static int
cf_try(const char *dir, size_t dl, const char *mid, const char *name, char **rp)
{
	struct stat st;
	size_t ml = strlen(mid), nl = strlen(name);
	char *p;

	if ((p = malloc(dl + ml + nl + 1)) == NULL)
		return -1;
	memcpy(p, dir, dl);
	memcpy(p + dl, mid, ml);
	memcpy(p + dl + ml, name, nl + 1);
	if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
		*rp = p;
		return 1;
	}
	free(p);
	return 0;
}

/* Directory of the running program, or NULL. */
static char *
cf_exedir(void)
{
	char *b = NULL, *n, *sl;
	size_t cap = 256;
	ssize_t l;

	for (; cap <= 65536; cap *= 2) {
		if ((n = realloc(b, cap)) == NULL)
			break;
		b = n;
		if ((l = readlink("/proc/self/exe", b, cap)) < 0)
			break;
		if ((size_t)l < cap) {
			b[l] = '\0';
			if ((sl = strrchr(b, '/')) == NULL)
				break;
			*sl = '\0';
			return b;
		}
	}
	free(b);
	return NULL;
}

/*
 * The parent of directory `dir` (dl bytes), by its name as ashd takes
 * it: trailing slashes and the last element dropped, so that "/bin"
 * gives "" (the root) even where /bin is a link to /usr/bin.  The
 * length of what is left, or -1 for a name without a '/' (a relative
 * PATH entry, which ashd skips too).
 */
static ssize_t
cf_parent(const char *dir, size_t dl)
{
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	while (dl > 0 && dir[dl - 1] != '/')
		dl--;
	if (dl == 0)
		return -1;
	while (dl > 0 && dir[dl - 1] == '/')
		dl--;
	return (ssize_t)dl;
}

char *
cf_find(const char *name)
{
	const char *e, *p, *home, *path;
	char *r = NULL, *exe;
	ssize_t pl;
	int f = 0;

	if (strchr(name, '/') != NULL)
		return strdup(name);
	if (*name == '\0')
		goto none;
	if ((home = getenv("HOME")) != NULL && *home != '\0') {
		f = cf_try(home, strlen(home), "/.ashd/etc/ashd/", name, &r);
		if (f == 0)
			f = cf_try(home, strlen(home), "/.ashd/etc/", name, &r);
	}
	path = getenv("PATH");
	for (p = path; f == 0 && p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		if ((e = strchr(p, ':')) == NULL)
			e = p + strlen(p);
		if ((pl = cf_parent(p, (size_t)(e - p))) >= 0)
			f = cf_try(p, (size_t)pl, "/etc/ashd/", name, &r);
	}
	if (f == 0 && (exe = cf_exedir()) != NULL) {
		if ((pl = cf_parent(exe, strlen(exe))) >= 0)
			f = cf_try(exe, (size_t)pl, "/etc/ashd/", name, &r);
		free(exe);
	}
	if (f == 0)
		f = cf_try(SYSCONFDIR, strlen(SYSCONFDIR), "/ashd/", name, &r);
	if (f == 1)
		return r;
	if (f == -1)
		return NULL;
none:
	errno = ENOENT;
	return NULL;
}

char *
cf_notfound_msg(const char *name)
{
	struct stat st;
	char *msg;
	int here = stat(name, &st) == 0;

	if (strchr(name, '/') != NULL) {
		if (asprintf(&msg, "%s: configuration file not found", name) ==
		    -1)
			return NULL;
		return msg;
	}
	if (asprintf(&msg,
		"%s: not found on the configuration search path "
		"(see ashd(7)); %s ./%s",
		name,
		here ? "to use the one in the "
		       "current directory, give"
		     : "a file in the current directory "
		       "is given as",
		name) == -1)
		return NULL;
	return msg;
}

int
cf_path_add_exedir(void)
{
	struct stat est, st;
	const char *path = getenv("PATH"), *p, *e;
	char *exe, *entry, *np = NULL;
	int rv = -1;

	if ((exe = cf_exedir()) == NULL || stat(exe, &est) == -1)
		goto done;
	for (p = path; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		if ((e = strchr(p, ':')) == NULL)
			e = p + strlen(p);
		if ((entry = strndup(p, (size_t)(e - p))) == NULL)
			goto done;
		if (*entry && stat(entry, &st) == 0 &&
		    st.st_dev == est.st_dev && st.st_ino == est.st_ino) {
			free(entry);
			rv = 0;
			goto done;
		}
		free(entry);
	}
	if (asprintf(&np, "%s%s%s", path && *path ? path : "",
		path && *path ? ":" : "", exe) == -1) {
		np = NULL;
		goto done;
	}
	rv = setenv("PATH", np, 1);
done:
	free(np);
	free(exe);
	return rv;
}
