// What the leader proposes on the lessor's behalf, as raft requests: one
// LeaseRevoke per expired lease and one LeaseCheckpoint batch. The server
// sets InternalRequest.id and proposes them like client writes (etcd's
// revokeExpiredLeases / checkpointScheduledLeases loops, every 500 ms).
#pragma once

#include <cstddef>
#include <vector>

#include "etcdpp/internal.pb.h"
#include "lease/lessor.h"

namespace etcdpp::lease {

// etcd revokes at most leaseRevokeRate/2 leases per 500 ms tick.
inline constexpr size_t kMaxRevokesPerTick = kLeaseRevokeRate / 2;

// Empty unless this member is the primary lessor.
std::vector<internalpb::InternalRequest> DueProposals(Lessor& lessor,
                                                      size_t max_revokes = kMaxRevokesPerTick);

}  // namespace etcdpp::lease
