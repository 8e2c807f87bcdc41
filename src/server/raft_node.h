// The raft loop: ONE thread owns the consensus core (src/raft's RawNode over
// a raft::MemoryStorage) and the WAL. Per round it
//   1. ticks the core when the heartbeat interval elapsed,
//   2. steps messages from peers and runs queued local requests (ReadIndex,
//      leader transfer, transport reports),
//   3. drains every queued proposal into the core (group commit: whatever
//      is ready goes into one Ready),
//   4. persists the Ready: an incoming snapshot first (WAL marker), then
//      ONE wal->Save(hard_state, entries) = one fdatasync for the batch, then
//      appends it to the MemoryStorage,
//   5. sends the messages (only now: votes and acks promise durability),
//   6. hands the committed entries to the applier; for a conf change it
//      waits until the applier has validated and stored it, then passes the
//      outcome to RawNode::ApplyConfChange (etcd does the same),
//   7. answers ReadIndex requests whose read state arrived,
//   8. Advance()s the core, and every --snapshot-count applied entries takes a
//      raft snapshot (WAL marker + purge, in-memory log compaction).
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
#include <map>
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

// This member's raft state as recovered from the WAL and the backend
// (docs/server.md, "Bootstrap and restart").
struct RaftState {
  uint64_t id = 0;
  raft::HardState hard_state;
  // The backend's applied state as a raft snapshot: index/term = its
  // consistent index, conf_state = its members table. Empty for a member
  // that joins an existing cluster and has nothing yet.
  raft::Snapshot snapshot;
  // WAL entries after snapshot.metadata.index (committed ones may already be
  // applied, see `applied`).
  std::vector<raft::Entry> entries;
  uint64_t applied = 0;
};

class RaftNode {
 public:
  // What the loop calls out to. Every hook runs on the loop thread and must
  // not call back into the RaftNode synchronously.
  struct Hooks {
    // Committed entries in log order (the applier's queue).
    std::function<void(std::vector<raft::Entry>)> apply;
    // A snapshot received from the leader (db file at `path`, fsynced) that
    // raft has accepted: queue the backend restore behind the entries
    // already handed over.
    std::function<void(const raft::SnapshotMetadata&, std::string path)> restore;
    // Blocks until the applier has applied `index` (a conf change or a
    // restore); returns whether the conf change there was accepted.
    std::function<Result<bool>(uint64_t index)> await_applied;
    // Messages to peers (never blocks).
    std::function<void(std::vector<raft::Message>)> send;
    // A MsgSnap to a peer: the server copies its backend and streams it.
    std::function<void(raft::Message)> send_snapshot;
    // The backend's durable consistent index/term (snapshot trigger, purge);
    // called after Sync.
    std::function<Result<std::pair<uint64_t, uint64_t>>()> sync_backend;
    // Every tick (request timeouts).
    std::function<void()> on_tick;
    // This member became leader (true) or stopped being leader (false).
    std::function<void(bool)> on_leadership;
  };

  struct Options {
    size_t max_entries_per_ready = 10000;          // bounds one Save (memory, latency)
    std::chrono::milliseconds tick_interval{100};  // --heartbeat-interval
    int election_tick = 10;                        // --election-timeout / --heartbeat-interval
    bool pre_vote = true;
    uint64_t snapshot_count = 10000;           // --snapshot-count
    uint64_t snapshot_catchup_entries = 5000;  // kept in memory behind a snapshot
    // A proposal made while there is no leader waits this long for one.
    std::chrono::milliseconds no_leader_wait{3000};
    // A ReadIndex that gets no answer is retried after this and fails after
    // read_timeout ("etcdserver: request timed out").
    std::chrono::milliseconds read_retry{500};
    std::chrono::milliseconds read_timeout{7000};
  };

  // `wal` must have been ReadAll()'ed (positioned to append after the last
  // entry of `state`). `wait` is where failed proposals are reported.
  RaftNode(RaftState state, wal::Wal* wal, WaitRegistry* wait, Hooks hooks, Options opts);
  ~RaftNode();

  // Starts the loop thread; `campaign` = start an election at once (a
  // single-voter cluster wins it immediately).
  void Start(bool campaign);
  // Processes everything already proposed, then stops the thread. Idempotent.
  void Stop();

  // Queues `data` (an encoded InternalRequest with request id `id`). Never
  // blocks on disk. On error (stopped, WAL failed) nothing was queued and the
  // caller completes its waiter itself.
  // A proposal still waiting for a leader at `deadline` is dropped (failed).
  Status Propose(uint64_t id, std::string data,
                 std::chrono::steady_clock::time_point deadline =
                     std::chrono::steady_clock::time_point::max());
  // A conf change; the waiter `id` is completed by the applier.
  Status ProposeConfChange(uint64_t id, raft::ConfChange cc);

