/*
 * test_cgi.c: the CGI/1.1 variables lib/cgi builds from a request
 * (cgi_env_build()), one table row a request and the variables it must
 * and must not give.  SCRIPT_NAME and PATH_INFO are left to the suites
 * (callcgi.bats), where their rules are being changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi.h"
#include "req.h"
#include "tap.h"

#define MAXH 6

static const struct {
	int line;
	const char *url;
	const char *hdrs[MAXH * 2 + 1]; /* name, value, ..., NULL */
	long long clen;
	const char *want[16]; /* "NAME=value", or "!NAME": unset */
} rows[] = {
	{ __LINE__, "/s?a=1&b", { NULL }, -1,
	    { "GATEWAY_INTERFACE=CGI/1.1", "REQUEST_METHOD=GET",
		"REQUEST_URI=/s?a=1&b", "QUERY_STRING=a=1&b",
		"SERVER_PROTOCOL=HTTP/1.1", "REDIRECT_STATUS=200", "!HTTPS",
		"!CONTENT_LENGTH", "!CONTENT_TYPE", "!REMOTE_USER", NULL } },
	{ __LINE__, "/s", { NULL }, -1, { "QUERY_STRING=", NULL } },
	{ __LINE__, "/s", { "Host", "example.org:8080", NULL }, -1,
	    { "SERVER_NAME=example.org", "HTTP_HOST=example.org:8080", NULL } },
	{ __LINE__, "/s", { "Host", "[::1]:8080", NULL }, -1,
	    { "SERVER_NAME=[::1]", NULL } },
	{ __LINE__, "/s",
	    { "X-Ash-Server-Address", "10.0.0.1", "X-Ash-Server-Port", "81",
		"X-Ash-Address", "10.0.0.2", "X-Ash-Port", "5555", NULL },
	    -1,
	    { "SERVER_NAME=10.0.0.1", "SERVER_ADDR=10.0.0.1", "SERVER_PORT=81",
		"REMOTE_ADDR=10.0.0.2", "REMOTE_PORT=5555",
		"!HTTP_X_ASH_ADDRESS", NULL } },
	{ __LINE__, "/s", { "X-Ash-Protocol", "https", NULL }, -1,
	    { "HTTPS=on", NULL } },
	{ __LINE__, "/s", { "X-Ash-Protocol", "http", NULL }, -1,
	    { "!HTTPS", NULL } },
	{ __LINE__, "/s",
	    { "X-Ash-Remote-User", "ann", "X-Ash-Auth-Type", "Basic", NULL },
	    -1, { "REMOTE_USER=ann", "AUTH_TYPE=Basic", NULL } },
	{ __LINE__, "/s",
	    { "Content-Type", "text/plain", "Content-Length", "12", NULL }, -1,
	    { "CONTENT_TYPE=text/plain", "CONTENT_LENGTH=12",
		"!HTTP_CONTENT_TYPE", "!HTTP_CONTENT_LENGTH", NULL } },
	{ __LINE__, "/s", { "Content-Length", "0", NULL }, -1,
	    { "!CONTENT_LENGTH", NULL } },
	{ __LINE__, "/s", { "Content-Length", "12", NULL }, 99,
	    { "CONTENT_LENGTH=99", NULL } },
	{ __LINE__, "/s", { NULL }, 0, { "!CONTENT_LENGTH", NULL } },
	{ __LINE__, "/s", { "Proxy", "http://evil", "X-Custom-1", "v", NULL },
	    -1, { "!HTTP_PROXY", "HTTP_X_CUSTOM_1=v", NULL } },
	{ __LINE__, "/s", { "X_Bad", "u", "X.Dot", "d", NULL }, -1,
	    { "!HTTP_X_BAD", "!HTTP_X_DOT", NULL } },
	{ __LINE__, "/s", { "Accept", "a", "accept", "b", NULL }, -1,
	    { "HTTP_ACCEPT=a, b", NULL } },
	{ __LINE__, "/s", { "Cookie", "a=1", "Cookie", "b=2", NULL }, -1,
	    { "HTTP_COOKIE=a=1; b=2", NULL } },
};

int
main(void)
{
	struct cgienv env;
	struct req *r;
	const char *w, *eq, *got;
	char name[64];
	size_t i, k;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if ((r = req_new("GET", rows[i].url, "HTTP/1.1", "")) == NULL)
			abort();
		for (k = 0; rows[i].hdrs[k] != NULL; k += 2)
			if (req_add_header(r, rows[i].hdrs[k],
				rows[i].hdrs[k + 1]) == -1)
				abort();
		if (!ok_at(rows[i].line,
			cgi_env_build(&env, r, NULL, rows[i].clen) == 0,
			"cgi_env_build %s", rows[i].url)) {
			req_free(r);
			continue;
		}
		for (k = 0; (w = rows[i].want[k]) != NULL; k++) {
			if (*w == '!') {
				ok_at(rows[i].line,
				    cgi_env_get(&env, w + 1) == NULL,
				    "%s not set", w + 1);
				continue;
			}
			eq = strchr(w, '=');
			snprintf(name, sizeof(name), "%.*s", (int)(eq - w), w);
			got = cgi_env_get(&env, name);
			is_str_at(rows[i].line, got, eq + 1, name);
		}
		cgi_env_free(&env);
		req_free(r);
	}
	return tap_done();
}
