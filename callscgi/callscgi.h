/*
 * callscgi.h: the parts of callscgi and how they meet.
 *
 *   main.c     options, the run loop (lib/handler)
 *   sreq.c     the requests: body, connection, response
 *
 * The backends, the four modes and the application processes are
 * lib/backend's, shared with callfcgi.
 */
#ifndef CALLSCGI_H
#define CALLSCGI_H

#include "backend.h"

struct loop;
struct req;

extern struct loop *loop;
extern int streambody; /* -s */

/* sreq.c */
void sreq_start(struct req *r, int sock, void *arg); /* takes both */

#endif
