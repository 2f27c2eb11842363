#pragma once

// Quant Space's own random streams. The same seed gives the same tensor on every run and every
// machine: the generator is counter-based (Philox4x32-10, Salmon et al. 2011), so element i depends
// only on (seed, i), and the transforms to uniform and normal values use only IEEE-exact
// operations (+, -, *, /, sqrt) and a logarithm written here, never std::*_distribution or the
// C library's log (both implementation-defined). These are NOT TensorFlow's streams: TensorFlow's
// Philox use (counter layout, seed scrambling, Box-Muller with its own sin/cos) differs.

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace qs::rnd {

using Counter = std::array<uint32_t, 4>;
using Key = std::array<uint32_t, 2>;

// Philox4x32 with 10 rounds, as in Random123 (checked against its known-answer vectors).
inline Counter philox4x32_10(Counter ctr, Key key) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kW0;
      key[1] += kW1;
    }
    const uint64_t p0 = uint64_t{kM0} * ctr[0];
    const uint64_t p1 = uint64_t{kM1} * ctr[2];
    ctr = {static_cast<uint32_t>(p1 >> 32) ^ ctr[1] ^ key[0], static_cast<uint32_t>(p1),
           static_cast<uint32_t>(p0 >> 32) ^ ctr[3] ^ key[1], static_cast<uint32_t>(p0)};
  }
  return ctr;
}

// The key of a block's stream: the 64-bit seed split in two words.
inline Key keyFromSeed(int64_t seed) {
  const auto s = static_cast<uint64_t>(seed);
  return {static_cast<uint32_t>(s), static_cast<uint32_t>(s >> 32)};
}

// Which transform a counter block feeds, so that e.g. RandomUniform and RandomNormal with the
// same seed do not share words.
enum class Stream : uint32_t {
  Uniform = 0x554e4946u,
  Normal = 0x4e4f524du,
  Truncated = 0x5452554eu,
  Shuffle = 0x53485546u  // the Dataset block's orders
};

// The top 24 bits of a word as a float in [0, 1): exact, 2^24 equally spaced values.
inline float uniform01(uint32_t word) {
  return static_cast<float>(word >> 8) * (1.0f / 16777216.0f);
}

// Natural logarithm of a positive normal double using only exact IEEE operations, so that it
// gives the same double on every machine. x = m * 2^e with m in [sqrt(1/2), sqrt(2)) (split off
// from the bits, exactly); log m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172, summed to
// a relative error below 1e-16.
inline double portableLog(double x) {
  const uint64_t bits = std::bit_cast<uint64_t>(x);
  int e = static_cast<int>((bits >> 52) & 0x7ff) - 1023;
  double m =
      std::bit_cast<double>((bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull);  // [1, 2)
  if (m >= 1.41421356237309504880) {
    m *= 0.5;
    e += 1;
  }
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  // s * (1 + s2/3 + s2^2/5 + ... + s2^11/23), in Horner form.
  constexpr double kInvOdd[] = {1.0 / 23, 1.0 / 21, 1.0 / 19, 1.0 / 17, 1.0 / 15, 1.0 / 13,
                                1.0 / 11, 1.0 / 9,  1.0 / 7,  1.0 / 5,  1.0 / 3,  1.0};
  double poly = kInvOdd[0];
  for (int k = 1; k < 12; ++k) poly = poly * s2 + kInvOdd[k];
  constexpr double kLn2 = 0.69314718055994530942;
  return static_cast<double>(e) * kLn2 + 2.0 * s * poly;
}

// One attempt of the Marsaglia polar method for draw `index` of a stream: attempt a uses words
// 2(a%2) and 2(a%2)+1 of counter block (index low, index high, stream, a/2). The polar method
// needs no sine or cosine. About 21% of attempts are rejected (false); the caller moves to the
// next attempt, so each draw stays a function of (seed, index) alone.
struct NormalPair {
  double z0 = 0;
  double z1 = 0;
};

inline bool polarAttempt(uint64_t index, uint32_t attempt, Key key, Stream stream,
                         NormalPair& out) {
  const Counter words =
      philox4x32_10({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                     static_cast<uint32_t>(stream), attempt / 2},
                    key);
  const uint32_t a = words[2 * (attempt % 2)];
  const uint32_t b = words[2 * (attempt % 2) + 1];
  // (w + 0.5) / 2^31 - 1 lies in (-1, 1), is exact in double and is never 0.
  const double u = (static_cast<double>(a) + 0.5) * (1.0 / 2147483648.0) - 1.0;
  const double v = (static_cast<double>(b) + 0.5) * (1.0 / 2147483648.0) - 1.0;
  const double s = u * u + v * v;
  if (s >= 1.0) return false;
  const double f = std::sqrt(-2.0 * portableLog(s) / s);
  out = {u * f, v * f};
  return true;
}

// The first accepted pair of draw `index`.
inline NormalPair normalPair(uint64_t index, Key key, Stream stream) {
  NormalPair p;
  for (uint32_t attempt = 0; !polarAttempt(index, attempt, key, stream, p); ++attempt) {
  }
  return p;
}

}  // namespace qs::rnd
