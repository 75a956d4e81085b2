/*
 * scgi.c: SCGI request heads (see scgi.h).
 *
 * The length prefix is only known once the headers are written, so
 * they are built first in a buffer of their own and then copied behind
 * the prefix.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cgi.h"
#include "scgi.h"

static int
pair(struct buf *b, const char *name, const char *value)
{
	return buf_appendz(b, name) == -1 || buf_appendz(b, value) == -1 ? -1
									 : 0;
}

int
scgi_encode_head(struct buf *b, const struct cgienv *env,
    long long content_length)
{
	struct buf h = BUF_INIT;
	char num[32];
	size_t i;
	int rv = -1;

	snprintf(num, sizeof(num), "%lld",
	    content_length > 0 ? content_length : 0);
	if (pair(&h, "CONTENT_LENGTH", num) == -1 ||
	    pair(&h, "SCGI", "1") == -1)
		goto done;
	for (i = 0; i < env->ce_n; i++) {
		if (!strcmp(env->ce_vars[i].cv_name, "CONTENT_LENGTH") ||
		    !strcmp(env->ce_vars[i].cv_name, "SCGI"))
			continue;
		if (pair(&h, env->ce_vars[i].cv_name,
			env->ce_vars[i].cv_value) == -1)
			goto done;
	}
	if (buf_printf(b, "%zu:", h.b_len) == -1 ||
	    buf_append(b, h.b_data, h.b_len) == -1 || buf_appendc(b, ',') == -1)
		goto done;
	rv = 0;
done:
	buf_free(&h);
	return rv;
}
