// etcdutl's output formats (-w simple|json|table) for snapshot status.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "tools/utl/status.h"

namespace etcdpp::utl {

// go-humanize Bytes (SI units): "82 B", "20 kB", "2.1 MB".
std::string HumanizeBytes(uint64_t n);

// The text etcdutl prints (with the final newline). kInvalidArgument
// "unsupported output format" for other formats (etcdutl: "fields"/"protobuf"
// are not supported for this command either).
Result<std::string> FormatDbStatus(const DbStatus& ds, const std::string& format);

// etcdutl hashkv's HashKV.
struct HashKVStatus {
  uint32_t hash = 0;
  int64_t hash_revision = 0;
  int64_t compact_revision = 0;
};
Result<std::string> FormatHashKV(const HashKVStatus& h, const std::string& format);

}  // namespace etcdpp::utl
