#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "runtime/Tensor.h"

namespace qs {

class ThreadPool;
class GradientContext;

// ---- Ports ------------------------------------------------------------------------------------

enum class PortDirection { Input, Output };

// Scope: the enuSpace `scope` pin, bound to the page and never wired. Attrs: the pin an
// Attrs-style block may drive. Tensor: everything that carries data.
enum class PortKind { Scope, Tensor, Attrs };

struct RankRule {
  static constexpr int kUnbounded = -1;
  int min = 0;
  int max = kUnbounded;

  static RankRule any() { return {0, kUnbounded}; }
  static RankRule exactly(int r) { return {r, r}; }
  static RankRule atLeast(int r) { return {r, kUnbounded}; }
  bool accepts(int rank) const { return rank >= min && (max == kUnbounded || rank <= max); }
  // "any rank", "rank 1", "rank >= 1", "rank 1 to 6"
  std::string describe() const;
};

struct PortDescriptor {
  std::string name;
  PortDirection direction = PortDirection::Input;
  PortKind kind = PortKind::Tensor;
  RankRule rank = RankRule::any();
  bool required = true;  // inputs only: an unwired required input is an error
  std::string doc;
  // Inputs: the dtypes the port takes (the evaluator and the editor refuse others, naming both).
  // Outputs: the dtypes it can give, for the reference and the port colour; check() says which.
  std::vector<DType> dtypes = {DType::Float32};
  bool takes(DType dtype) const;
  // "float32", "int32 or int64", ...
  std::string describeDTypes() const;
};

// ---- Attributes -------------------------------------------------------------------------------

// ValueList: numbers and booleans, for a tensor's elements whose dtype another attribute gives.
enum class AttrType { Int, Float, Bool, String, IntList, FloatList, ValueList };
std::string attrTypeName(AttrType type);  // "int", "float", ...

// One element of a ValueList, as the page wrote it; the block turns it into its dtype.
struct AttrScalar {
  enum class Kind : uint8_t { Number, Integer, Bool };
  Kind kind = Kind::Number;
  float number = 0;     // Number and Integer: read from the decimal text straight to float32
  double wide = 0;      // Number and Integer: the value as a double (whole-number checks)
  int64_t integer = 0;  // Integer: the exact value; Bool: 0 or 1
  bool operator==(const AttrScalar&) const = default;
};

using AttrValue = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>,
                               std::vector<float>, std::vector<AttrScalar>>;

struct AttrDescriptor {
  std::string name;
  AttrType type = AttrType::Int;
  // The value used when the page does not set the attribute. No default and required=false
  // means "absent unless set" (e.g. Const's `npy`).
  std::optional<AttrValue> defaultValue;
  bool required = false;
  std::optional<double> minValue;  // inclusive; Int and Float only
  std::optional<double> maxValue;  // inclusive
  // Message for an out-of-range value when TensorFlow has its own text (e.g. num_bits).
  std::string rangeMessage;
  std::string doc;
};

// Attribute values of one block after validation against its descriptor (defaults filled in).
class AttrValues {
 public:
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const AttrValue& get(const std::string& name) const;
  int64_t getInt(const std::string& name) const;
  double getFloat(const std::string& name) const;
  bool getBool(const std::string& name) const;
  const std::string& getString(const std::string& name) const;
  const std::vector<int64_t>& getInts(const std::string& name) const;
  const std::vector<float>& getFloats(const std::string& name) const;
  const std::vector<AttrScalar>& getScalars(const std::string& name) const;
  void set(const std::string& name, AttrValue value) { values_[name] = std::move(value); }
  const std::map<std::string, AttrValue>& all() const { return values_; }

 private:
  std::map<std::string, AttrValue> values_;
};

// ---- Block context ----------------------------------------------------------------------------

// Computes gradients through the page for the Gradients block (the evaluator provides it).
class GradientService {
 public:
  virtual Tensor gradient(const std::string& ysPort, const std::string& xsPort,
                          const std::string& gradYsPort) const = 0;

 protected:
  ~GradientService() = default;
};

struct BlockDescriptor;

// What a block sees when it checks its inputs (shapes only) and when it computes (values too).
// The same checks run in both phases, so the editor can show an error before anything runs.
// Only the evaluator makes one (EvalContext, runtime/EvalContext.h, which adds its setters).
class BlockContext {
 public:
  const BlockDescriptor& descriptor() const { return desc_; }
  const std::string& blockId() const { return blockId_; }
  const AttrValues& attrs() const { return attrs_; }

  // Inputs by port name. inputShape() is available in both phases, input() only when computing.
  bool hasInput(const std::string& port) const;
  const Shape& inputShape(const std::string& port) const;
  DType inputDType(const std::string& port) const;
  const Tensor& input(const std::string& port) const;
  bool computing() const { return computing_; }

  // Outputs by port name. When checking, set shapes (and dtypes, float32 unless said); when
  // computing, set tensors, which must have the shape and dtype check() gave. compute() may read
  // the shapes its check() set.
  void setOutputShape(const std::string& port, Shape shape, DType dtype = DType::Float32);
  void setOutput(const std::string& port, Tensor tensor);
  const std::map<std::string, Shape>& outputShapes() const { return outputShapes_; }
  // The dtype check() gave `port` (float32 when it said none).
  DType outputDType(const std::string& port) const;

  // A value fed from outside for this block (runner's --feed, an editor edit), if any.
  const Tensor* feed() const { return feed_; }
  // Folder of the page file, for relative paths (Const's npy). Empty for an unsaved page.
  const std::filesystem::path& pageDir() const { return pageDir_ ? *pageDir_ : noDir(); }
  // Worker threads the op may use for itself (the page scope's thread count).
  int threads() const { return threads_; }
  ThreadPool* pool() const { return pool_; }
  bool cancelled() const { return cancel_ && cancel_->load(std::memory_order_relaxed); }

