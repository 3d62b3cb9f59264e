#!/usr/bin/env python3
"""ASCII chart of the kma.* benchmarks from a bench.jsonl (docs/kma.md).

    scripts/kma-chart.py [build/bench.jsonl]

For each workload, one bar per allocator, from the last line of the file
that names it (a later run replaces an earlier one). Times and held/req:
shorter is better; 2 MiB blocks and scaling: longer is better.
"""
import json
import sys

WORKLOADS = [
    ("fixed64", "ns/op", "fixed-size churn (64 B), ns per alloc+free"),
    ("random", "ns/op", "random sizes 8 B..8 KiB, ns per alloc+free"),
    ("kernelmix", "ns/op", "recorded kernel mix, ns per alloc+free"),
    ("random.held", "held/req", "random sizes: frames held / bytes requested"),
    ("kernelmix.held", "held/req", "kernel mix: frames held / bytes requested at peak"),
    ("random.frag", "order9_blocks", "2 MiB blocks left after the random run (more is better)"),
    ("smp2.scaling", "x", "2-CPU throughput / 1-CPU (more is better)"),
]
ORDER = ["slab", "buddy", "rmap", "p2", "mk", "zone", "dynix", "kmalloc"]
WIDTH = 50


def load(path):
    values = {}  # (workload, allocator) -> value
    with open(path) as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            name = r.get("name", "")
            if not name.startswith("kma."):
                continue
            for workload, unit, _ in WORKLOADS:
                prefix = "kma." + workload + "."
                rest = name[len(prefix):]
                if name.startswith(prefix) and "." not in rest and r.get("unit") == unit:
                    values[(workload, rest)] = r["kmm"]
                    values[(workload, r["peer"])] = r["peer_value"]
    return values


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "build/bench.jsonl"
    values = load(path)
    if not values:
        sys.exit("kma-chart: no kma.* lines in " + path)
    for workload, unit, title in WORKLOADS:
        rows = [(a, values[(workload, a)]) for a in ORDER if (workload, a) in values]
        if not rows:
            continue
        top = max(v for _, v in rows) or 1.0
        print(title)
        for a, v in rows:
            bar = "#" * max(1, round(v / top * WIDTH))
            print("  %-8s %-*s %8.3g" % (a, WIDTH, bar, v))
        print()


if __name__ == "__main__":
    main()
