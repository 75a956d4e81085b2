/*
 * fuzz_fcgi.c: the FastCGI push decoder (fcgi_dec_feed) and the
 * name-value parser (fcgi_next_nv), on a byte stream as a peer might
 * send it.
 *
 * Input: two bytes choosing how the stream is cut (the largest piece
 * and a seed for the piece sizes), then the stream.
 *
 * Invariants checked:
 *  - fed whole, byte by byte and in the chosen pieces, the decoder
 *    hands out the same records (type, id, content) and stops in the
 *    same state (idle or not, failed or not); a whole-buffer reference
 *    reading of the FastCGI 1.0 record layout agrees;
 *  - a feed never consumes more than it is given, returns 0 only with
 *    everything consumed, and a failed decoder stays failed with the
 *    same errno, consuming nothing;
 *  - re-encoding a record with fcgi_encode_record() decodes back to it;
 *  - fcgi_next_nv() on each record's content: pairs lie inside the
 *    content and move forward, the end is *off == len, an error is
 *    EBADMSG with *off left at the bad pair; the pairs re-encoded with
 *    fcgi_encode_nv() parse back to the same pairs;
 *  - the 8-byte bodies parse only when exactly 8 bytes long.
 */
#include <errno.h>

#include "buf.h"
#include "fcgi.h"
#include "fuzz.h"

struct rec {
	int type;
	unsigned int id;
	char *content;
	size_t len;
};

struct run {
	struct rec *recs;
	size_t nrecs;
	int failed; /* 0, or the errno */
	int idle;
};

static void
run_add(struct run *r, const struct fcgi_rec *fr)
{
	struct rec *n;

	if ((n = realloc(r->recs, (r->nrecs + 1) * sizeof(*n))) == NULL)
		abort();
	r->recs = n;
	n += r->nrecs++;
	n->type = fr->fr_type;
	n->id = fr->fr_id;
	n->len = fr->fr_len;
	n->content = fuzz_dup((const uint8_t *)fr->fr_content, fr->fr_len);
}

static void
run_free(struct run *r)
{
	size_t i;

	for (i = 0; i < r->nrecs; i++)
		free(r->recs[i].content);
	free(r->recs);
}

/* Feed one piece (its own exact allocation) until it is used up. */
static int
feed_piece(struct fcgi_dec *d, const char *piece, size_t len, struct run *r)
{
	struct fcgi_rec rec;
	size_t off = 0, used;
	int rv, e;

	while (off < len) {
		memset(&rec, 0, sizeof(rec));
		rv = fcgi_dec_feed(d, piece + off, len - off, &used, &rec);
		if (rv == -1) {
			e = errno;
			CHECK(e == EBADMSG, "errno %d", e);
			CHECK(fcgi_dec_error(d) != NULL, "no reason");
			/* It stays failed. */
			CHECK(fcgi_dec_feed(d, piece + off, len - off, &used,
				  &rec) == -1 &&
				errno == e,
			    "error not sticky");
			r->failed = e;
			return -1;
		}
		CHECK(used <= len - off, "used %zu of %zu", used, len - off);
		if (rv == 0) {
			CHECK(used == len - off,
			    "need more with %zu of %zu "
			    "used",
			    used, len - off);
			break;
		}
		CHECK(rv == 1, "feed returned %d", rv);
		CHECK(rec.fr_content != NULL && rec.fr_len <= FCGI_MAX_CONTENT,
		    "record content");
		CHECK(rec.fr_type >= 0 && rec.fr_type <= 255 &&
			rec.fr_id <= FCGI_MAX_ID,
		    "record header");
		run_add(r, &rec);
		off += used;
	}
	return 0;
}

static void
run_stream(const uint8_t *in, size_t len, size_t maxpiece, uint32_t seed,
    struct run *r)
{
	struct fcgi_dec d;
	size_t pos = 0, n;
	char *piece;

	memset(r, 0, sizeof(*r));
	fcgi_dec_init(&d);
	while (pos < len) {
		n = maxpiece ? 1 + fuzz_rand(&seed) % maxpiece : len;
		if (n > len - pos)
			n = len - pos;
		piece = fuzz_dup(in + pos, n);
		if (feed_piece(&d, piece, n, r) == -1) {
			free(piece);
			break;
		}
		/* The decoder may point into the last piece only until the
		 * next feed: the record was copied already. */
		free(piece);
		pos += n;
		CHECK(r->nrecs <= pos / FCGI_HEADER_LEN,
		    "%zu records from "
		    "%zu bytes",
		    r->nrecs, pos);
	}
	r->idle = !r->failed && fcgi_dec_idle(&d);
	fcgi_dec_free(&d);
}

/* The reference: the record layout read from the whole buffer. */
static void
ref_stream(const uint8_t *in, size_t len, struct run *r)
{
	struct fcgi_rec fr;
	size_t pos = 0, clen, plen;

	memset(r, 0, sizeof(*r));
	for (;;) {
		if (pos == len) {
			r->idle = 1;
			return;
		}
		if (in[pos] != FCGI_VERSION_1) {
			r->failed = EBADMSG;
			return;
		}
		if (len - pos < FCGI_HEADER_LEN)
			return;
		clen = (size_t)in[pos + 4] << 8 | in[pos + 5];
		plen = in[pos + 6];
		if (len - pos - FCGI_HEADER_LEN < clen)
			return;
		fr.fr_type = in[pos + 1];
		fr.fr_id = (unsigned)in[pos + 2] << 8 | in[pos + 3];
		fr.fr_content = (const char *)in + pos + FCGI_HEADER_LEN;
		fr.fr_len = clen;
		run_add(r, &fr);
		pos += FCGI_HEADER_LEN + clen;
		if (len - pos < plen)
			return;
		pos += plen;
	}
}

