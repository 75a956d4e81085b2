/*
 * hello.c: a persistent handler written against the installed libashd
 * (libashd(3)).  It answers every request with a short text naming the
 * method, the rest string and the client's User-Agent; ?name=X says
 * hello to X.  The same handler is in hello.py and hello.sh.
 *
 *	cc -o hello-c hello.c $(pkg-config --cflags --libs ashd)
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ashd/handler.h>
#include <ashd/http.h>
#include <ashd/log.h>
#include <ashd/req.h>

/* The value of ?name= (letters, digits, '-', '_'), or "world". */
static void
name_of(const char *url, char *out, size_t cap)
{
	const char *q = strchr(url, '?'), *p;
	size_t n = 0;

	for (p = q; p != NULL; p = strchr(p + 1, '&'))
		if (strncmp(p + 1, "name=", 5) == 0)
			break;
	if (p != NULL)
		for (p += 6; n + 1 < cap &&
		     (strchr("-_", *p) || (*p >= 'a' && *p <= 'z') ||
			 (*p >= 'A' && *p <= 'Z') ||
			 (*p >= '0' && *p <= '9')) &&
		     *p != '\0';
		     p++)
			out[n++] = *p;
	if (n == 0)
		n = (size_t)snprintf(out, cap, "world");
	out[n] = '\0';
}

static void
hello(struct req *r, int fd, void *arg)
{
	const char *ua = req_header(r, "User-Agent");
	char name[64], body[1024];
	int n;

	(void)arg;
	name_of(r->r_url, name, sizeof(name));
	n = snprintf(body, sizeof(body),
	    "Hello, %s!\nfrom: C\nmethod: %s\n"
	    "rest: %s\nuser-agent: %s\n",
	    name, r->r_method, r->r_rest, ua ? ua : "-");
	/* htparser leaves the body out of the response to a HEAD. */
	if (n < 0 || (size_t)n >= sizeof(body))
		http_error(fd, 500, "Too long.");
	else if (http_reply(fd, 200, "text/plain; charset=utf-8", NULL, body,
		     (size_t)n) == -1)
		log_errno(LOG_WARNING, "writing the response");
	close(fd);
	req_free(r);
}

int
main(int argc, char **argv)
{
	static const struct handler h = { .h_request = hello };

	(void)argc;
	log_init(argv[0]);
	return handler_run(&h, NULL);
}
