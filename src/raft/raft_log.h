// RaftLog: the node's view of the log = stable part (Storage) + unstable tail (not yet
// handed to the application for persistence, or handed but not yet acknowledged by Advance).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "raft/storage.h"
#include "raft/types.h"

namespace etcdpp::raft {

class RaftLog {
 public:
  RaftLog(Storage* storage, uint64_t max_applying_bytes);

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term of entry i; kCompacted below FirstIndex()-1, kUnavailable above LastIndex().
  Result<uint64_t> Term(uint64_t i) const;
  uint64_t ZeroTermOnError(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;
  // Raft §5.4.1: candidate's log is at least as up-to-date as ours.
  bool IsUpToDate(uint64_t last_index, uint64_t term) const;

  // Follower append with consistency check; returns the new last index of the matched
  // entries or nullopt if (index, log_term) does not match.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      const std::vector<Entry>& ents);
  // Appends after truncating any conflicting suffix; returns the last index.
  uint64_t Append(const std::vector<Entry>& ents);
  // First index whose term differs from ents (or is beyond our log); 0 if none.
  uint64_t FindConflict(const std::vector<Entry>& ents) const;
  // Largest index <= index whose term <= term (fast log back-off). Returns {index, term}.
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Entries in [lo, hi) limited to max_bytes (at least one).
  Result<std::vector<Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;
  Result<std::vector<Entry>> EntriesFrom(uint64_t i, uint64_t max_bytes) const;

  void CommitTo(uint64_t to);
  bool MaybeCommit(uint64_t max_index, uint64_t term, bool ignore_term);
  void AppliedTo(uint64_t i);

  // Unstable side (to be persisted by the application).
  const std::vector<Entry>& UnstableEntries() const { return unstable_; }
  const std::optional<Snapshot>& UnstableSnapshot() const { return unstable_snapshot_; }
  void StableTo(uint64_t index, uint64_t term);
  void StableSnapTo(uint64_t index);
  bool HasNextCommittedEnts() const;
  std::vector<Entry> NextCommittedEnts() const;
  Result<Snapshot> GetSnapshot() const;
  void Restore(const Snapshot& s);

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  // Index of the first unstable entry (= stable last index + 1).
  uint64_t unstable_offset() const { return offset_; }

 private:
  Status MustCheckOutOfBounds(uint64_t lo, uint64_t hi) const;

  Storage* storage_;
  std::optional<Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_;
  uint64_t offset_ = 0;  // index of unstable_[0]
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  uint64_t max_applying_bytes_;
};

}  // namespace etcdpp::raft
