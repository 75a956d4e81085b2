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
#include <unistd.h>

#include "callscgi.h"
#include "handler.h"
#include "log.h"

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
	int c;

	log_init(argv[0]);
	if (log_want_version(argc, argv))
		return log_version();
	backend_init();
	while ((c = getopt(argc, argv, "+hsV" BACKEND_GETOPT)) != -1) {
		switch (backend_option(c, optarg)) {
		case 1:
			continue;
		case -1:
			return 2;
		}
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 's':
			streambody = 1;
			break;
		case 'V':
			return log_version();
		default:
			usage(stderr);
			return 2;
		}
	}
	if (backend_args(argv + optind) == -1) {
		usage(stderr);
		return 2;
	}
	loop = handler_loop();
	return backend_serve(&callscgi_handler);
}
