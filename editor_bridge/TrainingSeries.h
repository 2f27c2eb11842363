#pragma once

#include <QObject>
#include <QStringList>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/BlockRegistry.h"
#include "runtime/Page.h"
#include "runtime/Tensor.h"

namespace qs {
class Evaluator;
}

namespace qs::editor {

// A FakeQuant block whose `min` and `max` inputs are computed from a Variable, so that training
// moves its range: the block and the results wired into its `min` and `max`.
struct LearnedRange {
  std::string block;
  std::string minResult, maxResult;  // "B.result_P"
  bool operator==(const LearnedRange&) const = default;
};

// The FakeQuantWithMinMaxVars* blocks of the page with a Variable upstream of `min` or `max`.
std::vector<LearnedRange> learnedRanges(const Page& page, const BlockRegistry& registry);

// A learned range over steps: per step, the per-channel (or single) min and max.
struct RangeTrace {
  std::vector<int64_t> steps;
  std::vector<std::vector<float>> mins, maxs;  // [step][channel]
  size_t channels() const { return mins.empty() ? 0 : mins.front().size(); }
};

// What a run of steps produced, step by step: the scalar results the Training panel plots and the
// learned ranges the inspector draws. Whoever takes the steps feeds it once per step with
// appendStep(), after asking wantedResults() what to fetch; clear() on a reset.
class TrainingSeries : public QObject {
  Q_OBJECT
 public:
  using QObject::QObject;

  // ---- What is watched ----
  // The plotted results ("loss.result_output"), in the order they were added.
  const QStringList& results() const { return results_; }
  // False (and nothing changes) when the name is already plotted. Steps taken before have no
  // value for it (NaN, not drawn).
  bool addResult(const QString& name);
  bool removeResult(const QString& name);
  void setLearnedRanges(std::vector<LearnedRange> ranges);
  const std::vector<LearnedRange>& learnedRangeSources() const { return ranges_; }
  // Every result a step must fetch for this series: the plotted ones, then the ranges' inputs.
  std::vector<std::string> wantedResults() const;

  // ---- Feeding ----
  // One step's scalar values by result name; plotted results missing from `values` get NaN.
  void appendStep(int64_t step, const std::map<std::string, double>& values);
  // One step's fetched tensors by result name: one-element tensors give the plotted values,
  // the tensors named by learnedRangeSources() the ranges. Others are ignored.
  void appendStep(int64_t step, const std::map<std::string, Tensor>& results);
  // Reads wantedResults() from an evaluator that has just taken step `step`.
  void appendFrom(int64_t step, const Evaluator& evaluator);
  // Forgets every step (a reset); what is watched stays.
  void clear();

  // ---- Reading ----
  const std::vector<int64_t>& steps() const { return steps_; }
  // The values of a plotted result, one per step (empty for a name that is not plotted).
  const std::vector<double>& values(const QString& name) const;
  // The learned range of a block over the steps, or nullptr.
  const RangeTrace* rangeTrace(const std::string& block) const;
  // The runner's --log layout: "step,<names>", then a row per step; numbers in the shortest form
  // that reads back to the same float32 (as the runner writes them), "nan" where a step has none.
  std::string toCsv() const;

 signals:
  void resultsChanged();
  // Cheap to receive: viewers repaint on a timer, never once per step.
  void stepAppended(int64_t step);
  void cleared();

 private:
  QStringList results_;
  std::vector<LearnedRange> ranges_;
  std::vector<int64_t> steps_;
  std::map<QString, std::vector<double>> columns_;
  std::map<std::string, RangeTrace> traces_;
};

}  // namespace qs::editor
