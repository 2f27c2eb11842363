#!/bin/sh
# Regenerates the pictures of the result viewer and the quantization inspector
# (docs/guide-inspector.md) with `quantspace --screenshot` (no display needed).
# Usage: docs/images/make_viewer_screenshots.sh [path/to/quantspace]
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
qs=${1:-$root/build/quantspace}
export QT_QPA_PLATFORM=offscreen
# 1920 x 1200: the docked viewer gets about 690 px, enough for the inspector's four plots.
size=1920x1200
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The inspector on the calibration example. It opens on the channel with the lowest SQNR,
# channel 3 (the badly ranged one), at 8 bits and on copies of the page at 4 and 16 bits.
calibration=$root/assets/examples/calibration.page.json
"$qs" --screenshot "$here/inspector-calibration.png" --size $size \
  --inspect fq.result_output --view quantization "$calibration"
for bits in 4 16; do
  sed "s/\"num_bits\": 8/\"num_bits\": $bits/" "$calibration" >"$tmp/calibration-$bits.page.json"
  grep -q "\"num_bits\": $bits" "$tmp/calibration-$bits.page.json"
  "$qs" --screenshot "$here/inspector-calibration-${bits}bit.png" --size $size \
    --inspect fq.result_output --view quantization "$tmp/calibration-$bits.page.json"
done

# The other tabs, on a result with a picture in it: x^2 + y^2 (+ an offset per slice, + a little
# noise), shape [4, 48, 64], fake-quantized to 3 bits over [0, 6]: 8 levels, rings in the
# heatmap, 8 spikes in the histogram.
python3 - "$tmp/rings.page.json" <<'PY'
import json, sys
def lin(a, b, n):
    return [round(a + (b - a) * i / (n - 1), 6) for i in range(n)]
blocks = [
    {"id": "rows", "type": "Const", "position": [40, 40],
     "attrs": {"shape": [1, 48, 1], "values": lin(-1.5, 1.5, 48)}},
    {"id": "cols", "type": "Const", "position": [40, 220],
     "attrs": {"shape": [1, 1, 64], "values": lin(-2, 2, 64)}},
    {"id": "offset", "type": "Const", "position": [40, 400],
     "attrs": {"shape": [4, 1, 1], "values": [0, 0.5, 1, 2]}},
    {"id": "noise", "type": "RandomNormal", "position": [40, 580],
     "attrs": {"shape": [4, 48, 64], "seed": 3, "mean": 0, "stddev": 0.05}},
    {"id": "rows2", "type": "Square", "position": [260, 40], "attrs": {}},
    {"id": "cols2", "type": "Square", "position": [260, 220], "attrs": {}},
    {"id": "bowl", "type": "Add", "position": [480, 120], "attrs": {}},
    {"id": "shifted", "type": "Add", "position": [700, 260], "attrs": {}},
    {"id": "x", "type": "Add", "position": [920, 400], "attrs": {}},
    {"id": "fq", "type": "FakeQuantWithMinMaxArgs", "position": [1140, 400],
     "attrs": {"min": 0, "max": 6, "num_bits": 3, "narrow_range": False}},
]
def link(a, ap, b, bp):
    return {"from": [a, ap], "to": [b, bp]}
links = [link("rows", "output", "rows2", "x"), link("cols", "output", "cols2", "x"),
         link("rows2", "y", "bowl", "x"), link("cols2", "y", "bowl", "y"),
         link("bowl", "z", "shifted", "x"), link("offset", "output", "shifted", "y"),
         link("shifted", "z", "x", "x"), link("noise", "output", "x", "y"),
         link("x", "z", "fq", "inputs")]
json.dump({"format": "quantspace-page", "version": 1,
           "name": "A bowl, fake-quantized to 3 bits", "blocks": blocks, "links": links},
          open(sys.argv[1], "w"), indent=1)
PY
for view in values heatmap histogram; do
  "$qs" --screenshot "$here/viewer-$view.png" --size $size \
    --inspect fq.result_output --view $view "$tmp/rings.page.json"
done
