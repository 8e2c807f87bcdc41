#include "server/raft_node.h"

#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <future>
#include <limits>
#include <utility>

#include "common/log.h"
#include "metrics/etcd_metrics.h"
#include "raft/codec.h"
#include "server/ids.h"

namespace etcdpp::server {
namespace {

using Clock = std::chrono::steady_clock;

std::string Ctx(uint64_t seq) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; i--, seq >>= 8)
    s[i] = static_cast<char>(seq & 0xff);
  return s;
}

}  // namespace

RaftNode::RaftNode(RaftState state, wal::Wal* wal, WaitRegistry* wait, Hooks hooks, Options opts)
    : storage_(std::make_unique<raft::MemoryStorage>()),
      wal_(wal),
      wait_(wait),
      hooks_(std::move(hooks)),
      opts_(opts),
      id_(state.id) {
  assert(id_ != 0);
  // The backend's applied state is raft's snapshot: src/raft takes its
  // initial configuration from it (there is no etcd-raft Bootstrap()).
  if (!state.snapshot.empty()) {
    Status st = storage_->ApplySnapshot(state.snapshot);
    assert(st.ok());
    (void)st;
  }
  snapshot_index_ = state.snapshot.metadata.index;
  uint64_t last_index = snapshot_index_, last_term = state.snapshot.metadata.term;
  if (!state.entries.empty()) {
    assert(state.entries.front().index == snapshot_index_ + 1);  // the server checks this
    last_index = state.entries.back().index;
    last_term = state.entries.back().term;
    Status st = storage_->Append(state.entries);
    assert(st.ok());
    (void)st;
  }
  state.entries.clear();
  raft::HardState hs = state.hard_state;
  // Never below the log's term (a torn Save can keep entries but lose the
  // hard state record written with them); the vote of that term is unknown.
  if (hs.term < last_term) {
    hs.term = last_term;
    hs.vote = 0;
  }
  // The applied snapshot is committed by definition; the commit index can
  // never pass the log.
  hs.commit = std::clamp(hs.commit, snapshot_index_, last_index);
  storage_->SetHardState(hs);

  raft::Config c;
  c.id = id_;
  c.election_tick = std::max(opts_.election_tick, 2);
  c.heartbeat_tick = 1;
  c.storage = storage_.get();
  c.applied = std::clamp<uint64_t>(state.applied, snapshot_index_, hs.commit);
  c.max_size_per_msg = 1 << 20;  // etcd: 1 MiB of entries per append
  c.max_inflight_msgs = 512;     // etcd: 4096 / 8
  // Every committed entry in the Ready that commits it: the loop fails a
  // whole batch on a WAL error, so no entry may wait for a later Ready.
  c.max_committed_size_per_ready = std::numeric_limits<uint64_t>::max();
  c.check_quorum = true;  // a partitioned leader steps down (etcd default)
  c.pre_vote = opts_.pre_vote;
  c.seed = id_ ^ static_cast<uint64_t>(getpid());
  Status valid = c.Validate();
  assert(valid.ok());
  (void)valid;
  node_ = std::make_unique<raft::RawNode>(c);
  applied_ = c.applied;
  term_.store(hs.term);
  commit_.store(hs.commit);
}

RaftNode::~RaftNode() {
  Stop();
}

void RaftNode::Start(bool campaign) {
  if (campaign) {
    // A single voter wins inside Campaign(); the Ready (new term, vote,
    // empty entry) is persisted by the loop's first round like any other.
    Status st = node_->Campaign();
    if (!st.ok()) LOG_WARN("failed to campaign at start", {"error", st.ToString()});
  } else {
    // etcd --initial-election-tick-advance: fast-forward to one tick before
    // the election timeout so that a fresh cluster elects a leader quickly;
    // pre-vote keeps a restarted member from disrupting a live leader.
    for (int i = 0; i + 1 < opts_.election_tick; i++)
      node_->Tick();
  }
  Publish();
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

Status RaftNode::Propose(uint64_t id, std::string data, Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!wal_error_.ok()) return wal_error_;
    if (stopping_) return Status::Unavailable("etcdserver: server stopped");
    queue_.push_back(Proposal{
        id, std::move(data), false, {}, std::min(deadline, Clock::now() + opts_.no_leader_wait)});
  }
  cv_.notify_one();
  return Status::OK();
}

