/*
 * proxy.c: the PROXY protocol parser (see proxy.h for what it accepts).
 *
 * Both versions are parsed from the start of the buffer at every call:
 * a header is at most a few kilobytes and arrives in one segment from
 * any real sender, so keeping no state costs nothing and makes every
 * call answer the same for the same bytes.  The first byte chooses the
 * version ('P' for 1, CR for 2), and the signature is checked byte by
 * byte as far as it has arrived, so that anything else fails at once.
 */
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "ashlimits.h"
#include "proxy.h"

static const char v1sig[] = "PROXY ";
static const unsigned char v2sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/* Version 2 TLV types that are checked (proxy-protocol.txt 2.2). */
#define PP2_TYPE_CRC32C	   0x03
#define PP2_TYPE_UNIQUE_ID 0x05
#define PP2_TYPE_SSL	   0x20
#define PP2_CLIENT_SSL	   0x01
#define PP2_UNIQUE_ID_MAX  128

const char *
proxy_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case PROXY_ESIG:
		return "not a PROXY protocol header";
	case PROXY_ELONG:
		return "header too long";
	case PROXY_ELINE:
		return "malformed version 1 line";
	case PROXY_EVERSION:
		return "bad version 2 version or command";
	case PROXY_EFAMILY:
		return "bad version 2 address family";
	case PROXY_EADDRLEN:
		return "version 2 address block too short";
	case PROXY_ETLV:
		return "malformed version 2 TLV";
	case PROXY_ECRC:
		return "version 2 CRC32C mismatch";
	default:
		return "unknown error";
	}
}

/* Version 1. */

/* A decimal number of 1 to `digits` digits, no leading zero, at most
 * max, spanning exactly s[0..n); -1 if not. */
static long
v1_number(const char *s, size_t n, size_t digits, long max)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > digits || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* A v1 address of the given family in s[0..n) into sa; 0 or -1. */
static int
v1_addr(const char *s, size_t n, int family, struct sockaddr_storage *sa)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)sa;
	unsigned char q[4];
	char tmp[40];
	size_t i, start = 0, k = 0;
	long v;

	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET) {
		for (i = 0; i <= n; i++) {
			if (i < n && s[i] != '.')
				continue;
			if (k == 4 ||
			    (v = v1_number(s + start, i - start, 3, 255)) < 0)
				return -1;
			q[k++] = (unsigned char)v;
			start = i + 1;
		}
		if (k != 4)
			return -1;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, q, 4);
		return 0;
	}
	/* Hexadecimal groups and colons only: inet_pton() alone would
	 * also take an embedded dotted quad. */
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	for (i = 0; i < n; i++)
		if (s[i] != ':' &&
		    !((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f') ||
			(s[i] >= 'A' && s[i] <= 'F')))
			return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	sin6->sin6_family = AF_INET6;
	return inet_pton(AF_INET6, tmp, &sin6->sin6_addr) == 1 ? 0 : -1;
}

