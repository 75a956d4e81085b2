/*
 * callfcgi: pass ashd requests to FastCGI applications (FastCGI 1.0,
 * Responder role), as a persistent handler.
 *
 * The options, the four modes of ashd's callscgi and the application
 * processes are lib/backend's (see callfcgi(1)), but for -s (stream
 * request bodies instead of receiving them whole first); requests come
 * through lib/handler's loop.
 */
#include <stdio.h>

#include "callfcgi.h"
#include "handler.h"
#include "req.h"

struct loop *loop;
int streambody;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: callfcgi [-hsV] [-N RETRIES] [-i ID] [-u UNIXPATH] "
	    "[-t [HOST:]PORT]...\n"
	    "                [-n PROCESSES] [-m CONNECTIONS] [-T SECONDS] "
	    "[PROGRAM [ARGS...]]\n");
}

static void
start_one(struct req *r, int fd, void *arg)
{
	(void)arg;
	freq_start(r, fd);
}

static const struct handler callfcgi_handler = {
	.h_request = start_one,
	.h_reaped = backend_child,
	.h_batch = 64,
};

int
main(int argc, char **argv)
{
	return backend_main(argc, argv, usage, &streambody, &loop,
	    &callfcgi_handler);
}
