#include "server/raft_node.h"

#include <cassert>
#include <utility>

#include "common/log.h"
#include "server/ids.h"

namespace etcdpp::server {

RaftNode::RaftNode(std::unique_ptr<SoloRaft> core, wal::Wal* wal, WaitRegistry* wait,
                   CommitSink sink, Options opts)
    : core_(std::move(core)),
      wal_(wal),
      wait_(wait),
      sink_(std::move(sink)),
      opts_(opts),
      id_(core_->id()) {
  term_.store(core_->term());
  commit_.store(core_->commit());
}

RaftNode::~RaftNode() {
  Stop();
}

void RaftNode::Start() {
  const std::string self = IdToHex(id_);
  LOG_INFO((self + " became candidate at term " + std::to_string(core_->term() + 1)).c_str());
  // One voter: the campaign cannot lose.
  Status won = core_->Campaign();
  assert(won.ok());
  (void)won;
  leader_entry_index_ = core_->last_index();
  LOG_INFO((self + " became leader at term " + std::to_string(core_->term())).c_str());
  LOG_INFO(("raft.node: " + self + " elected leader " + self + " at term " +
            std::to_string(core_->term()))
               .c_str());
  // The campaign's Ready (new term, vote, empty entry) is persisted by the
  // loop's first round like any other; nothing is acknowledged before it.
  term_.store(core_->term(), std::memory_order_release);
  leader_.store(true, std::memory_order_release);
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
  std::vector<uint64_t> batch_ids;
  for (;;) {
    std::deque<Proposal> batch;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || core_->HasReady(); });
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
    batch_ids.clear();
    for (auto& p : batch) {
      // A RawNode may drop a proposal (no leader, transfer in progress):
      // it is not in the log, so its caller learns at once.
      if (Status st = core_->Propose(std::move(p.data)); !st.ok()) {
        FailBatch({p.id}, st);
        continue;
      }
      batch_ids.push_back(p.id);
    }
    if (core_->HasReady() && !HandleReady(batch_ids)) {
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
    if (stop) return;
  }
}

bool RaftNode::HandleReady(const std::vector<uint64_t>& batch_ids) {
  Ready rd = core_->Ready();
  // 1. Persist: hard state + entries in one Save, one fdatasync when
  //    must_sync. Save returning OK means all of it is on stable storage.
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
    // Nothing of this Ready is acknowledged or applied. (Some of it may be
    // on disk; a restart replays it: the outcome is "unknown" to the client,
    // exactly like a timeout in etcd, and never "acknowledged but lost".)
    FailBatch(batch_ids, err);
    return false;
  }
  // 2. (cluster) messages to peers would be sent here.
  // 3. Publish the commit index only now that it is durable, then apply.
  if (!rd.hard_state.empty()) {
    term_.store(rd.hard_state.term, std::memory_order_release);
    commit_.store(rd.hard_state.commit, std::memory_order_release);
  }
  if (!rd.committed_entries.empty()) sink_(std::move(rd.committed_entries));
  // 4. Done with this Ready.
  core_->Advance(rd);
  return true;
}

void RaftNode::FailBatch(const std::vector<uint64_t>& ids, const Status& st) {
  for (uint64_t id : ids) {
    internalpb::InternalResponse empty;
    wait_->Trigger(id, st, &empty);
  }
}

}  // namespace etcdpp::server
