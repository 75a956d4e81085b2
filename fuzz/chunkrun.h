/*
 * chunkrun.h: drive the de-chunker (lib/chunk.c) the way htparser does
 * (bytes arrive in pieces and are appended to what is still unconsumed)
 * and check it against a small whole-buffer reference decoder written
 * from RFC 9112 7.1 and the limits http.h documents.
 *
 * Every run is compared with the others: the same input fed whole, one
 * byte at a time and in pieces the input chooses must decode to the same
 * bytes, stop at the same place and fail the same way.
 */
#ifndef ASHD_FUZZ_CHUNKRUN_H
#define ASHD_FUZZ_CHUNKRUN_H

#include <sys/types.h>

#include "http.h"
#include "ashlimits.h"
#include "fuzz.h"

struct chunkrun {
	char *cr_out; /* decoded data */
	size_t cr_outlen;
	size_t cr_used; /* input consumed (meaningful unless error) */
	int cr_done;
	int cr_err; /* 0 or the negative status */
};

enum { FEED_WHOLE, FEED_BYTES, FEED_PIECES };

static void
chunkrun_append(struct chunkrun *cr, const char *p, size_t n)
{
	char *o;

	if ((o = realloc(cr->cr_out, cr->cr_outlen + n + 1)) == NULL)
		abort();
	cr->cr_out = o;
	memcpy(o + cr->cr_outlen, p, n);
	cr->cr_outlen += n;
}

static void
chunkrun(const char *in, size_t len, int mode, uint32_t seed,
    struct chunkrun *cr)
{
	struct chunkdec d;
	const char *dp;
	size_t dl, avail = 0, pos = 0, piece;
	ssize_t n;
	char *tmp;

	memset(cr, 0, sizeof(*cr));
	chunk_init(&d);
	for (;;) {
		while (pos < avail && !chunk_done(&d)) {
			/* Only the unconsumed bytes, in an exact allocation,
			 * so that a read past them is caught. */
			tmp = fuzz_dup((const uint8_t *)in + pos, avail - pos);
			n = chunk_feed(&d, tmp, avail - pos, &dp, &dl);
			if (n < 0) {
				CHECK(n == -400 || n == -431, "status %zd", n);
				free(tmp);
				cr->cr_err = (int)n;
				cr->cr_used = pos;
				return;
			}
			CHECK((size_t)n <= avail - pos, "consumed %zd of %zu",
			    n, avail - pos);
			if (dl > 0) {
				CHECK(dp >= tmp && dp + dl <= tmp + n,
				    "data run outside the consumed bytes");
				chunkrun_append(cr, dp, dl);
			}
			free(tmp);
			/* Nothing consumed from a non-empty input is only
			 * right at the end. */
			if (n == 0)
				CHECK(chunk_done(&d), "stuck without progress");
			pos += (size_t)n;
		}
		if (chunk_done(&d) || avail == len)
			break;
		switch (mode) {
		case FEED_WHOLE:
			piece = len;
			break;
		case FEED_BYTES:
			piece = 1;
			break;
		default:
			piece = 1 + fuzz_rand(&seed) % 64;
			break;
		}
		avail = piece > len - avail ? len : avail + piece;
	}
	cr->cr_done = chunk_done(&d);
	cr->cr_used = pos;
	if (!cr->cr_done)
		CHECK(pos == len, "stopped at %zu of %zu without an end", pos,
		    len);
}

