#!/usr/bin/env python3
"""Kernel-to-memcpy ratios of quantspace-bench over several runs of the process.

Within one process, Google Benchmark's repetitions reuse the same buffers, so their median hides
how much the figures depend on where the buffers landed in physical memory (which cache sets their
pages share). This script starts quantspace-bench RUNS times, takes each run's median of
--repetitions for every FakeQuant benchmark of a shape and for BM_Memcpy of that shape, and
prints per benchmark the median over the runs of (kernel bytes per second / memcpy bytes per
second), with every run's ratio. Bytes as quantspace-bench counts them: 8 per element for the
forward and memcpy, 12 for the gradient.

    python3 tools/bench_ratios.py build/quantspace-bench [--runs 7] [--repetitions 3]
        [--shapes 1x224x224x3,4096x1024,32x56x56x128] [--json]
"""
import argparse
import json
import statistics
import sys

from bench_medians import medians

# The kernels' targets, as a fraction of memcpy's bytes per second.
def target(name):
    if "Gradient" in name:
        return 0.7
    return 0.4 if "/1x224x224x3/" in name else 0.85


def run_once(binary, shape, repetitions):
    found = medians(binary, f"(BM_FakeQuantPerChannel[A-Za-z]*|BM_Memcpy)/{shape}(/|$)",
                    repetitions)
    bps = {name.replace("/real_time", ""): b["bytes_per_second"] for name, b in found.items()}
    memcpy = bps.pop(f"BM_Memcpy/{shape}")
    return {name: v / memcpy for name, v in bps.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--repetitions", type=int, default=3)
    ap.add_argument("--shapes", default="1x224x224x3,4096x1024,32x56x56x128")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    ratios = {}
    for shape in args.shapes.split(","):
        for _ in range(args.runs):
            for name, r in run_once(args.binary, shape, args.repetitions).items():
                ratios.setdefault(name, []).append(r)
    if args.json:
        json.dump({n: {"median": statistics.median(v), "runs": v} for n, v in ratios.items()},
                  sys.stdout, indent=1)
        return
    print(f"| benchmark | ratio to memcpy (median of {args.runs} runs) | min | max | target | met |")
    print("|---|---|---|---|---|---|")
    for name, v in ratios.items():
        m = statistics.median(v)
        print(f"| {name} | {m:.2f} | {min(v):.2f} | {max(v):.2f} | {target(name)} | "
              f"{'yes' if m >= target(name) else 'no'} |")


if __name__ == "__main__":
    main()
