/*
 * job.c: one CGI request, from the response socket to the script and
 * back.
 *
 * State table (j_state):
 *   SPOOL  the body (if any) is read to its end first (lib/spool: in
 *          memory, past ASH_SPOOL_MEM in a file), so that a slow upload
 *          holds no process and CONTENT_LENGTH is known -> WAIT, or HEAD
 *          once the socket reads end-of-file
 *   WAIT   the body is there (or, with -s, is to be streamed), but -l
 *          scripts run already: queued, for -w at most -> HEAD when
 *          a script is reaped, or 503
 *   HEAD   the script runs; its output is collected until the end of
 *          its CGI header block -> BODY (HTTP head sent), or 500
 *   BODY   the script's output is relayed to the socket as it comes,
 *          never more than ASH_CGI_BUF_MAX ahead of the client -> DONE at
 *          EOF, or once the body its Content-Length announced is sent
 *   DONE   the response is complete and the socket shut down and
 *          closed; the job lingers only until the script's stdout and
 *          stderr close (what it still writes is dropped) and the
 *          process has been reaped, within the time limit
 * The script reads a body stored in a file from that file, one stored in
 * memory from a socket pair that the loop feeds (j_feed), and with -s a
 * body with a Content-Length straight from the response socket (no
 * copy).  Scripts hold a slot of -l from their start until they are
 * reaped.  The script runs in its own process group,
 * killed whole when the client goes away before the response is
 * complete, or when the time limit passes.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ashlimits.h"
#include "buf.h"
#include "callcgi.h"
#include "cgi.h"
#include "child.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "req.h"
#include "spool.h"

enum jstate { J_SPOOL, J_WAIT, J_HEAD, J_BODY, J_DONE };

struct job {
	struct job *j_next, *j_prev;
	enum jstate j_state;
	struct req *j_req;
	char *j_script;	     /* file to run, absolute, or NULL */
	const char *j_name;  /* for the log */
	int j_sock;	     /* response socket, -1 once closed */
	int j_out;	     /* script's stdout, -1 if none */
	int j_err;	     /* script's stderr */
	struct spool j_body; /* the body, when j_spooled */
	int j_spooled;	     /* the body was received first */
	int j_feed;	     /* our end of the script's input, or -1 */
	struct job *j_qnext, *j_qprev; /* waiting for a slot */
	int j_queued;
	int j_slot;  /* counted in `running` */
	pid_t j_pid; /* 0: not started or reaped */
	int j_killed;
	long long j_limit; /* head + announced body, or -1 */
	long long j_sent;  /* bytes sent to the socket */
	struct watch j_sw, j_ow, j_ew, j_fw;
	struct timer j_timer, j_wtimer;
	struct buf j_in;      /* script output not yet sent */
	struct buf j_errline; /* a partial stderr line */
};

struct cgiopts cgiopt;
static struct job *jobs;
static struct loop *jloop;
static int running;		  /* scripts holding a slot */
static int nwaiting;		  /* jobs in the queue */
static struct job *qhead, *qtail; /* the queue, oldest first */

static void job_update(struct job *j);
static void job_finish(struct job *j);

/* Take j out of the queue of -l, if it is in it. */
static void
job_unqueue(struct job *j)
{
	if (!j->j_queued)
		return;
	if (j->j_qprev)
		j->j_qprev->j_qnext = j->j_qnext;
	else
		qhead = j->j_qnext;
	if (j->j_qnext)
		j->j_qnext->j_qprev = j->j_qprev;
	else
		qtail = j->j_qprev;
	j->j_qnext = j->j_qprev = NULL;
	j->j_queued = 0;
	nwaiting--;
	loop_untimer(jloop, &j->j_wtimer);
}

static void
job_kill(struct job *j)
{
	if (j->j_pid > 0 && !j->j_killed) {
		kill(-j->j_pid, SIGKILL);
		j->j_killed = 1;
	}
}

static void
close_watched(struct watch *w, int *fd)
{
	if (*fd >= 0) {
		loop_unwatch(jloop, w);
		close(*fd);
		*fd = -1;
	}
}

