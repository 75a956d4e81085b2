/*
 * fuzz_proxy.c: the PROXY protocol parser (lib/proxy.c) on raw bytes,
 * as they would arrive first on a port that requires the header.
 *
 * Invariants checked (what proxy.h promises):
 *  - the answer is 0, a length within the input and within the
 *    protocol's limits (107 bytes for v1, ASH_PROXY_MAX for v2), or one
 *    of the PROXY_E errors;
 *  - the same bytes always give the same answer and the same result;
 *  - prefixes: every prefix shorter than a parsed header says "need
 *    more"; every prefix says "need more" or the final answer, and once
 *    a prefix shows an error, every longer one shows that error;
 *  - what follows a complete header does not change it: the header
 *    alone, and the header followed by other bytes, give the same;
 *  - a result is consistent: version 1 or 2, v1 never says ssl nor
 *    unix, a non-local result has a family of INET, INET6 or UNIX with
 *    both addresses of that family; a v1 TCP result prints back to a
 *    line that parses to the same addresses; a v2 INET or INET6 result
 *    holds the address bytes of the header.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "ashlimits.h"
#include "proxy.h"
#include "fuzz.h"

static int
parse_copy(const uint8_t *data, size_t len, struct proxy_info *pi)
{
	char *p = fuzz_dup(data, len);
	int rv = proxy_parse(p, len, pi);

	free(p);
	return rv;
}

static int
same_info(const struct proxy_info *a, const struct proxy_info *b)
{
	if (a->pi_version != b->pi_version || a->pi_local != b->pi_local ||
	    a->pi_ssl != b->pi_ssl)
		return 0;
	if (a->pi_local)
		return 1;
	return a->pi_family == b->pi_family &&
	    !memcmp(&a->pi_src, &b->pi_src, sizeof(a->pi_src)) &&
	    !memcmp(&a->pi_dst, &b->pi_dst, sizeof(a->pi_dst));
}

/* A v1 TCP result, printed back as a line, parses to the same. */
static void
check_v1_print(const struct proxy_info *pi)
{
	const struct sockaddr_in *s4 = (const void *)&pi->pi_src;
	const struct sockaddr_in *d4 = (const void *)&pi->pi_dst;
	const struct sockaddr_in6 *s6 = (const void *)&pi->pi_src;
	const struct sockaddr_in6 *d6 = (const void *)&pi->pi_dst;
	struct proxy_info again;
	char line[160], sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	unsigned sp, dp;
	int n, rv;

	if (pi->pi_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, sa, sizeof(sa));
		inet_ntop(AF_INET, &d4->sin_addr, da, sizeof(da));
		sp = ntohs(s4->sin_port);
		dp = ntohs(d4->sin_port);
	} else {
		inet_ntop(AF_INET6, &s6->sin6_addr, sa, sizeof(sa));
		inet_ntop(AF_INET6, &d6->sin6_addr, da, sizeof(da));
		sp = ntohs(s6->sin6_port);
		dp = ntohs(d6->sin6_port);
		/* inet_ntop shows some addresses with a dotted tail, which
		 * the protocol does not allow: nothing to compare then. */
		if (strchr(sa, '.') || strchr(da, '.'))
			return;
	}
	n = snprintf(line, sizeof(line), "PROXY TCP%c %s %s %u %u\r\n",
	    pi->pi_family == AF_INET ? '4' : '6', sa, da, sp, dp);
	rv = parse_copy((const uint8_t *)line, (size_t)n, &again);
	CHECK(rv == n, "printed line \"%.*s\" gives %d", n - 2, line, rv);
	CHECK(same_info(pi, &again), "printed line parses differently");
}

