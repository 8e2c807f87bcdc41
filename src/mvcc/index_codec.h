// Encodings of the `index` and `longkey` databases (docs/mvcc_layout.md).
//
// index: DUPSORT|DUPFIXED. LMDB key = the index key of a user key; each
// duplicate is one write of that key: 8B BE main | 8B BE sub | 1B kind
// (0 put, 1 tombstone). Duplicates sort by revision (memcmp of big-endian).
//
// Index key: a user key of at most kShortKeyMax bytes is used as-is. A longer
// key L (LMDB keys are limited to 511 bytes) is stored under a surrogate
// prefix(L, kShortKeyMax) | 0x00 | 8B BE hash, and `longkey` maps the surrogate
// to L. Order: a short key s and a surrogate of prefix p compare like s and L
// (s has <= kShortKeyMax bytes, so a difference shows up inside p, or s is a
// proper prefix of p|0x00..); surrogates of different prefixes compare like
// their keys. Only surrogates that share one prefix are out of order; they
// are adjacent in the index and a range scan sorts such a run in memory.
// Hash collisions are resolved by linear probing (hash+1, ...).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mvcc/revision.h"

namespace etcdpp::mvcc {

inline constexpr size_t kShortKeyMax = 480;
inline constexpr size_t kSurrogateBytes = kShortKeyMax + 1 + 8;
inline constexpr size_t kIndexEntryBytes = 17;

struct IndexEntry {
  Revision rev;
  bool tombstone = false;
};

inline std::string EncodeIndexEntry(const IndexEntry& e) {
  std::string s(kIndexEntryBytes, '\0');
  PutBE64(s.data(), static_cast<uint64_t>(e.rev.main));
  PutBE64(s.data() + 8, static_cast<uint64_t>(e.rev.sub));
  s[16] = e.tombstone ? 1 : 0;
  return s;
}
inline IndexEntry DecodeIndexEntry(std::string_view s) {
  return IndexEntry{Revision{static_cast<int64_t>(GetBE64(s.data())),
                             static_cast<int64_t>(GetBE64(s.data() + 8))},
                    s[16] != 0};
}

inline bool IsSurrogate(std::string_view index_key) {
  return index_key.size() > kShortKeyMax;
}

// FNV-1a 64: stable across builds and platforms (it is persisted).
inline uint64_t LongKeyHash(std::string_view key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

inline std::string MakeSurrogate(std::string_view key, uint64_t hash) {
  std::string s(key.substr(0, kShortKeyMax));
  s.push_back('\0');
  s += BE64(hash);
  return s;
}
inline uint64_t SurrogateHash(std::string_view surrogate) {
  return GetBE64(surrogate.data() + kShortKeyMax + 1);
}

}  // namespace etcdpp::mvcc
