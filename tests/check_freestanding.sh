#!/bin/sh
# Checks that the core library (mm/, lib/) is freestanding: every symbol its
# object files reference is defined in the core itself, declared by the arch
# interface (arch_*), one of the four memory functions GCC and Clang
# require of any freestanding environment, or the linker's
# _GLOBAL_OFFSET_TABLE_.
# Usage: check_freestanding.sh libkmm_core.a include/kmm/arch.h
set -eu
lib=$1
arch_header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -A "$lib" | awk '$2 ~ /^[TDBRCVW]$/ {print $3} $3 ~ /^[TDBRCVW]$/ {print $4}' | sort -u >"$tmp/defined"
nm -u "$lib" | awk 'NF {print $NF}' | grep -v ':$' | sort -u >"$tmp/undefined"
grep -oE '\barch_[a-z0-9_]+' "$arch_header" | sort -u >"$tmp/arch"
printf '%s\n' memcpy memmove memset memcmp >>"$tmp/arch"
# The linker's own symbol, which the assembler references from any object
# that uses thread-local storage (arch_cpu_thread): no library provides it.
echo _GLOBAL_OFFSET_TABLE_ >>"$tmp/arch"
sort -u -o "$tmp/allowed" "$tmp/defined" "$tmp/arch"

bad=$(comm -23 "$tmp/undefined" "$tmp/allowed")
if [ -n "$bad" ]; then
	echo "the core references symbols outside itself and the arch interface:" >&2
	for s in $bad; do
		printf '  %s (in %s)\n' "$s" "$(nm -A "$lib" | awk -v s="$s" '$NF == s && $(NF-1) == "U" {print $1}' | tr '\n' ' ')" >&2
	done
	exit 1
fi
echo "core is freestanding: $(wc -l <"$tmp/undefined") external references, all to the arch interface or the core"
