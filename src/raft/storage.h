// Storage: the read side of the raft log that the application owns.
//
// Raft reads persisted entries and the latest snapshot through this interface; the
// application writes them (after each Ready) through its own implementation, e.g.
// MemoryStorage::Append. Errors are values: kCompacted (the requested index is older than the
// first available one: the leader must send a snapshot), kUnavailable (the entries or the
// snapshot are not available right now). Any other error makes raft abort (the log is its
// foundation; continuing on a broken log risks safety).
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "raft/types.h"

namespace etcdpp::raft {

// Named errors, distinguishable with IsCompacted()/IsUnavailable().
Status ErrCompacted();      // "requested index is unavailable due to compaction"
Status ErrSnapOutOfDate();  // "requested index is older than the existing snapshot"
Status ErrUnavailable();    // "requested entry at index is unavailable"
Status ErrSnapshotTemporarilyUnavailable();
bool IsCompacted(const Status& s);
bool IsUnavailable(const Status& s);
bool IsSnapOutOfDate(const Status& s);
bool IsSnapshotTemporarilyUnavailable(const Status& s);

struct InitialStateResult {
  HardState hard_state;
  ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;
  // The persisted HardState and the ConfState of the latest snapshot/applied config.
  virtual Result<InitialStateResult> InitialState() const = 0;
  // Entries in [lo, hi), at least one if any exists, then up to max_bytes total payload.
  // kCompacted if lo <= the snapshot index; kUnavailable if hi > LastIndex()+1.
  virtual Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const = 0;
  // Term of entry i, for i in [FirstIndex()-1, LastIndex()] (FirstIndex()-1 is the snapshot's).
  virtual Result<uint64_t> Term(uint64_t i) const = 0;
  virtual Result<uint64_t> FirstIndex() const = 0;
  virtual Result<uint64_t> LastIndex() const = 0;
  // The most recent snapshot; kUnavailable-like ErrSnapshotTemporarilyUnavailable if it is
  // being built (raft retries later).
  virtual Result<raft::Snapshot> Snapshot() const = 0;
};

// Entries and snapshot in memory. Index 0 of ents_ is a dummy carrying the snapshot's
// index/term, so FirstIndex() = ents_[0].index + 1. Not thread-safe (raft is single-threaded).
class MemoryStorage : public Storage {
 public:
  MemoryStorage();

  Result<InitialStateResult> InitialState() const override;
  Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  Result<uint64_t> FirstIndex() const override;
  Result<uint64_t> LastIndex() const override;
  Result<raft::Snapshot> Snapshot() const override;

  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  const HardState& hard_state() const { return hard_state_; }
  // Replaces everything with the snapshot. ErrSnapOutOfDate if older than the current one.
  Status ApplySnapshot(const raft::Snapshot& snap);
  // Makes a snapshot at index i (<= LastIndex()) with the given conf state and data, to be
  // followed by Compact(). ErrSnapOutOfDate if i <= current snapshot index.
  Result<raft::Snapshot> CreateSnapshot(uint64_t i, const ConfState* cs, std::string data);
  // Discards entries before compact_index (that entry becomes the dummy). ErrCompacted if
  // already compacted; compact_index must be <= LastIndex() (programmer error otherwise).
  Status Compact(uint64_t compact_index);
  // Appends entries; entries overlapping the existing log truncate it at the first new index.
  // The entries must be contiguous with the log (programmer error otherwise).
  Status Append(const std::vector<Entry>& entries);

 private:
  uint64_t first_index() const { return ents_[0].index + 1; }
  uint64_t last_index() const { return ents_[0].index + ents_.size() - 1; }

  HardState hard_state_;
  raft::Snapshot snapshot_;
  std::vector<Entry> ents_;
};

// Payload size used for max_size_per_msg/max_bytes accounting.
inline uint64_t EntrySize(const Entry& e) {
  return e.data.size() + 24;
}

// Keeps the longest prefix of ents whose total size is <= max_bytes, never fewer than one.
void LimitSize(std::vector<Entry>* ents, uint64_t max_bytes);

}  // namespace etcdpp::raft
