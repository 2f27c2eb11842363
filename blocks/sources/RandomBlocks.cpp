#include <cmath>

#include "blocks/Chunks.h"
#include "blocks/RegisterBlocks.h"
#include "blocks/sources/RandomStream.h"
#include "runtime/Error.h"
#include "runtime/Json.h"
#include "runtime/ThreadPool.h"

namespace qs {

namespace {

constexpr const char* kStreamNote =
    " The values come from Quant Space's own counter-based generator (Philox4x32-10 with "
    "transforms written in Quant Space, see blocks/sources/RandomStream.h): the same `seed` "
    "gives the same tensor, bit for bit, on every run and every machine, and element i depends "
    "only on the seed and i. They are NOT the values TensorFlow gives for the same seed "
    "(TensorFlow's Philox stream and transforms differ).";

Shape shapeAttr(const BlockContext& ctx) {
  const auto& dims = ctx.attrs().getInts("shape");
  Shape shape(dims.begin(), dims.end());
  checkedElementCount(shape);  // negative dimensions and oversized tensors fail here
  return shape;
}

float finiteAttr(const BlockContext& ctx, const char* name) {
  const float v = static_cast<float>(ctx.attrs().getFloat(name));
  if (!std::isfinite(v))
    throw Error(std::string("attribute '") + name + "' must be finite, was " + formatFloat(v));
  return v;
}

// Runs fn(begin, end) over [0, n), split over the op's threads for large tensors, each share in
// chunks with a check for cancellation before each (a chunk is a few hundred microseconds of
// generator work). Every element depends only on its index, so neither the split nor the chunks
// change the values.
void forRange(const BlockContext& ctx, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  parallelChunks(ctx, n, 1 << 14, 1 << 13, n >= (1 << 16), fn);
}

// ---- RandomUniform ----------------------------------------------------------------------------

void uniformCheck(BlockContext& ctx) {
  const Shape shape = shapeAttr(ctx);
  const float lo = finiteAttr(ctx, "minval");
  const float hi = finiteAttr(ctx, "maxval");
  if (!(lo < hi))
    throw Error("minval must be smaller than maxval, was: " + formatFloat(lo) +
                " >= " + formatFloat(hi));
  if (!std::isfinite(hi - lo))
    throw Error("maxval - minval overflows float32 (" + formatFloat(hi) + " - " + formatFloat(lo) +
                ")");
  ctx.setOutputShape("output", shape);
}

void uniformCompute(BlockContext& ctx) {
  Tensor out = Tensor::uninitialized(ctx.outputShapes().at("output"));
  const float lo = static_cast<float>(ctx.attrs().getFloat("minval"));
  const float range = static_cast<float>(ctx.attrs().getFloat("maxval")) - lo;
  const rnd::Key key = rnd::keyFromSeed(ctx.attrs().getInt("seed"));
  float* y = out.mutableData();
  // Block b of four elements is counter (b, 0, Uniform, 0); each word gives one element.
  forRange(ctx, (out.size() + 3) / 4, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const auto block = static_cast<uint64_t>(b);
      const rnd::Counter w =
          rnd::philox4x32_10({static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                              static_cast<uint32_t>(rnd::Stream::Uniform), 0},
                             key);
      for (int64_t k = 0; k < 4 && 4 * b + k < out.size(); ++k)
        y[4 * b + k] = rnd::uniform01(w[k]) * range + lo;
    }
  });
  ctx.setOutput("output", std::move(out));
}

// ---- RandomNormal, TruncatedNormal ------------------------------------------------------------

void normalCheck(BlockContext& ctx) {
  const Shape shape = shapeAttr(ctx);
  finiteAttr(ctx, "mean");
  finiteAttr(ctx, "stddev");
  ctx.setOutputShape("output", shape);
}

void normalCompute(BlockContext& ctx) {
  Tensor out = Tensor::uninitialized(ctx.outputShapes().at("output"));
  const float mean = static_cast<float>(ctx.attrs().getFloat("mean"));
  const float stddev = static_cast<float>(ctx.attrs().getFloat("stddev"));
  const rnd::Key key = rnd::keyFromSeed(ctx.attrs().getInt("seed"));
  float* y = out.mutableData();
  const int64_t n = out.size();
  // Draw p gives elements 2p and 2p + 1.
  forRange(ctx, (n + 1) / 2, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const rnd::NormalPair z = rnd::normalPair(static_cast<uint64_t>(p), key, rnd::Stream::Normal);
      y[2 * p] = static_cast<float>(z.z0) * stddev + mean;
      if (2 * p + 1 < n) y[2 * p + 1] = static_cast<float>(z.z1) * stddev + mean;
    }
  });
  ctx.setOutput("output", std::move(out));
}

