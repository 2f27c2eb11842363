#pragma once

#include <benchmark/benchmark.h>

#include <vector>

#include "runtime/Tensor.h"

namespace qs::bench {

// The tensor shapes of docs/formats.md, shared by every kernel benchmark and its memcpy baseline.
struct BenchShape {
  const char* name;  // "32x56x56x128"
  Shape shape;
  benchmark::TimeUnit unit;
};
const std::vector<BenchShape>& benchShapes();

// The buffers of one shape: x (the input), g (the incoming gradient) and out (the output, or dx).
// BM_Memcpy copies x into out; the forward reads x and writes out; the gradient reads g and x and
// writes out. Where a buffer sits in memory moves these figures by 10% and more (its offset within
// a page, the pages it shares cache sets with), so every benchmark of a shape works on the very
// same buffers, allocated once before any benchmark runs: ratios then compare the same memory
// whatever the filter and the order of the run.
struct BenchTensors {
  Tensor x, g, out;
};

// Allocates the buffers of every shape (main() calls it first, so that their addresses do not
// depend on which benchmarks ran before); benchTensors() fills a shape's on its first use.
void prepareBenchTensors();
BenchTensors& benchTensors(const Shape& shape);

}  // namespace qs::bench
