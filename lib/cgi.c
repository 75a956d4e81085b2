/*
 * cgi.c: CGI/1.1 meta-variables from an ashd request, and CGI response
 * heads.
 *
 * SCRIPT_NAME and PATH_INFO: whoever found the script (dirplex) left
 * the part of the URL after it in the rest string, so the raw URL path
 * ends with the rest; what comes before is the script's URL (see
 * split_path()).  This holds for ashd's dirplex and this project's
 * alike, which pass the same rest strings.  When a rewrite (patplex)
 * broke that correspondence, the whole path is the SCRIPT_NAME and the
 * rest string the PATH_INFO.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "cgi.h"
#include "http.h"
#include "req.h"
#include "spool.h"
#include "url.h"

#ifndef PACKAGE_NAME
#define PACKAGE_NAME	"ashd-ng"
#define PACKAGE_VERSION "0"
#endif

static unsigned
name_hash(const char *name)
{
	unsigned h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

static struct cgivar *
env_find(const struct cgienv *env, const char *name, unsigned h)
{
	size_t i;

	for (i = 0; i < env->ce_n; i++)
		if (env->ce_vars[i].cv_hash == h &&
		    !strcmp(env->ce_vars[i].cv_name, name))
			return &env->ce_vars[i];
	return NULL;
}

/* A piece of an environment's string storage. */
struct cgichunk {
	struct cgichunk *ck_next;
	size_t ck_used, ck_cap;
	char ck_data[];
};

/* Room for a request's usual environment in one chunk. */
#define CGI_CHUNK 2048

/* n bytes of env's string storage, or NULL.  A replaced value's bytes
 * stay until cgi_env_free(). */
static char *
env_alloc(struct cgienv *env, size_t n)
{
	struct cgichunk *c = env->ce_chunks;
	size_t cap;

	if (c == NULL || c->ck_cap - c->ck_used < n) {
		cap = n > CGI_CHUNK ? n : CGI_CHUNK;
		if (cap > SIZE_MAX - sizeof(*c) ||
		    (c = malloc(sizeof(*c) + cap)) == NULL)
			return NULL;
		c->ck_used = 0;
		c->ck_cap = cap;
		c->ck_next = env->ce_chunks;
		env->ce_chunks = c;
	}
	c->ck_used += n;
	return c->ck_data + c->ck_used - n;
}

/* v's name and value, together in env's storage. */
static int
var_fill(struct cgienv *env, struct cgivar *v, const char *name,
    const char *value, unsigned h)
{
	size_t nl = strlen(name), vl = strlen(value);
	char *p;

	if (nl > SIZE_MAX / 2 - 2 || vl > SIZE_MAX / 2 ||
	    (p = env_alloc(env, nl + vl + 2)) == NULL)
		return -1;
	memcpy(p, name, nl + 1);
	memcpy(p + nl + 1, value, vl + 1);
	v->cv_name = p;
	v->cv_value = p + nl + 1;
	v->cv_hash = h;
	return 0;
}

/* Add a variable env does not have (not checked); 0 / -1. */
static int
env_add(struct cgienv *env, const char *name, const char *value, unsigned h)
{
	struct cgivar *n;

	if (env->ce_n == env->ce_cap) {
		size_t ncap = env->ce_cap ? env->ce_cap * 2 : 32;

		if ((n = realloc(env->ce_vars, ncap * sizeof(*n))) == NULL)
			return -1;
		env->ce_vars = n;
		env->ce_cap = ncap;
	}
	if (var_fill(env, &env->ce_vars[env->ce_n], name, value, h) == -1)
		return -1;
	env->ce_n++;
	return 0;
}

/* The same for a name given here, known not to be there yet. */
static int
env_new(struct cgienv *env, const char *name, const char *value)
{
	return env_add(env, name, value, name_hash(name));
}

int
cgi_env_set(struct cgienv *env, const char *name, const char *value)
{
	unsigned h = name_hash(name);
	struct cgivar *n;

	if ((n = env_find(env, name, h)) != NULL)
		return var_fill(env, n, name, value, h);
	return env_add(env, name, value, h);
}

