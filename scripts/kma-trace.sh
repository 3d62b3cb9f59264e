#!/bin/sh
# Records the kernel-like allocation mix bench_kma replays (kma.kernelmix):
# runs every scenario test (tests/scenarios/*.lua) and example scenario
# (scenarios/*.lua) on the slab machine with KMM_KMA_TRACE set, so that
# each kmalloc, object-cache allocation and free of the machine is written
# down (tools/kmm/lua_kma.c), and writes the trace with a header.
#
#   scripts/kma-trace.sh [BUILD] [OUT]    (defaults: build, bench/kma-kernelmix.trace)
#
# Format (docs/kma.md): "s" starts a segment (a machine; ids restart at 0),
# "k N" a kmalloc of N bytes and "c N" an object of N bytes (each the next
# id), "f ID" frees the block of that id; lines starting with # are comments.
# Each segment ends with the frees of what was still live.
set -eu
build=${1:-build}
out=${2:-bench/kma-kernelmix.trace}
kmm="$build/kmm"
[ -x "$kmm" ] || { echo "kma-trace: build $kmm first (make BUILD=$build)" >&2; exit 1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for s in tests/scenarios/*.lua scenarios/*.lua; do
	# A scenario that fails on purpose (panic.lua) still leaves its trace.
	KMM_KMA_TRACE="$tmp" "$kmm" run "$s" >/dev/null 2>&1 || true
done
{
	echo "# kmm kernel allocation trace (scripts/kma-trace.sh), $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
	echo "# from: $(echo tests/scenarios/*.lua scenarios/*.lua)"
	echo "# allocations: $(grep -c '^[kc] ' "$tmp" || true) (kmalloc $(grep -c '^k ' "$tmp" || true), cache $(grep -c '^c ' "$tmp" || true))"
	grep -v '^#' "$tmp"
} >"$out"
echo "kma-trace: $(wc -l <"$out") lines in $out"
