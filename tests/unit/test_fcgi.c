/*
 * test_fcgi.c: the FastCGI codec (lib/fcgi.c).
 *
 * Encoders are checked against exact bytes written out by hand from the
 * FastCGI 1.0 layouts, and against an independent walk over the record
 * headers (version, lengths, padding to 8, greedy 65535-byte split).
 * Every decoder input is fed three ways, each piece copied to the end
 * of an allocation of exactly its size so that an over-read is an ASan
 * or valgrind error: whole, one byte at a time, and in pseudo-random
 * chunks (fixed seed); the three must give the same records and the
 * same end state.  Name-value inputs are likewise parsed from exact
 * allocations.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fcgi.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void *
xalloc(size_t n)
{
	void *p;

	if ((p = malloc(n ? n : 1)) == NULL) {
		perror("malloc");
		exit(2);
	}
	return p;
}

/* A copy of in[0..len) at the very end of its own allocation. */
static char *
exact(const void *in, size_t len)
{
	char *p = xalloc(len);

	if (len)
		memcpy(p, in, len);
	return p;
}

/* xorshift32: the same sequence on every platform and libc. */
static uint32_t rng_state;

static void
rng_seed(uint32_t s)
{
	rng_state = s ? s : 1;
}

static uint32_t
rng(void)
{
	uint32_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

/* n bytes in which every byte value occurs (n >= 256) in mixed order. */
static char *
pattern(size_t n, unsigned int salt)
{
	char *p = xalloc(n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)((i * 37 + salt + (i >> 8)) & 0xff);
	return p;
}

/* A printable rendering of n bytes (rotating buffers, for test names). */
static const char *
show(const void *v, size_t n)
{
	static char out[4][200];
	static int k;
	const unsigned char *s = v;
	char *o = out[k++ & 3];
	size_t i, j = 0;

	for (i = 0; i < n && j < sizeof(out[0]) - 8; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\')
			o[j++] = (char)s[i];
		else
			j += (size_t)snprintf(o + j, 5, "\\x%02x", s[i]);
	}
	if (i < n)
		j += (size_t)snprintf(o + j, 4, "...");
	o[j] = '\0';
	return o;
}

/* Decoding. */

enum { WHOLE, BYTES, RANDOM, NMODES };
static const char *const mode_names[] = {
	"whole",
	"one byte at a time",
	"in random chunks",
};
enum { END_IDLE, END_PARTIAL, END_ERROR };

struct rec {
	int type;
	unsigned int id;
	char *data;
	size_t len;
};

struct recs {
	struct rec *r;
	size_t n, cap;
	int end; /* END_* */
	const char *err;
	int err_no;
	int odd; /* calls that broke the contract */
};

static void
recs_free(struct recs *rs)
{
	size_t i;

	for (i = 0; i < rs->n; i++)
		free(rs->r[i].data);
	free(rs->r);
	memset(rs, 0, sizeof(*rs));
}

static void
recs_add(struct recs *rs, const struct fcgi_rec *fr)
{
	struct rec *r;

	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 16;
		if ((r = realloc(rs->r, rs->cap * sizeof(*r))) == NULL) {
			perror("realloc");
			exit(2);
		}
		rs->r = r;
	}
	r = &rs->r[rs->n++];
	r->type = fr->fr_type;
	r->id = fr->fr_id;
	r->data = exact(fr->fr_content, fr->fr_len);
	r->len = fr->fr_len;
}

static size_t
piece_size(int mode, size_t left)
{
	size_t n;

	if (mode == WHOLE)
		return left;
	if (mode == BYTES)
		return 1;
	switch (rng() % 4) {
	case 0:
		n = 1 + rng() % 8;
		break;
	case 1:
		n = 1 + rng() % 100;
		break;
	case 2:
		n = 1 + rng() % 5000;
		break;
	default:
		n = 1 + rng() % 140000;
		break;
	}
	return n < left ? n : left;
}

/*
 * Decode in[0..len) in the given mode, copying every record out before
 * the next feed.  Checks the calling contract on every call: 1 consumes
 * at least one byte and no more than given, 0 consumes everything, the
 * content pointer is never NULL.
 */
static void
decode(const void *in, size_t len, int mode, struct recs *rs)
{
	struct fcgi_dec d;
	struct fcgi_rec fr;
	size_t off = 0, piece, pos, used;
	char *p, *one;
	int rv = 0, e;

	memset(rs, 0, sizeof(*rs));
	fcgi_dec_init(&d);
	rng_seed(0x9e3779b9u ^ (uint32_t)len);
	/* Single bytes go through one reused 1-byte allocation: as exact,
	 * and a million of them stay cheap under valgrind. */
	one = mode == BYTES ? xalloc(1) : NULL;
	while (off < len && rv != -1) {
		piece = piece_size(mode, len - off);
		if (one != NULL)
			p = memcpy(one, (const char *)in + off, 1);
		else
			p = exact((const char *)in + off, piece);
		for (pos = 0;;) {
			rv = fcgi_dec_feed(&d, p + pos, piece - pos, &used,
			    &fr);
			e = errno;
			if (used > piece - pos) {
				rs->odd++;
				break;
			}
			pos += used;
			if (rv == 1) {
				if (used == 0 || fr.fr_content == NULL) {
					rs->odd++;
					break;
				}
				recs_add(rs, &fr);
				continue;
			}
			if (rv == 0 && pos != piece)
				rs->odd++;
			if (rv == -1) {
				rs->err = fcgi_dec_error(&d);
				rs->err_no = e;
			} else if (rv != 0)
				rs->odd++;
			break;
		}
		if (one == NULL)
			free(p);
		off += piece;
	}
	free(one);
	rs->end = rv == -1	? END_ERROR
	    : fcgi_dec_idle(&d) ? END_IDLE
				: END_PARTIAL;
	fcgi_dec_free(&d);
}

static int
recs_same(const struct recs *a, const struct recs *b)
{
	size_t i;

	if (a->n != b->n || a->end != b->end ||
	    (a->err == NULL) != (b->err == NULL) ||
	    (a->err && strcmp(a->err, b->err)) || a->err_no != b->err_no)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->r[i].type != b->r[i].type || a->r[i].id != b->r[i].id ||
		    a->r[i].len != b->r[i].len ||
		    memcmp(a->r[i].data, b->r[i].data, a->r[i].len))
			return 0;
	return 1;
}

/*
 * Decode in all three modes; each must keep the contract and agree with
 * the whole-input result, which is left in *out.
 */
static void
decode_all(int line, const void *in, size_t len, const char *what,
    struct recs *out)
{
	struct recs rs;
	int m;

	decode(in, len, WHOLE, out);
	ok_at(line, out->odd == 0, "%s: decoded whole, contract kept", what);
	for (m = BYTES; m < NMODES; m++) {
		decode(in, len, m, &rs);
		if (!ok_at(line, rs.odd == 0 && recs_same(&rs, out),
			"%s: same records %s", what, mode_names[m]))
			tap_diag("%zu records (end %d, %d odd), whole gave %zu "
				 "(end %d)",
			    rs.n, rs.end, rs.odd, out->n, out->end);
		recs_free(&rs);
	}
}

/* "type/id:content" lines, for comparing small decodes with a table. */
static char *
render(const struct recs *rs)
{
	struct buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < rs->n; i++)
		buf_printf(&b, "%d/%u:%s\n", rs->r[i].type, rs->r[i].id,
		    show(rs->r[i].data, rs->r[i].len));
	return buf_detach(&b, NULL);
}