const char *
cgi_env_get(const struct cgienv *env, const char *name)
{
	const struct cgivar *v = env_find(env, name, name_hash(name));

	return v ? v->cv_value : NULL;
}

void
cgi_env_free(struct cgienv *env)
{
	struct cgichunk *c;

	while ((c = env->ce_chunks) != NULL) {
		env->ce_chunks = c->ck_next;
		free(c);
	}
	free(env->ce_vars);
	memset(env, 0, sizeof(*env));
}

char **
cgi_envp(const struct cgienv *env)
{
	char **envp;
	size_t i, nl, vl;

	if ((envp = calloc(env->ce_n + 1, sizeof(*envp))) == NULL)
		return NULL;
	for (i = 0; i < env->ce_n; i++) {
		nl = strlen(env->ce_vars[i].cv_name);
		vl = strlen(env->ce_vars[i].cv_value);
		if ((envp[i] = malloc(nl + vl + 2)) == NULL) {
			cgi_envp_free(envp);
			return NULL;
		}
		memcpy(envp[i], env->ce_vars[i].cv_name, nl);
		envp[i][nl] = '=';
		memcpy(envp[i] + nl + 1, env->ce_vars[i].cv_value, vl + 1);
	}
	return envp;
}

void
cgi_envp_free(char **envp)
{
	size_t i;

	if (envp == NULL)
		return;
	for (i = 0; envp[i]; i++)
		free(envp[i]);
	free(envp);
}

/* The path part of a raw request target, as a new string. */
static char *
url_path(const char *url)
{
	const char *p = url;

	if (!strncasecmp(p, "http://", 7) || !strncasecmp(p, "https://", 8)) {
		p = strstr(p, "//") + 2;
		p += strcspn(p, "/?");
	}
	return strndup(p, strcspn(p, "?"));
}

/* Does URL segment `seg` (decoded) name the file `base`, exactly or
 * by dirplex's extension-less match? */
static int
names_file(const char *seg, size_t sl, const char *base)
{
	return !strncmp(base, seg, sl) &&
	    (base[sl] == '\0' ||
		(base[sl] == '.' && memchr(seg, '.', sl) == NULL));
}

/* The document root: the file without the part SCRIPT_NAME names (the
 * name's last segment may lack the file's extensions). */
static char *
doc_root(const char *file, const char *sname)
{
	const char *fbase, *nbase;
	size_t fl = strlen(file), sl = strlen(sname), dl;

	if (sname[0] != '/')
		return NULL;
	if (fl > sl && !strcmp(file + fl - sl, sname))
		return strndup(file, fl - sl);
	fbase = strrchr(file, '/') + 1;
	nbase = strrchr(sname, '/') + 1;
	dl = (size_t)(nbase - sname); /* "/dir/" part, slashes included */
	if (!names_file(nbase, strlen(nbase), fbase) ||
	    (size_t)(fbase - file) < dl || strncmp(fbase - dl, sname, dl))
		return NULL;
	return strndup(file, (size_t)(fbase - dl - file));
}

char *
cgi_abs_path(const char *file)
{
	static char *cwd;
	size_t cl, fl;
	char *p;

	if (*file == '/' || (cwd == NULL && (cwd = getcwd(NULL, 0)) == NULL))
		return strdup(file);
	cl = strlen(cwd);
	fl = strlen(file);
	if ((p = malloc(cl + fl + 2)) == NULL)
		return NULL;
	memcpy(p, cwd, cl);
	p[cl] = '/';
	memcpy(p + cl + 1, file, fl + 1);
	return p;
}

/* X-Ash-File as an absolute path (cgi_abs_path()), else the script. */
static char *
file_abs(const struct req *r, const char *script)
{
	const char *f = req_header(r, "X-Ash-File");

	if (f == NULL || *f == '\0')
		return script ? strdup(script) : NULL;
	return cgi_abs_path(f);
}

