#include <cstring>
#include <filesystem>
#include <list>
#include <memory>
#include <mutex>
#include <numeric>

#include "blocks/RegisterBlocks.h"
#include "blocks/sources/RandomStream.h"
#include "runtime/Error.h"
#include "runtime/Npy.h"
#include "runtime/Npz.h"

namespace qs {

namespace {

// ---- Files, read once ---------------------------------------------------------------------------

// "dir/x.npz:images" names member "images" of an archive; anything else is an .npy file.
struct ArraySource {
  std::filesystem::path file;
  std::string member;  // empty for an .npy file
  std::string describe() const {
    return member.empty() ? file.string() : file.string() + ":" + member;
  }
};

ArraySource arraySource(const BlockContext& ctx, const std::string& attr) {
  const std::string text = ctx.attrs().getString(attr);
  if (text.empty()) throw Error("attribute '" + attr + "' is an empty path");
  ArraySource s;
  const size_t npz = text.rfind(".npz:");
  std::string file = text;
  if (npz != std::string::npos) {
    file = text.substr(0, npz + 4);
    s.member = text.substr(npz + 5);
    if (s.member.empty()) throw Error("attribute '" + attr + "': name the array after \".npz:\"");
  }
  s.file = file;
  if (s.file.is_relative() && !ctx.pageDir().empty()) s.file = ctx.pageDir() / s.file;
  return s;
}

// The arrays a process has read, by source, while the file keeps its size and time: a page that
// steps reads its data once, not at every step. The last few are kept.
class ArrayCache {
 public:
  Tensor get(const ArraySource& src, const std::string& attr) {
    std::error_code ec;
    const auto time = std::filesystem::last_write_time(src.file, ec);
    const auto size = ec ? 0 : std::filesystem::file_size(src.file, ec);
    if (ec)
      throw Error("attribute '" + attr + "': cannot read '" + src.file.string() +
                  "': " + ec.message());
    const std::string key = src.describe();
    {
      std::lock_guard lock(mutex_);
      for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if (it->key == key && it->time == time && it->size == size) {
          entries_.splice(entries_.begin(), entries_, it);
          return it->tensor;
        }
    }
    Tensor t = load(src, attr);
    std::lock_guard lock(mutex_);
    entries_.remove_if([&](const Entry& e) { return e.key == key; });
    entries_.push_front({key, time, size, t});
    if (entries_.size() > kKept) entries_.pop_back();
    return t;
  }

 private:
  static constexpr size_t kKept = 8;
  struct Entry {
    std::string key;
    std::filesystem::file_time_type time;
    uintmax_t size;
    Tensor tensor;
  };

  static Tensor load(const ArraySource& src, const std::string& attr) {
    try {
      if (src.member.empty()) return readNpy(src.file);
      for (const NpzMember& m : readNpz(src.file))
        if (m.key == src.member) return parseNpy(m.bytes, src.describe());
    } catch (const Error& e) {
      throw Error("attribute '" + attr + "': " + e.what());
    }
    throw Error("attribute '" + attr + "': '" + src.file.string() + "' has no array named '" +
                src.member + "'");
  }

