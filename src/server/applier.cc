#include "server/applier.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "common/log.h"
#include "metrics/etcd_metrics.h"
#include "raft/codec.h"
#include "server/alarms.h"

namespace etcdpp::server {
namespace {

// LMDB reports a full file system as EIO when a write comes up short; say
// what the real cause is when the file system is (nearly) full.
std::string DiskSpaceHint(const std::string& dir) {
  struct statvfs vfs {};
  if (dir.empty() || statvfs(dir.c_str(), &vfs) != 0) return "";
  uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (free_bytes >= (4u << 20)) return "";
  return " (no space left on device: " + std::to_string(free_bytes) +
         " bytes free on the file system of " + dir + ")";
}

}  // namespace

Applier::Applier(mvcc::Store* store, WaitRegistry* wait, Options opts)
    : store_(store), wait_(wait), opts_(std::move(opts)) {
  applied_.store(store_->ConsistentIndex());
}

Applier::~Applier() {
  Stop();
}

Status Applier::ApplyNow(const std::vector<raft::Entry>& entries) {
  std::vector<Result> results;
  for (size_t i = 0; i < entries.size(); i += opts_.max_entries_per_batch) {
    size_t end = std::min(entries.size(), i + opts_.max_entries_per_batch);
    std::vector<raft::Entry> chunk(entries.begin() + i, entries.begin() + end);
    results.clear();
    ETCDPP_RETURN_IF_ERROR(ApplyBatch(chunk, &results));
    Complete(&results);  // replayed entries normally have no waiters
  }
  while (compaction_pending_)
    StepCompaction();
  return Status::OK();
}

void Applier::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Applier::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  applied_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  FireReadWaiters(Status::Unavailable("etcdserver: server stopped"));
}

void Applier::Enqueue(std::vector<raft::Entry> entries) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) {
      for (auto& e : entries)
        queue_.push_back(Item{std::move(e), {}, {}});
      cv_.notify_one();
      return;
    }
  }
  // The applier has failed and its thread is gone: these entries are durable
  // in the WAL (replayed at the next start) but cannot be applied now, so
  // their waiters must not hang.
  Status err = Error();
  for (const auto& e : entries) {
    internalpb::InternalRequest req;
    if (e.data.empty() || !req.ParseFromString(e.data)) continue;
    internalpb::InternalResponse empty;
    wait_->Trigger(req.id(), err, &empty);
  }
}

void Applier::EnqueueTask(std::function<void(const Status&)> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok() && !stopping_) {
      queue_.push_back(Item{{}, {}, std::move(task)});
      cv_.notify_one();
      return;
    }
  }
  Status err = Error();
  task(err.ok() ? Status::Unavailable("etcdserver: server stopped") : err);
}

void Applier::EnqueueRestore(uint64_t index, uint64_t term, std::string path) {
  std::lock_guard<std::mutex> lock(mu_);
  raft::Entry e;
  e.index = index;
  e.term = term;
  queue_.push_back(Item{std::move(e), std::move(path), {}});
  cv_.notify_one();
}

etcdpp::Result<bool> Applier::AwaitApplied(uint64_t index) {
  std::unique_lock<std::mutex> lock(mu_);
  applied_cv_.wait(lock, [&] {
    return applied_.load(std::memory_order_acquire) >= index || !error_.ok() || stopping_;
  });
  if (applied_.load(std::memory_order_acquire) < index) {
    return error_.ok() ? Status::Unavailable("etcdserver: server stopped") : error_;
  }
  bool accepted = true;
  if (auto it = cc_verdicts_.find(index); it != cc_verdicts_.end()) accepted = it->second;
  cc_verdicts_.erase(cc_verdicts_.begin(), cc_verdicts_.upper_bound(index));
  return accepted;
}

