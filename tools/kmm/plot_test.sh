#!/bin/sh
# Tests of the memory-use chart: kmm run --plot writes a well-formed SVG
# (parsed as XML) with the six layers, the eleven buddy orders and the
# scenario's markers (labels escaped); m:plot reports an unwritable path;
# m:plot_mark refuses when nothing records. Usage: plot_test.sh PATH/TO/kmm
set -u
KMM=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/kmm-plot.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

cat >"$T/s.lua" <<'X'
local m = kmm.boot{ram = "64M"}
local t = m:spawn("p")
local a = t:mmap{len = "8M"}
t:touch(a, 8 * 1024 * 1024, "w")
m:plot_mark("sync <1> & \"all\"")
local c = t:fork()
c:touch(a, 4 * 1024 * 1024, "w")
c:exit()
t:exit()
local ok, err = m:plot("/nonexistent-dir/x.svg")
assert(ok == nil and err:find("cannot write"), "unwritable path: " .. tostring(err))
local n = assert(m:plot(arg[1], "test chart"))
assert(n >= 5, "samples: " .. n)
m:shutdown()
X
"$KMM" run --plot "$T/a.svg" "$T/s.lua" "$T/b.svg" >"$T/out" 2>"$T/err" ||
	fail "kmm run --plot failed: $(cat "$T/err")"
grep -q "plot: wrote $T/a.svg" "$T/out" || fail "no 'plot: wrote' line: $(cat "$T/out")"
for svg in a b; do
	python3 - "$T/$svg.svg" <<'P' || fail "$svg.svg is not the chart"
import sys, xml.dom.minidom
d = xml.dom.minidom.parse(sys.argv[1])
paths = d.getElementsByTagName("path")
assert len(paths) == 6, "layers: %d" % len(paths)
texts = [t.firstChild.data for t in d.getElementsByTagName("text") if t.firstChild]
assert 'sync <1> & "all"' in texts, "marker label missing"
for o in range(11):
    assert str(o) in texts, "order %d missing" % o
assert "anonymous" in texts and "free" in texts
P
done
grep -q "test chart" "$T/b.svg" || fail "m:plot title missing"

# Not recording: m:plot_mark and m:plot are errors.
echo 'local m = kmm.boot{ram = "32M"}; m:plot_mark("x")' >"$T/n.lua"
"$KMM" run "$T/n.lua" >"$T/out" 2>"$T/err" && fail "plot_mark without recording succeeded"
grep -q "not recording" "$T/err" || fail "plot_mark: $(cat "$T/err")"
"$KMM" run --plot >"$T/out" 2>"$T/err"
[ $? -eq 2 ] || fail "--plot without a value: not a usage error"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "plot tests passed"
