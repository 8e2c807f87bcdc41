// The applier: ONE thread applies committed entries in log order to the MVCC
// store, many entries per LMDB write transaction (mvcc::Batch), records the
// last applied index/term in that same transaction (so replay after a crash
// restarts exactly after it), commits, and only then completes the waiting
// client calls by request id.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "apply/kv_apply.h"
#include "common/status.h"
#include "etcdpp/internal.pb.h"
#include "mvcc/store.h"
#include "raft/types.h"
#include "server/wait.h"

namespace etcdpp::server {

class Applier {
 public:
  struct Options {
    uint64_t cluster_id = 0;
    uint64_t member_id = 0;
    apply::Context ctx;
    size_t max_entries_per_batch = 10000;  // one LMDB txn at most this many entries
    std::function<uint64_t()> term;        // current raft term for response headers
    std::string data_dir;                  // for diagnostics (disk space) only
    // Where deferred WaitApplied callbacks run (null: on the applier thread).
    std::function<void(std::function<void()>)> read_executor;
    // Membership (src/membership via the server). A committed conf change,
    // inside the batch's txn: validate and store it; returns whether it was
    // accepted, and the status its proposer gets.
    std::function<bool(mvcc::Batch&, const raft::ConfChangeV2&,
                       const internalpb::ConfChangeContext&, Status* client_status)>
        apply_conf_change;
    std::function<void(mvcc::Batch&, const internalpb::MemberAttrSetRequest&)> apply_attr_set;
    // After every commit (membership publishes what it staged) and after a
    // restore from a snapshot (membership reloads its view).
    std::function<void()> after_commit;
    std::function<void()> after_restore;
    // After every commit: the batch's events in revision order (the watch
    // hub). Never called with an empty vector.
    std::function<void(const std::vector<mvccpb::Event>&)> publish_events;
    // Leases (src/lease via the server): a lease_grant/lease_revoke/
    // lease_checkpoint request inside the batch (no TxnWrite open); `events`
    // gets a revoke's deletions.
    std::function<Status(mvcc::Batch&, const internalpb::InternalRequest&,
                         internalpb::InternalResponse*, std::vector<mvccpb::Event>* events)>
        apply_lease;
    // Every logical txn's changes before it ends (lease attachments).
    std::function<void(const std::vector<mvccpb::Event>&)> on_txn_changes;
    // Alarms (src/server/alarms.h via the server): a committed alarm request
    // inside the batch (no TxnWrite open).
    std::function<Status(mvcc::Batch&, const internalpb::InternalRequest&,
                         internalpb::InternalResponse*)>
        apply_alarm;
    // Asked before every other request: non-OK refuses it unapplied (etcd's
    // corrupt and capped appliers while CORRUPT/NOSPACE is raised).
    std::function<Status(const internalpb::InternalRequest&)> admit;
    // etcd's quota applier, asked before a request is applied: a Put, Txn or
    // LeaseGrant that did not fit is still applied (every member applies the
    // same log) but answered "database space exceeded".
    std::function<bool(const internalpb::InternalRequest&)> quota_available;
  };

  Applier(mvcc::Store* store, WaitRegistry* wait, Options opts);
  ~Applier();

  // Applies entries synchronously on the caller's thread (WAL replay before
  // serving). Entries at or below the store's consistent index are skipped.
  Status ApplyNow(const std::vector<raft::Entry>& entries);

  void Start();
  // Applies everything already enqueued, then stops. Idempotent.
  void Stop();

  // Queues committed entries (log order; called by the raft loop).
  void Enqueue(std::vector<raft::Entry> entries);
  // Queues `task` behind the entries already queued: it runs on the applier
  // thread between two batches (no Batch open, nothing applied meanwhile:
  // later entries wait in the queue, none is lost), with OK. If the applier
  // has failed or stops first, it runs with that error instead (on the
  // caller's or the stopping thread). For Maintenance.Defragment.
  void EnqueueTask(std::function<void(const Status&)> task);
  // Queues a restore of the whole store from a snapshot db file (received
  // from the leader), behind the entries already queued. The file is
  // deleted once the restore is durable.
  void EnqueueRestore(uint64_t index, uint64_t term, std::string path);
  // Blocks until `index` is applied (or applying failed/stopped); for a
  // conf-change entry at `index`, whether it was accepted.
  etcdpp::Result<bool> AwaitApplied(uint64_t index);

  uint64_t AppliedIndex() const { return applied_.load(std::memory_order_acquire); }

  // Runs `cb(status)` once the applied index is >= index: at once on the
  // caller's thread if it already is, else on the applier thread after the
  // batch that reaches it is committed (so a read then sees it). On a fatal
  // apply error or Stop, cb gets that error.
  void WaitApplied(uint64_t index, std::function<void(const Status&)> cb);

  // Non-OK once applying failed (e.g. LMDB commit error): writes are then
  // refused (EtcdServer::Propose) and reads served from the committed state.
  Status Error() const;

 private:
  struct Result {
    uint64_t id = 0;
    Status status;
    internalpb::InternalResponse resp;
    bool compaction = false;           // a Compact that succeeded
    bool physical_compaction = false;  // ... and waits for history to be freed
  };

  struct Item {
    raft::Entry entry;
    std::string restore_path;  // non-empty: restore the store (entry.index/term = snapshot's)
    std::function<void(const Status&)> task;  // set: run it between batches (EnqueueTask)
  };

  void Run();
  Status ApplyBatch(const std::vector<raft::Entry>& entries, std::vector<Result>* results);
  void ApplyEntry(mvcc::Batch& batch, const raft::Entry& e, std::vector<Result>* results);
  void ApplyConfChange(mvcc::Batch& batch, const raft::Entry& e, std::vector<Result>* results);
  // The store's revision as seen inside the open batch.
  static int64_t CurrentRevision(mvcc::Batch& batch);
  static etcdserverpb::ResponseHeader* MutableHeader(internalpb::InternalResponse* r);
  static void SetRevision(internalpb::InternalResponse* r, int64_t rev);
  void Complete(std::vector<Result>* results);
  // One bounded step of freeing compacted history (no Batch open); completes
  // the physical compactions once done.
  void StepCompaction();
  void FireReadWaiters(const Status& st);
  Status Restore(const Item& item);
  void Fail(const Status& err, uint64_t first, uint64_t last);
  // Conf-change verdicts of the batch being applied (applier thread).
  std::vector<std::pair<uint64_t, bool>> batch_verdicts_;
  // Events of the batch being applied, for publish_events (applier thread).
  std::vector<mvccpb::Event> batch_events_;

  mvcc::Store* store_;
  WaitRegistry* wait_;
  Options opts_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;                // guarded by mu_
  std::map<uint64_t, bool> cc_verdicts_;  // guarded by mu_
  std::condition_variable applied_cv_;
  bool stopping_ = false;                                                     // guarded by mu_
  Status error_;                                                              // guarded by mu_
  std::multimap<uint64_t, std::function<void(const Status&)>> read_waiters_;  // guarded by mu_

  std::atomic<uint64_t> applied_{0};
  // Applier thread only (ApplyNow runs before Start).
  bool compaction_pending_ = false;
  std::vector<Result> physical_waiters_;
  std::thread thread_;
};

}  // namespace etcdpp::server
