/*
 * test_proxy.c: the PROXY protocol parser (lib/proxy.c).
 *
 * Every input is one table row carrying its __LINE__, run twice:
 * (a) whole, copied to the end of an allocation of exactly its length,
 * so that an over-read is an ASan or valgrind error, and (b) fed one
 * byte at a time: every prefix in its own exact allocation.  A prefix
 * must say "need more" (0) until the header is complete, and the
 * header's length from then on; a row whose answer is an error may
 * show it earlier, must show it by `early` bytes when that is given,
 * and once shown it must stay.
 *
 * A parsed header is compared as a text dump: "vN local", or
 * "vN FAMILY SRC DST" and " ssl" when the SSL TLV says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "ashlimits.h"
#include "proxy.h"
#include "tap.h"

/* The version 2 signature; "QUIT\n" ends the literal so that a hex
 * escape after it cannot swallow letters. */
#define SIG "\r\n\r\n\0\r\nQUIT\n"
/* Addresses of the TCP4 rows: 127.0.0.1:4660 -> 10.0.0.2:80. */
#define A4 \
	"\x7f\0\0\x01" \
	"\x0a\0\0\x02" \
	"\x12\x34" \
	"\0\x50"
/* 2001:db8::1 port 1 -> ::1 port 65535. */
#define A6 \
	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" \
	"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01" \
	"\0\x01" \
	"\xff\xff"
#define Z10  "\0\0\0\0\0\0\0\0\0\0"
#define Z100 Z10 Z10 Z10 Z10 Z10 Z10 Z10 Z10 Z10 Z10
/* Two sun_path fields of 108 bytes. */
#define AU \
	"/run/a" \
	"\0\0" Z100 "/run/b" \
	"\0\0" Z100
#define F39  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
#define X10  "xxxxxxxxxx"
#define X90  X10 X10 X10 X10 X10 X10 X10 X10 X10
#define U16  "uuuuuuuuuuuuuuuu"
#define U128 U16 U16 U16 U16 U16 U16 U16 U16
/* An SSL TLV: client SSL, verified, one sub-TLV (the TLS version). */
#define SSL_TLV \
	"\x20\0\x0f" \
	"\x01" \
	"\0\0\0\0" \
	"\x21\0\x07" \
	"TLSv1.3"
#define HTTP "GET / HTTP/1.1\r\n\r\n"

#define OK   1

#define R(in, tail, want, early, dump) \
	{ \
		__LINE__, in, sizeof(in) - 1, tail, want, early, dump \
	}
/* A header that parses, followed by `tail` bytes that are not its. */
#define R_OK(in, tail, dump) R(in, tail, OK, 0, dump)
/* An error, to be shown by the first `early` bytes (0: at the end). */
#define R_ERR(in, err, early) R(in, 0, -(err), early, NULL)
/* Incomplete: "need more" at the end. */
#define R_MORE(in) R(in, 0, 0, 0, NULL)

