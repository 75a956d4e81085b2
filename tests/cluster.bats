#!/usr/bin/env bats
# cluster.bats: examples/cluster/run, haproxy balancing two htparser
# instances with the PROXY protocol v2 and health checks: both serve, a
# CGI sees the real client, and requests keep working while one
# instance is stopped.

load helper

setup() {
	common_setup
	# hitch and haproxy are in sbin.
	PATH=$PATH:/usr/sbin:/sbin
	command -v haproxy >/dev/null 2>&1 || skip "haproxy is not installed"
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	export CLUSTER_RUNDIR=$TEST_TMP/run
	# The programs of this build, not others that PATH may hold.
	use_build_path
}

# start_cluster: examples/cluster/run on three free ports; PORT is
# haproxy's.
start_cluster() {
	local try
	for try in 1 2 3; do
		PORT=$(free_port)
		start_bg "$TEST_TMP/run.log" "$ASHD_SRCDIR/examples/cluster/run" \
		    "$PORT" "$(free_port)" "$(free_port)"
		if wait_port "$PORT" 10 "$BG_PID"; then
			export PORT
			return 0
		fi
		kill_bg
		rm -rf "$CLUSTER_RUNDIR"
	done
	fail "examples/cluster/run did not start: $(cat "$TEST_TMP/run.log")"
}

# wait_both_up: until haproxy has seen both instances healthy (the
# answers alternate a, b).
wait_both_up() {
	local i seen
	for ((i = 0; i < 50; i++)); do
		seen=$(for j in 1 2 3 4; do
			curl -sS -m 5 "http://127.0.0.1:$PORT/node.txt"
		done | sort -u | tr '\n' ' ')
		[ "$seen" = 'a b ' ] && return 0
		sleep 0.2
	done
	fail "not both instances answer: $seen"
}

@test "examples/cluster/run: haproxy spreads requests over both instances, the page is served" {
	start_cluster
	wait_both_up
	run curl -sS -m 5 "http://127.0.0.1:$PORT/"
	assert_contains "$output" '<h1>ashd cluster example</h1>'
}

@test "examples/cluster/run: through haproxy and the PROXY header, a CGI sees the real client" {
	start_cluster
	wait_both_up
	run curl -sS -m 5 -w '%{local_port}' "http://127.0.0.1:$PORT/whoami.cgi"
	assert_match "$output" '^client 127\.0\.0\.1 port ([0-9]+)'$'\n''([0-9]+)$'
	[ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] ||
	    fail "the CGI saw port ${BASH_REMATCH[1]}, curl used ${BASH_REMATCH[2]}"
}

@test "examples/cluster/run: with one instance stopped, every request still works" {
	local a i codes
	start_cluster
	wait_both_up
	a=$(head -n 1 "$CLUSTER_RUNDIR/a.pid")
	kill -TERM "$a"
	for i in $(seq 100); do proc_alive "$a" || break; sleep 0.02; done
	proc_alive "$a" && fail "instance a did not stop"
	# Right away (before the checks notice) and for a while after.
	codes=$(for i in $(seq 30); do
		curl -sS -m 5 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PORT/node.txt"
		sleep 0.05
	done | sort | uniq -c | tr -s ' ' | tr '\n' ' ')
	assert_equal "$codes" ' 30 200 '
	for i in 1 2 3; do
		run curl -sS -m 5 "http://127.0.0.1:$PORT/node.txt"
		assert_equal "$output" b
	done
	# haproxy took it out of the rotation.
	grep -q 'Server ashd/a is DOWN' "$CLUSTER_RUNDIR/haproxy.log"
}

@test "examples/cluster/run: the instances' ports take only PROXY connections" {
	start_cluster
	wait_both_up
	run curl -sS -m 5 "http://127.0.0.1:$(sed -n 's/^	server a 127.0.0.1://p' "$CLUSTER_RUNDIR/haproxy.cfg")/node.txt"
	assert_status 52
}
