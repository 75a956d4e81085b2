/*
 * fcgi.c: FastCGI 1.0 records, encoded into a struct buf and decoded
 * by a push decoder (see fcgi.h for the wire format).
 *
 * Encoders reserve the whole output first and roll the buffer back to
 * its old length on any failure, so a caller never sends half a record.
 * Every length that comes off the wire is at most 16 bits (records) or
 * 31 bits (name-value pairs) and is compared against the bytes actually
 * present by subtraction, never by an addition that could wrap.
 *
 * Decoder state table (dc_state):
 *   HEADER   gather 8 bytes; the first must be 1      -> ERROR otherwise
 *            content all in this feed: hand it out     -> PADDING or HEADER
 *            content cut short: reserve dc_clen bytes  -> CONTENT
 *   CONTENT  gather into dc_content; when complete,
 *            hand it out                               -> PADDING or HEADER
 *   PADDING  skip dc_left bytes                        -> HEADER
 *   ERROR    sticky; dc_err says why
 * A record is handed out (return 1) as soon as its content is complete,
 * so at most one record per call, and padding is skipped afterwards.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "fcgi.h"

static const char *const type_names[] = {
	"UNKNOWN",
	"BEGIN_REQUEST",
	"ABORT_REQUEST",
	"END_REQUEST",
	"PARAMS",
	"STDIN",
	"STDOUT",
	"STDERR",
	"DATA",
	"GET_VALUES",
	"GET_VALUES_RESULT",
	"UNKNOWN_TYPE",
};

const char *
fcgi_type_name(int type)
{
	if (type < 1 || type > FCGI_MAXTYPE)
		return type_names[0];
	return type_names[type];
}

/* Padding that brings clen to a multiple of 8. */
static size_t
pad_len(size_t clen)
{
	return (8 - (clen & 7)) & 7;
}

static int
is_stream_type(int type)
{
	return type == FCGI_PARAMS || type == FCGI_STDIN ||
	    type == FCGI_STDOUT || type == FCGI_STDERR || type == FCGI_DATA;
}

/* Undo appends since the buffer held len bytes; keeps errno. */
static int
rollback(struct buf *b, size_t len)
{
	b->b_len = len;
	if (b->b_data != NULL)
		b->b_data[len] = '\0';
	return -1;
}

int
fcgi_encode_header(struct buf *b, int type, unsigned int id, size_t clen,
    size_t plen)
{
	unsigned char h[FCGI_HEADER_LEN];

	if (type < 0 || type > 255 || id > FCGI_MAX_ID ||
	    clen > FCGI_MAX_CONTENT || plen > FCGI_MAX_PADDING) {
		errno = EINVAL;
		return -1;
	}
	h[0] = FCGI_VERSION_1;
	h[1] = (unsigned char)type;
	h[2] = (unsigned char)(id >> 8);
	h[3] = (unsigned char)id;
	h[4] = (unsigned char)(clen >> 8);
	h[5] = (unsigned char)clen;
	h[6] = (unsigned char)plen;
	h[7] = 0;
	return buf_append(b, h, sizeof(h));
}

int
fcgi_encode_record(struct buf *b, int type, unsigned int id,
    const void *content, size_t clen)
{
	static const char zeros[8];
	size_t old = b->b_len, plen;

	if (clen > FCGI_MAX_CONTENT) {
		errno = EMSGSIZE;
		return -1;
	}
	plen = pad_len(clen);
	if (buf_reserve(b, FCGI_HEADER_LEN + clen + plen) == -1 ||
	    fcgi_encode_header(b, type, id, clen, plen) == -1 ||
	    buf_append(b, content, clen) == -1 ||
	    buf_append(b, zeros, plen) == -1)
		return rollback(b, old);
	return 0;
}

int
fcgi_encode_begin(struct buf *b, unsigned int id, int role, int flags)
{
	unsigned char body[8] = { 0 };

	if (role < 0 || role > 0xffff || flags < 0 || flags > 0xff) {
		errno = EINVAL;
		return -1;
	}
	body[0] = (unsigned char)(role >> 8);
	body[1] = (unsigned char)role;
	body[2] = (unsigned char)flags;
	return fcgi_encode_record(b, FCGI_BEGIN_REQUEST, id, body,
	    sizeof(body));
}

int
fcgi_encode_abort(struct buf *b, unsigned int id)
{
	return fcgi_encode_record(b, FCGI_ABORT_REQUEST, id, NULL, 0);
}

int
fcgi_encode_end(struct buf *b, unsigned int id, uint32_t app_status,
    int proto_status)
{
	unsigned char body[8] = { 0 };

	if (proto_status < 0 || proto_status > 0xff) {
		errno = EINVAL;
		return -1;
	}
	body[0] = (unsigned char)(app_status >> 24);
	body[1] = (unsigned char)(app_status >> 16);
	body[2] = (unsigned char)(app_status >> 8);
	body[3] = (unsigned char)app_status;
	body[4] = (unsigned char)proto_status;
	return fcgi_encode_record(b, FCGI_END_REQUEST, id, body, sizeof(body));
}

