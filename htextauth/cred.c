/*
 * cred.c: Basic credentials (RFC 7617) and the cache of verified ones.
 *
 * An Authorization value is "Basic" (any case), one or more spaces,
 * then token68: base64 (RFC 4648 4) with or without its '=' padding.
 * The decoded "user:password" is split at the first colon, so the
 * password may hold colons; its bytes are taken as they come (UTF-8
 * above 127 included) except control characters, which could not
 * travel on the authentication command's two lines.  Nothing over
 * ASH_AUTH_MAX bytes is decoded.
 *
 * The cache holds at most ASH_AUTH_CACHE_MAX credentials, each
 * forgotten once unused for the TTL (default ASH_AUTH_CACHE_TTL); when
 * full, the least recently used goes.  Passwords are compared in time
 * independent of where they differ, and wiped when forgotten.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ashlimits.h"
#include "htextauth.h"

struct centry {
	struct centry *e_next;
	struct cred e_cred;
	time_t e_used;
};

static struct centry *cache;
static size_t ncache;
static int cache_on = 1;
static long cache_ttl = ASH_AUTH_CACHE_TTL;

static int
b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Decode s[0..n) into out (room for n * 3 / 4 + 1); the length, or -1. */
static long
b64_decode(const char *s, size_t n, unsigned char *out)
{
	unsigned long acc = 0;
	size_t i, pad = 0, k = 0;
	int bits = 0, v;

	while (pad < 2 && n > 0 && s[n - 1] == '=')
		n--, pad++;
	if (pad && (n + pad) % 4 != 0)
		return -1;
	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64_value((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[k++] = (unsigned char)(acc >> bits);
		}
	}
	/* The bits left over must be zero (a canonical encoding). */
	if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0)
		return -1;
	return (long)k;
}

void
cred_free(struct cred *c)
{
	if (c->c_buf != NULL) {
		explicit_bzero(c->c_buf, c->c_len);
		free(c->c_buf);
	}
	memset(c, 0, sizeof(*c));
}

int
cred_parse(const char *value, struct cred *c, const char **why)
{
	const char *t;
	size_t n, i;
	long len;
	char *colon;

	memset(c, 0, sizeof(*c));
	*why = "Authentication is required.";
	if (value == NULL || strncasecmp(value, "Basic", 5) != 0 ||
	    (value[5] != ' ' && value[5] != '\t'))
		return 401;
	for (t = value + 5; *t == ' ' || *t == '\t'; t++)
		;
	n = strcspn(t, " \t");
	if (t[n + strspn(t + n, " \t")] != '\0') {
		*why = "The credentials are not one base64 word.";
		return 400;
	}
	if (n > (ASH_AUTH_MAX + 2) / 3 * 4) {
		*why = "The credentials are too long.";
		return 400;
	}
	if ((c->c_buf = malloc(n * 3 / 4 + 2)) == NULL)
		return -1;
	c->c_len = n * 3 / 4 + 2;
	*why = "The credentials are not proper base64.";
	if ((len = b64_decode(t, n, (unsigned char *)c->c_buf)) < 0)
		goto bad;
	c->c_buf[len] = '\0';
	*why = "The credentials hold a control character.";
	for (i = 0; i < (size_t)len; i++)
		if ((unsigned char)c->c_buf[i] < 0x20 || c->c_buf[i] == 0x7f)
			goto bad;
	*why = "The credentials have no colon.";
	if ((colon = strchr(c->c_buf, ':')) == NULL)
		goto bad;
	*colon = '\0';
	c->c_user = c->c_buf;
	c->c_pass = colon + 1;
	return 0;
bad:
	cred_free(c);
	return 400;
}

void
cache_setup(int enabled, long ttl)
{
	cache_on = enabled;
	cache_ttl = ttl;
}

/* Equal strings?  Takes as long whatever byte differs. */
static int
same_secret(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static void
entry_free(struct centry *e)
{
	cred_free(&e->e_cred);
	free(e);
	ncache--;
}

/* Drop the entries unused for longer than the TTL. */
static void
cache_expire(time_t now)
{
	struct centry **p = &cache, *e;

	while ((e = *p) != NULL) {
		if (now - e->e_used > cache_ttl) {
			*p = e->e_next;
			entry_free(e);
		} else
			p = &e->e_next;
	}
}

int
cache_check(const struct cred *c, time_t now)
{
	struct centry *e;

	if (!cache_on)
		return 0;
	cache_expire(now);
	for (e = cache; e != NULL; e = e->e_next) {
		if (strcmp(e->e_cred.c_user, c->c_user) == 0 &&
		    same_secret(e->e_cred.c_pass, c->c_pass)) {
			e->e_used = now;
			return 1;
		}
	}
	return 0;
}

void
cache_add(const struct cred *c, time_t now)
{
	struct centry *e, **p, **oldest;

	if (!cache_on)
		return;
	if (ncache >= ASH_AUTH_CACHE_MAX) {
		for (oldest = p = &cache; *p != NULL; p = &(*p)->e_next)
			if ((*p)->e_used <= (*oldest)->e_used)
				oldest = p;
		e = *oldest;
		*oldest = e->e_next;
		entry_free(e);
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return;
	if ((e->e_cred.c_buf = malloc(c->c_len)) == NULL) {
		free(e);
		return;
	}
	memcpy(e->e_cred.c_buf, c->c_buf, c->c_len);
	e->e_cred.c_len = c->c_len;
	e->e_cred.c_user = e->e_cred.c_buf;
	e->e_cred.c_pass = e->e_cred.c_buf + (c->c_pass - c->c_buf);
	e->e_used = now;
	e->e_next = cache;
	cache = e;
	ncache++;
}

void
cache_clear(void)
{
	struct centry *e;

	while ((e = cache) != NULL) {
		cache = e->e_next;
		entry_free(e);
	}
}
