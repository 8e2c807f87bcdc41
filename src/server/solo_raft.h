// SoloRaft: the consensus core of a single-member cluster, shaped like
// src/raft's RawNode (Status Campaign(), Status Propose(data), HasReady(),
// Ready(), Advance(rd); Ready's fields have the same names) so that RawNode
// can replace it without changing the raft loop
// (docs/server.md, "The raft seam").
//
// With one voter, an entry is committed as soon as it is on this member's
// stable storage. SoloRaft therefore reports new entries and the same
// entries as committed in ONE Ready, with hard_state.commit = their last
// index. This is sound only because the loop follows the Ready ordering
// duty: Save(hard_state, entries) and its fdatasync complete BEFORE
// committed_entries are handed to the applier. (etcd-io/raft 3.6 instead
// self-acknowledges after persistence and returns the committed entries in
// the next Ready; the loop handles both shapes identically.)
//
// Not thread-safe: owned by the raft loop thread, like a RawNode.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "raft/types.h"

namespace etcdpp::server {

struct Ready {
  // Empty when unchanged since the last Ready.
  raft::HardState hard_state;
  // To append to the WAL (stable storage) before anything else happens.
  std::vector<raft::Entry> entries;
  // Committed: hand to the applier only after `entries`/`hard_state` are durable.
  std::vector<raft::Entry> committed_entries;
  // True if the WAL must fdatasync before the Ready's effects are visible
  // (new entries, or term/vote changed: etcd raft's MustSync).
  bool must_sync = false;
};

class SoloRaft {
 public:
  // `hs` and the last entry (index, term) come from the WAL (all zero when new).
  SoloRaft(uint64_t id, raft::HardState hs, uint64_t last_index, uint64_t last_term);

  // Wins the one-voter election: term + 1, vote = self, and (as a raft leader
  // does) appends an empty entry of the new term, committed like any other.
  Status Campaign();
  // Appends a normal entry carrying `data`. Unavailable ("raft proposal
  // dropped", as RawNode) when not leader: nothing was appended.
  Status Propose(std::string data);

  bool HasReady() const;
  server::Ready Ready();
  // The Ready returned by Ready() has been fully handled (persisted, applied
  // or handed over). Must be called before the next Ready().
  void Advance(const server::Ready& rd);

  uint64_t id() const { return id_; }
  uint64_t term() const { return hs_.term; }
  uint64_t commit() const { return hs_.commit; }
  uint64_t last_index() const { return last_index_; }
  bool is_leader() const { return leader_; }

 private:
  uint64_t id_;
  raft::HardState hs_;            // latest, including unpersisted changes
  raft::HardState persisted_hs_;  // as last handed out in a Ready
  uint64_t last_index_;
  bool leader_ = false;
  std::vector<raft::Entry> unstable_;  // appended, not yet in a Ready
  bool in_ready_ = false;              // Ready() called, Advance pending
};

}  // namespace etcdpp::server
