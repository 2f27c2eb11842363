#!/usr/bin/env bash
# Fetches the real data the examples and some tests use into data/ (git ignores it), with the
# registries' own clients only:
#   data/digits/    the 8x8 handwritten digits of Debian's python3-sklearn package (apt-get
#                   download), converted to .npy, with a fixed train/test split;
#   data/face-api/  the tiny face detector of the npm package @vladmandic/face-api (npm pack), a
#                   TensorFlow.js weights manifest and its shard.
# Each folder keeps its licence and a SOURCE file naming the package and version. A folder that is
# complete with the expected version is left alone, so running this again costs nothing.
# Exits non-zero when something could not be had, after saying what and how to retry.
# docs/data.md describes the files.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
data="${QS_DATA_DIR:-$root/data}"
# The weights are pinned: the examples' figures depend on them.
face_api_version=1.7.15
failed=()

# The version apt would download (empty when the package lists do not know the package).
apt_candidate() {
  apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)' || true
}

# True when $1/SOURCE names version $2 (or any version when $2 is empty) and the listed files exist.
complete() {
  local dir="$1" version="$2"
  shift 2
  [ -f "$dir/SOURCE" ] || return 1
  [ -z "$version" ] || grep -qxF "version: $version" "$dir/SOURCE" || return 1
  for f in "$@"; do [ -s "$dir/$f" ] || return 1; done
}

digit_files=(images.npy labels.npy train_images.npy train_labels.npy test_images.npy
  test_labels.npy copyright)

fetch_digits() {
  local out="$data/digits" version tmp
  version="$(apt_candidate python3-sklearn)"
  if complete "$out" "$version" "${digit_files[@]}"; then
    echo "data/digits: present (python3-sklearn $(sed -n 's/^version: //p' "$out/SOURCE"))"
    return 0
  fi
  echo "data/digits: fetching python3-sklearn with apt-get download"
  tmp="$(mktemp -d)"
  # apt's download user cannot write a root-only temporary folder.
  chmod 755 "$tmp"
  if ! (cd "$tmp" && apt-get download python3-sklearn >"$tmp/log" 2>&1); then
    cat "$tmp/log" >&2
    rm -rf "$tmp"
    return 1
  fi
  local deb
  deb="$(ls "$tmp"/python3-sklearn_*.deb)"
  version="$(dpkg-deb -f "$deb" Version)"
  dpkg-deb -x "$deb" "$tmp/x"
  local pkgdir="$tmp/x/usr/lib/python3/dist-packages/sklearn/datasets/data"
  rm -rf "$out.new"
  mkdir -p "$out.new"
  python3 "$root/scripts/digits_to_npy.py" "$pkgdir/digits.csv.gz" "$out.new"
  cp "$tmp/x/usr/share/doc/python3-sklearn/copyright" "$out.new/copyright"
  printf 'package: python3-sklearn (Debian)\nversion: %s\nfile: %s\n' "$version" \
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz" >"$out.new/SOURCE"
  rm -rf "$out" "$tmp"
  mv "$out.new" "$out"
  echo "data/digits: python3-sklearn $version converted"
}

face_files=(tiny_face_detector_model-weights_manifest.json tiny_face_detector_model.bin LICENSE)

fetch_face_api() {
  local out="$data/face-api" tmp
  if complete "$out" "$face_api_version" "${face_files[@]}"; then
    echo "data/face-api: present (@vladmandic/face-api $face_api_version)"
    return 0
  fi
  if ! command -v npm >/dev/null; then
    echo "npm is missing: install Debian's npm package (apt-get install npm)" >&2
    return 1
  fi
  echo "data/face-api: fetching @vladmandic/face-api@$face_api_version with npm pack"
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && npm pack --silent "@vladmandic/face-api@$face_api_version" >"$tmp/log" 2>&1); then
    cat "$tmp/log" >&2
    rm -rf "$tmp"
    return 1
  fi
  tar -xzf "$tmp"/vladmandic-face-api-*.tgz -C "$tmp" package/package.json package/LICENSE \
    package/model/tiny_face_detector_model-weights_manifest.json \
    package/model/tiny_face_detector_model.bin
  local license
  license="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["license"])' \
    "$tmp/package/package.json")"
  if [ "$license" != MIT ] && [ "$license" != Apache-2.0 ]; then
    echo "@vladmandic/face-api $face_api_version is licensed '$license', not MIT or Apache-2.0" >&2
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$out.new"
  mkdir -p "$out.new"
  cp "$tmp"/package/model/tiny_face_detector_model* "$tmp/package/LICENSE" "$out.new/"
  printf 'package: @vladmandic/face-api (npm)\nversion: %s\nlicense: %s\n' "$face_api_version" \
    "$license" >"$out.new/SOURCE"
  rm -rf "$out" "$tmp"
  mv "$out.new" "$out"
  echo "data/face-api: @vladmandic/face-api $face_api_version ($license) extracted"
}

# Each fetch runs in a subshell with -e in force: a function called as `f || ...` would run with
# -e ignored and carry on past a failed step.
mkdir -p "$data"
set +e
(
  set -e
  fetch_digits
)
[ $? = 0 ] || failed+=("the 8x8 digits (Debian package python3-sklearn, via apt-get download)")
(
  set -e
  fetch_face_api
)
[ $? = 0 ] ||
  failed+=("the tiny face detector (npm package @vladmandic/face-api@$face_api_version, via npm pack)")
set -e

if [ ${#failed[@]} -gt 0 ]; then
  {
    echo "Could not fetch:"
    for f in "${failed[@]}"; do echo "  - $f"; done
    echo "The tests and examples that use them fail until they are there. Retry, with network"
    echo "access to Debian's mirrors and the npm registry, with:"
    echo "  bash $root/scripts/fetch-data.sh"
  } >&2
  exit 1
fi
