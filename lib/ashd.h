/*
 * ashd.h: everything of libashd at once (libashd(3)).  A handler
 * usually needs only
 *
 *	#include <ashd/handler.h>	the run loop
 *	#include <ashd/req.h>		the request datagram, header lookup
 *	#include <ashd/http.h>		responses: http_reply(), http_error()
 *	#include <ashd/log.h>		"program: what: why" on stderr/syslog
 *
 * and links with `pkg-config --cflags --libs ashd`.
 */
#ifndef ASHD_ASHD_H
#define ASHD_ASHD_H

#include "buf.h"
#include "cf.h"
#include "cgi.h"
#include "child.h"
#include "chunk.h"
#include "fcgi.h"
#include "fdpass.h"
#include "handler.h"
#include "http.h"
#include "log.h"
#include "loop.h"
#include "req.h"
#include "url.h"

#endif
