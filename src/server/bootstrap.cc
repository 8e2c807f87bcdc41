#include "server/bootstrap.h"

#include <algorithm>

#include "etcdpp/internal.pb.h"
#include "raft/codec.h"
#include "server/ids.h"

namespace etcdpp::server {
namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

Result<std::map<std::string, std::vector<std::string>>> ParseInitialCluster(const std::string& s) {
  std::map<std::string, std::vector<std::string>> out;
  size_t pos = 0;
  while (pos <= s.size() && !s.empty()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
      return Status::InvalidArgument("--initial-cluster: invalid entry \"" + item +
                                     "\" (want name=peer-url)");
    }
    out[item.substr(0, eq)].push_back(item.substr(eq + 1));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

Result<Identity> BootstrapIdentity(const config::ServerConfig& cfg) {
  std::string ic = cfg.initial_cluster;
  if (ic.empty()) {
    for (const auto& u : cfg.initial_advertise_peer_urls) {
      ic += (ic.empty() ? "" : ",") + cfg.name + "=" + u;
    }
  }
  ETCDPP_ASSIGN_OR_RETURN(auto members, ParseInitialCluster(ic));
  auto self = members.find(cfg.name);
  if (self == members.end()) {
    return Status::InvalidArgument("couldn't find local name \"" + cfg.name +
                                   "\" in the initial cluster configuration");
  }
  std::vector<std::string> mine = self->second, adv = cfg.initial_advertise_peer_urls;
  std::sort(mine.begin(), mine.end());
  std::sort(adv.begin(), adv.end());
  if (mine != adv) {
    return Status::InvalidArgument("--initial-cluster has " + cfg.name + "=" + Join(mine) +
                                   " but missing from --initial-advertise-peer-urls=" + Join(adv));
  }
  Identity id;
  for (const auto& [name, urls] : members) {
    uint64_t mid = ComputeMemberId(urls, cfg.initial_cluster_token);
    id.member_ids.push_back(mid);
    if (name == cfg.name) id.member_id = mid;
  }
  id.cluster_id = ComputeClusterId(id.member_ids);
  return id;
}

std::vector<raft::Entry> InitialConfChangeEntries(const std::vector<membership::Member>& members) {
  std::vector<raft::Entry> out;
  uint64_t index = 0;
  for (const auto& m : members) {
    internalpb::ConfChangeContext ctx;
    *ctx.mutable_member() = membership::ToProto(m);
    raft::ConfChange cc;
    cc.type = raft::ConfChangeType::kAddNode;
    cc.node_id = m.id;
    cc.context = ctx.SerializeAsString();
    raft::Entry e;
    e.term = 1;
    e.index = ++index;
    e.type = raft::EntryType::kConfChange;
    e.data = raft::EncodeConfChange(cc);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace etcdpp::server
