#include "server/wait.h"

#include <utility>
#include <vector>

namespace etcdpp::server {

bool WaitRegistry::Register(uint64_t id, Callback cb) {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.emplace(id, std::move(cb)).second;
}

bool WaitRegistry::Trigger(uint64_t id, const Status& st, internalpb::InternalResponse* resp) {
  Callback cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return false;
    cb = std::move(it->second);
    waiters_.erase(it);
  }
  cb(st, resp);  // outside the lock: the callback may register new waiters
  return true;
}

void WaitRegistry::FailAll(const Status& st) {
  std::unordered_map<uint64_t, Callback> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(waiters_);
  }
  for (auto& [id, cb] : all) {
    internalpb::InternalResponse empty;
    cb(st, &empty);
  }
}

size_t WaitRegistry::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

}  // namespace etcdpp::server
