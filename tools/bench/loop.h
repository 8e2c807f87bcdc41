// The closed-loop driver: `lanes` clients each keep one request in flight until `total`
// requests have been issued, optionally paced to `rate` requests per second overall (a token
// bucket of burst 1, like golang.org/x/time/rate in etcd's benchmark). Requests are issued
// through gRPC's callback API, so 1000 clients need no thread each.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "report.h"

namespace etcdpp::bench {

// Runs functions at given times on one thread (for pacing, and to break callback recursion).
class Scheduler {
 public:
  Scheduler();
  ~Scheduler();
  void Post(Clock::time_point at, std::function<void()> fn);

 private:
  struct Item {
    Clock::time_point at;
    uint64_t order;
    std::function<void()> fn;
    bool operator>(const Item& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue_;
  uint64_t order_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

// Counts streams still open so a workload can wait until all of them ended.
class OpenStreams {
 public:
  void Add() {
    std::lock_guard lock(mu_);
    ++open_;
  }
  void Remove() {
    std::lock_guard lock(mu_);
    if (--open_ == 0) cv_.notify_all();
  }
  bool AnyOpen() {
    std::lock_guard lock(mu_);
    return open_ > 0;
  }
  bool WaitZero(std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int open_ = 0;
};

using Done = std::function<void(const grpc::Status&)>;
// Issues request number `seq` for client `lane`; `done` must be called exactly once, from any
// thread (a gRPC callback normally).
using Issue = std::function<void(int lane, uint64_t seq, Done done)>;
// Which latency series (e.g. 0 = read, 1 = write) request `seq` belongs to.
using SeriesOf = std::function<int(uint64_t seq)>;

class ClosedLoop {
 public:
  ClosedLoop(int lanes, uint64_t total, double rate, Recorder* recorder, Issue issue,
             SeriesOf series = nullptr);
  // Blocks until every request completed; returns the elapsed wall time in seconds.
  double Run();

 private:
  void Next(int lane);
  void Start(int lane, uint64_t seq);
  void Finish(int lane, uint64_t seq, Clock::time_point start, const grpc::Status& status);

  const int lanes_;
  const uint64_t total_;
  const int64_t interval_ns_;  // 0 = unpaced
  Recorder* recorder_;
  Issue issue_;
  SeriesOf series_;
  Scheduler scheduler_;

  std::atomic<uint64_t> next_seq_{0};
  std::mutex pace_mu_;
  Clock::time_point next_slot_{};

  std::mutex done_mu_;
  std::condition_variable done_cv_;
  int lanes_done_ = 0;
};

}  // namespace etcdpp::bench
