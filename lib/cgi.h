/*
 * cgi.h: what CGI/1.1 (RFC 3875) and FastCGI share: the request
 * meta-variables computed from an ashd request, and the parsing of a
 * script's response head.  callcgi and callfcgi both use these, so a
 * script sees the same variables under either.
 *
 * Variables (see callcgi(1) for the full table):
 *   GATEWAY_INTERFACE  "CGI/1.1"
 *   SERVER_SOFTWARE    PACKAGE/VERSION
 *   SERVER_PROTOCOL    the request's version
 *   SERVER_NAME        Host without its port (else X-Ash-Server-Address)
 *   SERVER_ADDR, SERVER_PORT   X-Ash-Server-Address, X-Ash-Server-Port
 *   REMOTE_ADDR, REMOTE_PORT   X-Ash-Address, X-Ash-Port
 *   REMOTE_USER        X-Ash-Remote-User, when present
 *   AUTH_TYPE          X-Ash-Auth-Type, when present (htextauth: Basic)
 *   REQUEST_METHOD, REQUEST_URI (raw), QUERY_STRING (raw, "" if none)
 *   SCRIPT_NAME, PATH_INFO     the URL path split where the rest string
 *                      begins; decoded; PATH_INFO only when not empty;
 *                      a directory's index script is "/dir/INDEX"
 *   SCRIPT_FILENAME    X-Ash-File made absolute (links not resolved),
 *                      else the script given
 *   DOCUMENT_ROOT, PATH_TRANSLATED  when SCRIPT_FILENAME shows the root
 *   CONTENT_TYPE, CONTENT_LENGTH    from the request (see cgi_env_build)
 *   HTTPS              "on" when X-Ash-Protocol is https
 *   REDIRECT_STATUS    "200" (php-cgi refuses to run without it)
 *   HTTP_*             every other header, upper-cased, '-' -> '_';
 *                      never Proxy (httpoxy), Content-Type/-Length,
 *                      X-Ash-*, or names with characters other than
 *                      letters, digits and '-'; repeated headers joined
 *                      with ", " ("; " for Cookie)
 */
#ifndef ASHD_CGI_H
#define ASHD_CGI_H

#include <stddef.h>

struct buf;
struct req;
struct http_resp;

/* cv_name and cv_value are one allocation ("NAME\0VALUE\0", from
 * cv_name); cv_hash is the name's, to skip most comparisons. */
struct cgivar {
	char *cv_name;
	char *cv_value;
	unsigned cv_hash;
};

struct cgichunk;

/* Zeroed before first use (cgi_env_build() does it). */
struct cgienv {
	struct cgivar *ce_vars;
	size_t ce_n, ce_cap;
	/* private: the names and values, packed into a few chunks
	 * rather than an allocation each */
	struct cgichunk *ce_chunks;
};

/*
 * Fill env for request r and the script at `script` (absolute path, or
 * NULL if there is none).  content_length: the body length to announce
 * (-1: take the request's Content-Length header, if any; 0 or more: use
 * it, 0 meaning no CONTENT_LENGTH).  0, or -1 with ENOMEM.
 */
int cgi_env_build(struct cgienv *env, const struct req *r, const char *script,
    long long content_length);
/*
 * file (X-Ash-File) as an absolute path, not resolved: a symbolic link
 * keeps its own name, as the URL does, as in ashd.  A relative name is
 * taken from the working directory, where dirplex starts its handlers,
 * learnt at the first call (no system call per request).  NULL on
 * ENOMEM.
 */
char *cgi_abs_path(const char *file);
/*
 * Add the variables of envp (NAME=VALUE strings, as in environ) that
 * env does not have, except those only a request may set: the CGI
 * meta-variables above, HTTP_* and REQ_* (ashd's transient request
 * headers).  So `env CGIT_CONFIG=... callcgi` reaches its scripts, as
 * in ashd, while nothing outside can pose as part of the request.
 * 0, or -1 on ENOMEM.
 */
int cgi_env_inherit(struct cgienv *env, char *const *envp);
/* Add or replace one variable; 0 / -1. */
int cgi_env_set(struct cgienv *env, const char *name, const char *value);
const char *cgi_env_get(const struct cgienv *env, const char *name);
/* "NAME=VALUE" strings for execve(), NULL-terminated, one allocation
 * per string plus the array (free with cgi_envp_free()). */
char **cgi_envp(const struct cgienv *env);
void cgi_envp_free(char **envp);
void cgi_env_free(struct cgienv *env);

/*
 * Parse a CGI response head (RFC 3875 6): header lines ending in LF or
 * CRLF, then an empty line.  Fills resp with the status (from Status:,
 * else 302 for a Location without Status, else 200), the reason, and
 * the other headers.  Returns the head's length, 0 if more is needed,
 * or -1 (errno EBADMSG: malformed, with *why set to a short reason;
 * ENOMEM).  A "Location" that is a local path ("/...") is passed to the
 * client as a redirect too (no internal redirects).
 */
int cgi_parse_head(const char *buf, size_t len, struct http_resp *resp,
    const char **why);

/* The HTTP/1.1 head for a parsed CGI head (status line, fields, empty
 * line), appended to b; 0 / -1. */
int cgi_http_head(struct buf *b, const struct http_resp *resp);

/*
 * Store a request body of unknown length (a chunked one) so that its
 * length can be given: read what `sock` has now (without blocking) into
 * a temporary file in `tmpdir`, created on the first byte (*fdp starts
 * at -1).  Returns 1 at end-of-file (then *fdp is rewound, or still -1
 * if there was no body, and *lenp holds the length), 0 if more is to
 * come, -1 on error (errno; EPIPE-like errors mean the client left).
 */
int cgi_spool(int sock, const char *tmpdir, int *fdp, long long *lenp);

#endif
