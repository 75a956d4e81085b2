/*
 * fuzz.h: what every harness shares.
 *
 * CHECK() states an invariant of the code under test; when it does not
 * hold the harness prints where and why and aborts, so that libFuzzer
 * saves the input as a crash.  A harness that only "did not crash" has
 * tested little: each one asserts what the header of the module it
 * drives promises.
 *
 * FUZZ_KNOWN_BUGS: a list of names of bugs already reported (see
 * crashers/README), or "all", in the environment: the harnesses then
 * also make the calls that reach them.  Otherwise they step around
 * them, so that fuzzing goes on past them to find new ones.
 */
#ifndef ASHD_FUZZ_H
#define ASHD_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, \
			    "%s:%d: invariant failed: %s: ", __FILE__, \
			    __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

/* A copy of data[0..len) in its own allocation of exactly len bytes
 * (at least 1), so that ASan sees any read past len or before 0. */
static inline char *
fuzz_dup(const uint8_t *data, size_t len)
{
	char *p = malloc(len ? len : 1);

	if (p == NULL)
		abort();
	if (len)
		memcpy(p, data, len);
	return p;
}

/* A small deterministic generator seeded from the input, to pick
 * split points and feed sizes that the input, not chance, decides. */
static inline uint32_t
fuzz_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static inline uint32_t
fuzz_seed(const uint8_t *data, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ data[i]) * 16777619u;
	return h ? h : 1;
}

static inline int
fuzz_known_bug(const char *name)
{
	const char *v = getenv("FUZZ_KNOWN_BUGS"), *p;
	size_t n = strlen(name);

	if (v == NULL)
		return 0;
	if (!strcmp(v, "all"))
		return 1;
	for (p = v; (p = strstr(p, name)) != NULL; p += n)
		if ((p == v || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
	return 0;
}

#endif
