/*
 * test_cf.c: the configuration reader (lib/cf.c).
 *
 * Every case writes files under a fresh temporary directory and reads
 * them back through cf_open()/cf_next(), rendering what comes out (and
 * every error) as text: one stanza per line, "LINE:word,word;LINE:..."
 * and "!message" for an error.  The temporary directory is removed from
 * messages so that rows read as the files they describe.
 *
 * Run with "--find NAME" the program prints cf_find(NAME): the test
 * runs a copy of itself that way to check the search next to the
 * running program.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cf.h"
#include "ashlimits.h"
#include "tap.h"

static char tmpdir[1024];

static void __attribute__((noreturn)) die(const char *what)
{
	perror(what);
	exit(2);
}

/* Write `len` bytes to tmpdir/name, making directories on the way. */
static void
put_len(const char *name, const char *data, size_t len)
{
	char path[8192], *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	for (p = path + strlen(tmpdir) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST)
			die(path);
		*p = '/';
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) ==
	    -1)
		die(path);
	if (write(fd, data, len) != (ssize_t)len)
		die(path);
	close(fd);
}

static void
put(const char *name, const char *data)
{
	put_len(name, data, strlen(data));
}

static void
mkdir_in(const char *name)
{
	char path[8192];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		die(path);
}

/* Append s to b with every "tmpdir/" removed. */
static void
append_rel(struct buf *b, const char *s)
{
	size_t tl = strlen(tmpdir);
	const char *p;

	while ((p = strstr(s, tmpdir)) != NULL && p[tl] == '/') {
		buf_append(b, s, (size_t)(p - s));
		s = p + tl + 1;
	}
	buf_appends(b, s);
}

/* Everything the reader makes of tmpdir/name, as text (free() it). */
static char *
dump(const char *name)
{
	struct buf b = BUF_INIT;
	struct cfreader *cr;
	struct stanza *s;
	char path[8192];
	size_t i;
	int r, w, guard = 0;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if ((cr = cf_open(path)) == NULL) {
		buf_printf(&b, "open: %s", strerror(errno));
		return buf_detach(&b, NULL);
	}
	while ((r = cf_next(cr, &s)) != 0 && guard++ < 1000) {
		if (r < 0) {
			buf_appendc(&b, '!');
			append_rel(&b, cf_error(cr));
			buf_appendc(&b, '\n');
			continue;
		}
		for (i = 0; i < s->s_nlines; i++) {
			buf_printf(&b, "%s%d:", i ? ";" : "",
			    s->s_lines[i].cl_lineno);
			for (w = 0; w < s->s_lines[i].cl_argc; w++)
				buf_printf(&b, "%s%s", w ? "," : "",
				    s->s_lines[i].cl_argv[w]);
			if (s->s_lines[i].cl_argv[w] != NULL)
				buf_appends(&b, "<argv not NULL-terminated>");
		}
		if (s->s_line != s->s_lines[0].cl_lineno)
			buf_appends(&b, "<bad s_line>");
		buf_appendc(&b, '\n');
		stanza_free(s);
	}
	cf_close(cr);
	if (b.b_data == NULL)
		return strdup("");
	return buf_detach(&b, NULL);
}

static void
check_file(int line, const char *name, const char *want)
{
	char *got = dump(name);

	is_str_at(line, got, want, name);
	free(got);
}

