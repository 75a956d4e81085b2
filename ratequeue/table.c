/*
 * table.c: ratequeue's buckets by client address.
 *
 * A chained hash table of a fixed number of slots (the power of two at
 * or above the limit of buckets), keyed with SipHash-2-4 under a random
 * key, so that clients choosing their addresses (an IPv6 /64 has 2^64)
 * cannot pile their buckets into one chain.  Every bucket is also on a
 * list in order of use, most recent first.  The number of buckets never
 * exceeds the limit: a new client takes the place of the least
 * recently used bucket in which no request waits.  So memory is bounded
 * whatever the number of addresses seen.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ratequeue.h"
#include "req.h"

static struct bucket **slots;
static size_t nslots; /* a power of two */
static long count, limit;
static struct bucket *newest, *oldest;
static uint64_t sipkey[2];

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

static void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13);
	v[1] ^= v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17);
	v[1] ^= v[2];
	v[2] = ROTL(v[2], 32);
}

/* SipHash-2-4 of in[0..len) (Aumasson and Bernstein, 2012). */
static uint64_t
siphash(const uint8_t *in, size_t len)
{
	uint64_t v[4], m;
	size_t i, j, full = len & ~(size_t)7;

	v[0] = sipkey[0] ^ 0x736f6d6570736575ULL;
	v[1] = sipkey[1] ^ 0x646f72616e646f6dULL;
	v[2] = sipkey[0] ^ 0x6c7967656e657261ULL;
	v[3] = sipkey[1] ^ 0x7465646279746573ULL;
	for (i = 0; i <= full; i += 8) {
		m = 0;
		if (i < full)
			for (j = 0; j < 8; j++)
				m |= (uint64_t)in[i + j] << (8 * j);
		else {
			for (j = 0; i + j < len; j++)
				m |= (uint64_t)in[i + j] << (8 * j);
			m |= (uint64_t)(len & 0xff) << 56;
		}
		v[3] ^= m;
		sipround(v);
		sipround(v);
		v[0] ^= m;
	}
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static size_t
slot_of(const struct rqkey *k)
{
	return (size_t)siphash(&k->k_family, 2 + (size_t)k->k_len) &
	    (nslots - 1);
}

static int
key_equal(const struct rqkey *a, const struct rqkey *b)
{
	return a->k_family == b->k_family && a->k_len == b->k_len &&
	    memcmp(a->k_addr, b->k_addr, a->k_len) == 0;
}

void
key_of(const struct req *r, struct rqkey *k)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
		0xff };
	const char *a;

	memset(k, 0, sizeof(*k));
	if ((a = req_header(r, "X-Ash-Address")) == NULL)
		return;
	if (inet_pton(AF_INET, a, k->k_addr) == 1) {
		k->k_family = 4;
		k->k_len = 4;
	} else if (inet_pton(AF_INET6, a, k->k_addr) == 1) {
		k->k_family = 6;
		k->k_len = 16;
		if (memcmp(k->k_addr, mapped, 12) == 0) {
			memmove(k->k_addr, k->k_addr + 12, 4);
			memset(k->k_addr + 4, 0, 12);
			k->k_family = 4;
			k->k_len = 4;
		}
	} else
		memset(k->k_addr, 0, sizeof(k->k_addr));
}

const char *
key_format(const struct rqkey *k, char *buf, size_t cap)
{
	if (k->k_family == 0 ||
	    inet_ntop(k->k_family == 4 ? AF_INET : AF_INET6, k->k_addr, buf,
		(socklen_t)cap) == NULL)
		return "clients without an address";
	return buf;
}

/* Slots for `max` buckets: a power of two, at least max. */
static size_t
slots_for(long max)
{
	size_t n = 16;

	while (n < (size_t)max)
		n *= 2;
	return n;
}

int
table_init(long max)
{
	struct timespec ts;

	if (getrandom(sipkey, sizeof(sipkey), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(sipkey)) {
		/* No entropy yet: a key nobody outside can read. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sipkey[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
		sipkey[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&ts;
	}
	nslots = slots_for(max);
	if ((slots = calloc(nslots, sizeof(*slots))) == NULL)
		return -1;
	limit = max;
	return 0;
}

/* Move b to the front of the use order (it need not be on it). */
static void
use_unlink(struct bucket *b)
{
	if (b->b_lprev != NULL)
		b->b_lprev->b_lnext = b->b_lnext;
	else if (newest == b)
		newest = b->b_lnext;
	if (b->b_lnext != NULL)
		b->b_lnext->b_lprev = b->b_lprev;
	else if (oldest == b)
		oldest = b->b_lprev;
	b->b_lnext = b->b_lprev = NULL;
}

static void
use_front(struct bucket *b)
{
	use_unlink(b);
	if ((b->b_lnext = newest) != NULL)
		newest->b_lprev = b;
	newest = b;
	if (oldest == NULL)
		oldest = b;
}

/* Forget the least recently used bucket without waiting requests. */
static int
evict_one(void)
{
	struct bucket *b;

	for (b = oldest; b != NULL; b = b->b_lprev) {
		if (b->b_nq == 0) {
			bucket_forget(b);
			return 0;
		}
	}
	return -1;
}

struct bucket *
table_get(const struct rqkey *k, void (*tcb)(struct timer *))
{
	struct bucket *b;
	size_t i = slot_of(k);

	for (b = slots[i]; b != NULL; b = b->b_hnext)
		if (key_equal(&b->b_key, k))
			break;
	if (b == NULL) {
		if (count >= limit && evict_one() == -1) {
			errno = EAGAIN;
			return NULL;
		}
		if ((b = calloc(1, sizeof(*b))) == NULL)
			return NULL;
		b->b_key = *k;
		b->b_last = loop_now();
		timer_init(&b->b_timer, tcb, b);
		b->b_hnext = slots[i];
		slots[i] = b;
		count++;
	}
	use_front(b);
	return b;
}

void
table_remove(struct bucket *b)
{
	struct bucket **bp;

	for (bp = &slots[slot_of(&b->b_key)]; *bp != NULL;
	     bp = &(*bp)->b_hnext) {
		if (*bp == b) {
			*bp = b->b_hnext;
			count--;
			break;
		}
	}
	use_unlink(b);
}

int
table_resize(long max)
{
	struct bucket **ns, *b;
	size_t n = slots_for(max), i;

	limit = max;
	while (count > limit && evict_one() == 0)
		;
	if (n == nslots)
		return 0;
	if ((ns = calloc(n, sizeof(*ns))) == NULL)
		return -1;
	free(slots);
	slots = ns;
	nslots = n;
	for (b = newest; b != NULL; b = b->b_lnext) {
		i = slot_of(&b->b_key);
		b->b_hnext = slots[i];
		slots[i] = b;
	}
	return 0;
}

void
table_walk(void (*fn)(struct bucket *b))
{
	struct bucket *b, *prev;

	for (b = oldest; b != NULL; b = prev) {
		prev = b->b_lprev;
		fn(b);
	}
}

long
table_count(void)
{
	return count;
}
