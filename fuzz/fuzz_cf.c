/*
 * fuzz_cf.c: the configuration language (lib/cf.c): cf_split() on
 * every line of the input, and the whole reader (cf_open, cf_next) on
 * the input written to a file in a private temporary directory.
 *
 * Includes are confined to that directory: an input with an "include"
 * line naming anything with a '/' is skipped, so a pattern can only
 * name the files set up there (a plain one, one that includes another,
 * one that includes itself, one with a bad line, a directory).
 *
 * Invariants checked:
 *  - cf_split: words never grow (their bytes fit in the line); quoting
 *    every word back ("..." with \" and \\) and splitting again gives
 *    the same words; an error is EINVAL (unterminated quote) or E2BIG;
 *  - the reader: every stanza has a start line and words on each line,
 *    argv NULL-terminated at argc; line numbers rise within a stanza;
 *    lines of the input file give exactly the words cf_split gives for
 *    them, the start line unindented and the others indented; errors
 *    read "file:line: ..."; the reader ends (a bounded number of calls);
 *  - the same file with CRLF line ends reads the same, errors included.
 */
#include <sys/stat.h>

#include <errno.h>
#include <unistd.h>

#include "ashlimits.h"
#include "cf.h"
#include "fuzz.h"

static char dir[512];
static char inpath[600];

static void
put(const char *name, const char *text)
{
	char p[600];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((f = fopen(p, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) == EOF)
		abort();
}

static void
rm_dir(void)
{
	const char *names[] = { "in.conf", "a.conf", "b.conf", "self.conf",
		"bad.conf" };
	char p[600];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/sub.d", dir);
	rmdir(p);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char p[600];

	(void)argc;
	(void)argv;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/fuzzcf.XXXXXX",
		tmp && *tmp ? tmp : "/tmp") >= sizeof(dir) ||
	    mkdtemp(dir) == NULL)
		abort();
	atexit(rm_dir);
	snprintf(inpath, sizeof(inpath), "%s/in.conf", dir);
	put("a.conf", "from-a one \"two three\"\n\tsub x\n");
	put("b.conf", "include a.conf\nfrom-b\n");
	put("self.conf", "include self.conf\n");
	put("bad.conf", "ok\nbroken \"quote\n");
	snprintf(p, sizeof(p), "%s/sub.d", dir);
	if (mkdir(p, 0700) == -1)
		abort();
	return 0;
}

/* One line of the input as the reader sees it: up to LF, a trailing CR
 * dropped; NULL for a line the reader refuses (NUL, too long). */
struct line {
	char *l_text;
	int l_ok;
};

static struct line *
split_lines(const uint8_t *data, size_t size, size_t *np)
{
	struct line *v = NULL;
	size_t n = 0, s = 0, e, len;

	while (s < size) {
		for (e = s; e < size && data[e] != '\n'; e++)
			;
		len = e - s;
		if ((v = realloc(v, (n + 1) * sizeof(*v))) == NULL)
			abort();
		if (len > 0 && len <= ASH_CFLINE_MAX + 1 &&
		    data[s + len - 1] == '\r')
			len--;
		v[n].l_ok = len <= ASH_CFLINE_MAX &&
		    memchr(data + s, '\0', len) == NULL;
		if ((v[n].l_text = malloc(len + 1)) == NULL)
			abort();
		memcpy(v[n].l_text, data + s, len);
		v[n].l_text[len] = '\0';
		n++;
		s = e + 1;
	}
	*np = n;
	return v;
}

