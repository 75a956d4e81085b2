/*
 * proxy.h: the PROXY protocol, versions 1 and 2 (HAProxy's
 * proxy-protocol.txt), as a pure incremental parser.
 *
 * A TLS terminator or load balancer in front of a server opens each
 * connection with one PROXY header that says who the real client is.
 * The header is trusted only on a port configured to require it: there
 * is no guessing whether one is present.
 *
 * proxy_parse() owns nothing: it takes the bytes received so far from
 * the start of the connection and answers
 *   > 0   the header is complete and valid: that many bytes are the
 *         header (what follows belongs to the application protocol),
 *         and *pi describes it;
 *   0     need more bytes: everything so far could still be a header;
 *   < 0   -PROXY_E...: this is not a valid header; the connection must
 *         be closed.  An error is reported as soon as the bytes show
 *         it, and stays the same however many more bytes follow.
 * It may be called again with the same bytes plus more each time.
 *
 * What is accepted, strictly:
 *   v1  "PROXY TCP4 SRC DST SPORT DPORT\r\n" (and TCP6), exactly one
 *       space between the fields, dotted-quad IPv4 without leading
 *       zeroes, IPv6 in hexadecimal groups (no embedded IPv4), ports
 *       0-65535 without leading zeroes, at most 107 bytes with the
 *       CRLF; "PROXY UNKNOWN" followed by CRLF or by a space and
 *       anything printable up to the CRLF.  A bare CR or LF, or any
 *       other byte outside printable ASCII, ends it as an error.
 *   v2  the 12-byte signature, version 2, command LOCAL or PROXY, an
 *       address family 0-3 (UNSPEC, INET, INET6, UNIX) and a transport
 *       0-2 (UNSPEC, STREAM, DGRAM), a length that keeps the whole
 *       header within ASH_PROXY_MAX.  For PROXY over STREAM and a known
 *       family, the address block must be long enough, and the TLVs
 *       after it must fill the rest exactly; a PP2_TYPE_SSL TLV must
 *       hold its 5-byte fixed part and well-formed sub-TLVs, a
 *       PP2_TYPE_CRC32C TLV must be 4 bytes and match the header, a
 *       PP2_TYPE_UNIQUE_ID at most 128 bytes, and neither SSL nor CRC32C
 *       may appear twice.  LOCAL (health checks), UNSPEC and DGRAM
 *       headers are valid but carry no usable address: everything
 *       after the 16-byte fixed part is skipped, as the specification
 *       says a receiver falls back to do.
 */
#ifndef ASHD_PROXY_H
#define ASHD_PROXY_H

#include <stddef.h>
#include <sys/socket.h>

/* The longest version 1 line, CRLF included. */
#define PROXY_V1_MAX 107
/* Version 2: the fixed part before the address block. */
#define PROXY_V2_FIXED 16

/* Errors, returned negated. */
enum {
	PROXY_ESIG = 1, /* neither signature: not a PROXY header */
	PROXY_ELONG,	/* v1 line or v2 header longer than allowed */
	PROXY_ELINE,	/* v1: malformed line */
	PROXY_EVERSION, /* v2: version other than 2, or bad command */
	PROXY_EFAMILY,	/* v2: unknown address family or transport */
	PROXY_EADDRLEN, /* v2: address block shorter than its family */
	PROXY_ETLV,	/* v2: malformed or overrunning TLV */
	PROXY_ECRC	/* v2: CRC32C TLV does not match the header */
};

struct proxy_info {
	int pi_version; /* 1 or 2 */
	/* No address to use: v1 UNKNOWN, v2 LOCAL, or v2 with an UNSPEC
	 * or DGRAM family.  The connection's own addresses stand. */
	int pi_local;
	/* Otherwise AF_INET, AF_INET6 or AF_UNIX, and the client's
	 * (source) and the server's (destination) addresses as
	 * sockaddr_in, sockaddr_in6 or sockaddr_un (a sun_path of 108
	 * bytes, not necessarily NUL-terminated). */
	int pi_family;
	struct sockaddr_storage pi_src, pi_dst;
	/* v2 PROXY with a PP2_TYPE_SSL TLV whose client field has
	 * PP2_CLIENT_SSL: the client spoke TLS to the sender. */
	int pi_ssl;
};

/* Parse the PROXY header at the start of buf[0..len); see above. */
int proxy_parse(const void *buf, size_t len, struct proxy_info *pi);
/* A short description of a -PROXY_E... value, for logs. */
const char *proxy_strerror(int err);

#endif
