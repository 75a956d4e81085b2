#!/usr/bin/env bats
# htextauth.bats: Basic authentication by an external command, with
# htextauth as htparser's root handler in front of a dirplex whose CGI
# script (run by callcgi) shows REMOTE_USER, AUTH_TYPE and whether the
# Authorization header reached it.
#
# The authentication command is a shell script: it logs each call (its
# arguments, and the two lines it read) to $CALLS, keeps a copy of its
# command line and environment, and accepts the user:password lines of
# $USERS.  Some user names make it misbehave: "crash" (killed by a
# signal), "slow" (answers after 2 s).

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	HTEXTAUTH=$(ashd_prog htextauth)
	SERVER_LOG=$TEST_TMP/server.log
	SITE=$TEST_TMP/site
	CALLS=$TEST_TMP/calls
	USERS=$TEST_TMP/users
	AUTH=$TEST_TMP/auth.sh
	mkdir -p "$SITE"
	make_site
}

teardown() {
	common_teardown
}

make_site() {
	put "$SITE/who.cgi" '#!/bin/sh' \
	    "printf 'Content-Type: text/plain\\n\\n'" \
	    'printf "user=[%s]\\n" "$REMOTE_USER"' \
	    'printf "type=[%s]\\n" "$AUTH_TYPE"' \
	    'printf "authorization=[%s]\\n" "${HTTP_AUTHORIZATION-unset}"'
	chmod +x "$SITE/who.cgi"
	put "$TEST_TMP/site.rc" "child callcgi" "	exec callcgi" \
	    "match" "	default" "	handler callcgi"
	printf '%s\n' 'alice:secret' 'colon:pa:ss:w' 'jürgen:pässwörd' \
	    'slow:slow' >"$USERS"
	cat >"$AUTH" <<EOF
#!/bin/bash
IFS= read -r user
IFS= read -r pass
extra=\$(cat)
printf 'call args=[%s] user=[%s] pass=[%s] extra=[%s]\n' "\$*" "\$user" "\$pass" "\$extra" >>"$CALLS"
tr '\0' ' ' </proc/\$\$/cmdline >"$TEST_TMP/auth.cmdline"
tr '\0' '\n' </proc/\$\$/environ >"$TEST_TMP/auth.environ"
case \$user in
crash) kill -KILL \$\$ ;;
slow) sleep 2 ;;
esac
if grep -qxF -- "\$user:\$pass" "$USERS"; then
	exit 0
fi
echo "No <such> user or wrong password for \$user."
exit 1
EOF
	chmod +x "$AUTH"
}

# start_auth [OPTIONS...]: htparser -> htextauth OPTIONS auth.sh --
# dirplex.  Sets AUTH_PID (htextauth's pid).
start_auth() {
	start_root "$HTEXTAUTH" "$@" "$AUTH" -x -- dirplex -N \
	    -c "$TEST_TMP/site.rc" "$SITE"
	AUTH_PID=$(children_of "$HTPARSER_PID" | head -n 1)
}

# calls: how many times the command ran.
calls() {
	if [ -f "$CALLS" ]; then wc -l <"$CALLS"; else echo 0; fi
}

# b64 STRING: its base64 (no newline), for an Authorization header.
b64() {
	printf '%s' "$1" | base64 -w0
}

@test "htextauth: -h prints usage; missing -- or child is a usage error" {
	run "$HTEXTAUTH" -h
	assert_status 0
	assert_contains "$output" "usage: htextauth"
	run "$HTEXTAUTH" "$AUTH"
	assert_status 2
	run "$HTEXTAUTH" "$AUTH" --
	assert_status 2
	run "$HTEXTAUTH" -- dirplex .
	assert_status 2
	run "$HTEXTAUTH" -q "$AUTH" -- dirplex .
	assert_status 2
}

@test "htextauth: no credentials: 401 with the challenge (realm auth)" {
	start_auth
	expect /who.cgi 401
	assert_equal "$(field WWW-Authenticate)" 'Basic realm="auth", charset="UTF-8"'
	assert_equal "$(calls)" 0
}

@test "htextauth: -r sets the realm, quoted as a quoted-string" {
	start_auth -r 'My "big" \realm'
	expect /who.cgi 401
	assert_equal "$(field WWW-Authenticate)" 'Basic realm="My \"big\" \\realm", charset="UTF-8"'
	run "$HTEXTAUTH" -r $'a\nb' "$AUTH" -- dirplex .
	assert_status 2
}