static int
ref_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
ref_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int
ref_text(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/*
 * The reference: 1 complete (*usedp: the body's length), 0 need more,
 * -1 malformed or over a limit.  Decoded data goes to cr.  The size line
 * (digits, extensions, CRLF) is at most ASH_CHUNKLINE_MAX bytes, the
 * size at most 15 hex digits, trailer bytes after each line's first at
 * most ASH_HEAD_MAX in all; CRLF only.
 */
static int
ref_dechunk(const char *in, size_t len, struct chunkrun *cr)
{
	unsigned long long size;
	size_t pos = 0, start, trl = 0, take;
	int digits, h;

	memset(cr, 0, sizeof(*cr));
	for (;;) {
		start = pos;
		size = 0;
		digits = 0;
		for (; pos < len && (h = ref_hex((unsigned char)in[pos])) >= 0;
		     pos++) {
			if (++digits > 15 ||
			    pos - start + 1 > ASH_CHUNKLINE_MAX)
				return -1;
			size = size * 16 + (unsigned)h;
		}
		if (pos == len)
			return 0;
		if (digits == 0)
			return -1;
		/* BWS may stand before an extension, and only there. */
		if (in[pos] == ' ' || in[pos] == '\t') {
			for (; pos < len && (in[pos] == ' ' || in[pos] == '\t');
			     pos++)
				if (pos - start + 1 > ASH_CHUNKLINE_MAX)
					return -1;
			if (pos == len)
				return 0;
			if (in[pos] != ';')
				return -1;
		}
		if (in[pos] == ';') {
			for (pos++; pos < len && in[pos] != '\r'; pos++)
				if (!ref_text((unsigned char)in[pos]) ||
				    pos - start + 1 > ASH_CHUNKLINE_MAX)
					return -1;
		}
		if (pos == len)
			return pos - start > ASH_CHUNKLINE_MAX ? -1 : 0;
		if (in[pos] != '\r' || pos - start + 1 > ASH_CHUNKLINE_MAX)
			return -1;
		if (++pos == len)
			return 0;
		if (in[pos] != '\n' || pos - start + 1 > ASH_CHUNKLINE_MAX)
			return -1;
		pos++;
		if (size == 0)
			break;
		take = len - pos < size ? len - pos : (size_t)size;
		chunkrun_append(cr, in + pos, take);
		pos += take;
		if (take < size || pos == len)
			return 0;
		if (in[pos++] != '\r')
			return -1;
		if (pos == len)
			return 0;
		if (in[pos++] != '\n')
			return -1;
	}
	/* Trailer section. */
	for (;;) {
		if (pos == len)
			return 0;
		if (in[pos] == '\r') {
			if (++pos == len)
				return 0;
			if (in[pos] != '\n')
				return -1;
			cr->cr_used = pos + 1;
			cr->cr_done = 1;
			return 1;
		}
		/* A field line: a token name right before its colon. */
		if (!ref_tchar((unsigned char)in[pos++]))
			return -1;
		for (;;) {
			if (pos == len)
				return 0;
			if (++trl > ASH_HEAD_MAX)
				return -1;
			if (in[pos] == ':')
				break;
			if (!ref_tchar((unsigned char)in[pos++]))
				return -1;
		}
		for (pos++;;) {
			if (pos == len)
				return 0;
			if (++trl > ASH_HEAD_MAX)
				return -1;
			if (in[pos] == '\r')
				break;
			if (!ref_text((unsigned char)in[pos++]))
				return -1;
		}
		if (++pos == len)
			return 0;
		if (in[pos++] != '\n')
			return -1;
	}
}

/* Decode in[0..len) every way and check that all agree; *usedp gets
 * the body's length when it is complete, else 0.  Returns the whole
 * feed's status: 1 complete, 0 need more, -1 error. */
static int
chunk_check(const char *in, size_t len, uint32_t seed, size_t *usedp)
{
	struct chunkrun w, b, p, ref;
	int rr, st;

	chunkrun(in, len, FEED_WHOLE, seed, &w);
	chunkrun(in, len, FEED_BYTES, seed, &b);
	chunkrun(in, len, FEED_PIECES, seed, &p);
	rr = ref_dechunk(in, len, &ref);
	st = w.cr_err ? -1 : w.cr_done;
	CHECK(b.cr_err == w.cr_err && p.cr_err == w.cr_err,
	    "errors differ: whole %d, bytes %d, pieces %d", w.cr_err, b.cr_err,
	    p.cr_err);
	CHECK(b.cr_done == w.cr_done && p.cr_done == w.cr_done,
	    "completion differs");
	CHECK(st == rr, "decoder says %d, the reference %d", st, rr);
	if (st >= 0) {
		CHECK(b.cr_used == w.cr_used && p.cr_used == w.cr_used,
		    "consumed differs: %zu %zu %zu", w.cr_used, b.cr_used,
		    p.cr_used);
		CHECK(w.cr_outlen <= w.cr_used, "more data than input");
		CHECK(ref.cr_outlen == w.cr_outlen &&
			(w.cr_outlen == 0 ||
			    !memcmp(ref.cr_out, w.cr_out, w.cr_outlen)),
		    "decoded data differs from the reference");
		if (st == 1)
			CHECK(ref.cr_used == w.cr_used,
			    "end at %zu, "
			    "reference %zu",
			    w.cr_used, ref.cr_used);
	}
	/* Whatever came out before an error is the same, too. */
	CHECK(b.cr_outlen == w.cr_outlen && p.cr_outlen == w.cr_outlen &&
		    (w.cr_outlen == 0 ||
			(!memcmp(b.cr_out, w.cr_out, w.cr_outlen) &&
			    !memcmp(p.cr_out, w.cr_out, w.cr_outlen))) ||
		st < 0,
	    "decoded data differs between feeds");
	*usedp = st == 1 ? w.cr_used : 0;
	free(w.cr_out);
	free(b.cr_out);
	free(p.cr_out);
	free(ref.cr_out);
	return st;
}

#endif