Status Applier::Error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void Applier::WaitApplied(uint64_t index, std::function<void(const Status&)> cb) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok() && applied_.load(std::memory_order_acquire) < index && !stopping_) {
      read_waiters_.emplace(index, std::move(cb));
      return;
    }
  }
  Status st;
  if (applied_.load(std::memory_order_acquire) < index && Error().ok()) {
    st = Status::Unavailable("etcdserver: server stopped");
  }
  // After an apply failure, reads are served from the last committed state:
  // every acknowledged write is in it (acks follow the commit), and the
  // entries past it failed to their clients (outcome unknown), so a read
  // that does not see them is still linearizable.
  // The caller is usually the raft loop (ReadIndex answered): the read itself
  // runs on the read pool so a large Range never delays heartbeats or appends.
  if (opts_.read_executor) {
    opts_.read_executor([cb = std::move(cb), st]() { cb(st); });
  } else {
    cb(st);
  }
}

void Applier::Run() {
  std::vector<raft::Entry> batch;
  std::vector<Result> results;
  for (;;) {
    batch.clear();
    std::optional<Item> restore;
    std::function<void(const Status&)> task;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || compaction_pending_; });
      // Take everything committed so far (bounded): one LMDB txn, one sync. A
      // restore or a task is done on its own, in queue order.
      if (!queue_.empty() && queue_.front().task) {
        task = std::move(queue_.front().task);
        queue_.pop_front();
      } else if (!queue_.empty() && !queue_.front().restore_path.empty()) {
        restore = std::move(queue_.front());
        queue_.pop_front();
      }
      while (!restore && !task && !queue_.empty() && queue_.front().restore_path.empty() &&
             !queue_.front().task && batch.size() < opts_.max_entries_per_batch) {
        batch.push_back(std::move(queue_.front().entry));
        queue_.pop_front();
      }
      stop = stopping_ && queue_.empty();
    }
    if (task) task(Status::OK());  // between batches: nothing is open
    if (restore) {
      if (Status st = Restore(*restore); !st.ok()) {
        Fail(Status(st.code(), "etcdserver: failed to restore from snapshot: " + st.message()),
             restore->entry.index, restore->entry.index);
        return;
      }
      FireReadWaiters(Status::OK());
    }
    if (!batch.empty()) {
      results.clear();
      Status st = ApplyBatch(batch, &results);
      if (!st.ok()) {
        // The store refused a commit: nothing of this batch is applied, and
        // the entries are durable in the WAL, so a restart replays them. Stop
        // applying: fail the waiters (outcome unknown to them, never lost).
        Fail(Status(st.code(), "etcdserver: failed to apply request: " + st.message() +
                                   DiskSpaceHint(opts_.data_dir)),
             batch.front().index, batch.back().index);
        return;
      }
      Complete(&results);
      FireReadWaiters(Status::OK());
    }
    // Physical compactions still waiting at stop are failed by the server
    // ("server stopped"); the rest resumes at the next start.
    if (stop) return;
    StepCompaction();
  }
}

void Applier::Fail(const Status& err, uint64_t first, uint64_t last) {
  LOG_ERROR("failed to apply committed entries; rejecting all further writes",
            {"error", err.ToString()}, {"first-index", first}, {"last-index", last});
  std::vector<std::function<void(const Status&)>> tasks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = err;
    for (auto& it : queue_)
      if (it.task) tasks.push_back(std::move(it.task));
    queue_.clear();
  }
  for (auto& t : tasks)
    t(err);
  applied_cv_.notify_all();
  wait_->FailAll(err);
  FireReadWaiters(Status::OK());  // see WaitApplied: served from committed state
}

Status Applier::Restore(const Applier::Item& item) {
  if (item.entry.index <= applied_.load(std::memory_order_acquire)) {
    unlink(item.restore_path.c_str());
    return Status::OK();
  }
  // One LMDB write txn replaces everything (readers see old or new); the
  // store is synced before RestoreFrom returns, so the file may go.
  ETCDPP_RETURN_IF_ERROR(store_->RestoreFrom(item.restore_path));
  if (store_->ConsistentIndex() != item.entry.index) {
    LOG_WARN("restored snapshot's consistent index differs from the raft snapshot",
             {"consistent-index", store_->ConsistentIndex()}, {"snapshot-index", item.entry.index});
  }
  unlink(item.restore_path.c_str());
  if (opts_.after_restore) opts_.after_restore();
  {
    std::lock_guard<std::mutex> lock(mu_);
    applied_.store(item.entry.index, std::memory_order_release);
  }
  applied_cv_.notify_all();
  return Status::OK();
}

