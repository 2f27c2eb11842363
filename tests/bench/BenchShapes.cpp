#include "tests/bench/BenchShapes.h"

#include <algorithm>
#include <map>
#include <random>
#include <stdexcept>

namespace qs::bench {

namespace {

// Inputs spread over and beyond each channel's range, so that every branch of the clamp is taken.
void fillRandom(Tensor& t, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  for (float& v : t.mutableValues()) v = u(rng);
}

struct Slot {
  BenchTensors tensors;
  bool filled = false;
};

std::map<Shape, Slot>& all() {
  static std::map<Shape, Slot> slots;
  return slots;
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
  // Only allocated here (their pages untouched), so that a run of the editor benchmarks alone does
  // not pay for filling 200 MB; filled on the first use of their shape.
  for (const BenchShape& s : benchShapes())
    all().emplace(s.shape,
                  Slot{BenchTensors{Tensor::uninitialized(s.shape), Tensor::uninitialized(s.shape),
                                    Tensor::uninitialized(s.shape)}});
}

BenchTensors& benchTensors(const Shape& shape) {
  prepareBenchTensors();
  const auto it = all().find(shape);
  if (it == all().end()) throw std::logic_error("no bench tensors for this shape");
  Slot& slot = it->second;
  if (!slot.filled) {
    fillRandom(slot.tensors.x, 1);
    fillRandom(slot.tensors.g, 2);
    std::fill(slot.tensors.out.mutableValues().begin(), slot.tensors.out.mutableValues().end(),
              0.0f);
    slot.filled = true;
  }
  return slot.tensors;
}

}  // namespace qs::bench
