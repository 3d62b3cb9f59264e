#!/bin/sh
# Tests of the kmm command line: exit statuses, one-line errors, what each
# command prints. Usage: cli_test.sh PATH/TO/kmm
set -u
KMM=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/kmm-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect STATUS CMD...: runs CMD, output in $T/out and $T/err.
expect() {
	want=$1
	shift
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" -eq "$want" ] || fail "$* exited $got, wanted $want: $(head -c 300 "$T/err")"
}

# Usage errors: exit 2, exactly one line on stderr, nothing on stdout.
usage_error() {
	pattern=$1
	shift
	expect 2 "$@"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "$*: stderr is not one line: $(cat "$T/err")"
	grep -q -- "$pattern" "$T/err" || fail "$*: stderr lacks '$pattern': $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "$*: printed on stdout"
}

has() {
	grep -q -- "$1" "$T/$2" || fail "$3: $2 lacks '$1'"
}

lacks() {
	! grep -q -- "$1" "$T/$2" || fail "$3: $2 has '$1'"
}

# Help of everything.
expect 0 "$KMM" --help
for word in boot run views help "Exit status"; do has "$word" out "kmm --help"; done
expect 0 "$KMM" -h
for cmd in boot run views; do
	expect 0 "$KMM" "$cmd" --help
	has "Usage: kmm $cmd" out "kmm $cmd --help"
	expect 0 "$KMM" help "$cmd"
	has "Usage: kmm $cmd" out "kmm help $cmd"
done
expect 0 "$KMM" boot --help
for opt in --ram --cpus --mode --seed --kernel-size --no-mobility --no-pcp \
	--min-free-kbytes --fail-page-nth --fail-page-prob --view --check --quiet; do
	has "$opt" out "kmm boot --help"
done

# Usage errors.
usage_error "unknown command 'frobnicate'" "$KMM" frobnicate
usage_error "unknown option '--bogus'" "$KMM" --bogus
usage_error "unknown option '--bogus'" "$KMM" boot --bogus
usage_error "bad size 'lots'" "$KMM" boot --ram lots
usage_error "bad size" "$KMM" boot --ram=-64M
usage_error "needs a value" "$KMM" boot --ram
usage_error "unknown view 'nope'" "$KMM" boot --view nope
usage_error "takes no value" "$KMM" boot --quiet=yes
usage_error "not det or smp" "$KMM" boot --mode fast
usage_error "out of range" "$KMM" boot --cpus 0
usage_error "probability" "$KMM" boot --fail-page-prob 2
usage_error "unexpected argument" "$KMM" boot 64M
usage_error "unknown command" "$KMM" help frobnicate
usage_error "missing script" "$KMM" run
usage_error "cannot open" "$KMM" run "$T/missing.lua"

# Views.
expect 0 "$KMM" views
for v in meminfo buddyinfo pagetypeinfo zoneinfo vmstat; do has "^$v " out "kmm views"; done

# One view: the boot log then the view; --quiet: the view alone.
expect 0 "$KMM" boot --ram 64M --view buddyinfo
has "Node 0, zone" out "boot --view buddyinfo"
has "Zone ranges" out "boot --view buddyinfo"
lacks "MemTotal" out "boot --view buddyinfo"
lacks "==" out "boot --view buddyinfo"
expect 0 "$KMM" boot --ram 64M --view buddyinfo --quiet
[ "$(grep -vc '^Node 0, zone' "$T/out")" -eq 0 ] || fail "boot --quiet --view buddyinfo: other lines: $(cat "$T/out")"
expect 0 "$KMM" boot --ram=64M --quiet --view meminfo --view=zoneinfo --check --no-pcp --no-mobility
has "== meminfo ==" out "two views"
has "== zoneinfo ==" out "two views"
lacks "== buddyinfo ==" out "two views"
lacks "check:" out "quiet --check"
expect 0 "$KMM" boot --ram 32M --cpus 4 --mode smp --seed 7 --kernel-size 8M \
	--min-free-kbytes 1024 --check
has "check: every invariant holds" out "--check"
expect 1 "$KMM" boot --ram 4K
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "boot --ram 4K: stderr is not one line"
has "boot failed" err "boot --ram 4K"

