#pragma once

#include <benchmark/benchmark.h>

#include "runtime/Tensor.h"

// The tensor shapes of CONTRACTS.md §5, shared by every kernel benchmark and its memcpy baseline
// so that ratios compare the same buffers.
#define QS_FOR_EACH_BENCH_SHAPE(fn)                               \
  BENCHMARK_CAPTURE(fn, 32x56x56x128, qs::Shape{32, 56, 56, 128}) \
      ->Name(#fn "/32x56x56x128")                                 \
      ->Unit(benchmark::kMillisecond)                             \
      ->UseRealTime();                                            \
  BENCHMARK_CAPTURE(fn, 1x224x224x3, qs::Shape{1, 224, 224, 3})   \
      ->Name(#fn "/1x224x224x3")                                  \
      ->Unit(benchmark::kMicrosecond)                             \
      ->UseRealTime();                                            \
  BENCHMARK_CAPTURE(fn, 4096x1024, qs::Shape{4096, 1024})         \
      ->Name(#fn "/4096x1024")                                    \
      ->Unit(benchmark::kMillisecond)                             \
      ->UseRealTime();
