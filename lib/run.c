/*
 * run.c: child_run(), the one way the project starts a process (see
 * child.h).  Without a setup hook it is posix_spawn(3), which reports a
 * failed chdir or exec as its result; with one, fork and exec, the new
 * process reporting a failed setup, chdir or exec back through a
 * close-on-exec pipe.  Either way the new process has descriptors 0-2
 * as asked and no others, an empty signal mask, and SIGPIPE and SIGCHLD
 * at their defaults.
 *
 * Under valgrind the fork path is taken always: valgrind runs glibc's
 * clone(CLONE_VM | CLONE_VFORK) as a plain fork, so posix_spawn() would
 * return 0 for a program that could not be executed (the new process
 * writes its errno to memory its parent no longer shares) and callers
 * would see an exit status 127 instead of the error.
 */
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"

extern char **environ;

/* Close every descriptor >= 3 but `keep`, in a new process. */
static void
child_closefrom(int keep)
{
	struct dirent *de;
	DIR *d;
	long fd, max;

#ifdef SYS_close_range
	if ((keep == 3 || syscall(SYS_close_range, 3U, keep - 1U, 0) == 0) &&
	    syscall(SYS_close_range, keep + 1U, ~0U, 0) == 0)
		return;
#endif
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL) {
			fd = strtol(de->d_name, NULL, 10);
			if (fd >= 3 && fd != keep && fd != dirfd(d))
				close((int)fd);
		}
		closedir(d);
		return;
	}
	max = sysconf(_SC_OPEN_MAX);
	for (fd = 3; fd < max && fd < 65536; fd++)
		if (fd != keep)
			close((int)fd);
}

/*
 * The new process of the fork path: descriptors 0-2 as `how` says,
 * its setup hook, chdir, a clean slate, exec.  Failures are written to
 * errfd as an errno.
 */
static void __attribute__((noreturn))
child_exec(char *const argv[], const struct child_run *how, int errfd)
{
	int src[3] = { how->cr_in, how->cr_out, how->cr_err }, i, e;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	/* Out of the way of 0-2 first, so a dup2() cannot clobber them. */
	if (errfd < 3 && (errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 3)) == -1)
		_exit(127);
	for (i = 0; i < 3; i++)
		if (src[i] >= 0 && src[i] < 3 &&
		    (src[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 3)) == -1)
			goto fail;
	if (src[0] < 0 &&
	    (src[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	for (i = 0; i < 3; i++)
		if (src[i] >= 0 && dup2(src[i], i) == -1)
			goto fail;
	if (how->cr_setup != NULL && how->cr_setup(how->cr_arg) == -1)
		goto fail;
	if (how->cr_dir != NULL && chdir(how->cr_dir) == -1)
		goto fail;
	child_closefrom(errfd);
	if (how->cr_envp != NULL)
		environ = how->cr_envp;
	if (how->cr_pgrp)
		setpgid(0, 0);
	execvp(argv[0], argv);
fail:
	e = errno;
	while (write(errfd, &e, sizeof(e)) == -1 && errno == EINTR)
		;
	_exit(127);
}

/* Fork and exec (for a setup hook); the pid once exec succeeded, or -1
 * with its errno, reported through a close-on-exec pipe. */
static pid_t
child_fork(char *const argv[], const struct child_run *how)
{
	ssize_t n;
	pid_t pid;
	int p[2], e = 0;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		e = errno;
		close(p[0]);
		close(p[1]);
		errno = e;
		return -1;
	}
	if (pid == 0)
		child_exec(argv, how, p[1]);
	close(p[1]);
	do
		n = read(p[0], &e, sizeof(e));
	while (n == -1 && errno == EINTR);
	close(p[0]);
	if (n != (ssize_t)sizeof(e))
		return pid;
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	errno = e;
	return -1;
}

/*
 * Make fd usable as a posix_spawn dup2 source: one below 3 could be
 * overwritten by an earlier dup2 of the same spawn, and a dup2 onto
 * itself would leave it close-on-exec, so such an fd is copied above 2
 * first (*tmp: the copy to close afterwards).
 */
static int
child_srcfd(int fd, int *tmp)
{
	if (fd < 0 || fd > 2)
		return fd;
	if ((*tmp = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1)
		return -2;
	return *tmp;
}

static int
child_actions(posix_spawn_file_actions_t *fa, const struct child_run *how,
    int tmp[3])
{
	int src[3] = { how->cr_in, how->cr_out, how->cr_err }, i, rc = 0;

	for (i = 0; i < 3; i++)
		if ((src[i] = child_srcfd(src[i], &tmp[i])) == -2)
			return errno;
	if (src[0] < 0)
		rc = posix_spawn_file_actions_addopen(fa, 0, "/dev/null",
		    O_RDONLY, 0);
	for (i = 0; i < 3 && rc == 0; i++)
		if (src[i] >= 0)
			rc = posix_spawn_file_actions_adddup2(fa, src[i], i);
	if (rc == 0)
		rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
	if (rc == 0 && how->cr_dir != NULL)
		rc = posix_spawn_file_actions_addchdir_np(fa, how->cr_dir);
	return rc;
}

/* The usual path: posix_spawn(3), which reports a failed chdir or exec
 * as its result. */
static pid_t
child_spawnp(char *const argv[], const struct child_run *how)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t sa;
	sigset_t none, def;
	pid_t pid = -1;
	int tmp[3] = { -1, -1, -1 }, rc, i;
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;

	if ((rc = posix_spawn_file_actions_init(&fa)) != 0) {
		errno = rc;
		return -1;
	}
	if ((rc = posix_spawnattr_init(&sa)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		errno = rc;
		return -1;
	}
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGCHLD);
	if (how->cr_pgrp)
		flags |= POSIX_SPAWN_SETPGROUP;
	if ((rc = posix_spawnattr_setsigmask(&sa, &none)) == 0 &&
	    (rc = posix_spawnattr_setsigdefault(&sa, &def)) == 0 &&
	    (rc = posix_spawnattr_setpgroup(&sa, 0)) == 0 &&
	    (rc = posix_spawnattr_setflags(&sa, flags)) == 0 &&
	    (rc = child_actions(&fa, how, tmp)) == 0)
		rc = (strchr(argv[0], '/') ? posix_spawn : posix_spawnp)(&pid,
		    argv[0], &fa, &sa, argv,
		    how->cr_envp ? how->cr_envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	for (i = 0; i < 3; i++)
		if (tmp[i] >= 0)
			close(tmp[i]);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	return pid;
}

/* Whether this process runs under valgrind, which preloads its own
 * libraries (vgpreload_*.so) into the program it runs. */
static int
child_valgrind(void)
{
	static int known = -1;
	const char *p;

	if (known == -1)
		known = (p = getenv("LD_PRELOAD")) != NULL &&
		    strstr(p, "/vgpreload_") != NULL;
	return known;
}

pid_t
child_run(char *const argv[], const struct child_run *how)
{
	if (argv[0] == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (how->cr_setup != NULL || child_valgrind())
		return child_fork(argv, how);
	return child_spawnp(argv, how);
}
