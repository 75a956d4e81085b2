/*
 * xalloc.c: allocation that ends the program when memory runs out, for
 * start-up and configuration paths only (see log.h).  An object of its
 * own, so that a handler author's xmalloc() never meets ours.
 */
#ifndef ASHD_INTERNAL
#define ASHD_INTERNAL
#endif
#include <stdlib.h>
#include <string.h>

#include "log.h"

void *
xmalloc(size_t n)
{
	void *p;

	if ((p = malloc(n ? n : 1)) == NULL)
		log_die(1, "out of memory");
	return p;
}

void *
xcalloc(size_t n, size_t m)
{
	void *p;

	if ((p = calloc(n ? n : 1, m ? m : 1)) == NULL)
		log_die(1, "out of memory");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n ? n : 1)) == NULL)
		log_die(1, "out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	char *d;

	if ((d = strdup(s)) == NULL)
		log_die(1, "out of memory");
	return d;
}
