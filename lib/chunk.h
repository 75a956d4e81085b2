/*
 * chunk.h: the incremental de-chunker of request bodies (RFC 9112 7.1),
 * lib/chunk.c.  A pure parser: the caller's buffer in, bytes consumed
 * and the data run inside it out; it owns nothing.
 */
#ifndef ASHD_CHUNK_H
#define ASHD_CHUNK_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Feed it
 * the client's bytes; it reports how many it consumed and where the
 * data bytes are.  Chunk extensions are skipped (bounded by
 * ASH_CHUNKLINE_MAX), trailers are parsed and discarded (bounded by
 * ASH_HEAD_MAX).
 */
struct chunkdec {
	int cd_state;
	unsigned long long cd_left; /* data bytes left in this chunk */
	size_t cd_linelen;	    /* bytes of the current size/trailer line */
	size_t cd_trailer;	    /* trailer bytes so far */
	int cd_digits;
};
void chunk_init(struct chunkdec *d);
/*
 * Process in[0..len).  Returns bytes consumed (>= 0), or -400 on a
 * malformed body.  If the consumed bytes end with data, *datap and *datalen
 * point at the data run inside `in` (only one run per call: call again
 * with the remaining bytes).  chunk_done() is true once the last chunk
 * and the trailers are consumed.
 */
ssize_t chunk_feed(struct chunkdec *d, const char *in, size_t len,
    const char **datap, size_t *datalen);
int chunk_done(const struct chunkdec *d);

#endif
