/*
 * ashlimits.h: every size and time limit of the project, in one place.
 *
 * A limit that a client (or a handler) can push against is capped here
 * before anything is allocated for it.  Programs that make a limit
 * configurable take the value below as the default; the man pages
 * document both.
 */
#ifndef ASHD_LIMITS_H
#define ASHD_LIMITS_H

/* Largest request datagram a handler accepts (method, URL, version,
 * rest string and all headers, NUL-separated).  Kept well under the
 * default Unix socket send buffer (net.core.wmem_default, 208 KiB),
 * which bounds what one datagram can carry. */
#define ASH_DGRAM_MAX (128 * 1024)

/* htparser: request line (method, target, version) and header section. */
#define ASH_REQLINE_MAX 8192
#define ASH_HEAD_MAX	(64 * 1024)
#define ASH_HEADERS_MAX 100
/* Default body limit; 0 in the option means "no limit". */
#define ASH_BODY_MAX ((long long)1024 * 1024 * 1024)
/* Longest chunk-size line (size, extensions, CRLF) in a chunked body. */
#define ASH_CHUNKLINE_MAX 1024

/* Longest PROXY protocol version 2 header htparser takes (the 16-byte
 * fixed part, addresses and TLVs); version 1 lines are at most 107
 * bytes by the protocol.  Real senders stay well under 1 KiB. */
#define ASH_PROXY_MAX 4096

/* Largest response head a handler may write before the body. */
#define ASH_RESPHEAD_MAX (64 * 1024)

/* htparser timeouts, in seconds. */
#define ASH_TIMEOUT_HEAD    30	/* whole request head */
#define ASH_TIMEOUT_BODY    60	/* no body progress */
#define ASH_TIMEOUT_IDLE    60	/* idle keep-alive connection */
#define ASH_TIMEOUT_HANDLER 300 /* no output from the handler */
#define ASH_TIMEOUT_SEND    60	/* client not reading the response */

/* htparser: the least rate (bytes a second) at which a request head or
 * body must arrive, measured over each window (seconds) once the grace
 * time (seconds) from the start of the head or body has passed: 500
 * B/s is a tenth of what a GPRS link sends, and 20 s windows ride out
 * the stalls of a lossy one. */
#define ASH_MIN_RATE	    500
#define ASH_MIN_RATE_GRACE  10
#define ASH_MIN_RATE_WINDOW 20

/* Size of the per-direction relay buffer htparser uses while copying. */
#define ASH_IOBUF_SIZE (16 * 1024)

/* htparser, the rest of its sizes and times (not options):
 * - descriptors (set_conn_limit() in htparser/main.c): the soft limit
 *   wanted, those kept free, most requests in flight;
 * - how long (ms) and how much a closing connection drains (lingers):
 *   what a client sends at full speed while it has not read the
 *   answer yet, so that it reads it instead of meeting a reset;
 * - bodies at least ASH_SPLICE_MIN long go handler -> client by
 *   splice(2), through a pipe of ASH_SPLICE_PIPE bytes;
 * - the one read buffer of the process;
 * - connections accepted per wake-up of a listening socket, and at most
 *   from one socket of its own when it closes at shutdown; the listen(2)
 *   backlog; most sockets passed by socket activation;
 * - most bytes of "METHOD URL" in a log line;
 * - how long (ms) it waits after the loop for a root handler that
 *   closed its socket to exit, and how often (ms) at most it logs that
 *   it turns connections away;
 * - the largest values -o takes for sizes and for times (seconds). */
#define ASH_FD_WANT	     65536
#define ASH_FD_SPARE	     32
#define ASH_FD_ACTIVE	     1024
#define ASH_LINGER_MS	     2000
#define ASH_LINGER_MAX	     (64 * 1024 * 1024)
#define ASH_SPLICE_MIN	     (64 * 1024)
#define ASH_SPLICE_PIPE	     (256 * 1024)
#define ASH_READBUF_SIZE     (64 * 1024)
#define ASH_ACCEPT_BATCH     64
#define ASH_ACCEPT_DRAIN_MAX 4096
#define ASH_LISTEN_BACKLOG   1024
#define ASH_LISTEN_FDS_MAX   1024
#define ASH_LOG_WHAT_MAX     300
#define ASH_ROOT_REAP_MS     1000
#define ASH_OVERLOAD_LOG_MS  60000
#define ASH_OPT_SIZE_MAX     ((long long)1024 * 1024 * 1024)
#define ASH_OPT_SECS_MAX     (86400 * 365)

/* httimed: seconds without a request before it exits (-t). */
#define ASH_HTTIMED_TIMEOUT 300

/* htpipe: milliseconds a client waits for the server it started to
 * listen on SOCKET-PATH. */
#define ASH_HTPIPE_START 5000

/*
 * ratequeue: the defaults of a bucket's size, its drain rate (requests
 * a second) and its brim (requests that may wait in it); how long an
 * idle, empty bucket is kept (ms); how many buckets exist at most (the
 * least recently used one without waiting requests makes room for a
 * new client); how many requests may wait in all buckets together (also
 * at most half the open-file limit: each holds its response socket);
 * how often a client's blocked requests are counted in the log (ms).
 */
