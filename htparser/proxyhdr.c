/*
 * proxyhdr.c: the PROXY state of a connection on a "proxy" port: the
 * header a TLS terminator or load balancer sends first, saying who the
 * client really is (lib/proxy.h parses it).
 *
 * The header is required: a connection whose first bytes are not a
 * valid header is closed without a word (its peer is not speaking the
 * protocol we were told it speaks, and the sender is told of the
 * anomaly as soon as possible, as the specification asks).  Nothing
 * else is trusted for the client's address: X-Forwarded-For and
 * Forwarded headers pass through to the handlers as the client sent
 * them.  The head timer started at accept covers the header and the
 * first request head together.
 */
#include <string.h>

#include "conn.h"
#include "ashlimits.h"
#include "log.h"
#include "proxy.h"

/* What the header says replaces the connection's own addresses; a
 * header without addresses (LOCAL health checks, UNKNOWN) leaves them. */
static void
proxy_apply(struct conn *c, const struct proxy_info *pi)
{
	if (!pi->pi_local) {
		memcpy(&c->c_peer, &pi->pi_src, sizeof(c->c_peer));
		memcpy(&c->c_local, &pi->pi_dst, sizeof(c->c_local));
	}
	if (pi->pi_ssl)
		c->c_https = 1;
}

/* CS_PROXY: 1 if something changed. */
int
proxyhdr_step(struct conn *c)
{
	struct proxy_info pi;
	int n;

	if (c->c_in.b_len > 0) {
		n = proxy_parse(c->c_in.b_data, c->c_in.b_len, &pi);
		if (n < 0) {
			conn_log(c, LOG_WARNING,
			    "PROXY header: %s; connection closed",
			    proxy_strerror(n));
			conn_abort(c);
			return 1;
		}
		if (n > 0) {
			buf_consume(&c->c_in, (size_t)n);
			proxy_apply(c, &pi);
			c->c_state = CS_HEAD;
			return 1;
		}
	}
	/* A complete header always fits: proxy_parse() refuses longer
	 * ones before this much has come. */
	n = conn_read(c, ASH_PROXY_MAX);
	if (n < 0) {
		if (c->c_in.b_len > 0)
			conn_log(c, LOG_WARNING,
			    "PROXY header: connection closed before its end");
		conn_abort(c);
		return 1;
	}
	return n;
}
