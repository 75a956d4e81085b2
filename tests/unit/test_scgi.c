/*
 * test_scgi.c: SCGI request heads (lib/scgi.c).
 *
 * The exact bytes of small heads written out by hand from the SCGI
 * protocol text, then a head built from a real request (cgi_env_build)
 * read back by an independent netstring parser: the length prefix, the
 * comma, CONTENT_LENGTH first, SCGI second, every other variable once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cgi.h"
#include "req.h"
#include "scgi.h"
#include "tap.h"

static void
exact_heads(void)
{
	static const char want1[] = "24:CONTENT_LENGTH\0"
				    "0\0"
				    "SCGI\0"
				    "1\0"
				    ",";
	static const char want2[] = "48:CONTENT_LENGTH\0"
				    "12\0"
				    "SCGI\0"
				    "1\0"
				    "REQUEST_METHOD\0"
				    "POST\0"
				    "X\0"
				    "\0"
				    ",";
	struct cgienv env;
	struct buf b = BUF_INIT;

	memset(&env, 0, sizeof(env));
	ok(scgi_encode_head(&b, &env, 0) == 0, "empty env encodes");
	is_mem(b.b_data, b.b_len, want1, sizeof(want1) - 1,
	    "CONTENT_LENGTH 0 and SCGI 1 only");
	buf_clear(&b);
	/* env's own CONTENT_LENGTH and SCGI are replaced, not repeated. */
	if (cgi_env_set(&env, "CONTENT_LENGTH", "99") == -1 ||
	    cgi_env_set(&env, "REQUEST_METHOD", "POST") == -1 ||
	    cgi_env_set(&env, "SCGI", "2") == -1 ||
	    cgi_env_set(&env, "X", "") == -1)
		exit(99);
	ok(scgi_encode_head(&b, &env, 12) == 0, "env with variables encodes");
	is_mem(b.b_data, b.b_len, want2, sizeof(want2) - 1,
	    "the given length first, SCGI 1, then the rest in order");
	/* Appended behind what b holds; a full buffer is an error. */
	buf_clear(&b);
	buf_appends(&b, "xy");
	ok(scgi_encode_head(&b, &env, 12) == 0 &&
		b.b_len == 2 + sizeof(want2) - 1 &&
		!memcmp(b.b_data + 2, want2, sizeof(want2) - 1),
	    "appended behind existing bytes");
	buf_free(&b);
	buf_init(&b, 20);
	errno = 0;
	ok(scgi_encode_head(&b, &env, 12) == -1 && errno == EMSGSIZE,
	    "a buffer limit is EMSGSIZE");
	buf_free(&b);
	cgi_env_free(&env);
}

/* Parse the netstring in b: the pairs, NULL-terminated, or NULL. */
static char **
parse(const char *p, size_t len, size_t *np)
{
	char *end, **v;
	unsigned long n;
	size_t i = 0, k = 0;
	const char *h;

	n = strtoul(p, &end, 10);
	if (*end != ':' || (size_t)(end - p) + 1 + n + 1 != len ||
	    end[1 + n] != ',' || n == 0 || end[n] != '\0')
		return NULL;
	h = end + 1;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		exit(99);
	while (i < n) {
		v[k++] = (char *)h + i;
		i += strlen(h + i) + 1;
	}
	*np = k;
	return k % 2 ? (free(v), NULL) : v;
}

static void
from_request(void)
{
	struct req *r;
	struct cgienv env;
	struct buf b = BUF_INIT;
	char **v;
	size_t n = 0, i, j, dup = 0;

	r = req_new("POST", "/app/x.py/more?q=1", "HTTP/1.1", "more");
	if (r == NULL || req_add_header(r, "Host", "example.org:8080") ||
	    req_add_header(r, "Content-Length", "5") ||
	    req_add_header(r, "Content-Type", "text/plain") ||
	    req_add_header(r, "X-Ash-Address", "192.0.2.1") ||
	    req_add_header(r, "Accept", "*/*") ||
	    cgi_env_build(&env, r, "/srv/app/x.py", -1) == -1)
		exit(99);
	ok(scgi_encode_head(&b, &env, 5) == 0, "a request's head encodes");
	v = parse(b.b_data, b.b_len, &n);
	ok(v != NULL, "a well-formed netstring of name/value pairs");
	if (v == NULL)
		return;
	ok(!strcmp(v[0], "CONTENT_LENGTH") && !strcmp(v[1], "5"),
	    "CONTENT_LENGTH 5 first");
	ok(!strcmp(v[2], "SCGI") && !strcmp(v[3], "1"), "SCGI 1 second");
	is_int(n / 2, env.ce_n + 1, "every variable, plus SCGI");
	for (i = 0; i < n; i += 2)
		for (j = i + 2; j < n; j += 2)
			dup += !strcmp(v[i], v[j]);
	is_int(dup, 0, "no name twice");
	for (i = 4; i < n && strcmp(v[i], "PATH_INFO"); i += 2)
		;
	ok(i < n && !strcmp(v[i + 1], "/more"), "PATH_INFO from lib/cgi");
	free(v);
	buf_free(&b);
	cgi_env_free(&env);
	req_free(r);
}

int
main(void)
{
	exact_heads();
	from_request();
	return tap_done();
}