#define ASH_RATEQUEUE_SIZE     100
#define ASH_RATEQUEUE_RATE     10
#define ASH_RATEQUEUE_BRIM     10
#define ASH_RATEQUEUE_RETAIN   10000
#define ASH_RATEQUEUE_BUCKETS  65536
#define ASH_RATEQUEUE_QUEUED   4096
#define ASH_RATEQUEUE_LOGEVERY 60000

/* Request bodies stored before they go to an application (lib/spool):
 * kept in memory up to this size, in a temporary file beyond. */
#define ASH_SPOOL_MEM (64 * 1024)

/* Configuration files: longest line and deepest include nesting. */
#define ASH_CFLINE_MAX	    (64 * 1024)
#define ASH_CFINCLUDE_DEPTH 16

/* htls: most entries one listing shows (the rest are counted). */
#define ASH_LISTING_MAX 100000

/* htextauth: longest decoded "user:password" of a Basic credential;
 * idle time after which a cached credential is forgotten (seconds); most
 * credentials cached; time the authentication command may take
 * (seconds); most bytes of its message kept. */
#define ASH_AUTH_MAX	   1024
#define ASH_AUTH_CACHE_TTL (30 * 60)
#define ASH_AUTH_CACHE_MAX 4096
#define ASH_AUTH_TIMEOUT   30
#define ASH_AUTH_MSG_MAX   1024

/* Persistent handlers (lib/handler): request datagrams read per wake-up
 * by default; lib/loop: events taken per epoll_wait(2). */
#define ASH_HANDLER_BATCH 32
#define ASH_LOOP_BATCH	  64
/* lib/child: most requests one persistent child may have waiting in
 * its queue (child_set_loop()). */
#define ASH_CHILD_QUEUE_MAX 1024

/* dirplex: most .htrc files on one path; entries of the cache of what
 * the walk found (kept for the rest of the second). */
#define ASH_HTRC_CHAIN_MAX    64
#define ASH_DIRPLEX_STATCACHE 512

/* sendfile: largest piece handed to sendfile(2) at once, so that one
 * big file does not starve the other transfers; bodies up to
 * ASH_SENDFILE_INLINE_MAX go out with the head in one write. */
#define ASH_SENDFILE_STEP	(1024 * 1024)
#define ASH_SENDFILE_INLINE_MAX (16 * 1024)
/* sendfile: entries of the cache of precompressed siblings; entries of
 * the cache of whole responses, and the largest file it keeps (so at
 * most 256 x 16 KiB of bodies). */
#define ASH_SENDFILE_SIBCACHE	512
#define ASH_SENDFILE_CACHE	256
#define ASH_SENDFILE_CACHE_FILE (16 * 1024)

/* callcgi: default -t, seconds; output buffered for the client, and the
 * largest CGI header block a script may write. */
#define ASH_CGI_TIMEOUT	 300
#define ASH_CGI_BUF_MAX	 (64 * 1024)
#define ASH_CGI_HEAD_MAX (64 * 1024)
/* callcgi: scripts run at once by default (-l): this many per online
 * processor, but at most a quarter of RLIMIT_NPROC (a script may start
 * processes of its own); requests that may wait for one (-q) by
 * default, per script of -l; seconds a request waits at most (-w). */
#define ASH_CGI_PER_CPU	  8
#define ASH_CGI_QUEUE_PER 16
#define ASH_CGI_WAIT	  30
/* The largest value -l and -q take. */
#define ASH_CGI_LIMIT_MAX 100000

/* callfcgi: output buffered per request for its client, and per
 * connection for the application; the largest CGI header block; requests
 * per multiplexed connection when the application does not say. */
#define ASH_FCGI_QBUF_MAX    (64 * 1024)
#define ASH_FCGI_CBUF_MAX    (64 * 1024)
#define ASH_FCGI_HEAD_MAX    (64 * 1024)
#define ASH_FCGI_MPX_DEFAULT 16

/* callscgi: bytes buffered for the client (the application is not read
 * past it), and with -s for the application (the client's body is not
 * read past it). */
#define ASH_SCGI_OUT_MAX (64 * 1024)

/* The gateway handlers (callfcgi, callscgi: lib/backend, lib/pool): the
 * default of -T (seconds); how often waiting requests try again (ms, a
 * quarter of it), how long a refusing backend is skipped, and how soon
 * a copy of PROGRAM that died at once is started again (ms); how long
 * what an exited copy left in its process group has between SIGTERM and
 * SIGKILL (ms). */
#define ASH_BACKEND_TIMEOUT  60
#define ASH_BACKEND_RETRY_MS 1000
#define ASH_BACKEND_DOWN_MS  1000
#define ASH_POOL_RESTART_MS  1000
#define ASH_POOL_KILL_MS     2000

/* errlogger: longest syslog message text; longer lines are split. */
#define ERRLOG_LINE_MAX 2048

#endif
