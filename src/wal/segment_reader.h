// Reads one segment held in memory and applies the recovery rules of
// docs/wal_format.md ("Reading and recovery"): checks every record, tells a
// torn tail (last segment only) from corruption, never trusts a length field
// for anything but bounds-checked views into the buffer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "wal/record.h"

namespace etcdpp::wal {

constexpr uint64_t kSectorBytes = 512;
constexpr uint64_t kResyncBudgetBytes = 256ull << 20;  // CRC work allowed to classify damage

struct TornTail {
  uint64_t offset = 0;         // first damaged byte: the log now ends here
  uint64_t dropped_bytes = 0;  // from offset to the last non-zero byte of the file
  std::string reason;          // "crc mismatch", "short record", ...
};

struct SegmentScan {
  uint64_t end_offset = 0;  // where the next record would go
  uint32_t last_crc = 0;    // chain value after the last good record
  std::optional<TornTail> torn;
};

// Called for every good record after the crc seed, in order. A non-OK return
// (a malformed payload, an index gap) stops the scan; kCorruption messages are
// prefixed with the file name and offset.
using RecordVisitor =
    std::function<Status(RecordType type, std::string_view payload, uint64_t offset)>;

// `chain_in` is the chain value at the end of the previous segment, if it was
// read; the segment's crc seed must match it.
Result<SegmentScan> ScanSegment(std::string_view buf, const std::string& name, bool is_last,
                                std::optional<uint32_t> chain_in, const RecordVisitor& visit);

}  // namespace etcdpp::wal
