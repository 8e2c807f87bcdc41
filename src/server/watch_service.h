// etcdserverpb.Watch on gRPC's callback API: one bidi reactor per stream,
// backed by a watch::WatchHub stream (the hub owns ordering, bounding and
// catch-up; the reactor only reads requests and keeps one Write in flight).
// Streams opened with the metadata `hasleader: true` follow etcd's leader
// rule (watch::LeaderMonitor).
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "watch/hub.h"
#include "watch/leader_monitor.h"

namespace etcdpp::server {

// True iff the call carries clientv3's WithRequireLeader metadata
// (`hasleader: true`).
bool RequiresLeader(const grpc::CallbackServerContext* ctx);

// A bidi reactor that only finishes with `st` (a stream refused at open).
template <typename Req, typename Resp>
class RefusedStream final : public grpc::ServerBidiReactor<Req, Resp> {
 public:
  explicit RefusedStream(const grpc::Status& st) { this->Finish(st); }
  void OnDone() override { delete this; }
};

grpc::Status NoLeaderStatus();

class WatchService final : public etcdserverpb::Watch::CallbackService {
 public:
  using FillHeader = std::function<void(etcdserverpb::ResponseHeader*)>;
  // fill_header sets cluster_id, member_id and raft_term (not revision, which
  // the hub sets per response). hub must outlive the service's streams.
  // has_leader (may be empty: no leader rule, as in unit tests) and the
  // election timeout drive the `hasleader` monitor.
  WatchService(watch::WatchHub* hub, FillHeader fill_header,
               std::function<bool()> has_leader = nullptr,
               std::chrono::milliseconds election_timeout = std::chrono::milliseconds(1000));

  grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>* Watch(
      grpc::CallbackServerContext* ctx) override;

 private:
  watch::WatchHub* hub_;
  FillHeader fill_header_;
  std::unique_ptr<watch::LeaderMonitor> monitor_;  // null without has_leader
};

}  // namespace etcdpp::server
