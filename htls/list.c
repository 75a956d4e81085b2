/*
 * list.c: the listing of one directory as an HTML5 page.
 *
 * The page is also well-formed XML (void elements closed with " />",
 * only the five predefined entities), so that both HTML and XML tools
 * read it.  Names are shown as text and linked by percent-encoded
 * relative references:
 *
 *	byte(s) of a name		shown as		in the href
 *	valid UTF-8 text		itself, & < > " ' escaped  %XX unless
 *	C0 control, DEL			its control picture	   A-Z a-z 0-9
 *					(U+2400 + c, U+2421)	   - . _ ~
 *	C1 control, noncharacter,	U+FFFD
 *	invalid UTF-8
 *
 * so every name yields valid UTF-8 and a link dirplex maps back to
 * exactly that name.  Directories get a trailing slash in the link, so
 * that no redirect is needed.  Entries are what dirplex would serve:
 * names not starting with '.', regular files the server can read and
 * directories it can enter; directories first, then by the collation
 * of the locale (LC_COLLATE; byte order in the C locale).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ashlimits.h"
#include "buf.h"
#include "htls.h"
#include "http.h"
#include "log.h"
#include "req.h"
#include "url.h"

struct htls_opts htls_opts;

struct dent {
	char *d_name;
	struct stat d_st;
	int d_w, d_x; /* writable, executable by us */
};

struct listing {
	struct dent *l_ents;
	size_t l_n, l_cap;
	size_t l_more;	   /* entries left out (ASH_LISTING_MAX) */
	long long l_mtime; /* newest of the directory and entries */
};

static const char default_css[] =
    "body { font-family: system-ui, sans-serif; color: #222;"
    " background: #f6f6f6; margin: 0; padding: 1em 2em; }\n"
    "h1 { font-size: 1.3em; font-weight: 600; overflow-wrap: anywhere; }\n"
    ".dirindex { background: #fff; border: 1px solid #ddd;"
    " border-radius: 4px; padding: .5em; overflow-x: auto; }\n"
    ".dirindex table { border-collapse: collapse; width: 100%; }\n"
    ".dirindex th, .dirindex td { padding: .2em .8em; text-align: left;"
    " white-space: nowrap; }\n"
    ".dirindex th { border-bottom: 1px solid #ddd; font-weight: 600; }\n"
    ".dirindex td.filename { white-space: normal;"
    " overflow-wrap: anywhere; width: 100%; }\n"
    ".dirindex .filesize { text-align: right;"
    " font-variant-numeric: tabular-nums; }\n"
    ".dentry:hover { background: #eef3fb; }\n"
    ".dir a { font-weight: 600; }\n"
    ".exec a { color: #1a6b1a; }\n"
    "a { color: #0b57d0; text-decoration: none; }\n"
    "a:hover { text-decoration: underline; }\n"
    ".more { color: #666; }\n";

/* Length of the UTF-8 sequence at s (n bytes left) and its code point,
 * or 0 if it is not a valid, shortest-form sequence. */
static size_t
utf8_seq(const unsigned char *s, size_t n, unsigned long *cp)
{
	size_t len, i;
	unsigned long c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static int
put_cp(struct buf *b, unsigned long c)
{
	char u[3];

	/* Only BMP code points are ever written this way. */
	u[0] = (char)(0xe0 | c >> 12);
	u[1] = (char)(0x80 | (c >> 6 & 0x3f));
	u[2] = (char)(0x80 | (c & 0x3f));
	return buf_append(b, u, 3);
}

/* Append the bytes s[0..n) as HTML text (see the table above). */
static int
html_text(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long c;
	size_t i = 0, l;
	int rv;

	while (i < n) {
		l = utf8_seq(p + i, n - i, &c);
		if (l == 0 || (c >= 0x80 && c <= 0x9f) ||
		    (c >= 0xfdd0 && c <= 0xfdef) || (c & 0xfffe) == 0xfffe) {
			rv = put_cp(b, 0xfffd);
			l = l ? l : 1;
		} else if (c < 0x20)
			rv = put_cp(b, 0x2400 + c);
		else if (c == 0x7f)
			rv = put_cp(b, 0x2421);
		else if (c == '&')
			rv = buf_appends(b, "&amp;");
		else if (c == '<')
			rv = buf_appends(b, "&lt;");
		else if (c == '>')
			rv = buf_appends(b, "&gt;");
		else if (c == '"')
			rv = buf_appends(b, "&quot;");
		else if (c == '\'')
			rv = buf_appends(b, "&#39;");
		else
			rv = buf_append(b, s + i, l);
		if (rv == -1)
			return -1;
		i += l;
	}
	return 0;
}

static int
dent_cmp(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;
	int dx = S_ISDIR(x->d_st.st_mode), dy = S_ISDIR(y->d_st.st_mode);

	if (dx != dy)
		return dy - dx;
	return strcoll(x->d_name, y->d_name);
}

static void
listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->l_n; i++)
		free(l->l_ents[i].d_name);
	free(l->l_ents);
}