static const struct row {
	int line;
	const char *in;
	size_t len;
	size_t tail;
	int want;
	size_t early;
	const char *dump;
} rows[] = {
	/* Version 1. */
	R_OK("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" HTTP,
	    sizeof(HTTP) - 1, "v1 inet 192.168.0.1:56324 192.168.0.11:443"),
	R_OK("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", 0,
	    "v1 inet 255.255.255.255:65535 255.255.255.255:65535"),
	R_OK("PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n", 0,
	    "v1 inet 0.0.0.0:0 10.0.0.1:0"),
	R_OK("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n" HTTP, sizeof(HTTP) - 1,
	    "v1 inet6 [2001:db8::1]:1 [::1]:65535"),
	R_OK("PROXY TCP6 2001:DB8:0:0:0:0:0:2 ::ffff:a00:1 80 8080\r\n", 0,
	    "v1 inet6 [2001:db8::2]:80 [::ffff:10.0.0.1]:8080"),
	R_OK("PROXY TCP6 " F39 " " F39 " 65535 65535\r\n", 0,
	    "v1 inet6 [" F39 "]:65535 [" F39 "]:65535"),
	R_OK("PROXY UNKNOWN\r\n" HTTP, sizeof(HTTP) - 1, "v1 local"),
	R_OK("PROXY UNKNOWN " F39 " " F39 " 65535 65535\r\n", 0, "v1 local"),
	R_OK("PROXY UNKNOWN anything at all\r\n", 0, "v1 local"),
	/* 107 bytes with the CRLF is the most; 108 is too long. */
	R_OK("PROXY UNKNOWN " X90 "x\r\n", 0, "v1 local"),
	R_ERR("PROXY UNKNOWN " X90 "xx\r\n", PROXY_ELONG, 107),
	R_ERR("PROXY TCP4 1.2.3.4 5.6.7.8 1 2" X90, PROXY_ELONG, 107),
	R_MORE("PROXY TCP4 1.2.3.4 5.6.7.8 1 2"),
	R_MORE("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"),
	R_MORE("PROXY"),
	R_ERR(HTTP, PROXY_ESIG, 1),
	R_ERR("PROXX TCP4", PROXY_ESIG, 5),
	R_ERR("\x16\x03\x01\x02\0", PROXY_ESIG, 1),
	R_ERR("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ELINE, 6),
	R_ERR("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", PROXY_ELINE, 31),
	R_ERR("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX\r\n", PROXY_ELINE, 32),
	R_ERR("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", PROXY_ELINE, 19),
	R_ERR("PROXY TCP4 1.2.3.\x80 5.6.7.8 1 2\r\n", PROXY_ELINE, 18),
	R_ERR("PROXY TCP4 1.2.3.\0 5.6.7.8 1 2\r\n", PROXY_ELINE, 18),
	R_ERR("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY UNKNOWNX\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY \r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP4 ::1 ::1 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP6 1:::2 ::1 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", PROXY_ELINE, 0),
	R_ERR("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", PROXY_ELINE, 0),

	/* Version 2: LOCAL (health checks), addresses ignored. */
	R_OK(SIG "\x20\0\0\0" HTTP, sizeof(HTTP) - 1, "v2 local"),
	R_OK(SIG "\x20\x11\0\x0c" A4, 0, "v2 local"),
	R_OK(SIG "\x20\0\0\x03"
		 "abc" HTTP,
	    sizeof(HTTP) - 1, "v2 local"),
	/* PROXY over TCP. */
	R_OK(SIG "\x21\x11\0\x0c" A4 HTTP, sizeof(HTTP) - 1,
	    "v2 inet 127.0.0.1:4660 10.0.0.2:80"),
	R_OK(SIG "\x21\x21\0\x24" A6, 0,
	    "v2 inet6 [2001:db8::1]:1 [::1]:65535"),
	R_OK(SIG "\x21\x31\0\xd8" AU, 0, "v2 unix /run/a /run/b"),
	/* UNSPEC and DGRAM: valid, no usable address. */
	R_OK(SIG "\x21\0\0\0", 0, "v2 local"),
	R_OK(SIG "\x21\x12\0\x0c" A4, 0, "v2 local"),
	R_OK(SIG "\x21\x22\0\x24" A6, 0, "v2 local"),
	R_OK(SIG "\x21\x32\0\xd8" AU, 0, "v2 local"),
	/* TLVs. */
	R_OK(SIG "\x21\x11\0\x1e" A4 SSL_TLV HTTP, sizeof(HTTP) - 1,
	    "v2 inet 127.0.0.1:4660 10.0.0.2:80 ssl"),
	R_OK(SIG "\x21\x11\0\x14" A4 "\x20\0\x05"
		 "\x06"
		 "\0\0\0\x01",
	    0, "v2 inet 127.0.0.1:4660 10.0.0.2:80"),
	R_OK(SIG "\x21\x11\0\x14" A4 "\x20\0\x05"
		 "\x07"
		 "\0\0\0\0",
	    0, "v2 inet 127.0.0.1:4660 10.0.0.2:80 ssl"),
	R_OK(SIG "\x21\x21\0\x49" A6 "\x04\0\x02"
		 "\0\0"
		 "\x02\0\x0b"
		 "example.com" SSL_TLV,
	    0, "v2 inet6 [2001:db8::1]:1 [::1]:65535 ssl"),
	R_OK(SIG "\x21\x11\0\x1a" A4 "\x01\0\x02"
		 "h2"
		 "\xe0\0\0"
		 "\x30\0\x03"
		 "net",
	    0, "v2 inet 127.0.0.1:4660 10.0.0.2:80"),
	R_OK(SIG "\x21\x11\0\x8f" A4 "\x05\0\x80" U128, 0,
	    "v2 inet 127.0.0.1:4660 10.0.0.2:80"),
	R_OK(SIG "\x21\x11\0\x13" A4 "\x03\0\x04"
		 "\x7d\x39\xb4\xf5",
	    0, "v2 inet 127.0.0.1:4660 10.0.0.2:80"),
	R_ERR(SIG "\x21\x11\0\x13" A4 "\x03\0\x04"
		  "\x7d\x39\xb4\xf6",
	    PROXY_ECRC, 0),
	R_ERR(SIG "\x21\x11\0\x12" A4 "\x03\0\x03"
		  "\x7d\x39\xb4",
	    PROXY_ETLV, 0),
	R_ERR(SIG "\x21\x11\0\x1a" A4 "\x03\0\x04"
		  "\x7d\x39\xb4\xf5"
		  "\x03\0\x04"
		  "\x7d\x39\xb4\xf5",
	    PROXY_ETLV, 0),
	R_ERR(SIG "\x21\x11\0\x90" A4 "\x05\0\x81" U128 "u", PROXY_ETLV, 0),
	R_ERR(SIG "\x21\x11\0\x10" A4 "\x04\0\x02"
		  "\0",
	    PROXY_ETLV, 0),
	R_ERR(SIG "\x21\x11\0\x0e" A4 "\x04\0", PROXY_ETLV, 0),
	R_ERR(SIG "\x21\x11\0\x10" A4 "\x20\0\x01"
		  "\x01",
	    PROXY_ETLV, 0),
	R_ERR(SIG "\x21\x11\0\x13" A4 "\x20\0\x04"
		  "\x01\0\0\0",
	    PROXY_ETLV, 0),
	R_ERR(SIG "\x21\x11\0\x17" A4 "\x20\0\x08"
		  "\x01"
		  "\0\0\0\0"
		  "\x21\0\x05",
	    PROXY_ETLV, 0),
	R_ERR(SIG "\x21\x11\0\x30" A4 SSL_TLV SSL_TLV, PROXY_ETLV, 0),
	/* Broken fixed parts, each seen as soon as its byte arrives. */
	R_ERR("\r\n\r\n\0\r\nQUIX\n\x21\x11\0\x0c" A4, PROXY_ESIG, 11),
	R_ERR("\r\n\r\nGET", PROXY_ESIG, 5),
	R_ERR(SIG "\x11\x11\0\x0c" A4, PROXY_EVERSION, 13),
	R_ERR(SIG "\x31\x11\0\x0c" A4, PROXY_EVERSION, 13),
	R_ERR(SIG "\x22\x11\0\x0c" A4, PROXY_EVERSION, 13),
	R_ERR(SIG "\x2f\x11\0\x0c" A4, PROXY_EVERSION, 13),
	R_ERR(SIG "\x21\x41\0\x0c" A4, PROXY_EFAMILY, 14),
	R_ERR(SIG "\x21\x13\0\x0c" A4, PROXY_EFAMILY, 14),
	R_ERR(SIG "\x20\xf0\0\0", PROXY_EFAMILY, 14),
	/* Lengths: too short for the family, longer than allowed. */
	R_ERR(SIG "\x21\x11\0\x0b" A4, PROXY_EADDRLEN, 16),
	R_ERR(SIG "\x21\x21\0\x0c" A6, PROXY_EADDRLEN, 16),
	R_ERR(SIG "\x21\x31\0\x24" AU, PROXY_EADDRLEN, 16),
	R_ERR(SIG "\x21\x11\x0f\xf1" A4, PROXY_ELONG, 16),
	R_ERR(SIG "\x20\0\xff\xff", PROXY_ELONG, 16),
	/* Truncated: the length says more than has come. */
	R_MORE(SIG "\x21\x11\x0f\xf0" A4),
	R_MORE(SIG "\x21\x11\0\x0c"
		   "\x7f\0\0\x01"),
	R_MORE(SIG "\x21\x11\0"),
	R_MORE(SIG),
	R_MORE("\r\n\r\n\0"),
};

static char *
exact(const char *in, size_t len)
{
	char *p;

	if ((p = malloc(len ? len : 1)) == NULL) {
		perror("malloc");
		exit(2);
	}
	memcpy(p, in, len);
	return p;
}

static void
show_addr(char *out, size_t cap, const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *sin = (const void *)ss;
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	const struct sockaddr_un *sun = (const void *)ss;
	char h[INET6_ADDRSTRLEN];

	switch (ss->ss_family) {
	case AF_INET:
		inet_ntop(AF_INET, &sin->sin_addr, h, sizeof(h));
		snprintf(out, cap, "%s:%u", h, ntohs(sin->sin_port));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &sin6->sin6_addr, h, sizeof(h));
		snprintf(out, cap, "[%s]:%u", h, ntohs(sin6->sin6_port));
		break;
	case AF_UNIX:
		snprintf(out, cap, "%.*s", (int)sizeof(sun->sun_path),
		    sun->sun_path);
		break;
	default:
		snprintf(out, cap, "?%d", ss->ss_family);
	}
}

