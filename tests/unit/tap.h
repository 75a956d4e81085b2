/*
 * tap.h: a tiny TAP producer for the C unit tests.
 *
 * Each check prints "ok N - what" or "not ok N - what" with the caller's
 * line, so a table row that fails names its own __LINE__.  tap_done()
 * prints the plan and returns the exit status (1 if anything failed).
 *
 *	ok(cond, "fmt", ...);		   generic check
 *	ok_at(line, cond, "fmt", ...);	   check reported at a table row's line
 *	is_int(got, want, "what");	   integers, printing both on failure
 *	is_str(got, want, "what");	   strings (NULL-safe)
 *	is_mem(got, glen, want, wlen, "what");
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static int __attribute__((format(printf, 3, 4), unused))
ok_at(int line, int cond, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at line %d\n", line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) ok_at(__LINE__, !!(cond), __VA_ARGS__)

#define is_int_at(line, got, want, what) \
	do { \
		long long g_ = (long long)(got), w_ = (long long)(want); \
		if (!ok_at(line, g_ == w_, "%s", what)) \
			printf("#   got %lld, want %lld\n", g_, w_); \
	} while (0)
#define is_int(got, want, what) is_int_at(__LINE__, got, want, what)

#define is_str_at(line, got, want, what) \
	do { \
		const char *g_ = (got), *w_ = (want); \
		int c_ = (g_ == NULL || w_ == NULL) ? g_ == w_ \
						    : !strcmp(g_, w_); \
		if (!ok_at(line, c_, "%s", what)) \
			printf("#   got \"%s\", want \"%s\"\n", \
			    g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
	} while (0)
#define is_str(got, want, what) is_str_at(__LINE__, got, want, what)

#define is_mem(got, glen, want, wlen, what) \
	ok((glen) == (wlen) && !memcmp((got), (want), (wlen)), "%s", what)

static void __attribute__((unused)) tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int __attribute__((unused)) tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
