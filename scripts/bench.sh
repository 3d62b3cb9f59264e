#!/bin/sh
# Runs every benchmark executable build/bench/bench_* (each runs only the
# benchmarks whose names start with $2, if given), printing their JSON lines
# and appending them to build/bench.jsonl. Fails if any benchmark fails.
set -eu
build=$1
prefix=${2:-}
out="$build/bench.jsonl"
failed="$build/bench.failed"
found=0
rm -f "$failed"
for b in "$build"/bench/bench_*; do
	[ -x "$b" ] || continue
	found=1
	# sh has no pipefail: record a failure beside the pipe.
	{ "$b" "$prefix" || echo "$b: exit $?" >>"$failed"; } | tee -a "$out"
done
[ "$found" = 1 ] || { echo "bench: no benchmarks built in $build/bench" >&2; exit 1; }
if [ -s "$failed" ]; then
	echo "bench: failed:" >&2
	cat "$failed" >&2
	rm -f "$failed"
	exit 1
fi
rm -f "$failed"