/* Nothing more goes to the client. */
static void
job_close_sock(struct job *j)
{
	close_watched(&j->j_sw, &j->j_sock);
}

/* The response is complete: end it even though the script may still
 * hold the socket as its standard input. */
static void
job_end_response(struct job *j)
{
	j->j_state = J_DONE;
	buf_free(&j->j_in);
	if (j->j_sock >= 0)
		shutdown(j->j_sock, SHUT_WR);
	job_close_sock(j);
}

/* Answer `status` (0: nobody to answer) if nothing was sent yet; then
 * end the response and stop the script. */
static void
job_fail(struct job *j, int status, const char *msg)
{
	job_unqueue(j);
	if (status && j->j_sock >= 0 && j->j_state != J_BODY &&
	    j->j_state != J_DONE)
		http_error(j->j_sock, status, msg);
	job_kill(j);
	j->j_state = J_DONE;
	buf_free(&j->j_in);
	job_close_sock(j);
	close_watched(&j->j_ow, &j->j_out);
	job_finish(j);
}

/* Free the job once every part of it is over. */
static void
job_finish(struct job *j)
{
	if (j->j_state != J_DONE || j->j_sock >= 0 || j->j_out >= 0 ||
	    j->j_err >= 0 || j->j_pid > 0)
		return;
	if (j->j_prev)
		j->j_prev->j_next = j->j_next;
	else
		jobs = j->j_next;
	if (j->j_next)
		j->j_next->j_prev = j->j_prev;
	loop_untimer(jloop, &j->j_timer);
	job_unqueue(j);
	close_watched(&j->j_fw, &j->j_feed);
	spool_free(&j->j_body);
	req_free(j->j_req);
	free(j->j_script);
	buf_free(&j->j_in);
	buf_free(&j->j_errline);
	free(j);
	handler_release();
}

/* Log the script's stderr line by line, prefixed with its name. */
static void
err_event(struct watch *w, uint32_t ev)
{
	struct job *j = w->w_arg;
	char buf[4096], *nl;
	ssize_t n;

	n = read(j->j_err, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && buf_append(&j->j_errline, buf, (size_t)n) == -1) {
		/* No room to gather lines: log the piece as it came. */
		log_msg(LOG_WARNING, "%s: %.*s", j->j_name, (int)n, buf);
		return;
	}
	while (j->j_errline.b_len > 0 &&
	    ((nl = memchr(j->j_errline.b_data, '\n', j->j_errline.b_len)) !=
		    NULL ||
		n <= 0 || j->j_errline.b_len > 4096)) {
		size_t l = nl ? (size_t)(nl - j->j_errline.b_data)
			      : j->j_errline.b_len;

		log_msg(LOG_WARNING, "%s: %.*s", j->j_name, (int)l,
		    j->j_errline.b_data);
		buf_consume(&j->j_errline, nl ? l + 1 : l);
	}
	if (n <= 0) {
		close_watched(&j->j_ew, &j->j_err);
		job_finish(j);
	}
}

/* The body length the script announced, or -1 (none, or a response
 * that has no body to count). */
static long long
body_length(const struct job *j, const struct http_resp *rp)
{
	const char *cl = http_resp_header(rp, "Content-Length");
	char *end;
	long long n;

	if (cl == NULL || !strcmp(j->j_req->r_method, "HEAD") ||
	    rp->hr_status < 200 || rp->hr_status == 204 || rp->hr_status == 304)
		return -1;
	n = strtoll(cl, &end, 10);
	return *cl >= '0' && *cl <= '9' && *end == '\0' && n >= 0 ? n : -1;
}

/* Turn the CGI head in j_in into an HTTP head; 0 done or waiting, -1
 * failed (answered). */
