#!/bin/bash
# supervise.sh DELAY COMMAND [ARGS...]: what systemd does for a service
# whose socket it holds, for the tests: run COMMAND, and again each
# time it exits (after DELAY seconds), handing on the sockets of socket
# activation it was given (LISTEN_FDS, LISTEN_FDNAMES, descriptors from
# 3) with LISTEN_PID set to the new process.  The sockets stay open
# here all along, so connections that arrive between two runs wait in
# their queue.  Started under systemd-socket-activate, it is the test's
# stand-in for systemd; it ends when it is killed.
delay=$1
shift
while :; do
	# A subshell that execs keeps its pid: $BASHPID is the command's.
	(LISTEN_PID=$BASHPID; export LISTEN_PID; exec "$@")
	sleep "$delay"
done
