/*
 * callscgi: pass ashd requests to SCGI applications, as a persistent
 * handler (see callscgi(1)).
 *
 * main() reads the options (lib/backend's, shared with callfcgi, and
 * -s), starts what the mode starts, and serves requests from standard
 * input until they end (lib/handler); then, in anonymous mode, the
 * application is stopped and its socket removed.
 */
#include <stdio.h>

#include "callscgi.h"
#include "handler.h"

struct loop *loop;
int streambody;

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: callscgi [-hsV] [-N RETRIES] [-i ID] [-u UNIXPATH] "
	    "[-t [HOST:]PORT]...\n"
	    "                [-n PROCESSES] [-m CONNECTIONS] [-T SECONDS] "
	    "[PROGRAM [ARGS...]]\n");
}

static const struct handler callscgi_handler = {
	.h_request = sreq_start,
	.h_reaped = backend_child,
	.h_batch = 64,
};

int
main(int argc, char **argv)
{
	return backend_main(argc, argv, usage, &streambody, &loop,
	    &callscgi_handler);
}
