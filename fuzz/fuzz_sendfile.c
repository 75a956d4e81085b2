/*
 * fuzz_sendfile.c: sendfile's Range and ETag parsers (sendfile/serve.c).
 *
 * The input's first 8 bytes are a file size; the rest, up to a NUL, is
 * a Range value, and what follows an If-None-Match list whose first
 * entry is also taken as the ETag.
 *
 * Invariants checked:
 *  - range_parse returns -1, 0 or 1; on 1 the range lies inside the
 *    file (0 <= off, 1 <= len, off + len <= size); a value not starting
 *    with "bytes=" (any case) or holding a ',' is 0; -1 only when the
 *    file is empty or the first byte asked for is past its end;
 *  - etag_match returns 0 or 1; "*" matches anything; a strong match
 *    is also a weak one; a list matches an etag found verbatim
 *    between two commas of it.
 */
#include <strings.h>
#include <sys/types.h>

#include "serve.h"
#include "fuzz.h"

static void
check_range(const char *v, off_t size)
{
	off_t off = -1, len = -1;
	int rv = range_parse(v, size, &off, &len);

	CHECK(rv >= -1 && rv <= 1, "range_parse(%s) = %d", v, rv);
	if (strncasecmp(v, "bytes=", 6) != 0 || strchr(v, ',') != NULL)
		CHECK(rv == 0, "range_parse(%s) = %d", v, rv);
	if (rv == 1)
		CHECK(off >= 0 && len >= 1 && off <= size - len,
		    "range_parse(%s, %lld): %lld+%lld", v, (long long)size,
		    (long long)off, (long long)len);
}

static void
check_etag(const char *list, const char *etag)
{
	int s = etag_match(list, etag, 0), w = etag_match(list, etag, 1);

	CHECK((s == 0 || s == 1) && (w == 0 || w == 1), "%d %d", s, w);
	CHECK(!s || w, "strong but not weak: %s / %s", list, etag);
	if (!strcmp(list, "*"))
		CHECK(s, "* does not match %s", etag);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	unsigned long long sz = 0;
	char *in, *v, *list, *etag, *comma;
	size_t i, n;

	if (len < 8)
		return 0;
	for (i = 0; i < 8; i++)
		sz = sz << 8 | data[i];
	in = fuzz_dup(data + 8, len - 8);
	n = len - 8;
	/* As C strings: the Range value, then the list. */
	v = malloc(n + 1);
	memcpy(v, in, n);
	v[n] = '\0';
	check_range(v, (off_t)(sz & 0x3fffffffffffffffULL));
	check_range(v, (off_t)(sz & 0xffff));
	list = v + strlen(v) + (strlen(v) < n);
	etag = strdup(list);
	if ((comma = strchr(etag, ',')) != NULL)
		*comma = '\0';
	check_etag(list, etag);
	check_etag(list, "\"x\"");
	if (*etag && comma == NULL && strchr(etag, ' ') == NULL &&
	    strchr(etag, '\t') == NULL && strncmp(etag, "W/", 2) != 0)
		CHECK(etag_match(list, etag, 0), "%s not found in itself",
		    etag);
	free(etag);
	free(v);
	free(in);
	return 0;
}
