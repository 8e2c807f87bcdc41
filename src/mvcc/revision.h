// etcd's revision encoding (ETCD-FACTS.md §12, server/storage/mvcc/revision.go):
// 8-byte big-endian main | '_' | 8-byte big-endian sub, plus 't' for a
// tombstone. Big-endian keeps LMDB's memcmp order equal to revision order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace etcdpp::mvcc {

struct Revision {
  int64_t main = 0;
  int64_t sub = 0;
  friend bool operator==(const Revision&, const Revision&) = default;
  friend auto operator<=>(const Revision&, const Revision&) = default;
};

inline constexpr size_t kRevBytes = 17;
inline constexpr size_t kMarkedRevBytes = 18;

inline void PutBE64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}
inline uint64_t GetBE64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
inline std::string BE64(uint64_t v) {
  std::string s(8, '\0');
  PutBE64(s.data(), v);
  return s;
}

inline std::string EncodeRevision(Revision r, bool tombstone) {
  std::string s(tombstone ? kMarkedRevBytes : kRevBytes, '\0');
  PutBE64(s.data(), static_cast<uint64_t>(r.main));
  s[8] = '_';
  PutBE64(s.data() + 9, static_cast<uint64_t>(r.sub));
  if (tombstone) s[17] = 't';
  return s;
}
// Accepts 17 or 18 bytes; the caller checks the size first.
inline Revision DecodeRevision(std::string_view s) {
  return Revision{static_cast<int64_t>(GetBE64(s.data())),
                  static_cast<int64_t>(GetBE64(s.data() + 9))};
}
inline bool IsTombstoneKey(std::string_view s) {
  return s.size() == kMarkedRevBytes && s[17] == 't';
}

}  // namespace etcdpp::mvcc
