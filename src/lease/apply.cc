#include "lease/apply.h"

namespace etcdpp::lease {

Status ApplyGrant(Lessor& lessor, mvcc::Batch& batch, const etcdserverpb::LeaseGrantRequest& req,
                  etcdserverpb::LeaseGrantResponse* resp) {
  auto ttl = lessor.Grant(batch, req.id(), req.ttl());
  if (!ttl.ok()) return ttl.status();
  resp->set_id(req.id());
  resp->set_ttl(*ttl);
  return Status::OK();
}

Status ApplyRevoke(Lessor& lessor, mvcc::Batch& batch, const etcdserverpb::LeaseRevokeRequest& req,
                   etcdserverpb::LeaseRevokeResponse* /*resp*/,
                   std::vector<mvccpb::Event>* events) {
  auto ev = lessor.Revoke(batch, req.id());
  if (!ev.ok()) return ev.status();
  if (events != nullptr) *events = std::move(*ev);
  return Status::OK();
}

Status ApplyCheckpoint(Lessor& lessor, mvcc::Batch& batch,
                       const etcdserverpb::LeaseCheckpointRequest& req,
                       etcdserverpb::LeaseCheckpointResponse* /*resp*/) {
  for (const auto& cp : req.checkpoints()) {
    ETCDPP_RETURN_IF_ERROR(lessor.Checkpoint(batch, cp.id(), cp.remaining_ttl()));
  }
  return Status::OK();
}

}  // namespace etcdpp::lease
