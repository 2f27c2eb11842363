#!/usr/bin/env python3
"""Turns quantspace-bench JSON (with --benchmark_repetitions) and, optionally, the JSON of
tools/bench_torch.py into the Markdown table of docs/performance.md.

    quantspace-bench --benchmark_filter='BM_FakeQuantPerChannel|BM_Memcpy|BM_PageEval' \\
        --benchmark_repetitions=10 --benchmark_report_aggregates_only=true \\
        --benchmark_out=bench.json --benchmark_out_format=json
    python3 tools/bench_torch.py --json > torch.json
    python3 tools/perf_table.py bench.json [torch.json]

Bytes per element as in quantspace-bench: forward and memcpy 8 (read + write), gradient 12 (read x
and g, write dx). "wall" uses the median real time, "cpu" the median CPU time of the process (on a
machine shared with other jobs the wall figure includes time other processes held the core; the
cpu ratio is given for 1 thread only, since Google Benchmark counts the main thread's CPU time).
"""
import json
import math
import sys


def elements(shape):
    return math.prod(int(d) for d in shape.split("x"))


# The kernels' targets, as a fraction of memcpy's bytes per second.
def target(op, shape):
    if op.endswith("Gradient"):
        return 0.7
    return 0.4 if shape == "1x224x224x3" else 0.85


def to_seconds(value, unit):
    return value * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def main():
    bench = json.load(open(sys.argv[1]))
    torch = {}
    if len(sys.argv) > 2:
        for r in json.load(open(sys.argv[2]))["results"]:
            _, shape, threads = r["name"].split("/")
            torch[(shape, threads)] = r["median_seconds"]
    med = {}
    for b in bench["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"].replace("/real_time", "")
        med[name] = (to_seconds(b["real_time"], b["time_unit"]),
                     to_seconds(b["cpu_time"], b["time_unit"]))
    rows = ["| benchmark | ours wall | ours GB/s (wall) | memcpy GB/s (wall) | ratio wall | "
            "ratio cpu | target | met (wall / cpu) | torch | ours vs torch |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, (wall, cpu) in sorted(med.items()):
        if not name.startswith("BM_FakeQuantPerChannel"):
            continue
        op, shape, threads = name.split("/")
        n = elements(shape)
        nbytes = (12 if op.endswith("Gradient") else 8) * n
        mwall, mcpu = med["BM_Memcpy/" + shape]
        ours, mem = nbytes / wall, 8 * n / mwall
        # Google Benchmark's CPU time is the main thread's only: meaningless with 2 threads.
        rc = (nbytes / cpu) / (8 * n / mcpu) if threads == "threads:1" else None
        ratio_cpu = f"{rc:.2f}" if rc is not None else "-"
        goal = target(op, shape)
        met = ("yes" if ours / mem >= goal else "no") + " / " + (
            "-" if rc is None else "yes" if rc >= goal else "no")
        t = torch.get((shape, threads)) if not op.endswith("Gradient") else None
        tcol = f"{t * 1e3:.3f} ms" if t else "-"
        vs = f"{t / wall:.0f}x faster" if t else "-"
        rows.append(f"| {name} | {wall * 1e3:.3f} ms | {ours / 1e9:.1f} | {mem / 1e9:.1f} | "
                    f"{ours / mem:.2f} | {ratio_cpu} | {goal} | {met} | {tcol} | {vs} |")
    if "BM_PageEval/chain:1000" in med:
        wall, cpu = med["BM_PageEval/chain:1000"]
        rows.append(f"| BM_PageEval/chain:1000 | {wall * 1e3:.3f} ms (cpu {cpu * 1e3:.3f} ms) "
                    "| | | | | < 2 ms | " + ("yes" if wall < 2e-3 else "no") + " / " +
                    ("yes" if cpu < 2e-3 else "no") + " | | |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