Status Applier::ApplyBatch(const std::vector<raft::Entry>& entries, std::vector<Result>* results) {
  uint64_t applied = applied_.load(std::memory_order_acquire);
  const raft::Entry* last = nullptr;
  auto batch_or = store_->BeginBatch();
  if (!batch_or.ok()) return batch_or.status();
  mvcc::Batch& batch = **batch_or;
  batch_verdicts_.clear();
  batch_events_.clear();
  for (const auto& e : entries) {
    // Idempotent replay: the store already holds everything up to its
    // consistent index (it was committed in the same LMDB txn as the data).
    if (e.index <= applied) continue;
    if (e.type == raft::EntryType::kNormal) {
      auto apply_start = std::chrono::steady_clock::now();
      if (!e.data.empty()) ApplyEntry(batch, e, results);
      metrics::Etcd().OnApplied(std::chrono::steady_clock::now() - apply_start);
    } else {
      ApplyConfChange(batch, e, results);
    }
    last = &e;
  }
  if (last == nullptr) return Status::OK();
  // Same LMDB txn as the data: after a crash, state = LMDB at this index +
  // WAL replay of what follows (ARCHITECTURE.md §5).
  batch.SetConsistentIndex(last->index, last->term);
  // Commit = LMDB's sync point. Readers see the batch only after it, and we
  // acknowledge clients only after it (below, Complete()).
  ETCDPP_RETURN_IF_ERROR(batch.Commit());
  if (opts_.after_commit) opts_.after_commit();
  // Watchers see a revision only once LMDB has committed it (a catch-up read
  // can then find it too).
  if (opts_.publish_events && !batch_events_.empty()) opts_.publish_events(batch_events_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [index, ok] : batch_verdicts_)
      cc_verdicts_[index] = ok;
    applied_.store(last->index, std::memory_order_release);
  }
  applied_cv_.notify_all();
  // History below a compaction is freed after the commit, in bounded steps
  // between batches (StepCompaction), so big compactions do not stall writes.
  for (const auto& r : *results) {
    if (r.compaction) compaction_pending_ = true;
  }
  return Status::OK();
}

int64_t Applier::CurrentRevision(mvcc::Batch& batch) {
  int64_t rev = 0;
  if (auto t = batch.BeginTxn(); t.ok()) {
    rev = (*t)->Rev();
    (void)(*t)->End();  // no changes: bumps nothing
  }
  return rev;
}

void Applier::SetRevision(internalpb::InternalResponse* resp, int64_t rev) {
  if (auto* h = MutableHeader(resp)) h->set_revision(rev);
}

etcdserverpb::ResponseHeader* Applier::MutableHeader(internalpb::InternalResponse* r) {
  switch (r->response_case()) {
    case internalpb::InternalResponse::kPut:
      return r->mutable_put()->mutable_header();
    case internalpb::InternalResponse::kDeleteRange:
      return r->mutable_delete_range()->mutable_header();
    case internalpb::InternalResponse::kTxn:
      return r->mutable_txn()->mutable_header();
    case internalpb::InternalResponse::kCompaction:
      return r->mutable_compaction()->mutable_header();
    case internalpb::InternalResponse::kRange:
      return r->mutable_range()->mutable_header();
    case internalpb::InternalResponse::kLeaseGrant:
      return r->mutable_lease_grant()->mutable_header();
    case internalpb::InternalResponse::kLeaseRevoke:
      return r->mutable_lease_revoke()->mutable_header();
    case internalpb::InternalResponse::kLeaseCheckpoint:
      return r->mutable_lease_checkpoint()->mutable_header();
    case internalpb::InternalResponse::kAlarm:
      return r->mutable_alarm()->mutable_header();
    default:
      return nullptr;
  }
}