Status RaftNode::ProposeConfChange(uint64_t id, raft::ConfChange cc) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!wal_error_.ok()) return wal_error_;
    if (stopping_) return Status::Unavailable("etcdserver: server stopped");
    queue_.push_back(Proposal{id, {}, true, std::move(cc), Clock::now() + opts_.no_leader_wait});
  }
  cv_.notify_one();
  return Status::OK();
}

void RaftNode::ReadIndex(std::function<void(Result<uint64_t>)> cb) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      cb(Status::Unavailable("etcdserver: server stopped"));
      return;
    }
    new_reads_.push_back(PendingRead{std::move(cb), Clock::now() + opts_.read_timeout});
  }
  cv_.notify_one();
}

void RaftNode::TransferLeader(uint64_t transferee, std::chrono::milliseconds timeout,
                              std::function<void(const etcdpp::Status&)> cb) {
  Post([this, transferee, timeout, cb = std::move(cb)]() mutable {
    if (lead_.load() != id_) {
      cb(Status::FailedPrecondition("etcdserver: not leader"));
      return;
    }
    if (transferee == id_) {
      cb(Status::OK());
      return;
    }
    node_->TransferLeader(transferee);
    transfers_.push_back(Transfer{transferee, Clock::now() + timeout, std::move(cb)});
  });
}

void RaftNode::Step(raft::Message m) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    inbox_.push_back(std::move(m));
  }
  cv_.notify_one();
}

void RaftNode::StepSnapshot(raft::Message m, std::string db_path) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !m.snapshot) {
      unlink(db_path.c_str());
      return;
    }
    snap_files_[m.snapshot->metadata.index] = std::move(db_path);
    inbox_.push_back(std::move(m));
  }
  cv_.notify_one();
}

void RaftNode::ReportUnreachable(uint64_t id) {
  Post([this, id] { node_->ReportUnreachable(id); });
}

void RaftNode::ReportSnapshot(uint64_t id, bool ok) {
  Post([this, id, ok] { node_->ReportSnapshot(id, ok); });
}

raft::RaftStatus RaftNode::CoreStatus() {
  auto p = std::make_shared<std::promise<raft::RaftStatus>>();
  auto f = p->get_future();
  Post([this, p] { p->set_value(node_->Status()); });
  if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return {};
  return f.get();
}

void RaftNode::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    ops_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

etcdpp::Status RaftNode::WalError() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wal_error_;
}

void RaftNode::Publish() {
  const raft::Raft& r = node_->raft();
  uint64_t old_lead = lead_.load();
  uint64_t old_term = term_.load();
  if (r.lead() != old_lead) {
    const std::string self = IdToHex(id_);
    const std::string term = std::to_string(r.term());
    if (r.lead() == id_) LOG_INFO((self + " became leader at term " + term).c_str());
    if (r.lead() != raft::kNone) {
      LOG_INFO(("raft.node: " + self + " elected leader " + IdToHex(r.lead()) + " at term " + term)
                   .c_str());
    } else if (old_lead != raft::kNone) {
      LOG_INFO(("raft.node: " + self + " lost leader " + IdToHex(old_lead) + " at term " +
                std::to_string(std::max(old_term, r.term())))
                   .c_str());
    }
  }
  lead_.store(r.lead(), std::memory_order_release);
  learner_.store(r.is_learner(), std::memory_order_release);
  const bool leading = r.lead() == id_ && r.state() == raft::StateType::kLeader;
  metrics::Etcd().OnRaftState(r.lead(), old_lead, leading, r.is_learner());
  if (leading != leading_) {
    leading_ = leading;
    if (hooks_.on_leadership) hooks_.on_leadership(leading);
  }
}

