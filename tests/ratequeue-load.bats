#!/usr/bin/env bats
# run-tests: alone
# ratequeue-load.bats: ratequeue's timing and memory, which need the
# machine to themselves: the exact pace of a queue, when buckets are
# forgotten and what is logged about blocked clients (a minute), and
# memory under floods of distinct client addresses.
#
# Requests come from tests/dgram-front.py, which speaks the request
# datagram protocol to ratequeue directly and can give every request
# another X-Ash-Address ("spray"): hundreds of thousands of clients
# without a connection each.  Behind ratequeue is dirplex on an empty
# directory (a quick persistent handler: 404 for everything) or a
# python3 handler answering 200.  The figures measured (RSS, the pace)
# are printed.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME" "$TEST_TMP/empty"
	use_build_path
	RATEQUEUE=$(ashd_prog ratequeue)
	DIRPLEX=$(ashd_prog dirplex)
	FRONT=$ASHD_SRCDIR/tests/dgram-front.py
	[ -x "$RATEQUEUE" ] || fail "$RATEQUEUE is missing: make -C $ASHD_BUILDDIR"
	# Under AddressSanitizer freed memory waits in a quarantine before
	# it is used again, which grows the RSS with every bucket that is
	# forgotten; without one, growth measures ratequeue again (the
	# absolute bounds still do not hold: ASan's shadow memory).
	SANITIZED=no
	if [ "${ASHD_SANITIZERS:-no}" = yes ]; then
		SANITIZED=yes
		export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
	fi
}

teardown() {
	common_teardown
}

# rss_kb N: the RSS of the Nth "rss" line of $output.
rss_kb() {
	awk '$1 == "rss" { if (++n == '"$1"') print $2 }' <<<"$output"
}

# fds_of N: the descriptors of the Nth "rss" line.
fds_of() {
	awk '$1 == "rss" { if (++n == '"$1"') print $4 }' <<<"$output"
}

@test "ratequeue: waiting requests leave at RATE a second, evenly (41 at 20 a second)" {
	run python3 "$FRONT" warm send 10.0.0.1 41 collect 10000 -- \
	    "$RATEQUEUE" -s 0.5 -r 20 -b 50 python3 "$FRONT" --sink
	assert_status 0
	# The first passes; the level (1) is below 0.5 after 25 ms, then
	# each passes 50 ms after the one before: the 41st at 1975 ms.
	last=$(awk '$1 == 41 { print $4 }' <<<"$output")
	echo "# the 41st left after $last ms (1975 expected)" >&3
	[ "$last" -ge 1850 ] && [ "$last" -le 2300 ] ||
	    fail "the 41st after $last ms; output:"$'\n'"$output"
	# None left before its turn: the Kth at 25 + (K - 2) * 50 ms (5 ms
	# of rounding allowed; a loaded machine only makes them later).
	awk '$1 ~ /^[0-9]+$/ && $1 >= 2 && $4 < 25 + ($1 - 2) * 50 - 5 {
		bad = bad " " $1 "@" $4 }
	    END { if (bad) { print "too early:" bad; exit 1 } }' <<<"$output"
	assert_equal "$(awk '$3 == 200' <<<"$output" | wc -l)" 41
}

@test "ratequeue: a bucket is forgotten about 10 s after it emptied; the blocked requests are counted in the log then" {
	python3 "$FRONT" warm send 10.0.0.1 5 collect 1000 say start \
	    wait 9000 say at-9s wait 3000 say at-12s -- \
	    "$RATEQUEUE" -s 1.5 -r 10 -b 0 python3 "$FRONT" --sink \
	    >"$TEST_TMP/out" 2>&1
	output=$(cat "$TEST_TMP/out")
	assert_equal "$(awk '$1 ~ /^[0-9]+$/ { print $3 }' <<<"$output" | tr '\n' ' ')" \
	    "200 200 429 429 429 "
	# "blocking" once at the first 429; the count when it is forgotten,
	# 10.2 s after the last request (the level 2 drains in 0.2 s).
	assert_equal "$(grep -c 'blocking requests from 10.0.0.1' <<<"$output")" 1
	assert_equal "$(sed -n '/^at-9s$/,/^at-12s$/p' <<<"$output" |
	    grep -c 'blocked 3 requests from 10.0.0.1')" 1
	assert_equal "$(grep -c 'blocked 3 requests' <<<"$output")" 1
}

@test "ratequeue: a client blocked for over a minute: one 'blocking' line, then a count after a minute" {
	python3 "$FRONT" warm send 10.0.0.1 2 every 1000 send 10.0.0.1 63 \
	    collect 2000 -- "$RATEQUEUE" -s 1.5 -r 0.001 -b 0 \
	    python3 "$FRONT" --sink >"$TEST_TMP/out" 2>&1
	output=$(cat "$TEST_TMP/out")
	assert_equal "$(awk '$3 == 429' <<<"$output" | wc -l)" 63
	assert_equal "$(grep -c 'blocking requests from 10.0.0.1' <<<"$output")" 1
	# The first 429 starts the minute; the one 60 s later is counted
	# with the 60 before it and logs the count.
	assert_equal "$(grep -c 'blocked [0-9]* requests from 10.0.0.1' <<<"$output")" 1
	assert_match "$output" "blocked 6[01] requests from 10.0.0.1"
}

@test "ratequeue: memory stays bounded under 140,000 client addresses (default limit of 65,536 buckets)" {
	run python3 "$FRONT" warm rss spray 70000 rss spray 70000 2001:db8:1:: rss -- \
	    "$RATEQUEUE" "$DIRPLEX" -N "$TEST_TMP/empty"
	assert_status 0
	start=$(rss_kb 1) full=$(rss_kb 2) more=$(rss_kb 3)
	echo "# RSS: $start KB at start, $full KB after 70,000 clients, $more KB after 140,000" >&3
	echo "# $(grep sprayed <<<"$output" | tr '\n' ' ')" >&3
	[ "$more" -le $((full + 2048)) ] ||
	    fail "RSS grew from $full KB to $more KB past the limit"
	[ "$SANITIZED" = yes ] || [ "$more" -le 32768 ] || fail "RSS $more KB"
	[ "$(fds_of 3)" -le 32 ] || fail "$(fds_of 3) descriptors open"
	# The child kept pace (ratequeue stops reading while it lags):
	# nothing was refused for want of room.
	assert_not_contains "$output" "not available"
	assert_not_contains "$output" "Resource temporarily unavailable"
}

@test "ratequeue: with 'buckets 2000', 30,000 client addresses add no memory after the first 2,000" {
	put "$TEST_TMP/rq.conf" "buckets 2000"
	run python3 "$FRONT" warm spray 4000 rss spray 26000 2001:db8:2:: rss -- \
	    "$RATEQUEUE" -c "$TEST_TMP/rq.conf" "$DIRPLEX" -N "$TEST_TMP/empty"
	assert_status 0
	a=$(rss_kb 1) b=$(rss_kb 2)
	echo "# RSS: $a KB after 4,000 clients, $b KB after 30,000" >&3
	[ "$b" -le $((a + 512)) ] || fail "RSS grew from $a KB to $b KB"
}
