// etcdserverpb.Watch on gRPC's callback API: one bidi reactor per stream,
// backed by a watch::WatchHub stream (the hub owns ordering, bounding and
// catch-up; the reactor only reads requests and keeps one Write in flight).
#pragma once

#include <functional>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "watch/hub.h"

namespace etcdpp::server {

class WatchService final : public etcdserverpb::Watch::CallbackService {
 public:
  // fill_header sets cluster_id, member_id and raft_term (not revision, which
  // the hub sets per response). hub must outlive the service's streams.
  WatchService(watch::WatchHub* hub, std::function<void(etcdserverpb::ResponseHeader*)> fill_header)
      : hub_(hub), fill_header_(std::move(fill_header)) {}

  grpc::ServerBidiReactor<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>* Watch(
      grpc::CallbackServerContext* ctx) override;

 private:
  watch::WatchHub* hub_;
  std::function<void(etcdserverpb::ResponseHeader*)> fill_header_;
};

}  // namespace etcdpp::server