void RaftNode::Run() {
  std::vector<uint64_t> batch_ids;
  auto next_tick = Clock::now() + opts_.tick_interval;
  for (;;) {
    std::deque<Proposal> batch;
    std::deque<raft::Message> msgs;
    std::deque<std::function<void()>> ops;
    std::deque<PendingRead> reads;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // node_ is only touched by this thread; reading it under mu_ is fine.
      cv_.wait_until(lock, next_tick, [&] {
        return stopping_ || !queue_.empty() || !inbox_.empty() || !ops_.empty() ||
               !new_reads_.empty() || node_->HasReady();
      });
      // Group commit: take everything that is queued now (bounded), so a burst
      // of N concurrent proposals costs one fdatasync, not N.
      size_t n = std::min(queue_.size(), opts_.max_entries_per_ready);
      for (size_t i = 0; i < n; i++) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      msgs.swap(inbox_);
      ops.swap(ops_);
      reads.swap(new_reads_);
      // Stop only once everything proposed before Stop() is handled.
      stop = stopping_ && queue_.empty();
    }
    auto now = Clock::now();
    bool ticked = false;
    if (now >= next_tick) {
      node_->Tick();
      next_tick = now + opts_.tick_interval;
      ticked = true;
    }
    for (auto& m : msgs) {
      // Invalid or stale messages are the network's business: raft drops
      // what it cannot use; a malformed one is logged.
      if (Status st = node_->Step(std::move(m)); !st.ok()) {
        LOG_DEBUG("dropped a raft message", {"error", st.ToString()});
      }
    }
    for (auto& op : ops)
      op();
    for (auto& r : reads)
      reads_in_flight_[""].push_back(std::move(r));  // "" = not sent yet
    if (!parked_.empty() && (ticked || node_->raft().lead() != raft::kNone)) {
      batch.insert(batch.begin(), std::make_move_iterator(parked_.begin()),
                   std::make_move_iterator(parked_.end()));
      parked_.clear();
    }
    batch_ids.clear();
    ProposeQueued(&batch, &batch_ids);
    ServeReads(now);
    if (ticked) {
      CheckTransfers(now);
      if (hooks_.on_tick) hooks_.on_tick();
    }
    if (node_->HasReady() && !HandleReady(batch_ids)) {
      // The WAL refuses further appends; fail whatever is still queued and
      // reject new proposals (Propose checks wal_error_).
      std::deque<Proposal> rest;
      etcdpp::Status err;
      {
        std::lock_guard<std::mutex> lock(mu_);
        rest.swap(queue_);
        err = wal_error_;
      }
      std::vector<uint64_t> ids;
      for (auto& p : rest)
        ids.push_back(p.id);
      for (auto& p : parked_)
        ids.push_back(p.id);
      parked_.clear();
      FailBatch(ids, err);
      for (auto& [ctx, rs] : reads_in_flight_)
        for (auto& r : rs)
          r.cb(err);
      reads_in_flight_.clear();
      return;
    }
    if (stop && !node_->HasReady()) {
      const etcdpp::Status stopped = Status::Unavailable("etcdserver: server stopped");
      std::vector<uint64_t> ids;
      for (auto& p : parked_)
        ids.push_back(p.id);
      FailBatch(ids, stopped);
      for (auto& [ctx, rs] : reads_in_flight_)
        for (auto& r : rs)
          r.cb(stopped);
      reads_in_flight_.clear();
      for (auto& t : transfers_)
        t.cb(stopped);
      transfers_.clear();
      std::deque<std::function<void()>> rest_ops;
      {
        std::lock_guard<std::mutex> lock(mu_);
        rest_ops.swap(ops_);
      }
      for (auto& op : rest_ops)
        op();  // e.g. Status() requests: answer rather than leave them hanging
      return;
    }
  }
}

