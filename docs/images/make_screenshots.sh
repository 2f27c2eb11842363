#!/bin/sh
# Regenerates the user guide's pictures with `quantspace --screenshot` (no display needed).
# Usage: docs/images/make_screenshots.sh [path/to/quantspace]
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
qs=${1:-$root/build/quantspace}
export QT_QPA_PLATFORM=offscreen
"$qs" --screenshot "$here/using-method-result.png" --inspect fq.result_output \
  "$root/assets/examples/using_method.page.json"
"$qs" --screenshot "$here/using-method-input.png" --inspect x.result_output \
  "$root/assets/examples/using_method.page.json"
"$qs" --screenshot "$here/using-method-4bit.png" --inspect fq.result_output \
  "$here/using_method_4bit.page.json"
"$qs" --screenshot "$here/using-method-error.png" --inspect fq.result_output --size 1280x800 \
  "$here/using_method_error.page.json"
# A page fitted below 80% zoom: blocks labelled with id and type in a screen-sized font.
"$qs" --screenshot "$here/calibration-overview.png" --inspect fq.result_output \
  "$root/assets/examples/calibration.page.json"
# A large page (1,000 blocks, 1,200 wires) fitted: blocks become plain boxes coloured by status.
big=$(mktemp --suffix=.page.json)
python3 - "$big" <<'PY'
import json, sys
# Groups of five: an input, a min and a max Const, then two PerChannel blocks in a row.
blocks, links = [], []
for g in range(200):
    x, lo, hi, a, b = (f"{n}{g}" for n in ("x", "lo", "hi", "fq", "fqb"))
    col, row = g % 8, g // 8
    def at(k):
        return [40 + (col * 5 + k) * 190, 40 + row * 260]
    blocks += [
        {"id": x, "type": "Const", "position": at(0), "attrs": {"shape": [4], "values": [-1, 0, 5, 6]}},
        {"id": lo, "type": "Const", "position": at(1), "attrs": {"shape": [4], "values": [0, 0, 0, 0]}},
        {"id": hi, "type": "Const", "position": at(2), "attrs": {"shape": [4], "values": [5, 5, 5, 5]}},
        # Every 23rd group has num_bits 1, out of range: its blocks show as red boxes.
        {"id": a, "type": "FakeQuantWithMinMaxVarsPerChannel", "position": at(3),
         "attrs": {"num_bits": 1 if g % 23 == 7 else 8}},
        {"id": b, "type": "FakeQuantWithMinMaxVarsPerChannel", "position": at(4), "attrs": {}},
    ]
    for src, dst, port in ((x, a, "inputs"), (lo, a, "min"), (hi, a, "max"),
                           (a, b, "inputs"), (lo, b, "min"), (hi, b, "max")):
        links.append({"from": [src, "output"], "to": [dst, port]})
json.dump({"format": "quantspace-page", "version": 1, "name": "large", "blocks": blocks,
           "links": links}, open(sys.argv[1], "w"))
PY
"$qs" --screenshot "$here/large-page.png" --inspect fqb0.result_output "$big"
rm -f "$big"