/*
 * Split the URL path, its dot-segments resolved, into SCRIPT_NAME and
 * PATH_INFO (both decoded).
 * The rest string is what the handlers before us left of the path:
 *   "/x/y"  ashd's dirplex after a file: the path ends with it, which
 *           is PATH_INFO, and what comes before is the script
 *   "x/y"   a capture or a patplex mount point: the same at the "/"
 *           before it ("/app/x/y" -> "/app" and "/x/y")
 *   ""      the whole path is the script; a directory's index script
 *           ("/dir/", X-Ash-File dir/index.cgi) is "/dir/index.cgi",
 *           as Apache names it; a mount point without a file ("/app/")
 *           is "/app" with PATH_INFO "/"
 * A rest string the path does not end with (a patplex rewrite) is the
 * PATH_INFO of the whole path.
 */
static int
split_path(const struct req *r, const char *file, char **snamep, char **pinfop)
{
	const char *rest = r->r_rest, *base;
	char *path, *sname = NULL, *pinfo = NULL;
	size_t pl, rl = strlen(rest), cut;
	struct buf b = BUF_INIT;
	int rv = -1;

	if ((path = url_path(r->r_url)) == NULL)
		return -1;
	/* With its dot-segments resolved, as htparser resolved the rest
	 * string, so that it ends with the rest again (a path it cannot
	 * resolve never got this far through htparser: kept as it is). */
	if (path[0] == '/' && url_resolve_rest(path + 1) != 0) {
		free(path);
		if ((path = url_path(r->r_url)) == NULL)
			return -1;
	}
	pl = strlen(path);
	if (rl > 0 && pl >= rl && !strcmp(path + pl - rl, rest) &&
	    (rest[0] == '/' || (pl > rl && path[pl - rl - 1] == '/'))) {
		cut = rest[0] == '/' ? pl - rl : pl - rl - 1;
		pinfo = url_decode_str(path + cut, NULL);
		path[cut] = '\0';
		sname = url_decode_str(path, NULL);
	} else if (rl > 0) {
		sname = url_decode_str(path, NULL);
		if (buf_printf(&b, "%s", rest[0] == '/' ? "" : "/") == -1 ||
		    buf_appends(&b, rest) == -1)
			goto done;
		pinfo = url_decode_str(b.b_data, NULL);
	} else if (pl > 0 && path[pl - 1] == '/' && file != NULL &&
	    (base = strrchr(file, '/')) != NULL && base[1] != '\0') {
		if ((sname = url_decode_str(path, NULL)) != NULL) {
			if (buf_printf(&b, "%s%s", sname, base + 1) == -1)
				goto done;
			free(sname);
			sname = buf_detach(&b, NULL);
		}
	} else if (pl > 0 && path[pl - 1] == '/' && file == NULL) {
		path[pl - 1] = '\0';
		sname = url_decode_str(path, NULL);
		pinfo = strdup("/");
	} else
		sname = url_decode_str(path, NULL);
	if (sname == NULL || (rl > 0 && pinfo == NULL))
		goto done;
	*snamep = sname;
	*pinfop = pinfo;
	sname = pinfo = NULL;
	rv = 0;
done:
	buf_free(&b);
	free(path);
	free(sname);
	free(pinfo);
	return rv;
}

/* SCRIPT_NAME, PATH_INFO, SCRIPT_FILENAME, DOCUMENT_ROOT,
 * PATH_TRANSLATED. */