void RaftNode::ProposeQueued(std::deque<Proposal>* batch, std::vector<uint64_t>* batch_ids) {
  const auto now = Clock::now();
  for (auto& p : *batch) {
    if (now >= p.deadline) {
      // The client has given up (or etcd's request timeout passed) while it
      // waited for a leader: never append it later.
      FailBatch({p.id}, node_->raft().lead() == raft::kNone
                            ? Status::Unavailable("etcdserver: no leader")
                            : Status::Unavailable("etcdserver: request timed out"));
      continue;
    }
    if (node_->raft().lead() == raft::kNone) {
      // No leader yet (an election is running): keep it and retry once one
      // is known, as etcd's proposals wait for a leader.
      parked_.push_back(std::move(p));
      continue;
    }
    etcdpp::Status st =
        p.conf_change ? node_->ProposeConfChange(p.cc) : node_->Propose(std::move(p.data));
    if (st.ok()) {
      batch_ids->push_back(p.id);
      continue;
    }
    if (raft::IsProposalDropped(st)) {
      // A leader transfer in progress, or this member was removed.
      st = Status::Unavailable("etcdserver: leader changed");
    } else if (st.message() == raft::ErrConfChangePending().message()) {
      // etcd refuses a second membership change while one is unapplied.
      st = Status::FailedPrecondition("etcdserver: unhealthy cluster");
    }
    FailBatch({p.id}, st);
  }
}

void RaftNode::ServeReads(Clock::time_point now) {
  // Expire and retry what is in flight.
  for (auto it = reads_in_flight_.begin(); it != reads_in_flight_.end();) {
    auto& rs = it->second;
    for (auto r = rs.begin(); r != rs.end();) {
      if (now >= r->deadline) {
        r->cb(Status::Unavailable("etcdserver: request timed out"));
        r = rs.erase(r);
      } else {
        ++r;
      }
    }
    if (rs.empty()) {
      it = reads_in_flight_.erase(it);
    } else {
      ++it;
    }
  }
  // Rounds not answered within read_retry (leader change, lost message) are
  // re-sent under the SAME context, as etcd does: an answer to the first
  // send that is merely late still completes them. Every read of a round
  // arrived before the round was first sent, so any answer to it is a valid
  // read index for all of them.
  if (now - read_sent_ >= opts_.read_retry) {
    bool resent = false;
    for (const auto& [ctx, rs] : reads_in_flight_) {
      if (!ctx.empty() && node_->ReadIndex(ctx).ok()) resent = true;
    }
    if (resent) read_sent_ = now;
  }
  // Reads never sent ("") go out together: one new context = one round.
  auto unsent = reads_in_flight_.find("");
  if (unsent == reads_in_flight_.end()) return;
  std::string ctx = Ctx(++read_seq_);
  if (!node_->ReadIndex(ctx).ok()) return;  // no leader known: retried next round until they expire
  read_sent_ = now;
  std::vector<PendingRead> to_send = std::move(unsent->second);
  reads_in_flight_.erase(unsent);
  reads_in_flight_[ctx] = std::move(to_send);
}

void RaftNode::CheckTransfers(Clock::time_point now) {
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (node_->raft().lead() == it->to) {
      it->cb(Status::OK());
      it = transfers_.erase(it);
    } else if (now >= it->deadline) {
      // etcd returns this error unmapped: gRPC code Unknown (ETCD-FACTS §4).
      it->cb(etcdpp::Status(Code::kUnknown,
                            "etcdserver: request timed out, leader transfer took too long"));
      it = transfers_.erase(it);
    } else {
      ++it;
    }
  }
}