/*
 * Concatenate the content of records of one type and id; *endsp counts
 * empty ones.  Returns -1 if content follows an empty record.
 */
static int
gather(const struct recs *rs, int type, unsigned int id, struct buf *out,
    int *endsp)
{
	size_t i;
	int bad = 0;

	*endsp = 0;
	for (i = 0; i < rs->n; i++) {
		if (rs->r[i].type != type || rs->r[i].id != id)
			continue;
		if (rs->r[i].len == 0)
			++*endsp;
		else if (*endsp > 0)
			bad = 1;
		buf_append(out, rs->r[i].data, rs->r[i].len);
	}
	return bad ? -1 : 0;
}

/* Constants. */

static void
test_constants(void)
{
	static const struct {
		int line;
		long got, want;
		const char *what;
	} rows[] = {
#define C(name, v) { __LINE__, (long)(name), v, #name }
		C(FCGI_VERSION_1, 1),
		C(FCGI_HEADER_LEN, 8),
		C(FCGI_MAX_CONTENT, 65535),
		C(FCGI_MAX_PADDING, 255),
		C(FCGI_NULL_REQUEST_ID, 0),
		C(FCGI_BEGIN_REQUEST, 1),
		C(FCGI_ABORT_REQUEST, 2),
		C(FCGI_END_REQUEST, 3),
		C(FCGI_PARAMS, 4),
		C(FCGI_STDIN, 5),
		C(FCGI_STDOUT, 6),
		C(FCGI_STDERR, 7),
		C(FCGI_DATA, 8),
		C(FCGI_GET_VALUES, 9),
		C(FCGI_GET_VALUES_RESULT, 10),
		C(FCGI_UNKNOWN_TYPE, 11),
		C(FCGI_MAXTYPE, 11),
		C(FCGI_RESPONDER, 1),
		C(FCGI_AUTHORIZER, 2),
		C(FCGI_FILTER, 3),
		C(FCGI_KEEP_CONN, 1),
		C(FCGI_REQUEST_COMPLETE, 0),
		C(FCGI_CANT_MPX_CONN, 1),
		C(FCGI_OVERLOADED, 2),
		C(FCGI_UNKNOWN_ROLE, 3),
		C(FCGI_NV_MAX, 0x7fffffffL),
#undef C
	};
	size_t i;

	for (i = 0; i < NELEM(rows); i++)
		is_int_at(rows[i].line, rows[i].got, rows[i].want,
		    rows[i].what);
	is_str(FCGI_MAX_CONNS, "FCGI_MAX_CONNS", "FCGI_MAX_CONNS");
	is_str(FCGI_MAX_REQS, "FCGI_MAX_REQS", "FCGI_MAX_REQS");
	is_str(FCGI_MPXS_CONNS, "FCGI_MPXS_CONNS", "FCGI_MPXS_CONNS");
	is_str(fcgi_type_name(FCGI_BEGIN_REQUEST), "BEGIN_REQUEST",
	    "type name 1");
	is_str(fcgi_type_name(FCGI_GET_VALUES_RESULT), "GET_VALUES_RESULT",
	    "type name 10");
	is_str(fcgi_type_name(FCGI_UNKNOWN_TYPE), "UNKNOWN_TYPE",
	    "type name 11");
	is_str(fcgi_type_name(0), "UNKNOWN", "type name 0");
	is_str(fcgi_type_name(12), "UNKNOWN", "type name 12");
	is_str(fcgi_type_name(-1), "UNKNOWN", "type name -1");
}

/* Fixed-size records: exact bytes, decoded, bodies parsed back. */

#define H(type, idhi, idlo, clen, plen) \
	"\x01" type idhi idlo "\x00" clen plen "\x00"

static const struct fxrow {
	int line;
	int type;
	unsigned int id;
	long a1, a2;	  /* role, flags / app, proto / type */
	const char *want; /* exactly 16 bytes */
} fx_rows[] = {
	{ __LINE__, FCGI_BEGIN_REQUEST, 1, FCGI_RESPONDER, FCGI_KEEP_CONN,
	    H("\x01", "\x00", "\x01", "\x08",
		"\x00") "\x00\x01\x01\x00\x00\x00\x00\x00" },
	{ __LINE__, FCGI_BEGIN_REQUEST, 2, FCGI_AUTHORIZER, 0,
	    H("\x01", "\x00", "\x02", "\x08",
		"\x00") "\x00\x02\x00\x00\x00\x00\x00\x00" },
	{ __LINE__, FCGI_BEGIN_REQUEST, 65535, FCGI_FILTER, FCGI_KEEP_CONN,
	    H("\x01", "\xff", "\xff", "\x08",
		"\x00") "\x00\x03\x01\x00\x00\x00\x00\x00" },
	{ __LINE__, FCGI_BEGIN_REQUEST, 258, 0x1234, 0xff,
	    H("\x01", "\x01", "\x02", "\x08",
		"\x00") "\x12\x34\xff\x00\x00\x00\x00\x00" },
	{ __LINE__, FCGI_END_REQUEST, 1, 0, FCGI_REQUEST_COMPLETE,
	    H("\x03", "\x00", "\x01", "\x08",
		"\x00") "\x00\x00\x00\x00\x00\x00\x00\x00" },
	{ __LINE__, FCGI_END_REQUEST, 300, 0xdeadbeefL, FCGI_OVERLOADED,
	    H("\x03", "\x01", "\x2c", "\x08",
		"\x00") "\xde\xad\xbe\xef\x02\x00\x00\x00" },
	{ __LINE__, FCGI_END_REQUEST, 7, 1, FCGI_CANT_MPX_CONN,
	    H("\x03", "\x00", "\x07", "\x08",
		"\x00") "\x00\x00\x00\x01\x01\x00\x00\x00" },
	{ __LINE__, FCGI_END_REQUEST, 7, 255, FCGI_UNKNOWN_ROLE,
	    H("\x03", "\x00", "\x07", "\x08",
		"\x00") "\x00\x00\x00\xff\x03\x00\x00\x00" },
	{ __LINE__, FCGI_UNKNOWN_TYPE, 0, 200, 0,
	    H("\x0b", "\x00", "\x00", "\x08",
		"\x00") "\xc8\x00\x00\x00\x00\x00\x00\x00" },
	{ __LINE__, FCGI_UNKNOWN_TYPE, 0, 0, 0,
	    H("\x0b", "\x00", "\x00", "\x08",
		"\x00") "\x00\x00\x00\x00\x00\x00\x00\x00" },
	{ __LINE__, FCGI_ABORT_REQUEST, 9, 0, 0,
	    H("\x02", "\x00", "\x09", "\x00", "\x00") },
	{ __LINE__, FCGI_ABORT_REQUEST, 65535, 0, 0,
	    H("\x02", "\xff", "\xff", "\x00", "\x00") },
};

static int
encode_fixed(struct buf *b, const struct fxrow *row)
{
	switch (row->type) {
	case FCGI_BEGIN_REQUEST:
		return fcgi_encode_begin(b, row->id, (int)row->a1,
		    (int)row->a2);
	case FCGI_END_REQUEST:
		return fcgi_encode_end(b, row->id, (uint32_t)row->a1,
		    (int)row->a2);
	case FCGI_UNKNOWN_TYPE:
		return fcgi_encode_unknown_type(b, (int)row->a1);
	default:
		return fcgi_encode_abort(b, row->id);
	}
}

