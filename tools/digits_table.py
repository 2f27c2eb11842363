#!/usr/bin/python3
"""Regenerates the table of docs/guide-digits.md from the runner.

Trains assets/examples/digits_float.page.json in float, then evaluates and fine-tunes
assets/examples/digits_qat.page.json from the trained state at 8, 4, 3 and 2 bits, then the
variant assets/examples/digits_qat_learned.page.json, whose per-channel ranges are learned with a
rounding-noise term (once with the weights kept, once fine-tuned with them), and prints the table in
Markdown with the command behind each figure. Python standard library only.

  /usr/bin/python3 tools/digits_table.py [--runner build/quantspace-run] [--work DIR]
      [--float-steps 600] [--qat-steps 300] [--threads N]
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOAT_PAGE = "assets/examples/digits_float.page.json"
QAT_PAGE = "assets/examples/digits_qat.page.json"
LEARNED_PAGE = "assets/examples/digits_qat_learned.page.json"
WEIGHTS = ("w1", "w2", "w3")
WIDTHS = (8, 4, 3, 2)


def run(runner, args):
    """Runs the runner from the repository root; returns {result name: first value}."""
    cmd = [runner] + args
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (done.returncode, shlex.join(cmd), done.stderr))
    values = {}
    for line in done.stdout.splitlines():
        m = re.match(r"(\S+)  \[\]  \[([^\]]+)\]", line)
        if m:
            values[m.group(1)] = float(m.group(2))
    return values


def set_bits(bits):
    args = []
    for w in WEIGHTS:
        args += ["--set", "%s_pc.num_bits=%d" % (w, bits), "--set", "%s_pt.num_bits=%d" % (w, bits)]
    return args


def learned_bits(bits):
    """set_bits, and the rounding-noise term's step per unit of range, 1 / (2^bits - 1)."""
    return set_bits(bits) + ["--set", "per_level.values=[%r]" % (1 / (2 ** bits - 1))]


def fetch(*names):
    args = []
    for n in names:
        args += ["--fetch", n + ".result_output"]
    return args


def percent(v):
    return "%.2f" % (100 * v)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runner", default="build/quantspace-run")
    p.add_argument("--work", help="folder for the state files (default: a temporary one)")
    p.add_argument("--float-steps", type=int, default=600)
    p.add_argument("--qat-steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=0, help="--threads for the runner (0: its default)")
    a = p.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="digits_")
    os.makedirs(work, exist_ok=True)
    threads = ["--threads", str(a.threads)] if a.threads else []
    state = os.path.join(work, "float.npz")

    float_cmd = [FLOAT_PAGE, "--steps", str(a.float_steps), "--save-state", state] + threads + fetch(
        "accuracy")
    acc = run(a.runner, float_cmd)["accuracy.result_output"]
    rows = [("float", "-", percent(acc), "-", shlex.join(["quantspace-run"] + float_cmd))]
    for bits in WIDTHS:
        ptq_cmd = [QAT_PAGE, "--load-state", state, "--steps", "0"] + set_bits(bits) + threads + fetch(
            "accuracy", "accuracy_pt", "accuracy_pc")
        r = run(a.runner, ptq_cmd)
        if r["accuracy.result_output"] != acc:
            sys.exit("the fine-tuning page's float accuracy differs from the float page's")
        rows.append(("post-training", str(bits), percent(r["accuracy_pt.result_output"]),
                     percent(r["accuracy_pc.result_output"]), shlex.join(["quantspace-run"] + ptq_cmd)))
    for bits in WIDTHS:
        qat_cmd = [QAT_PAGE, "--load-state", state, "--steps", str(a.qat_steps)] + set_bits(
            bits) + threads + fetch("accuracy_pc")
        r = run(a.runner, qat_cmd)
        rows.append(("fine-tuned per channel", str(bits), "-", percent(r["accuracy_pc.result_output"]),
                     shlex.join(["quantspace-run"] + qat_cmd)))

    for kind, keep in (("post-training, learned ranges", True),
                       ("fine-tuned, learned ranges", False)):
        for bits in WIDTHS:
            cmd = [LEARNED_PAGE, "--load-state-partial", state, "--steps", str(a.qat_steps)]
            cmd += (["--set", "lr.values=[0]"] if keep else []) + learned_bits(bits) + threads
            r = run(a.runner, cmd + fetch("accuracy_pc"))
            rows.append((kind, str(bits), "-", percent(r["accuracy_pc.result_output"]),
                         shlex.join(["quantspace-run"] + cmd + fetch("accuracy_pc"))))

    print("| weights | bits | per tensor (%) | per channel (%) |")
    print("|---|---|---|---|")
    for kind, bits, pt, pc, _ in rows:
        print("| %s | %s | %s | %s |" % (kind, bits, pt, pc if kind != "float" else pt))
    print()
    print("Commands (the state file is %s):" % state)
    print()
    print("```")
    for kind, bits, _, _, cmd in rows:
        print("# %s%s" % (kind, "" if bits == "-" else ", %s bits" % bits))
        print(cmd.replace(state, "float.npz"))
    print("```")


if __name__ == "__main__":
    main()
