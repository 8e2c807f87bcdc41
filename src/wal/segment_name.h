// Segment file names: <seq:016x>-<index:016x>.wal (docs/wal_format.md, "Files").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace etcdpp::wal {

struct SegmentId {
  uint64_t seq = 0;
  uint64_t index = 0;  // first raft index expected in the segment
  bool operator==(const SegmentId&) const = default;
};

std::string SegmentName(SegmentId id);
// nullopt unless `name` is exactly a segment name (lower-case hex).
std::optional<SegmentId> ParseSegmentName(const std::string& name);
// The segment ids among `names`, sorted by seq.
std::vector<SegmentId> SegmentsIn(const std::vector<std::string>& names);

}  // namespace etcdpp::wal
