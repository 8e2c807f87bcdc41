#include "loop.h"

#include <chrono>

#include "conns.h"

namespace etcdpp::bench {

Scheduler::Scheduler() : thread_([this] { Loop(); }) {}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Scheduler::Post(Clock::time_point at, std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    queue_.push(Item{at, order_++, std::move(fn)});
  }
  cv_.notify_one();
}

void Scheduler::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    // A copy: wait_until reads the deadline again after waking, and a Post
    // meanwhile may reallocate the queue under a reference to top().
    const Clock::time_point due = queue_.top().at;
    if (due > Clock::now()) {
      cv_.wait_until(lock, due);
      continue;
    }
    auto fn = std::move(const_cast<Item&>(queue_.top()).fn);
    queue_.pop();
    lock.unlock();
    fn();
    lock.lock();
  }
}

ClosedLoop::ClosedLoop(int lanes, uint64_t total, double rate, Recorder* recorder, Issue issue,
                       SeriesOf series)
    : lanes_(lanes),
      total_(total),
      interval_ns_(rate > 0 ? static_cast<int64_t>(1e9 / rate) : 0),
      recorder_(recorder),
      issue_(std::move(issue)),
      series_(std::move(series)) {}

double ClosedLoop::Run() {
  auto start = Clock::now();
  for (int lane = 0; lane < lanes_; ++lane)
    Next(lane);
  std::unique_lock lock(done_mu_);
  done_cv_.wait(lock, [&] { return lanes_done_ == lanes_; });
  return static_cast<double>(NanosSince(start)) / 1e9;
}

void ClosedLoop::Next(int lane) {
  uint64_t seq = next_seq_.fetch_add(1);
  if (seq >= total_) {
    std::lock_guard lock(done_mu_);
    if (++lanes_done_ == lanes_) done_cv_.notify_all();
    return;
  }
  if (interval_ns_ > 0) {
    Clock::time_point slot;
    {
      std::lock_guard lock(pace_mu_);
      next_slot_ = std::max(next_slot_, Clock::now());
      slot = next_slot_;
      next_slot_ += std::chrono::nanoseconds(interval_ns_);
    }
    if (slot > Clock::now()) {
      // Waiting for the pacer is not part of the request's latency (as in etcd's tool).
      scheduler_.Post(slot, [this, lane, seq] { Start(lane, seq); });
      return;
    }
  }
  Start(lane, seq);
}

void ClosedLoop::Start(int lane, uint64_t seq) {
  auto start = Clock::now();
  issue_(lane, seq, [this, lane, seq, start](const grpc::Status& status) {
    Finish(lane, seq, start, status);
  });
}

void ClosedLoop::Finish(int lane, uint64_t seq, Clock::time_point start,
                        const grpc::Status& status) {
  int series = series_ ? series_(seq) : 0;
  if (status.ok()) {
    recorder_->Ok(lane, series, NanosSince(start));
  } else {
    recorder_->Error(series, StatusText(status));
  }
  // A call that fails at once may complete inline, inside the call that started it; hand
  // the next one to the scheduler thread now and then so the stack cannot grow without bound.
  thread_local int depth = 0;
  if (depth > 8) {
    scheduler_.Post(Clock::now(), [this, lane] { Next(lane); });
    return;
  }
  ++depth;
  Next(lane);
  --depth;
}

}  // namespace etcdpp::bench
