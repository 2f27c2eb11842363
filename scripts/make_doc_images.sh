#!/bin/sh
# Renders every picture of docs/images/ with the editor itself (`quantspace --screenshot`, no
# display needed). One command refreshes them all after a change to what the editor draws:
#
#   scripts/make_doc_images.sh                 # into docs/images/, with build/quantspace
#   scripts/make_doc_images.sh OUT_DIR [QUANTSPACE]
#
# The GUI test "docs/images are what scripts/make_doc_images.sh renders" renders into a
# temporary folder and compares with the committed pictures; when it fails after an intended
# change of the drawing, run this script and commit the new pictures.
set -e
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/docs/images}
qs=${2:-$root/build/quantspace}
pages=$root/docs/images  # the pages made only for the pictures live beside them
examples=$root/assets/examples
# Always offscreen: a picture must not depend on the screen the script happens to run on.
export QT_QPA_PLATFORM=offscreen
[ -x "$qs" ] || { echo "make_doc_images.sh: no editor at $qs (build first)" >&2; exit 2; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shot NAME.png ARGS...: one picture. Qt's offscreen notices are dropped, unless it fails.
shot() {
  name=$1
  shift
  if ! "$qs" --screenshot "$out/$name" "$@" 2>"$tmp/$name.log"; then
    echo "make_doc_images.sh: $name failed:" >&2
    cat "$tmp/$name.log" >&2
    return 1
  fi
}

# The user guide (docs/user-guide.md), at the default 1600 x 1000.
user_guide() {
  shot using-method-result.png --inspect fq.result_output \
    "$examples/using_method.page.json"
  shot using-method-input.png --inspect x.result_output "$examples/using_method.page.json"
  # The Values tab: 0.7 and 2.2 on the 4-bit levels, as the guide's caption says.
  shot using-method-4bit.png --inspect fq.result_output --view values \
    "$pages/using_method_4bit.page.json"
  shot using-method-error.png --inspect fq.result_output --size 1280x800 \
    "$pages/using_method_error.page.json"
  # A page fitted below 80% zoom: blocks labelled with id and type in a screen-sized font.
  shot calibration-overview.png --inspect fq.result_output "$examples/calibration.page.json"
  # A large page (1,000 blocks, 1,200 wires) fitted: blocks become plain boxes coloured by status.
  python3 "$root/scripts/doc_image_pages.py" large "$tmp/large.page.json"
  shot large-page.png --inspect fqb0.result_output "$tmp/large.page.json"
}

# The result viewer and the quantization inspector (docs/guide-inspector.md), at 1920 x 1200:
# the docked viewer gets about 690 px, enough for the inspector's four plots.
viewer() {
  size=1920x1200
  calibration=$examples/calibration.page.json
  # The inspector opens on the channel with the lowest SQNR, channel 3 (the badly ranged one).
  shot inspector-calibration.png --size $size --inspect fq.result_output --view quantization \
    "$calibration"
  for bits in 4 16; do
    sed "s/\"num_bits\": 8/\"num_bits\": $bits/" "$calibration" >"$tmp/calibration-$bits.page.json"
    grep -q "\"num_bits\": $bits" "$tmp/calibration-$bits.page.json"
    shot "inspector-calibration-${bits}bit.png" --size $size --inspect fq.result_output \
      --view quantization "$tmp/calibration-$bits.page.json"
  done
  # The Calibrators tab on the bake-off page's outlier channel (3, the lowest SQNR).
  shot inspector-calibrators.png --size $size --inspect fq.result_output --view calibrators \
    "$examples/calibration_bakeoff.page.json"
  # x^2 + y^2 (+ an offset per slice, + a little noise), shape [4, 48, 64], fake-quantized to
  # 3 bits over [0, 6]: 8 levels, rings in the heatmap, 8 spikes in the histogram.
  python3 "$root/scripts/doc_image_pages.py" rings "$tmp/rings.page.json"
  for view in values heatmap histogram; do
    shot "viewer-$view.png" --size $size --inspect fq.result_output --view $view \
      "$tmp/rings.page.json"
  done
}

# The Training panel and the inspector during a run of learn_ranges (docs/guide-training.md):
# the editor takes the steps the way `quantspace-run --steps` does, then draws the window.
training() {
  page=$examples/learn_ranges.page.json
  # After 200 steps: the loss in the Training panel, the learned ranges in the inspector (trail
  # over the histogram, min and max over the steps), at the two usual sizes.
  for size in 1600x1000 1280x800; do
    shot "training-$size.png" --size $size --train-steps 200 \
      --show-training loss.result_output --inspect fq.result_output "$page"
  done
  # Fewer steps: the range is still moving, so its trail is long.
  shot training-inspector-40-steps.png --size 1600x1000 --train-steps 40 \
    --show-training loss.result_output --inspect fq.result_output "$page"
}

# Side by side: the renders are single-threaded and independent.
user_guide &
first=$!
training &
second=$!
viewer
wait $first
wait $second
