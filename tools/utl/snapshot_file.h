// A snapshot file as `etcdctl snapshot save` writes it: the backend payload
// (an etcdpp LMDB compacting copy, or an etcd bbolt file) followed, when the
// file size is 32 more than a multiple of 512, by the SHA-256 of the payload
// (ETCD-FACTS.md §12). A file copied from a data dir has no digest.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "bbolt/db.h"
#include "common/status.h"

namespace etcdpp::utl {

enum class SnapshotFormat { kUnknown, kLmdb, kBbolt };
const char* FormatName(SnapshotFormat f);

inline constexpr size_t kSha256Bytes = 32;

struct SnapshotFile {
  std::string path;
  std::unique_ptr<bbolt::MappedFile> map;
  std::string_view payload;  // the file without the digest
  std::string_view digest;   // the 32 trailing bytes, or empty
  SnapshotFormat format = SnapshotFormat::kUnknown;
};

// etcd's hasChecksum: size % 512 == 32.
inline bool HasChecksum(uint64_t size) {
  return size % 512 == kSha256Bytes;
}

// Maps the file and detects digest and payload format (by the magic number
// of the first meta page). Verifies nothing. kNotFound / kIOError as the OS says.
Result<SnapshotFile> OpenSnapshotFile(const std::string& path);

// etcdutl's integrity rule: with a digest, it must match the payload's
// SHA-256 ("expected sha256 [..], got [..]", Go's %v of the byte slices);
// without one, "snapshot missing hash but --skip-hash-check=false" unless
// skip_hash_check. With skip_hash_check nothing is checked.
Status VerifyHash(const SnapshotFile& f, bool skip_hash_check);

// SHA-256 of `data` (32 raw bytes).
std::string Sha256(std::string_view data);

}  // namespace etcdpp::utl
