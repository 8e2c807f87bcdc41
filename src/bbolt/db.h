// A read-only reader of bbolt database files (the backend format of etcd:
// what `etcdctl snapshot save` downloads), for importing etcd data.
//
// The on-disk format (bbolt's documented layout; little-endian, as on every
// platform etcd ships for):
//   page header (16 B): id u64 | flags u16 | count u16 | overflow u32
//     flags: 0x01 branch, 0x02 leaf, 0x04 meta, 0x10 freelist. A page spans
//     (1 + overflow) consecutive pages of `page_size` bytes.
//   meta (pages 0 and 1, after the header): magic u32 (0xED0CDAED) | version
//     u32 (2) | page_size u32 | flags u32 | root bucket {root pgid u64,
//     sequence u64} | freelist pgid u64 | pgid (high-water mark) u64 | txid
//     u64 | checksum u64 (FNV-1a 64 of the meta bytes before it). The valid
//     meta with the higher txid is current.
//   branch element (16 B): pos u32 | ksize u32 | child pgid u64
//   leaf element (16 B):   flags u32 | pos u32 | ksize u32 | vsize u32
//     (flags 0x01 = the value is a nested bucket). `pos` is relative to the
//     element's own address; the value follows the key.
//   bucket value: root pgid u64 | sequence u64; root 0 = an inline bucket whose
//     single leaf page follows in the value itself.
//
// Every offset read from the file is checked against the page (or inline
// value) it must lie in, page ids against the high-water mark and the file
// size, and the tree depth is bounded: a damaged or hostile file gives
// kCorruption, never a crash.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace etcdpp::bbolt {

inline constexpr uint32_t kMagic = 0xED0CDAED;
inline constexpr uint32_t kVersion = 2;
inline constexpr size_t kPageHeaderBytes = 16;
inline constexpr size_t kElementBytes = 16;
inline constexpr size_t kBucketHeaderBytes = 16;

// True if `head` (the first bytes of a file, at least 24) is a bbolt file:
// page 0 is a meta page with bbolt's magic.
bool LooksLikeBbolt(std::string_view head);

struct Meta {
  uint32_t page_size = 0;
  uint32_t flags = 0;
  uint64_t root = 0;      // root bucket's page
  uint64_t freelist = 0;  // freelist page
  uint64_t pgid = 0;      // high-water mark: pages [0, pgid) are in use
  uint64_t txid = 0;
};

// Visitor for the elements of a bucket, in key order. `is_bucket`: the
// element is a nested bucket (`value` is its bucket header + inline page).
// Returning a non-OK status stops the walk and is returned.
using Visitor = std::function<Status(std::string_view key, std::string_view value, bool is_bucket)>;

// A bbolt database over bytes that outlive it (e.g. a MappedFile). Cheap to
// copy; thread-compatible (const methods only).
class Db {
 public:
  // Validates the meta pages (magic, version, checksum) and picks the valid
  // one with the higher txid, as bbolt does. kCorruption if neither is valid
  // or the file is shorter than the high-water mark says.
  static Result<Db> Open(std::string_view data);

  const Meta& meta() const { return meta_; }
  // Bytes in use (bbolt tx.Size(): high-water mark * page size).
  uint64_t SizeBytes() const { return meta_.pgid * meta_.page_size; }

  // The top-level elements (etcd: one nested bucket per table).
  Status ForEachRoot(const Visitor& fn) const;
  // The elements of top-level bucket `name`: kNotFound if there is none.
  Status ForEach(std::string_view name, const Visitor& fn) const;
  // Names of the top-level buckets, in order.
  Result<std::vector<std::string>> Buckets() const;
  bool HasBucket(std::string_view name) const;
  // The value of `key` in top-level bucket `name` (kNotFound if either is missing).
  Result<std::string> Get(std::string_view name, std::string_view key) const;

 private:
  Db(std::string_view data, Meta meta) : data_(data), meta_(meta) {}
  Status WalkBucketValue(std::string_view bucket_value, const Visitor& fn) const;
  Status WalkPage(uint64_t pgid, int depth, const Visitor& fn) const;
  Status WalkNode(std::string_view span, std::string_view where, int depth,
                  const Visitor& fn) const;

  std::string_view data_;
  Meta meta_;
};

// A file mapped read-only (MAP_PRIVATE); the bytes live until destruction.
class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  std::string_view data() const { return {static_cast<const char*>(addr_), size_}; }

 private:
  MappedFile(void* addr, size_t size) : addr_(addr), size_(size) {}
  void* addr_;
  size_t size_;
};

}  // namespace etcdpp::bbolt
