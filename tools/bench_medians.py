"""One run of a quantspace-bench binary: the median aggregate of every benchmark its filter picks,
by run name (the scripts beside this file compare such runs: bench_ratios.py, calib_ratios.py)."""
import json
import subprocess
import sys


def medians(binary, benchmark_filter, repetitions):
    if repetitions < 2:
        sys.exit("--repetitions must be at least 2: Google Benchmark reports no median of one")
    out = subprocess.run(
        [binary, f"--benchmark_filter={benchmark_filter}",
         f"--benchmark_repetitions={repetitions}", "--benchmark_report_aggregates_only=true",
         "--benchmark_format=json"],
        capture_output=True, text=True, check=True).stdout
    return {b["run_name"]: b for b in json.loads(out)["benchmarks"]
            if b.get("aggregate_name") == "median"}


def milliseconds(aggregate):
    return aggregate["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[aggregate["time_unit"]]