@test "htextauth: good credentials pass; CGI sees REMOTE_USER and AUTH_TYPE, not the header" {
	start_auth
	expect /who.cgi 200 -u alice:secret
	assert_contains "$(body)" "user=[alice]"
	assert_contains "$(body)" "type=[Basic]"
	assert_contains "$(body)" "authorization=[unset]"
	# The command got the two lines, nothing more, and its own args.
	assert_equal "$(cat "$CALLS")" "call args=[-x] user=[alice] pass=[secret] extra=[]"
	# The scheme name is case-insensitive.
	expect /who.cgi 200 -H "Authorization: bAsIc  $(b64 alice:secret)"
}

@test "htextauth: the password is in no argument or environment" {
	start_auth
	expect /who.cgi 200 -u alice:secret
	assert_not_contains "$(cat "$TEST_TMP/auth.cmdline")" secret
	assert_not_contains "$(cat "$TEST_TMP/auth.environ")" secret
	assert_not_contains "$(tr '\0' ' ' </proc/$AUTH_PID/cmdline)" secret
	assert_not_contains "$(tr '\0' '\n' </proc/$AUTH_PID/environ)" secret
	[ -O "$TEST_TMP/auth.environ" ]
}

@test "htextauth: wrong credentials: 401, the command's message on the page" {
	start_auth
	expect /who.cgi 401 -u alice:wrong
	assert_equal "$(field WWW-Authenticate)" 'Basic realm="auth", charset="UTF-8"'
	assert_contains "$(body)" "No &lt;such&gt; user or wrong password for alice."
	expect /who.cgi 401 -u nobody:secret
	assert_equal "$(calls)" 2
}

@test "htextauth: other schemes get the challenge" {
	start_auth
	expect /who.cgi 401 -H "Authorization: Bearer abc"
	assert_contains "$(field WWW-Authenticate)" 'Basic realm="auth"'
	expect /who.cgi 401 -H 'Authorization: Digest username="alice"'
	expect /who.cgi 401 -H "Authorization: Basically $(b64 alice:secret)"
	expect /who.cgi 401 -H "Authorization: Basic"
	assert_equal "$(calls)" 0
}

@test "htextauth: malformed credentials: 400, the command never runs" {
	start_auth
	expect /who.cgi 400 -H "Authorization: Basic !!!notbase64"
	expect /who.cgi 400 -H "Authorization: Basic YWxpY2U6c2VjcmV0="
	expect /who.cgi 400 -H "Authorization: Basic YW=xp"
	expect /who.cgi 400 -H "Authorization: Basic $(b64 nocolon)"
	expect /who.cgi 400 -H "Authorization: Basic $(b64 $'alice:sec\nret')"
	expect /who.cgi 400 -H "Authorization: Basic $(b64 $'ali\x01ce:secret')"
	expect /who.cgi 400 -H "Authorization: Basic $(b64 alice:secret) extra"
	assert_equal "$(calls)" 0
	# Padding may be left out, as some clients do.
	expect /who.cgi 200 -H "Authorization: Basic $(b64 alice:secret | tr -d =)"
}

@test "htextauth: a colon in the password" {
	start_auth
	expect /who.cgi 200 -u 'colon:pa:ss:w'
	assert_contains "$(body)" "user=[colon]"
	assert_contains "$(cat "$CALLS")" "user=[colon] pass=[pa:ss:w]"
	expect /who.cgi 401 -u 'colon:pa:ss'
}

@test "htextauth: non-ASCII (UTF-8) user and password" {
	start_auth
	expect /who.cgi 200 -u 'jürgen:pässwörd'
	assert_contains "$(body)" "user=[jürgen]"
	assert_contains "$(cat "$CALLS")" "user=[jürgen] pass=[pässwörd]"
}

@test "htextauth: over-long credentials: 400 without running the command" {
	local long
	long=$(head -c 3000 /dev/zero | tr '\0' x)
	start_auth
	expect /who.cgi 400 -u "alice:$long"
	expect /who.cgi 400 -u "$long:secret"
	assert_equal "$(calls)" 0
	# Just under the limit is checked (and refused by the command).
	long=$(head -c 1000 /dev/zero | tr '\0' y)
	expect /who.cgi 401 -u "alice:$long"
	assert_equal "$(calls)" 1
}