void truncatedCompute(BlockContext& ctx) {
  Tensor out = Tensor::uninitialized(ctx.outputShapes().at("output"));
  const float mean = static_cast<float>(ctx.attrs().getFloat("mean"));
  const float stddev = static_cast<float>(ctx.attrs().getFloat("stddev"));
  const rnd::Key key = rnd::keyFromSeed(ctx.attrs().getInt("seed"));
  float* y = out.mutableData();
  // Element i is draw i: the first of its normal values, attempt by attempt, whose magnitude is
  // below 2 (TensorFlow's bound, strict), as float.
  forRange(ctx, out.size(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float z = 0;
      rnd::NormalPair p;
      for (uint32_t attempt = 0;; ++attempt) {
        if (!rnd::polarAttempt(static_cast<uint64_t>(i), attempt, key, rnd::Stream::Truncated, p))
          continue;
        const float z0 = static_cast<float>(p.z0), z1 = static_cast<float>(p.z1);
        if (std::fabs(z0) < 2.0f) {
          z = z0;
          break;
        }
        if (std::fabs(z1) < 2.0f) {
          z = z1;
          break;
        }
      }
      y[i] = z * stddev + mean;
    }
  });
  ctx.setOutput("output", std::move(out));
}

AttrDescriptor shapeDesc() {
  return {.name = "shape",
          .type = AttrType::IntList,
          .required = true,
          .doc = "Dimensions of the output; [] for a scalar."};
}

AttrDescriptor seedDesc() {
  return {.name = "seed",
          .type = AttrType::Int,
          .defaultValue = AttrValue{int64_t{0}},
          .doc =
              "Seed of the stream. Every seed, 0 included, is deterministic: the same seed "
              "gives the same tensor."};
}

AttrDescriptor floatDesc(const char* name, double def, std::string doc) {
  return {
      .name = name, .type = AttrType::Float, .defaultValue = AttrValue{def}, .doc = std::move(doc)};
}

}  // namespace

void registerRandomBlocks(BlockRegistry& registry) {
  {
    BlockDescriptor d;
    d.type = "RandomUniform";
    d.category = "Sources";
    d.summary = "Outputs random values from a uniform distribution in [minval, maxval).";
    d.doc = std::string(
                "Each element is u * (maxval - minval) + minval in float32, where u is one of the "
                "2^24 equally spaced values k / 2^24 in [0, 1). As in TensorFlow, float rounding "
                "of that expression can give maxval itself when the range is wide compared with "
                "minval. `minval` must be smaller than `maxval`; both must be finite.") +
            kStreamNote;
    d.ports = opPorts({}, {tensorOutput("output", RankRule::any(),
                                        "A tensor of shape `shape` with uniform random values.")});
    d.attrs = {shapeDesc(), seedDesc(),
               floatDesc("minval", 0.0, "Lower bound of the range (included)."),
               floatDesc("maxval", 1.0, "Upper bound of the range (excluded).")};
    d.check = uniformCheck;
    d.compute = uniformCompute;
    registry.add(std::move(d));
  }
  {
    BlockDescriptor d;
    d.type = "RandomNormal";
    d.category = "Sources";
    d.summary = "Outputs random values from a normal distribution.";
    d.doc = std::string(
                "Standard normal values z from the Marsaglia polar method (computed in double, "
                "rounded to float32), returned as z * stddev + mean in float32. Elements 2p and "
                "2p + 1 are the two values of draw p. TensorFlow's op (RandomStandardNormal) "
                "gives z alone; this block scales it as tf.random.normal does, and refuses a "
                "negative `stddev`.") +
            kStreamNote;
    d.ports = opPorts({}, {tensorOutput("output", RankRule::any(),
                                        "A tensor of shape `shape` with normal random values.")});
    d.attrs = {shapeDesc(), seedDesc(), floatDesc("mean", 0.0, "Mean of the distribution."),
               floatDesc("stddev", 1.0, "Standard deviation of the distribution.")};
    d.attrs.back().minValue = 0.0;
    d.check = normalCheck;
    d.compute = normalCompute;
    registry.add(std::move(d));
  }
  {
    BlockDescriptor d;
    d.type = "TruncatedNormal";
    d.category = "Sources";
    d.summary = "Outputs random values from a truncated normal distribution.";
    d.doc = std::string(
                "As TensorFlow's TruncatedNormal: values from a normal distribution, where a "
                "standard normal value whose magnitude is 2 or more (more than two standard "
                "deviations from the mean) is dropped and drawn again. Returned as "
                "z * stddev + mean in float32, so |output - mean| < 2 * stddev up to float "
                "rounding.") +
            kStreamNote;
    d.ports = opPorts(
        {}, {tensorOutput("output", RankRule::any(),
                          "A tensor of shape `shape` with truncated normal random values.")});
    d.attrs = {shapeDesc(), seedDesc(), floatDesc("mean", 0.0, "Mean of the normal distribution."),
               floatDesc("stddev", 1.0,
                         "Standard deviation of the normal distribution, before truncation.")};
    d.attrs.back().minValue = 0.0;
    d.check = normalCheck;
    d.compute = truncatedCompute;
    registry.add(std::move(d));
  }
}

}  // namespace qs
