// --initial-cluster: parsing, etcd's bootstrap checks, and the comparison of
// the local configuration with a cluster fetched from existing members
// (--initial-cluster-state existing).
//
// Member ids: etcd derives a bootstrap member's id from its sorted peer URLs
// and the cluster token (membership.computeMemberId). That function lives in
// src/server/ids.h (ComputeMemberId), which this module must not depend on,
// so BuildInitialMembers takes it as `id_of` (the caller binds the token):
//   BuildInitialMembers(parsed, [&](const auto& urls) { return ComputeMemberId(urls, token); })
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "membership/member.h"

namespace etcdpp::membership {

struct NamedURLs {
  std::string name;
  std::vector<std::string> peer_urls;  // sorted, trimmed
  bool operator==(const NamedURLs&) const = default;
};

// "a=http://h1:2380,a=http://h1b:2380,b=http://h2:2380" -> one entry per name
// (several URLs per name allowed), in name order (etcd keeps a map). Empty
// items are skipped, as etcd does. Errors (InvalidArgument):
//   a URL that does not parse: ParseURLs' text (etcd types.NewURLsMap)
//   an empty name: "initial cluster has a member with an empty name" (etcdpp's
//   own text; etcd has no such check and would bootstrap a nameless member)
//   one URL used twice: "initial cluster <a=u1,b=u2,...> has duplicate url"
//   (etcd ServerConfig.VerifyBootstrap; the map printed as sorted name=url pairs)
Result<std::vector<NamedURLs>> ParseInitialCluster(std::string_view s);

// etcd's URLsMap.String(): sorted "name=url" pairs joined by ','.
std::string InitialClusterString(const std::vector<NamedURLs>& cluster);

// etcd ServerConfig.hasLocalMember: InvalidArgument
// "couldn't find local name \"<name>\" in the initial cluster configuration".
Status CheckHasLocalMember(const std::vector<NamedURLs>& cluster, std::string_view name);

// etcd NewClusterFromURLsMap: one voting member per name (name set, no client
// URLs yet), id = id_of(peer_urls). Sorted by id. Errors (InvalidArgument):
//   "member exists with identical ID <member>" when two names get one id
//   "cannot use 0 as member id"
Result<std::vector<Member>> BuildInitialMembers(
    const std::vector<NamedURLs>& cluster,
    const std::function<uint64_t(const std::vector<std::string>&)>& id_of);

// etcd ValidateClusterAndAssignIDs: every existing member must match one local
// member by peer URLs (URLStringsEqual); the local members then take the
// existing ids. Returns the local members with those ids, sorted by id.
// Errors (InvalidArgument):
//   "member count is unequal"
//   "PeerURLs: no match found for existing member (<hex id>, [<urls>]), last
//    resolver error (<nil>)"
Result<std::vector<Member>> ValidateClusterAndAssignIDs(std::vector<Member> local,
                                                        const std::vector<Member>& existing);

}  // namespace etcdpp::membership
