#include "editor_bridge/TrainingSeries.h"

#include <cmath>
#include <limits>
#include <set>

#include "runtime/EvalPlan.h"
#include "runtime/Evaluator.h"
#include "runtime/Json.h"

namespace qs::editor {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// True when a Variable is `id` or lies upstream of it.
bool fedByVariable(const Page& page, const BlockRegistry& registry, const BlockId& id) {
  std::set<std::string> seen;
  std::vector<BlockId> todo{id};
  while (!todo.empty()) {
    const BlockId b = todo.back();
    todo.pop_back();
    if (!seen.insert(b.str()).second) continue;
    const Block* block = page.find(b);
    if (!block) continue;
    if (const BlockDescriptor* d = registry.find(block->type); d && d->variable) return true;
    for (int li : page.incomingLinks(page.indexOf(b))) todo.push_back(page.links()[li].from.block);
  }
  return false;
}

}  // namespace

std::vector<LearnedRange> learnedRanges(const Page& page, const BlockRegistry& registry) {
  std::vector<LearnedRange> out;
  for (const Block& b : page.blocks()) {
    if (b.type.rfind("FakeQuantWithMinMaxVars", 0) != 0 || b.type.find("Gradient") != b.type.npos)
      continue;
    LearnedRange r{b.id.str(), {}, {}};
    bool learned = false;
    for (int li : page.incomingLinks(page.indexOf(b.id))) {
      const Link& l = page.links()[li];
      const std::string name = ResultRef{l.from.block, l.from.port.str()}.name();
      if (l.to.port.str() == "min") r.minResult = name;
      if (l.to.port.str() == "max") r.maxResult = name;
      if ((l.to.port.str() == "min" || l.to.port.str() == "max") &&
          fedByVariable(page, registry, l.from.block))
        learned = true;
    }
    if (learned && !r.minResult.empty() && !r.maxResult.empty()) out.push_back(std::move(r));
  }
  return out;
}

bool TrainingSeries::addResult(const QString& name) {
  if (results_.contains(name)) return false;
  results_.push_back(name);
  columns_[name].assign(steps_.size(), kNaN);
  emit resultsChanged();
  return true;
}

bool TrainingSeries::removeResult(const QString& name) {
  if (!results_.removeOne(name)) return false;
  columns_.erase(name);
  emit resultsChanged();
  return true;
}

void TrainingSeries::setLearnedRanges(std::vector<LearnedRange> ranges) {
  ranges_ = std::move(ranges);
  traces_.clear();
}

std::vector<std::string> TrainingSeries::wantedResults() const {
  std::vector<std::string> out;
  for (const QString& r : results_) out.push_back(r.toStdString());
  for (const LearnedRange& r : ranges_) {
    out.push_back(r.minResult);
    out.push_back(r.maxResult);
  }
  return out;
}

void TrainingSeries::appendStep(int64_t step, const std::map<std::string, double>& values) {
  steps_.push_back(step);
  for (const QString& r : results_) {
    auto it = values.find(r.toStdString());
    columns_[r].push_back(it == values.end() ? kNaN : it->second);
  }
  emit stepAppended(step);
}

void TrainingSeries::appendStep(int64_t step, const std::map<std::string, Tensor>& results) {
  for (const LearnedRange& r : ranges_) {
    auto lo = results.find(r.minResult), hi = results.find(r.maxResult);
    if (lo == results.end() || hi == results.end()) continue;
    if (lo->second.dtype() != DType::Float32 || hi->second.dtype() != DType::Float32) continue;
    RangeTrace& t = traces_[r.block];
    std::vector<float> mins = lo->second.toVector(), maxs = hi->second.toVector();
    // A change of shape (an edit) starts the trace again: old and new channels do not compare.
    if (!t.mins.empty() && (mins.size() != t.channels() || maxs.size() != t.maxs.front().size()))
      t = {};
    t.steps.push_back(step);
    t.mins.push_back(std::move(mins));
    t.maxs.push_back(std::move(maxs));
  }
  std::map<std::string, double> scalars;
  for (const QString& r : results_) {
    auto it = results.find(r.toStdString());
    if (it == results.end() || it->second.size() != 1) continue;
    scalars[it->first] = static_cast<double>(castTensor(it->second, DType::Float32).data()[0]);
  }
  appendStep(step, scalars);
}

void TrainingSeries::appendFrom(int64_t step, const Evaluator& evaluator) {
  std::map<std::string, Tensor> fetched;
  for (const std::string& name : wantedResults())
    if (std::optional<Tensor> t = evaluator.result(name)) fetched.emplace(name, std::move(*t));
  appendStep(step, fetched);
}

void TrainingSeries::clear() {
  steps_.clear();
  for (auto& [name, column] : columns_) column.clear();
  traces_.clear();
  emit cleared();
}

const std::vector<double>& TrainingSeries::values(const QString& name) const {
  static const std::vector<double> none;
  auto it = columns_.find(name);
  return it == columns_.end() ? none : it->second;
}

const RangeTrace* TrainingSeries::rangeTrace(const std::string& block) const {
  auto it = traces_.find(block);
  return it == traces_.end() ? nullptr : &it->second;
}

std::string TrainingSeries::toCsv() const {
  std::string out = "step";
  for (const QString& r : results_) out += "," + r.toStdString();
  out += "\n";
  for (size_t i = 0; i < steps_.size(); ++i) {
    out += std::to_string(steps_[i]);
    for (const QString& r : results_) {
      const double v = columns_.at(r)[i];
      out += "," + formatFloat(static_cast<float>(v));
    }
    out += "\n";
  }
  return out;
}

}  // namespace qs::editor
