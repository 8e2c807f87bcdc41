// The wait registry: a client call waiting for its proposal to be applied
// registers a callback under the proposal's request id; the applier triggers
// it with the result. Entries replayed from an earlier incarnation have no
// waiter, which is fine (Trigger returns false).
//
// Callbacks run on the triggering thread (the applier) outside the lock;
// they must not block (the gRPC callbacks only call Finish()).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

#include "common/status.h"
#include "etcdpp/internal.pb.h"

namespace etcdpp::server {

class WaitRegistry {
 public:
  // `resp` is owned by the caller of Trigger and may be moved from (Swap'ed).
  using Callback = std::function<void(const Status&, internalpb::InternalResponse* resp)>;

  using Clock = std::chrono::steady_clock;

  // Returns false if the id is already registered (a programmer error upstream).
  bool Register(uint64_t id, Callback cb);
  // As Register; ExpireDue fails it once `deadline` passed (a proposal
  // forwarded to a leader that died is never applied: etcd's request timeout).
  bool Register(uint64_t id, Callback cb, Clock::time_point deadline);
  // Fails every waiter whose deadline is <= now with `st`.
  void ExpireDue(Clock::time_point now, const Status& st);
  // Completes and forgets the waiter of id; false if none was registered.
  bool Trigger(uint64_t id, const Status& st, internalpb::InternalResponse* resp);
  // Fails every registered waiter (shutdown, fatal WAL error).
  void FailAll(const Status& st);
  size_t Size() const;

 private:
  mutable std::mutex mu_;
  using Deadlines = std::multimap<Clock::time_point, uint64_t>;
  struct Waiter {
    Callback cb;
    Deadlines::iterator deadline;  // deadlines_.end(): none
  };
  std::unordered_map<uint64_t, Waiter> waiters_;
  Deadlines deadlines_;
};

}  // namespace etcdpp::server