/* One file, one result: the language itself. */
static const struct {
	int line;
	const char *in;
	const char *want;
} rows[] = {
	{ __LINE__, "", "" },
	{ __LINE__, "a b  c\n", "1:a,b,c\n" },
	{ __LINE__, "a\tb \t c  \n", "1:a,b,c\n" },
	{ __LINE__, "\"a b\" c\n", "1:a b,c\n" },
	{ __LINE__, "x\"a b\"y\n", "1:xa by\n" },
	{ __LINE__, "a \"\" b\n", "1:a,,b\n" },
	{ __LINE__, "a\\ b c\n", "1:a b,c\n" },
	{ __LINE__, "a\\\tb\n", "1:a\tb\n" },
	{ __LINE__, "\\\"q\\\" \\\\ x\n", "1:\"q\",\\,x\n" },
	{ __LINE__, "\"in \\\" quote\"\n", "1:in \" quote\n" },
	{ __LINE__, "\"in \\\\ back\" \"sp\\ ace\"\n",
	    "1:in \\ back,sp ace\n" },
	{ __LINE__, "re ^a\\.b$ \\d\n", "1:re,^a\\.b$,\\d\n" },
	{ __LINE__, "end\\\n", "1:end\\\n" },
	{ __LINE__, "a#b #c\n", "1:a#b,#c\n" },
	{ __LINE__, "# comment\n\nx\n  # indented comment\n\ty\n",
	    "3:x;5:y\n" },
	{ __LINE__, "a\n b\n\tc\n \t  d e\nf\n", "1:a;2:b;3:c;4:d,e\n5:f\n" },
	{ __LINE__, "a\n b\n\n   \n\t\n c\nd\n", "1:a;2:b;6:c\n7:d\n" },
	{ __LINE__, "a\n\n#x\nb\n", "1:a\n4:b\n" },
	{ __LINE__, "a b\r\n c\r\n", "1:a,b;2:c\n" },
	{ __LINE__, "a\n b", "1:a;2:b\n" },
	{ __LINE__, "\"x y\"\n \"\"\n", "1:x y;2:\n" },
	/* Errors name the line and skip the stanza, reading goes on. */
	{ __LINE__, "a\n b \"oops\n c\nd\n",
	    "!t.rc:2: unterminated quote\n4:d\n" },
	{ __LINE__, "\"x\n y\nz\n", "!t.rc:1: unterminated quote\n3:z\n" },
	{ __LINE__, "a\n\n\nb \"c\\\"\n",
	    "1:a\n!t.rc:4: unterminated quote\n" },
	{ __LINE__, " a\n  b\nc\n",
	    "!t.rc:1: indented line outside a stanza\n3:c\n" },
	/* "include" is only special as a start line. */
	{ __LINE__, "a\n include x\n", "1:a;2:include,x\n" },
	{ __LINE__, "include\nb\n", "!t.rc:1: include: no file given\n2:b\n" },
	{ __LINE__, "include none/*.rc\n x\nb\n",
	    "!t.rc:2: include takes no indented lines\n3:b\n" },
};

static void
test_rows(void)
{
	size_t i;
	char *got;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		put("t.rc", rows[i].in);
		got = dump("t.rc");
		is_str_at(rows[i].line, got, rows[i].want, "language row");
		free(got);
	}
}

static void
test_split(void)
{
	char **av;
	int n;

	n = cf_split("  one \"t w o\" th\\ ree  ", &av);
	ok(n == 3 && !strcmp(av[0], "one") && !strcmp(av[1], "t w o") &&
		!strcmp(av[2], "th ree") && av[3] == NULL,
	    "cf_split: words");
	free(av);
	n = cf_split(" \t ", &av);
	ok(n == 0 && av != NULL && av[0] == NULL, "cf_split: no words");
	free(av);
	errno = 0;
	n = cf_split("a \"b", &av);
	ok(n == -1 && errno == EINVAL && av == NULL,
	    "cf_split: unterminated quote is EINVAL");
}

