/*
 * conn.h: htparser's shared state: options, listeners, the root
 * handler, and the client connection state machine (conn.c), with what
 * each file offers the others.  Every name shared between files starts
 * with its file's prefix: opt_ (options.c), listen_ (listen.c), root_
 * (root.c), conn_ (conn.c), rq_ (request.c), resp_ (resp.c), proxyhdr_
 * (proxyhdr.c).
 */
#ifndef HTPARSER_CONN_H
#define HTPARSER_CONN_H

#include <netinet/in.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ashlimits.h"
#include "buf.h"
#include "chunk.h"
#include "http.h"
#include "loop.h"
#include "req.h"

/* Limits and timeouts (-o NAME=VALUE); timeouts in milliseconds. */
struct options {
	struct http_limits o_lim;
	long long o_maxbody; /* 0: unlimited */
	uint64_t o_thead, o_tbody, o_tidle, o_thandler, o_tsend;
	size_t o_minrate; /* bytes a second, 0: none */
	uint64_t o_mrgrace, o_mrwindow;
};

/* A socket address kept per connection: the peer and the local end,
 * or what a PROXY header says they are. */
union addr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
};

struct listener {
	struct watch l_watch;
	int l_fd;
	unsigned l_proxy : 1;  /* PROXY header required first */
	unsigned l_https : 1;  /* clients spoke TLS to our peer */
	unsigned l_passed : 1; /* not ours: passed by our parent */
	/* Bound to one IP address: every connection's local end is it,
	 * no getsockname(2) per connection. */
	unsigned l_haslocal : 1;
	union addr l_local;
	struct listener *l_next;
};

struct conn;

/* Process-wide state (main.c owns it). */
struct server {
	struct loop *s_loop;
	struct options s_opt;
	struct listener *s_listeners;
	int s_rootfd; /* SOCK_SEQPACKET to the root handler */
	struct watch s_rootwatch;
	int s_stopping;	 /* shutdown begun */
	int s_reservefd; /* spare fd for EMFILE */
	int s_pidfd;	 /* the PID file, or -1 */
	unsigned long long s_nextid;
	struct conn *s_conns;	/* every live connection */
	struct conn *s_waiting; /* FIFO waiting for the root socket */
	struct conn *s_waittail;
	size_t s_nconns;
	size_t s_maxconns; /* from RLIMIT_NOFILE */
};

extern struct server srv;

/* options.c */
void opt_default(struct options *o);
/* "NAME=VALUE"; 0 or -1 (logged). */
int opt_set(struct options *o, const char *arg);
/* The names, comma-separated, lines indented and cut at `width`. */
void opt_names(FILE *out, const char *indent, size_t width);
/* -o help: each option with its default and what it limits. */
void opt_help(FILE *out);

/* listen.c */
/* Bind the sockets of one port specification: 0 done, 1 help printed,
 * -1 bad specification, -2 could not listen (both logged).  NULL: every
 * socket passed by socket activation (LISTEN_FDS), as plain ports. */
int listen_portspec(const char *spec);
/* Stop listening (the first shutdown signal): connections already
 * queued on our own sockets are accepted and served first. */
void listen_stop(void);

/* root.c */
struct conn;
/* Start ROOT ARGS... (exit 1 if it cannot be run). */
void root_start(char **argv);
void root_watch(void);	/* into the event loop */
void root_update(void); /* EPOLLOUT while requests wait */
void root_close(void);	/* at shutdown: the handler sees EOF */
void root_hup(void);	/* pass SIGHUP on */
/* A child was reaped: 1 if it was the root handler (then shut down). */
int root_reaped(pid_t pid, int status);
/* After the loop: wait a second for a root handler that closed its
 * socket to exit, and say how it did. */
void root_last_words(void);
/* The root handler ended without being asked to (exit status 1). */
int root_failed(void);
/* Pass c->c_req on: 0 passed (CS_REQ), 1 queued (CS_WAIT), -1 failed
 * and answered. */
int root_submit(struct conn *c);
/* Take c out of the queue (closed or timed out while waiting). */
void root_unqueue(struct conn *c);

/* conn.c */
/* Accept up to `max` connections from l; how many were accepted. */
int conn_accept(struct listener *l, int max);
/* Graceful stop: mark the PID file, stop listening, finish in-flight
 * requests; then the loop ends.  Once only. */
void conn_shutdown_all(const char *why);

/*
 * The connection state machine, shared by conn.c (the connection: its
 * states, timers, client I/O), request.c (request heads, dispatch to
 * the root handler, request bodies) and resp.c (responses and duplex).
 */
