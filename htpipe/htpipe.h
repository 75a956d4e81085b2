/*
 * htpipe.h: what htpipe's client (main.c) and server (server.c) share.
 */
#ifndef HTPIPE_H
#define HTPIPE_H

#include <sys/socket.h>
#include <sys/un.h>

/* Fill *sun with path; -1 (ENAMETOOLONG) if it does not fit. */
int pipe_addr(struct sockaddr_un *sun, const char *path);
/* A SOCK_SEQPACKET socket (close-on-exec) connected to the server at
 * path, or -1 with errno (ENOENT, ECONNREFUSED: no server there). */
int pipe_connect(const char *path);

/* Server mode: listen at path, start the child argv, pass on every
 * request from every connection.  Returns main()'s exit status. */
int server_run(const char *path, char **argv);

#endif
