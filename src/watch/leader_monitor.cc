#include "watch/leader_monitor.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace etcdpp::watch {

LeaderMonitor::LeaderMonitor(std::function<bool()> has_leader,
                             std::chrono::milliseconds election_timeout)
    : has_leader_(std::move(has_leader)),
      interval_(std::max(election_timeout, std::chrono::milliseconds(1))) {
  thread_ = std::thread([this] { Run(); });
}

LeaderMonitor::~LeaderMonitor() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t LeaderMonitor::Register(std::weak_ptr<Stream> s) {
  std::lock_guard<std::mutex> l(mu_);
  const uint64_t t = next_token_++;
  streams_.emplace(t, std::move(s));
  return t;
}

void LeaderMonitor::Unregister(uint64_t token) {
  std::lock_guard<std::mutex> l(mu_);
  streams_.erase(token);
}

size_t LeaderMonitor::Registered() const {
  std::lock_guard<std::mutex> l(mu_);
  return streams_.size();
}

void LeaderMonitor::Run() {
  int no_leader = 0;
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, interval_, [this] { return stop_; });
    if (stop_) break;
    l.unlock();
    no_leader = has_leader_() ? 0 : no_leader + 1;
    l.lock();
    if (no_leader < kMaxNoLeaderChecks) continue;
    // etcd cancels every registered stream and forgets them all; streams
    // opened later are refused until a leader is back.
    auto victims = std::move(streams_);
    streams_.clear();
    l.unlock();
    for (auto& [token, weak] : victims) {
      if (auto s = weak.lock()) s->CancelNoLeader();
    }
    l.lock();
  }
}

}  // namespace etcdpp::watch