void Applier::ApplyConfChange(mvcc::Batch& batch, const raft::Entry& e,
                              std::vector<Result>* results) {
  auto cc = raft::DecodeConfChangeEntry(e);
  if (!cc.ok()) {
    LOG_ERROR("failed to decode a committed conf-change entry; skipping it", {"index", e.index},
              {"error", cc.status().ToString()});
    batch_verdicts_.emplace_back(e.index, false);
    return;
  }
  internalpb::ConfChangeContext ctx;
  if (!cc->context.empty() && !ctx.ParseFromString(cc->context)) {
    LOG_WARN("conf-change entry has an unreadable context", {"index", e.index});
  }
  Result r;
  r.id = ctx.request_id();
  bool accepted = false;
  if (opts_.apply_conf_change) {
    accepted = opts_.apply_conf_change(batch, *cc, ctx, &r.status);
  } else {
    r.status = Status::Unimplemented("etcdserver: membership changes are not supported");
  }
  batch_verdicts_.emplace_back(e.index, accepted);
  if (r.id != 0) results->push_back(std::move(r));
}

void Applier::ApplyEntry(mvcc::Batch& batch, const raft::Entry& e, std::vector<Result>* results) {
  internalpb::InternalRequest req;
  Result r;
  if (!req.ParseFromString(e.data)) {
    // The WAL's CRC vouched for these bytes: a decode failure is a bug or a
    // foreign log. Skip it loudly rather than guess at its meaning.
    LOG_ERROR("failed to decode a committed entry; skipping it", {"index", e.index},
              {"term", e.term});
    return;
  }
  r.id = req.id();
  if (req.request_case() == internalpb::InternalRequest::kMemberAttrSet) {
    if (opts_.apply_attr_set) opts_.apply_attr_set(batch, req.member_attr_set());
    results->push_back(std::move(r));
    return;
  }
  if (req.request_case() == internalpb::InternalRequest::kAlarm) {
    r.status = opts_.apply_alarm ? opts_.apply_alarm(batch, req, &r.resp)
                                 : Status::Unimplemented("etcdserver: alarms are not supported");
    if (r.resp.response_case() != internalpb::InternalResponse::kAlarm) r.resp.mutable_alarm();
    SetRevision(&r.resp, CurrentRevision(batch));
    results->push_back(std::move(r));
    return;
  }
  if (opts_.admit) {
    r.status = opts_.admit(req);
    if (!r.status.ok()) {
      results->push_back(std::move(r));
      return;
    }
  }
  // Decided before the write changes the db size (etcd's quota applier).
  const bool fits = !opts_.quota_available || opts_.quota_available(req);
  if (req.request_case() == internalpb::InternalRequest::kLeaseGrant ||
      req.request_case() == internalpb::InternalRequest::kLeaseRevoke ||
      req.request_case() == internalpb::InternalRequest::kLeaseCheckpoint) {
    std::vector<mvccpb::Event> events;
    r.status = opts_.apply_lease ? opts_.apply_lease(batch, req, &r.resp, &events)
                                 : Status::Unimplemented("etcdserver: leases are not supported");
    batch_events_.insert(batch_events_.end(), events.begin(), events.end());
    SetRevision(&r.resp, CurrentRevision(batch));
    if (r.status.ok() && !fits) r.status = ErrNoSpace();
    results->push_back(std::move(r));
    return;
  }
  if (req.request_case() == internalpb::InternalRequest::kCompaction) {
    const auto& c = req.compaction();
    r.status = batch.Compact(c.revision());
    r.compaction = r.status.ok();
    r.physical_compaction = r.compaction && c.physical();
    // header.revision = the current revision, as seen inside this batch.
    r.resp.mutable_compaction()->mutable_header()->set_revision(CurrentRevision(batch));
    results->push_back(std::move(r));
    return;
  }
  auto txn_or = batch.BeginTxn();
  if (!txn_or.ok()) {
    r.status = txn_or.status();
    results->push_back(std::move(r));
    return;
  }
  mvcc::TxnWrite& txn = **txn_or;
  switch (req.request_case()) {
    case internalpb::InternalRequest::kPut:
      r.status = apply::Put(txn, opts_.ctx, req.put(), r.resp.mutable_put());
      break;
    case internalpb::InternalRequest::kDeleteRange:
      r.status = apply::DeleteRange(txn, req.delete_range(), r.resp.mutable_delete_range());
      break;
    case internalpb::InternalRequest::kTxn:
      r.status = apply::Txn(txn, opts_.ctx, req.txn(), r.resp.mutable_txn());
      break;
    case internalpb::InternalRequest::kRange:
      r.status = apply::Range(txn, req.range(), r.resp.mutable_range());
      break;
    default:
      r.status = Status::Unimplemented("etcdserver: unknown internal request");
      break;
  }
  // apply::* validate before writing, so a failed request normally changed
  // nothing; if it did (an error found after writes started), drop those
  // changes so End() bumps no revision for it.
  if (!r.status.ok() && !txn.Changes().empty()) {
    if (Status ab = txn.Abort(); !ab.ok()) {
      LOG_ERROR("failed to abort a failed request's changes", {"index", e.index},
                {"error", ab.ToString()});
    }
  }
  if (r.status.ok()) {
    const auto& ch = txn.Changes();  // End() clears them
    if (opts_.on_txn_changes && !ch.empty()) opts_.on_txn_changes(ch);
    if (opts_.publish_events) batch_events_.insert(batch_events_.end(), ch.begin(), ch.end());
  }
  Status end = txn.End();
  if (!end.ok() && r.status.ok()) r.status = end;
  if (r.status.ok() && !fits) r.status = ErrNoSpace();
  results->push_back(std::move(r));
}

