#!/bin/sh
# Real programs on libkmm-malloc: each runs once on the C library's malloc
# and once with LD_PRELOAD=libkmm-malloc.so, and the outputs must be
# identical (and the preloaded run must exit 0). A program that is not
# installed is reported as skipped, with the reason.
#
#   programs.sh LIB [NAME]     NAME: python | sort | gcc | git | cxx (default all)
set -u
lib=$1
only=${2:-all}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
ran=0

[ -f "$lib" ] || { echo "programs.sh: no library $lib" >&2; exit 1; }

# compare NAME CMD...: runs CMD twice, stdout to files, and compares.
compare() {
	name=$1
	shift
	if ! "$@" >"$tmp/$name.ref" 2>"$tmp/$name.referr"; then
		echo "SKIPPED $name: fails without the library too: $(head -c 300 "$tmp/$name.referr")"
		return
	fi
	if ! LD_PRELOAD="$lib" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; then
		echo "FAIL $name: exit status $? with the library: $(head -c 600 "$tmp/$name.err")"
		failed=1
		return
	fi
	if ! cmp -s "$tmp/$name.ref" "$tmp/$name.out"; then
		echo "FAIL $name: output differs with the library"
		diff "$tmp/$name.ref" "$tmp/$name.out" | head -10
		failed=1
		return
	fi
	ran=$((ran + 1))
	echo "PASS $name ($(wc -c <"$tmp/$name.out") bytes of output identical)"
}

want() { [ "$only" = all ] || [ "$only" = "$1" ]; }

if want python; then
	py=$(command -v python3 2>/dev/null || true)
	[ -n "$py" ] && py=$("$py" -c 'import sys; print(sys.executable)' 2>/dev/null || echo "$py")
	if [ -z "$py" ]; then
		echo "SKIPPED python: python3 is not installed"
	else
		# Dicts, lists, strings and bytes of many sizes, realloc-heavy
		# growth, threads, and a big sort: allocates and frees heavily.
		cat >"$tmp/work.py" <<'PY'
import hashlib, threading, json
d = {i: str(i) * (i % 37) for i in range(200000)}
l = [list(range(i % 300)) for i in range(20000)]
s = "".join(str(i) for i in range(300000))
b = [bytes(i % 70000) for i in range(0, 3000)]
j = json.loads(json.dumps({"k%d" % i: [i, str(i), {"x": i}] for i in range(50000)}))
out = []
def work(n):
    acc = []
    for i in range(30000):
        acc.append(("%d-%d" % (n, i)) * (i % 9))
        if len(acc) > 500:
            acc = acc[250:]
    out.append(len(acc))
ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]
[t.start() for t in ts]
[t.join() for t in ts]
h = hashlib.sha256()
for k in sorted(d, key=lambda k: d[k])[:1000]:
    h.update(d[k].encode())
print(len(d), sum(map(len, l)), len(s), sum(map(len, b)), len(j), sorted(out), h.hexdigest())
PY
		compare python "$py" "$tmp/work.py"
	fi
fi

if want sort; then
	if ! command -v sort >/dev/null 2>&1; then
		echo "SKIPPED sort: sort is not installed"
	else
		awk 'BEGIN { srand(7); for (i = 0; i < 400000; i++)
			printf "%08d %s\n", int(rand() * 1e8), substr("abcdefghijklmnopqrstuvwxyz", 1 + i % 26) }' \
			>"$tmp/input.txt"
		compare sort sort -S 64M --parallel=2 "$tmp/input.txt"
	fi
fi

if want gcc; then
	if ! command -v gcc >/dev/null 2>&1; then
		echo "SKIPPED gcc: gcc is not installed"
	else
		cat >"$tmp/small.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
struct node { struct node *next; int v; };
static int sum(const struct node *n) { int s = 0; for (; n; n = n->next) s += n->v; return s; }
int main(void)
{
	struct node *head = NULL;
	for (int i = 0; i < 100; i++) {
		struct node *n = malloc(sizeof(*n));
		n->v = i; n->next = head; head = n;
	}
	printf("%d\n", sum(head));
	return 0;
}
C
		compare gcc gcc -O2 -S -o - "$tmp/small.c"
	fi
fi

if want git; then
	if ! command -v git >/dev/null 2>&1; then
		echo "SKIPPED git: git is not installed"
	else
		repo=$tmp/repo
		export GIT_AUTHOR_NAME=kmm GIT_AUTHOR_EMAIL=kmm@example.org \
			GIT_COMMITTER_NAME=kmm GIT_COMMITTER_EMAIL=kmm@example.org \
			GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z" \
			GIT_CONFIG_NOSYSTEM=1 HOME=$tmp
		git init -q "$repo" && git -C "$repo" config commit.gpgsign false
		for n in 1 2 3 4 5; do
			seq $((n * 1000)) >"$repo/file$n.txt"
			git -C "$repo" add . && git -C "$repo" commit -qm "commit $n"
		done
		compare git git -C "$repo" log -p --stat
		compare git_fsck git -C "$repo" fsck --full --strict
	fi
fi

if want cxx; then
	if ! command -v g++ >/dev/null 2>&1; then
		echo "SKIPPED cxx: g++ is not installed"
	else
		# operator new/delete reach malloc/free: containers, strings, arrays.
		cat >"$tmp/prog.cc" <<'CC'
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>
int main()
{
	std::map<int, std::string> m;
	std::vector<std::unique_ptr<int[]>> v;
	for (int i = 0; i < 200000; i++) {
		m[i % 5000] += std::to_string(i);
		v.emplace_back(new int[i % 100 + 1]);
		if (v.size() > 1000)
			v.erase(v.begin(), v.begin() + 500);
	}
	size_t total = 0;
	for (auto &kv : m)
		total += kv.second.size();
	std::cout << m.size() << " " << total << " " << v.size() << std::endl;
}
CC
		if g++ -O2 -o "$tmp/prog" "$tmp/prog.cc" 2>"$tmp/cxx.build"; then
			compare cxx "$tmp/prog"
		else
			echo "SKIPPED cxx: cannot build the test program: $(head -c 200 "$tmp/cxx.build")"
		fi
	fi
fi

[ $failed -eq 0 ] || exit 1
[ $ran -gt 0 ] || echo "SKIPPED: no program could run"
exit 0
