/*
 * fdpass.h: one datagram with exactly one file descriptor, over a Unix
 * socket, using SCM_RIGHTS.
 *
 * fd_recv() rejects truncated data (MSG_TRUNC) or control data
 * (MSG_CTRUNC) and any count of fds other than one, closing whatever
 * fds did arrive, so that a malformed message never leaks a
 * descriptor.  Received fds are close-on-exec.  Both retry on EINTR.
 */
#ifndef ASHD_FDPASS_H
#define ASHD_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

/* Send len bytes (len >= 1: a zero-length datagram reads as end-of-file)
 * with `fd` attached; fd < 0 sends no descriptor.  Returns bytes sent. */
ssize_t fd_send(int sock, const void *data, size_t len, int fd);
/*
 * Receive into buf (cap bytes).  Returns the length (0 at end-of-file,
 * *fdp = -1) or -1 with errno: EMSGSIZE if the datagram did not fit,
 * EBADMSG if control data was truncated or did not hold exactly one fd
 * (only when fdp is given; with fdp NULL any fds are closed).
 */
ssize_t fd_recv(int sock, void *buf, size_t cap, int *fdp);
/*
 * On a stream socket: receive up to cap bytes and the descriptor that
 * may have come with them (*fdp, -1 if none; any further ones are
 * closed).  rflags go to recvmsg(2): MSG_DONTWAIT reads a blocking
 * socket without blocking.  Returns the bytes (0 at end-of-file) or -1
 * with errno.
 */
ssize_t fd_recv_stream(int sock, void *buf, size_t cap, int *fdp, int rflags);
/* Length of the next datagram on a SOCK_SEQPACKET/SOCK_DGRAM socket
 * without consuming it (0 at end-of-file). */
ssize_t fd_peek_len(int sock);

#endif