static void
test_odd_lines(void)
{
	static const char want[] = "!t.rc:3: line too long\n5:last\n";
	struct buf b = BUF_INIT;
	size_t i, gl, wl;
	char *got;

	/* A NUL byte is an error, not the end of the line. */
	put_len("t.rc", "a\nb\0c\n d\ne\n", 11);
	check_file(__LINE__, "t.rc", "1:a\n!t.rc:2: NUL byte in line\n4:e\n");

	/* Exactly ASH_CFLINE_MAX bytes is fine, one more is an error. */
	buf_appends(&b, "first\n");
	buf_appends(&b, "x ");
	for (i = 2; i < ASH_CFLINE_MAX; i++)
		buf_appendc(&b, 'y');
	buf_appends(&b, "\r\nlong ");
	for (i = 5; i < ASH_CFLINE_MAX + 1; i++)
		buf_appendc(&b, 'z');
	buf_appends(&b, "\n cont\nlast\n");
	put_len("t.rc", b.b_data, b.b_len);
	got = dump("t.rc");
	gl = strlen(got);
	wl = strlen(want);
	ok(gl > 2 + ASH_CFLINE_MAX && !strncmp(got, "1:first\n2:x,yyy", 15),
	    "a line of ASH_CFLINE_MAX bytes is read whole");
	ok(gl > wl && !strcmp(got + gl - wl, want),
	    "a longer line is an error at its line number");
	if (gl <= wl || strcmp(got + gl - wl, want))
		tap_diag("got tail: %s", gl > 60 ? got + gl - 60 : got);
	free(got);
	buf_free(&b);
}

static void
test_include(void)
{
	put("conf.d/b.rc", "b\n");
	put("conf.d/a.rc", "a1\n  sub\n# c\na2\n");
	put("conf.d/c.txt", "not me\n");
	put("conf.d/10.rc", "ten\n");
	mkdir_in("conf.d/dir.rc");
	put("main.rc", "first\ninclude conf.d/*.rc\nlast\n");
	check_file(__LINE__, "main.rc",
	    "1:first\n1:ten\n1:a1;2:sub\n4:a2\n1:b\n3:last\n");

	put("multi.rc", "include conf.d/b.rc \"z z.rc\" conf.d/a*\n");
	put("z z.rc", "zz\n");
	check_file(__LINE__, "multi.rc", "1:b\n1:zz\n1:a1;2:sub\n4:a2\n");

	/* Relative to the including file, whatever the nesting. */
	put("y.rc", "wrong\n");
	put("sub/y.rc", "right\n");
	put("sub/x.rc", "x1\ninclude y.rc\nx2\n");
	put("sub/deeper/d.rc", "include ../x.rc\n");
	put("rel.rc", "include sub/x.rc\nr\n");
	check_file(__LINE__, "rel.rc", "1:x1\n1:right\n3:x2\n2:r\n");
	put("nest.rc", "include sub/deeper/d.rc\n");
	check_file(__LINE__, "nest.rc", "1:x1\n1:right\n3:x2\n");

	/* Absolute names and a directory name holding glob characters. */
	{
		char abs[8192];

		snprintf(abs, sizeof(abs), "include \"%s/sub/y.rc\"\n", tmpdir);
		put("abs.rc", abs);
		check_file(__LINE__, "abs.rc", "1:right\n");
	}
	put("we[i]rd*/1.inc", "one\n");
	put("we[i]rd*/2.inc", "two\n");
	put("we[i]rd*/main.rc", "include *.inc\n");
	check_file(__LINE__, "we[i]rd*/main.rc", "1:one\n1:two\n");

	/* Errors. */
	put("none.rc", "include nothing/*.rc\nx\n");
	check_file(__LINE__, "none.rc", "2:x\n");
	put("missing.rc", "a\ninclude conf.d/b.rc nothere.rc\nb\n");
	check_file(__LINE__, "missing.rc",
	    "1:a\n1:b\n!missing.rc:2: include nothere.rc: "
	    "No such file or directory\n3:b\n");
	put("isdir.rc", "include conf.d\n");
	check_file(__LINE__, "isdir.rc",
	    "!isdir.rc:1: include conf.d: Is a directory\n");
	put("cyc-a.rc", "a\ninclude cyc-b.rc\nc\n");
	put("cyc-b.rc", "b\n\ninclude cyc-a.rc\nd\n");
	check_file(__LINE__, "cyc-a.rc",
	    "1:a\n1:b\n!cyc-b.rc:3: include cyc-a.rc: "
	    "include cycle: the file is already being read\n4:d\n3:c\n");
	put("self.rc", "include self.rc\n");
	check_file(__LINE__, "self.rc",
	    "!self.rc:1: include self.rc: "
	    "include cycle: the file is already being read\n");
}

