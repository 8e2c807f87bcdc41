// The write-ahead log: the one durability point a client waits for.
//
// Layout (docs/wal_format.md is the spec): <dir>/<seq:016x>-<index:016x>.wal
// segments, preallocated; each record is `u32 length | u32 crc32c (chained
// from the previous record) | u8 type | payload`. Types: metadata, entry, hard
// state, snapshot marker, crc seed (first record of each segment).
//
// Recovery rules:
//  - a record that fails its CRC or is cut short at the very tail of the LAST
//    segment is a torn write: truncate there, log it, and go on;
//  - a bad record anywhere else is corruption: Open/ReadAll fail with
//    Code::kCorruption naming the file and offset. Never guess.
//
// Thread-compatibility: one Wal is used by one thread (the raft loop).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "raft/types.h"

namespace etcdpp::wal {

// A snapshot marker: the WAL holds entries after it; ReadAll starts there.
struct WalSnapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  bool operator==(const WalSnapshot&) const = default;
};

class Fs;  // wal/fs.h: the file-system layer (tests inject faults through it)

struct Options {
  uint64_t segment_bytes = 64ull << 20;  // preallocated segment size (etcd: 64 MB)
  bool unsafe_no_fsync = false;          // --unsafe-no-fsync: tests only
  Fs* fs = nullptr;                      // null: the real file system (wal::DefaultFs())
};

// A torn write found at the end of the log and cut off by ReadAll. Not an
// error (the writer died mid-Save; nothing acknowledged is lost): the server
// logs it as a warning.
struct TailRepair {
  std::string file;            // path of the last segment
  uint64_t offset = 0;         // the log now ends here
  uint64_t dropped_bytes = 0;  // non-zero bytes that were discarded
  std::string reason;          // "crc mismatch", "short record", ...
};

struct ReadResult {
  std::string metadata;                // as given to Create (cluster id, member id, ...)
  raft::HardState hard_state;          // the last one saved
  std::vector<raft::Entry> entries;    // index > snapshot.index, in order; later writes of
                                       // an index replace earlier ones (and truncate after)
  std::optional<TailRepair> repaired;  // set if a torn tail was truncated
};

class Wal {
 public:
  virtual ~Wal() = default;

  // True if dir holds at least one WAL segment.
  static bool Exists(const std::string& dir);

  // Creates dir (0700) and a first segment whose first records are the crc seed
  // and `metadata`; fsyncs file and directory. Fails if dir already holds a WAL.
  static Result<std::unique_ptr<Wal>> Create(const std::string& dir, std::string_view metadata,
                                             const Options& opts = {});

  // Opens an existing WAL positioned at `snap` (a marker that must exist in the
  // log, or {0,0}). Call ReadAll() before Save().
  static Result<std::unique_ptr<Wal>> Open(const std::string& dir, WalSnapshot snap,
                                           const Options& opts = {});

  // Reads every record after the snapshot marker, repairs a torn tail (see
  // above) and leaves the WAL ready to append. kCorruption on mid-log damage;
  // kNotFound if the snapshot marker given to Open is not in the log.
  virtual Result<ReadResult> ReadAll() = 0;

  // Appends `hs` (unless empty) and `entries`, then fdatasyncs if `sync`.
  // This is the group commit: one call (one fsync) per raft Ready. When it
  // returns OK, everything passed is durable. On error (e.g. ENOSPC) nothing
  // partially written is ever reported as saved; the WAL refuses further
  // appends (the caller must stop) and a restart recovers the durable prefix.
  virtual Status Save(const raft::HardState& hs, const std::vector<raft::Entry>& entries,
                      bool sync = true) = 0;

  // Records a snapshot marker and fsyncs.
  virtual Status SaveSnapshot(WalSnapshot snap) = 0;

  // Segments whose entries are all <= index (and not the last segment) may be
  // purged: PurgeTo deletes them; the marker state needed for Open is kept.
  virtual Status PurgeTo(uint64_t index) = 0;

  // The last index saved (0 if none).
  virtual uint64_t LastIndex() const = 0;

  virtual Status Close() = 0;
};

}  // namespace etcdpp::wal
