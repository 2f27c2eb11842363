#include "runtime/ThreadPool.h"

#include <algorithm>

namespace qs {

namespace {

// How many parallelFor ranges are running on this thread (0 or 1, more only when nested).
thread_local int insideRange = 0;

struct InsideRange {
  InsideRange() { ++insideRange; }
  ~InsideRange() { --insideRange; }
  InsideRange(const InsideRange&) = delete;
  InsideRange& operator=(const InsideRange&) = delete;
};

// Runs one range; an exception becomes the returned pointer instead of leaving the thread.
std::exception_ptr runRange(const std::function<void(int64_t, int64_t)>& fn,
                            std::pair<int64_t, int64_t> range) {
  InsideRange inside;
  try {
    fn(range.first, range.second);
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

}  // namespace

int ThreadPool::hardwareThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = hardwareThreads();
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::workerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    std::pair<int64_t, int64_t> range;
    const std::function<void(int64_t, int64_t)>* job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= static_cast<int>(ranges_.size())) continue;
      range = ranges_[index];
      job = job_;
    }
    std::exception_ptr error = runRange(*job, range);
    {
      std::lock_guard lock(mutex_);
      errors_[index] = std::move(error);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallelFor(int64_t n, int64_t grain, int parts,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t maxParts = std::max<int64_t>(1, n / grain);
  int p = static_cast<int>(std::min<int64_t>(
      {static_cast<int64_t>(std::max(parts, 1)), maxParts, static_cast<int64_t>(size())}));
  if (p <= 1 || insideRange > 0) {
    fn(0, n);
    return;
  }
  std::lock_guard call(callMutex_);
  std::vector<std::pair<int64_t, int64_t>> ranges(p);
  for (int i = 0; i < p; ++i) ranges[i] = {n * i / p, n * (i + 1) / p};
  {
    std::lock_guard lock(mutex_);
    ranges_ = ranges;
    errors_.assign(p, nullptr);
    job_ = &fn;
    pending_ = p - 1;
    ++generation_;
  }
  wake_.notify_all();
  std::exception_ptr first = runRange(fn, ranges[0]);
  // fn and the ranges belong to this call: wait for every worker before leaving, even on error.
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
  for (int i = 1; i < p && !first; ++i) first = errors_[i];
  errors_.clear();
  lock.unlock();
  if (first) std::rethrow_exception(first);
}

}  // namespace qs