void Applier::Complete(std::vector<Result>* results) {
  const uint64_t term = opts_.term ? opts_.term() : 0;
  for (auto& r : *results) {
    if (r.id == 0) continue;
    etcdserverpb::ResponseHeader* h = MutableHeader(&r.resp);
    if (h != nullptr) {
      h->set_cluster_id(opts_.cluster_id);
      h->set_member_id(opts_.member_id);
      h->set_raft_term(term);
    }
    if (r.physical_compaction && compaction_pending_) {
      // etcd answers a physical compaction only once history is freed.
      physical_waiters_.push_back(std::move(r));
      continue;
    }
    wait_->Trigger(r.id, r.status, &r.resp);  // no waiter after a restart: fine
  }
}

void Applier::StepCompaction() {
  if (!compaction_pending_) return;
  auto done = store_->CompactionStep();
  Status st;
  if (!done.ok()) {
    st = done.status();
    LOG_WARN("failed to free compacted history; will retry after the next compaction",
             {"error", st.ToString()});
  } else if (!*done) {
    return;  // more to do: next loop round
  }
  compaction_pending_ = false;
  for (auto& r : physical_waiters_) {
    if (!st.ok()) r.status = st;
    wait_->Trigger(r.id, r.status, &r.resp);
  }
  physical_waiters_.clear();
}

void Applier::FireReadWaiters(const Status& st) {
  std::vector<std::function<void(const Status&)>> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t applied = applied_.load(std::memory_order_acquire);
    auto end = st.ok() ? read_waiters_.upper_bound(applied) : read_waiters_.end();
    for (auto it = read_waiters_.begin(); it != end; ++it)
      due.push_back(std::move(it->second));
    read_waiters_.erase(read_waiters_.begin(), end);
  }
  for (auto& cb : due) {
    // Off the applier thread when possible: the reads these callbacks do
    // must not delay the next batch.
    if (opts_.read_executor) {
      opts_.read_executor([cb = std::move(cb), st]() { cb(st); });
    } else {
      cb(st);
    }
  }
}

}  // namespace etcdpp::server