static int
job_head(struct job *j)
{
	struct http_resp rp;
	struct buf h = BUF_INIT;
	const char *why;
	int n;

	n = cgi_parse_head(j->j_in.b_data, j->j_in.b_len, &rp, &why);
	if (n == 0 && j->j_in.b_len < ASH_CGI_HEAD_MAX)
		return 0;
	if (n < 0 && errno == ENOMEM) {
		job_fail(j, 503, "Out of memory.");
		return -1;
	}
	if (n <= 0) {
		log_msg(LOG_ERR, "%s: %s", j->j_name,
		    n == 0    ? "header block "
				"too large"
			: why ? why
			      : strerror(errno));
		job_fail(j, 500, "The script sent an invalid response.");
		return -1;
	}
	if (cgi_http_head(&h, &rp) == -1)
		goto nomem;
	j->j_limit = body_length(j, &rp);
	if (j->j_limit >= 0)
		j->j_limit += (long long)h.b_len;
	if (buf_append(&h, j->j_in.b_data + n, j->j_in.b_len - (size_t)n) == -1)
		goto nomem;
	if (j->j_limit >= 0 && (long long)h.b_len > j->j_limit)
		h.b_len = (size_t)j->j_limit; /* more than announced */
	http_resp_free(&rp);
	buf_free(&j->j_in);
	j->j_in = h;
	j->j_state = J_BODY;
	return 0;
nomem:
	http_resp_free(&rp);
	buf_free(&h);
	job_fail(j, 503, "Out of memory.");
	return -1;
}

/* Send what is buffered; -1 if the client is gone (job ended). */
static int
job_flush(struct job *j)
{
	ssize_t n;

	while (j->j_state >= J_BODY && j->j_in.b_len > 0 && j->j_sock >= 0) {
		n = send(j->j_sock, j->j_in.b_data, j->j_in.b_len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			log_msg(LOG_INFO, "%s: client went away", j->j_name);
			job_fail(j, 0, NULL);
			return -1;
		}
		buf_consume(&j->j_in, (size_t)n);
		j->j_sent += n;
	}
	if (j->j_sock >= 0 && j->j_in.b_len == 0 &&
	    (j->j_state == J_DONE ||
		(j->j_limit >= 0 && j->j_sent >= j->j_limit))) {
		job_end_response(j);
		job_update(j);
		job_finish(j);
		return -1;
	}
	return 0;
}

static void
out_event(struct watch *w, uint32_t ev)
{
	struct job *j = w->w_arg;
	char buf[16384];
	ssize_t n;

	n = read(j->j_out, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && j->j_state == J_DONE)
		return; /* after the response: dropped */
	if (n <= 0) {
		close_watched(&j->j_ow, &j->j_out);
		if (j->j_state == J_DONE) {
			job_finish(j);
			return;
		}
		if (j->j_state == J_HEAD) {
			if (j->j_in.b_len > 0 && job_head(j) == -1)
				return;
			if (j->j_state == J_HEAD) {
				log_msg(LOG_ERR, "%s: %s", j->j_name,
				    j->j_in.b_len ? "incomplete header block"
						  : "no output");
				job_fail(j, 500,
				    "The script sent no valid "
				    "response.");
				return;
			}
		}
		j->j_state = J_DONE;
		if (job_flush(j) == 0)
			job_update(j);
		return;
	}
	if (j->j_state == J_BODY && j->j_limit >= 0 &&
	    (long long)n > j->j_limit - j->j_sent - (long long)j->j_in.b_len)
		n = (ssize_t)(j->j_limit - j->j_sent -
		    (long long)j->j_in.b_len); /* more than announced */
	if (buf_append(&j->j_in, buf, (size_t)n) == -1) {
		job_fail(j, 503, "Out of memory.");
		return;
	}
	if (j->j_state == J_HEAD && job_head(j) == -1)
		return;
	if (job_flush(j) == 0)
		job_update(j);
}

/* The script's argv: the file alone, or PROGRAM [ARGS...] then the
 * file (if any).  The strings are not copied. */
static char **
job_argv(const struct job *j)
{
	char **argv;
	size_t n = 0, i = 0, k;

	while (cgiopt.co_args && cgiopt.co_args[n])
		n++;
	if ((argv = calloc(n + 3, sizeof(*argv))) == NULL)
		return NULL;
	argv[i++] = (char *)(cgiopt.co_program ? cgiopt.co_program
					       : j->j_script);
	for (k = 0; k < n; k++)
		argv[i++] = cgiopt.co_args[k];
	if (cgiopt.co_program && j->j_script)
		argv[i++] = j->j_script;
	argv[i] = NULL;
	return argv;
}

