#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite three ways:
#   1. Release build, every CTest test (unit, GUI, docs check, the story under Xvfb);
#   2. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/);
#   3. each libFuzzer target for a short while (QS_FUZZ_SECONDS each, default 12: about a minute
#      and a quarter for the six, which keeps the whole run inside CI's 25-minute budget) on its seed corpus,
#      when clang with libFuzzer is available (the sanitizer build is then made with clang, so the
#      fuzz targets come from the same tree instead of a third build).
# Any failure stops the script with a non-zero exit status.
# Environment: QS_SKIP_SANITIZE=1 and QS_FUZZ_SECONDS=0 leave out steps 2 and 3.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/install-deps.sh"
jobs="$(nproc)"
start=$SECONDS
step() { echo "=== $* [$((SECONDS - start)) s]"; }
export QT_QPA_PLATFORM=offscreen

step "Release build"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$root/build" --parallel "$jobs"
step "Release tests"
(cd "$root/build" && ctest --output-on-failure --parallel "$jobs")

if [ "${QS_SKIP_SANITIZE:-0}" != 1 ]; then
  # libFuzzer is usable if clang can link a fuzz target.
  have_fuzzer=0
  probe="$(mktemp -d)"
  printf '#include <cstdint>\n#include <cstddef>\nextern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }\n' \
    >"$probe/p.cpp"
  if command -v clang++ >/dev/null &&
    clang++ -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" >/dev/null 2>&1; then
    have_fuzzer=1
  fi
  rm -rf "$probe"

  # -O1 with line tables only: reports still name file and line, and the build (most of CI's time)
  # is a third shorter than at -O2 with full debug information.
  sanitize_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
    -DQS_SANITIZE=ON -DQS_BUILD_BENCH=OFF)
  if [ "$have_fuzzer" = 1 ]; then
    sanitize_flags+=(-DCMAKE_CXX_COMPILER=clang++ -DQS_BUILD_FUZZERS=ON)
  else
    echo "clang with libFuzzer not found: sanitizer build with the default compiler, no fuzzing"
  fi
  step "ASan+UBSan build"
  cmake -S "$root" -B "$root/build-asan" -G Ninja "${sanitize_flags[@]}"
  cmake --build "$root/build-asan" --parallel "$jobs"
  step "ASan+UBSan tests"
  # halt_on_error: a report fails the test even where the code under test would carry on.
  # A quarter of the Release run's random FakeQuant cases: they still reach every kernel path,
  # and the full count took 53 s here, the longest test of the run.
  (cd "$root/build-asan" &&
    QS_PROPERTY_CASES=5000 \
    ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1 \
      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0" \
      ctest --output-on-failure --parallel "$jobs")

  fuzz_seconds="${QS_FUZZ_SECONDS:-12}"
  if [ "$have_fuzzer" = 1 ] && [ "$fuzz_seconds" != 0 ]; then
    for target in page npy npz safetensors tfjs_manifest onnx_import; do
      step "fuzz_$target for $fuzz_seconds s"
      work="$(mktemp -d)"
      dict=()
      [ -f "$root/tests/fuzz/$target.dict" ] && dict=(-dict="$root/tests/fuzz/$target.dict")
      # New inputs go to a scratch folder; the committed seeds are only read.
      if ! "$root/build-asan/tests/fuzz/fuzz_$target" -max_total_time="$fuzz_seconds" \
        -rss_limit_mb=2048 -timeout=10 -max_len=8192 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="$work/" "$work" "$root/tests/fuzz/corpus_$target" >"$work/log" 2>&1; then
        tail -n 60 "$work/log"
        echo "fuzz_$target found a crash: see the input above and in $work"
        exit 1
      fi
      grep -E "^stat::number_of_executed_units|^Done" "$work/log" || true
      rm -rf "$work"
    done
  fi
fi
step "all tests passed"