static void
set_port(struct sockaddr_storage *sa, unsigned port)
{
	if (sa->ss_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
}

/* The fields of a complete line (without "PROXY " and the CRLF). */
static int
v1_fields(const char *s, size_t n, struct proxy_info *pi)
{
	const char *f[5];
	size_t fl[5], i, k = 0, start = 0;
	long sport, dport;
	int family;

	if (n >= 7 && !memcmp(s, "UNKNOWN", 7) && (n == 7 || s[7] == ' ')) {
		pi->pi_local = 1;
		return 0;
	}
	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (k == 5 || i == start)
			return -PROXY_ELINE;
		f[k] = s + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	if (k != 5 || fl[0] != 4 || memcmp(f[0], "TCP", 3) ||
	    (f[0][3] != '4' && f[0][3] != '6'))
		return -PROXY_ELINE;
	family = f[0][3] == '4' ? AF_INET : AF_INET6;
	if (v1_addr(f[1], fl[1], family, &pi->pi_src) == -1 ||
	    v1_addr(f[2], fl[2], family, &pi->pi_dst) == -1 ||
	    (sport = v1_number(f[3], fl[3], 5, 65535)) < 0 ||
	    (dport = v1_number(f[4], fl[4], 5, 65535)) < 0)
		return -PROXY_ELINE;
	set_port(&pi->pi_src, (unsigned)sport);
	set_port(&pi->pi_dst, (unsigned)dport);
	pi->pi_family = family;
	return 0;
}

static int
parse_v1(const char *s, size_t len, struct proxy_info *pi)
{
	size_t i;
	int rv;

	for (i = 0; i < len && i < sizeof(v1sig) - 1; i++)
		if (s[i] != v1sig[i])
			return i < 5 ? -PROXY_ESIG : -PROXY_ELINE;
	/* Find the CRLF, refusing anything that cannot be in the line. */
	for (; i < len; i++) {
		if (i >= PROXY_V1_MAX - 1)
			return -PROXY_ELONG;
		if (s[i] == '\r') {
			if (i + 1 == len)
				return 0;
			if (s[i + 1] != '\n')
				return -PROXY_ELINE;
			break;
		}
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return -PROXY_ELINE;
	}
	if (i == len)
		return 0;
	pi->pi_version = 1;
	if ((rv = v1_fields(s + 6, i - 6, pi)) < 0)
		return rv;
	return (int)(i + 2);
}

/* Version 2. */

/* CRC32C (Castagnoli, reflected 0x82F63B78), bit by bit: headers are
 * small and rarely carry one. */
static uint32_t
crc32c_update(uint32_t crc, const unsigned char *p, size_t n)
{
	int k;

	while (n--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
	}
	return crc;
}

/* The header's CRC32C with the 4 value bytes at `at` taken as zero. */
static uint32_t
crc32c_header(const unsigned char *h, size_t len, size_t at)
{
	static const unsigned char zero[4];
	uint32_t crc = 0xffffffffu;

	crc = crc32c_update(crc, h, at);
	crc = crc32c_update(crc, zero, 4);
	crc = crc32c_update(crc, h + at + 4, len - at - 4);
	return ~crc;
}

/* TLVs in p[0..n) must fill it exactly; 0 or -1. */
static int
tlv_walk(const unsigned char *p, size_t n)
{
	size_t l;

	while (n > 0) {
		if (n < 3 || (l = (size_t)p[1] << 8 | p[2]) > n - 3)
			return -1;
		p += 3 + l;
		n -= 3 + l;
	}
	return 0;
}

/* The TLVs of a PROXY header: h[0..len) is the whole header, the TLVs
 * start at `at`.  The checksum is verified last, so that a malformed
 * TLV after it is reported as such. */
static int
v2_tlvs(const unsigned char *h, size_t len, size_t at, struct proxy_info *pi)
{
	const unsigned char *v;
	size_t l, crc_at = 0;
	int seen_ssl = 0;
	uint32_t want;

	if (tlv_walk(h + at, len - at) == -1)
		return -PROXY_ETLV;
	for (; at < len; at += 3 + l) {
		l = (size_t)h[at + 1] << 8 | h[at + 2];
		v = h + at + 3;
		switch (h[at]) {
		case PP2_TYPE_SSL:
			if (seen_ssl++ || l < 5 || tlv_walk(v + 5, l - 5) == -1)
				return -PROXY_ETLV;
			pi->pi_ssl = (v[0] & PP2_CLIENT_SSL) != 0;
			break;
		case PP2_TYPE_CRC32C:
			if (crc_at != 0 || l != 4)
				return -PROXY_ETLV;
			crc_at = at + 3;
			break;
		case PP2_TYPE_UNIQUE_ID:
			if (l > PP2_UNIQUE_ID_MAX)
				return -PROXY_ETLV;
			break;
		}
	}
	if (crc_at != 0) {
		v = h + crc_at;
		want = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
		    (uint32_t)v[2] << 8 | v[3];
		if (crc32c_header(h, len, crc_at) != want)
			return -PROXY_ECRC;
	}
	return 0;
}

/* The address block of a PROXY over STREAM header; its length. */
static size_t
v2_addrs(const unsigned char *a, int family, struct proxy_info *pi)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&pi->pi_src;
	struct sockaddr_in *d4 = (struct sockaddr_in *)&pi->pi_dst;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&pi->pi_src;
	struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&pi->pi_dst;
	struct sockaddr_un *su = (struct sockaddr_un *)&pi->pi_src;
	struct sockaddr_un *du = (struct sockaddr_un *)&pi->pi_dst;

	memset(&pi->pi_src, 0, sizeof(pi->pi_src));
	memset(&pi->pi_dst, 0, sizeof(pi->pi_dst));
	pi->pi_family = family;
	switch (family) {
	case AF_INET:
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&d4->sin_addr, a + 4, 4);
		memcpy(&s4->sin_port, a + 8, 2);
		memcpy(&d4->sin_port, a + 10, 2);
		return 12;
	case AF_INET6:
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		memcpy(&d6->sin6_addr, a + 16, 16);
		memcpy(&s6->sin6_port, a + 32, 2);
		memcpy(&d6->sin6_port, a + 34, 2);
		return 36;
	default:
		su->sun_family = du->sun_family = AF_UNIX;
		memcpy(su->sun_path, a, 108);
		memcpy(du->sun_path, a + 108, 108);
		return 216;
	}
}

static int
parse_v2(const unsigned char *h, size_t len, struct proxy_info *pi)
{
	static const int families[] = { AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX };
	static const size_t addrlen[] = { 0, 12, 36, 216 };
	size_t i, total;
	int fam, proto, cmd;

	for (i = 0; i < len && i < sizeof(v2sig); i++)
		if (h[i] != v2sig[i])
			return -PROXY_ESIG;
	if (len <= 12)
		return 0;
	cmd = h[12] & 0xf;
	if ((h[12] >> 4) != 2 || cmd > 1)
		return -PROXY_EVERSION;
	if (len <= 13)
		return 0;
	fam = h[13] >> 4;
	proto = h[13] & 0xf;
	if (fam > 3 || proto > 2)
		return -PROXY_EFAMILY;
	if (len < PROXY_V2_FIXED)
		return 0;
	total = PROXY_V2_FIXED + ((size_t)h[14] << 8 | h[15]);
	if (total > ASH_PROXY_MAX)
		return -PROXY_ELONG;
	if (cmd == 1 && proto == 1 && fam != 0 &&
	    total - PROXY_V2_FIXED < addrlen[fam])
		return -PROXY_EADDRLEN;
	if (len < total)
		return 0;
	pi->pi_version = 2;
	if (cmd == 0 || proto != 1 || fam == 0) {
		/* LOCAL, or nothing this server can use: the real
		 * connection's addresses, and the block is skipped. */
		pi->pi_local = 1;
		return (int)total;
	}
	i = PROXY_V2_FIXED + v2_addrs(h + PROXY_V2_FIXED, families[fam], pi);
	if ((cmd = v2_tlvs(h, total, i, pi)) < 0)
		return cmd;
	return (int)total;
}

int
proxy_parse(const void *buf, size_t len, struct proxy_info *pi)
{
	const unsigned char *p = buf;

	memset(pi, 0, sizeof(*pi));
	if (len == 0)
		return 0;
	if (p[0] == v1sig[0])
		return parse_v1(buf, len, pi);
	return parse_v2(p, len, pi);
}
