#!/usr/bin/env python3
"""The whole story of docs/user-guide.md under a real X server, driven from outside the process.

Starts Xvfb and the editor (quantspace --debug-readout FILE), then uses only xdotool (XTEST mouse
and key events, as a user's) to drag FakeQuantWithMinMaxVarsPerChannel and three Const blocks
from the palette, type the Using Method values, wire the ports, evaluate, click the block and
check the viewer's values against a double-precision fake-quant written here; then it opens
assets/examples/learn_ranges.page.json with File > Open, trains (F6, F7) and checks that the
loss shown fell. The read-out file says where things are on the screen and what the window
shows; the test never reads the editor's numbers to work out what they should be.

Exit status 0 when the story passes, 1 with a message naming the failed step otherwise.
docs/testing.md says more.
"""
import argparse
import ctypes
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOTAL_SECONDS = 50  # the CTest timeout is 60 s: fail with our own message first
STEP_SECONDS = 15  # the longest wait for one thing to show up


class StoryFailure(Exception):
    pass


def _die_with_parent():
    """Children get SIGTERM if this script is killed (e.g. by CTest's timeout), so that no Xvfb
    or editor is left behind even then."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def fake_quant_double(x, lo, hi, num_bits, narrow_range):
    """TensorFlow's FakeQuantWithMinMaxVars for one channel, in double precision and plain Python
    (docs/spec.md): nudge the range so that zero is exactly representable, clamp to the nudged
    range, round half up on its grid."""
    quant_min = 1.0 if narrow_range else 0.0
    quant_max = float(2**num_bits - 1)
    scale = (hi - lo) / (quant_max - quant_min)
    zero_from_min = quant_min - lo / scale
    if zero_from_min < quant_min:
        zero = quant_min
    elif zero_from_min > quant_max:
        zero = quant_max
    else:
        zero = math.floor(zero_from_min + 0.5)
    nudged_lo = (quant_min - zero) * scale
    nudged_hi = (quant_max - zero) * scale
    clamped = min(max(x, nudged_lo), nudged_hi)
    return math.floor((clamped - nudged_lo) / scale + 0.5) * scale + nudged_lo


def centre(rect):
    return rect["x"] + rect["w"] // 2, rect["y"] + rect["h"] // 2


class Story:
    def __init__(self, editor, root, workdir):
        self.editor_path = editor
        self.root = root
        self.work = workdir
        self.readout_path = os.path.join(workdir, "readout.json")
        self.xvfb = None
        self.editor = None
        self.display = None
        self.env = None
        self.last = {}
        self.step_name = "start"

    # ---- processes ----------------------------------------------------------------------------

    def start_xvfb(self):
        for tool in ("Xvfb", "xdotool"):
            if not shutil.which(tool):
                raise StoryFailure(f"{tool} is not installed: run scripts/install-deps.sh "
                                   "(it installs xvfb and xdotool)")
        read_fd, write_fd = os.pipe()
        # -displayfd: Xvfb picks a free display itself and writes its number once it listens.
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1920x1200x24", "-nolisten",
             "tcp", "-noreset"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.work, "xvfb.log"), "w"), preexec_fn=_die_with_parent)
        os.close(write_fd)
        number = b""
        deadline = time.monotonic() + STEP_SECONDS
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            chunk = os.read(read_fd, 16)
            if not chunk:
                break
            number += chunk
        os.close(read_fd)
        if not number.strip().isdigit():
            raise StoryFailure("Xvfb did not start (see xvfb.log)")
        self.display = ":" + number.decode().strip()
        env = dict(os.environ)
        env.pop("QT_QPA_PLATFORM", None)  # scripts/test.sh exports offscreen for the other tests
        env.pop("WAYLAND_DISPLAY", None)
        env["QT_QPA_PLATFORM"] = "xcb"
        env["DISPLAY"] = self.display
        # Settings, recent files and autosave copies go to the scratch folder, not the user's.
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"):
            path = os.path.join(self.work, var.lower())
            os.makedirs(path, mode=0o700, exist_ok=True)
            env[var] = path
        env["QS_RECOVERY"] = "discard"
        self.env = env

    def start_editor(self):
        self.editor = subprocess.Popen(
            [self.editor_path, "--debug-readout", self.readout_path], env=self.env,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "editor.log"), "w"),
            preexec_fn=_die_with_parent)
        search = subprocess.Popen(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name", "Quant Space"],
            env=self.env, stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + STEP_SECONDS
        # Waits for the window, but not for an editor that has already exited.
        while (search.poll() is None and self.editor.poll() is None
               and time.monotonic() < deadline):
            time.sleep(0.05)
        if search.poll() is None:
            search.kill()
        windows = search.communicate()[0].split()
        if not windows:
            exited = self.editor.poll()
            raise StoryFailure("the editor's window did not appear" +
                               (f" (the editor exited with status {exited})"
                                if exited is not None else f" within {STEP_SECONDS} s"))
        # A fixed place and size (there is no window manager to choose them).
        self.xdo("windowsize", windows[0], "1600", "1000", "windowmove", windows[0], "0", "0")
        self.wait("the window at 0,0 in 1600 x 1000 with the canvas shown",
                  lambda r: r["window"]["rect"] == {"x": 0, "y": 0, "w": 1600, "h": 1000}
                  and r["canvas"] is not None)

    def stop(self):
        for proc in (self.editor, self.xvfb):
            if proc is None or proc.poll() is not None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # ---- the read-out and input ---------------------------------------------------------------

    def readout(self):
        if self.editor.poll() is not None:
            raise StoryFailure(f"the editor exited with status {self.editor.returncode}")
        try:
            with open(self.readout_path) as f:
                self.last = json.load(f)
        except (OSError, ValueError):
            pass  # not written yet: keep the last one
        return self.last

    def wait(self, what, predicate, timeout=STEP_SECONDS):
        deadline = time.monotonic() + timeout
        while True:
            r = self.readout()
            try:
                result = predicate(r) if r else None
            except (KeyError, IndexError, TypeError):
                result = None
            if result:
                return result
            if time.monotonic() > deadline:
                raise StoryFailure(f"waited {timeout} s for {what}")
            time.sleep(0.05)

    def xdo(self, *args):
        subprocess.run(["xdotool", *args], env=self.env, check=True, timeout=STEP_SECONDS)

    def click(self, point):
        self.xdo("mousemove", str(point[0]), str(point[1]), "sleep", "0.05", "click", "1")

    def drag(self, start, end, steps=20):
        """Press, move in steps (a QDrag needs motion past the drag distance and over the target),
        release."""
        args = ["mousemove", str(start[0]), str(start[1]), "sleep", "0.05", "mousedown", "1"]
        for i in range(1, steps + 1):
            x = start[0] + (end[0] - start[0]) * i // steps
            y = start[1] + (end[1] - start[1]) * i // steps
            args += ["mousemove", str(x), str(y), "sleep", "0.02"]
        args += ["mousemove", str(end[0] + 1), str(end[1]), "sleep", "0.05", "mousemove",
                 str(end[0]), str(end[1]), "sleep", "0.05", "mouseup", "1"]
        self.xdo(*args)

    def type_into(self, rect, text):
        """Clicks a text field, replaces what it holds and presses Enter."""
        self.click(centre(rect))
        self.xdo("key", "ctrl+a")
        self.xdo("type", "--delay", "5", text)
        self.xdo("key", "Return")

    # ---- the story ----------------------------------------------------------------------------

    def block(self, r, block_id):
        return next(b for b in r["blocks"] if b["id"] == block_id)

    def click_block(self, block_id):
        box = self.wait(f"block {block_id} in sight on the canvas",
                        lambda r: self.block(r, block_id)["box"])
        self.click(centre(box))

    def palette_item(self, type_name):
        """Where the palette shows `type_name`; types it into the search field when it is
        scrolled away."""
        r = self.readout()
        if type_name not in r["palette"]["items"]:
            self.type_into(r["palette"]["search"], type_name)
        return self.wait(f"'{type_name}' in the palette",
                         lambda r: r["palette"]["items"].get(type_name))

    def drag_from_palette(self, type_name, at):
        before = {b["id"] for b in self.readout()["blocks"]}
        self.drag(centre(self.palette_item(type_name)), at)

        def new_block(r):
            return next((b["id"] for b in r["blocks"]
                         if b["id"] not in before and b["type"] == type_name), None)
        return self.wait(f"a new {type_name} block on the canvas after dragging it from the "
                         "palette (a broken palette drag stops here)", new_block)

    def set_values(self, block_id, values):
        self.click_block(block_id)
        field = self.wait(f"the attribute editor showing {block_id}'s 'values' field",
                          lambda r: r["attributes"]["block"] == block_id
                          and r["attributes"]["fields"]["values"]["rect"])
        self.type_into(field, json.dumps(values).replace(",", ", "))
        self.wait(f"{block_id}.values = {values} in the page",
                  lambda r: next(b for b in r["page"]["blocks"] if b["id"] == block_id)
                  ["attrs"].get("values") == values)

    def wire(self, source, target, port):
        r = self.readout()
        self.drag(self.block(r, source)["ports"]["out:output"],
                  self.block(r, target)["ports"]["in:" + port], steps=12)
        link = {"from": [source, "output"], "to": [target, port]}
        self.wait(f"a wire {source}.output -> {target}.{port}",
                  lambda r: link in r["page"]["links"])

    def using_method(self):
        self.step_name = "Using Method: drag blocks from the palette"
        canvas = self.readout()["canvas"]
        x0, y0 = canvas["x"], canvas["y"]
        consts = [self.drag_from_palette("Const", (x0 + 110, y0 + 90 + 230 * i)) for i in range(3)]
        fq = self.drag_from_palette("FakeQuantWithMinMaxVarsPerChannel", (x0 + 420, y0 + 300))

        self.step_name = "Using Method: type the values"
        inputs, lo, hi = [-1, 0, 5, 6], [0, 0, 0, 0], [5, 5, 5, 5]
        for block_id, values in zip(consts, (inputs, lo, hi)):
            self.set_values(block_id, values)

        self.step_name = "Using Method: wire the ports"
        for block_id, port in zip(consts, ("inputs", "min", "max")):
            self.wire(block_id, fq, port)

        self.step_name = "Using Method: evaluate and read the viewer"
        self.xdo("key", "F5")
        self.wait(f"{fq} evaluated (status ok)",
                  lambda r: self.block(r, fq)["status"] == "ok")
        self.click_block(fq)
        shown = self.wait(f"the viewer showing {fq}.result_output",
                          lambda r: r["viewer"]["result"] == f"{fq}.result_output"
                          and r["viewer"]["count"] == 4 and r["viewer"])
        expected = [fake_quant_double(x, a, b, 8, False) for x, a, b in zip(inputs, lo, hi)]
        for i, (got, want) in enumerate(zip(shown["values"], expected)):
            if abs(got - want) > 1e-5 * max(1.0, abs(want)):
                raise StoryFailure(f"the viewer shows {shown['values']} for {fq}.result_output, "
                                   f"expected {expected} (element {i} differs)")
        print(f"ok: the viewer shows {fq}.result_output = {shown['values']}")

    def open_page(self, path):
        self.step_name = "File > Open learn_ranges.page.json"
        self.xdo("key", "ctrl+o")
        modal = self.wait("a dialog after Ctrl+O", lambda r: r["modal"])
        if "Discard" in modal["buttons"]:  # the Using Method page is not saved
            self.click(centre(modal["buttons"]["Discard"]))
            modal = self.wait("the file dialog", lambda r: r["modal"] and
                              r["modal"]["class"] == "QFileDialog" and r["modal"])
        if modal["class"] != "QFileDialog":
            raise StoryFailure(f"Ctrl+O showed '{modal['title']}' ({modal['class']}), not the "
                               "file dialog")
        time.sleep(0.2)  # the dialog's file name field takes the focus when it is shown
        # The dialog changes folders at the typed path's slashes, and a folder listing that
        # arrives later clears the field, so a Return may find it empty: type the path again
        # while the dialog is still up.
        for attempt in range(5):
            self.xdo("key", "ctrl+a")
            self.xdo("type", "--delay", "2", path)
            self.xdo("key", "Return")
            try:
                self.wait("the file dialog to close", lambda r: r["modal"] is None or
                          r["modal"]["class"] != "QFileDialog", timeout=3)
                break
            except StoryFailure:
                if attempt == 4:
                    raise
                print(f"the file dialog is still open after Return (try {attempt + 1}): again")
        with open(path) as f:
            name = json.load(f)["name"]
        self.wait(f"the page '{name}' open", lambda r: r["modal"] is None
                  and r["page"]["name"] == name)

    def learn_ranges(self):
        self.open_page(os.path.join(self.root, "assets", "examples", "learn_ranges.page.json"))
        self.step_name = "learn_ranges: the loss before training"
        self.wait("'loss' evaluated (status ok)",
                  lambda r: self.block(r, "loss")["status"] == "ok", timeout=30)
        self.click_block("loss")
        first = self.wait("the viewer showing loss.result_output",
                          lambda r: r["viewer"]["result"] == "loss.result_output"
                          and r["viewer"]["count"] == 1 and r["viewer"]["values"])[0]
        print(f"ok: loss before training {first}")
        if "actionTrain" not in self.readout()["actions"]:
            print("SKIPPED the training part: this editor has no Run > Train action "
                  "(objectName actionTrain) yet")
            return
        self.train(first)

    def train(self, first):
        """Sets the toolbar's step count to 200, trains (F6) and pauses (F7); the loss shown must
        have fallen."""
        self.step_name = "learn_ranges: train 200 steps (F6), pause (F7)"
        box = self.readout()["spinBoxes"].get("trainStepsBox")
        if box and box["rect"]:  # the toolbar's step count; without it Train runs until paused
            self.type_into(box["rect"], "200")
            self.wait("200 in the step count box",
                      lambda r: r["spinBoxes"]["trainStepsBox"]["text"].startswith("200"))
        self.xdo("key", "F6")
        seen = {"steps": -1, "started": False}

        def trained(r):
            # The status bar's step count only grows; a run of N steps may also end by itself
            # (Train enabled again) between two looks.
            seen["steps"] = max(seen["steps"], steps_shown(r))
            training = not r["actions"]["actionTrain"]["enabled"]
            seen["started"] = seen["started"] or training
            return seen["steps"] >= 200 or (seen["started"] and not training)
        self.wait("200 steps shown in the status bar", trained, timeout=30)
        steps = seen["steps"]
        self.xdo("key", "F7")
        self.wait("training paused (Train enabled again)",
                  lambda r: r["actions"]["actionTrain"]["enabled"]
                  and not r["actions"].get("actionPause", {}).get("enabled", False))
        time.sleep(0.3)  # the viewer's last, throttled update
        last = self.wait("the viewer showing loss.result_output after training",
                         lambda r: r["viewer"]["result"] == "loss.result_output"
                         and r["viewer"]["values"])[0]
        if not last < first:
            raise StoryFailure(f"the loss shown did not fall: {first} before, {last} after "
                               f"training ({steps} steps seen in the status bar)")
        print(f"ok: loss {first} -> {last} ({steps} steps seen in the status bar)")

    def describe(self):
        """What the window showed last, for a failure message."""
        r = self.last or {}
        keys = ("focus", "modal", "status", "viewer", "attributes")
        return "\n".join(f"  {k}: {json.dumps(r.get(k))[:400]}" for k in keys)


def steps_shown(r):
    """The largest step count the status bar shows ("step 200", "Steps: 200"), or -1."""
    texts = [r["status"]["message"], *r["status"]["labels"]]
    counts = [int(m) for t in texts for m in re.findall(r"(?i)\bsteps?\D{0,3}(\d+)", t)]
    return max(counts, default=-1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--editor", required=True, help="the quantspace executable")
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."),
                        help="the source tree (for assets/examples)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="qs-xvfb-story-")
    story = Story(os.path.abspath(args.editor), os.path.abspath(args.root), work)
    start = time.monotonic()

    def out_of_time(signum, frame):
        raise StoryFailure(f"the story took longer than {TOTAL_SECONDS} s")
    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit("xvfb story test: terminated"))
    signal.alarm(TOTAL_SECONDS)
    failed = True
    try:
        story.start_xvfb()
        story.start_editor()
        story.using_method()
        story.learn_ranges()
        failed = False
    except (StoryFailure, subprocess.SubprocessError) as e:  # xdotool failing or hanging too
        print(f"FAILED at '{story.step_name}': {e}\nthe window showed:\n{story.describe()}",
              file=sys.stderr)
    finally:
        signal.alarm(0)
        story.stop()
        if failed or args.keep:
            print(f"scratch folder (read-out, editor.log, xvfb.log): {work}", file=sys.stderr)
            log = os.path.join(work, "editor.log")
            if failed and os.path.exists(log):
                with open(log) as f:
                    tail = f.read()[-2000:]
                if tail.strip():
                    print("editor.log:\n" + tail, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"xvfb story test: {'FAILED' if failed else 'passed'} in "
          f"{time.monotonic() - start:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