/* Parse the body back; 1 if it gives the row's arguments. */
static int
parse_fixed(const struct fxrow *row, const char *c, size_t len)
{
	uint32_t app;
	int x, y;

	switch (row->type) {
	case FCGI_BEGIN_REQUEST:
		return fcgi_parse_begin(c, len, &x, &y) == 0 && x == row->a1 &&
		    y == row->a2;
	case FCGI_END_REQUEST:
		return fcgi_parse_end(c, len, &app, &x) == 0 &&
		    app == (uint32_t)row->a1 && x == row->a2;
	case FCGI_UNKNOWN_TYPE:
		return fcgi_parse_unknown_type(c, len, &x) == 0 && x == row->a1;
	default:
		return len == 0;
	}
}

static void
test_fixed(void)
{
	const struct fxrow *row;
	struct buf b = BUF_INIT;
	struct recs rs;
	size_t i, wlen;
	char what[64];
	char *c;

	for (i = 0; i < NELEM(fx_rows); i++) {
		row = &fx_rows[i];
		wlen = row->type == FCGI_ABORT_REQUEST ? 8 : 16;
		snprintf(what, sizeof(what), "%s id %u",
		    fcgi_type_name(row->type), row->id);
		buf_clear(&b);
		buf_appends(&b, "pre");
		is_int_at(row->line, encode_fixed(&b, row), 0, what);
		if (!ok_at(row->line,
			b.b_len == 3 + wlen && !memcmp(b.b_data, "pre", 3) &&
			    !memcmp(b.b_data + 3, row->want, wlen),
			"  appended exactly the bytes of the spec"))
			tap_diag("got %s", show(b.b_data, b.b_len));
		decode_all(row->line, b.b_data + 3, b.b_len - 3, what, &rs);
		ok_at(row->line,
		    rs.n == 1 && rs.end == END_IDLE &&
			rs.r[0].type == row->type && rs.r[0].id == row->id,
		    "  one record of the type and id, idle after it");
		if (rs.n == 1) {
			/* The body parsers read nothing past the content. */
			c = exact(rs.r[0].data, rs.r[0].len);
			ok_at(row->line, parse_fixed(row, c, rs.r[0].len),
			    "  body parses back to the arguments");
			free(c);
		}
		recs_free(&rs);
	}
	buf_free(&b);
}

static void
test_body_lengths(void)
{
	static const char body[9] = "\x00\x01\x01\x00\x00\x00\x00\x00\x00";
	static const size_t lens[] = { 0, 1, 7, 9 };
	uint32_t app;
	size_t i;
	int x, y, rv;
	char *c;

	for (i = 0; i < NELEM(lens); i++) {
		c = exact(body, lens[i]);
		errno = 0;
		rv = fcgi_parse_begin(c, lens[i], &x, &y);
		ok(rv == -1 && errno == EBADMSG,
		    "BEGIN_REQUEST body of %zu bytes: -1/EBADMSG", lens[i]);
		errno = 0;
		rv = fcgi_parse_end(c, lens[i], &app, &x);
		ok(rv == -1 && errno == EBADMSG,
		    "END_REQUEST body of %zu bytes: -1/EBADMSG", lens[i]);
		errno = 0;
		rv = fcgi_parse_unknown_type(c, lens[i], &x);
		ok(rv == -1 && errno == EBADMSG,
		    "UNKNOWN_TYPE body of %zu bytes: -1/EBADMSG", lens[i]);
		free(c);
	}
}

/* Bad arguments: -1, errno, and the buffer left as it was. */

