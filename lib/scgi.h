/*
 * scgi.h: the request head of SCGI 1.0 (the protocol of Neil
 * Schemenauer's scgi package, protocol.txt).
 *
 * A request is a netstring "LEN:" + headers + "," where the headers
 * are NUL-terminated name and value strings: CONTENT_LENGTH first
 * (always, "0" without a body), then SCGI with the value "1", then the
 * CGI/1.1 variables; exactly CONTENT_LENGTH bytes of body follow.  The
 * application answers with a CGI response (lib/cgi parses its head)
 * and closes the connection: one request per connection.
 */
#ifndef ASHD_SCGI_H
#define ASHD_SCGI_H

struct buf;
struct cgienv;

/*
 * Append the netstring for env to b, with CONTENT_LENGTH set to
 * content_length (whatever env says) and SCGI to 1 (env's own
 * CONTENT_LENGTH and SCGI are left out).  0, or -1 with errno ENOMEM
 * (or EMSGSIZE past b's limit).
 */
int scgi_encode_head(struct buf *b, const struct cgienv *env,
    long long content_length);

#endif
