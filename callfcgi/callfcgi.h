/*
 * callfcgi.h: the parts of callfcgi and how they meet.
 *
 *   main.c     options, set-up; requests come through lib/handler's
 *              loop (freq_start(), one hold each)
 *   conn.c     FastCGI connections (fconn.h: their meeting with requests)
 *   request.c  the requests running on them
 *
 * The backends, the four modes and the application processes are
 * lib/backend's, shared by the gateway handlers.
 */
#ifndef CALLFCGI_H
#define CALLFCGI_H

#include "backend.h"
#include "buf.h"
#include "fcgi.h"
#include "loop.h"

struct fconn;
struct freq;
struct req;

extern struct loop *loop;
extern int streambody; /* -s */

/* request.c */
void freq_start(struct req *r, int sock); /* takes both over */
void freq_retry_waiting(void);		  /* a backend may be up again */

#endif