int
fcgi_encode_stream(struct buf *b, int type, unsigned int id, const void *data,
    size_t len)
{
	const char *p = data;
	size_t old = b->b_len, nrec, over, n;

	if (!is_stream_type(type) || id > FCGI_MAX_ID) {
		errno = EINVAL;
		return -1;
	}
	if (len == 0)
		return 0;
	/* Header and at most 7 bytes of padding per record. */
	nrec = len / FCGI_MAX_CONTENT + (len % FCGI_MAX_CONTENT != 0);
	over = nrec * (FCGI_HEADER_LEN + 7);
	if (len > SIZE_MAX - over) {
		errno = ENOMEM;
		return -1;
	}
	if (buf_reserve(b, len + over) == -1)
		return -1;
	while (len > 0) {
		n = len < FCGI_MAX_CONTENT ? len : FCGI_MAX_CONTENT;
		if (fcgi_encode_record(b, type, id, p, n) == -1)
			return rollback(b, old);
		p += n;
		len -= n;
	}
	return 0;
}

int
fcgi_encode_stream_end(struct buf *b, int type, unsigned int id)
{
	if (!is_stream_type(type)) {
		errno = EINVAL;
		return -1;
	}
	return fcgi_encode_record(b, type, id, NULL, 0);
}

/* One length field into p (1 or 4 bytes); returns its size. */
static size_t
put_nv_len(unsigned char *p, size_t n)
{
	if (n < 0x80) {
		p[0] = (unsigned char)n;
		return 1;
	}
	p[0] = (unsigned char)(0x80 | (n >> 24));
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	return 4;
}

int
fcgi_encode_nv(struct buf *b, const void *name, size_t namelen,
    const void *value, size_t valuelen)
{
	unsigned char lens[8];
	size_t old = b->b_len, ll;

	if (namelen > FCGI_NV_MAX || valuelen > FCGI_NV_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	ll = put_nv_len(lens, namelen);
	ll += put_nv_len(lens + ll, valuelen);
	/* Each length is below 2^31, ll is at most 8: only the sum of
	 * both can wrap, and only where size_t is 32 bits. */
	if (namelen > SIZE_MAX - ll - valuelen) {
		errno = ENOMEM;
		return -1;
	}
	if (buf_reserve(b, ll + namelen + valuelen) == -1 ||
	    buf_append(b, lens, ll) == -1 ||
	    buf_append(b, name, namelen) == -1 ||
	    buf_append(b, value, valuelen) == -1)
		return rollback(b, old);
	return 0;
}

static int
encode_pairs(struct buf *b, const struct fcgi_nv *nv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fcgi_encode_nv(b, nv[i].nv_name, nv[i].nv_namelen,
			nv[i].nv_value, nv[i].nv_valuelen) == -1)
			return -1;
	return 0;
}

/* The bytes the pairs nv[0..n) take encoded, or SIZE_MAX if one of
 * them cannot be encoded or the sum is beyond `max`. */
static size_t
pairs_size(const struct fcgi_nv *nv, size_t n, size_t max)
{
	size_t i, sz = 0, one;

	for (i = 0; i < n; i++) {
		if (nv[i].nv_namelen > FCGI_NV_MAX ||
		    nv[i].nv_valuelen > FCGI_NV_MAX)
			return SIZE_MAX;
		one = (nv[i].nv_namelen < 0x80 ? 1 : 4) +
		    (nv[i].nv_valuelen < 0x80 ? 1 : 4) + nv[i].nv_namelen +
		    nv[i].nv_valuelen;
		if (one > max - sz)
			return SIZE_MAX;
		sz += one;
	}
	return sz;
}

