#!/bin/sh
# Tests of kmm replay and kmm record: every trace format (plain and gzip)
# replays with the faults it must cause, malformed traces give the file, the
# line and the reason, and a program recorded under valgrind (when valgrind
# is installed) replays. Usage: trace_test.sh PATH/TO/kmm
set -u
KMM=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/kmm-trace.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

expect() {
	want=$1
	shift
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	[ "$got" -eq "$want" ] || fail "$* exited $got, wanted $want: $(head -c 300 "$T/err")"
}

has() {
	grep -q -- "$1" "$T/$2" || fail "$3: $2 lacks '$1': $(head -c 400 "$T/$2")"
}

# rw format: 3 pages, one written twice; a read fault maps the zero page, the
# write after it faults again (copy-on-write of the zero page). The page only
# read stays on the zero page, which is not resident (as in Linux's RSS).
printf 'R 0x400000\nW 0x400008\nR 0x401000\nW 0x402010\nW 0x402020\n# done\n' >"$T/rw.trace"
expect 0 "$KMM" replay "$T/rw.trace" --quiet --ram 64M
has "rw trace, 5 references (5 accesses), 3 distinct pages, 1 areas" out "rw"
has "faults: 4 minor, 0 major" out "rw faults"
has "resident at the end: 2 pages" out "rw rss"

# The same, compressed.
gzip -c "$T/rw.trace" >"$T/rw.trace.gz"
expect 0 "$KMM" replay "$T/rw.trace.gz" --quiet --ram 64M
has "rw trace, 5 references" out "rw.gz"

# address format (SPEC): two areas far apart.
printf 's 0x1fffff50 1\nl 0x1fffff58 1\nl 0x08048000 6\n' >"$T/addr.trace"
expect 0 "$KMM" replay "$T/addr.trace" --quiet --ram 64M
has "address trace, 3 references (3 accesses), 2 distinct pages, 2 areas" out "address"
has "faults: 2 minor" out "address faults"

# block format (LIRS): block numbers as pages from 0x10000000.
printf '1\n2\n3\n*\n1\n2\n3\n100\n' >"$T/block.trace"
expect 0 "$KMM" replay "$T/block.trace" --quiet --ram 64M
has "block trace, 7 references (7 accesses), 4 distinct pages, 2 areas" out "block"
has "faults: 4 minor" out "block faults"

# kmm format: areas, counts, a fetch from an executable area.
cat >"$T/k.trace" <<'X'
# kmm-trace 1
area 0x400000 0x402000 r-xp [recorded]
area 0x600000 0x601000 rw-p [recorded]
X 0x400 10
R 0x401 3
W 0x600 2
X
expect 0 "$KMM" replay "$T/k.trace" --quiet --ram 64M
has "kmm trace, 3 references (15 accesses), 3 distinct pages, 2 areas" out "kmm"
has "faults: 3 minor" out "kmm faults"

# A fetch from a non-executable area kills the task: a clear message, exit 1.
printf '# kmm-trace 1\narea 0x400000 0x401000 rw-p x\nX 0x400 1\n' >"$T/nx.trace"
expect 1 "$KMM" replay "$T/nx.trace" --quiet --ram 64M
has "killed by signal 11 at address 0x400000" err "nx"

# Malformed traces: FILE:LINE: reason, exit 1.
bad() {
	printf "$2" >"$T/bad.trace"
	expect 1 "$KMM" replay "$T/bad.trace" --quiet
	has "$1" err "malformed: $2"
}
bad "bad.trace:3: expected 'R|W ADDRESS'" 'R 0x10000\nW 0x20000\nX 0x30000\n'
bad "bad.trace:2: bad address 'zz'" 'R 0x10000\nW zz\n'
bad "bad.trace:2: expected one block number" '12\n*13\n'
bad "bad.trace:1: expected one block number" '12 13\n'
bad "bad.trace:2: bad instruction count '-1'" 'l 0x10000 1\ns 0x20000 -1\n'
bad "bad.trace:2: bad area range" '# kmm-trace 1\narea 0x2000 0x1000 r--p a\n'
bad "bad.trace:2: bad count '0'" '# kmm-trace 1\nR 0x10 0\n'
bad "unknown kmm trace version" '# kmm-trace 9\n'
bad "no references in the file" '# nothing\n\n'
bad "no references in the file" '# LIRS phases only\n*\n*\n'
bad "outside the user address space" '# kmm-trace 1\nR 0x1 1\n'
bad "outside the user address space" 'R 0xffff800000000000\n'
printf 'R 0x10000\n' | gzip -c | head -c 12 >"$T/trunc.trace.gz"
expect 1 "$KMM" replay "$T/trunc.trace.gz" --quiet
has "trunc.trace.gz" err "truncated gzip"
expect 1 "$KMM" replay "$T/missing.trace" --quiet
has "missing.trace: No such file" err "missing file"
expect 2 "$KMM" replay
has "which trace?" err "no file"
expect 2 "$KMM" replay "$T/rw.trace" --bogus
has "unknown option '--bogus'" err "bad option"

