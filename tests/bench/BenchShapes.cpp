#include "tests/bench/BenchShapes.h"

#include <map>
#include <random>
#include <stdexcept>

namespace qs::bench {

namespace {

// Inputs spread over and beyond each channel's range, so that every branch of the clamp is taken.
Tensor randomTensor(const Shape& shape, uint32_t seed) {
  Tensor t = Tensor::uninitialized(shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  for (float& v : t.mutableValues()) v = u(rng);
  return t;
}

std::map<Shape, BenchTensors>& all() {
  static std::map<Shape, BenchTensors> tensors;
  return tensors;
}

}  // namespace

const std::vector<BenchShape>& benchShapes() {
  static const std::vector<BenchShape> shapes = {
      {"32x56x56x128", {32, 56, 56, 128}, benchmark::kMillisecond},
      {"1x224x224x3", {1, 224, 224, 3}, benchmark::kMicrosecond},
      {"4096x1024", {4096, 1024}, benchmark::kMillisecond},
  };
  return shapes;
}

void prepareBenchTensors() {
  if (!all().empty()) return;
  for (const BenchShape& s : benchShapes())
    all().emplace(s.shape, BenchTensors{randomTensor(s.shape, 1), randomTensor(s.shape, 2),
                                        Tensor::zeros(s.shape)});
}

BenchTensors& benchTensors(const Shape& shape) {
  prepareBenchTensors();
  const auto it = all().find(shape);
  if (it == all().end()) throw std::logic_error("no bench tensors for this shape");
  return it->second;
}

}  // namespace qs::bench
