// RawNode: the application's handle on one Raft node (thread-unsafe, like etcd's RawNode).
//
// Driving loop (one thread):
//   node.Tick() every tick interval; node.Step(msg) for each message from a peer;
//   node.Propose(...) etc. for local requests; then
//   if (node.HasReady()) { auto rd = node.Ready(); <handle rd in the order below>;
//                          node.Advance(rd); }
// Call Advance() before the next Ready(). Between Ready() and Advance() Step/Tick/Propose are
// allowed; their effects show up in the next Ready.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "raft/raft.h"
#include "raft/types.h"

namespace etcdpp::raft {

// What the application must do, in this order:
//  1. snapshot (if !empty()): persist it, then restore the state machine from it.
//  2. hard_state (if !empty()) and entries: persist (append to Storage, truncating any
//     conflicting suffix) - with fsync when must_sync - BEFORE sending any of `messages`:
//     votes and acknowledgements promise durability.
//  3. messages: send (in any order; the network may drop/reorder them anyway). A MsgSnap's
//     outcome is reported back with ReportSnapshot().
//  4. committed_entries: apply in order. They are committed by a quorum; they may include
//     entries of this same Ready's `entries`, hence step 2 first. Conf-change entries must be
//     passed to ApplyConfChange().
//  5. read_states: serve each read once the applied index reaches ReadState::index.
//  6. Advance(rd).
struct Ready {
  std::optional<SoftState> soft_state;  // set when changed; volatile, never persisted
  HardState hard_state;                 // empty() when unchanged
  std::vector<ReadState> read_states;
  std::vector<Entry> entries;            // to persist before sending messages
  Snapshot snapshot;                     // to persist (and apply) first; empty() if none
  std::vector<Entry> committed_entries;  // to apply after persisting
  std::vector<Message> messages;         // to send after persisting
  // True when hard_state's term/vote changed or there are entries: an fsync is required.
  // (A commit-only change may be written lazily; losing it is safe.)
  bool must_sync = false;
};

struct ProgressInfo {
  uint64_t match = 0;
  uint64_t next = 0;
  ProgressState state = ProgressState::kProbe;
  bool is_learner = false;
  bool recent_active = false;
};

struct RaftStatus {
  uint64_t id = 0;
  HardState hard_state;  // term, vote, commit
  SoftState soft_state;  // lead, state
  uint64_t applied = 0;
  uint64_t lead_transferee = 0;
  ConfState config;
  std::map<uint64_t, ProgressInfo> progress;  // leader only
};

class RawNode {
 public:
  // Aborts on an invalid config (programmer error); check Config::Validate() first if the
  // config comes from the user.
  explicit RawNode(const Config& c);

  void Tick();
  // Starts an election now (pre-vote first if enabled).
  etcdpp::Status Campaign();
  // ErrProposalDropped() (kUnavailable, "raft proposal dropped") when there is no leader, a
  // leader transfer is in progress, this node was removed, forwarding is disabled or the
  // uncommitted-size limit is hit: the proposal is NOT in the log and the caller must retry.
  // OK means appended locally (leader) or forwarded (follower); forwarded proposals can still
  // be lost in the network, so callers wait for the entry with a timeout.
  etcdpp::Status Propose(std::string data);
  // As Propose; additionally ErrConfChangePending() on the leader when a conf change is still
  // unapplied. ConfChangeV2 with more than one change: kUnimplemented (no joint consensus).
  etcdpp::Status ProposeConfChange(const ConfChange& cc);
  etcdpp::Status ProposeConfChange(const ConfChangeV2& cc);
  // Applies a committed conf change entry's content; returns the new configuration (persist
  // it with the next snapshot).
  ConfState ApplyConfChange(const ConfChange& cc);
  ConfState ApplyConfChange(const ConfChangeV2& cc);
  // A message from a peer. InvalidArgument for local-only types and malformed appends /
  // snapshots; responses from nodes not in the configuration are ignored.
  etcdpp::Status Step(Message m);
  // Linearizable read: a ReadState with this context appears in a later Ready (ctx must be
  // unique per request). ErrProposalDropped() when no leader is known.
  etcdpp::Status ReadIndex(std::string rctx);
  // Asks the leader to transfer leadership to `transferee`.
  void TransferLeader(uint64_t transferee);
  void ReportUnreachable(uint64_t id);
  void ReportSnapshot(uint64_t id, bool success);

  bool HasReady() const;
  raft::Ready Ready();
  void Advance(const raft::Ready& rd);

  RaftStatus Status() const;
  // For tests and the simulator.
  const Raft& raft() const { return raft_; }
  Raft& mutable_raft() { return raft_; }

 private:
  // Steps a local message of `type` carrying one entry (proposals, ReadIndex).
  etcdpp::Status StepLocal(MessageType type, EntryType entry_type, std::string data);

  Raft raft_;
  SoftState prev_soft_state_;
  HardState prev_hard_state_;
};

}  // namespace etcdpp::raft
