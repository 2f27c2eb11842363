#pragma once

// Streaming kernels of the FakeQuant family. Each one reads the tensor once in memory order, with
// the nudged constants of every channel computed once (nudge()) and laid out per SIMD lane, and
// splits large tensors across the worker pool. Every instruction-set path (portable, AVX2,
// AVX-512) and every thread count gives the same bits for the output and dx, and the same dmin/dmax
// for a given thread count (the sums are accumulated per lane in the same order on every path).

#include <cstdint>
#include <optional>
#include <vector>

#include "blocks/array_ops/FakeQuantMath.h"

namespace qs {
class BlockContext;
class ThreadPool;
}  // namespace qs

namespace qs::fq {

enum class SimdLevel { Portable = 0, Avx2 = 1, Avx512 = 2 };
const char* simdLevelName(SimdLevel level);  // "portable", "avx2", "avx512"
// True when this build has the path and the CPU can run it.
bool simdLevelSupported(SimdLevel level);
// The fastest supported level: what the kernels use unless a test forces another.
SimdLevel bestSimdLevel();
std::vector<SimdLevel> supportedSimdLevels();

// Process-wide knobs so that tests can run every path on small tensors. Not for normal use.
struct KernelOverride {
  std::optional<SimdLevel> level;  // force this path (must be supported)
  // Split tensors across threads from this many elements on (default 1 << 18), in chunks of at
  // least `grainElements` (default 1 << 14).
  std::optional<int64_t> minParallelElements;
  std::optional<int64_t> grainElements;
  // Write outputs with non-temporal stores from this many output bytes on (default 8 MiB).
  std::optional<int64_t> streamBytes;
  // Below that, stream three of every four output lines when the bytes a core reads and writes
  // exceed this (default: the core's L2 cache for the gradient, never for the forward).
  std::optional<int64_t> mixedBytes;
  // Scratch memory one call may hold (default kDefaultScratchBytes); see scratchHighWater().
  std::optional<int64_t> scratchBytes;
};
void setKernelOverride(const KernelOverride& o);
KernelOverride kernelOverride();
// The level the kernels use now.
SimdLevel activeSimdLevel();
// Whether code with only a portable and an AVX2 form (the calibrators' loops, the quantization
// report) takes the AVX2 one: on the kernels' path, so that tests can force the portable one.
// False off x86-64.
bool avx2Active();

// Besides the tensors, a call holds scratch memory: the channels' nudged constants laid out per
// lane and, in the gradient, running sums per lane and part. It grows with the channel count (and
// the parts), so a call whose scratch would pass the limit works through the channels in blocks
// of channels instead, and fails with an Error only when even one channel per part does not fit.
constexpr int64_t kDefaultScratchBytes = int64_t{64} << 20;
// The most scratch memory (bytes, over every thread) that kernel calls held at once since the
// last reset. For tests.
int64_t scratchHighWater();
void resetScratchHighWater();

// Where the work runs: `threads` workers of `pool` (pool may be null: the caller alone). When ctx
// is set, the kernels look at ctx->cancelled() between chunks of a few hundred KB and throw
// qs::Cancelled once it is true (the outputs are then partly written).
struct Exec {
  ThreadPool* pool = nullptr;
  int threads = 1;
  const BlockContext* ctx = nullptr;
};

// PerChannel and Args multiply by the inverse scale; Vars divides by the scale.
enum class ScaleOp { MulInvScale, DivScale };

// Forward over a row-major [count / channels, channels] view: element i uses ranges[i % channels].
// count is a multiple of channels (channels >= 1).
void forward(const float* x, int64_t count, int64_t channels, const Nudged* ranges, ScaleOp op,
             float* out, Exec exec);

// Gradient in one pass: dx = g * between, dmin[c] / dmax[c] = sums of g * below / g * above over
// the elements of channel c. dmin and dmax may be null (FakeQuantWithMinMaxArgsGradient).
void gradient(const float* g, const float* x, int64_t count, int64_t channels, const Nudged* ranges,
              float* dx, float* dmin, float* dmax, Exec exec);

// The ops' entry points: per-channel ranges from min[c], max[c], or one range for the whole tensor.
void perChannelForward(const float* x, int64_t outer, int64_t channels, const float* min,
                       const float* max, QuantRange q, float* out, Exec exec);
void perChannelGradient(const float* g, const float* x, int64_t outer, int64_t channels,
                        const float* min, const float* max, QuantRange q, float* dx, float* dmin,
                        float* dmax, Exec exec);

}  // namespace qs::fq