/* Quote each word and split again: the same words must come back. */
static void
split_roundtrip(char **argv, int argc)
{
	char *line, *o, **again, *p;
	size_t cap = 1;
	int i, n;

	for (i = 0; i < argc; i++)
		cap += 2 * strlen(argv[i]) + 3;
	if ((line = malloc(cap)) == NULL)
		abort();
	for (o = line, i = 0; i < argc; i++) {
		*o++ = '"';
		for (p = argv[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				*o++ = '\\';
			*o++ = *p;
		}
		*o++ = '"';
		*o++ = ' ';
	}
	*o = '\0';
	n = cf_split(line, &again);
	if (n == -1) {
		CHECK(errno == E2BIG, "requoted line fails: errno %d", errno);
	} else {
		CHECK(n == argc, "%d words, requoted %d", argc, n);
		for (i = 0; i < n; i++)
			CHECK(!strcmp(argv[i], again[i]), "word %d: '%s' '%s'",
			    i, argv[i], again[i]);
		CHECK(again[n] == NULL, "argv not terminated");
		free(again);
	}
	free(line);
}

/*
 * The word rules of cf.h's table, written from the table: blanks
 * separate words; "..." groups and the quotes go; backslash + blank,
 * quote or backslash is that character; any other backslash stays.
 * Returns the words as "w1\0w2\0...", their count in *np, or NULL for
 * an unterminated quote.
 */
static char *
ref_split(const char *line, int *np)
{
	char *out = malloc(strlen(line) + 1), *o = out;
	const char *p = line;
	int q;

	if (out == NULL)
		abort();
	*np = 0;
	for (;;) {
		while (*p && strchr(" \t\r\f\v", *p))
			p++;
		if (*p == '\0')
			return out;
		for (q = 0;; p++) {
			if (*p == '\0') {
				if (q) {
					free(out);
					return NULL;
				}
				break;
			}
			if (*p == '\\' && p[1] && strchr(" \t\r\f\v\"\\", p[1]))
				*o++ = *++p;
			else if (*p == '"')
				q = !q;
			else if (!q && strchr(" \t\r\f\v", *p))
				break;
			else
				*o++ = *p;
		}
		*o++ = '\0';
		(*np)++;
	}
}

/* cf_split on one line; the words or NULL.  Sets *unsafe for an
 * include that could leave the directory. */
static char **
split_check(const char *line, int *argcp, int *unsafe)
{
	char **argv;
	size_t total = 0, len = strlen(line);
	int n, i;

	char *ref, *w;
	int rn;

	errno = 0;
	n = cf_split(line, &argv);
	ref = ref_split(line, &rn);
	if (n == -1) {
		CHECK(errno == EINVAL || errno == E2BIG, "errno %d", errno);
		CHECK(argv == NULL, "argv set on error");
		CHECK(ref == NULL || errno == E2BIG, "the table splits it");
		free(ref);
		return NULL;
	}
	CHECK(argv != NULL && argv[n] == NULL, "argv not terminated");
	CHECK(ref != NULL && rn == n, "%d words, the table says %d", n, rn);
	for (i = 0, w = ref; i < n; i++, w += strlen(w) + 1)
		CHECK(!strcmp(argv[i], w), "word %d: '%s', the table says '%s'",
		    i, argv[i], w);
	free(ref);
	for (i = 0; i < n; i++)
		total += strlen(argv[i]) + 1;
	CHECK(total <= len + 1, "words %zu bytes from a %zu-byte line", total,
	    len);
	split_roundtrip(argv, n);
	if (n > 0 && !strcmp(argv[0], "include"))
		for (i = 1; i < n; i++)
			if (strchr(argv[i], '/'))
				*unsafe = 1;
	*argcp = n;
	return argv;
}

/* Everything the reader said, as text, to compare two reads. */
static char *
read_all(const char *path, struct line *lines, size_t nlines, size_t bound)
{
	struct cfreader *cr;
	struct stanza *s;
	char *out = NULL, **argv;
	size_t outlen = 0, calls, i;
	int r, j, argc, unsafe, prev;
	FILE *m;

	if ((m = open_memstream(&out, &outlen)) == NULL)
		abort();
	if ((cr = cf_open(path)) == NULL)
		abort();
	for (calls = 0;; calls++) {
		CHECK(calls <= bound, "reader does not end");
		r = cf_next(cr, &s);
		CHECK(r >= -1 && r <= 1, "cf_next %d", r);
		if (r == 0)
			break;
		if (r == -1) {
			CHECK(s == NULL, "stanza with an error");
			CHECK(strchr(cf_error(cr), ':') != NULL, "error '%s'",
			    cf_error(cr));
			fprintf(m, "error %s\n", cf_error(cr));
			continue;
		}
		CHECK(s->s_nlines >= 1 && s->s_line == s->s_lines[0].cl_lineno,
		    "stanza shape");
		CHECK(strcmp(s->s_lines[0].cl_argv[0], "include"),
		    "include returned");
		fprintf(m, "stanza %s:%d\n", s->s_file, s->s_line);
		prev = 0;
		for (i = 0; i < s->s_nlines; i++) {
			struct cfline *l = &s->s_lines[i];

			CHECK(l->cl_argc >= 1 && l->cl_argv[l->cl_argc] == NULL,
			    "line shape");
			CHECK(l->cl_lineno > prev, "line numbers do not rise");
			prev = l->cl_lineno;
			for (j = 0; j < l->cl_argc; j++)
				fprintf(m, " [%s]", l->cl_argv[j]);
			fputc('\n', m);
			if (strcmp(s->s_file, path) != 0)
				continue;
			/* A line of the input: the words cf_split gives. */
			CHECK(l->cl_lineno >= 1 &&
				(size_t)l->cl_lineno <= nlines,
			    "line %d of %zu", l->cl_lineno, nlines);
			const char *t = lines[l->cl_lineno - 1].l_text;
			CHECK(lines[l->cl_lineno - 1].l_ok, "a bad line read");
			CHECK((i == 0) == (*t != ' ' && *t != '\t'),
			    "indentation of line %d", l->cl_lineno);
			unsafe = 0;
			argv = split_check(t, &argc, &unsafe);
			CHECK(argv != NULL && argc == l->cl_argc,
			    "line %d: %d words, reader %d", l->cl_lineno, argc,
			    l->cl_argc);
			for (j = 0; j < argc; j++)
				CHECK(!strcmp(argv[j], l->cl_argv[j]),
				    "line %d word %d", l->cl_lineno, j);
			free(argv);
		}
		stanza_free(s);
	}
	cf_close(cr);
	fclose(m);
	return out;
}

static void
write_file(const uint8_t *data, size_t size, int crlf)
{
	FILE *f;
	size_t i;

	if ((f = fopen(inpath, "w")) == NULL)
		abort();
	for (i = 0; i < size; i++) {
		if (crlf && data[i] == '\n')
			putc('\r', f);
		putc(data[i], f);
	}
	if (fclose(f) == EOF)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line *lines;
	size_t nlines, i;
	char **argv, *a, *b;
	size_t bound;
	int argc, unsafe = 0;

	if (size > 4 * ASH_CFLINE_MAX)
		return 0;
	lines = split_lines(data, size, &nlines);
	/* At most a stanza or an error per line, and per include pattern
	 * the few files of the directory, each giving a few. */
	bound = 2 * nlines + 64;
	for (i = 0; i < nlines; i++) {
		if (!lines[i].l_ok)
			continue;
		if ((argv = split_check(lines[i].l_text, &argc, &unsafe))) {
			bound += 64 * (size_t)argc;
			free(argv);
		}
	}
	if (!unsafe) {
		write_file(data, size, 0);
		a = read_all(inpath, lines, nlines, bound);
		if (memchr(data, '\r', size) == NULL) {
			write_file(data, size, 1);
			b = read_all(inpath, lines, nlines, bound);
			CHECK(!strcmp(a, b),
			    "CRLF reads differently:\n%s\n--\n%s", a, b);
			free(b);
		}
		free(a);
	}
	for (i = 0; i < nlines; i++)
		free(lines[i].l_text);
	free(lines);
	return 0;
}
