#include "server/ids.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>

namespace etcdpp::server {
namespace {

uint64_t First8BigEndian(const unsigned char* digest) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | digest[i];
  return v;
}

}  // namespace

uint64_t ComputeMemberId(std::vector<std::string> peer_urls, std::string_view cluster_token) {
  std::sort(peer_urls.begin(), peer_urls.end());
  std::string buf;
  for (const auto& u : peer_urls)
    buf += u;
  buf.append(cluster_token);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), digest);
  return First8BigEndian(digest);
}

uint64_t ComputeClusterId(std::vector<uint64_t> member_ids) {
  std::sort(member_ids.begin(), member_ids.end());
  std::string buf;
  for (uint64_t id : member_ids) {
    for (int shift = 56; shift >= 0; shift -= 8)
      buf.push_back(static_cast<char>(id >> shift));
  }
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), digest);
  return First8BigEndian(digest);
}

std::string IdToHex(uint64_t id) {
  char out[17];
  std::snprintf(out, sizeof(out), "%llx", static_cast<unsigned long long>(id));
  return out;
}

IdGenerator::IdGenerator(uint64_t member_id, uint64_t now_ms)
    : prefix_((member_id & 0xffff) << 48), suffix_((now_ms & ((1ull << 40) - 1)) << 8) {}

uint64_t IdGenerator::Next() {
  // The suffix (time << 8 | counter) only grows, so ids stay unique within
  // this process; the start time keeps them apart from earlier incarnations
  // whose proposals may still be replayed from the WAL.
  uint64_t s = suffix_.fetch_add(1, std::memory_order_relaxed) + 1;
  return prefix_ | (s & ((1ull << 48) - 1));
}

}  // namespace etcdpp::server
