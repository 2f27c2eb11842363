#include "runtime/ThreadPool.h"

#include <algorithm>

namespace qs {

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
    (*job)(range.first, range.second);
    {
      std::lock_guard lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallelFor(int64_t n, int64_t grain, int parts,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t maxParts = std::max<int64_t>(1, n / grain);
  int p = static_cast<int>(std::min<int64_t>({static_cast<int64_t>(std::max(parts, 1)), maxParts,
                                              static_cast<int64_t>(size())}));
  if (p <= 1) {
    fn(0, n);
    return;
  }
  std::lock_guard call(callMutex_);
  std::vector<std::pair<int64_t, int64_t>> ranges(p);
  for (int i = 0; i < p; ++i) ranges[i] = {n * i / p, n * (i + 1) / p};
  {
    std::lock_guard lock(mutex_);
    ranges_ = ranges;
    job_ = &fn;
    pending_ = p - 1;
    ++generation_;
  }
  wake_.notify_all();
  fn(ranges[0].first, ranges[0].second);
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
}

}  // namespace qs