static void
dump(char *out, size_t cap, const struct proxy_info *pi)
{
	char s[200], d[200];

	if (pi->pi_local) {
		snprintf(out, cap, "v%d local%s", pi->pi_version,
		    pi->pi_ssl ? " ssl" : "");
		return;
	}
	show_addr(s, sizeof(s), &pi->pi_src);
	show_addr(d, sizeof(d), &pi->pi_dst);
	snprintf(out, cap, "v%d %s %s %s%s", pi->pi_version,
	    pi->pi_family == AF_INET	    ? "inet"
		: pi->pi_family == AF_INET6 ? "inet6"
		: pi->pi_family == AF_UNIX  ? "unix"
					    : "?",
	    s, d, pi->pi_ssl ? " ssl" : "");
}

static void
run_row(const struct row *r)
{
	struct proxy_info pi;
	size_t hlen = r->len - r->tail, k;
	int want = r->want == OK ? (int)hlen : r->want, got, seen = 0, good;
	char *p, out[512];

	p = exact(r->in, r->len);
	got = proxy_parse(p, r->len, &pi);
	free(p);
	if (!ok_at(r->line, got == want, "whole: %d", want))
		tap_diag("got %d (%s)", got,
		    got < 0 ? proxy_strerror(got) : "");
	if (r->dump && got == want) {
		dump(out, sizeof(out), &pi);
		is_str_at(r->line, out, r->dump, "dump");
	}
	/* Byte by byte. */
	good = 1;
	for (k = 0; k <= r->len && good; k++) {
		int w = r->want == OK ? (k < hlen ? 0 : want) : want;

		p = exact(r->in, k);
		got = proxy_parse(p, k, &pi);
		free(p);
		if (r->want < 0) {
			if (seen)
				good = got == want;
			else if (got == want)
				seen = 1;
			else
				good = got == 0 &&
				    (r->early == 0 || k < r->early);
		} else
			good = got == w;
		if (!good)
			tap_diag("prefix of %zu bytes: got %d", k, got);
	}
	ok_at(r->line, good, "byte by byte");
}

/* What the parser promises besides the rows. */
static void
test_misc(void)
{
	struct proxy_info pi;
	int e;

	is_int(proxy_parse("", 0, &pi), 0, "empty input: need more");
	for (e = PROXY_ESIG; e <= PROXY_ECRC; e++)
		ok(strcmp(proxy_strerror(-e), "unknown error") != 0,
		    "error %d has a message", e);
	is_str(proxy_strerror(-99), "unknown error", "unknown error");
	ok(ASH_PROXY_MAX >= 16 + 216 + 1024, "room for UNIX and TLVs");
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run_row(&rows[i]);
	test_misc();
	return tap_done();
}
