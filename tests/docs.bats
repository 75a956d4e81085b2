#!/usr/bin/env bats
# docs.bats: documentation is part of every feature.  Every manual page
# lints clean (mandoc -Tlint at warning level and above, and groff's
# own warnings), and every installed program has a page of its own,
# listed for installation.

load helper

# The words of a make variable (NAME = ... with continuation lines).
make_var() {
	awk -v v="$1" '$1 == v && $2 == "=" { on = 1 }
	    on { for (i = 1; i <= NF; i++) if ($i != "\\" && $i != v &&
	        $i != "=") print $i; if ($NF != "\\") exit }' \
	    "$SRCDIR/Makefile.am"
}

pages() {
	make_var dist_man_MANS
}

@test "every manual page lints clean: mandoc -Tlint -W warning" {
	local p out
	for p in $(pages); do
		out=$(mandoc -Tlint -W warning "$SRCDIR/$p" 2>&1) ||
		    fail "$p: $out"
		[ -z "$out" ] || fail "$p: $out"
	done
}

@test "every manual page formats without warnings: groff -mandoc -ww -z" {
	local p out
	for p in $(pages); do
		out=$(groff -mandoc -ww -z "$SRCDIR/$p" 2>&1) ||
		    fail "$p: $out"
		[ -z "$out" ] || fail "$p: $out"
	done
}

@test "every program of the build has its manual page, installed" {
	local prog name
	[ "$(make_var bin_PROGRAMS | wc -l)" -ge 17 ] ||
	    fail "bin_PROGRAMS not read from Makefile.am"
	for prog in $(make_var bin_PROGRAMS); do
		name=${prog##*/}
		[ -f "$SRCDIR/doc/$name.1" ] || fail "no doc/$name.1"
		pages | grep -qx "doc/$name.1" ||
		    fail "doc/$name.1 not in dist_man_MANS"
	done
}