  std::mutex mutex_;
  std::list<Entry> entries_;
};

ArrayCache& arrayCache() {
  static ArrayCache cache;
  return cache;
}

// ---- Batches ------------------------------------------------------------------------------------

struct Data {
  Tensor features, labels;
  int64_t examples = 0, batchSize = 0, batchesPerEpoch = 0;
};

Data loadData(const BlockContext& ctx) {
  Data d;
  d.features = arrayCache().get(arraySource(ctx, "features"), "features");
  d.labels = arrayCache().get(arraySource(ctx, "labels"), "labels");
  if (d.features.rank() < 1 || d.labels.rank() < 1)
    throw Error(
        "features and labels must have a first dimension (one entry per example), not "
        "shapes " +
        shapeToString(d.features.shape()) + " and " + shapeToString(d.labels.shape()));
  d.examples = d.features.dim(0);
  if (d.labels.dim(0) != d.examples)
    throw Error("features hold " + std::to_string(d.examples) + " examples but labels hold " +
                std::to_string(d.labels.dim(0)) + " (shapes " + shapeToString(d.features.shape()) +
                " and " + shapeToString(d.labels.shape()) + ")");
  d.batchSize = ctx.attrs().getInt("batch_size");
  if (d.batchSize > d.examples)
    throw Error("batch_size " + std::to_string(d.batchSize) + " is larger than the " +
                std::to_string(d.examples) + " examples of the data");
  d.batchesPerEpoch = d.examples / d.batchSize;
  return d;
}

Shape batchShape(const Tensor& t, int64_t batch) {
  Shape s = t.shape();
  s[0] = batch;
  return s;
}

// The order of the examples in epoch `epoch`: 0, 1, ... without shuffle; otherwise a Fisher-Yates
// shuffle whose draw for position j is word 0 of Philox block (j, epoch, Shuffle, epoch >> 32)
// under the seed, mapped to [0, j] by multiply-and-shift.
std::vector<int64_t> epochOrder(int64_t n, bool shuffle, int64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (!shuffle) return order;
  const rnd::Key key = rnd::keyFromSeed(seed);
  const auto e = static_cast<uint64_t>(epoch);
  for (int64_t j = n - 1; j > 0; --j) {
    const auto u = static_cast<uint64_t>(j);
    const uint32_t word = rnd::philox4x32_10(
        {static_cast<uint32_t>(u), static_cast<uint32_t>(e),
         static_cast<uint32_t>(rnd::Stream::Shuffle), static_cast<uint32_t>(e >> 32)},
        key)[0];
    const auto pick = static_cast<int64_t>((uint64_t{word} * (u + 1)) >> 32);
    std::swap(order[static_cast<size_t>(j)], order[static_cast<size_t>(pick)]);
  }
  return order;
}

// epochOrder, drawn once per epoch and kept (a few, for pages with several Datasets): a step
// takes only its batch of it.
std::shared_ptr<const std::vector<int64_t>> keptEpochOrder(int64_t n, bool shuffle, int64_t seed,
                                                           int64_t epoch) {
  struct Entry {
    int64_t n, seed, epoch;
    bool shuffle;
    std::shared_ptr<const std::vector<int64_t>> order;
  };
  static std::mutex mutex;
  static std::list<Entry> entries;
  {
    std::lock_guard lock(mutex);
    for (auto it = entries.begin(); it != entries.end(); ++it)
      if (it->n == n && it->seed == seed && it->epoch == epoch && it->shuffle == shuffle) {
        entries.splice(entries.begin(), entries, it);
        return it->order;
      }
  }
  auto order = std::make_shared<const std::vector<int64_t>>(epochOrder(n, shuffle, seed, epoch));
  std::lock_guard lock(mutex);
  entries.push_front({n, seed, epoch, shuffle, order});
  if (entries.size() > 8) entries.pop_back();
  return order;
}

// The rows `rows` of `t` (any dtype), in that order.
Tensor gatherRows(const Tensor& t, const std::vector<int64_t>& order, int64_t first,
                  int64_t count) {
  Tensor out = Tensor::uninitialized(batchShape(t, count), t.dtype());
  const size_t rowBytes = t.dim(0) ? t.bytes() / static_cast<size_t>(t.dim(0)) : 0;
  for (int64_t r = 0; r < count; ++r)
    std::memcpy(out.mutableRawData() + static_cast<size_t>(r) * rowBytes,
                t.rawData() + static_cast<size_t>(order[first + r]) * rowBytes, rowBytes);
  return out;
}

Tensor int64Scalar(int64_t v) {
  Tensor t = Tensor::uninitialized({}, DType::Int64);
  t.mutableAs<int64_t>()[0] = v;
  return t;
}

void datasetCheck(BlockContext& ctx) {
  const Data d = loadData(ctx);
  ctx.setOutputShape("features", batchShape(d.features, d.batchSize), d.features.dtype());
  ctx.setOutputShape("labels", batchShape(d.labels, d.batchSize), d.labels.dtype());
  ctx.setOutputShape("epoch", {}, DType::Int64);
  ctx.setOutputShape("index", {}, DType::Int64);
}

void datasetCompute(BlockContext& ctx) {
  const Data d = loadData(ctx);
  const int64_t epoch = ctx.step() / d.batchesPerEpoch;
  const int64_t index = ctx.step() % d.batchesPerEpoch;
  const auto order =
      keptEpochOrder(d.examples, ctx.attrs().getBool("shuffle"), ctx.attrs().getInt("seed"), epoch);
  ctx.setOutput("features", gatherRows(d.features, *order, index * d.batchSize, d.batchSize));
  ctx.setOutput("labels", gatherRows(d.labels, *order, index * d.batchSize, d.batchSize));
  ctx.setOutput("epoch", int64Scalar(epoch));
  ctx.setOutput("index", int64Scalar(index));
}

}  // namespace

void registerDatasetBlock(BlockRegistry& registry) {
  BlockDescriptor d;
  d.type = "Dataset";
  d.category = "Sources";
  d.summary = "Mini-batches of features and labels read from .npy / .npz files, one per step.";
  d.doc =
      "Reads `features` and `labels`, whose first dimension counts the examples (the same "
      "number in both), once: they are kept while the files are unchanged. At step k (the "
      "steps taken since the last reset) it gives mini-batch `index` = k mod B of epoch "
      "`epoch` = k div B, where B = floor(examples / `batch_size`): the examples at positions "
      "`index` * `batch_size` ... + `batch_size` - 1 of the epoch's order. The order is the "
      "files' own, or with `shuffle` a permutation drawn afresh for each epoch from `seed` "
      "(Quant Space's own Philox stream: the same seed gives the same batches on every run and "
      "machine, not TensorFlow's). The examples left over after the last whole batch are not "
      "used in that epoch, so every batch has the same shape. Outputs keep the files' dtypes.";
  const std::vector<DType>& any = allDTypes();
  d.ports =
      opPorts({}, {tensorOutput("features", RankRule::atLeast(1), any,
                                "The batch's features: [batch_size, ...] of the features file."),
                   tensorOutput("labels", RankRule::atLeast(1), any,
                                "The batch's labels: [batch_size, ...] of the labels file."),
                   tensorOutput("epoch", RankRule::exactly(0), {DType::Int64},
                                "The epoch this batch belongs to, from 0."),
                   tensorOutput("index", RankRule::exactly(0), {DType::Int64},
                                "The batch's position in its epoch, from 0.")});
  d.attrs = {
      {.name = "features",
       .type = AttrType::String,
       .required = true,
       .doc = "An .npy file, or `file.npz:name` for an array of an .npz archive (relative to the "
              "page file)."},
      {.name = "labels",
       .type = AttrType::String,
       .required = true,
       .doc = "As `features`, with as many entries in its first dimension."},
      {.name = "batch_size",
       .type = AttrType::Int,
       .defaultValue = int64_t{32},
       .minValue = 1,
       .doc = "Examples per batch; at most the number of examples."},
      {.name = "shuffle",
       .type = AttrType::Bool,
       .defaultValue = false,
       .doc = "Draw a new order of the examples for each epoch."},
      {.name = "seed",
       .type = AttrType::Int,
       .defaultValue = int64_t{0},
       .doc = "Seed of the shuffle."},
  };
  d.check = datasetCheck;
  d.compute = datasetCompute;
  d.readsStep = true;
  registry.add(std::move(d));
}

}  // namespace qs
