/*
 * listen.c: port specifications (HANDLER[:PAR[=VAL][,PAR[=VAL]]...])
 * and the listening sockets they give.
 *
 *   plain   a TCP socket htparser binds itself (port, local, and the
 *           flags proxy, https, reuseport)
 *   fd      a listening socket passed by the parent: by socket
 *           activation (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, as
 *           systemd passes them) or simply inherited (fd, name, and the
 *           flags proxy, https)
 *   ssl     refused: TLS ends in a terminator in front (htparser(1))
 * With no port specification at all, every socket passed by socket
 * activation is used as a plain port.
 *
 * Sockets passed by the parent are shared with it: at shutdown they are
 * only closed here, and connections queued on them stay for the next
 * htparser.  A socket of our own takes its queued connections with it
 * when closed, so at shutdown they are accepted (and served) first;
 * with reuseport, the kernel is also asked to move the connections that
 * still reach the closing socket to another socket of the same port
 * (see reuseport_migrate).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "conn.h"
#include "ashlimits.h"
#include "log.h"

/* Descriptors passed by socket activation start here (sd_listen_fds). */
#define LISTEN_FDS_START 3

/* What one port specification says. */
struct portspec {
	const char *ps_handler;
	const char *ps_port, *ps_local; /* plain */
	const char *ps_fd, *ps_name;	/* fd */
	int ps_proxy, ps_https, ps_reuseport;
};

static void
listener_event(struct watch *w, uint32_t ev)
{
	conn_accept(w->w_arg, ASH_ACCEPT_BATCH);
}

/* Is l bound to one IPv4 or IPv6 address (not a wildcard)? */
static void
listener_local(struct listener *l)
{
	socklen_t sl = sizeof(l->l_local);
	union addr *a = &l->l_local;

	if (getsockname(l->l_fd, &a->sa, &sl) == -1)
		return;
	if (a->sa.sa_family == AF_INET)
		l->l_haslocal = a->sin.sin_addr.s_addr != htonl(INADDR_ANY);
	else if (a->sa.sa_family == AF_INET6)
		l->l_haslocal = !IN6_IS_ADDR_UNSPECIFIED(&a->sin6.sin6_addr) &&
		    !IN6_IS_ADDR_V4MAPPED(&a->sin6.sin6_addr);
}

static void
listener_add(int fd, const struct portspec *ps, int passed)
{
	struct listener *l;

	l = xcalloc(1, sizeof(*l));
	l->l_fd = fd;
	listener_local(l);
	l->l_proxy = ps->ps_proxy != 0;
	l->l_https = ps->ps_https != 0;
	l->l_passed = passed != 0;
	watch_init(&l->l_watch, fd, listener_event, l);
	l->l_next = srv.s_listeners;
	srv.s_listeners = l;
}

static void
flags_help(int plain)
{
	printf(
	    "  proxy        every connection starts with a PROXY protocol "
	    "header (v1 or v2)\n"
	    "               giving the real client; required, nothing else is "
	    "trusted\n"
	    "  https        the clients spoke TLS to the peer in front: "
	    "X-Ash-Protocol https\n");
	if (plain)
		printf(
		    "  reuseport    SO_REUSEPORT: several htparsers share the "
		    "port\n");
}

static void
plain_help(void)
{
	printf(
	    "plain: plain TCP (HTTP without TLS)\n"
	    "parameters:\n"
	    "  port=PORT    port to listen on (default 80)\n"
	    "  local=ADDR   address to bind (default: all, IPv6 and IPv4)\n");
	flags_help(1);
}

static void
fd_help(void)
{
	printf(
	    "fd: a listening socket passed by the parent (socket activation: "
	    "LISTEN_FDS)\n"
	    "parameters:\n"
	    "  fd=N         the socket on descriptor N\n"
	    "  name=NAME    every passed socket named NAME in LISTEN_FDNAMES\n"
	    "               (neither: every passed socket)\n");
	flags_help(0);
}

/* Migration of queued connections (reuseport). */

/*
 * When a listening socket closes, the connections queued on it (and the
 * handshakes under way) are reset, even if other sockets share the
 * port through SO_REUSEPORT.  Since Linux 5.14 the kernel moves them to
 * another socket of the group instead when net.ipv4.tcp_migrate_req is
 * 1, or when the group has a BPF_PROG_TYPE_SK_REUSEPORT program loaded
 * for BPF_SK_REUSEPORT_SELECT_OR_MIGRATE.  The program here is the
 * smallest one: "return SK_PASS" without choosing a socket, which
 * leaves the choice to the kernel's usual hash and only turns
 * migration on.  Loading it needs root (CAP_BPF and CAP_NET_ADMIN),
 * which htparser usually has until it drops privileges, after binding.
 */
