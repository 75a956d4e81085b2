/*
 * chunk.c: incremental de-chunking of request bodies (RFC 9112 7.1).
 *
 * State table (cd_state):
 *   SIZE     hex digits of chunk-size      -> ';' EXT, CR SIZE_LF,
 *                                             SP/HTAB BWS
 *   BWS      blanks before an extension    -> ';' EXT
 *   EXT      chunk extensions, skipped     -> CR SIZE_LF
 *   SIZE_LF  LF after the size line        -> DATA (size > 0) or TRL
 *   DATA     chunk data, cd_left to go     -> DATA_CR when cd_left == 0
 *   DATA_CR  CR after data                 -> DATA_LF
 *   DATA_LF  LF after data                 -> SIZE
 *   TRL      start of a trailer line       -> CR END_LF, else TRL_NAME
 *   TRL_NAME a trailer field's name        -> ':' TRL_LINE
 *   TRL_LINE a trailer field's value, discarded -> CR TRL_LF
 *   TRL_LF   LF ending a trailer field     -> TRL
 *   END_LF   LF of the final empty line    -> DONE
 * Line ends must be CRLF: a bare LF or CR is an error, as is a size
 * with no digits or more than 15 of them, or an over-long line.
 */
#include <string.h>

#include "ashlimits.h"
#include "chunk.h"
#include "url.h"

enum {
	CD_SIZE,
	CD_BWS,
	CD_EXT,
	CD_SIZE_LF,
	CD_DATA,
	CD_DATA_CR,
	CD_DATA_LF,
	CD_TRL,
	CD_TRL_NAME,
	CD_TRL_LINE,
	CD_TRL_LF,
	CD_END_LF,
	CD_DONE
};

/* RFC 9110 5.6.2 tchar, for trailer field names. */
static int
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

void
chunk_init(struct chunkdec *d)
{
	memset(d, 0, sizeof(*d));
	d->cd_state = CD_SIZE;
}

int
chunk_done(const struct chunkdec *d)
{
	return d->cd_state == CD_DONE;
}

/* Bytes allowed in chunk extensions and trailer fields. */
static int
textbyte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* One byte of a size line or of the CRLF after data. */
static int
step_size(struct chunkdec *d, unsigned char c)
{
	int h;

	switch (d->cd_state) {
	case CD_SIZE:
		if ((h = url_hexval(c)) >= 0) {
			if (++d->cd_digits > 15)
				return -400;
			d->cd_left = d->cd_left * 16 + (unsigned)h;
		} else if (d->cd_digits == 0)
			return -400;
		else if (c == ';')
			d->cd_state = CD_EXT;
		else if (c == '\r')
			d->cd_state = CD_SIZE_LF;
		else if (c == ' ' || c == '\t')
			d->cd_state = CD_BWS;
		else
			return -400;
		break;
	case CD_BWS:
		if (c == ';')
			d->cd_state = CD_EXT;
		else if (c != ' ' && c != '\t')
			return -400;
		break;
	case CD_EXT:
		if (c == '\r')
			d->cd_state = CD_SIZE_LF;
		else if (!textbyte(c))
			return -400;
		break;
	case CD_SIZE_LF:
		if (c != '\n')
			return -400;
		d->cd_linelen = 0;
		d->cd_digits = 0;
		d->cd_state = d->cd_left ? CD_DATA : CD_TRL;
		break;
	case CD_DATA_CR:
		if (c != '\r')
			return -400;
		d->cd_state = CD_DATA_LF;
		break;
	case CD_DATA_LF:
		if (c != '\n')
			return -400;
		d->cd_linelen = 0;
		d->cd_state = CD_SIZE;
		break;
	}
	return 0;
}

/* One byte of the trailer section. */
static int
step_trailer(struct chunkdec *d, unsigned char c)
{
	switch (d->cd_state) {
	case CD_TRL:
		if (c == '\r') {
			d->cd_state = CD_END_LF;
			break;
		}
		if (!tchar(c))
			return -400; /* obs-fold, or not a field */
		d->cd_state = CD_TRL_NAME;
		break;
	case CD_TRL_NAME:
		if (++d->cd_trailer > ASH_HEAD_MAX)
			return -431;
		if (c == ':')
			d->cd_state = CD_TRL_LINE;
		else if (!tchar(c))
			return -400; /* includes blanks before ':' */
		break;
	case CD_TRL_LINE:
		if (++d->cd_trailer > ASH_HEAD_MAX)
			return -431;
		if (c == '\r')
			d->cd_state = CD_TRL_LF;
		else if (!textbyte(c))
			return -400;
		break;
	case CD_TRL_LF:
	case CD_END_LF:
		if (c != '\n')
			return -400;
		d->cd_linelen = 0;
		d->cd_state = d->cd_state == CD_END_LF ? CD_DONE : CD_TRL;
		break;
	}
	return 0;
}

ssize_t
chunk_feed(struct chunkdec *d, const char *in, size_t len, const char **datap,
    size_t *datalen)
{
	size_t i, n;
	unsigned char c;
	int rv;

	*datap = NULL;
	*datalen = 0;
	for (i = 0; i < len && d->cd_state != CD_DONE; i++) {
		c = (unsigned char)in[i];
		if (d->cd_state == CD_DATA) {
			n = len - i;
			if (n > d->cd_left)
				n = (size_t)d->cd_left;
			*datap = in + i;
			*datalen = n;
			d->cd_left -= n;
			if (d->cd_left == 0)
				d->cd_state = CD_DATA_CR;
			return (ssize_t)(i + n);
		}
		if (++d->cd_linelen > ASH_CHUNKLINE_MAX && d->cd_state < CD_TRL)
			return -400;
		rv = d->cd_state < CD_TRL ? step_size(d, c)
					  : step_trailer(d, c);
		if (rv < 0)
			return rv;
	}
	return (ssize_t)i;
}