int
fcgi_encode_params(struct buf *b, unsigned int id, const struct fcgi_nv *nv,
    size_t n)
{
	struct buf pairs = BUF_INIT;
	size_t old = b->b_len, sz, plen;
	int rv = -1;

	/* The usual case, pairs that fit in one record: encoded in
	 * place, after the record's header, in one reservation. */
	if ((sz = pairs_size(nv, n, FCGI_MAX_CONTENT)) != SIZE_MAX) {
		unsigned char *p;
		size_t i;

		plen = pad_len(sz);
		if (buf_reserve(b, 2 * FCGI_HEADER_LEN + sz + plen) == -1 ||
		    (sz > 0 &&
			fcgi_encode_header(b, FCGI_PARAMS, id, sz, plen) == -1))
			return rollback(b, old);
		/* Room reserved and every length checked: no failure
		 * is left. */
		p = (unsigned char *)b->b_data + b->b_len;
		for (i = 0; i < n; i++) {
			p += put_nv_len(p, nv[i].nv_namelen);
			p += put_nv_len(p, nv[i].nv_valuelen);
			if (nv[i].nv_namelen)
				memcpy(p, nv[i].nv_name, nv[i].nv_namelen);
			p += nv[i].nv_namelen;
			if (nv[i].nv_valuelen)
				memcpy(p, nv[i].nv_value, nv[i].nv_valuelen);
			p += nv[i].nv_valuelen;
		}
		memset(p, 0, plen);
		b->b_len += sz + plen;
		b->b_data[b->b_len] = '\0';
		if (fcgi_encode_stream_end(b, FCGI_PARAMS, id) == -1)
			return rollback(b, old);
		return 0;
	}
	if (encode_pairs(&pairs, nv, n) == -1)
		goto fail;
	if (fcgi_encode_stream(b, FCGI_PARAMS, id, pairs.b_data, pairs.b_len) ==
		-1 ||
	    fcgi_encode_stream_end(b, FCGI_PARAMS, id) == -1) {
		rollback(b, old);
		goto fail;
	}
	rv = 0;
fail:
	buf_free(&pairs);
	return rv;
}

/* One management record whose content is the pairs in `pairs`. */
static int
encode_mgmt(struct buf *b, int type, struct buf *pairs)
{
	int rv;

	rv = fcgi_encode_record(b, type, FCGI_NULL_REQUEST_ID, pairs->b_data,
	    pairs->b_len);
	buf_free(pairs);
	return rv;
}

int
fcgi_encode_get_values(struct buf *b, const char *const *names, size_t n)
{
	struct buf pairs = BUF_INIT;
	size_t i;

	for (i = 0; i < n; i++)
		if (fcgi_encode_nv(&pairs, names[i], strlen(names[i]), NULL,
			0) == -1) {
			buf_free(&pairs);
			return -1;
		}
	return encode_mgmt(b, FCGI_GET_VALUES, &pairs);
}

int
fcgi_encode_get_values_result(struct buf *b, const struct fcgi_nv *nv, size_t n)
{
	struct buf pairs = BUF_INIT;

	if (encode_pairs(&pairs, nv, n) == -1) {
		buf_free(&pairs);
		return -1;
	}
	return encode_mgmt(b, FCGI_GET_VALUES_RESULT, &pairs);
}

int
fcgi_encode_unknown_type(struct buf *b, int type)
{
	unsigned char body[8] = { 0 };

	if (type < 0 || type > 255) {
		errno = EINVAL;
		return -1;
	}
	body[0] = (unsigned char)type;
	return fcgi_encode_record(b, FCGI_UNKNOWN_TYPE, FCGI_NULL_REQUEST_ID,
	    body, sizeof(body));
}

/* The fixed 8-byte bodies. */
static const unsigned char *
body8(const void *content, size_t len)
{
	if (len != 8) {
		errno = EBADMSG;
		return NULL;
	}
	return content;
}

int
fcgi_parse_begin(const void *content, size_t len, int *rolep, int *flagsp)
{
	const unsigned char *p;

	if ((p = body8(content, len)) == NULL)
		return -1;
	*rolep = p[0] << 8 | p[1];
	*flagsp = p[2];
	return 0;
}

int
fcgi_parse_end(const void *content, size_t len, uint32_t *app_statusp,
    int *proto_statusp)
{
	const unsigned char *p;

	if ((p = body8(content, len)) == NULL)
		return -1;
	*app_statusp = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	*proto_statusp = p[4];
	return 0;
}

int
fcgi_parse_unknown_type(const void *content, size_t len, int *typep)
{
	const unsigned char *p;

	if ((p = body8(content, len)) == NULL)
		return -1;
	*typep = p[0];
	return 0;
}

/* A pair's length field at *offp, 1 or 4 bytes; -1 if cut short. */
static int
get_nv_len(const unsigned char *p, size_t len, size_t *offp, size_t *np)
{
	size_t off = *offp;

	if (off >= len)
		return -1;
	if (p[off] < 0x80) {
		*np = p[off];
		*offp = off + 1;
		return 0;
	}
	if (len - off < 4)
		return -1;
	*np = (size_t)(p[off] & 0x7f) << 24 | (size_t)p[off + 1] << 16 |
	    (size_t)p[off + 2] << 8 | p[off + 3];
	*offp = off + 4;
	return 0;
}

