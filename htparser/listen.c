/*
 * listen.c: port specifications (HANDLER[:PAR[=VAL][,PAR[=VAL]]...])
 * and the listening sockets they make.  Only "plain" (TCP) exists.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"

static void
listener_event(struct watch *w, uint32_t ev)
{
	conn_accept(w->w_arg);
}

static void
plain_help(void)
{
	printf("plain: plain TCP (HTTP without TLS)\n"
	    "parameters:\n"
	    "  port=PORT    port to listen on (default 80)\n"
	    "  local=ADDR   address to bind (default: all, IPv6 and IPv4)\n");
}

/* Bind one socket for (local, port); 0 or -1 (logged). */
static int
plain_bind(const char *local, const char *port)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct listener *l;
	int fd = -1, one = 1, rv, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (local)
		hints.ai_flags |= AI_NUMERICHOST;
	if ((rv = getaddrinfo(local, port, &hints, &res)) != 0) {
		log_msg(LOG_ERR, "plain: %s:%s: %s", local ? local : "*", port,
		    gai_strerror(rv));
		return -1;
	}
	/* Without local=, prefer one dual-stack IPv6 socket. */
	for (ai = res; ai; ai = ai->ai_next)
		if (!local && ai->ai_family == AF_INET6)
			break;
	if (ai == NULL)
		ai = res;
	for (; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && !local) {
			int zero = 0;

			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
			    sizeof(zero));
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1024) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = err;
		log_errno(LOG_ERR, "plain: cannot listen on %s port %s",
		    local ? local : "*", port);
		return -1;
	}
	l = xcalloc(1, sizeof(*l));
	l->l_fd = fd;
	watch_init(&l->l_watch, fd, listener_event, l);
	l->l_next = srv.s_listeners;
	srv.s_listeners = l;
	return 0;
}

int
portspec_open(const char *spec)
{
	char *copy, *pars, *par, *val, *save = NULL;
	const char *port = "80", *local = NULL;
	int rv = -1;

	copy = xstrdup(spec);
	if ((pars = strchr(copy, ':')) != NULL)
		*pars++ = '\0';
	if (strcmp(copy, "plain")) {
		log_msg(LOG_ERR, "%s: unknown port handler (only \"plain\")",
		    copy);
		goto done;
	}
	for (par = pars ? strtok_r(pars, ",", &save) : NULL; par;
	    par = strtok_r(NULL, ",", &save)) {
		if ((val = strchr(par, '=')) != NULL)
			*val++ = '\0';
		if (!strcmp(par, "help") && val == NULL) {
			plain_help();
			rv = 1;
			goto done;
		} else if (!strcmp(par, "port") && val && *val)
			port = val;
		else if (!strcmp(par, "local") && val && *val) {
			local = val;
			if (*val == '[' && val[strlen(val) - 1] == ']') {
				val[strlen(val) - 1] = '\0';
				local = val + 1;
			}
		}
		else {
			log_msg(LOG_ERR, "plain: bad parameter \"%s\"", par);
			goto done;
		}
	}
	/* Bind now so the strings stay valid: copy is freed below. */
	rv = plain_bind(local, port) == 0 ? 0 : -2;
done:
	free(copy);
	return rv;
}
