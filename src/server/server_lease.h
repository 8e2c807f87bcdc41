// The member's side of leases: the LeaseService's backend (proposals,
// header, forwarding of keepalives and TimeToLive to the leader's client
// URL, as etcd forwards them over the peer port) and the leader's expiry
// loop, which proposes revokes and checkpoints through raft.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "lease/lessor.h"
#include "server/lease_service.h"

namespace etcdpp::server {

class EtcdServer;

class ServerLeases final : public LeaseBackend {
 public:
  ServerLeases(EtcdServer* s, lease::Lessor* lessor);
  ~ServerLeases() override;

  // Starts the expiry loop (every 500 ms, or sooner when a lease is due).
  void Start();
  // Stops the loop and waits for forwarded calls still in flight.
  void Stop();

  // --- LeaseBackend ---
  void Propose(internalpb::InternalRequest req, ProposeCallback cb,
               std::chrono::system_clock::time_point deadline) override;
  lease::Lessor* lessor() override { return lessor_; }
  void FillHeader(etcdserverpb::ResponseHeader* h) override;
  void WaitLinearizable(std::function<void(const Status&)> cb) override;
  void ForwardRenew(int64_t id, std::function<void(Result<int64_t>)> cb) override;
  void ForwardTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                         std::function<void(Result<lease::LeaseInfo>)> cb) override;
  watch::LeaderMonitor* leader_monitor() override { return monitor_.get(); }

 private:
  void Run();
  // "host:port" of the leader's first client URL.
  std::optional<std::string> LeaderTarget() const;

  EtcdServer* s_;
  lease::Lessor* lessor_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  int forwards_ = 0;       // forwarded calls in flight; guarded by mu_
  std::thread thread_;
  std::unique_ptr<watch::LeaderMonitor> monitor_;  // stopped by Stop()
};

}  // namespace etcdpp::server