# kmm boot alone: the boot log and the five views.
expect 0 "$KMM" boot
for word in "Zone ranges" "== meminfo ==" "MemTotal" "== buddyinfo ==" "== pagetypeinfo ==" \
	"== zoneinfo ==" "== vmstat ==" "pgfree"; do
	has "$word" out "kmm boot"
done

# kmm alone: the tour to its end, charted into ./kmm-tour.svg.
(cd "$T" && "$KMM" >"$T/out" 2>"$T/err") || fail "kmm alone failed: $(head -c 300 "$T/err")"
for word in "1. Boot" "2. The buddy system" "3. The slab allocator" "demand paging" \
	"5. fork and copy-on-write" "every frame is back" "6. Real programs" "0 major faults" \
	"7. The page cache" "holds the bytes written" "Every invariant checker passed" \
	"plot: wrote kmm-tour.svg"; do
	has "$word" out "kmm (the tour)"
done
[ -s "$T/kmm-tour.svg" ] || fail "the tour wrote no chart"
# Well-formed XML, an SVG with the chapters marked on it.
python3 - "$T/kmm-tour.svg" <<'P' || fail "kmm-tour.svg is not a well-formed SVG chart"
import sys, xml.dom.minidom
d = xml.dom.minidom.parse(sys.argv[1])
assert d.documentElement.tagName == "svg"
text = "".join(n.data for n in d.getElementsByTagName("text") for n in n.childNodes
               if n.nodeType == n.TEXT_NODE)
assert "fork and copy-on-write" in text and "The page cache" in text, text[:300]
P
expect 0 "$KMM" tour --no-plot
lacks "plot: wrote" out "kmm tour --no-plot"
has "copy-on-write faults" out "kmm tour --no-plot"
usage_error "unexpected argument 'x'" "$KMM" tour x
usage_error "option --plot needs a value" "$KMM" tour --plot

# kmm run: arguments, errors with FILE:LINE, exit statuses.
cat >"$T/args.lua" <<'LUA'
local kmm = require "kmm"
assert(kmm == _G.kmm, "global kmm")
assert(arg[0]:match("args%.lua$"), "arg[0] " .. tostring(arg[0]))
assert(arg[1] == "one" and arg[2] == "two words" and #arg == 2, "arg table")
local a, b = ...
assert(a == "one" and b == "two words", "varargs")
print("args ok")
LUA
expect 0 "$KMM" run "$T/args.lua" one "two words"
has "args ok" out "run args.lua"

echo 'print("from stdin", arg[0], ...)' | "$KMM" run - x >"$T/out" 2>"$T/err" ||
	fail "kmm run - (stdin): $(cat "$T/err")"
has "from stdin	-	x" out "kmm run -"

printf 'local x = 1\nerror("boom")\n' >"$T/err.lua"
expect 1 "$KMM" run "$T/err.lua"
head -n 1 "$T/err" | grep -q "err.lua:2: boom$" || fail "script error: $(head -n 1 "$T/err")"
has "stack traceback" err "script error"

printf 'local m = kmm.boot{ram = "16M", quiet = true}\nm:alloc_pages(11)\n' >"$T/arg.lua"
expect 1 "$KMM" run "$T/arg.lua"
head -n 1 "$T/err" | grep -q "arg.lua:2: bad argument #1 to 'alloc_pages'" ||
	fail "argument error: $(head -n 1 "$T/err")"

printf 'local x = = 1\n' >"$T/syntax.lua"
expect 1 "$KMM" run "$T/syntax.lua"
has "syntax.lua:1:" err "syntax error"

printf 'local m = kmm.boot{ram = "16M", quiet = true}\nm:_panic("on purpose")\n' >"$T/panic.lua"
expect 3 "$KMM" run "$T/panic.lua"
has "panic.lua:2: kernel panic: on purpose" err "uncaught panic"

# A machine left running (with pages held) is shut down at the end.
printf 'local m = kmm.boot{ram = "16M", quiet = true}\nlocal p = m:alloc_pages(3)\n' >"$T/leave.lua"
expect 0 "$KMM" run "$T/leave.lua"

if [ "$failures" -ne 0 ]; then
	echo "$failures failure(s)" >&2
	exit 1
fi
echo "cli: all passed"
