#include "server/raft_node.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

#include "common/log.h"
#include "raft/codec.h"
#include "server/ids.h"

namespace etcdpp::server {
namespace {

// Applied entries kept in the MemoryStorage behind the applied index (etcd
// keeps 5000 for slow followers; one member needs none, this bounds memory).
constexpr uint64_t kKeepAppliedEntries = 10000;

}  // namespace

raft::Entry BootstrapEntry(uint64_t id) {
  raft::ConfChange cc;
  cc.type = raft::ConfChangeType::kAddNode;
  cc.node_id = id;
  raft::Entry e;
  e.term = 1;
  e.index = 1;
  e.type = raft::EntryType::kConfChange;
  e.data = raft::EncodeConfChange(cc);
  return e;
}

raft::HardState BootstrapHardState() {
  return raft::HardState{1, 0, 1};
}

RaftNode::RaftNode(RaftState state, wal::Wal* wal, WaitRegistry* wait, CommitSink sink,
                   Options opts)
    : storage_(std::make_unique<raft::MemoryStorage>()),
      wal_(wal),
      wait_(wait),
      sink_(std::move(sink)),
      opts_(opts),
      id_(state.id) {
  assert(id_ != 0);
  // The bootstrap entry (index 1, ConfChange AddNode(self)) is represented by
  // a snapshot at index 1 whose ConfState lists this member as the only
  // voter: src/raft needs the initial configuration from a snapshot (it has
  // no etcd-raft Bootstrap()), and the result is what applying that entry
  // yields. Index 1 is always applied (server replay) before raft starts, so
  // raft never hands it out again.
  raft::Snapshot snap;
  snap.metadata.index = 1;
  snap.metadata.term = 1;
  snap.metadata.conf_state.voters = {id_};
  size_t skip = 0;
  if (!state.entries.empty() && state.entries.front().index == 1) {
    snap.metadata.term = state.entries.front().term;
    skip = 1;
  }
  Status st = storage_->ApplySnapshot(snap);
  assert(st.ok());
  std::vector<raft::Entry> rest(std::make_move_iterator(state.entries.begin() + skip),
                                std::make_move_iterator(state.entries.end()));
  state.entries.clear();
  uint64_t last_index = 1, last_term = snap.metadata.term;
  if (!rest.empty()) {
    assert(rest.front().index == 2);  // the server checks the WAL starts at 1
    last_index = rest.back().index;
    last_term = rest.back().term;
    st = storage_->Append(rest);
    assert(st.ok());
  }
  (void)st;
  raft::HardState hs = state.hard_state;
  // Never below the log's term (a torn Save can keep entries but lose the
  // hard state record written with them); the vote of that term is unknown.
  if (hs.term < last_term) {
    hs.term = last_term;
    hs.vote = 0;
  }
  // With one voter every persisted entry is committed (it is on a quorum:
  // us), even if the hard state record of its batch did not survive a crash.
  // The server has already applied them (replay), so commit must cover them.
  hs.commit = last_index;
  storage_->SetHardState(hs);
  CompactStorage(std::max<uint64_t>(state.applied, 1));

  raft::Config c;
  c.id = id_;
  c.election_tick = std::max(opts_.election_tick, 2);
  c.heartbeat_tick = 1;
  c.storage = storage_.get();
  c.applied = std::clamp<uint64_t>(state.applied, 1, last_index);
  // Every committed entry in the Ready that commits it: the loop fails a
  // whole batch on a WAL error, so no entry may wait for a later Ready.
  c.max_committed_size_per_ready = std::numeric_limits<uint64_t>::max();
  c.seed = id_;
  Status valid = c.Validate();
  assert(valid.ok());
  (void)valid;
  node_ = std::make_unique<raft::RawNode>(c);
  term_.store(hs.term);
  commit_.store(hs.commit);
}

RaftNode::~RaftNode() {
  Stop();
}

void RaftNode::Start() {
  const std::string self = IdToHex(id_);
  // One voter (and no pre-vote): the campaign is won inside Campaign().
  Status won = node_->Campaign();
  raft::RaftStatus rs = node_->Status();
  assert(won.ok() && rs.soft_state.raft_state == raft::StateType::kLeader);
  (void)won;
  leader_entry_index_ = node_->raft().log().LastIndex();
  const std::string term = std::to_string(rs.hard_state.term);
  LOG_INFO((self + " became candidate at term " + term).c_str());
  LOG_INFO((self + " became leader at term " + term).c_str());
  LOG_INFO(("raft.node: " + self + " elected leader " + self + " at term " + term).c_str());
  // The campaign's Ready (new term, vote, empty entry) is persisted by the
  // loop's first round like any other; nothing is acknowledged before it.
  term_.store(rs.hard_state.term, std::memory_order_release);
  leader_.store(rs.soft_state.raft_state == raft::StateType::kLeader, std::memory_order_release);
  thread_ = std::thread([this] { Run(); });
}

void RaftNode::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status RaftNode::Propose(uint64_t id, std::string data) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!wal_error_.ok()) return wal_error_;
    if (stopping_) return Status::Unavailable("etcdserver: server stopped");
    queue_.push_back(Proposal{id, std::move(data)});
  }
  cv_.notify_one();
  return Status::OK();
}