/* The script's environment: the request's CGI variables, PATH, then
 * callcgi's own (cgi_env_inherit()); NULL on ENOMEM. */
static char **
job_envp(const struct job *j)
{
	extern char **environ;
	struct cgienv env;
	char **envp = NULL;

	if (cgi_env_build(&env, j->j_req, j->j_script,
		j->j_spooled ? j->j_body.sp_len : -1) == -1)
		return NULL;
	if (cgi_env_set(&env, "PATH", cgiopt.co_path) == 0 &&
	    cgi_env_inherit(&env, environ) == 0)
		envp = cgi_envp(&env);
	cgi_env_free(&env);
	return envp;
}

/* Give the script more of a body kept in memory; 0, or -1 if the job
 * failed (answered). */
static int
job_feed(struct job *j)
{
	ssize_t n;

	while ((n = spool_send(&j->j_body, j->j_feed)) > 0)
		;
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		if (loop_watch(jloop, &j->j_fw, EPOLLOUT) == 0)
			return 0;
		job_fail(j, 503, "Out of memory.");
		return -1;
	}
	/* All of it went, or the script stopped reading its input (its
	 * business): it reads end-of-file after what it took. */
	close_watched(&j->j_fw, &j->j_feed);
	return 0;
}

static void
feed_event(struct watch *w, uint32_t ev)
{
	(void)ev;
	job_feed(w->w_arg);
}

/* The script's standard input: the response socket (a body streamed
 * with -s, or none), the file that holds the body, or a socket pair
 * the loop feeds a body kept in memory through (*ownp: its other end,
 * to be closed once the script has it); -1 with errno. */
static int
job_input(struct job *j, int *ownp)
{
	int sv[2];

	*ownp = -1;
	if (!j->j_spooled || j->j_body.sp_len == 0)
		return j->j_sock;
	if (j->j_body.sp_fd >= 0)
		return lseek(j->j_body.sp_fd, 0, SEEK_SET) == -1
		    ? -1
		    : j->j_body.sp_fd;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	j->j_feed = sv[1];
	watch_init(&j->j_fw, sv[1], feed_event, j);
	*ownp = sv[0];
	return sv[0];
}

/* Start the script; -1 if it could not be (answered). */
static int
job_spawn(struct job *j)
{
	struct child_run how = CHILD_RUN_INIT;
	char **argv = NULL, **envp = NULL, *dir = NULL;
	const char *path;
	int out[2] = { -1, -1 }, err[2] = { -1, -1 }, e, nph, in, own = -1;

	nph = j->j_script && !strncmp(j->j_name, "nph-", 4);
	path = cgiopt.co_program ? cgiopt.co_program : j->j_script;
	if ((envp = job_envp(j)) == NULL || (argv = job_argv(j)) == NULL) {
		cgi_envp_free(envp);
		free(argv);
		job_fail(j, 503, "Out of memory.");
		return -1;
	}
	if ((in = job_input(j, &own)) == -1 ||
	    (!nph && pipe2(out, O_CLOEXEC) == -1) ||
	    pipe2(err, O_CLOEXEC) == -1) {
		e = errno;
		goto fail;
	}
	how.cr_in = in;
	how.cr_out = nph ? j->j_sock : out[1];
	how.cr_err = err[1];
	how.cr_envp = envp;
	how.cr_pgrp = 1;
	if (cgiopt.co_chdir && j->j_script &&
	    (dir = strdup(j->j_script)) != NULL)
		how.cr_dir = dirname(dir);
	j->j_pid = child_run(argv, &how);
	e = errno;
	free(dir);
	free(argv);
	argv = NULL;
	if (j->j_pid == -1) {
		j->j_pid = 0;
		goto fail;
	}
	j->j_slot = 1;
	running++;
	cgi_envp_free(envp);
	if (own >= 0)
		close(own);
	close(err[1]);
	j->j_err = err[0];
	fcntl(j->j_err, F_SETFL, O_NONBLOCK);
	watch_init(&j->j_ew, j->j_err, err_event, j);
	loop_watch(jloop, &j->j_ew, EPOLLIN);
	if (nph) {
		/* The script answers by itself; only its end is awaited. */
		j->j_state = J_DONE;
		job_close_sock(j);
		return 0;
	}
	close(out[1]);
	j->j_out = out[0];
	fcntl(j->j_out, F_SETFL, O_NONBLOCK);
	watch_init(&j->j_ow, j->j_out, out_event, j);
	j->j_state = J_HEAD;
	return 0;
fail:
	log_msg(LOG_ERR, "%s: cannot run %s: %s", j->j_name, path, strerror(e));
	free(argv);
	cgi_envp_free(envp);
	if (own >= 0)
		close(own);
	close_watched(&j->j_fw, &j->j_feed);
	if (out[0] >= 0) {
		close(out[0]);
		close(out[1]);
	}
	if (err[0] >= 0) {
		close(err[0]);
		close(err[1]);
	}
	/* Out of memory or processes is this request's lot, not the
	 * script's fault. */
	if (e == ENOMEM || e == EAGAIN || e == EMFILE || e == ENFILE)
		job_fail(j, 503, "The script cannot be run now.");
	else
		job_fail(j, 500, "The script could not be run.");
	return -1;
}

