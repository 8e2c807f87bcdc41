#include "wal/segment_name.h"

#include <algorithm>
#include <cstdio>

namespace etcdpp::wal {
namespace {

std::optional<uint64_t> ParseHex16(const std::string& s, size_t pos) {
  uint64_t v = 0;
  for (size_t i = pos; i < pos + 16; ++i) {
    char c = s[i];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

}  // namespace

std::string SegmentName(SegmentId id) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%016llx-%016llx.wal", static_cast<unsigned long long>(id.seq),
                static_cast<unsigned long long>(id.index));
  return buf;
}

std::optional<SegmentId> ParseSegmentName(const std::string& name) {
  // 16 hex + '-' + 16 hex + ".wal"
  if (name.size() != 37 || name[16] != '-' || name.compare(33, 4, ".wal") != 0) return std::nullopt;
  auto seq = ParseHex16(name, 0);
  auto index = ParseHex16(name, 17);
  if (!seq || !index) return std::nullopt;
  return SegmentId{*seq, *index};
}

std::vector<SegmentId> SegmentsIn(const std::vector<std::string>& names) {
  std::vector<SegmentId> ids;
  for (const auto& n : names) {
    if (auto id = ParseSegmentName(n)) ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end(),
            [](const SegmentId& a, const SegmentId& b) { return a.seq < b.seq; });
  return ids;
}

}  // namespace etcdpp::wal
