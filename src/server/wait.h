// The wait registry: a client call waiting for its proposal to be applied
// registers a callback under the proposal's request id; the applier triggers
// it with the result. Entries replayed from an earlier incarnation have no
// waiter, which is fine (Trigger returns false).
//
// Callbacks run on the triggering thread (the applier) outside the lock;
// they must not block (the gRPC callbacks only call Finish()).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>

#include "common/status.h"
#include "etcdpp/internal.pb.h"

namespace etcdpp::server {

class WaitRegistry {
 public:
  // `resp` is owned by the caller of Trigger and may be moved from (Swap'ed).
  using Callback = std::function<void(const Status&, internalpb::InternalResponse* resp)>;

  // Returns false if the id is already registered (a programmer error upstream).
  bool Register(uint64_t id, Callback cb);
  // Completes and forgets the waiter of id; false if none was registered.
  bool Trigger(uint64_t id, const Status& st, internalpb::InternalResponse* resp);
  // Fails every registered waiter (shutdown, fatal WAL error).
  void FailAll(const Status& st);
  size_t Size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Callback> waiters_;
};

}  // namespace etcdpp::server