/* Start the script, and feed it its body. */
static void
job_launch(struct job *j)
{
	if (job_spawn(j) == -1 || (j->j_feed >= 0 && job_feed(j) == -1))
		return;
	job_update(j);
}

/* The script may start: now if fewer than -l run, else once a slot is
 * free, waiting at most -w in a queue of -q (and within -t, which
 * counts on); a request the queue has no room for is answered 503. */
static void
job_run(struct job *j)
{
	if (cgiopt.co_limit == 0 || running < cgiopt.co_limit) {
		job_launch(j);
		return;
	}
	if (nwaiting >= cgiopt.co_queue) {
		log_msg(LOG_WARNING, "%s: %d scripts run, %d wait: refused",
		    j->j_name, running, nwaiting);
		job_fail(j, 503, "Too many scripts are running.");
		return;
	}
	if (loop_timer(jloop, &j->j_wtimer, cgiopt.co_wait) == -1) {
		job_fail(j, 503, "Out of memory.");
		return;
	}
	j->j_state = J_WAIT;
	j->j_queued = 1;
	j->j_qprev = qtail;
	if (qtail)
		qtail->j_qnext = j;
	else
		qhead = j;
	qtail = j;
	nwaiting++;
	job_update(j);
}

/* Start waiting jobs while there are slots. */
static void
job_next(void)
{
	struct job *j;

	while (qhead && (cgiopt.co_limit == 0 || running < cgiopt.co_limit)) {
		j = qhead;
		job_unqueue(j);
		job_launch(j);
	}
}

static void
job_wait_timeout(struct timer *t)
{
	struct job *j = t->t_arg;

	log_msg(LOG_WARNING, "%s: no free slot in time (%d scripts run)",
	    j->j_name, running);
	job_fail(j, 503, "Too many scripts are running.");
}

/* SPOOL: read the body to its end, then start the script on it. */
static void
job_spool(struct job *j)
{
	int rv;

	if ((rv = spool_fill(&j->j_body, j->j_sock)) == 0) {
		job_update(j);
		return;
	}
	if (rv < 0) {
		if (errno == ECONNRESET || errno == EPIPE) {
			job_fail(j, 0, NULL);
			return;
		}
		if (errno == ENOMEM) {
			job_fail(j, 503, "Out of memory.");
			return;
		}
		log_errno(LOG_ERR, "%s: storing the request body in %s",
		    j->j_name, cgiopt.co_tmpdir);
		job_fail(j, 500, "Cannot store the request body.");
		return;
	}
	job_run(j);
}