static int
env_paths(struct cgienv *env, const struct req *r, const char *script)
{
	char *file, *sname = NULL, *pinfo = NULL, *root = NULL;
	struct buf b = BUF_INIT;
	int rv = -1;

	file = file_abs(r, script);
	if ((script || req_header(r, "X-Ash-File")) && file == NULL)
		return -1;
	if (split_path(r, file, &sname, &pinfo) == -1)
		goto done;
	if (env_new(env, "SCRIPT_NAME", sname) == -1)
		goto done;
	if (pinfo && *pinfo && env_new(env, "PATH_INFO", pinfo) == -1)
		goto done;
	if (file && env_new(env, "SCRIPT_FILENAME", file) == -1)
		goto done;
	if (file && (root = doc_root(file, sname)) != NULL) {
		if (env_new(env, "DOCUMENT_ROOT", root) == -1)
			goto done;
		if (pinfo && *pinfo &&
		    (buf_printf(&b, "%s%s", root, pinfo) == -1 ||
			env_new(env, "PATH_TRANSLATED", b.b_data) == -1))
			goto done;
	}
	rv = 0;
done:
	buf_free(&b);
	free(file);
	free(sname);
	free(pinfo);
	free(root);
	return rv;
}

/* SERVER_NAME: Host without the port ("[v6]:port" too). */
static int
env_server_name(struct cgienv *env, const struct req *r)
{
	const char *h = req_header(r, "Host"), *e;
	char *name;
	int rv;

	if (h == NULL || *h == '\0') {
		h = req_header(r, "X-Ash-Server-Address");
		return env_new(env, "SERVER_NAME", h ? h : "localhost");
	}
	if (*h == '[' && (e = strchr(h, ']')) != NULL)
		e++;
	else
		e = h + strcspn(h, ":");
	if ((name = strndup(h, (size_t)(e - h))) == NULL)
		return -1;
	rv = env_new(env, "SERVER_NAME", name);
	free(name);
	return rv;
}

/* HTTP_* for one header, joining repeats. */
static int
env_header(struct cgienv *env, const char *hname, const char *value)
{
	char name[256];
	struct cgivar *v;
	struct buf b = BUF_INIT;
	size_t i, n = strlen(hname);
	unsigned h;
	int rv;

	if (n + 6 > sizeof(name))
		return 0;
	switch (*hname | 0x20) {
	case 'x':
		if (!strncasecmp(hname, "X-Ash-", 6))
			return 0;
		break;
	case 'p':
		if (!strcasecmp(hname, "Proxy"))
			return 0;
		break;
	case 'c':
		if (!strcasecmp(hname, "Content-Type") ||
		    !strcasecmp(hname, "Content-Length"))
			return 0;
		break;
	}
	memcpy(name, "HTTP_", 5);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)hname[i];

		if (c == '-')
			name[5 + i] = '_';
		else if (isalnum(c))
			name[5 + i] = (char)toupper(c);
		else
			return 0; /* '_' and the like could spoof others */
	}
	name[5 + n] = '\0';
	h = name_hash(name);
	if ((v = env_find(env, name, h)) == NULL)
		return env_add(env, name, value, h);
	if (buf_printf(&b, "%s%s%s", v->cv_value,
		!strcasecmp(hname, "Cookie") ? "; " : ", ", value) == -1)
		return -1;
	rv = var_fill(env, v, name, b.b_data, h);
	buf_free(&b);
	return rv;
}