void RaftNode::ReadIndex(const std::function<void(Result<uint64_t>)>& cb) {
  // commit_ is published after the WAL save and before the entries go to the
  // applier, and a write is acknowledged only after it is applied; so any
  // acknowledged write is <= this value (single member: no other leader can
  // exist, so no heartbeat round is needed).
  cb(commit_.load(std::memory_order_acquire));
}

Status RaftNode::WalError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wal_error_;
}

void RaftNode::Run() {
  using Clock = std::chrono::steady_clock;
  std::vector<uint64_t> batch_ids;
  auto next_tick = Clock::now() + opts_.tick_interval;
  for (;;) {
    std::deque<Proposal> batch;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // node_ is only touched by this thread; reading it under mu_ is fine.
      cv_.wait_until(lock, next_tick,
                     [&] { return stopping_ || !queue_.empty() || node_->HasReady(); });
      // Group commit: take everything that is queued now (bounded), so a burst
      // of N concurrent proposals costs one fdatasync, not N.
      size_t n = std::min(queue_.size(), opts_.max_entries_per_ready);
      for (size_t i = 0; i < n; i++) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      // Stop only once everything proposed before Stop() is handled.
      stop = stopping_ && queue_.empty();
    }
    if (auto now = Clock::now(); now >= next_tick) {
      // Heartbeat/election clock. One voter: the leader has no one to send
      // heartbeats to, but the clock keeps RawNode's timers as in a cluster.
      node_->Tick();
      next_tick = now + opts_.tick_interval;
    }
    batch_ids.clear();
    for (auto& p : batch) {
      // RawNode drops a proposal when it is not leader (or a transfer is in
      // progress): it is not in the log, so its caller learns at once.
      if (Status st = node_->Propose(std::move(p.data)); !st.ok()) {
        FailBatch({p.id}, st);
        continue;
      }
      batch_ids.push_back(p.id);
    }
    if (node_->HasReady() && !HandleReady(batch_ids)) {
      // The WAL refuses further appends; fail whatever is still queued and
      // reject new proposals (Propose checks wal_error_).
      std::deque<Proposal> rest;
      Status err;
      {
        std::lock_guard<std::mutex> lock(mu_);
        rest.swap(queue_);
        err = wal_error_;
      }
      std::vector<uint64_t> ids;
      for (auto& p : rest)
        ids.push_back(p.id);
      FailBatch(ids, err);
      return;
    }
    if (stop && !node_->HasReady()) return;
  }
}