int
fcgi_next_nv(const void *buf, size_t len, size_t *offp, struct fcgi_nv *nv)
{
	const unsigned char *p = buf;
	size_t off = *offp, nl, vl;

	if (off >= len) {
		if (off == len)
			return 0;
		errno = EINVAL;
		return -1;
	}
	if (get_nv_len(p, len, &off, &nl) == -1 ||
	    get_nv_len(p, len, &off, &vl) == -1 || nl > len - off ||
	    vl > len - off - nl) {
		errno = EBADMSG;
		return -1;
	}
	nv->nv_name = (const char *)p + off;
	nv->nv_namelen = nl;
	nv->nv_value = (const char *)p + off + nl;
	nv->nv_valuelen = vl;
	*offp = off + nl + vl;
	return 1;
}

/* The decoder. */

void
fcgi_dec_init(struct fcgi_dec *d)
{
	memset(d, 0, sizeof(*d));
	d->dc_state = FCGI_DEC_HEADER;
	buf_init(&d->dc_content, FCGI_MAX_CONTENT);
}

void
fcgi_dec_free(struct fcgi_dec *d)
{
	buf_free(&d->dc_content);
	fcgi_dec_init(d);
}

int
fcgi_dec_idle(const struct fcgi_dec *d)
{
	return d->dc_state == FCGI_DEC_HEADER && d->dc_hlen == 0;
}

const char *
fcgi_dec_error(const struct fcgi_dec *d)
{
	return d->dc_err;
}

static int
dec_fail(struct fcgi_dec *d, int err, const char *why)
{
	d->dc_state = FCGI_DEC_ERROR;
	d->dc_err = why;
	d->dc_errno = errno = err;
	return -1;
}

/* The current record is complete with `content`: hand it out. */
static int
dec_emit(struct fcgi_dec *d, const char *content, struct fcgi_rec *rec)
{
	rec->fr_type = d->dc_hdr[1];
	rec->fr_id = (unsigned int)d->dc_hdr[2] << 8 | d->dc_hdr[3];
	rec->fr_content = d->dc_clen > 0 ? content : "";
	rec->fr_len = d->dc_clen;
	d->dc_hlen = 0;
	d->dc_state = d->dc_left > 0 ? FCGI_DEC_PADDING : FCGI_DEC_HEADER;
	return 1;
}

/* Bytes of a header from in[0..len); may hand out an empty or whole
 * record (1), or move on to CONTENT.  *offp moves past what is used. */
static int
dec_header(struct fcgi_dec *d, const char *in, size_t len, size_t *offp,
    struct fcgi_rec *rec)
{
	size_t off = *offp, n;

	n = FCGI_HEADER_LEN - d->dc_hlen;
	if (n > len - off)
		n = len - off;
	memcpy(d->dc_hdr + d->dc_hlen, in + off, n);
	d->dc_hlen += n;
	*offp = off += n;
	if (d->dc_hdr[0] != FCGI_VERSION_1)
		return dec_fail(d, EBADMSG, "version is not 1");
	if (d->dc_hlen < FCGI_HEADER_LEN)
		return 0;
	d->dc_clen = (size_t)d->dc_hdr[4] << 8 | d->dc_hdr[5];
	d->dc_left = d->dc_hdr[6];
	if (len - off >= d->dc_clen) {
		/* All here: point into the caller's data. */
		*offp = off + d->dc_clen;
		return dec_emit(d, d->dc_clen > 0 ? in + off : "", rec);
	}
	buf_clear(&d->dc_content);
	if (buf_reserve(&d->dc_content, d->dc_clen) == -1)
		return dec_fail(d, ENOMEM, "out of memory");
	d->dc_state = FCGI_DEC_CONTENT;
	return 0;
}

int
fcgi_dec_feed(struct fcgi_dec *d, const void *data, size_t len, size_t *usedp,
    struct fcgi_rec *rec)
{
	const char *in = data;
	size_t off = 0, n;
	int rv;

	*usedp = 0;
	for (;;) {
		switch (d->dc_state) {
		case FCGI_DEC_HEADER:
			if (off == len)
				return 0;
			rv = dec_header(d, in, len, &off, rec);
			*usedp = off;
			if (rv != 0)
				return rv;
			break;
		case FCGI_DEC_CONTENT:
			n = d->dc_clen - d->dc_content.b_len;
			if (n > len - off)
				n = len - off;
			/* Cannot fail: dc_clen bytes are reserved. */
			if (n > 0)
				buf_append(&d->dc_content, in + off, n);
			*usedp = off += n;
			if (d->dc_content.b_len < d->dc_clen)
				return 0;
			return dec_emit(d, d->dc_content.b_data, rec);
		case FCGI_DEC_PADDING:
			n = d->dc_left < len - off ? d->dc_left : len - off;
			d->dc_left -= n;
			*usedp = off += n;
			if (d->dc_left > 0)
				return 0;
			d->dc_state = FCGI_DEC_HEADER;
			break;
		case FCGI_DEC_ERROR:
		default:
			errno = d->dc_errno;
			return -1;
		}
	}
}
