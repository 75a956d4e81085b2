/*
 * fuzz_chunk.c: the de-chunker (chunk_feed) on raw bytes, without a
 * request head in front, so that the fuzzer spends its time on chunk
 * sizes, extensions, trailers and line ends.
 *
 * Invariants (chunkrun.h): fed whole, byte by byte and in pieces the
 * input picks, the decoder gives the same data, the same end and the
 * same error, and agrees with a whole-buffer reference decoder; no call
 * consumes more than it is given or points its data run outside the
 * bytes it consumed; without an end every byte is consumed.
 */
#include "fuzz.h"
#include "chunkrun.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t used;
	char *copy = fuzz_dup(data, size);
	int st;

	st = chunk_check(copy, size, fuzz_seed(data, size), &used);
	if (st == 1)
		CHECK(used <= size && used >= 5, "body of %zu bytes", used);
	free(copy);
	return 0;
}