static void
sock_event(struct watch *w, uint32_t ev)
{
	struct job *j = w->w_arg;

	if (ev & (EPOLLHUP | EPOLLERR)) {
		if (j->j_state != J_SPOOL || !(ev & EPOLLIN)) {
			log_msg(LOG_INFO, "%s: client went away", j->j_name);
			job_fail(j, 0, NULL);
			return;
		}
	}
	if (j->j_state == J_SPOOL)
		job_spool(j);
	else if (job_flush(j) == 0)
		job_update(j);
}

static void
job_timeout(struct timer *t)
{
	struct job *j = t->t_arg;

	if (j->j_state == J_WAIT) {
		job_wait_timeout(&j->j_wtimer); /* it never started */
		return;
	}
	log_msg(LOG_WARNING, "%s: time limit reached, killing it", j->j_name);
	job_fail(j, 504, "The script did not finish in time.");
}

/* Epoll interest: read the script only while the client keeps up. */
static void
job_update(struct job *j)
{
	uint32_t se = 0;

	if (j->j_state == J_SPOOL)
		se = EPOLLIN;
	else if (j->j_in.b_len > 0 && j->j_state >= J_BODY)
		se = EPOLLOUT;
	if (j->j_sock >= 0)
		loop_watch(jloop, &j->j_sw, se);
	if (j->j_out >= 0)
		loop_watch(jloop, &j->j_ow,
		    j->j_in.b_len < ASH_CGI_BUF_MAX || j->j_state == J_DONE
			? EPOLLIN
			: 0);
}

void
job_start(struct loop *l, struct req *r, int sock)
{
	struct job *j;
	struct stat st;
	const char *file, *base;

	jloop = l;
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		http_error(sock, 503, "Out of memory.");
		close(sock);
		req_free(r);
		return;
	}
	handler_hold();
	j->j_req = r;
	j->j_sock = sock;
	j->j_out = j->j_err = j->j_feed = -1;
	j->j_limit = -1;
	j->j_name = cgiopt.co_program ? cgiopt.co_program : "callcgi";
	spool_init(&j->j_body, cgiopt.co_tmpdir, ASH_SPOOL_MEM);
	watch_init(&j->j_sw, sock, sock_event, j);
	watch_init(&j->j_fw, -1, feed_event, j);
	timer_init(&j->j_timer, job_timeout, j);
	timer_init(&j->j_wtimer, job_wait_timeout, j);
	j->j_next = jobs;
	if (jobs)
		jobs->j_prev = j;
	jobs = j;
	if ((file = req_header(r, "X-Ash-File")) != NULL) {
		if ((j->j_script = realpath(file, NULL)) == NULL) {
			if (errno == ENOMEM)
				job_fail(j, 503, "Out of memory.");
			else
				job_fail(j,
				    errno == ENOENT || errno == ENOTDIR ? 404
									: 500,
				    "Not found.");
			return;
		}
		base = strrchr(j->j_script, '/');
		j->j_name = base ? base + 1 : j->j_script;
		if (stat(j->j_script, &st) == -1 || !S_ISREG(st.st_mode)) {
			job_fail(j, 404, "Not found.");
			return;
		}
	} else if (cgiopt.co_program == NULL) {
		log_msg(LOG_ERR, "no X-Ash-File header and no -p");
		job_fail(j, 500, "No script to run.");
		return;
	}
	if (loop_timer(jloop, &j->j_timer, cgiopt.co_timeout) == -1) {
		job_fail(j, 503, "Out of memory.");
		return;
	}
	if (cgiopt.co_stream && req_header(r, "Content-Length") != NULL) {
		job_run(j);
		return;
	}
	j->j_spooled = 1;
	j->j_state = J_SPOOL;
	job_spool(j);
}

void
job_reaped(pid_t pid)
{
	struct job *j;

	for (j = jobs; j; j = j->j_next) {
		if (j->j_pid == pid) {
			j->j_pid = 0;
			if (j->j_slot) {
				j->j_slot = 0;
				running--;
			}
			/* Its output may still be in the pipe. */
			job_finish(j);
			job_next();
			return;
		}
	}
}