static void
test_depth(void)
{
	char name[64], data[64];
	char *got;
	int i;

	/* deep0 includes deep1 ... includes deepN. */
	for (i = 0; i <= ASH_CFINCLUDE_DEPTH + 1; i++) {
		snprintf(name, sizeof(name), "deep%d.rc", i);
		snprintf(data, sizeof(data), "d%d\ninclude deep%d.rc\n", i,
		    i + 1);
		put(name, data);
	}
	snprintf(name, sizeof(name), "deep%d.rc", ASH_CFINCLUDE_DEPTH);
	put(name, "bottom\n");
	got = dump("deep0.rc");
	ok(strstr(got, "bottom") != NULL && strchr(got, '!') == NULL,
	    "includes nest %d deep", ASH_CFINCLUDE_DEPTH);
	free(got);
	snprintf(name, sizeof(name), "deep%d.rc", ASH_CFINCLUDE_DEPTH + 1);
	put(name, "too deep\n");
	snprintf(name, sizeof(name), "deep%d.rc", ASH_CFINCLUDE_DEPTH);
	snprintf(data, sizeof(data), "include deep%d.rc\n",
	    ASH_CFINCLUDE_DEPTH + 1);
	put(name, data);
	got = dump("deep0.rc");
	snprintf(data, sizeof(data),
	    "!deep%d.rc:1: include deep%d.rc: "
	    "includes nested too deeply\n",
	    ASH_CFINCLUDE_DEPTH, ASH_CFINCLUDE_DEPTH + 1);
	ok(strstr(got, data) != NULL && strstr(got, "too,deep") == NULL,
	    "one more level is an error");
	if (strstr(got, data) == NULL)
		tap_diag("got %s", got);
	free(got);
}

static void
test_api(void)
{
	struct cfreader *cr;
	struct stanza *s = NULL;
	char path[8192], *msg;

	snprintf(path, sizeof(path), "%s/no-such.rc", tmpdir);
	errno = 0;
	ok(cf_open(path) == NULL && errno == ENOENT, "cf_open: ENOENT");
	errno = 0;
	ok(cf_open(tmpdir) == NULL && errno == EISDIR, "cf_open: EISDIR");

	put("sub/api.rc", "\nchild x\n\texec y\n");
	snprintf(path, sizeof(path), "%s/sub/api.rc", tmpdir);
	if ((cr = cf_open(path)) == NULL)
		die(path);
	is_str(cf_error(cr), "", "no error yet");
	is_int(cf_next(cr, &s), 1, "a stanza");
	is_str(s->s_file, path, "s_file");
	snprintf(path, sizeof(path), "%s/sub", tmpdir);
	is_str(s->s_dir, path, "s_dir");
	is_int(s->s_line, 2, "s_line");
	is_int(s->s_nlines, 2, "s_nlines");
	msg = stanza_error(s, &s->s_lines[1], "bad %s", "exec");
	snprintf(path, sizeof(path), "%s/sub/api.rc:3: bad exec", tmpdir);
	is_str(msg, path, "stanza_error names the line");
	free(msg);
	msg = stanza_error(s, NULL, "whole");
	snprintf(path, sizeof(path), "%s/sub/api.rc:2: whole", tmpdir);
	is_str(msg, path, "stanza_error: NULL is the start line");
	free(msg);
	stanza_free(s);
	is_int(cf_next(cr, &s), 0, "end");
	ok(s == NULL, "no stanza at the end");
	is_int(cf_next(cr, &s), 0, "still the end");
	cf_close(cr);

	/* A relative name gets an absolute s_dir. */
	if (chdir(tmpdir) == -1)
		die(tmpdir);
	if ((cr = cf_open("sub/api.rc")) == NULL)
		die("sub/api.rc");
	cf_next(cr, &s);
	is_str(s->s_file, "sub/api.rc", "relative s_file stays as named");
	snprintf(path, sizeof(path), "%s/sub", tmpdir);
	is_str(s->s_dir, path, "relative s_dir made absolute");
	stanza_free(s);
	cf_close(cr);
	if (chdir("/") == -1)
		die("/");
}

