/*
 * conn.h: htparser's shared state: options, listeners, the root
 * handler, and the client connection state machine (conn.c).
 */
#ifndef HTPARSER_CONN_H
#define HTPARSER_CONN_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include "buf.h"
#include "http.h"
#include "loop.h"

/* Limits and timeouts (-o NAME=VALUE); timeouts in milliseconds. */
struct options {
	struct http_limits o_lim;
	long long	o_maxbody;	/* 0: unlimited */
	uint64_t	o_thead, o_tbody, o_tidle, o_thandler, o_tsend;
};

struct listener {
	struct watch	 l_watch;
	int		 l_fd;
	struct listener	*l_next;
};

/* A socket address small enough to keep per connection. */
union addr {
	struct sockaddr		sa;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
};

struct conn;

/* Process-wide state (main.c owns it). */
struct server {
	struct loop	*s_loop;
	struct options	 s_opt;
	struct listener	*s_listeners;
	int		 s_rootfd;	/* SOCK_SEQPACKET to the root handler */
	struct watch	 s_rootwatch;
	int		 s_stopping;	/* shutdown begun */
	int		 s_reservefd;	/* spare fd for EMFILE */
	unsigned long long s_nextid;
	struct conn	*s_conns;	/* every live connection */
	struct conn	*s_waiting;	/* FIFO waiting for the root socket */
	struct conn	*s_waittail;
	size_t		 s_nconns;
};

extern struct server srv;

int	 opt_set(struct options *o, const char *arg);
void	 opt_default(struct options *o);

/* listen.c */
/* Bind the sockets of one port specification: 0 done, 1 help printed,
 * -1 bad specification, -2 could not listen (both logged). */
int	 portspec_open(const char *spec);

/* conn.c */
void	 conn_accept(struct listener *l);
void	 conn_root_writable(void);	/* retry waiting dispatches */
void	 conn_shutdown_all(void);	/* graceful stop: finish in-flight */

/* main.c: ask for EPOLLOUT on the root socket while requests wait. */
void	 root_update(void);

#endif
