// The raft loop: ONE thread owns the consensus core (src/raft's RawNode over
// a raft::MemoryStorage) and the WAL. Per round it
//   1. ticks the core when the heartbeat interval elapsed,
//   2. drains every queued proposal into the core (group commit: whatever
//      is ready goes into one Ready),
//   3. persists the Ready with ONE wal->Save(hard_state, entries) = one
//      fdatasync for the whole batch, then appends it to the MemoryStorage,
//   4. (sends messages: none with one member),
//   5. hands the committed entries to the applier (conf changes go to
//      RawNode::ApplyConfChange first),
//   6. Advance()s the core.
// Client threads never touch the core or the WAL; they enqueue and return.
//
// A WAL error (disk full, EIO) is fatal for writes: the proposals of the
// failed batch and every later one fail with that error, nothing unsaved is
// ever applied or acknowledged, and the member keeps serving reads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "raft/rawnode.h"
#include "raft/storage.h"
#include "raft/types.h"
#include "server/wait.h"
#include "wal/wal.h"

namespace etcdpp::server {

// This member's raft state as recovered from the WAL (docs/server.md,
// "Bootstrap and restart").
struct RaftState {
  uint64_t id = 0;
  raft::HardState hard_state;
  // The WAL's log from index 1 (the bootstrap conf-change entry) on; may be
  // empty only in tests (then index 1 is implied).
  std::vector<raft::Entry> entries;
  // Everything <= applied is in the backend (its consistent index).
  uint64_t applied = 0;
};

// The first WAL record of a new member, as etcd writes it: a ConfChange
// AddNode(id) entry at index 1, term 1, with HardState{term 1, commit 1}.
raft::Entry BootstrapEntry(uint64_t id);
raft::HardState BootstrapHardState();

class RaftNode {
 public:
  // Receives committed entries in log order (the applier's queue).
  using CommitSink = std::function<void(std::vector<raft::Entry>)>;

  struct Options {
    size_t max_entries_per_ready = 10000;          // bounds one Save (memory, latency)
    std::chrono::milliseconds tick_interval{100};  // --heartbeat-interval
    int election_tick = 10;                        // --election-timeout / --heartbeat-interval
  };

  // `wal` must have been ReadAll()'ed (positioned to append after the last
  // entry of `state`). `wait` is where failed proposals are reported.
  RaftNode(RaftState state, wal::Wal* wal, WaitRegistry* wait, CommitSink sink, Options opts);
  ~RaftNode();

  // Campaigns (single voter: wins at once) and starts the loop thread.
  void Start();
  // Processes everything already proposed, then stops the thread. Idempotent.
  void Stop();

  // Queues `data` (an encoded InternalRequest with request id `id`). Never
  // blocks on disk. On error (stopped, WAL failed) nothing was queued and the
  // caller completes its waiter itself.
  Status Propose(uint64_t id, std::string data);

  // The ReadIndex seam: calls `cb` with an index such that every write
  // acknowledged before this call is at or below it. Single member: the
  // commit index (every acknowledged write has been persisted and committed
  // first, and no other leader can exist). With peers this becomes a batched
  // RawNode::ReadIndex round.
  void ReadIndex(const std::function<void(Result<uint64_t>)>& cb);

  uint64_t Term() const { return term_.load(std::memory_order_acquire); }
  uint64_t CommitIndex() const { return commit_.load(std::memory_order_acquire); }
  uint64_t Id() const { return id_; }
  bool IsLeader() const { return leader_.load(std::memory_order_acquire); }
  // Number of wal->Save calls (group commit statistics, tests).
  uint64_t SaveCount() const { return saves_.load(std::memory_order_relaxed); }
  // The first index of this incarnation's term (its empty leader entry).
  uint64_t LeaderEntryIndex() const { return leader_entry_index_; }
  // Non-OK once the WAL failed.
  Status WalError() const;

 private:
  struct Proposal {
    uint64_t id;
    std::string data;
  };

  void Run();
  // Handles one Ready; returns false if the WAL failed.
  bool HandleReady(const std::vector<uint64_t>& batch_ids);
  void FailBatch(const std::vector<uint64_t>& ids, const Status& st);
  // Drops applied entries from memory, keeping a tail (no follower needs them).
  void CompactStorage(uint64_t applied);

  // storage_ before node_: the RawNode reads it.
  std::unique_ptr<raft::MemoryStorage> storage_;
  std::unique_ptr<raft::RawNode> node_;
  wal::Wal* wal_;
  WaitRegistry* wait_;
  CommitSink sink_;
  Options opts_;
  const uint64_t id_;
  uint64_t leader_entry_index_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Proposal> queue_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  Status wal_error_;            // guarded by mu_

  std::atomic<uint64_t> term_{0};
  std::atomic<uint64_t> commit_{0};
  std::atomic<bool> leader_{false};
  std::atomic<uint64_t> saves_{0};
  std::thread thread_;
};

}  // namespace etcdpp::server
