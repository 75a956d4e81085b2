#!/usr/bin/env bats
# userplex.bats: /~user/ trees, each served by a handler running as its
# user, with userplex as htparser's root handler (or behind dirplex with
# the shipped userdir.rc).
#
# Switching users needs root: those tests create their own users with
# useradd (unique names, homes in a directory of their own under /tmp,
# removed in teardown with every process they still have) and are
# skipped, saying why, when not run as root.  The user's handler is
# mostly the test handler echo-handler with ?whoami, which reports its
# uids, gids, groups, directory, session, environment and standard
# output and error; a CGI script run by the default dirplex checks the
# same through `id`.

load helper

setup() {
	common_setup
	export HOME=$TEST_TMP/home
	mkdir -p "$HOME"
	use_build_path
	USERPLEX=$(ashd_prog userplex)
	SERVER_LOG=$TEST_TMP/server.log
	CREATED=()
	GROUPS_MADE=()
	UHOMES=
}

teardown() {
	local u pid g
	common_teardown
	for u in "${CREATED[@]}"; do
		for pid in $(ps -o pid= -u "$u" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
	done
	for u in "${CREATED[@]}"; do
		userdel "$u" 2>/dev/null || { sleep 0.2; userdel "$u" || true; }
	done
	for g in "${GROUPS_MADE[@]}"; do
		groupdel "$g" 2>/dev/null || true
	done
	[ -z "$UHOMES" ] || rm -rf "$UHOMES"
}

need_root() {
	[ "$(id -u)" -eq 0 ] ||
	    skip "userplex changes users: needs root (running as uid $(id -u))"
	command -v useradd >/dev/null ||
	    skip "useradd is missing (package passwd)"
}

# mkuser VAR [USERADD-OPTIONS...]: a new user (its name in VAR) with
# its own group, a home directory and an empty htpub in it.
mkuser() {
	local var=$1 name
	shift
	if [ -z "$UHOMES" ]; then
		UHOMES=$(mktemp -d /tmp/ashd-userplex.XXXXXX)
		chmod 755 "$UHOMES"
	fi
	name=$(printf 'aup%s%s%s' "$BATS_TEST_NUMBER" "$$" "$RANDOM" | cut -c 1-30)
	useradd -M -d "$UHOMES/$name" -s /bin/sh "$@" "$name" ||
	    fail "useradd $name failed"
	CREATED+=("$name")
	mkdir -p "$UHOMES/$name/htpub"
	chown -R "$name:" "$UHOMES/$name"
	printf -v "$var" '%s' "$name"
}

# mkgroup VAR: a new group.
mkgroup() {
	local name
	name=$(printf 'aupg%s%s%s' "$BATS_TEST_NUMBER" "$$" "$RANDOM" | cut -c 1-30)
	groupadd "$name" || fail "groupadd $name failed"
	GROUPS_MADE+=("$name")
	printf -v "$1" '%s' "$name"
}

# in_home USER PATH CONTENT: a file in USER's home, owned by USER.
in_home() {
	local f=$UHOMES/$1/$2
	mkdir -p "$(dirname "$f")"
	printf '%s' "$3" >"$f"
	chown -R "$1:" "$UHOMES/$1"
}

# handler_of USER: the pid of USER's handler, userplex's child.
handler_of() {
	local up c
	up=$(children_of "$HTPARSER_PID" | head -n 1)
	for c in $(children_of "$up"); do
		[ "$(stat -c %U "/proc/$c" 2>/dev/null)" = "$1" ] && echo "$c"
	done
	return 0
}

# who LINE: a line of the last whoami answer ("uid", "groups", ...).
who() {
	sed -n "s/^$1 //p" "$TEST_TMP/body"
}

@test "userplex: -h prints usage; bad -m and -g are usage errors" {
	run "$USERPLEX" -h
	assert_status 0
	assert_contains "$output" "usage: userplex"
	run "$USERPLEX" -m abc
	assert_status 2
	run "$USERPLEX" -m -5
	assert_status 2
	run "$USERPLEX" -g no-such-group-here-at-all
	assert_status 2
	assert_contains "$output" "no such group"
	run "$USERPLEX" -x
	assert_status 2
}

@test "userplex: unknown users, odd names, root and no name: 404; no slash: 301" {
	start_root "$USERPLEX" "$ECHO_HANDLER"
	expect /no-such-user-zz/ 404
	expect /root/ 404
	expect /~root/x 404
	# Above the root: htparser answers it (dot-segments resolved).
	expect /%2E%2E/ 400
	expect /-rf/ 404
	expect "/a%00b/" 404
	expect / 404
	expect "/someone?q=1" 301
	assert_equal "$(field Location)" "/someone/?q=1"
}

@test "userplex: the handler runs as the user: ids, groups, session, home, env" {
	need_root
	local u uid gid groups
	mkuser u
	uid=$(id -u "$u")
	gid=$(id -g "$u")
	groups=$(id -G "$u" | tr ' ' '\n' | sort -n | tr '\n' ' ')
	# userplex itself runs with supplementary groups the user lacks.
	start_root setpriv --groups 4,24 "$USERPLEX" "$ECHO_HANDLER"
	local up
	up=$(children_of "$HTPARSER_PID" | head -n 1)
	assert_match "$(grep '^Groups:' /proc/$up/status)" $'^Groups:[ \t]+4 24'
	expect "/$u/a/b?whoami" 200
	assert_equal "$(who rest)" "a/b"
	assert_equal "$(who uid)" "$uid $uid $uid"
	assert_equal "$(who gid)" "$gid $gid $gid"
	assert_equal "$(who groups | tr ' ' '\n' | sort -n | grep . | tr '\n' ' ')" "$groups"
	assert_not_contains " $(who groups) " " 24 "
	assert_not_contains " $(who groups) " " 0 "
	assert_equal "$(who cwd)" "$UHOMES/$u"
	assert_equal "$(who session-leader)" yes
	assert_contains "$(body)" "env HOME=$UHOMES/$u"
	assert_contains "$(body)" "env USER=$u"
	assert_contains "$(body)" "env LOGNAME=$u"
	assert_contains "$(body)" "env SHELL=/bin/sh"
	assert_contains "$(body)" "fd 1 /dev/null"
	assert_contains "$(body)" "fd 2 /dev/null"
	# Every id of the handler process, as the kernel has them.
	local hp
	hp=$(handler_of "$u")
	[ -n "$hp" ] || fail "no process runs as $u"
	assert_match "$(grep '^Uid:' /proc/$hp/status)" "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid\$"
	assert_match "$(grep '^Gid:' /proc/$hp/status)" "^Gid:[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid[[:space:]]+$gid\$"
	assert_match "$(grep '^CapEff:' /proc/$hp/status)" '0000000000000000$'
}

@test "userplex: by default dirplex serves ~/htpub, and its CGI runs as the user" {
	need_root
	local u
	mkuser u
	in_home "$u" htpub/index.html "hello from $u"
	in_home "$u" htpub/id.cgi '#!/bin/sh
printf "Content-Type: text/plain\n\n"
echo "uid=$(id -u) user=$(id -un) groups=$(id -G)"
echo "remote=$REMOTE_ADDR"'
	chmod +x "$UHOMES/$u/htpub/id.cgi"
	start_root setpriv --groups 4 "$USERPLEX"
	expect "/$u/" 200
	assert_equal "$(body)" "hello from $u"
	expect "/~$u/id.cgi" 200
	assert_contains "$(body)" "uid=$(id -u "$u") user=$u groups=$(id -G "$u")"
	assert_contains "$(body)" "remote=127.0.0.1"
}

@test "userplex: -m: users below MIN-UID answer 404" {
	need_root
	local u uid
	mkuser u
	uid=$(id -u "$u")
	in_home "$u" htpub/index.html ok
	start_root "$USERPLEX" -m $((uid + 1))
	expect "/$u/" 404
	kill_bg
	start_root "$USERPLEX" -m "$uid"
	expect "/$u/" 200
	assert_equal "$(body)" ok
}

@test "userplex: -g: only members of GROUP (as primary or supplementary)" {
	need_root
	local g a b c
	mkgroup g
	mkuser a -G "$g"
	mkuser b
	mkuser c -N -g "$g"
	for x in "$a" "$b" "$c"; do in_home "$x" htpub/index.html "I am $x"; done
	start_root "$USERPLEX" -g "$g"
	expect "/$a/" 200
	assert_equal "$(body)" "I am $a"
	expect "/$b/" 404
	expect "/$c/" 200
}

@test "userplex: a missing PUBDIR answers 404; -d names another" {
	need_root
	local u
	mkuser u
	rmdir "$UHOMES/$u/htpub"
	start_root "$USERPLEX"
	expect "/$u/" 404
	kill_bg
	in_home "$u" www/index.html "from www"
	start_root "$USERPLEX" -d www
	expect "/$u/" 200
	assert_equal "$(body)" "from www"
	kill_bg
	# With a PROGRAM, -d is only checked.
	start_root "$USERPLEX" -d nowhere "$ECHO_HANDLER"
	expect "/$u/?whoami" 404
	kill_bg
	start_root "$USERPLEX" -d www "$ECHO_HANDLER"
	expect "/$u/x?whoami" 200
	assert_equal "$(who rest)" x
}

@test "userplex: ~/.ashd/handler is used, unless -I" {
	need_root
	local u
	mkuser u
	in_home "$u" htpub/index.html "default handler"
	in_home "$u" own/index.html "own handler"
	in_home "$u" .ashd/handler '#!/bin/sh
cd own && exec dirplex .'
	chmod +x "$UHOMES/$u/.ashd/handler"
	start_root "$USERPLEX"
	expect "/$u/" 200
	assert_equal "$(body)" "own handler"
	kill_bg
	start_root "$USERPLEX" -I
	expect "/$u/" 200
	assert_equal "$(body)" "default handler"
}

@test "userplex: ~/.ashd/output and ~/.ashd/error become stdout and stderr" {
	need_root
	local u
	mkuser u
	in_home "$u" .ashd/error ""
	in_home "$u" .ashd/output ""
	start_root "$USERPLEX" "$ECHO_HANDLER"
	expect "/$u/?whoami" 200
	assert_contains "$(body)" "fd 1 $UHOMES/$u/.ashd/output"
	assert_contains "$(body)" "fd 2 $UHOMES/$u/.ashd/error"
}

@test "userplex: -s sets ASHD_USESYSLOG in the handlers; without it, cleared" {
	need_root
	local u
	mkuser u
	start_root env ASHD_USESYSLOG=1 "$USERPLEX" "$ECHO_HANDLER"
	expect "/$u/?whoami" 200
	assert_contains "$(body)" "env ASHD_USESYSLOG=unset"
	kill_bg
	start_root "$USERPLEX" -s "$ECHO_HANDLER"
	expect "/$u/?whoami" 200
	assert_contains "$(body)" "env ASHD_USESYSLOG=1"
}

@test "userplex: one handler per user, restarted on next use after it died" {
	need_root
	local u v p1 p2
	mkuser u
	mkuser v
	start_root "$USERPLEX" "$ECHO_HANDLER"
	expect "/$u/?whoami" 200
	expect "/$v/?whoami" 200
	expect "/$u/?whoami" 200
	p1=$(handler_of "$u")
	assert_match "$p1" '^[0-9]+$'
	[ -n "$(handler_of "$v")" ] || fail "no handler for $v"
	kill -KILL "$p1"
	sleep 0.2
	expect "/$u/?whoami" 200
	p2=$(handler_of "$u")
	assert_match "$p2" '^[0-9]+$'
	[ "$p2" != "$p1" ] || fail "the handler was not restarted"
}

@test "userplex: shipped userdir.rc serves /~user/ behind dirplex" {
	need_root
	local u
	mkuser u
	[ "$(id -u "$u")" -ge 1000 ] || skip "useradd gave a uid below 1000"
	in_home "$u" htpub/index.html "page of $u"
	mkdir -p "$TEST_TMP/site"
	printf 'site' >"$TEST_TMP/site/index.html"
	start_root dirplex -c userdir.rc "$TEST_TMP/site"
	expect / 200
	assert_equal "$(body)" site
	expect "/~$u/" 200
	assert_equal "$(body)" "page of $u"
	expect "/~$u" 301
	assert_equal "$(field Location)" "/~$u/"
	expect /~root/ 404
	expect /~no-such-user-here/ 404
}

@test "userplex: a whole site under one account (htparser(1)'s pattern)" {
	need_root
	local u
	mkuser u
	local site=$UHOMES/site
	mkdir -p "$site"
	printf '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\necho "uid=$(id -u) path=$PATH_INFO"\n' >"$site/who.cgi"
	chmod 755 "$site" "$site/who.cgi"
	put "$TEST_TMP/pp.rc" "child site" "	exec $USERPLEX -d $site" \
	    "match" "	default" "	restpat $u/\$_" "	handler site"
	start_root patplex -N "$TEST_TMP/pp.rc"
	expect /who.cgi/extra 200
	assert_contains "$(body)" "uid=$(id -u "$u") path=/extra"
}
