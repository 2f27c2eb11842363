#!/bin/sh
# Regenerates the pictures of the Training panel and of the inspector during a run of
# learn_ranges (docs/guide-training.md) with `quantspace --screenshot --train-steps` (no display
# needed): the editor takes the steps the way `quantspace-run --steps` does, then draws the window.
# Usage: docs/images/make_training_screenshots.sh [path/to/quantspace]
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
qs=${1:-$root/build/quantspace}
export QT_QPA_PLATFORM=offscreen
page=$root/assets/examples/learn_ranges.page.json

# The whole window after 200 steps: the loss in the Training panel, the learned ranges in the
# inspector (trail over the histogram, min and max over the steps), at the two usual sizes.
for size in 1600x1000 1280x800; do
  "$qs" --screenshot "$here/training-$size.png" --size $size --train-steps 200 \
    --show-training loss.result_output --inspect fq.result_output "$page"
done
# Fewer steps: the range is still moving, so its trail is long.
"$qs" --screenshot "$here/training-inspector-40-steps.png" --size 1600x1000 --train-steps 40 \
  --show-training loss.result_output --inspect fq.result_output "$page"
