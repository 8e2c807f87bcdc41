// The write-ahead log: the one durability point a client waits for.
//
// Layout (docs/wal_format.md is the spec): <dir>/<seq:016x>-<index:016x>.wal
// segments, preallocated; each record is `u32 length | u32 crc32c (chained
// from the previous record) | u8 type | payload`. Types: metadata, entry, hard
// state, snapshot marker, crc seed (first record of each segment).
//
// Recovery rules (precise version: docs/wal_format.md, "Reading and recovery"):
//  - a record that fails its CRC or is cut short at the very tail of the LAST
//    segment is a torn write: truncate there, report it (ReadResult::repaired,
//    the server logs it), and go on. "At the tail" means: no valid record can
//    be found after it, or it contains a sector that never reached the disk;
//  - a bad record anywhere else (an older segment, or the last segment with
//    valid records after the damage) is corruption: ReadAll fails with
//    Code::kCorruption naming the file and offset. Never guess.
//
// Create and Open hold an exclusive flock on the directory until Close (or
// destruction): a second user gets kFailedPrecondition.
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
  Fs* fs = nullptr;  // null: the real file system (wal::DefaultFs()); must outlive the Wal
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
  // and `metadata`; fsyncs file and directory. kAlreadyExists if dir already
  // holds a WAL; kIOError; kFailedPrecondition if locked. Ready for Save at once.
  static Result<std::unique_ptr<Wal>> Create(const std::string& dir, std::string_view metadata,
                                             const Options& opts = {});

  // Opens an existing WAL positioned at `snap` (a marker that must exist in the
  // log, or {0,0}). Call ReadAll() before Save(). kNotFound if there is no WAL
  // or no segment old enough for `snap` (purged); kFailedPrecondition if locked.
  static Result<std::unique_ptr<Wal>> Open(const std::string& dir, WalSnapshot snap,
                                           const Options& opts = {});

  // The snapshot markers a restart may use, oldest first, starting with {0,0}
  // (unless purged)
  // (etcd's ValidSnapshotEntries): those whose index is <= the commit index of
  // the last hard state, so the WAL and the snap dir can be matched up (load
  // the newest snap file listed here, then Open at it). Read-only: takes no
  // lock and repairs nothing (a torn tail simply ends the scan); kCorruption
  // as ReadAll.
  static Result<std::vector<WalSnapshot>> ValidSnapshots(const std::string& dir,
                                                         const Options& opts = {});

  // Reads every record after the snapshot marker, repairs a torn tail (see
  // above; the repair is synced before ReadAll returns) and leaves the WAL
  // ready to append. kCorruption on mid-log damage (also: a missing segment, an
  // index gap, a marker for snap.index with another term); kNotFound if the
  // snapshot marker given to Open is not in the log. Once per Open.
  virtual Result<ReadResult> ReadAll() = 0;

  // Appends `hs` (unless empty) and `entries`, then fdatasyncs if `sync`.
  // This is the group commit: one call (one fsync) per raft Ready. When it
  // returns OK, everything passed is durable. On error (e.g. ENOSPC) nothing
  // partially written is ever reported as saved; the WAL refuses further
  // appends (the caller must stop) and a restart recovers the durable prefix.
  // The failed call's records are rolled back (truncated) where the OS lets
  // us; if not, the partial tail is what the torn-tail rule drops. kIOError
  // for the OS saying no (sticky); kInvalidArgument, with nothing written and
  // the WAL still usable, for entries that are not consecutive, start past
  // LastIndex()+1, or exceed 256 MiB.
  virtual Status Save(const raft::HardState& hs, const std::vector<raft::Entry>& entries,
                      bool sync = true) = 0;

  // Records a snapshot marker and fsyncs. LastIndex() becomes at least
  // snap.index (a follower's log continues after an installed snapshot).
  virtual Status SaveSnapshot(WalSnapshot snap) = 0;

  // Segments whose entries are all <= index (and not the last segment) may be
  // purged: PurgeTo deletes them; the marker state needed for Open is kept.
  // `index` is clamped to the newest snapshot marker this WAL has read or
  // saved, so SaveSnapshot first; the caller must also not pass an index past
  // what the backend (LMDB) has durably applied.
  virtual Status PurgeTo(uint64_t index) = 0;

  // The last index saved (0 if none).
  virtual uint64_t LastIndex() const = 0;

  virtual Status Close() = 0;
};

}  // namespace etcdpp::wal