static int
migrate_prog(void)
{
	static int fd = -2;
	struct bpf_insn insns[2];
	union bpf_attr attr;

	if (fd != -2)
		return fd;
	memset(insns, 0, sizeof(insns));
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K; /* r0 = SK_PASS */
	insns[0].dst_reg = BPF_REG_0;
	insns[0].imm = SK_PASS;
	insns[1].code = BPF_JMP | BPF_EXIT;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SK_REUSEPORT;
	attr.expected_attach_type = BPF_SK_REUSEPORT_SELECT_OR_MIGRATE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = 2;
	attr.license = (uint64_t)(uintptr_t) "GPL";
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	return fd;
}

static int
migrate_sysctl(void)
{
	char c = '0';
	int fd;

	if ((fd = open("/proc/sys/net/ipv4/tcp_migrate_req",
		 O_RDONLY | O_CLOEXEC)) >= 0) {
		if (read(fd, &c, 1) != 1)
			c = '0';
		close(fd);
	}
	return c == '1';
}

static void
reuseport_migrate(int fd)
{
	static int warned;
	int prog, err;

	if ((prog = migrate_prog()) >= 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog,
		sizeof(prog)) == 0)
		return;
	err = errno;
	if (migrate_sysctl() || warned++)
		return;
	log_msg(LOG_WARNING,
	    "reuseport: cannot turn on the migration of queued connections "
	    "(%s) and net.ipv4.tcp_migrate_req is 0: connections queued on "
	    "this htparser's socket when it stops may be reset",
	    strerror(err));
}

/* plain. */

/* Bind one socket for (local, port); 0 or -1 (logged). */
static int
plain_bind(const struct portspec *ps)
{
	struct addrinfo hints, *res = NULL, *ai;
	const char *local = ps->ps_local, *port = ps->ps_port;
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
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
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
		if ((!ps->ps_reuseport ||
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
			    sizeof(one)) == 0) &&
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, ASH_LISTEN_BACKLOG) == 0)
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
	if (ps->ps_reuseport)
		reuseport_migrate(fd);
	listener_add(fd, ps, 0);
	return 0;
}

/* fd: sockets passed by the parent. */

struct passed {
	int p_fd;
	char *p_name;
};
static struct passed *passed;
static size_t npassed;

/*
 * The sockets of socket activation, read once: LISTEN_PID must be ours
 * (else they were meant for another process), LISTEN_FDS counts them
 * from descriptor 3, LISTEN_FDNAMES names them (colon-separated, as
 * sd_listen_fds_with_names() reads them: "unknown" past the last).  The
 * variables are removed, so that the handlers do not see them, and the
 * sockets made close-on-exec.
 */
static void
passed_init(void)
{
	static int done;
	const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES"), *nm;
	char *end;
	long v;
	size_t i, len;

	if (done++)
		return;
	if (pid && n && strtol(pid, &end, 10) == (long)getpid() && !*end &&
	    (v = strtol(n, &end, 10)) > 0 && !*end && v <= ASH_LISTEN_FDS_MAX) {
		npassed = (size_t)v;
		passed = xcalloc(npassed, sizeof(*passed));
		/* Names in order, colon-separated (an empty one stays
		 * empty); past the last, "unknown". */
		nm = names;
		for (i = 0; i < npassed; i++) {
			passed[i].p_fd = LISTEN_FDS_START + (int)i;
			if (nm == NULL)
				passed[i].p_name = xstrdup("unknown");
			else {
				len = strcspn(nm, ":");
				passed[i].p_name = xmalloc(len + 1);
				memcpy(passed[i].p_name, nm, len);
				passed[i].p_name[len] = '\0';
				nm = nm[len] == ':' ? nm + len + 1 : NULL;
			}
			fcntl(passed[i].p_fd, F_SETFD, FD_CLOEXEC);
		}
	} else if (n)
		log_msg(LOG_WARNING,
		    "LISTEN_FDS ignored: LISTEN_PID is not this process");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

/* Take one passed socket; 0 or -1 (logged). */
static int
fd_take(int fd, const struct portspec *ps)
{
	struct listener *l;
	int v;
	socklen_t sl = sizeof(v);

	for (l = srv.s_listeners; l; l = l->l_next) {
		if (l->l_fd == fd) {
			log_msg(LOG_ERR, "fd: descriptor %d given twice", fd);
			return -1;
		}
	}
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &sl) == -1) {
		log_errno(LOG_ERR, "fd: descriptor %d", fd);
		return -1;
	}
	sl = sizeof(v);
	if (v != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &sl) == -1 || !v) {
		log_msg(LOG_ERR,
		    "fd: descriptor %d is not a listening stream socket", fd);
		return -1;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		log_errno(LOG_ERR, "fd: descriptor %d", fd);
		return -1;
	}
	/* Made with ReusePort=yes: the same care as for our own. */
	sl = sizeof(v);
	if (getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &v, &sl) == 0 && v)
		reuseport_migrate(fd);
	listener_add(fd, ps, 1);
	return 0;
}

