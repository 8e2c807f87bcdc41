// etcdserverpb.Lease on gRPC's callback API, written against LeaseBackend so
// it can be tested without a whole EtcdServer (the server implements it).
//
//   LeaseGrant     picks an id if 0 (Lessor::NextId), checks the TTL bound,
//                  proposes `lease_grant`; answered from the applied result.
//   LeaseRevoke    proposes `lease_revoke` (NotFound if unknown, at apply).
//   LeaseKeepAlive bidi stream: each request renews on the leader
//                  (RenewOrWait) or is forwarded (ForwardRenew); answers
//                  {ID, TTL}, TTL 0 for an unknown lease, and for an expired
//                  one once its revoke is applied (etcd). `hasleader`
//                  streams follow etcd's leader rule (leader_monitor()).
//   LeaseTimeToLive on the leader after a linearizable wait, else forwarded;
//                  unknown lease -> TTL -1, no error (etcd).
//   LeaseLeases    this member's leases (etcd answers locally too).
#pragma once

#include <chrono>
#include <functional>

#include "common/status.h"
#include "etcdpp/internal.pb.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "lease/lessor.h"
#include "watch/leader_monitor.h"

namespace etcdpp::server {

// What the lease service needs from the server.
class LeaseBackend {
 public:
  using ProposeCallback = std::function<void(const Status&, internalpb::InternalResponse*)>;
  virtual ~LeaseBackend() = default;

  // Proposes through raft; cb runs once applied (with the applier's
  // response) or failed. `deadline`: the client's.
  virtual void Propose(internalpb::InternalRequest req, ProposeCallback cb,
                       std::chrono::system_clock::time_point deadline) = 0;
  virtual lease::Lessor* lessor() = 0;
  virtual void FillHeader(etcdserverpb::ResponseHeader* h) = 0;
  // cb once a linearizable read may run (ReadIndex + apply wait).
  virtual void WaitLinearizable(std::function<void(const Status&)> cb) = 0;

  // This member is not the leader: renew on the leader (etcd forwards
  // keepalives to the leader over the peer port). cb gets the TTL, NotFound
  // kErrLeaseNotFound, or an error that ends the stream. Default: no
  // forwarding, "etcdserver: not leader".
  virtual void ForwardRenew(int64_t id, std::function<void(Result<int64_t>)> cb);
  // Same for TimeToLive. cb gets the leader's answer (OK) or an error;
  // NotFound kErrLeaseNotFound is answered as TTL -1. Default: not leader.
  virtual void ForwardTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                                 std::function<void(Result<lease::LeaseInfo>)> cb);
  // The `hasleader` monitor for keepalive streams; null: no leader rule.
  virtual watch::LeaderMonitor* leader_monitor() { return nullptr; }
};

inline constexpr std::string_view kErrNotLeader = "etcdserver: not leader";

class LeaseService final : public etcdserverpb::Lease::CallbackService {
 public:
  explicit LeaseService(LeaseBackend* b) : b_(b) {}

  grpc::ServerUnaryReactor* LeaseGrant(grpc::CallbackServerContext* ctx,
                                       const etcdserverpb::LeaseGrantRequest* req,
                                       etcdserverpb::LeaseGrantResponse* resp) override;
  grpc::ServerUnaryReactor* LeaseRevoke(grpc::CallbackServerContext* ctx,
                                        const etcdserverpb::LeaseRevokeRequest* req,
                                        etcdserverpb::LeaseRevokeResponse* resp) override;
  grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest,
                          etcdserverpb::LeaseKeepAliveResponse>*
  LeaseKeepAlive(grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* LeaseTimeToLive(grpc::CallbackServerContext* ctx,
                                            const etcdserverpb::LeaseTimeToLiveRequest* req,
                                            etcdserverpb::LeaseTimeToLiveResponse* resp) override;
  grpc::ServerUnaryReactor* LeaseLeases(grpc::CallbackServerContext* ctx,
                                        const etcdserverpb::LeaseLeasesRequest* req,
                                        etcdserverpb::LeaseLeasesResponse* resp) override;

 private:
  LeaseBackend* b_;
};

}  // namespace etcdpp::server