static void
refused(int line, struct buf *b, int rv, int want_errno, const char *what)
{
	int e = errno;

	if (!ok_at(line,
		rv == -1 && e == want_errno && b->b_len == 4 &&
		    !memcmp(b->b_data, "keep", 5),
		"refused: %s", what))
		tap_diag("rv %d, errno %d (want %d), buffer %s", rv, e,
		    want_errno, show(b->b_data, b->b_len));
	buf_clear(b);
	buf_appends(b, "keep");
}
#define REFUSED(b, call, err) \
	do { \
		errno = 0; \
		refused(__LINE__, b, (call), err, #call); \
	} while (0)

static void
test_bad_args(void)
{
	struct buf b = BUF_INIT;
	struct fcgi_nv nv[1];

	buf_appends(&b, "keep");
	REFUSED(&b, fcgi_encode_header(&b, -1, 1, 0, 0), EINVAL);
	REFUSED(&b, fcgi_encode_header(&b, 256, 1, 0, 0), EINVAL);
	REFUSED(&b, fcgi_encode_header(&b, 6, 65536, 0, 0), EINVAL);
	REFUSED(&b, fcgi_encode_header(&b, 6, 1, 65536, 0), EINVAL);
	REFUSED(&b, fcgi_encode_header(&b, 6, 1, 0, 256), EINVAL);
	REFUSED(&b, fcgi_encode_record(&b, 6, 1, "x", 65536), EMSGSIZE);
	REFUSED(&b, fcgi_encode_record(&b, 6, 65536, "x", 1), EINVAL);
	REFUSED(&b, fcgi_encode_begin(&b, 1, -1, 0), EINVAL);
	REFUSED(&b, fcgi_encode_begin(&b, 1, 65536, 0), EINVAL);
	REFUSED(&b, fcgi_encode_begin(&b, 1, 1, 256), EINVAL);
	REFUSED(&b, fcgi_encode_begin(&b, 65536, 1, 0), EINVAL);
	REFUSED(&b, fcgi_encode_abort(&b, 65536), EINVAL);
	REFUSED(&b, fcgi_encode_end(&b, 1, 0, 256), EINVAL);
	REFUSED(&b, fcgi_encode_end(&b, 1, 0, -1), EINVAL);
	REFUSED(&b, fcgi_encode_stream(&b, FCGI_BEGIN_REQUEST, 1, "x", 1),
	    EINVAL);
	REFUSED(&b, fcgi_encode_stream(&b, FCGI_GET_VALUES, 1, "x", 1), EINVAL);
	REFUSED(&b, fcgi_encode_stream(&b, 0, 1, "x", 1), EINVAL);
	REFUSED(&b, fcgi_encode_stream(&b, FCGI_STDOUT, 65536, "x", 1), EINVAL);
	REFUSED(&b, fcgi_encode_stream(&b, FCGI_STDOUT, 65536, "", 0), EINVAL);
	REFUSED(&b, fcgi_encode_stream_end(&b, FCGI_END_REQUEST, 1), EINVAL);
	REFUSED(&b, fcgi_encode_stream_end(&b, FCGI_STDIN, 65536), EINVAL);
	REFUSED(&b, fcgi_encode_unknown_type(&b, 256), EINVAL);
	REFUSED(&b, fcgi_encode_unknown_type(&b, -1), EINVAL);
	/* Sizes the arithmetic must catch before touching the data. */
	REFUSED(&b, fcgi_encode_stream(&b, FCGI_STDOUT, 1, "x", SIZE_MAX),
	    ENOMEM);
	REFUSED(&b,
	    fcgi_encode_stream(&b, FCGI_STDOUT, 1, "x", SIZE_MAX - 65535),
	    ENOMEM);
	REFUSED(&b, fcgi_encode_nv(&b, "x", (size_t)FCGI_NV_MAX + 1, "", 0),
	    EMSGSIZE);
	REFUSED(&b, fcgi_encode_nv(&b, "", 0, "x", (size_t)FCGI_NV_MAX + 1),
	    EMSGSIZE);
	REFUSED(&b, fcgi_encode_nv(&b, "x", SIZE_MAX, "x", SIZE_MAX), EMSGSIZE);
	nv[0].nv_name = "A";
	nv[0].nv_namelen = 1;
	nv[0].nv_value = "x";
	nv[0].nv_valuelen = (size_t)FCGI_NV_MAX + 1;
	REFUSED(&b, fcgi_encode_params(&b, 1, nv, 1), EMSGSIZE);
	nv[0].nv_valuelen = 1;
	REFUSED(&b, fcgi_encode_params(&b, 65536, nv, 1), EINVAL);
	buf_free(&b);
}

/* Size limits: one management record, and a struct buf's b_max. */
static void
test_bad_sizes(void)
{
	struct buf b = BUF_INIT, lim;
	struct fcgi_nv nv[2];
	const char *names[2];
	char *big;

	buf_appends(&b, "keep");
	/* Management records hold at most 65535 bytes of pairs: here
	 * 16 ("\x0d\x01" FCGI_MAX_REQS "1") + 6 + the value's length. */
	big = xalloc(70000);
	memset(big, 'N', 69999);
	big[69999] = '\0';
	names[0] = FCGI_MAX_CONNS;
	names[1] = big;
	REFUSED(&b, fcgi_encode_get_values(&b, names, 2), EMSGSIZE);
	nv[0].nv_name = FCGI_MAX_REQS;
	nv[0].nv_namelen = 13;
	nv[0].nv_value = "1";
	nv[0].nv_valuelen = 1;
	nv[1].nv_name = "N";
	nv[1].nv_namelen = 1;
	nv[1].nv_value = big;
	nv[1].nv_valuelen = 65535 - 22 + 1;
	REFUSED(&b, fcgi_encode_get_values_result(&b, nv, 2), EMSGSIZE);
	nv[1].nv_valuelen = 65535 - 22;
	ok(fcgi_encode_get_values_result(&b, nv, 2) == 0 &&
		b.b_len == 4 + 8 + 65535 + 1,
	    "GET_VALUES_RESULT of exactly 65535 "
	    "content bytes fits (padding 1)");

	/*
	 * A buffer limit is reported and leaves the buffer as it was, also
	 * when it strikes after part of the output is written: 65520
	 * bytes of pairs fit in the limit, the end record does not.
	 */
	buf_init(&lim, 4 + 65535);
	buf_appends(&lim, "keep");
	REFUSED(&lim, fcgi_encode_stream(&lim, FCGI_STDOUT, 1, big, 65535),
	    EMSGSIZE);
	REFUSED(&lim, fcgi_encode_record(&lim, FCGI_STDOUT, 1, big, 65530),
	    EMSGSIZE);
	REFUSED(&lim, fcgi_encode_params(&lim, 1, nv, 2), EMSGSIZE);
	nv[1].nv_valuelen = 65520 - 22;
	REFUSED(&lim, fcgi_encode_params(&lim, 1, nv, 2), EMSGSIZE);
	nv[1].nv_valuelen = 65520 - 22 - 8;
	ok(fcgi_encode_params(&lim, 1, nv, 2) == 0 &&
		lim.b_len == 4 + 8 + 65512 + 8,
	    "  8 bytes fewer and it fits");
	buf_free(&lim);
	free(big);
	buf_free(&b);
}

/* Streams. */

/*
 * Walk the records in b[0..len) the way the spec lays them out and
 * check what a conforming encoder must produce for `data`: version 1,
 * the type and id, content split greedily into 65535-byte records,
 * padding to a multiple of 8 made of zeros, one empty record last.
 */
#define WHY(...) \
	do { \
		snprintf(why, whysz, __VA_ARGS__); \
		return 0; \
	} while (0)

static int
walk_stream(const unsigned char *p, size_t len, int type, unsigned int id,
    const char *data, size_t dlen, size_t *nrecp, char *why, size_t whysz)
{
	size_t off = 0, done = 0, clen, plen, want, i;

	for (*nrecp = 0;; ++*nrecp) {
		if (len - off < 8)
			WHY("short header at %zu", off);
		clen = (size_t)p[off + 4] << 8 | p[off + 5];
		plen = p[off + 6];
		want = dlen - done < 65535 ? dlen - done : 65535;
		if (p[off] != 1 || p[off + 1] != type ||
		    (p[off + 2] << 8 | p[off + 3]) != (int)id ||
		    p[off + 7] != 0)
			WHY("header %zu: %s", *nrecp, show(p + off, 8));
		if (clen != want || plen != (8 - clen % 8) % 8)
			WHY("record %zu: content %zu padding %zu, want %zu",
			    *nrecp, clen, plen, want);
		off += 8;
		if (len - off < clen + plen)
			WHY("record %zu cut", *nrecp);
		if (memcmp(p + off, data + done, clen))
			WHY("record %zu content", *nrecp);
		for (i = 0; i < plen; i++)
			if (p[off + clen + i] != 0)
				WHY("record %zu: padding not zero", *nrecp);
		off += clen + plen;
		done += clen;
		if (clen == 0)
			break;
	}
	++*nrecp;
	if (off != len)
		WHY("%zu bytes after the end record", len - off);
	return 1;
}
#undef WHY

static void
test_streams(void)
{
	static const struct {
		int line;
		int type;
		unsigned int id;
		size_t len;
		size_t nrec; /* records including the end */
	} rows[] = {
		{ __LINE__, FCGI_STDOUT, 1, 0, 1 },
		{ __LINE__, FCGI_STDOUT, 1, 1, 2 },
		{ __LINE__, FCGI_STDERR, 2, 7, 2 },
		{ __LINE__, FCGI_STDIN, 3, 8, 2 },
		{ __LINE__, FCGI_DATA, 4, 9, 2 },
		{ __LINE__, FCGI_STDOUT, 1, 65535, 2 },
		{ __LINE__, FCGI_STDIN, 65535, 65536, 3 },
		{ __LINE__, FCGI_PARAMS, 256, 65537, 3 },
		{ __LINE__, FCGI_STDOUT, 1, 131070, 3 },
		{ __LINE__, FCGI_STDOUT, 1, 200000, 5 },
	};
	struct buf b = BUF_INIT, got = BUF_INIT;
	struct recs rs;
	size_t i, nrec;
	char what[80], why[120];
	char *data;
	int ends;

	for (i = 0; i < NELEM(rows); i++) {
		snprintf(what, sizeof(what), "%s id %u, %zu bytes",
		    fcgi_type_name(rows[i].type), rows[i].id, rows[i].len);
		data = pattern(rows[i].len, (unsigned int)i);
		buf_clear(&b);
		ok_at(rows[i].line,
		    fcgi_encode_stream(&b, rows[i].type, rows[i].id, data,
			rows[i].len) == 0 &&
			fcgi_encode_stream_end(&b, rows[i].type, rows[i].id) ==
			    0,
		    "%s: encoded", what);
		if (!ok_at(rows[i].line,
			walk_stream((unsigned char *)b.b_data, b.b_len,
			    rows[i].type, rows[i].id, data, rows[i].len, &nrec,
			    why, sizeof(why)) &&
			    nrec == rows[i].nrec,
			"  split in %zu records of <= 65535, padded to 8",
			rows[i].nrec))
			tap_diag("%s (%zu records)", why, nrec);
		decode_all(rows[i].line, b.b_data, b.b_len, what, &rs);
		buf_clear(&got);
		ok_at(rows[i].line,
		    rs.n == rows[i].nrec && rs.end == END_IDLE &&
			gather(&rs, rows[i].type, rows[i].id, &got, &ends) ==
			    0 &&
			ends == 1 && got.b_len == rows[i].len &&
			!memcmp(got.b_data, data, rows[i].len),
		    "  decodes back to the data, one end record");
		recs_free(&rs);
		free(data);
	}

	/* A few exact encodings. */
	buf_clear(&b);
	fcgi_encode_stream(&b, FCGI_STDOUT, 3, "hello", 5);
	fcgi_encode_stream_end(&b, FCGI_STDOUT, 3);
	is_mem(b.b_data, b.b_len,
	    "\x01\x06\x00\x03\x00\x05\x03\x00"
	    "hello\x00\x00\x00"
	    "\x01\x06\x00\x03\x00\x00\x00\x00",
	    24, "STDOUT \"hello\" and its end, exact bytes");
	buf_clear(&b);
	ok(fcgi_encode_stream(&b, FCGI_STDIN, 1, NULL, 0) == 0 && b.b_len == 0,
	    "an empty stream piece appends nothing");
	fcgi_encode_record(&b, 200, 0, "12345678", 8);
	is_mem(b.b_data, b.b_len,
	    "\x01\xc8\x00\x00\x00\x08\x00\x00"
	    "12345678",
	    16, "a record of any type, 8 bytes: no padding");
	buf_clear(&b);
	fcgi_encode_header(&b, FCGI_STDERR, 0x1234, 0xabcd, 0xff);
	is_mem(b.b_data, b.b_len, "\x01\x07\x12\x34\xab\xcd\xff\x00", 8,
	    "a bare header with every field big-endian");
	buf_free(&got);
	buf_free(&b);
}

/* Name-value pairs. */

static void
test_nv(void)
{
	static const struct {
		int line;
		size_t nlen, vlen;
		const char *lens; /* the length fields */
		size_t llen;
	} rows[] = {
#define NV(n, v, l) { __LINE__, n, v, l, sizeof(l) - 1 }
		NV(0, 0, "\x00\x00"),
		NV(1, 0, "\x01\x00"),
		NV(0, 1, "\x00\x01"),
		NV(127, 127, "\x7f\x7f"),
		NV(128, 0, "\x80\x00\x00\x80\x00"),
		NV(0, 128, "\x00\x80\x00\x00\x80"),
		NV(127, 128, "\x7f\x80\x00\x00\x80"),
		NV(128, 128, "\x80\x00\x00\x80\x80\x00\x00\x80"),
		NV(256, 300, "\x80\x00\x01\x00\x80\x00\x01\x2c"),
		NV(65536, 5, "\x80\x01\x00\x00\x05"),
		NV(3, 1 << 20, "\x03\x80\x10\x00\x00"),
		NV(1 << 20, 1 << 20, "\x80\x10\x00\x00\x80\x10\x00\x00"),
#undef NV
	};
	struct buf b = BUF_INIT;
	struct fcgi_nv nv;
	size_t i, k, off, bad;
	char *name, *value, *p;
	int rv, rv2;

	for (i = 0; i < NELEM(rows); i++) {
		name = pattern(rows[i].nlen, 1);
		value = pattern(rows[i].vlen, 99);
		buf_clear(&b);
		is_int_at(rows[i].line,
		    fcgi_encode_nv(&b, name, rows[i].nlen, value, rows[i].vlen),
		    0, "encode_nv");
		ok_at(rows[i].line,
		    b.b_len == rows[i].llen + rows[i].nlen + rows[i].vlen &&
			!memcmp(b.b_data, rows[i].lens, rows[i].llen) &&
			!memcmp(b.b_data + rows[i].llen, name, rows[i].nlen) &&
			!memcmp(b.b_data + rows[i].llen + rows[i].nlen, value,
			    rows[i].vlen),
		    "  name %zu, value %zu: lengths %s, then name and value",
		    rows[i].nlen, rows[i].vlen,
		    show(rows[i].lens, rows[i].llen));
		p = exact(b.b_data, b.b_len);
		off = 0;
		rv = fcgi_next_nv(p, b.b_len, &off, &nv);
		rv2 = fcgi_next_nv(p, b.b_len, &off, &nv);
		ok_at(rows[i].line,
		    rv == 1 && rv2 == 0 && off == b.b_len &&
			nv.nv_namelen == rows[i].nlen &&
			nv.nv_valuelen == rows[i].vlen &&
			!memcmp(nv.nv_name, name, rows[i].nlen) &&
			!memcmp(nv.nv_value, value, rows[i].vlen),
		    "  parses back, then no more");
		free(p);
		/* Every shorter prefix is a cut pair (small rows only). */
		for (k = 1, bad = 0; k < b.b_len && b.b_len < 1000; k++) {
			p = exact(b.b_data, k);
			off = 0;
			errno = 0;
			if (fcgi_next_nv(p, k, &off, &nv) != -1 ||
			    errno != EBADMSG || off != 0)
				bad = k;
			free(p);
		}
		ok_at(rows[i].line, bad == 0,
		    "  every cut prefix: -1/EBADMSG%s",
		    b.b_len < 1000 ? "" : " (skipped, large)");
		free(name);
		free(value);
	}
	buf_free(&b);
}

/* Hostile pair lists: n good pairs, then the final answer. */

static void
test_nv_hostile(void)
{
	static const struct {
		int line;
		const char *in;
		size_t len;
		int npairs;
		int final;
	} rows[] = {
#define NR(in, n, f) { __LINE__, in, sizeof(in) - 1, n, f }
		NR("", 0, 0),
		NR("\x00\x00", 1, 0),
		NR("\x01\x01"
		   "ab",
		    1, 0),
		NR("\x01\x01"
		   "ab"
		   "\x01\x01"
		   "cd",
		    2, 0),
		NR("\x00\x00\x00\x00\x00\x00", 3, 0),
		/* A 4-byte form for a short length is not forbidden. */
		NR("\x80\x00\x00\x01\x80\x00\x00\x01"
		   "ab",
		    1, 0),
		/* Length fields cut short. */
		NR("\x01", 0, -1),
		NR("\x83\x00\x00", 0, -1),
		NR("\x01\x80\x00", 0, -1),
		NR("\x80", 0, -1),
		/* Lengths running past the buffer. */
		NR("\x80\x00\x03\xe8\x00"
		   "abc",
		    0, -1), /* 1000, 3 here */
		NR("\x0a\x00"
		   "abc",
		    0, -1),
		NR("\x01\x01"
		   "a",
		    0, -1),
		NR("\x01\x80\x00\x01\x00"
		   "ab",
		    0, -1), /* value 256 */
		NR("\x01\xff\xff\xff\xff"
		   "ab",
		    0, -1), /* 2^31 - 1 */
		NR("\xff\xff\xff\xff\xff\xff\xff\xff", 0, -1),
		NR("\xff\xff\xff\xff\x00", 0, -1),
		NR("\x00\xff\xff\xff\xff", 0, -1),
		/* Good, then cut. */
		NR("\x01\x01"
		   "ab"
		   "\x05",
		    1, -1),
		NR("\x01\x01"
		   "ab"
		   "\x01\x02"
		   "cd",
		    1, -1),
#undef NR
	};
	struct fcgi_nv nv;
	size_t i, off;
	int n, rv, e;
	char *p;

	for (i = 0; i < NELEM(rows); i++) {
		p = exact(rows[i].in, rows[i].len);
		off = 0;
		n = 0;
		while ((rv = fcgi_next_nv(p, rows[i].len, &off, &nv)) == 1 &&
		    n < 100)
			n++;
		e = errno;
		if (!ok_at(rows[i].line,
			n == rows[i].npairs && rv == rows[i].final &&
			    (rv == 0 ? off == rows[i].len
				     : e == EBADMSG && off < rows[i].len),
			"pairs %s: %d then %d", show(rows[i].in, rows[i].len),
			rows[i].npairs, rows[i].final))
			tap_diag("got %d pairs then %d, off %zu", n, rv, off);
		free(p);
	}
	off = 3;
	errno = 0;
	ok(fcgi_next_nv("ab", 2, &off, &nv) == -1 && errno == EINVAL,
	    "offset past the buffer: -1/EINVAL");
}

/* PARAMS: a whole stream from a list, through the decoder and back. */

static void
test_params(void)
{
	enum { N = 256 + 6 };
	static const size_t sizes[][2] = {
		{ 0, 0 },
		{ 127, 127 },
		{ 128, 128 },
		{ 1, 1 << 20 },
		{ 70000, 0 },
		{ 5, 70000 },
	};
	struct fcgi_nv nv[N], got;
	struct buf b = BUF_INIT, ps = BUF_INIT;
	struct recs rs;
	char *bytes, *names[N], *values[N];
	size_t i, off;
	int ends, bad, rv;

	/* Pair i < 256: a one-byte name i, a value holding every byte. */
	bytes = pattern(512, 0);
	for (i = 0; i < 256; i++) {
		names[i] = exact(&(char){ (char)i }, 1);
		values[i] = exact(bytes + i, 256);
		nv[i].nv_namelen = 1;
		nv[i].nv_valuelen = 256;
	}
	for (i = 256; i < N; i++) {
		names[i] = pattern(sizes[i - 256][0], (unsigned int)i);
		values[i] = pattern(sizes[i - 256][1], (unsigned int)i + 1);
		nv[i].nv_namelen = sizes[i - 256][0];
		nv[i].nv_valuelen = sizes[i - 256][1];
	}
	for (i = 0; i < N; i++) {
		nv[i].nv_name = names[i];
		nv[i].nv_value = values[i];
	}
	buf_appends(&b, "pre");
	is_int(fcgi_encode_params(&b, 42, nv, N), 0,
	    "encode_params: 256 one-byte names, lengths 0-1 MB");
	ok(b.b_len > (1 << 20) && !memcmp(b.b_data, "pre", 3),
	    "  appended after what was there");
	decode_all(__LINE__, b.b_data + 3, b.b_len - 3, "PARAMS, 1.2 MB", &rs);
	ok(rs.end == END_IDLE &&
		gather(&rs, FCGI_PARAMS, 42, &ps, &ends) == 0 && ends == 1 &&
		rs.r[rs.n - 1].len == 0,
	    "  one PARAMS stream for id 42, ended once, at the end");
	for (i = 0, off = 0, bad = -1; i < N && bad < 0; i++) {
		rv = fcgi_next_nv(ps.b_data, ps.b_len, &off, &got);
		if (rv != 1 || got.nv_namelen != nv[i].nv_namelen ||
		    got.nv_valuelen != nv[i].nv_valuelen ||
		    memcmp(got.nv_name, nv[i].nv_name, got.nv_namelen) ||
		    memcmp(got.nv_value, nv[i].nv_value, got.nv_valuelen))
			bad = (int)i;
	}
	if (!ok(bad < 0 && fcgi_next_nv(ps.b_data, ps.b_len, &off, &got) == 0,
		"  every pair parses back in order, nothing after"))
		tap_diag("pair %d differs", bad);
	recs_free(&rs);

	/* No pairs: just the end record. */
	buf_clear(&b);
	ok(fcgi_encode_params(&b, 1, NULL, 0) == 0 && b.b_len == 8 &&
		!memcmp(b.b_data, "\x01\x04\x00\x01\x00\x00\x00\x00", 8),
	    "encode_params with no pairs: only the end record");
	for (i = 0; i < N; i++) {
		free(names[i]);
		free(values[i]);
	}
	free(bytes);
	buf_free(&ps);
	buf_free(&b);
}

static void
test_get_values(void)
{
	static const char *const names[] = {
		FCGI_MAX_CONNS,
		FCGI_MAX_REQS,
		FCGI_MPXS_CONNS,
	};
	static const char want_q[] = "\x01\x09\x00\x00\x00\x30\x00\x00"
				     "\x0e\x00"
				     "FCGI_MAX_CONNS"
				     "\x0d\x00"
				     "FCGI_MAX_REQS"
				     "\x0f\x00"
				     "FCGI_MPXS_CONNS";
	static const char want_r[] = "\x01\x0a\x00\x00\x00\x35\x03\x00"
				     "\x0e\x02"
				     "FCGI_MAX_CONNS"
				     "10"
				     "\x0d\x02"
				     "FCGI_MAX_REQS"
				     "50"
				     "\x0f\x01"
				     "FCGI_MPXS_CONNS"
				     "1"
				     "\x00\x00\x00";
	static const char *const vals[] = { "10", "50", "1" };
	struct fcgi_nv nv[3], got;
	struct buf b = BUF_INIT;
	struct recs rs;
	size_t i, off;
	int good;

	is_int(fcgi_encode_get_values(&b, names, 3), 0, "encode_get_values");
	is_mem(b.b_data, b.b_len, want_q, sizeof(want_q) - 1,
	    "  GET_VALUES: id 0, names with empty values, exact bytes");
	decode_all(__LINE__, b.b_data, b.b_len, "GET_VALUES", &rs);
	good = rs.n == 1 && rs.r[0].type == FCGI_GET_VALUES && rs.r[0].id == 0;
	for (i = 0, off = 0; good && i < 3; i++)
		good = fcgi_next_nv(rs.r[0].data, rs.r[0].len, &off, &got) ==
			1 &&
		    got.nv_namelen == strlen(names[i]) &&
		    !memcmp(got.nv_name, names[i], got.nv_namelen) &&
		    got.nv_valuelen == 0;
	ok(good && off == rs.r[0].len, "  decodes to the three names");
	recs_free(&rs);

	for (i = 0; i < 3; i++) {
		nv[i].nv_name = names[i];
		nv[i].nv_namelen = strlen(names[i]);
		nv[i].nv_value = vals[i];
		nv[i].nv_valuelen = strlen(vals[i]);
	}
	buf_clear(&b);
	is_int(fcgi_encode_get_values_result(&b, nv, 3), 0,
	    "encode_get_values_result");
	is_mem(b.b_data, b.b_len, want_r, sizeof(want_r) - 1,
	    "  GET_VALUES_RESULT: 53 bytes of pairs, padding 3, exact bytes");
	decode_all(__LINE__, b.b_data, b.b_len, "GET_VALUES_RESULT", &rs);
	good = rs.n == 1 && rs.r[0].type == FCGI_GET_VALUES_RESULT &&
	    rs.r[0].id == 0;
	for (i = 0, off = 0; good && i < 3; i++)
		good = fcgi_next_nv(rs.r[0].data, rs.r[0].len, &off, &got) ==
			1 &&
		    got.nv_valuelen == strlen(vals[i]) &&
		    !memcmp(got.nv_value, vals[i], got.nv_valuelen);
	ok(good && off == rs.r[0].len, "  decodes to the three values");
	recs_free(&rs);

	buf_clear(&b);
	ok(fcgi_encode_get_values(&b, NULL, 0) == 0 && b.b_len == 8 &&
		!memcmp(b.b_data, "\x01\x09\x00\x00\x00\x00\x00\x00", 8),
	    "GET_VALUES of nothing: an empty record");
	buf_free(&b);
}

/* The decoder on hostile and odd input. */

/* A header: type, low byte of the id, content length (2 bytes), padding. */
#define HD(t, id, clen, plen) "\x01" t "\x00" id clen plen "\x00"

static const struct dcrow {
	int line;
	const char *in;
	size_t len;
	size_t fill; /* then this many filler bytes */
	char fillc;
	const char *tail; /* then this */
	size_t tlen;
	const char *want; /* render() of the records */
	int end;
} dc_rows[] = {
#define DC(in, fill, c, tail, want, end) \
	{ \
		__LINE__, in, sizeof(in) - 1, fill, c, tail, sizeof(tail) - 1, \
		    want, end \
	}
	DC("", 0, 0, "", "", END_IDLE),
	/* Bad versions, seen from the first byte. */
	DC("\x00", 0, 0, "", "", END_ERROR),
	DC("\x02\x06\x00\x01\x00\x00\x00\x00", 0, 0, "", "", END_ERROR),
	DC("\xff", 0, 0, "", "", END_ERROR),
	DC(HD("\x06", "\x01", "\x00\x01", "\x07") "x", 7, 0,
	    "\x00\x06\x00\x01\x00\x00\x00\x00", "6/1:x\n", END_ERROR),
	/* Cut anywhere: need more. */
	DC("\x01", 0, 0, "", "", END_PARTIAL),
	DC("\x01\x06\x00\x01\x00", 0, 0, "", "", END_PARTIAL),
	DC(HD("\x06", "\x01", "\x00\x03", "\x00") "ab", 0, 0, "", "",
	    END_PARTIAL),
	/* Content length 1000, ten bytes fed. */
	DC(HD("\x06", "\x01", "\x03\xe8", "\x00") "0123456789", 0, 0, "", "",
	    END_PARTIAL),
	/* Content length 65535, 65000 fed. */
	DC(HD("\x06", "\x01", "\xff\xff", "\x00"), 65000, 'c', "", "",
	    END_PARTIAL),
	/* Padding: any 0-255, any bytes, not a multiple of 8. */
	DC(HD("\x06", "\x01", "\x00\x01", "\xff") "x", 255, 0,
	    HD("\x06", "\x01", "\x00\x00", "\x00"), "6/1:x\n6/1:\n", END_IDLE),
	DC(HD("\x06", "\x01", "\x00\x01", "\xff") "x", 255, '\x01',
	    HD("\x06", "\x02", "\x00\x01", "\x00") "y", "6/1:x\n6/2:y\n",
	    END_IDLE),
	DC(HD("\x05", "\x01", "\x00\x00", "\xff"), 255, '\xff', "", "5/1:\n",
	    END_IDLE),
	DC(HD("\x06", "\x01", "\x00\x03", "\x00") "abc" HD("\x06", "\x01",
	       "\x00\x02", "\x01") "de"
				   "\x00",
	    0, 0, "", "6/1:abc\n6/1:de\n", END_IDLE),
	/* Padding still to come: the record is out, the decoder is not idle. */
	DC(HD("\x06", "\x01", "\x00\x01", "\xff") "x", 100, 0, "", "6/1:x\n",
	    END_PARTIAL),
	/* Garbage after records. */
	DC(HD("\x06", "\x01", "\x00\x01", "\x07") "x", 7, 0, "GARBAGE!",
	    "6/1:x\n", END_ERROR),
	DC(HD("\x06", "\x01", "\x00\x00", "\x00") "\x01"
						  "xyz",
	    0, 0, "", "6/1:\n", END_PARTIAL),
	DC(HD("\x03", "\x01", "\x00\x08", "\x00"), 8, 0, "\r\n",
	    "3/1:\\x00\\x00"
	    "\\x00\\x00\\x00\\x00\\x00\\x00\n",
	    END_ERROR),
	/* Types the spec does not define go to the caller; any id. */
	DC(HD("\x00", "\x01", "\x00\x01", "\x07") "t", 7, 0,
	    "\x01\xc8\xff\xff\x00\x00\x00\x00", "0/1:t\n200/65535:\n",
	    END_IDLE),
	/* Reserved byte ignored. */
	DC("\x01\x06\x00\x01\x00\x01\x00\xee"
	   "z",
	    0, 0, "", "6/1:z\n", END_IDLE),
#undef DC
};

static void
test_dec_hostile(void)
{
	const struct dcrow *row;
	struct buf in = BUF_INIT;
	struct recs rs;
	size_t i, k;
	char *r;

	for (i = 0; i < NELEM(dc_rows); i++) {
		row = &dc_rows[i];
		buf_clear(&in);
		buf_append(&in, row->in, row->len);
		for (k = 0; k < row->fill; k++)
			buf_appendc(&in, row->fillc);
		buf_append(&in, row->tail, row->tlen);
		decode_all(row->line, in.b_data, in.b_len,
		    show(in.b_data, in.b_len), &rs);
		r = render(&rs);
		if (!ok_at(row->line,
			!strcmp(r, row->want) && rs.end == row->end,
			"  records and end state %d", row->end))
			tap_diag("got \"%s\", end %d", show(r, strlen(r)),
			    rs.end);
		if (row->end == END_ERROR)
			ok_at(row->line,
			    rs.err != NULL && rs.err_no == EBADMSG &&
				strstr(rs.err, "version") != NULL,
			    "  error EBADMSG, reason \"%s\"",
			    rs.err ? rs.err : "(none)");
		else
			ok_at(row->line, rs.err == NULL, "  no error");
		free(r);
		recs_free(&rs);
	}
	buf_free(&in);
}

static void
test_dec_misc(void)
{
	static const char rec1[] = HD("\x06", "\x01", "\x00\x05",
	    "\x03") "hello\x00\x00\x00";
	struct fcgi_dec d;
	struct fcgi_rec fr;
	size_t used;
	char *p, *q;
	int rv;

	fcgi_dec_init(&d);
	ok(fcgi_dec_idle(&d) && fcgi_dec_error(&d) == NULL,
	    "a new decoder is idle, without error");
	rv = fcgi_dec_feed(&d, NULL, 0, &used, &fr);
	ok(rv == 0 && used == 0 && fcgi_dec_idle(&d), "feeding nothing: 0");

	/* Content in one piece is not copied. */
	p = exact(rec1, sizeof(rec1) - 1);
	rv = fcgi_dec_feed(&d, p, sizeof(rec1) - 1, &used, &fr);
	ok(rv == 1 && used == 13 && fr.fr_content == p + 8 && fr.fr_len == 5,
	    "whole content: the record points into the input");
	ok(!fcgi_dec_idle(&d), "  not idle before the padding");
	rv = fcgi_dec_feed(&d, p + used, sizeof(rec1) - 1 - used, &used, &fr);
	ok(rv == 0 && used == 3 && fcgi_dec_idle(&d),
	    "  padding skipped: idle");
	free(p);

	p = exact(HD("\x07", "\x02", "\x00\x08", "\x00") "12345678", 16);
	rv = fcgi_dec_feed(&d, p, 16, &used, &fr);
	ok(rv == 1 && used == 16 && fr.fr_content == p + 8 && fr.fr_len == 8 &&
		fcgi_dec_idle(&d),
	    "  also when the content ends the input");
	free(p);

	/* Content cut across feeds is gathered in the decoder. */
	p = exact(rec1, 10);
	q = exact(rec1 + 10, 6);
	rv = fcgi_dec_feed(&d, p, 10, &used, &fr);
	ok(rv == 0 && used == 10, "cut content: need more");
	rv = fcgi_dec_feed(&d, q, 6, &used, &fr);
	ok(rv == 1 && used == 3 && fr.fr_len == 5 &&
		!memcmp(fr.fr_content, "hello", 5) &&
		(fr.fr_content < q || fr.fr_content >= q + 6),
	    "  completed from the decoder's own copy");
	free(p);
	free(q);
	fcgi_dec_free(&d);
	ok(fcgi_dec_idle(&d), "fcgi_dec_free leaves a fresh decoder");

	/* Errors are sticky. */
	rv = fcgi_dec_feed(&d, "\x02", 1, &used, &fr);
	ok(rv == -1 && errno == EBADMSG && fcgi_dec_error(&d) != NULL,
	    "bad version: -1/EBADMSG with a reason");
	errno = 0;
	rv = fcgi_dec_feed(&d, rec1, sizeof(rec1) - 1, &used, &fr);
	ok(rv == -1 && used == 0 && errno == EBADMSG && !fcgi_dec_idle(&d),
	    "  then every feed fails, consuming nothing");
	fcgi_dec_free(&d);
	rv = fcgi_dec_feed(&d, rec1, sizeof(rec1) - 1, &used, &fr);
	ok(rv == 1 && fr.fr_len == 5, "  fcgi_dec_free makes it usable again");
	fcgi_dec_free(&d);
}

/*
 * Two requests multiplexed on one connection: the records of each,
 * encoded separately, are interleaved in a pseudo-random order (each
 * request's own order kept) and must come apart into the right streams.
 */

/* Offsets of the records in b (which the encoders made). */
static size_t
split_records(const struct buf *b, size_t *offs, size_t max)
{
	const unsigned char *p = (const unsigned char *)b->b_data;
	size_t off = 0, n = 0;

	while (off < b->b_len && n < max) {
		offs[n++] = off;
		off += 8 + ((size_t)p[off + 4] << 8 | p[off + 5]) + p[off + 6];
	}
	return n;
}

static void
encode_request(struct buf *b, unsigned int id, int role, const char *in,
    size_t inlen, const char *pv)
{
	struct fcgi_nv nv[2] = {
		{ "SCRIPT_NAME", 11, pv, strlen(pv) },
		{ "QUERY_STRING", 12, in, 300 },
	};

	fcgi_encode_begin(b, id, role, FCGI_KEEP_CONN);
	fcgi_encode_params(b, id, nv, 2);
	fcgi_encode_stream(b, FCGI_STDIN, id, in, inlen);
	fcgi_encode_stream_end(b, FCGI_STDIN, id);
	fcgi_encode_stream(b, FCGI_DATA, id, in + 1, inlen - 1);
	fcgi_encode_stream_end(b, FCGI_DATA, id);
}

static void
check_request(const struct recs *rs, unsigned int id, int role, const char *in,
    size_t inlen, const char *pv)
{
	struct buf s = BUF_INIT;
	struct fcgi_nv nv;
	size_t i, off = 0, nbegin = 0;
	int ends, r = -1, f = -1;

	for (i = 0; i < rs->n; i++)
		if (rs->r[i].id == id && rs->r[i].type == FCGI_BEGIN_REQUEST &&
		    nbegin++ == 0)
			fcgi_parse_begin(rs->r[i].data, rs->r[i].len, &r, &f);
	ok(nbegin == 1 && r == role && f == FCGI_KEEP_CONN,
	    "id %u: one BEGIN_REQUEST, role %d, keep-conn", id, role);
	ok(gather(rs, FCGI_PARAMS, id, &s, &ends) == 0 && ends == 1 &&
		fcgi_next_nv(s.b_data, s.b_len, &off, &nv) == 1 &&
		nv.nv_valuelen == strlen(pv) &&
		!memcmp(nv.nv_value, pv, nv.nv_valuelen) &&
		fcgi_next_nv(s.b_data, s.b_len, &off, &nv) == 1 &&
		nv.nv_valuelen == 300 && !memcmp(nv.nv_value, in, 300) &&
		off == s.b_len,
	    "id %u: its own PARAMS", id);
	buf_clear(&s);
	ok(gather(rs, FCGI_STDIN, id, &s, &ends) == 0 && ends == 1 &&
		s.b_len == inlen && !memcmp(s.b_data, in, inlen),
	    "id %u: its own STDIN, %zu bytes", id, inlen);
	buf_clear(&s);
	ok(gather(rs, FCGI_DATA, id, &s, &ends) == 0 && ends == 1 &&
		s.b_len == inlen - 1 && !memcmp(s.b_data, in + 1, inlen - 1),
	    "id %u: its own DATA", id);
	buf_free(&s);
}

static void
test_interleave(void)
{
	enum { MAXREC = 64 };
	struct buf a = BUF_INIT, b = BUF_INIT, mix = BUF_INIT;
	size_t oa[MAXREC], ob[MAXREC], na, nb, ia = 0, ib = 0, end, i;
	struct recs rs;
	char *ina, *inb;
	int pick;

	ina = pattern(150000, 5);
	inb = pattern(70001, 6);
	encode_request(&a, 1, FCGI_RESPONDER, ina, 150000, "/a");
	encode_request(&b, 2, FCGI_FILTER, inb, 70001, "/bee");
	fcgi_encode_end(&b, 2, 0, FCGI_REQUEST_COMPLETE);
	na = split_records(&a, oa, MAXREC);
	nb = split_records(&b, ob, MAXREC);
	rng_seed(12345);
	while (ia < na || ib < nb) {
		pick = ia < na && (ib == nb || rng() % 2);
		if (pick) {
			end = ia + 1 < na ? oa[ia + 1] : a.b_len;
			buf_append(&mix, a.b_data + oa[ia], end - oa[ia]);
			ia++;
		} else {
			end = ib + 1 < nb ? ob[ib + 1] : b.b_len;
			buf_append(&mix, b.b_data + ob[ib], end - ob[ib]);
			ib++;
		}
	}
	ok(mix.b_len == a.b_len + b.b_len && na + nb > 12,
	    "%zu + %zu records interleaved", na, nb);
	decode_all(__LINE__, mix.b_data, mix.b_len, "two requests interleaved",
	    &rs);
	ok(rs.n == na + nb && rs.end == END_IDLE, "  all %zu records, idle",
	    na + nb);
	check_request(&rs, 1, FCGI_RESPONDER, ina, 150000, "/a");
	check_request(&rs, 2, FCGI_FILTER, inb, 70001, "/bee");
	for (i = rs.n; i > 0 && rs.r[i - 1].id != 2; i--)
		;
	ok(i > 0 && rs.r[i - 1].type == FCGI_END_REQUEST,
	    "id 2: its END_REQUEST is its last record");
	recs_free(&rs);
	free(ina);
	free(inb);
	buf_free(&a);
	buf_free(&b);
	buf_free(&mix);
}

int
main(void)
{
	test_constants();
	test_fixed();
	test_body_lengths();
	test_bad_args();
	test_bad_sizes();
	test_streams();
	test_nv();
	test_nv_hostile();
	test_params();
	test_get_values();
	test_dec_hostile();
	test_dec_misc();
	test_interleave();
	return tap_done();
}
