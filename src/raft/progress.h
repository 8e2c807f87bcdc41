// The leader's view of each follower (Progress) and of the configuration (ProgressTracker).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/types.h"

namespace etcdpp::raft {

// Bounded window of in-flight MsgApp (by count and by bytes): flow control in Replicate state.
class Inflights {
 public:
  Inflights(size_t max_count, uint64_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}
  void Add(uint64_t index, uint64_t bytes);
  // Frees every in-flight message whose last index is <= to.
  void FreeLE(uint64_t to);
  bool Full() const {
    return items_.size() >= max_count_ || (max_bytes_ != 0 && bytes_ >= max_bytes_);
  }
  size_t Count() const { return items_.size(); }
  // Frees the oldest message: lets a full window make progress after losses.
  void FreeFirstOne() {
    if (!items_.empty()) FreeLE(items_.front().index);
  }
  void Reset() {
    items_.clear();
    bytes_ = 0;
  }

 private:
  struct Item {
    uint64_t index;
    uint64_t bytes;
  };
  size_t max_count_;
  uint64_t max_bytes_;
  std::deque<Item> items_;
  uint64_t bytes_ = 0;
};

enum class ProgressState : uint8_t { kProbe = 0, kReplicate = 1, kSnapshot = 2 };
const char* ProgressStateName(ProgressState s);

struct Progress {
  Progress(size_t max_inflight, uint64_t max_inflight_bytes)
      : inflights(max_inflight, max_inflight_bytes) {}

  uint64_t match = 0;
  uint64_t next = 1;
  ProgressState state = ProgressState::kProbe;
  uint64_t pending_snapshot = 0;     // index of the snapshot in flight (Snapshot state)
  bool recent_active = false;        // heard from within the last election timeout (CheckQuorum)
  bool msg_app_flow_paused = false;  // Probe: one probe in flight, wait for its answer
  bool is_learner = false;
  Inflights inflights;

  void ResetState(ProgressState s);
  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // Acknowledged index n; returns false if stale.
  bool MaybeUpdate(uint64_t n);
  // A rejection of the append at `rejected` with the follower's hint; false if stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  bool IsPaused() const;
  std::string ToString() const;
};

enum class VoteResult : uint8_t { kPending = 0, kLost = 1, kWon = 2 };

// The configuration (voters + learners) and the leader's per-node progress. Joint consensus is
// not implemented, so the quorum is a simple majority of `voters`.
class ProgressTracker {
 public:
  ProgressTracker(size_t max_inflight, uint64_t max_inflight_bytes)
      : max_inflight_(max_inflight), max_inflight_bytes_(max_inflight_bytes) {}

  std::map<uint64_t, Progress>& progress() { return progress_; }
  const std::map<uint64_t, Progress>& progress() const { return progress_; }
  Progress* Get(uint64_t id);
  bool IsVoter(uint64_t id) const;
  bool IsMember(uint64_t id) const { return progress_.count(id) != 0; }
  std::vector<uint64_t> Voters() const;
  std::vector<uint64_t> Learners() const;
  ConfState GetConfState() const;

  void AddNode(uint64_t id, bool learner, uint64_t next);
  void RemoveNode(uint64_t id) { progress_.erase(id); }

  // Largest index acknowledged by a majority of voters.
  uint64_t Committed() const;
  bool QuorumActive() const;
  void ResetVotes() { votes_.clear(); }
  void RecordVote(uint64_t id, bool granted);
  VoteResult TallyVotes() const;
  // Counts `acks` (node ids) among voters.
  VoteResult QuorumOf(const std::map<uint64_t, bool>& acks) const;

 private:
  size_t max_inflight_;
  uint64_t max_inflight_bytes_;
  std::map<uint64_t, Progress> progress_;
  std::map<uint64_t, bool> votes_;
};

}  // namespace etcdpp::raft
