#include "membership/initial_cluster.h"

#include <algorithm>
#include <map>
#include <set>

#include "membership/urls.h"

namespace etcdpp::membership {
namespace {

std::string JoinSpace(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

}  // namespace

std::string InitialClusterString(const std::vector<NamedURLs>& cluster) {
  std::vector<std::string> pairs;
  for (const auto& m : cluster) {
    for (const auto& u : m.peer_urls)
      pairs.push_back(m.name + "=" + u);
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& p : pairs) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

Result<std::vector<NamedURLs>> ParseInitialCluster(std::string_view s) {
  // Same splitting as etcd types.parse: items by ',', name up to the first '='.
  std::map<std::string, std::vector<std::string>> by_name;
  while (!s.empty()) {
    std::string_view item = s;
    if (size_t c = s.find(','); c != std::string_view::npos) {
      item = s.substr(0, c);
      s.remove_prefix(c + 1);
    } else {
      s = {};
    }
    if (item.empty()) continue;
    std::string_view name = item, value;
    if (size_t eq = item.find('='); eq != std::string_view::npos) {
      name = item.substr(0, eq);
      value = item.substr(eq + 1);
    }
    by_name[std::string(name)].emplace_back(value);
  }
  std::vector<NamedURLs> out;
  for (auto& [name, urls] : by_name) {
    ETCDPP_ASSIGN_OR_RETURN(auto parsed, ParseURLs(urls));
    out.push_back(NamedURLs{name, std::move(parsed)});
  }
  for (const auto& m : out) {
    if (m.name.empty()) {
      return Status::InvalidArgument("initial cluster has a member with an empty name");
    }
  }
  std::set<std::string> seen;
  for (const auto& m : out) {
    for (const auto& u : m.peer_urls) {
      if (!seen.insert(u).second) {
        return Status::InvalidArgument("initial cluster " + InitialClusterString(out) +
                                       " has duplicate url");
      }
    }
  }
  return out;
}

Status CheckHasLocalMember(const std::vector<NamedURLs>& cluster, std::string_view name) {
  for (const auto& m : cluster) {
    if (m.name == name) return Status::OK();
  }
  return Status::InvalidArgument("couldn't find local name \"" + std::string(name) +
                                 "\" in the initial cluster configuration");
}

Result<std::vector<Member>> BuildInitialMembers(
    const std::vector<NamedURLs>& cluster,
    const std::function<uint64_t(const std::vector<std::string>&)>& id_of) {
  std::map<uint64_t, Member> by_id;
  for (const auto& nu : cluster) {
    Member m;
    m.id = id_of(nu.peer_urls);
    m.name = nu.name;
    m.peer_urls = nu.peer_urls;
    if (by_id.count(m.id) != 0) {
      // etcd prints the Go struct; we print its fields in the same order.
      return Status::InvalidArgument("member exists with identical ID {ID:" + IdString(m.id) +
                                     " Name:" + m.name + " PeerURLs:[" + JoinSpace(m.peer_urls) +
                                     "]}");
    }
    if (m.id == 0) return Status::InvalidArgument("cannot use 0 as member id");
    by_id.emplace(m.id, std::move(m));
  }
  std::vector<Member> out;
  for (auto& [id, m] : by_id)
    out.push_back(std::move(m));
  return out;
}

Result<std::vector<Member>> ValidateClusterAndAssignIDs(std::vector<Member> local,
                                                        const std::vector<Member>& existing) {
  if (local.size() != existing.size()) return Status::InvalidArgument("member count is unequal");
  std::vector<Member> ems = existing;
  std::sort(ems.begin(), ems.end(), [](const Member& a, const Member& b) { return a.id < b.id; });
  for (const Member& em : ems) {
    bool ok = false;
    for (Member& lm : local) {
      if (URLStringsEqual(em.peer_urls, lm.peer_urls)) {
        lm.id = em.id;
        ok = true;
        break;
      }
    }
    if (!ok) {
      return Status::InvalidArgument("PeerURLs: no match found for existing member (" +
                                     IdString(em.id) + ", [" + JoinSpace(em.peer_urls) +
                                     "]), last resolver error (<nil>)");
    }
  }
  std::sort(local.begin(), local.end(),
            [](const Member& a, const Member& b) { return a.id < b.id; });
  return local;
}

}  // namespace etcdpp::membership
