// The applier's entry points for lease raft entries: one call per
// InternalRequest field, filling the InternalResponse field (the caller sets
// header.revision etc., as for KV requests).
#pragma once

#include <vector>

#include "common/status.h"
#include "etcdserverpb/rpc.pb.h"
#include "lease/lessor.h"
#include "mvcc/store.h"

namespace etcdpp::lease {

// lease_grant: req.ID must be non-zero (the proposer picked one).
Status ApplyGrant(Lessor& lessor, mvcc::Batch& batch, const etcdserverpb::LeaseGrantRequest& req,
                  etcdserverpb::LeaseGrantResponse* resp);
// lease_revoke: *events gets the deletions (one revision) for the watch hub.
Status ApplyRevoke(Lessor& lessor, mvcc::Batch& batch, const etcdserverpb::LeaseRevokeRequest& req,
                   etcdserverpb::LeaseRevokeResponse* resp, std::vector<mvccpb::Event>* events);
// lease_checkpoint: every checkpoint of the request, in order.
Status ApplyCheckpoint(Lessor& lessor, mvcc::Batch& batch,
                       const etcdserverpb::LeaseCheckpointRequest& req,
                       etcdserverpb::LeaseCheckpointResponse* resp);

}  // namespace etcdpp::lease
