// etcd's `hasleader` rule for long-lived streams (v3rpc newStreamInterceptor
// and monitorLeader), shared by the Watch and LeaseKeepAlive services.
//
// A client that sets the gRPC metadata `hasleader: true` (clientv3
// WithRequireLeader: etcdctl watch, every clientv3 keepalive stream) asks the
// member to refuse the stream with `etcdserver: no leader` when it has no
// leader, and to end it with that error once the member has gone without a
// leader for kMaxNoLeaderChecks election timeouts in a row (etcd checks once
// per election timeout; cancelling is deliberately slower than refusing,
// because reconnecting a stream costs more than rejecting a new one).
//
// Streams register a weak_ptr, so the monitor never keeps a finished stream
// alive and never waits for one: a stream only has to make CancelNoLeader
// safe to call until its shared_ptr is released.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_map>

namespace etcdpp::watch {

inline constexpr std::string_view kErrNoLeader = "etcdserver: no leader";
// etcd maxNoLeaderCnt.
inline constexpr int kMaxNoLeaderChecks = 3;

class LeaderMonitor {
 public:
  class Stream {
   public:
    virtual ~Stream() = default;
    // Ends the stream with Unavailable kErrNoLeader (a no-op once it ended).
    // Called from the monitor's thread, never under its lock.
    virtual void CancelNoLeader() = 0;
  };

  // has_leader: whether this member knows a leader now. Starts the thread,
  // which checks every `election_timeout`.
  LeaderMonitor(std::function<bool()> has_leader, std::chrono::milliseconds election_timeout);
  ~LeaderMonitor();  // stops the thread; registered streams are left alone
  LeaderMonitor(const LeaderMonitor&) = delete;
  LeaderMonitor& operator=(const LeaderMonitor&) = delete;

  bool HasLeader() const { return has_leader_(); }
  // A `hasleader` stream: cancelled after kMaxNoLeaderChecks checks without
  // a leader. Returns a token for Unregister.
  uint64_t Register(std::weak_ptr<Stream> s);
  void Unregister(uint64_t token);
  size_t Registered() const;

 private:
  void Run();

  std::function<bool()> has_leader_;
  std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t next_token_ = 1;
  std::unordered_map<uint64_t, std::weak_ptr<Stream>> streams_;
  std::thread thread_;
};

}  // namespace etcdpp::watch
