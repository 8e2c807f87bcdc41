// A new member's identity from its flags, as etcd derives it: the member id
// from its --initial-advertise-peer-urls and --initial-cluster-token, the
// cluster id from every member listed in --initial-cluster.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "membership/member.h"
#include "raft/types.h"

namespace etcdpp::server {

struct Identity {
  uint64_t member_id = 0;
  uint64_t cluster_id = 0;
  std::vector<uint64_t> member_ids;  // all initial members
};

// "a=http://h:2380,b=http://h2:2380,a=http://h3:2380" -> {a: [..,..], b: [..]}.
Result<std::map<std::string, std::vector<std::string>>> ParseInitialCluster(const std::string& s);

// InvalidArgument (etcd-like text) if --initial-cluster does not list this
// member's name with exactly its advertised peer URLs.
Result<Identity> BootstrapIdentity(const config::ServerConfig& cfg);

// The log every member of a new cluster starts with, as etcd writes it: one
// ConfChange AddNode entry per member (context = the encoded member), in the
// given order (sorted by id, so every member writes the same log), at indexes
// 1..N, term 1. Used by a bootstrapping member and by `etcdpp-utl snapshot
// restore`; the caller saves them with HardState{1, 0, N}.
std::vector<raft::Entry> InitialConfChangeEntries(const std::vector<membership::Member>& members);

}  // namespace etcdpp::server