int
cgi_env_build(struct cgienv *env, const struct req *r, const char *script,
    long long content_length)
{
	/* The headers read here, each found in one pass over the
	 * request's (its first value, as req_header() gives): the
	 * first seven become the variable beside them. */
	static const struct {
		const char *var, *hdr;
		size_t len;
	} fromhdr[] = {
		{ "SERVER_ADDR", "X-Ash-Server-Address", 20 },
		{ "SERVER_PORT", "X-Ash-Server-Port", 17 },
		{ "REMOTE_ADDR", "X-Ash-Address", 13 },
		{ "REMOTE_PORT", "X-Ash-Port", 10 },
		{ "REMOTE_USER", "X-Ash-Remote-User", 17 },
		{ "AUTH_TYPE", "X-Ash-Auth-Type", 15 },
		{ "CONTENT_TYPE", "Content-Type", 12 },
		{ NULL, "X-Ash-Protocol", 14 },
		{ NULL, "Content-Length", 14 },
	};
	enum { NVARS = 7, PROTO = 7, CLEN = 8, NHDRS = 9 };
	const char *q, *v, *hv[NHDRS] = { NULL };
	char num[32];
	size_t i, k, nl;

	memset(env, 0, sizeof(*env));
	q = strchr(r->r_url, '?');
	if (env_new(env, "GATEWAY_INTERFACE", "CGI/1.1") == -1 ||
	    env_new(env, "SERVER_SOFTWARE", PACKAGE_NAME "/" PACKAGE_VERSION) ==
		-1 ||
	    env_new(env, "SERVER_PROTOCOL", r->r_version) == -1 ||
	    env_new(env, "REQUEST_METHOD", r->r_method) == -1 ||
	    env_new(env, "REQUEST_URI", r->r_url) == -1 ||
	    env_new(env, "QUERY_STRING", q ? q + 1 : "") == -1 ||
	    env_new(env, "REDIRECT_STATUS", "200") == -1 ||
	    env_server_name(env, r) == -1 || env_paths(env, r, script) == -1)
		goto fail;
	for (i = 0; i < r->r_nhdrs; i++) {
		const char *n = r->r_hdrs[i].h_name;

		if ((*n | 0x20) != 'x' && (*n | 0x20) != 'c')
			continue;
		nl = strlen(n);
		for (k = 0; k < NHDRS; k++)
			if (hv[k] == NULL && fromhdr[k].len == nl &&
			    !strcasecmp(n, fromhdr[k].hdr)) {
				hv[k] = r->r_hdrs[i].h_value;
				break;
			}
	}
	for (k = 0; k < NVARS; k++)
		if (hv[k] != NULL && env_new(env, fromhdr[k].var, hv[k]) == -1)
			goto fail;
	if ((v = hv[PROTO]) && !strcmp(v, "https") &&
	    env_new(env, "HTTPS", "on") == -1)
		goto fail;
	if (content_length < 0 && (v = hv[CLEN]) && strcmp(v, "0"))
		content_length = strtoll(v, NULL, 10);
	if (content_length > 0) {
		snprintf(num, sizeof(num), "%lld", content_length);
		if (env_new(env, "CONTENT_LENGTH", num) == -1)
			goto fail;
	}
	for (i = 0; i < r->r_nhdrs; i++)
		if (env_header(env, r->r_hdrs[i].h_name,
			r->r_hdrs[i].h_value) == -1)
			goto fail;
	return 0;
fail:
	cgi_env_free(env);
	errno = ENOMEM;
	return -1;
}

/* Names a script must only ever get from the request (RFC 3875 4.1,
 * and those this file adds). */
static const char *const cgi_names[] = {
	"AUTH_TYPE",
	"CONTENT_LENGTH",
	"CONTENT_TYPE",
	"DOCUMENT_ROOT",
	"GATEWAY_INTERFACE",
	"HTTPS",
	"PATH_INFO",
	"PATH_TRANSLATED",
	"QUERY_STRING",
	"REDIRECT_STATUS",
	"REMOTE_ADDR",
	"REMOTE_HOST",
	"REMOTE_IDENT",
	"REMOTE_PORT",
	"REMOTE_USER",
	"REQUEST_METHOD",
	"REQUEST_URI",
	"SCRIPT_FILENAME",
	"SCRIPT_NAME",
	"SERVER_ADDR",
	"SERVER_NAME",
	"SERVER_PORT",
	"SERVER_PROTOCOL",
	"SERVER_SOFTWARE",
};

int
cgi_env_inherit(struct cgienv *env, char *const *envp)
{
	const char *eq;
	char *name;
	size_t i, nl;
	int rv;

	for (; envp && *envp; envp++) {
		if ((eq = strchr(*envp, '=')) == NULL || eq == *envp)
			continue;
		nl = (size_t)(eq - *envp);
		if ((nl >= 5 && !strncmp(*envp, "HTTP_", 5)) ||
		    (nl >= 4 && !strncmp(*envp, "REQ_", 4)))
			continue;
		for (i = 0; i < sizeof(cgi_names) / sizeof(cgi_names[0]); i++)
			if (strlen(cgi_names[i]) == nl &&
			    !strncmp(cgi_names[i], *envp, nl))
				break;
		if (i < sizeof(cgi_names) / sizeof(cgi_names[0]))
			continue;
		if ((name = strndup(*envp, nl)) == NULL)
			return -1;
		rv = cgi_env_get(env, name) ? 0
					    : cgi_env_set(env, name, eq + 1);
		free(name);
		if (rv == -1)
			return -1;
	}
	return 0;
}