@test "htextauth: the command killed, missing or hanging: 500" {
	start_auth
	expect /who.cgi 500 -u crash:x
	assert_not_contains "$(field WWW-Authenticate 2>/dev/null || true)" Basic
	kill_bg
	put "$TEST_TMP/missing.rc"
	start_root "$HTEXTAUTH" "$TEST_TMP/no-such-command" -- dirplex -N \
	    -c "$TEST_TMP/site.rc" "$SITE"
	expect /who.cgi 500 -u alice:secret
	assert_contains "$(cat "$SERVER_LOG")" "no-such-command"
}

@test "htextauth: credentials are cached by default" {
	start_auth
	expect /who.cgi 200 -u alice:secret
	expect /who.cgi 200 -u alice:secret
	expect /who.cgi 200 -u alice:secret
	assert_equal "$(calls)" 1
	# Another password for the same user is checked, and refused.
	expect /who.cgi 401 -u alice:other
	assert_equal "$(calls)" 2
	# Refused credentials are never cached.
	expect /who.cgi 401 -u alice:other
	assert_equal "$(calls)" 3
}

@test "htextauth: -C: no cache, the command runs every time" {
	start_auth -C
	expect /who.cgi 200 -u alice:secret
	expect /who.cgi 200 -u alice:secret
	assert_equal "$(calls)" 2
}

@test "htextauth: -T: cached credentials unused that long are forgotten" {
	start_auth -T 1
	expect /who.cgi 200 -u alice:secret
	expect /who.cgi 200 -u alice:secret
	assert_equal "$(calls)" 1
	sleep 2.2
	expect /who.cgi 200 -u alice:secret
	assert_equal "$(calls)" 2
	run "$HTEXTAUTH" -T x "$AUTH" -- dirplex .
	assert_status 2
}

@test "htextauth: -s: 403 unless the request came over HTTPS" {
	start_auth -s
	expect /who.cgi 403 -u alice:secret
	assert_equal "$(calls)" 0
	kill_bg
	# patplex marks the request as HTTPS, as a TLS front end would.
	put "$TEST_TMP/pp.rc" "child auth" \
	    "	exec $HTEXTAUTH -s $AUTH -- dirplex -N -c $TEST_TMP/site.rc $SITE" \
	    "match" "	default" "	xset Protocol https" "	handler auth"
	start_root patplex -N "$TEST_TMP/pp.rc"
	expect /who.cgi 200 -u alice:secret
	assert_contains "$(body)" "user=[alice]"
}

@test "htextauth: a slow check holds up no other request" {
	start_auth
	expect /who.cgi 200 -u alice:secret
	get /who.cgi -u slow:slow >"$TEST_TMP/slow.code" &
	local bg=$! t0 t1
	sleep 0.3
	t0=$(now_ms)
	code=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' -u alice:secret \
	    "http://127.0.0.1:$PORT/who.cgi")
	t1=$(now_ms)
	assert_equal "$code" 200
	[ $((t1 - t0)) -lt 1500 ] || fail "a cached request took $((t1 - t0)) ms"
	wait "$bg"
	assert_equal "$(cat "$TEST_TMP/slow.code")" 200
}

@test "htextauth: it exits when its child exits" {
	start_auth
	expect /who.cgi 200 -u alice:secret
	local dp
	dp=$(children_named "$AUTH_PID" dirplex)
	[ -n "$dp" ] || fail "no dirplex under htextauth $AUTH_PID"
	kill -TERM "$dp"
	local i
	for ((i = 0; i < 100; i++)); do
		proc_alive "$AUTH_PID" || break
		sleep 0.05
	done
	! proc_alive "$AUTH_PID" || fail "htextauth $AUTH_PID still runs"
}

@test "htextauth: at end of input a check in flight still reaches the child" {
	start_auth
	get /who.cgi -u slow:slow >"$TEST_TMP/slow.code" &
	local bg=$!
	sleep 0.5
	kill -TERM "$AUTH_PID"
	wait "$bg"
	assert_equal "$(cat "$TEST_TMP/slow.code")" 200
	assert_contains "$(body)" "user=[slow]"
}