bool RaftNode::HandleReady(const std::vector<uint64_t>& batch_ids) {
  raft::Ready rd = node_->Ready();
  // No snapshots are sent to a single member (there is no other leader).
  assert(rd.snapshot.empty());
  // 1. Persist: hard state + entries in one Save, one fdatasync when
  //    must_sync (a commit-only change is written without one: losing it is
  //    safe, the log itself is durable). Save returning OK means all of it is
  //    on stable storage.
  Status st = wal_->Save(rd.hard_state, rd.entries, rd.must_sync);
  saves_.fetch_add(1, std::memory_order_relaxed);
  if (!st.ok()) {
    LOG_ERROR("failed to save Raft hard state and entries; rejecting all further writes",
              {"local-member-id", IdToHex(id_)}, {"error", st.ToString()},
              {"entries", static_cast<uint64_t>(rd.entries.size())});
    Status err(st.code() == Code::kCorruption ? Code::kCorruption : Code::kIOError,
               "etcdserver: failed to persist request: " + st.message());
    {
      std::lock_guard<std::mutex> lock(mu_);
      wal_error_ = err;
    }
    // Nothing of this Ready is acknowledged or applied, and the RawNode is
    // not advanced (the loop stops). Some of it may be on disk; a restart
    // replays it: the outcome is "unknown" to the client, exactly like a
    // timeout in etcd, and never "acknowledged but lost". Every proposal of
    // this member is committed in the Ready that persists it
    // (max_committed_size_per_ready is unlimited, one voter), so no earlier
    // proposal is left waiting for a later Ready.
    FailBatch(batch_ids, err);
    return false;
  }
  // 1b. Raft's view of stable storage, only after the WAL has it.
  if (!rd.hard_state.empty()) storage_->SetHardState(rd.hard_state);
  if (!rd.entries.empty()) {
    Status ap = storage_->Append(rd.entries);
    assert(ap.ok());
    (void)ap;
  }
  // 2. Messages to peers would be sent here (a follower only after the
  //    Save above). One voter: there are no peers, nothing is addressed.
  assert(rd.messages.empty());
  // 3. Publish term/leadership and the commit index only now that they are
  //    durable, then apply.
  if (rd.soft_state) {
    leader_.store(rd.soft_state->raft_state == raft::StateType::kLeader, std::memory_order_release);
  }
  if (!rd.hard_state.empty()) {
    term_.store(rd.hard_state.term, std::memory_order_release);
    commit_.store(rd.hard_state.commit, std::memory_order_release);
  }
  if (!rd.committed_entries.empty()) {
    // Conf changes update raft's configuration here (this thread owns the
    // RawNode); the KV applier skips them and only advances its index.
    for (const auto& e : rd.committed_entries) {
      if (e.type == raft::EntryType::kNormal) continue;
      auto cc = raft::DecodeConfChangeEntry(e);
      if (!cc.ok()) {
        LOG_ERROR("failed to decode a committed conf-change entry; skipping it", {"index", e.index},
                  {"error", cc.status().ToString()});
        continue;
      }
      (void)node_->ApplyConfChange(*cc);
    }
    uint64_t last = rd.committed_entries.back().index;
    // 4. Advance, then hand the entries over (moved, not copied). Advance
    //    only books them as stable/applied inside the RawNode; nothing runs
    //    between it and the hand-off, so this equals the contract order.
    node_->Advance(rd);
    sink_(std::move(rd.committed_entries));
    CompactStorage(last);
    return true;
  }
  // 4. Done with this Ready.
  node_->Advance(rd);
  return true;
}

void RaftNode::CompactStorage(uint64_t applied) {
  auto first = storage_->FirstIndex();
  if (!first.ok() || applied < *first + 2 * kKeepAppliedEntries) return;
  // Amortized: one erase every kKeepAppliedEntries entries.
  Status st = storage_->Compact(applied - kKeepAppliedEntries);
  if (!st.ok()) LOG_WARN("failed to compact raft's in-memory log", {"error", st.ToString()});
}

void RaftNode::FailBatch(const std::vector<uint64_t>& ids, const Status& st) {
  for (uint64_t id : ids) {
    internalpb::InternalResponse empty;
    wait_->Trigger(id, st, &empty);
  }
}

}  // namespace etcdpp::server
