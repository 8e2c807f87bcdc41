#include "server/wait.h"

#include <utility>
#include <vector>

#include "metrics/etcd_metrics.h"

namespace etcdpp::server {

bool WaitRegistry::Register(uint64_t id, Callback cb) {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.emplace(id, Waiter{std::move(cb), deadlines_.end()}).second;
}

bool WaitRegistry::Register(uint64_t id, Callback cb, Clock::time_point deadline) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = waiters_.emplace(id, Waiter{std::move(cb), deadlines_.end()});
  if (!inserted) return false;
  it->second.deadline = deadlines_.emplace(deadline, id);
  return true;
}

void WaitRegistry::ExpireDue(Clock::time_point now, const Status& st) {
  std::vector<Callback> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto end = deadlines_.upper_bound(now);
    for (auto it = deadlines_.begin(); it != end; ++it) {
      auto w = waiters_.find(it->second);
      if (w == waiters_.end()) continue;
      due.push_back(std::move(w->second.cb));
      waiters_.erase(w);
    }
    deadlines_.erase(deadlines_.begin(), end);
  }
  metrics::Etcd().proposals_failed_total.Inc(due.size());
  for (auto& cb : due) {
    internalpb::InternalResponse empty;
    cb(st, &empty);
  }
}

bool WaitRegistry::Trigger(uint64_t id, const Status& st, internalpb::InternalResponse* resp) {
  Callback cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return false;
    cb = std::move(it->second.cb);
    if (it->second.deadline != deadlines_.end()) deadlines_.erase(it->second.deadline);
    waiters_.erase(it);
  }
  cb(st, resp);  // outside the lock: the callback may register new waiters
  return true;
}

void WaitRegistry::FailAll(const Status& st) {
  std::unordered_map<uint64_t, Waiter> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(waiters_);
    deadlines_.clear();
  }
  for (auto& [id, w] : all) {
    internalpb::InternalResponse empty;
    w.cb(st, &empty);
  }
}

size_t WaitRegistry::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

}  // namespace etcdpp::server
