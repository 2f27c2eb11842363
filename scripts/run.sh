#!/usr/bin/env bash
# Builds Quant Space and opens the editor on a page (default: the bundled example). With no
# display, evaluates the page headless with quantspace-run and prints the results.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
page="${1:-$root/assets/examples/using_method.page.json}"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" --parallel
if [ -x "$root/build/quantspace" ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  exec "$root/build/quantspace" "$page"
fi
echo "No display: evaluating $page headless."
exec "$root/build/quantspace-run" "$page"
