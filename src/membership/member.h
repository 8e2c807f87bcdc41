// A cluster member as etcd stores it (etcd membership.Member): a raft id,
// the name and client URLs it publishes once started (MemberAttrSetRequest),
// its peer URLs and whether it is a learner. Stored in the mvcc `members`
// table as a serialized etcdserverpb.Member (the wire type of MemberList).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "etcdserverpb/rpc.pb.h"

namespace etcdpp::membership {

struct Member {
  uint64_t id = 0;
  std::string name;  // empty until the member has started and published (etcd IsStarted)
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool is_learner = false;

  bool IsStarted() const { return !name.empty(); }
  bool operator==(const Member&) const = default;
};

etcdserverpb::Member ToProto(const Member& m);
Member FromProto(const etcdserverpb::Member& pb);

// The serialized etcdserverpb::Member (also the ConfChange context).
std::string Encode(const Member& m);
// kCorruption on bytes that do not parse as an etcdserverpb::Member.
Result<Member> Decode(std::string_view data);

// etcd's types.ID.String(): lower-case hex ("8e9e05c52164694d").
std::string IdString(uint64_t id);

}  // namespace etcdpp::membership
