#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qs {

// A fixed set of worker threads for splitting one op's work (not for running blocks in
// parallel). parallelFor blocks the caller, which takes a share of the work itself.
class ThreadPool {
 public:
  // threads: total workers including the caller; 0 means the number of cores.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end) over [0, n) in at most `parts` contiguous ranges (at most size()), each
  // at least `grain` long where possible. Ranges are disjoint and cover [0, n) exactly.
  // If fn throws in any range, parallelFor still waits for every other range to end, then rethrows
  // the exception of the lowest range that threw (the pool stays usable).
  // Called from inside a range of any pool's parallelFor, it runs fn(0, n) on the calling thread:
  // the workers are busy with the outer loop, and waiting for them would deadlock.
  void parallelFor(int64_t n, int64_t grain, int parts,
                   const std::function<void(int64_t, int64_t)>& fn);

  static int hardwareThreads();

 private:
  void workerLoop(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  std::vector<std::exception_ptr> errors_;  // by range, of the current call
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  std::mutex callMutex_;  // one parallelFor at a time
};

}  // namespace qs