bool RaftNode::HandleReady(const std::vector<uint64_t>& batch_ids) {
  raft::Ready rd = node_->Ready();
  // 1. Persist. An incoming snapshot first: its db file is already complete
  //    and fsynced in the snap dir (the transport did that), so the WAL
  //    marker may point at it; a crash after the marker makes the next start
  //    restore the backend from that file (docs/server.md "Snapshots").
  std::string snap_path;
  etcdpp::Status st;
  if (!rd.snapshot.empty()) {
    const auto& md = rd.snapshot.metadata;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = snap_files_.find(md.index);
      if (it != snap_files_.end()) snap_path = it->second;
    }
    if (snap_path.empty()) {
      LOG_FATAL("raft accepted a snapshot whose db file was never received", {"index", md.index});
    }
    st = wal_->SaveSnapshot(wal::WalSnapshot{md.index, md.term});
  }
  // Hard state + entries in one Save, one fdatasync when must_sync (a
  // commit-only change is written without one: losing it is safe, the log
  // itself is durable). Save returning OK means all of it is on stable storage.
  if (st.ok()) st = wal_->Save(rd.hard_state, rd.entries, rd.must_sync);
  saves_.fetch_add(1, std::memory_order_relaxed);
  if (!st.ok()) {
    LOG_ERROR("failed to save Raft hard state and entries; rejecting all further writes",
              {"local-member-id", IdToHex(id_)}, {"error", st.ToString()},
              {"entries", static_cast<uint64_t>(rd.entries.size())});
    etcdpp::Status err(st.code() == Code::kCorruption ? Code::kCorruption : Code::kIOError,
                       "etcdserver: failed to persist request: " + st.message());
    {
      std::lock_guard<std::mutex> lock(mu_);
      wal_error_ = err;
    }
    // Nothing of this Ready is acknowledged, applied or sent, and the
    // RawNode is not advanced (the loop stops). Some of it may be on disk; a
    // restart replays it: the outcome is "unknown" to the client, exactly like
    // a timeout in etcd, and never "acknowledged but lost".
    FailBatch(batch_ids, err);
    return false;
  }
  // Raft's view of stable storage, only after the WAL has it.
  if (!rd.snapshot.empty()) {
    etcdpp::Status ap = storage_->ApplySnapshot(rd.snapshot);
    if (!ap.ok()) LOG_WARN("failed to apply snapshot to raft storage", {"error", ap.ToString()});
    snapshot_index_ = rd.snapshot.metadata.index;
  }
  if (!rd.hard_state.empty()) storage_->SetHardState(rd.hard_state);
  if (!rd.entries.empty()) {
    etcdpp::Status ap = storage_->Append(rd.entries);
    assert(ap.ok());
    (void)ap;
  }
  // 2. Messages, only now: a vote or an append acknowledgement promises that
  //    what it covers is durable.
  if (!rd.messages.empty()) {
    std::vector<raft::Message> out;
    out.reserve(rd.messages.size());
    for (auto& m : rd.messages) {
      if (m.type == raft::MessageType::kSnap) {
        hooks_.send_snapshot(std::move(m));
      } else {
        out.push_back(std::move(m));
      }
    }
    if (!out.empty()) hooks_.send(std::move(out));
  }
  // 3. Publish leadership, term and commit index now that they are durable.
  Publish();
  if (!rd.hard_state.empty()) {
    term_.store(rd.hard_state.term, std::memory_order_release);
    commit_.store(rd.hard_state.commit, std::memory_order_release);
  }
  // 4. A received snapshot replaces the backend (behind everything already
  //    handed to the applier), then the committed entries follow it.
  if (!rd.snapshot.empty()) {
    const auto& md = rd.snapshot.metadata;
    LOG_INFO("applying snapshot from leader", {"local-member-id", IdToHex(id_)},
             {"snapshot-index", md.index}, {"snapshot-term", md.term});
    hooks_.restore(md, snap_path);
    auto r = hooks_.await_applied(md.index);
    if (!r.ok())
      LOG_FATAL("failed to restore the backend from a snapshot", {"error", r.status().ToString()},
                {"path", snap_path});
    applied_ = md.index;
    std::vector<std::string> stale;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = snap_files_.begin(); it != snap_files_.end() && it->first <= md.index;) {
        if (it->second != snap_path) stale.push_back(it->second);
        it = snap_files_.erase(it);
      }
    }
    for (const auto& p : stale)
      unlink(p.c_str());
    LOG_INFO("applied snapshot from leader", {"local-member-id", IdToHex(id_)},
             {"snapshot-index", md.index});
    Publish();  // the snapshot's configuration may make this member a learner
  }
  // 5. Reads whose ReadIndex round completed: each waits for its index to be
  //    applied (Applier::WaitApplied, non-blocking).
  for (const auto& rs : rd.read_states) {
    auto it = reads_in_flight_.find(rs.request_ctx);
    if (it == reads_in_flight_.end()) continue;
    for (auto& r : it->second)
      r.cb(rs.index);
    reads_in_flight_.erase(it);
  }
  // 6. Advance (it books the committed entries as applied inside the core),
  //    then hand them over (moved, not copied); nothing runs in between, so
  //    this equals the contract order.
  node_->Advance(rd);
  if (!rd.committed_entries.empty()) ApplyCommitted(std::move(rd.committed_entries));
  MaybeSnapshot();
  return true;
}

