/*
 * fconn.h: inside callfcgi's FastCGI side, the connections (conn.c)
 * and the requests running on them (request.c), and how they call each
 * other.  See request.c for a request's states, conn.c for a
 * connection's.
 */
#ifndef CALLFCGI_FCONN_H
#define CALLFCGI_FCONN_H

#include "ashlimits.h"
#include "callfcgi.h"
#include "spool.h"

enum cstate { C_CONNECTING, C_READY };
enum qstate { Q_SPOOL, Q_WAIT, Q_RUN, Q_DONE, Q_DEAD };

struct fconn {
	struct fconn *c_next; /* b_conns */
	struct backend *c_be;
	enum cstate c_state;
	int c_fd;
	struct watch c_w;
	struct buf c_out;
	struct fcgi_dec c_dec;
	struct freq *c_reqs; /* running here, via q_cnext */
	int c_nreqs;
	uint64_t c_sent; /* bytes written to the socket so far */
	unsigned c_nextid;
	/* c_out is written after the loop's batch (conn_flush), or when
	 * the socket can take more after a write that would block. */
	unsigned c_flushq : 1, c_wblocked : 1;
	/* The application closed or reset c (not a timeout or an error of
	 * ours), after c_ended requests had ended on it. */
	unsigned c_lost : 1;
	unsigned c_ended;
};

struct freq {
	struct freq *q_next, *q_prev; /* all requests */
	struct freq *q_wnext;	      /* waiting FIFO */
	struct freq *q_cnext;	      /* on the connection */
	enum qstate q_state;
	struct req *q_req;
	const char *q_name; /* for the log */
	char *q_script;
	int q_sock;
	struct watch q_sw;
	struct timer q_timer;
	struct fconn *q_conn;
	unsigned q_id;
	uint64_t q_start;    /* where its records begin in c_sent terms */
	struct buf q_params; /* BEGIN + PARAMS, kept for retries */
	struct spool q_body; /* the body, received whole first */
	int q_bodysock;	     /* -s: the body comes from q_sock */
	unsigned q_stdin_done : 1, q_stdin_sent : 1, q_gotrec : 1;
	unsigned q_headdone : 1, q_aborted : 1;
	/* Until the first write to the client, the head in q_out (its
	 * first q_headlen bytes) may still get a Content-Length: when
	 * END_REQUEST comes in the same batch of records as the body
	 * (q_flushq: the write waits for the batch's end), unless the
	 * head has its own framing or the response has no body
	 * (q_nolen). */
	unsigned q_hsent : 1, q_nolen : 1, q_flushq : 1;
	size_t q_headlen;
	int q_tries;
	uint64_t q_since;
	struct buf q_head; /* CGI head being gathered */
	struct buf q_out;  /* to the client */
	struct buf q_err;  /* a partial STDERR line */
};

/* conn.c */
void conn_update(struct fconn *c);
void conn_close(struct fconn *c, const char *why);
struct fconn *conn_for(struct backend *b);
void conn_attach(struct fconn *c, struct freq *q);
int conn_blocked(const struct fconn *c);

/* request.c: what a connection's records mean to a request */
void freq_dispatch(struct freq *q);
void freq_end(struct freq *q, int status, const char *msg);
void freq_update(struct freq *q);
void freq_endrequest(struct freq *q, const struct fcgi_rec *rec);
void freq_close_sock(struct freq *q);
int freq_flush(struct freq *q);
void freq_flush_later(struct freq *q);
void freq_answer(struct freq *q, int status, const char *msg);
void freq_stderr(struct freq *q, const char *data, size_t len);
int freq_stdout(struct freq *q, const char *data, size_t len);
void freq_pump_stdin(struct freq *q);

#endif