static void
run_same(const struct run *a, const struct run *b, const char *what)
{
	size_t i;

	CHECK(a->failed == b->failed, "%s: failed %d vs %d", what, a->failed,
	    b->failed);
	CHECK(a->idle == b->idle, "%s: idle %d vs %d", what, a->idle, b->idle);
	CHECK(a->nrecs == b->nrecs, "%s: %zu vs %zu records", what, a->nrecs,
	    b->nrecs);
	for (i = 0; i < a->nrecs; i++) {
		const struct rec *x = &a->recs[i], *y = &b->recs[i];

		CHECK(x->type == y->type && x->id == y->id &&
			x->len == y->len &&
			!memcmp(x->content, y->content, x->len),
		    "%s: record %zu differs", what, i);
	}
}

static void
check_nv(const struct rec *r)
{
	struct fcgi_nv nv, nv2;
	struct buf b = BUF_INIT;
	size_t off = 0, prev, off2, npairs = 0;
	int rv;

	for (;;) {
		prev = off;
		errno = 0;
		rv = fcgi_next_nv(r->content, r->len, &off, &nv);
		if (rv == 0) {
			CHECK(off == r->len, "end at %zu of %zu", off, r->len);
			break;
		}
		if (rv == -1) {
			CHECK(errno == EBADMSG && off == prev,
			    "error: errno %d,"
			    " off %zu from %zu",
			    errno, off, prev);
			break;
		}
		CHECK(rv == 1 && off > prev && off <= r->len,
		    "pair at %zu: "
		    "rv %d, off %zu",
		    prev, rv, off);
		CHECK(nv.nv_name >= r->content &&
			nv.nv_value >= nv.nv_name + nv.nv_namelen &&
			nv.nv_value + nv.nv_valuelen == r->content + off,
		    "pair outside its bytes");
		CHECK(fcgi_encode_nv(&b, nv.nv_name, nv.nv_namelen, nv.nv_value,
			  nv.nv_valuelen) == 0,
		    "encode_nv");
		npairs++;
	}
	/* The pairs, re-encoded, parse back the same. */
	off = off2 = 0;
	while (npairs-- > 0) {
		CHECK(fcgi_next_nv(r->content, r->len, &off, &nv) == 1 &&
			fcgi_next_nv(b.b_data, b.b_len, &off2, &nv2) == 1,
		    "re-encoded pairs");
		CHECK(nv.nv_namelen == nv2.nv_namelen &&
			nv.nv_valuelen == nv2.nv_valuelen &&
			!memcmp(nv.nv_name, nv2.nv_name, nv.nv_namelen) &&
			!memcmp(nv.nv_value, nv2.nv_value, nv.nv_valuelen),
		    "pair differs after re-encoding");
	}
	CHECK(off2 == b.b_len, "re-encoding has more");
	buf_free(&b);
}

static void
check_record(const struct rec *r)
{
	struct fcgi_dec d;
	struct fcgi_rec fr;
	struct buf b = BUF_INIT;
	size_t used;
	uint32_t app;
	int role, flags, t;

	CHECK(fcgi_encode_record(&b, r->type, r->id, r->content, r->len) == 0,
	    "encode_record");
	CHECK(b.b_len % 8 == 0, "record not padded to 8");
	fcgi_dec_init(&d);
	CHECK(fcgi_dec_feed(&d, b.b_data, b.b_len, &used, &fr) == 1,
	    "re-encoded record does not decode");
	CHECK(fr.fr_type == r->type && fr.fr_id == r->id &&
		fr.fr_len == r->len &&
		!memcmp(fr.fr_content, r->content, r->len),
	    "re-encoded record differs");
	CHECK(fcgi_dec_feed(&d, b.b_data + used, b.b_len - used, &used, &fr) ==
		    0 &&
		fcgi_dec_idle(&d),
	    "padding left over");
	fcgi_dec_free(&d);
	buf_free(&b);
	CHECK((fcgi_parse_begin(r->content, r->len, &role, &flags) == 0) ==
		(r->len == 8),
	    "begin body");
	CHECK((fcgi_parse_end(r->content, r->len, &app, &flags) == 0) ==
		(r->len == 8),
	    "end body");
	CHECK((fcgi_parse_unknown_type(r->content, r->len, &t) == 0) ==
		(r->len == 8),
	    "unknown-type body");
	check_nv(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, bytes, pieces, ref;
	size_t maxpiece, i;
	uint32_t seed;

	if (size < 2)
		return 0;
	maxpiece = 1 + data[0];
	seed = (uint32_t)data[1] << 8 | data[0];
	seed = seed ? seed : 1;
	data += 2;
	size -= 2;

	run_stream(data, size, 0, 1, &whole);
	run_stream(data, size, 1, 1, &bytes);
	run_stream(data, size, maxpiece, seed, &pieces);
	ref_stream(data, size, &ref);
	run_same(&whole, &ref, "whole vs reference");
	run_same(&whole, &bytes, "whole vs bytes");
	run_same(&whole, &pieces, "whole vs pieces");
	for (i = 0; i < whole.nrecs; i++)
		check_record(&whole.recs[i]);
	run_free(&whole);
	run_free(&bytes);
	run_free(&pieces);
	run_free(&ref);
	return 0;
}
