/*
 * callfcgi.h: the parts of callfcgi and how they meet.
 *
 *   main.c     options, the four modes, set-up; requests come through
 *              lib/handler's loop (freq_start(), one hold each)
 *   backend.c  backend addresses (failover, down marks) and the
 *              application processes callfcgi starts and supervises
 *   conn.c     FastCGI connections (fconn.h: their meeting with requests)
 *   request.c  the requests running on them
 */
#ifndef CALLFCGI_H
#define CALLFCGI_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include "buf.h"
#include "fcgi.h"
#include "loop.h"

struct fconn;
struct freq;
struct req;

struct backend {
	struct backend		*b_next;
	char			*b_name;	/* "unix:PATH", "tcp:HOST:PORT" */
	struct sockaddr_storage	 b_addr;
	socklen_t		 b_alen;
	uint64_t		 b_downuntil;	/* loop_now() ms; 0: up */
	int			 b_known;	/* GET_VALUES answered */
	int			 b_mpx;		/* FCGI_MPXS_CONNS=1 */
	int			 b_maxreqs;	/* per connection when mpx */
	int			 b_maxconns;	/* FCGI_MAX_CONNS, 0: not said */
	int			 b_nconns;
	struct fconn		*b_conns;	/* every connection */
};

struct options {
	int		 o_retries;	/* -N, -1 if not given */
	int		 o_nprocs;	/* -n */
	int		 o_maxconns;	/* -m: connections per backend */
	uint64_t	 o_timeout;	/* -T, ms: backend silence */
	char		**o_argv;	/* PROGRAM ARGS, or NULL */
	const char	*o_tmpdir;
};

extern struct options	 opt;
extern struct loop	*loop;
extern struct backend	*backends;

/* backend.c */
int	 backend_add(const char *spec, int tcp);	/* 0, -1 logged */
int	 backend_connect(struct backend *b);	/* fd, or -1 with errno */
void	 backend_down(struct backend *b, const char *why);
int	 backend_up(const struct backend *b);
/* Processes: start PROGRAM nprocs times with listenfd (or /dev/null)
 * on stdin; restart them when they exit. */
void	 procs_start(int listenfd);
void	 procs_reaped(pid_t pid, int status);
void	 procs_stop(void);		/* anonymous mode: kill them */
int	 procs_running(void);
/* A listening socket at b's address (launching / anonymous mode). */
int	 backend_listen(struct backend *b);

/* request.c */
void	 freq_start(struct req *r, int sock);	/* takes both over */
void	 freq_retry_waiting(void);	/* a backend may be up again */

#endif
