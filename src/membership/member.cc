#include "membership/member.h"

#include <cstdio>

namespace etcdpp::membership {

etcdserverpb::Member ToProto(const Member& m) {
  etcdserverpb::Member pb;
  pb.set_id(m.id);
  pb.set_name(m.name);
  for (const auto& u : m.peer_urls)
    pb.add_peerurls(u);
  for (const auto& u : m.client_urls)
    pb.add_clienturls(u);
  pb.set_islearner(m.is_learner);
  return pb;
}

Member FromProto(const etcdserverpb::Member& pb) {
  Member m;
  m.id = pb.id();
  m.name = pb.name();
  m.peer_urls.assign(pb.peerurls().begin(), pb.peerurls().end());
  m.client_urls.assign(pb.clienturls().begin(), pb.clienturls().end());
  m.is_learner = pb.islearner();
  return m;
}

std::string Encode(const Member& m) {
  return ToProto(m).SerializeAsString();
}

Result<Member> Decode(std::string_view data) {
  etcdserverpb::Member pb;
  if (!pb.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return Status::Corruption("membership: unparsable member record");
  }
  return FromProto(pb);
}

std::string IdString(uint64_t id) {
  char out[17];
  std::snprintf(out, sizeof(out), "%llx", static_cast<unsigned long long>(id));
  return out;
}

}  // namespace etcdpp::membership
