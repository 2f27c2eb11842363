#pragma once

// Internal to the FakeQuant kernels: per-lane constants and the span functions each instruction
// set implements (FakeQuantKernels.cpp, *_avx2.cpp, *_avx512.cpp).

#include <cstdint>

namespace qs::fq::detail {

// Constants for one period of P elements: lane j holds the constants of channel j % channels.
// P is a multiple of the channel count (and of 16 when that is cheap), so the pattern repeats
// exactly and a vector loads its constants with plain loads.
struct ForwardLanes {
  const float* nudgedMin;
  const float* nudgedMax;
  const float* invScale;  // PerChannel multiplies by it
  const float* scale;     // Vars/Args divide by it; every op multiplies the level by it
  const float* quantZero;
  const uint32_t* keep;  // all ones, or 0 where min == max == 0 (the output is +0)
  bool divide;
  // Write the output with non-temporal stores where it is vector-aligned: for tensors much larger
  // than the caches, this saves reading every output line before writing it (as memcpy does). The
  // driver fences once at the end of each part (a fence per span would drain the write-combining
  // buffers every few KB and stall the stream).
  bool stream;
};

struct GradientLanes {
  const float* nudgedMin;
  const float* nudgedMax;
  const uint32_t* passAll;  // all ones where min == max == 0: dx = g whatever x is
  bool stream;              // as ForwardLanes::stream, for dx
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