  // Steps: the value this block holds in `slot` at the start of the step (a Variable's value is
  // slot "", an optimizer's unwired slot its port's name); nullptr before the first step and after
  // a reset, when the block starts from its initial value.
  const Tensor* held(const std::string& slot) const;
  // The step this evaluation computes: the steps applied since the last reset (0 before the first
  // one). Blocks that read it declare readsStep.
  int64_t step() const { return step_; }
  // The evaluator's backward pass, for the Gradients block: d(sum of the tensor wired to `ysPort`,
  // each element weighted by the tensor wired to `gradYsPort` if that is wired)/d(the tensor wired
  // to `xsPort`), from this step's forward results. Throws qs::Error naming the block that stops
  // it.
  Tensor symbolicGradient(const std::string& ysPort, const std::string& xsPort,
                          const std::string& gradYsPort) const;

 protected:
  BlockContext(const BlockDescriptor& desc, const std::string& blockId, const AttrValues& attrs);
  ~BlockContext() = default;
  BlockContext(const BlockContext&) = delete;
  BlockContext& operator=(const BlockContext&) = delete;

  const BlockDescriptor& desc_;
  std::string blockId_;
  const AttrValues& attrs_;
  // An input's shape and tensor belong to whoever made the context (the evaluator's results of
  // the wired block, a gradient call's tensors) and outlive it; a block has a handful of inputs,
  // so they are looked up in a short list.
  struct Input {
    std::string port;
    const Shape* shape = nullptr;
    const Tensor* tensor = nullptr;  // nullptr while checking
    DType dtype = DType::Float32;
  };
  std::vector<Input> inputs_;
  const Input* findInput(const std::string& port) const;
  void putInput(const std::string& port, const Shape* shape, const Tensor* tensor, DType dtype);
  std::map<std::string, Shape> outputShapes_;
  std::map<std::string, DType> outputDTypes_;  // only the non-float32 ones
  std::map<std::string, Tensor> outputs_;
  const Tensor* feed_ = nullptr;
  const std::filesystem::path* pageDir_ = nullptr;  // the evaluation's, which outlives the context
  static const std::filesystem::path& noDir();
  int threads_ = 1;
  ThreadPool* pool_ = nullptr;
  const std::atomic<bool>* cancel_ = nullptr;
  bool computing_ = false;
  std::map<std::string, const Tensor*> held_;
  const GradientService* gradients_ = nullptr;
  int64_t step_ = 0;
};

// ---- State ------------------------------------------------------------------------------------

// A value a block updates at the end of each step. When `input` is wired from a Variable, the
// Variable takes the value of `output` after the step; when it is left unwired, the block holds
// the slot itself (read with BlockContext::held(input)) and `output` is its next value.
struct StateSlot {
  std::string input;         // "var", "ref", "accum", "m", ...
  std::string output;        // the output port carrying the value after this step
  bool mustBeWired = false;  // "var"/"ref": names the Variable the block updates
  bool updatesWired = true;  // false: a wired value is only read (Adam's beta powers)
};

// ---- The descriptor ---------------------------------------------------------------------------

// One declaration per block type (after Blender's node_declare): the palette entry, the port
// colours, the attribute editor, the validation messages and the reference page in docs/ all come
// from it.
struct BlockDescriptor {
  std::string type;      // TensorFlow op name for TensorFlow blocks
  std::string category;  // palette group: "Quantization", "Sources", "Math", ...
  std::string summary;   // one line
  std::string doc;       // a paragraph or more (Markdown)

  std::vector<PortDescriptor> ports;  // scope, inputs, attrs, outputs (in drawing order)
  std::vector<AttrDescriptor> attrs;

  // Checks the inputs' shapes and the attributes and sets every output's shape; throws qs::Error
  // with the user's message. Runs with shapes only (ctx.computing() false), then again before
  // compute. Must not read input values.
  std::function<void(BlockContext&)> check;
  // Computes every output. Called only after check() passed on the same inputs.
  std::function<void(BlockContext&)> compute;
  // True for blocks whose value may be replaced from outside (Const, Placeholder).
  bool feedable = false;

  // Pages that learn. A Variable's output is the value it holds, held(""), which the blocks wired
  // to it through a StateSlot replace after each step.
  bool variable = false;
  std::vector<StateSlot> stateSlots;
  // The block's gradient (runtime/Gradient.h): from the gradients of its outputs, those of its
  // inputs. Empty for blocks that are not differentiable.
  std::function<void(GradientContext&)> gradient;
  // How the gradient is computed, for the block reference (a sentence or two of Markdown).
  std::string gradientDoc;
  // The Gradients block reads the results of every block above its inputs, not only its inputs'.
  bool readsUpstream = false;
  // The outputs depend on BlockContext::step() (a Dataset's mini-batch): the block is recomputed
  // whenever the step count has changed since it last ran.
  bool readsStep = false;

  // A port by name; an input and an output may share a name (an optimizer's `accum` slot), so
  // lookups that know the side say it.
  const PortDescriptor* findPort(const std::string& name) const;
  const PortDescriptor* findPort(const std::string& name, PortDirection direction) const;
  const StateSlot* findSlot(const std::string& input) const;
  const AttrDescriptor* findAttr(const std::string& name) const;
  std::vector<const PortDescriptor*> inputs() const;   // tensor inputs, in order
  std::vector<const PortDescriptor*> outputs() const;  // tensor outputs, in order
};

// Result name of output port `port`: "result_<port>".
std::string resultName(const std::string& port);

}  // namespace qs
