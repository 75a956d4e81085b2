/*
 * htextauth.h: what the parts of htextauth share.
 *
 * cred.c holds the pure parts: the Basic credentials of an
 * Authorization header and the cache of verified ones.  main.c runs the
 * handler: it asks the authentication command (one process per
 * credential to check, several at a time) and passes the requests that
 * pass to its one child.
 */
#ifndef HTEXTAUTH_H
#define HTEXTAUTH_H

#include <stddef.h>
#include <time.h>

/* A decoded Basic credential: "user" NUL "password" NUL. */
struct cred {
	char *c_buf; /* one allocation, wiped when freed */
	size_t c_len;
	char *c_user;
	char *c_pass;
};

/*
 * Parse an Authorization header value.  Returns 0 with *c filled, or
 * the status to answer: 401 (absent, or a scheme other than Basic),
 * 400 (malformed base64, no colon, a control character), 413-like
 * over-long values give 400 as well; -1 with errno ENOMEM.  *why gets a
 * short reason for the client.
 */
int cred_parse(const char *value, struct cred *c, const char **why);
void cred_free(struct cred *c);

/* The cache of credentials the command accepted. */
void cache_setup(int enabled, long ttl);
/* Is c cached and fresh?  Marks it used at `now`. */
int cache_check(const struct cred *c, time_t now);
/* Remember c as verified at `now` (ignored when out of memory). */
void cache_add(const struct cred *c, time_t now);
/* Forget every entry (wiping the passwords). */
void cache_clear(void);

#endif
