/*
 * fuzz_cgi.c: the CGI/1.1 variables of a request (lib/cgi.c,
 * cgi_env_build()) from a request datagram (lib/req.c).
 *
 * Invariants checked, for every datagram req_decode accepts:
 *  - cgi_env_build succeeds (or fails with ENOMEM only);
 *  - every variable name is non-empty and made of upper-case letters,
 *    digits and '_'; no name appears twice; no value holds a NUL (they
 *    are C strings) and cgi_envp() gives exactly NAME=value for each;
 *  - GATEWAY_INTERFACE is CGI/1.1, REQUEST_METHOD the method,
 *    REQUEST_URI the URL, QUERY_STRING what follows its first '?';
 *  - no HTTP_PROXY (httpoxy), no HTTP_CONTENT_LENGTH/TYPE, no
 *    HTTP_X_ASH_*.
 */
#include <errno.h>

#include "cgi.h"
#include "req.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct cgienv env;
	struct req *r;
	const char *n, *q;
	char *in, **envp;
	size_t i, k;

	in = fuzz_dup(data, len);
	if ((r = req_decode(in, len)) == NULL) {
		free(in);
		return 0;
	}
	if (cgi_env_build(&env, r, NULL, -1) == -1) {
		CHECK(errno == ENOMEM, "cgi_env_build: %d", errno);
		goto done;
	}
	for (i = 0; i < env.ce_n; i++) {
		n = env.ce_vars[i].cv_name;
		CHECK(*n != '\0', "an empty name");
		CHECK(strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") ==
			strlen(n),
		    "bad name %s", n);
		for (k = i + 1; k < env.ce_n; k++)
			CHECK(strcmp(n, env.ce_vars[k].cv_name), "%s twice", n);
		CHECK(strcmp(n, "HTTP_PROXY") &&
			strcmp(n, "HTTP_CONTENT_LENGTH") &&
			strcmp(n, "HTTP_CONTENT_TYPE") &&
			strncmp(n, "HTTP_X_ASH_", 11),
		    "%s set", n);
	}
	CHECK(!strcmp(cgi_env_get(&env, "GATEWAY_INTERFACE"), "CGI/1.1"), "GI");
	CHECK(!strcmp(cgi_env_get(&env, "REQUEST_METHOD"), r->r_method), "RM");
	CHECK(!strcmp(cgi_env_get(&env, "REQUEST_URI"), r->r_url), "RU");
	q = strchr(r->r_url, '?');
	CHECK(!strcmp(cgi_env_get(&env, "QUERY_STRING"), q ? q + 1 : ""), "QS");
	if ((envp = cgi_envp(&env)) != NULL) {
		for (i = 0; envp[i] != NULL; i++) {
			CHECK(i < env.ce_n, "more strings than variables");
			n = env.ce_vars[i].cv_name;
			CHECK(!strncmp(envp[i], n, strlen(n)) &&
				envp[i][strlen(n)] == '=' &&
				!strcmp(envp[i] + strlen(n) + 1,
				    env.ce_vars[i].cv_value),
			    "%s", n);
		}
		CHECK(i == env.ce_n, "fewer strings than variables");
		cgi_envp_free(envp);
	}
	cgi_env_free(&env);
done:
	req_free(r);
	free(in);
	return 0;
}