/* Run a copy of this program living in tmpdir/prefix/bin. */
static char *
find_from_copy(const char *name)
{
	static char out[8192];
	char src[8192], dst[8192];
	ssize_t n, k = 0;
	int in, fd, p[2], st;
	pid_t pid;

	snprintf(dst, sizeof(dst), "%s/prefix/bin/test_cf", tmpdir);
	if (access(dst, X_OK) == -1) {
		mkdir_in("prefix");
		mkdir_in("prefix/bin");
		if ((n = readlink("/proc/self/exe", src, sizeof(src) - 1)) < 0)
			die("readlink");
		src[n] = '\0';
		if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1 ||
		    (fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0755)) ==
			-1)
			die("copy");
		while ((n = read(in, out, sizeof(out))) > 0)
			if (write(fd, out, (size_t)n) != n)
				die("copy");
		close(in);
		close(fd);
	}
	if (pipe(p) == -1)
		die("pipe");
	if ((pid = fork()) == -1)
		die("fork");
	if (pid == 0) {
		dup2(p[1], 1);
		execl(dst, dst, "--find", name, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out + k, sizeof(out) - 1 - (size_t)k)) > 0)
		k += n;
	out[k] = '\0';
	close(p[0]);
	waitpid(pid, &st, 0);
	return out;
}

