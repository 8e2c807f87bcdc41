// Member and cluster identities, computed exactly as etcd does so that a
// default single member reports etcd's well-known ids (member
// 8e9e05c52164694d, cluster cdf818194e3a8c32) and tools that compare them
// keep working.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace etcdpp::server {

// etcd membership.computeMemberId without a timestamp (bootstrap): the first 8
// bytes, big-endian, of SHA-1(sorted peer URLs concatenated + cluster token).
uint64_t ComputeMemberId(std::vector<std::string> peer_urls, std::string_view cluster_token);

// etcd RaftCluster.genID: the first 8 bytes, big-endian, of SHA-1 over the
// sorted member ids, each written as 8 bytes big-endian.
uint64_t ComputeClusterId(std::vector<uint64_t> member_ids);

// Lower-case hex without leading zeros stripped to 16 digits, like etcd's
// types.ID.String() ("8e9e05c52164694d").
std::string IdToHex(uint64_t id);

// Request ids that never repeat across restarts of one member (etcd idutil):
// the member id's low 16 bits, then 40 bits of wall-clock milliseconds at
// start, then a counter in the low 8 bits that carries into the time bits.
class IdGenerator {
 public:
  IdGenerator(uint64_t member_id, uint64_t now_ms);
  uint64_t Next();

 private:
  uint64_t prefix_;
  std::atomic<uint64_t> suffix_;
};

}  // namespace etcdpp::server