# A simulator's trace that uses page 0 is moved up as a whole.
printf 'R 0x10\nW 0x2010\n' >"$T/low.trace"
expect 0 "$KMM" replay "$T/low.trace" --quiet
has "replayed 0x10000000 bytes higher" out "low addresses"
has "2 distinct pages, 1 areas" out "low addresses"

# Too little memory for the trace: the task dies of it, the machine does not.
awk 'BEGIN { for (i = 0; i < 8192; i++) printf "W %d\n", 268435456 + i * 4096 }' >"$T/big.trace"
expect 1 "$KMM" replay "$T/big.trace" --quiet --ram 16M
has "killed by signal" err "out of memory"

# --compare: OPT, LRU and CLOCK on the trace's reference string. A loop of
# 4 pages with 3 frames: LRU and CLOCK fault on every reference after the
# cold ones, OPT once per lap but the first (textbook figures).
printf 'W 0x400000\nW 0x401000\nW 0x402000\nW 0x403000\n' >"$T/lap"
for i in 1 2 3 4 5; do cat "$T/lap"; done >"$T/loop.trace"
expect 0 "$KMM" replay "$T/loop.trace" --quiet --ram 64M --compare --frames 3,4,100%
has "20 references to 4 distinct pages" out "compare"
grep -Eq '^ +3 +5 +16 +16$' "$T/out" || fail "compare: 3 frames: $(cat "$T/out")"
grep -Eq '^ +4 +0 +0 +0$' "$T/out" || fail "compare: 4 frames: $(cat "$T/out")"
has "faults: 4 minor, 0 major" out "compare still replays"
# Without the machine, and the default frame counts (25/50/75% of the pages).
expect 0 "$KMM" replay "$T/loop.trace" --no-replay --compare
grep -Eq '^ +1 +16 +16 +16$' "$T/out" || fail "no-replay: 1 frame: $(cat "$T/out")"
! grep -q "faults:" "$T/out" || fail "--no-replay replayed"
# Synthetic strings, saved and replayed again.
expect 0 "$KMM" replay --synth loop:50:500 --save-trace "$T/syn.trace.gz" --quiet --ram 64M --compare
has "synthetic loop string: 500 references to 50 pages" out "synth"
has "faults: 50 minor, 0 major" out "synth replay"
expect 0 "$KMM" replay "$T/syn.trace.gz" --no-replay
has "500 references to 50 distinct pages" out "saved synth"
for bad in "--synth foo:1:2" "--synth loop:1:5" "--synth loop:10" "--frames 0 --compare" \
	"--frames 5%x --compare" "--frames 200% --compare"; do
	# shellcheck disable=SC2086
	expect 2 "$KMM" replay $bad "$T/loop.trace"
done
expect 2 "$KMM" replay --synth loop:10:20 "$T/loop.trace"
has "not both" err "synth and a file"
expect 2 "$KMM" replay "$T/loop.trace" --save-trace "$T/x"
has "saves a --synth string" err "save-trace without synth"

# record -> replay round trip, when valgrind is installed.
if command -v valgrind >/dev/null 2>&1; then
	expect 0 "$KMM" record --no-progress -o "$T/true.trace.gz" -- /bin/true
	has "references" out "record"
	expect 0 "$KMM" replay "$T/true.trace.gz" --quiet
	has "kmm trace" out "replay of the recording"
	zcat "$T/true.trace.gz" | grep -q '^area 0x[0-9a-f]* 0x[0-9a-f]* r-xp' ||
		fail "record: no executable area in the trace"
else
	echo "valgrind not installed: record round trip skipped"
fi
expect 2 "$KMM" record -- /bin/true
has "where to?" err "record without -o"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "trace tests passed"