static void
check_result(const uint8_t *data, int rv, const struct proxy_info *pi)
{
	const struct sockaddr_in *s4 = (const void *)&pi->pi_src;
	const struct sockaddr_in6 *s6 = (const void *)&pi->pi_src;

	CHECK(pi->pi_version == 1 || pi->pi_version == 2, "version %d",
	    pi->pi_version);
	if (pi->pi_version == 1) {
		CHECK(rv <= PROXY_V1_MAX, "v1 header of %d bytes", rv);
		CHECK(!pi->pi_ssl, "v1 with ssl");
		CHECK(data[rv - 2] == '\r' && data[rv - 1] == '\n',
		    "v1 header does not end in CRLF");
	} else {
		CHECK(rv >= PROXY_V2_FIXED && rv <= ASH_PROXY_MAX,
		    "v2 header of %d bytes", rv);
		CHECK(rv == PROXY_V2_FIXED + (data[14] << 8 | data[15]),
		    "v2 length field says %d, parsed %d",
		    PROXY_V2_FIXED + (data[14] << 8 | data[15]), rv);
	}
	if (pi->pi_local)
		return;
	CHECK(pi->pi_family == AF_INET || pi->pi_family == AF_INET6 ||
		pi->pi_family == AF_UNIX,
	    "family %d", pi->pi_family);
	CHECK(pi->pi_src.ss_family == pi->pi_family &&
		pi->pi_dst.ss_family == pi->pi_family,
	    "address families");
	if (pi->pi_version == 1) {
		CHECK(pi->pi_family != AF_UNIX, "v1 unix");
		check_v1_print(pi);
	} else if (pi->pi_family == AF_INET) {
		CHECK(!memcmp(&s4->sin_addr, data + 16, 4) &&
			!memcmp(&s4->sin_port, data + 24, 2),
		    "v2 inet source");
	} else if (pi->pi_family == AF_INET6) {
		CHECK(!memcmp(&s6->sin6_addr, data + 16, 16) &&
			!memcmp(&s6->sin6_port, data + 48, 2),
		    "v2 inet6 source");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_info pi, pi2;
	uint32_t seed = fuzz_seed(data, size);
	int rv, rv2, got, err_seen = 0;
	size_t k, step;
	uint8_t *more;

	rv = parse_copy(data, size, &pi);
	CHECK(rv == 0 || (rv > 0 && (size_t)rv <= size) ||
		(rv <= -PROXY_ESIG && rv >= -PROXY_ECRC),
	    "answer %d for %zu "
	    "bytes",
	    rv, size);
	rv2 = parse_copy(data, size, &pi2);
	CHECK(rv2 == rv && (rv <= 0 || same_info(&pi, &pi2)),
	    "not deterministic");
	if (rv > 0)
		check_result(data, rv, &pi);

	/* Prefixes: all of them for short inputs, else a sample. */
	step = size <= 256 ? 1 : 1 + fuzz_rand(&seed) % 64;
	for (k = 0; k < size; k += step) {
		got = parse_copy(data, k, &pi2);
		if (rv > 0 && k < (size_t)rv)
			CHECK(got == 0, "prefix %zu of a %d-byte header: %d", k,
			    rv, got);
		else if (rv > 0)
			CHECK(got == rv && same_info(&pi, &pi2),
			    "prefix %zu "
			    "after the header: %d",
			    k, got);
		else if (err_seen)
			CHECK(got == rv, "error of prefix %zu changed to %d", k,
			    got);
		else {
			CHECK(got == 0 || got == rv,
			    "prefix %zu: %d, whole: "
			    "%d",
			    k, got, rv);
			err_seen = got < 0;
		}
	}

	/* The header alone, and followed by other bytes. */
	if (rv > 0) {
		got = parse_copy(data, (size_t)rv, &pi2);
		CHECK(got == rv && same_info(&pi, &pi2), "header alone: %d",
		    got);
		if ((more = malloc((size_t)rv + 32)) == NULL)
			abort();
		memcpy(more, data, (size_t)rv);
		for (k = 0; k < 32; k++)
			more[rv + (int)k] = (uint8_t)fuzz_rand(&seed);
		got = parse_copy(more, (size_t)rv + 32, &pi2);
		CHECK(got == rv && same_info(&pi, &pi2),
		    "header with other "
		    "bytes after it: %d",
		    got);
		free(more);
	}
	return 0;
}