int
cgi_parse_head(const char *buf, size_t len, struct http_resp *resp,
    const char **why)
{
	const char *st, *loc;
	char *reason;
	int n, code;

	*why = NULL;
	if ((n = http_parse_fields(buf, len, resp)) <= 0) {
		if (n < 0 && errno == EBADMSG)
			*why = "malformed header block";
		return n;
	}
	loc = http_resp_header(resp, "Location");
	if ((st = http_resp_header(resp, "Status")) != NULL) {
		if (strlen(st) < 3 || !isdigit((unsigned char)st[0]) ||
		    !isdigit((unsigned char)st[1]) ||
		    !isdigit((unsigned char)st[2]) ||
		    (st[3] != '\0' && st[3] != ' ') ||
		    (code = atoi(st)) < 100 || code > 599) {
			*why = "bad Status header";
			goto bad;
		}
		resp->hr_status = code;
		st += 3;
		while (*st == ' ')
			st++;
		reason = strdup(*st ? st : http_reason(code));
		http_resp_remove(resp, "Status");
	} else {
		resp->hr_status = loc ? 302 : 200;
		reason = strdup(http_reason(resp->hr_status));
	}
	if (reason == NULL) {
		http_resp_free(resp);
		errno = ENOMEM;
		return -1;
	}
	resp->hr_reason = reason; /* none before: a head without status line */
	return n;
bad:
	http_resp_free(resp);
	errno = EBADMSG;
	return -1;
}

int
cgi_spool(int sock, const char *tmpdir, int *fdp, long long *lenp)
{
	struct spool sp;
	int rv;

	/* A spool with no memory: straight to the file, kept across
	 * calls in *fdp. */
	spool_init(&sp, tmpdir, 0);
	sp.sp_fd = *fdp;
	sp.sp_len = *lenp;
	rv = spool_fill(&sp, sock);
	*fdp = sp.sp_fd;
	*lenp = sp.sp_len;
	if (rv == 1 && *fdp >= 0 && lseek(*fdp, 0, SEEK_SET) == -1)
		return -1;
	return rv;
}

int
cgi_http_head(struct buf *b, const struct http_resp *resp)
{
	size_t i, need, old = b->b_len;
	char *p;
	int st = resp->hr_status;

	/* Measured first, then written in place: one reservation, no
	 * printf (this runs for every response of a script). */
	if (st < 100 || st > 999) {
		errno = EINVAL;
		return -1;
	}
	need = 13 + strlen(resp->hr_reason) + 2 + 2;
	for (i = 0; i < resp->hr_nhdrs; i++)
		need += strlen(resp->hr_hdrs[i].h_name) +
		    strlen(resp->hr_hdrs[i].h_value) + 4;
	if (buf_reserve(b, need) == -1)
		return -1;
	p = b->b_data + old;
	p = stpcpy(p, "HTTP/1.1 ");
	*p++ = (char)('0' + st / 100);
	*p++ = (char)('0' + st / 10 % 10);
	*p++ = (char)('0' + st % 10);
	*p++ = ' ';
	p = stpcpy(p, resp->hr_reason);
	p = stpcpy(p, "\r\n");
	for (i = 0; i < resp->hr_nhdrs; i++) {
		p = stpcpy(p, resp->hr_hdrs[i].h_name);
		p = stpcpy(p, ": ");
		p = stpcpy(p, resp->hr_hdrs[i].h_value);
		p = stpcpy(p, "\r\n");
	}
	p = stpcpy(p, "\r\n");
	b->b_len = (size_t)(p - b->b_data);
	return 0;
}