/* Take one directory entry into l if dirplex would serve it; 0 / -1. */
static int
listing_add(struct listing *l, int dfd, const char *name)
{
	struct dent *d;
	struct stat st;
	size_t ncap;

	if (name[0] == '.' || fstatat(dfd, name, &st, 0) == -1)
		return 0;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return 0;
	if (faccessat(dfd, name, S_ISDIR(st.st_mode) ? R_OK | X_OK : R_OK, 0) ==
	    -1)
		return 0;
	if (l->l_n == ASH_LISTING_MAX) {
		l->l_more++;
		return 0;
	}
	if (l->l_n == l->l_cap) {
		ncap = l->l_cap ? l->l_cap * 2 : 64;
		if ((d = reallocarray(l->l_ents, ncap, sizeof(*d))) == NULL)
			return -1;
		l->l_ents = d;
		l->l_cap = ncap;
	}
	d = &l->l_ents[l->l_n];
	if ((d->d_name = strdup(name)) == NULL)
		return -1;
	d->d_st = st;
	d->d_w = faccessat(dfd, name, W_OK, 0) == 0;
	d->d_x = faccessat(dfd, name, X_OK, 0) == 0;
	if ((long long)st.st_mtime > l->l_mtime)
		l->l_mtime = st.st_mtime;
	l->l_n++;
	return 0;
}

/* Read the directory at path into l.  0, or -1 with errno. */
static int
listing_read(struct listing *l, const char *path)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int e;

	memset(l, 0, sizeof(*l));
	if ((d = opendir(path)) == NULL)
		return -1;
	if (fstat(dirfd(d), &st) == -1)
		goto fail;
	l->l_mtime = st.st_mtime;
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0)
				goto fail;
			break;
		}
		if (listing_add(l, dirfd(d), de->d_name) == -1)
			goto fail;
	}
	closedir(d);
	if (l->l_n > 1)
		qsort(l->l_ents, l->l_n, sizeof(*l->l_ents), dent_cmp);
	return 0;
fail:
	e = errno;
	closedir(d);
	listing_free(l);
	errno = e;
	return -1;
}

static int
page_head(struct buf *b, const char *title, size_t tlen)
{
	if (buf_appends(b,
		"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
		"<meta charset=\"utf-8\" />\n<meta name=\"viewport\" "
		"content=\"width=device-width, initial-scale=1\" />\n"
		"<title>Index of ") == -1 ||
	    html_text(b, title, tlen) == -1 ||
	    buf_appends(b, "</title>\n") == -1)
		return -1;
	if (htls_opts.o_css) {
		if (buf_appends(b, "<link rel=\"stylesheet\" href=\"") == -1 ||
		    html_text(b, htls_opts.o_css, strlen(htls_opts.o_css)) ==
			-1 ||
		    buf_appends(b, "\" />\n") == -1)
			return -1;
	} else if (buf_printf(b, "<style>\n%s</style>\n", default_css) == -1)
		return -1;
	if (buf_appends(b, "</head>\n<body>\n<h1>Index of ") == -1 ||
	    html_text(b, title, tlen) == -1 ||
	    buf_appends(b,
		"</h1>\n<div class=\"dirindex\">\n<table>\n"
		"<thead><tr><th class=\"filename\">Name</th>") == -1)
		return -1;
	if (htls_opts.o_size &&
	    buf_appends(b, "<th class=\"filesize\">Size</th>") == -1)
		return -1;
	if (htls_opts.o_mtime &&
	    buf_appends(b, "<th class=\"filemtime\">Modified</th>") == -1)
		return -1;
	return buf_appends(b, "</tr></thead>\n<tbody>\n");
}

/* One table row; d NULL for the parent directory. */
static int
page_row(struct buf *b, const struct dent *d)
{
	char when[64];
	struct tm tm;
	time_t t;
	int dir = d == NULL || S_ISDIR(d->d_st.st_mode);

	if (buf_printf(b,
		"<tr class=\"dentry%s%s%s\"><td class=\"filename\">"
		"<a href=\"",
		dir ? " dir" : "", !dir && d->d_x ? " exec" : "",
		d && d->d_w ? " writable" : "") == -1)
		return -1;
	if (d == NULL) {
		if (buf_appends(b, "../\">../</a></td>") == -1)
			return -1;
	} else if (url_encode(b, d->d_name, "-._~") == -1 ||
	    buf_appends(b, dir ? "/\">" : "\">") == -1 ||
	    html_text(b, d->d_name, strlen(d->d_name)) == -1 ||
	    buf_appends(b, dir ? "/</a></td>" : "</a></td>") == -1)
		return -1;
	if (htls_opts.o_size &&
	    (dir ? buf_appends(b, "<td class=\"filesize\"></td>")
		 : buf_printf(b, "<td class=\"filesize\">%lld</td>",
		       (long long)d->d_st.st_size)) == -1)
		return -1;
	if (htls_opts.o_mtime) {
		if (d == NULL)
			when[0] = '\0';
		else {
			t = d->d_st.st_mtime;
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when),
			    "<time datetime=\""
			    "%Y-%m-%dT%H:%M:%SZ\">%Y-%m-%d %H:%M</time>",
			    &tm);
		}
		if (buf_printf(b, "<td class=\"filemtime\">%s</td>", when) ==
		    -1)
			return -1;
	}
	return buf_appends(b, "</tr>\n");
}

