/*
 * url.h: percent-decoding of URL parts.
 *
 * Malformed escapes ("%", "%4", "%zz") are kept literally, as browsers
 * and ashd do.  "%00" decodes to a NUL byte: callers that need a C
 * string must check the returned length against strlen() (or use
 * url_has_nul()) and refuse such input.
 */
#ifndef ASHD_URL_H
#define ASHD_URL_H

#include <stddef.h>

/* Decode len bytes of `in` into `out` (room for len + 1 bytes); returns
 * the decoded length; out is NUL-terminated.  With plus != 0, '+'
 * becomes a space (query strings). */
size_t url_decode(const char *in, size_t len, char *out, int plus);
/* Decode a C string into a new allocation; *lenp gets the length.
 * NULL on ENOMEM. */
char *url_decode_str(const char *s, size_t *lenp);
/* Nonzero if decoding s would produce a NUL byte. */
int url_has_nul(const char *s);
/* The rest string htparser starts with: the path without the leading
 * "/" and without the query ("/a/b?c" -> "a/b").  New allocation. */
char *url_initial_rest(const char *url);
/*
 * Resolve the dot-segments of a rest string in place, as RFC 3986
 * 5.2.4 resolves those of the path "/" + rest: a "." segment goes, a
 * ".." segment goes with the segment before it, and a dot-segment that
 * ends the path leaves a "/" at the end ("a/b/.." -> "a/", "a/." ->
 * "a/").  Dot-segments are recognised in their percent-encoded forms
 * too ("%2e", ".%2E", "%2e%2e"...), since "%2e" is "." (RFC 3986
 * 6.2.2.2); every other segment keeps its bytes as they were.  An
 * encoded slash ("%2f") separates nothing: "a%2fb" is one segment.
 * Returns 0, or (rest then undefined):
 *   URL_DOTS_ABOVE  a ".." would climb above the root ("../x",
 *                   "a/../../x"), which RFC 3986 would silently drop
 *   URL_DOTS_SLASH  a segment with an encoded slash or NUL holds a
 *                   dot-segment once decoded ("..%2f", "a%2f.%2fb",
 *                   "..%00", which a C string ends after ".."): a
 *                   handler that decodes the rest must never meet one.
 * The result is never longer than rest and has no dot-segment, neither
 * as it is nor once decoded (as a C string) and split at every '/'.
 */
#define URL_DOTS_ABOVE (-1)
#define URL_DOTS_SLASH (-2)
int url_resolve_rest(char *rest);

/* Percent-encode the bytes that cannot appear in a path segment
 * (for Location headers); appends to b. */
struct buf;
int url_encode_path(struct buf *b, const char *s);
/* Percent-encode every byte of s but letters, digits and those in
 * `keep` (url_encode(b, s, "-._~"): a path segment, '/' included). */
int url_encode(struct buf *b, const char *s, const char *keep);

/* The value of the hexadecimal digit c (either case), or -1. */
int url_hexval(int c);

#endif
