#include "lease/proposals.h"

namespace etcdpp::lease {

std::vector<internalpb::InternalRequest> DueProposals(Lessor& lessor, size_t max_revokes) {
  std::vector<internalpb::InternalRequest> out;
  for (int64_t id : lessor.ExpiredLeases(max_revokes)) {
    internalpb::InternalRequest r;
    r.mutable_lease_revoke()->set_id(id);
    out.push_back(std::move(r));
  }
  auto cps = lessor.CheckpointsDue();
  if (!cps.empty()) {
    internalpb::InternalRequest r;
    auto* req = r.mutable_lease_checkpoint();
    for (const auto& [id, remaining] : cps) {
      auto* cp = req->add_checkpoints();
      cp->set_id(id);
      cp->set_remaining_ttl(remaining);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace etcdpp::lease