static void
test_find(void)
{
	char home[2048], path[4096], want[4096], *got;

	snprintf(home, sizeof(home), "%s/home", tmpdir);
	snprintf(path, sizeof(path), "%s/p1/bin::%s/p2/bin", tmpdir, tmpdir);
	setenv("HOME", home, 1);
	setenv("PATH", path, 1);
	put("home/.ashd/etc/x.rc", "");
	put("p1/etc/ashd/x.rc", "");
	put("p1/etc/ashd/y.rc", "");
	put("p2/etc/ashd/y.rc", "");
	put("p2/etc/ashd/z.rc", "");
	mkdir_in("p1/etc/ashd/d.rc");
	mkdir_in("p1/bin");
	mkdir_in("p2/bin");
	put("p2/etc/ashd/d.rc", "");

	got = cf_find("x.rc");
	snprintf(want, sizeof(want), "%s/.ashd/etc/x.rc", home);
	is_str(got, want, "cf_find: $HOME/.ashd/etc first");
	free(got);
	put("home/.ashd/etc/ashd/x.rc", "");
	got = cf_find("x.rc");
	snprintf(want, sizeof(want), "%s/.ashd/etc/ashd/x.rc", home);
	is_str(got, want, "cf_find: $HOME/.ashd/etc/ashd (ashd's) before it");
	free(got);
	got = cf_find("y.rc");
	snprintf(want, sizeof(want), "%s/p1/etc/ashd/y.rc", tmpdir);
	is_str(got, want, "cf_find: then $PATH entries in order");
	free(got);
	got = cf_find("z.rc");
	snprintf(want, sizeof(want), "%s/p2/etc/ashd/z.rc", tmpdir);
	is_str(got, want, "cf_find: a later $PATH entry");
	free(got);
	got = cf_find("d.rc");
	snprintf(want, sizeof(want), "%s/p2/etc/ashd/d.rc", tmpdir);
	is_str(got, want, "cf_find: directories are skipped");
	free(got);

	/* The parent of a PATH entry is taken by name, as ashd does: a
	 * merged-/usr "/bin -> usr/bin" still finds /etc/ashd. */
	mkdir_in("m");
	mkdir_in("m/usr");
	mkdir_in("m/usr/bin");
	snprintf(want, sizeof(want), "%s/m/bin", tmpdir);
	if (symlink("usr/bin", want) == -1)
		die("symlink");
	put("m/etc/ashd/s.rc", "");
	put("m/usr/etc/ashd/s.rc", "");
	snprintf(path, sizeof(path), "rel/bin:%s/m/bin/", tmpdir);
	setenv("PATH", path, 1);
	got = cf_find("s.rc");
	snprintf(want, sizeof(want), "%s/m/etc/ashd/s.rc", tmpdir);
	is_str(got, want,
	    "cf_find: a PATH entry's parent by name, not "
	    "through its link; relative entries skipped");
	free(got);
	snprintf(path, sizeof(path), "%s/p1/bin::%s/p2/bin", tmpdir, tmpdir);
	setenv("PATH", path, 1);
	got = cf_find("some/where.rc");
	is_str(got, "some/where.rc", "cf_find: a name with '/' as is");
	free(got);
	unsetenv("HOME");
	got = cf_find("x.rc");
	snprintf(want, sizeof(want), "%s/p1/etc/ashd/x.rc", tmpdir);
	is_str(got, want, "cf_find: no $HOME");
	free(got);
	errno = 0;
	got = cf_find("cf-test-no-such-file.rc");
	ok(got == NULL && errno == ENOENT, "cf_find: nothing found");
	free(got);

	/* Next to the running program: PREFIX/bin/prog finds PREFIX/etc. */
	put("prefix/etc/ashd/e.rc", "");
	setenv("HOME", home, 1);
	got = find_from_copy("e.rc");
	snprintf(want, sizeof(want), "%s/prefix/etc/ashd/e.rc\n", tmpdir);
	is_str(got, want, "cf_find: the program's own ../etc/ashd");
	got = find_from_copy("x.rc");
	snprintf(want, sizeof(want), "%s/.ashd/etc/ashd/x.rc\n", home);
	is_str(got, want, "cf_find: $HOME still wins over it");
}

/* A plain include name not beside the includer is searched for. */
static void
test_include_search(void)
{
	char home[2048];

	snprintf(home, sizeof(home), "%s/ihome", tmpdir);
	setenv("HOME", home, 1);
	put("ihome/.ashd/etc/shared.rc", "from-search\n");
	put("ihome/.ashd/etc/near.rc", "from-search-near\n");
	put("inc/near.rc", "beside\n");
	put("inc/top", "include shared.rc\ninclude near.rc\n");
	check_file(__LINE__, "inc/top", "1:from-search\n1:beside\n");
	put("inc/top2", "include absent.rc\n");
	check_file(__LINE__, "inc/top2",
	    "!inc/top2:1: include "
	    "inc/absent.rc: No such file or directory\n");
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int
main(int argc, char **argv)
{
	char t[1024], *got;
	const char *td = getenv("TMPDIR");

	if (argc == 3 && strcmp(argv[1], "--find") == 0) {
		got = cf_find(argv[2]);
		printf("%s\n", got ? got : "(null)");
		free(got);
		return 0;
	}
	alarm(30);
	snprintf(t, sizeof(t), "%s/test_cf.XXXXXX", td && *td ? td : "/tmp");
	if (mkdtemp(t) == NULL || (got = realpath(t, NULL)) == NULL ||
	    strlen(got) >= sizeof(tmpdir))
		die("mkdtemp");
	strcpy(tmpdir, got);
	free(got);
	test_split();
	test_rows();
	test_odd_lines();
	test_include();
	test_depth();
	test_api();
	test_find();
	test_include_search();
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
