#!/usr/bin/env python3
"""Calibrator-to-forward ratios of quantspace-bench over several runs of the process.

The calibrators' target (docs/performance.md) is a ratio measured in one run: each
BM_Calibrate/<method>/32x56x56x128 against BM_FakeQuantPerChannel/32x56x56x128/threads:1. The
forward waits on memory and the calibrators mostly on the core, so on a shared machine the ratio
moves from run to run far more than either figure's noise within a run. This script starts each
binary RUNS times (two binaries by turns: a before / after comparison), takes every run's medians
of --repetitions, and prints per method every run's ratio and their median, with the target.

    python3 tools/calib_ratios.py build/quantspace-bench [../base/build/quantspace-bench]
        [--runs 5] [--repetitions 5] [--json]
"""
import argparse
import json
import statistics
import sys

from bench_medians import medians, milliseconds

SHAPE = "32x56x56x128"
FORWARD = f"BM_FakeQuantPerChannel/{SHAPE}/threads:1/real_time"
TARGET = 3.0


def run_once(binary, repetitions):
    found = medians(binary, f"^(BM_FakeQuantPerChannel/{SHAPE}/threads:1|BM_Calibrate/[a-z]+/{SHAPE})"
                    "/real_time$", repetitions)
    if FORWARD not in found:
        sys.exit(f"{binary}: no {FORWARD} in its output")
    return {name: milliseconds(b) for name, b in found.items()}


def method_of(name):
    return name.split("/")[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binaries", nargs="+", help="one or two quantspace-bench binaries")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--repetitions", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the runs as JSON instead")
    args = ap.parse_args()
    if len(args.binaries) > 2:
        ap.error("at most two binaries")
    runs = {b: [] for b in args.binaries}
    for r in range(args.runs):
        for b in args.binaries:
            runs[b].append(run_once(b, args.repetitions))
            print(f"run {r + 1}/{args.runs}: {b}", file=sys.stderr)
    if args.json:
        json.dump(runs, sys.stdout, indent=1)
        return
    for b, rs in runs.items():
        print(f"{b}: forward (ms) " + " ".join(f"{m[FORWARD]:.2f}" for m in rs))
        print(f"  {'method':<11} {'median':>7}  per run (calibrator / forward; target {TARGET:g}x)")
        for name in sorted(n for n in rs[0] if n != FORWARD):
            ratios = [m[name] / m[FORWARD] for m in rs if name in m]
            med = statistics.median(ratios)
            mark = "meets" if med <= TARGET else "misses"
            print(f"  {method_of(name):<11} {med:6.2f}x  " + " ".join(f"{x:.2f}" for x in ratios)
                  + f"  ({mark})")


if __name__ == "__main__":
    main()
