#pragma once

// Internal to the FakeQuant kernels: per-lane constants and the span functions each instruction
// set implements (FakeQuantKernels.cpp, *_avx2.cpp, *_avx512.cpp).

#include <algorithm>
#include <cstdint>
#include <type_traits>

namespace qs::fq::detail {

// How a kernel writes its output (the gradient: dx).
enum class StoreMode : uint8_t {
  // Ordinary stores: the output stays in cache for whoever reads it next.
  Cached,
  // Three of every four cache lines with non-temporal stores, the fourth with an ordinary store:
  // for working sets beyond the core's L2, where a fully cached store reads every output line from
  // L3 before writing it and a fully non-temporal one waits on the write path to memory. The mix
  // keeps both busy at once (docs/performance.md has the measurements).
  Mixed,
  // Every line non-temporal: for outputs far beyond the caches, as memcpy does.
  Streamed,
};

// Under StoreMode::Mixed, whether the vector at p (64-byte aligned) goes to a streamed line.
inline bool mixedStreamsLine(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 0xC0) != 0xC0;
}

// Calls fn with the store mode as a compile-time constant (a std::integral_constant): `mode`, or
// Cached where p is not `alignment`-byte aligned, since non-temporal stores need aligned vectors.
template <typename Fn>
inline void withStoreMode(StoreMode mode, const void* p, uintptr_t alignment, Fn&& fn) {
  if ((reinterpret_cast<uintptr_t>(p) & (alignment - 1)) != 0) mode = StoreMode::Cached;
  switch (mode) {
    case StoreMode::Cached:
      return fn(std::integral_constant<StoreMode, StoreMode::Cached>{});
    case StoreMode::Mixed:
      return fn(std::integral_constant<StoreMode, StoreMode::Mixed>{});
    case StoreMode::Streamed:
      return fn(std::integral_constant<StoreMode, StoreMode::Streamed>{});
  }
}

// Walks a span of n elements that starts at lane `phase` of a pattern of `period` lanes, in pieces
// that end where the pattern or the span ends: segment(offset, length, phaseOfPiece).
template <typename Fn>
inline void forEachSegment(int64_t n, int64_t phase, int64_t period, Fn&& segment) {
  for (int64_t done = 0; done < n; phase = 0) {
    const int64_t m = std::min(period - phase, n - done);
    segment(done, m, phase);
    done += m;
  }
}

// Constants for one period of P elements: lane j holds the constants of channel j % channels.
// P is a multiple of the channel count (and of 16 when that is cheap), so the pattern repeats
// exactly and a vector loads its constants with plain loads.
struct ForwardLanes {
  const float* nudgedMin;
  const float* nudgedMax;
  const float* invScale;  // PerChannel and Args multiply by it
  const float* scale;     // Vars divides by it; every op multiplies the level by it
  const float* quantZero;
  const uint32_t* keep;  // all ones, or 0 where min == max == 0 (the output is +0)
  bool divide;
  // Non-temporal stores are used only where the output is vector-aligned. The driver fences once
  // at the end of each part (a fence per span would drain the write-combining buffers every few KB
  // and stall the stream).
  StoreMode store;
};

struct GradientLanes {
  const float* nudgedMin;
  const float* nudgedMax;
  const uint32_t* passAll;  // all ones where min == max == 0: dx = g whatever x is
  bool numericBounds;       // no bound is NaN
  StoreMode store;          // as ForwardLanes::store, for dx
};

// Each processes n elements starting at lane `phase` of a pattern of `period` lanes, wrapping
// around the pattern as often as needed. The gradient adds g * below and g * above into
// accMin[lane], accMax[lane].
using ForwardSpanFn = void (*)(const float* x, float* out, int64_t n, const ForwardLanes& k,
                               int64_t phase, int64_t period);
using GradientSpanFn = void (*)(const float* g, const float* x, float* dx, int64_t n,
                                const GradientLanes& k, int64_t phase, int64_t period,
                                float* accMin, float* accMax);

void forwardSpanPortable(const float* x, float* out, int64_t n, const ForwardLanes& k,
                         int64_t phase, int64_t period);
void gradientSpanPortable(const float* g, const float* x, float* dx, int64_t n,
                          const GradientLanes& k, int64_t phase, int64_t period, float* accMin,
                          float* accMax);
#if defined(__x86_64__) || defined(_M_X64)
#define QS_FQ_HAVE_X86 1
void forwardSpanAvx2(const float* x, float* out, int64_t n, const ForwardLanes& k, int64_t phase,
                     int64_t period);
void gradientSpanAvx2(const float* g, const float* x, float* dx, int64_t n, const GradientLanes& k,
                      int64_t phase, int64_t period, float* accMin, float* accMax);
void forwardSpanAvx512(const float* x, float* out, int64_t n, const ForwardLanes& k, int64_t phase,
                       int64_t period);
void gradientSpanAvx512(const float* g, const float* x, float* dx, int64_t n,
                        const GradientLanes& k, int64_t phase, int64_t period, float* accMin,
                        float* accMax);
#endif

}  // namespace qs::fq::detail