static int
fd_open(const struct portspec *ps)
{
	size_t i, n = 0;
	char *end;
	long v;

	passed_init();
	if (ps->ps_fd) {
		v = strtol(ps->ps_fd, &end, 10);
		if (*end || v < 0 || v > 65535) {
			log_msg(LOG_ERR, "fd: bad descriptor \"%s\"",
			    ps->ps_fd);
			return -1;
		}
		return fd_take((int)v, ps);
	}
	for (i = 0; i < npassed; i++) {
		if (ps->ps_name && strcmp(ps->ps_name, passed[i].p_name))
			continue;
		if (fd_take(passed[i].p_fd, ps) == -1)
			return -1;
		n++;
	}
	if (n == 0 && ps->ps_name)
		log_msg(LOG_ERR,
		    "fd: no socket named \"%s\" was passed "
		    "(LISTEN_FDNAMES)",
		    ps->ps_name);
	else if (n == 0)
		log_msg(LOG_ERR,
		    "fd: no socket was passed "
		    "(LISTEN_FDS, LISTEN_PID)");
	if (n == 0) {
		return -1;
	}
	return 0;
}

/* Shutdown. */

void
listen_stop(void)
{
	struct listener *l;
	int n = 0, got;

	for (l = srv.s_listeners; l; l = l->l_next) {
		loop_unwatch(srv.s_loop, &l->l_watch);
		if (!l->l_passed) {
			/* Closing drops what is queued: take it first. */
			for (n = 0; n < ASH_ACCEPT_DRAIN_MAX; n += got)
				if (!(got = conn_accept(l, ASH_ACCEPT_BATCH)))
					break;
		}
		close(l->l_fd);
		l->l_fd = -1;
	}
}

/* Parsing. */

/* Parameters after "HANDLER:" into ps; 0, 1 help printed, -1 bad. */
static int
parse_params(char *pars, struct portspec *ps)
{
	int plain = !strcmp(ps->ps_handler, "plain");
	char *par, *val, *save = NULL;

	for (par = pars ? strtok_r(pars, ",", &save) : NULL; par;
	     par = strtok_r(NULL, ",", &save)) {
		if ((val = strchr(par, '=')) != NULL)
			*val++ = '\0';
		if (val == NULL && !strcmp(par, "help")) {
			if (plain)
				plain_help();
			else
				fd_help();
			return 1;
		} else if (val == NULL && !strcmp(par, "proxy"))
			ps->ps_proxy = 1;
		else if (val == NULL && !strcmp(par, "https"))
			ps->ps_https = 1;
		else if (plain && val == NULL && !strcmp(par, "reuseport"))
			ps->ps_reuseport = 1;
		else if (plain && !strcmp(par, "port") && val && *val)
			ps->ps_port = val;
		else if (plain && !strcmp(par, "local") && val && *val) {
			ps->ps_local = val;
			if (*val == '[' && val[strlen(val) - 1] == ']') {
				val[strlen(val) - 1] = '\0';
				ps->ps_local = val + 1;
			}
		} else if (!plain && !strcmp(par, "fd") && val && *val &&
		    !ps->ps_name)
			ps->ps_fd = val;
		else if (!plain && !strcmp(par, "name") && val && *val &&
		    !ps->ps_fd)
			ps->ps_name = val;
		else {
			log_msg(LOG_ERR,
			    "%s: bad parameter \"%s\" (%s:help lists them)",
			    ps->ps_handler, par, ps->ps_handler);
			return -1;
		}
	}
	return 0;
}

int
listen_portspec(const char *spec)
{
	struct portspec ps;
	char *copy, *pars;
	int rv = -1;

	memset(&ps, 0, sizeof(ps));
	ps.ps_handler = "fd";
	if (spec == NULL)
		return fd_open(&ps) == 0 ? 0 : -1;
	copy = xstrdup(spec);
	if ((pars = strchr(copy, ':')) != NULL)
		*pars++ = '\0';
	if (!strcmp(copy, "ssl") || !strcmp(copy, "https") ||
	    !strcmp(copy, "tls")) {
		log_msg(LOG_ERR,
		    "%s: htparser does not do TLS itself: run a TLS terminator "
		    "(hitch, haproxy) in front of a \"plain:...,proxy\" port; "
		    "see the section TLS AND DEPLOYMENT of htparser(1)",
		    copy);
		goto done;
	}
	if (strcmp(copy, "plain") && strcmp(copy, "fd")) {
		log_msg(LOG_ERR,
		    "%s: unknown port handler (\"plain\" or \"fd\")", copy);
		goto done;
	}
	ps.ps_handler = copy;
	ps.ps_port = "80";
	if ((rv = parse_params(pars, &ps)) != 0)
		goto done;
	/* Bind now so the strings stay valid: copy is freed below. */
	if (!strcmp(copy, "plain"))
		rv = plain_bind(&ps) == 0 ? 0 : -2;
	else
		rv = fd_open(&ps) == 0 ? 0 : -1;
done:
	free(copy);
	return rv;
}
