#!/usr/bin/env python3
"""Prints the per-channel table of docs/guide-pretrained.md from the runner's --json output.

Usage: python3 scripts/pretrained_table.py [build/quantspace-run]

Runs assets/examples/pretrained_depthwise.page.json (the fetched face detector's conv3 depthwise
filter, quantized per tensor and per channel at 8 and 4 bits) and lists, for the channels whose
range is smallest and largest, the range and each report's SQNR and clipped fraction.
Python standard library only.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "assets", "examples", "pretrained_depthwise.page.json")
REPORTS = ["report_tensor_8", "report_channel_8", "report_tensor_4", "report_channel_4"]


def main():
    runner = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "quantspace-run")
    fetch = ["channel_min.result_output", "channel_max.result_output"]
    for r in REPORTS:
        fetch += [r + ".result_sqnr_db", r + ".result_clipped_below", r + ".result_clipped_above"]
    cmd = [runner, PAGE, "--json", "--threads", "1"]
    for f in fetch:
        cmd += ["--fetch", f]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    if out.get("errors"):
        sys.exit("the page has errors: %s" % out["errors"])
    res = {k: v["values"] for k, v in out["results"].items()}
    lo, hi = res["channel_min.result_output"], res["channel_max.result_output"]
    ranges = [h - l for l, h in zip(lo, hi)]
    order = sorted(range(len(ranges)), key=lambda c: (ranges[c], c))
    shown = order[:8] + order[-2:]

    def sqnr(r, c):
        v = res[r + ".result_sqnr_db"][c]
        return "+inf" if v == "inf" or v == float("inf") else "%.1f" % v

    def clipped(r, c):
        return res[r + ".result_clipped_below"][c] + res[r + ".result_clipped_above"][c]

    print("| channel | min | max | range | 8 bits, per tensor | 8 bits, per channel "
          "| 4 bits, per tensor | 4 bits, per channel |")
    print("|---|---|---|---|---|---|---|---|")
    for c in shown:
        print("| %d | %.4f | %.4f | %.4f | %s | %s | %s | %s |" % (
            c, lo[c], hi[c], ranges[c], sqnr(REPORTS[0], c), sqnr(REPORTS[1], c),
            sqnr(REPORTS[2], c), sqnr(REPORTS[3], c)))
    print()
    print("tensor range: [%.4f, %.4f]" % (min(lo), max(hi)))
    for r in REPORTS:
        finite = sorted(v if isinstance(v, float) else float(v) for v in res[r + ".result_sqnr_db"])
        below = sum(1 for v in finite if v < 15)
        print("%s: median SQNR %.1f dB, lowest %.1f dB, %d channels below 15 dB" % (
            r, finite[len(finite) // 2 - 1] / 2 + finite[len(finite) // 2] / 2, finite[0], below))
    clip = [c for c in range(len(ranges)) if clipped(REPORTS[3], c) > 0.2]
    for c in clip:
        print("channel %d clipped (4 bits per channel): below %.4f, above %.4f" % (
            c, res[REPORTS[3] + ".result_clipped_below"][c],
            res[REPORTS[3] + ".result_clipped_above"][c]))


if __name__ == "__main__":
    main()