  // Calls `cb` with an index such that every write acknowledged (by any
  // member) before this call is at or below it: raft's ReadIndex, batched
  // (one heartbeat round for every read that arrives while one is in flight).
  void ReadIndex(std::function<void(Result<uint64_t>)> cb);

  // Asks the leader to hand leadership to `transferee`; cb gets OK once
  // `transferee` is the leader, or an error (etcd's texts) after `timeout`.
  void TransferLeader(uint64_t transferee, std::chrono::milliseconds timeout,
                      std::function<void(const Status&)> cb);

  // Transport input (any thread).
  void Step(raft::Message m);
  void StepSnapshot(raft::Message m, std::string db_path);
  void ReportUnreachable(uint64_t id);
  void ReportSnapshot(uint64_t id, bool ok);

  uint64_t Term() const { return term_.load(std::memory_order_acquire); }
  uint64_t CommitIndex() const { return commit_.load(std::memory_order_acquire); }
  uint64_t Id() const { return id_; }
  uint64_t Leader() const { return lead_.load(std::memory_order_acquire); }
  bool IsLeader() const { return Leader() == id_; }
  bool IsLearner() const { return learner_.load(std::memory_order_acquire); }
  // Number of wal->Save calls (group commit statistics, tests).
  uint64_t SaveCount() const { return saves_.load(std::memory_order_relaxed); }
  // A copy of the core's status (progress of followers on the leader);
  // taken on the loop thread.
  raft::RaftStatus CoreStatus();
  // Non-OK once the WAL failed.
  etcdpp::Status WalError() const;

 private:
  struct Proposal {
    uint64_t id;
    std::string data;
    bool conf_change = false;
    raft::ConfChange cc;
    std::chrono::steady_clock::time_point deadline;
  };
  struct PendingRead {
    std::function<void(Result<uint64_t>)> cb;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Transfer {
    uint64_t to;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(const etcdpp::Status&)> cb;
  };

  void Run();
  // Handles one Ready; returns false if the WAL failed.
  bool HandleReady(const std::vector<uint64_t>& batch_ids);
  void ApplyCommitted(std::vector<raft::Entry> entries);
  void FailBatch(const std::vector<uint64_t>& ids, const etcdpp::Status& st);
  void ProposeQueued(std::deque<Proposal>* batch, std::vector<uint64_t>* batch_ids);
  void ServeReads(std::chrono::steady_clock::time_point now);
  void CheckTransfers(std::chrono::steady_clock::time_point now);
  void MaybeSnapshot();
  void Publish();
  // Runs `fn` on the loop thread (and wakes it).
  void Post(std::function<void()> fn);

  // storage_ before node_: the RawNode reads it.
  std::unique_ptr<raft::MemoryStorage> storage_;
  std::unique_ptr<raft::RawNode> node_;
  wal::Wal* wal_;
  WaitRegistry* wait_;
  Hooks hooks_;
  Options opts_;
  const uint64_t id_;
  uint64_t snapshot_index_ = 0;  // the last raft snapshot (loop thread)
  uint64_t applied_ = 0;         // last index handed to the applier (loop thread)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Proposal> queue_;                  // guarded by mu_
  std::deque<raft::Message> inbox_;             // guarded by mu_
  std::deque<std::function<void()>> ops_;       // guarded by mu_
  std::deque<PendingRead> new_reads_;           // guarded by mu_
  std::map<uint64_t, std::string> snap_files_;  // index -> received db file; guarded by mu_
  bool stopping_ = false;                       // guarded by mu_
  etcdpp::Status wal_error_;                    // guarded by mu_

  // Loop thread only.
  std::deque<Proposal> parked_;  // proposals waiting for a leader
  std::map<std::string, std::vector<PendingRead>> reads_in_flight_;
  std::chrono::steady_clock::time_point read_sent_;
  uint64_t read_seq_ = 0;
  std::vector<Transfer> transfers_;
  bool leading_ = false;  // as last reported to hooks_.on_leadership

  std::atomic<uint64_t> term_{0};
  std::atomic<uint64_t> commit_{0};
  std::atomic<uint64_t> lead_{0};
  std::atomic<bool> learner_{false};
  std::atomic<uint64_t> saves_{0};
  std::thread thread_;
};

}  // namespace etcdpp::server