void RaftNode::ApplyCommitted(std::vector<raft::Entry> entries) {
  // Conf changes: the applier validates each against the members table and
  // stores it (or rejects it) in log order; raft's configuration follows the
  // applier's verdict (a rejected change is applied as a no-op, node id 0),
  // exactly as etcd does, so raft and the members table never disagree.
  std::vector<std::pair<uint64_t, raft::ConfChangeV2>> ccs;
  for (const auto& e : entries) {
    if (e.type == raft::EntryType::kNormal) continue;
    auto cc = raft::DecodeConfChangeEntry(e);
    if (!cc.ok()) {
      LOG_ERROR("failed to decode a committed conf-change entry; skipping it", {"index", e.index},
                {"error", cc.status().ToString()});
      continue;
    }
    ccs.emplace_back(e.index, std::move(*cc));
  }
  applied_ = entries.back().index;
  hooks_.apply(std::move(entries));
  for (auto& [index, cc] : ccs) {
    auto accepted = hooks_.await_applied(index);
    if (!accepted.ok() || !*accepted) {
      for (auto& ch : cc.changes)
        ch.node_id = raft::kNone;
    }
    (void)node_->ApplyConfChange(cc);
  }
  if (!ccs.empty()) Publish();  // learner promotion / removal changes what we are
}

void RaftNode::MaybeSnapshot() {
  if (opts_.snapshot_count == 0 || applied_ < snapshot_index_ + opts_.snapshot_count) return;
  if (!hooks_.sync_backend) return;
  // The snapshot is the backend at its consistent index: synced to disk
  // first (data and meta page), so the WAL behind it may go.
  auto r = hooks_.sync_backend();
  if (!r.ok()) {
    LOG_WARN("failed to sync the backend for a snapshot", {"error", r.status().ToString()});
    return;
  }
  auto [ci, term] = *r;
  if (ci <= snapshot_index_) return;
  raft::ConfState cs = node_->Status().config;
  auto snap = storage_->CreateSnapshot(ci, &cs, "");
  if (!snap.ok()) {
    LOG_WARN("failed to create a raft snapshot", {"error", snap.status().ToString()});
    return;
  }
  if (etcdpp::Status st = wal_->SaveSnapshot(wal::WalSnapshot{ci, term}); !st.ok()) {
    LOG_WARN("failed to save a snapshot marker in the WAL", {"error", st.ToString()});
    return;
  }
  snapshot_index_ = ci;
  LOG_INFO("saved snapshot", {"snapshot-index", ci});
  // Keep --snapshot-catchup-entries in memory for slow followers; older
  // ones get the backend as a snapshot.
  if (ci > opts_.snapshot_catchup_entries) {
    uint64_t compact = ci - opts_.snapshot_catchup_entries;
    auto first = storage_->FirstIndex();
    if (first.ok() && compact > *first) {
      if (etcdpp::Status st = storage_->Compact(compact); st.ok()) {
        LOG_INFO("compacted Raft logs", {"compact-index", compact});
      }
    }
  }
  // Segments wholly at or below the marker are not needed for a restart
  // (state = backend at ci + WAL after ci).
  if (etcdpp::Status st = wal_->PurgeTo(ci); !st.ok()) {
    LOG_WARN("failed to purge WAL segments", {"error", st.ToString()});
  }
}

void RaftNode::FailBatch(const std::vector<uint64_t>& ids, const etcdpp::Status& st) {
  for (uint64_t id : ids) {
    internalpb::InternalResponse empty;
    wait_->Trigger(id, st, &empty);
  }
}

}  // namespace etcdpp::server
