#!/bin/sh
# Runs every benchmark executable build/bench/bench_* (or those whose
# benchmark names start with $2), printing JSON lines and appending them to
# build/bench.jsonl.
set -eu
build=$1
prefix=${2:-}
out="$build/bench.jsonl"
found=0
for b in "$build"/bench/bench_*; do
	[ -x "$b" ] || continue
	found=1
	"$b" "$prefix" | tee -a "$out"
done
[ "$found" = 1 ] || { echo "bench: no benchmarks built in $build/bench" >&2; exit 1; }