/* The whole page for the listing l of the URL path `title`. */
static int
page(struct buf *b, const struct listing *l, const char *title, size_t tlen)
{
	size_t i;

	if (page_head(b, title, tlen) == -1)
		return -1;
	if (!(tlen == 1 && title[0] == '/') && page_row(b, NULL) == -1)
		return -1;
	for (i = 0; i < l->l_n; i++)
		if (page_row(b, &l->l_ents[i]) == -1)
			return -1;
	if (buf_appends(b, "</tbody>\n</table>\n</div>\n") == -1)
		return -1;
	if (l->l_more &&
	    buf_printf(b,
		"<p class=\"more\">%zu more entries "
		"are not shown.</p>\n",
		l->l_more) == -1)
		return -1;
	return buf_appends(b, "</body>\n</html>\n");
}

/* 301 to the URL with a slash after its path. */
static int
redirect(const struct req *r, struct buf *out)
{
	size_t pl = strcspn(r->r_url, "?");

	if (strpbrk(r->r_url, "\r\n") != NULL)
		return http_error_format(out, 400, "Bad URL.", NULL);
	return buf_printf(out,
	    "HTTP/1.1 301 Moved Permanently\r\n"
	    "Location: %.*s/%s\r\nContent-Length: 0\r\n\r\n",
	    (int)pl, r->r_url, r->r_url + pl);
}

/* The decoded path of a URL (origin- or absolute-form), for the title;
 * *lenp gets its length (it may hold NUL bytes).  NULL on ENOMEM. */
static char *
url_path(const char *url, size_t *lenp)
{
	const char *p = url, *s;
	size_t n;
	char *t;

	if (*p != '/' && (s = strstr(p, "://")) != NULL)
		p = s + 3 + strcspn(s + 3, "/?");
	n = strcspn(p, "?");
	if ((t = malloc(n + 2)) == NULL)
		return NULL;
	*lenp = url_decode(p, n, t, 0);
	if (*lenp == 0)
		*lenp = (size_t)(stpcpy(t, "/") - t);
	return t;
}

/* The listing of `path`, or 304, into out. */
static int
respond_dir(const struct req *r, const char *path, struct buf *out)
{
	struct listing l;
	struct buf body = BUF_INIT;
	const char *ims;
	char date[64], *title;
	size_t tlen;
	int rv = -1;

	if (listing_read(&l, path) == -1) {
		if (errno == ENOMEM)
			return -1;
		log_errno(LOG_ERR, "%s", path);
		return http_error_format(out,
		    errno == ENOENT || errno == ENOTDIR ? 404
			: errno == EACCES		? 403
							: 500,
		    "Cannot list this directory.", NULL);
	}
	http_date(date, sizeof(date), l.l_mtime);
	if ((ims = req_header(r, "If-Modified-Since")) != NULL &&
	    req_header(r, "If-None-Match") == NULL &&
	    http_parse_date(ims) >= l.l_mtime) {
		rv = buf_printf(out,
		    "HTTP/1.1 304 Not Modified\r\n"
		    "Last-Modified: %s\r\n\r\n",
		    date);
		goto done;
	}
	if ((title = url_path(r->r_url, &tlen)) == NULL)
		goto done;
	if (page(&body, &l, title, tlen) == 0 &&
	    buf_printf(out,
		"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
		"Last-Modified: %s\r\nContent-Length: %zu\r\n\r\n",
		date, body.b_len) == 0)
		rv = buf_append(out, body.b_data, body.b_len);
	free(title);
done:
	buf_free(&body);
	listing_free(&l);
	return rv;
}

int
htls_respond(const struct req *r, struct buf *out)
{
	const char *path = req_header(r, "X-Ash-File");
	size_t pl = strcspn(r->r_url, "?");

	if (strcmp(r->r_method, "GET") && strcmp(r->r_method, "HEAD"))
		return http_error_format(out, 405,
		    "Only GET and HEAD are "
		    "allowed here.",
		    "Allow: GET, HEAD\r\n");
	if (path == NULL) {
		log_msg(LOG_ERR,
		    "%s: no X-Ash-File header (htls lists the "
		    "directory dirplex names in it)",
		    r->r_url);
		return http_error_format(out, 500,
		    "Server configuration "
		    "error.",
		    NULL);
	}
	if (r->r_rest[0] != '\0')
		return http_error_format(out, 404,
		    "The requested resource "
		    "was not found.",
		    NULL);
	if (pl == 0 || r->r_url[pl - 1] != '/')
		return redirect(r, out);
	return respond_dir(r, path, out);
}