enum cstate {
	CS_PROXY,
	CS_HEAD,
	CS_WAIT,
	CS_REQ,
	CS_DUPLEX,
	CS_FINAL,
	CS_LINGER,
	CS_DEAD
};
enum bodymode { BM_NONE, BM_LENGTH, BM_CHUNKED, BM_CLOSE };
enum rstate { RS_HEAD, RS_BODY, RS_DONE };
enum tkind { T_NONE, T_HEAD, T_IDLE, T_BODY, T_HANDLER, T_SEND, T_LINGER };
enum rphase { RP_NONE, RP_HEAD, RP_BODY };

struct conn {
	struct conn *c_next, *c_prev; /* srv.s_conns */
	struct conn *c_wnext;	      /* srv.s_waiting */
	enum cstate c_state;
	int c_fd;     /* client */
	int c_hfd;    /* our end of the response socket */
	int c_theirs; /* its other end, until sent */
	int c_dfd;    /* duplex peer */
	struct watch c_cw, c_hw, c_dw;
	struct timer c_timer;
	enum tkind c_tkind;
	/* The minimum rate (conn.c): what is being measured, bytes read
	 * in this window, whether htparser held the client back in it. */
	struct timer c_rtimer;
	enum rphase c_mrphase;
	unsigned long long c_mrbytes;
	unsigned c_mrgrace : 1, c_mrheld : 1;
	unsigned char c_crd, c_cwr, c_hrd, c_hwr, c_drd, c_dwr;
	unsigned long long c_id;
	unsigned c_nreqs;
	union addr c_peer, c_local;
	/* X-Ash-* values, made at the first request (add_ash_headers). */
	char *c_ashv;
	char *c_what; /* "METHOD URL" of the request (logs) */
	size_t c_whatcap;
	unsigned c_https : 1; /* X-Ash-Protocol is https */
	struct buf c_in;      /* from the client */
	struct buf c_up;      /* decoded body, to the handler */
	struct buf c_hbuf;    /* response head from the handler */
	struct buf c_out;     /* to the client */
	struct req *c_req;    /* parsed, not yet dispatched */
	size_t c_linger;      /* bytes drained while lingering */

	/* The current request. */
	unsigned c_http11 : 1, c_ishead : 1, c_close : 1, c_expect : 1;
	unsigned c_bodydone : 1, c_upshut : 1, c_upfail : 1, c_started : 1;
	unsigned c_hdone : 1, c_cleof : 1, c_deof : 1;
	/* The client asked to close after this request; TCP_NODELAY is
	 * on; something was written to the client already. */
	unsigned c_clclose : 1, c_nodelay : 1, c_wrote : 1;
	unsigned c_rdhup : 1;  /* epoll said the client's side ended */
	enum bodymode c_bmode; /* request body */
	long long c_bleft, c_btotal;
	struct chunkdec c_cd;
	enum rstate c_rs;
	enum bodymode c_rmode; /* response body */
	long long c_rleft;
	unsigned c_hchunk : 1; /* the handler's body is chunked: decode */
	struct chunkdec c_rcd;
	int c_pipe[2];	/* splice: handler -> pipe -> client */
	size_t c_piped; /* bytes in c_pipe */
};

/* One read buffer for the whole process: data is copied out of it. */
extern char conn_iobuf[ASH_READBUF_SIZE];

/* conn.c */
/* Printable address and port; IPv4-mapped IPv6 shown as IPv4, a Unix
 * socket as "unix:PATH". */
void
conn_addr_str(const union addr *a, char *host, size_t hcap, unsigned *port);
/* Log a line about this connection: "ADDR:PORT METHOD URL: message"
 * (without METHOD URL before the first request). */
void conn_log(struct conn *c, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void conn_timer(struct conn *c, enum tkind k);
void conn_abort(struct conn *c);
/* Answer `status` with `msg` and close (just close once a response
 * has begun). */
void conn_fail(struct conn *c, int status, const char *msg);
/* Client I/O: 1 progress, 0 blocked or nothing to do, -1 EOF/error. */
int conn_flush(struct conn *c);
void conn_nodelay(struct conn *c);
int conn_read(struct conn *c, size_t max);
/* Run c's state machine until it makes no more progress. */
void conn_run(struct conn *c);
void conn_handler_event(struct watch *w, uint32_t ev);
void conn_enter_head(struct conn *c);
/* proxyhdr.c: CS_PROXY.  1 if something changed. */
int proxyhdr_step(struct conn *c);
/* request.c: CS_HEAD, and the request body in CS_REQ. */
int rq_step_head(struct conn *c);
int rq_step_upload(struct conn *c);
/* request.c: the minimum rate of request heads and bodies: after each
 * step of a connection, and its timer (c_rtimer). */
void rq_rate_update(struct conn *c);
void rq_rate_timeout(struct timer *t);
/* resp.c: the response in CS_REQ, and CS_DUPLEX. */
int resp_step_head(struct conn *c);
int resp_step_body(struct conn *c);
int resp_step_duplex(struct conn *c);
void resp_splice_end(struct conn *c);
#endif
