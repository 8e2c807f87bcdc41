// Store on LMDB: environment, read views, write batches, compaction, HashKV.
// Layout: docs/mvcc_layout.md and the header comments of store.h/index_codec.h.
#include "mvcc/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <shared_mutex>

#include "common/crc32c.h"
#include "metrics/etcd_metrics.h"
#include "mvcc/lmdb.h"
#include "mvcc/reader.h"

namespace etcdpp::mvcc {

using lmdb::Val;
using lmdb::View;

namespace {

constexpr std::string_view kErrNoSpace = "etcdserver: mvcc: database space exceeded";
constexpr size_t kCompactionChunkKeys = 1000;      // index keys per compaction write txn
constexpr char kDefragFile[] = "data.mdb.defrag";  // the compacting copy, before its rename

Status PutMetaU64(MDB_txn* txn, MDB_dbi meta, std::string_view name, uint64_t value, int* rc) {
  std::string v = BE64(value);
  MDB_val k = Val(name), d = Val(v);
  *rc = mdb_put(txn, meta, &k, &d, 0);
  return lmdb::ToStatus(*rc, "put meta");
}

class StoreImpl;

// ---------------------------------------------------------------- ReadTxn

class ReadTxnImpl final : public ReadTxn {
 public:
  ReadTxnImpl(std::shared_lock<std::shared_mutex> lock, lmdb::Txn txn, const Dbs& dbs, int64_t rev,
              int64_t compact)
      : lock_(std::move(lock)), txn_(std::move(txn)), dbs_(dbs), rev_(rev), compact_(compact) {}

  Result<RangeResult> Range(std::string_view key, std::string_view end,
                            const RangeOptions& opts) override {
    metrics::Etcd().mvcc_range_total.Inc();
    return Reader(txn_.get(), dbs_).Range(key, end, opts, rev_, compact_);
  }
  int64_t Rev() const override { return rev_; }
  int64_t CompactRev() const override { return compact_; }
  Result<EventsResult> Events(int64_t from, int64_t to, size_t max_events, bool prev_kv) override;
  Result<std::vector<std::pair<uint64_t, std::string>>> Members() override {
    return ReadMembers(txn_.get(), dbs_);
  }
  Result<std::vector<uint64_t>> RemovedMembers() override {
    return ReadRemovedMembers(txn_.get(), dbs_);
  }
  Result<std::vector<std::pair<int64_t, std::string>>> Leases() override {
    return ReadLeases(txn_.get(), dbs_);
  }
  Result<std::vector<std::pair<int64_t, std::string>>> LeasedKeys() override {
    return ReadLeasedKeys(Reader(txn_.get(), dbs_), rev_);
  }
  const Reader* RawReader() const override { return &reader_; }
  Result<std::vector<std::string>> Alarms() override { return ReadAlarms(txn_.get(), dbs_); }

 private:
  std::shared_lock<std::shared_mutex> lock_;  // held while the txn lives (see map resizing)
  lmdb::Txn txn_;
  Dbs dbs_;
  int64_t rev_;
  int64_t compact_;
  Reader reader_{txn_.get(), dbs_};  // after txn_ (declaration order)
};

Result<ReadTxn::EventsResult> ReadTxnImpl::Events(int64_t from, int64_t to, size_t max_events,
                                                  bool prev_kv) {
  if (from < compact_) return Status::OutOfRange(kErrCompacted);
  if (to <= 0 || to > rev_) to = rev_;
  from = std::max<int64_t>(from, 1);
  EventsResult res;
  res.next_rev = from;
  Reader r(txn_.get(), dbs_);
  lmdb::Cursor c;
  int rc = c.Open(txn_.get(), dbs_.key);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "cursor");
  std::string start = EncodeRevision(Revision{from, 0}, false);
  MDB_val k = Val(start), v;
  rc = c.Get(&k, &v, MDB_SET_RANGE);
  int64_t cur_main = 0;
  while (rc == MDB_SUCCESS) {
    std::string_view rk = View(k);
    if (rk.size() < kRevBytes) return Status::Corruption("mvcc: bad revision key");
    Revision rv = DecodeRevision(rk);
    if (rv.main > to) break;
    if (rv.main != cur_main) {
      if (res.events.size() >= max_events && max_events > 0) break;
      cur_main = rv.main;
    }
    mvccpb::Event ev;
    mvccpb::KeyValue* kv = ev.mutable_kv();
    if (!kv->ParseFromArray(v.mv_data, static_cast<int>(v.mv_size))) {
      return Status::Corruption("mvcc: unparsable KeyValue");
    }
    if (IsTombstoneKey(rk)) {
      ev.set_type(mvccpb::Event::DELETE);
      kv->set_mod_revision(rv.main);
    } else {
      ev.set_type(mvccpb::Event::PUT);
    }
    if (prev_kv && rv.main - 1 >= compact_) {
      std::string ik;
      bool exists = false;
      ETCDPP_RETURN_IF_ERROR(r.ResolveIndexKey(kv->key(), &ik, &exists));
      if (exists) {
        auto e = r.EntryAt(ik, rv.main - 1);
        if (!e.ok()) return e.status();
        if (e->has_value() && !(*e)->tombstone) {
          ETCDPP_RETURN_IF_ERROR(r.GetKV((*e)->rev, ev.mutable_prev_kv()));
        }
      }
    }
    res.events.push_back(std::move(ev));
    res.next_rev = rv.main + 1;
    rc = c.Get(&k, &v, MDB_NEXT);
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "events scan");
  if (rc == MDB_NOTFOUND || (rc == MDB_SUCCESS && DecodeRevision(View(k)).main > to)) {
    res.next_rev = to + 1;  // everything up to `to` was returned
  }
  return res;
}

// ---------------------------------------------------------------- Batch

class BatchImpl;

class TxnWriteImpl final : public TxnWrite {
 public:
  explicit TxnWriteImpl(BatchImpl* b) : b_(b) {}
  ~TxnWriteImpl() override;
  Result<RangeResult> Range(std::string_view key, std::string_view end,
                            const RangeOptions& opts) override;
  int64_t Rev() const override;
  int64_t CompactRev() const override;
  Result<std::optional<mvccpb::KeyValue>> Put(std::string_view key, std::string_view value,
                                              int64_t lease) override;
  Result<std::vector<mvccpb::KeyValue>> DeleteRange(std::string_view key,
                                                    std::string_view end) override;
  const std::vector<mvccpb::Event>& Changes() const override;
  Status End() override;
  Status Abort() override;

 private:
  BatchImpl* b_;
  bool ended_ = false;
  int ops_ = 0;  // ranges + puts + deletes: etcd counts a txn when > 1
};

class StoreImpl final : public Store {
 public:
  ~StoreImpl() override {
    if (env_ != nullptr) mdb_env_close(env_);
    if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock, after the env is closed
  }

  Status OpenEnv(const std::string& dir, const Options& opts);
  // Creates env_ on dir_ (map size `initial`, capped by max_map_size_) and
  // opens every named database into dbs_ (creating missing ones).
  Status OpenLmdb(size_t initial);

  std::shared_lock<std::shared_mutex> ReaderLock() {
    // Bounded wait: a thread that already holds a ReadTxn must not deadlock
    // against the grower waiting for that very txn.
    if (growing_.load() && grow_mu_.try_lock_for(std::chrono::milliseconds(20))) {
      grow_mu_.unlock();
    }
    return std::shared_lock<std::shared_mutex>(resize_mu_);
  }

  Result<std::unique_ptr<ReadTxn>> Read() override {
    std::shared_lock<std::shared_mutex> lock = ReaderLock();
    lmdb::Txn txn;
    int rc = lmdb::Txn::Begin(env_, MDB_RDONLY, &txn);
    if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "begin read txn");
    // Revisions come from the snapshot itself so that they match its data.
    auto cur = GetMetaU64(txn.get(), dbs_.meta, kMetaCurrentRev, 1);
    if (!cur.ok()) return cur.status();
    auto cmp = GetMetaU64(txn.get(), dbs_.meta, kMetaScheduledCompact, 0);
    if (!cmp.ok()) return cmp.status();
    return std::unique_ptr<ReadTxn>(new ReadTxnImpl(std::move(lock), std::move(txn), dbs_,
                                                    static_cast<int64_t>(*cur),
                                                    static_cast<int64_t>(*cmp)));
  }

  Result<std::unique_ptr<Batch>> BeginBatch() override;
  Status RunCompaction() override;
  Result<bool> CompactionStep() override;
  Result<HashKVResult> HashKV(int64_t rev) override;
  Result<HashResult> Hash() override;
  Status Defrag() override;

  uint64_t ConsistentIndex() const override { return ci_.load(std::memory_order_acquire); }
  uint64_t ConsistentTerm() const override { return term_.load(std::memory_order_acquire); }
  int64_t CurrentRev() const override { return current_rev_.load(std::memory_order_acquire); }
  int64_t CompactRev() const override { return compact_rev_.load(std::memory_order_acquire); }
  int64_t DbSizeBytes() const override {
    struct stat st;
    if (::stat((dir_ + "/data.mdb").c_str(), &st) != 0) return 0;
    return static_cast<int64_t>(st.st_size);
  }
  int64_t DbSizeInUseBytes() const override;
  Status SnapshotTo(const std::string& path) override;
  Status RestoreFrom(const std::string& path) override;
  Status Sync() override;

  // --- for BatchImpl / compaction (writer thread only) ---
  // Doubles the map (up to Options.map_size_bytes). No txn of this process may
  // be active: the caller has aborted its own and we wait for readers.
  bool GrowMap() {
    if (map_size_ >= max_map_size_) return false;
    // New readers queue on grow_mu_ so that a stream of short readers cannot
    // starve the exclusive lock (glibc rwlocks prefer readers).
    std::lock_guard<std::timed_mutex> gate(grow_mu_);
    growing_.store(true);
    std::unique_lock<std::shared_mutex> lock(resize_mu_);
    struct Reset {
      std::atomic<bool>* f;
      ~Reset() { f->store(false); }
    } reset{&growing_};
    size_t next = std::min(max_map_size_, map_size_ * 2);
    if (mdb_env_set_mapsize(env_, next) != MDB_SUCCESS) return false;
    map_size_ = next;
    return true;
  }
  void MaybeGrowEarly() {
    // Grow before a batch starts when the map is 3/4 used, so that replays on
    // MDB_MAP_FULL (see BatchImpl) stay rare. try_lock: never wait here (the
    // writer thread might itself hold a ReadTxn).
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(env_, &info) != MDB_SUCCESS || mdb_env_stat(env_, &st) != MDB_SUCCESS) return;
    size_t used = (info.me_last_pgno + 1) * st.ms_psize;
    if (used * 4 < map_size_ * 3 || map_size_ >= max_map_size_) return;
    std::unique_lock<std::shared_mutex> lock(resize_mu_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    size_t next = std::min(max_map_size_, map_size_ * 2);
    if (mdb_env_set_mapsize(env_, next) == MDB_SUCCESS) map_size_ = next;
  }

  MDB_env* env_ = nullptr;
  int lock_fd_ = -1;
  Dbs dbs_;
  std::string dir_;
  size_t map_size_ = 0;
  size_t max_map_size_ = 0;
  std::shared_mutex resize_mu_;  // shared: any live txn; exclusive: mdb_env_set_mapsize
  std::timed_mutex grow_mu_;
  std::atomic<bool> growing_{false};
  std::atomic<int64_t> current_rev_{1};
  std::atomic<int64_t> compact_rev_{0};  // scheduled (logical) compaction
  std::atomic<uint64_t> ci_{0};
  std::atomic<uint64_t> term_{0};
  int64_t finished_compact_ = 0;  // writer thread only
  int64_t comp_target_ = 0;       // compaction in progress (writer thread only)
  std::string comp_resume_;
  std::atomic<bool> batch_open_{false};
  bool no_sync_ = false;
};

// The applier's write batch: one LMDB write txn holding many logical txns.
//
// MDB_MAP_FULL poisons an LMDB txn, so every mutating step is also recorded in
// log_. On MAP_FULL the txn is aborted, the map grown and the log replayed
// into a fresh txn. When the map cannot grow any more, only the completed
// logical txns are replayed and the current one fails with etcd's "database
// space exceeded" (the batch itself stays usable).
class BatchImpl final : public Batch {
 public:
  explicit BatchImpl(StoreImpl* s) : s_(s) {}
  ~BatchImpl() override {
    ReleaseTxn();
    if (open_) s_->batch_open_.store(false);
  }

  Status Start() {
    lock_ = std::shared_lock<std::shared_mutex>(s_->resize_mu_);
    ResetState();
    int rc = lmdb::Txn::Begin(s_->env_, 0, &txn_);
    return lmdb::ToStatus(rc, "begin write txn");
  }

  Result<std::unique_ptr<TxnWrite>> BeginTxn() override {
    assert(!in_txn_ && "previous TxnWrite not ended");
    if (!dead_.ok()) return dead_;
    log_.push_back(Op{Op::kBegin, {}, {}, 0, 0});
    txn_log_start_ = log_.size() - 1;
    DoBegin();
    return std::unique_ptr<TxnWrite>(new TxnWriteImpl(this));
  }

  Status Compact(int64_t rev) override {
    assert(!in_txn_);
    if (!dead_.ok()) return dead_;
    ETCDPP_RETURN_IF_ERROR(DoCompact(rev));
    log_.push_back(Op{Op::kCompact, {}, {}, rev, 0});
    return Status::OK();
  }

  void SetConsistentIndex(uint64_t index, uint64_t term) override {
    ci_ = index;
    term_ = term;
    log_.push_back(Op{Op::kSetCI, {}, {}, static_cast<int64_t>(index), term});
  }

  Status PutMember(uint64_t id, std::string_view encoded) override {
    return AuxWrite(Op::kAuxPut, s_->dbs_.members, BE64(id), encoded);
  }
  Status DeleteMember(uint64_t id) override {
    return AuxWrite(Op::kAuxDel, s_->dbs_.members, BE64(id), {});
  }
  Status PutRemovedMember(uint64_t id) override {
    return AuxWrite(Op::kAuxPut, s_->dbs_.members_removed, BE64(id), {});
  }
  Result<std::vector<std::pair<uint64_t, std::string>>> Members() override {
    if (!dead_.ok()) return dead_;
    return ReadMembers(txn_.get(), s_->dbs_);
  }
  Result<std::vector<uint64_t>> RemovedMembers() override {
    if (!dead_.ok()) return dead_;
    return ReadRemovedMembers(txn_.get(), s_->dbs_);
  }
  Status PutLease(int64_t id, std::string_view encoded) override {
    return AuxWrite(Op::kAuxPut, s_->dbs_.lease, BE64(static_cast<uint64_t>(id)), encoded);
  }
  Status DeleteLease(int64_t id) override {
    return AuxWrite(Op::kAuxDel, s_->dbs_.lease, BE64(static_cast<uint64_t>(id)), {});
  }
  Result<std::vector<std::pair<int64_t, std::string>>> Leases() override {
    if (!dead_.ok()) return dead_;
    return ReadLeases(txn_.get(), s_->dbs_);
  }
  Status PutAlarm(std::string_view key) override {
    return AuxWrite(Op::kAuxPut, s_->dbs_.alarm, std::string(key), {});
  }
  Status DeleteAlarm(std::string_view key) override {
    return AuxWrite(Op::kAuxDel, s_->dbs_.alarm, std::string(key), {});
  }

  Status Commit() override {
    assert(!in_txn_ && "commit with an open TxnWrite");
    if (!dead_.ok()) return dead_;
    metrics::ScopedTimer commit_timer(metrics::Etcd().backend_commit_duration_seconds);
    for (;;) {
      int rc = WriteMetaAndCommit();
      if (rc == MDB_SUCCESS) break;
      if (rc != MDB_MAP_FULL) {
        dead_ = lmdb::ToStatus(rc, "commit");
        return dead_;
      }
      ReleaseTxn();
      if (!s_->GrowMap() || !ReplayAfterAbort(log_.size()).ok()) {
        dead_ = Status::ResourceExhausted(kErrNoSpace);
        return dead_;
      }
    }
    // Published only after the commit returned: readers of the atomics never
    // see a revision that an LMDB read txn could not.
    s_->ci_.store(ci_, std::memory_order_release);
    s_->term_.store(term_, std::memory_order_release);
    s_->compact_rev_.store(compact_rev_, std::memory_order_release);
    s_->current_rev_.store(rev_, std::memory_order_release);
    dead_ = Status::FailedPrecondition("mvcc: batch already committed");
    open_ = false;
    s_->batch_open_.store(false);  // the next BeginBatch may start now
    if (lock_.owns_lock()) lock_.unlock();
    return Status::OK();
  }

  // --- logical txn operations (via TxnWriteImpl) ---
  int64_t TxnRev() const { return begin_rev_ + (changes_.empty() ? 0 : 1); }
  int64_t CompactRevNow() const { return compact_rev_; }
  const std::vector<mvccpb::Event>& Changes() const { return changes_; }

  Result<RangeResult> TxnRange(std::string_view key, std::string_view end,
                               const RangeOptions& opts) {
    if (!txn_status_.ok()) return txn_status_;
    return Reader(txn_.get(), s_->dbs_).Range(key, end, opts, TxnRev(), compact_rev_);
  }

  Result<std::optional<mvccpb::KeyValue>> TxnPut(std::string_view key, std::string_view value,
                                                 int64_t lease) {
    if (!txn_status_.ok()) return txn_status_;
    std::optional<mvccpb::KeyValue> prev;
    Status st = Retry([&] { return DoPut(key, value, lease, &prev); });
    if (!st.ok()) return st;
    log_.push_back(Op{Op::kPut, std::string(key), std::string(value), lease, 0});
    return prev;
  }

  Result<std::vector<mvccpb::KeyValue>> TxnDelete(std::string_view key, std::string_view end) {
    if (!txn_status_.ok()) return txn_status_;
    std::vector<mvccpb::KeyValue> prev;
    Status st = Retry([&] { return DoDelete(key, end, &prev); });
    if (!st.ok()) return st;
    if (!prev.empty()) log_.push_back(Op{Op::kDelete, std::string(key), std::string(end), 0, 0});
    return prev;
  }

  Status TxnEnd() {
    Status st = txn_status_;
    if (st.ok()) {
      DoEnd();
      log_.push_back(Op{Op::kEnd, {}, {}, 0, 0});
    } else {
      in_txn_ = false;
      changes_.clear();
    }
    txn_status_ = Status::OK();
    return st;
  }

  // Undo the current txn's writes (it stays open).
  Status TxnAbort() {
    if (!txn_status_.ok()) return Status::OK();  // already rolled back by Retry
    if (!changes_.empty()) {
      Status st = ReplayAfterAbort(txn_log_start_ + 1);  // keeps this txn's kBegin
      if (!st.ok()) {
        dead_ = st;
        return st;
      }
    }
    log_.resize(txn_log_start_ + 1);
    return Status::OK();
  }

  // A TxnWrite dropped without End(): undo its writes by replaying the rest.
  void TxnDiscard() {
    if (!in_txn_) return;
    if (changes_.empty()) {
      log_.resize(txn_log_start_);
      in_txn_ = false;
      return;
    }
    if (!ReplayAfterAbort(txn_log_start_).ok()) dead_ = Status::Internal("mvcc: discard failed");
    in_txn_ = false;
  }

 private:
  struct Op {
    // kAuxPut/kAuxDel: a = key, b = value, m = the table's MDB_dbi.
    enum Kind { kBegin, kPut, kDelete, kEnd, kCompact, kSetCI, kAuxPut, kAuxDel } kind;
    std::string a, b;
    int64_t n = 0;
    uint64_t m = 0;
  };

  // A put/delete in a plain (unrevisioned) table, outside logical txns. Like
  // Retry, but there is no logical txn to fail: when the map cannot grow, the
  // batch is rebuilt without this write and the write fails.
  Status AuxWrite(Op::Kind kind, MDB_dbi dbi, const std::string& key, std::string_view value) {
    assert(!in_txn_ && "membership writes go between logical txns");
    if (!dead_.ok()) return dead_;
    for (;;) {
      map_full_ = false;
      Status st = DoAux(kind, dbi, key, value);
      if (st.ok()) {
        log_.push_back(Op{kind, key, std::string(value), 0, dbi});
        return st;
      }
      if (!map_full_) {
        dead_ = st;  // LMDB marks its txn failed on any other error
        return st;
      }
      ReleaseTxn();  // mdb_env_set_mapsize needs every txn of the process gone
      const bool grown = s_->GrowMap();
      Status rs = ReplayAfterAbort(log_.size());
      if (!rs.ok()) {
        dead_ = rs;
        return rs;
      }
      if (!grown) return Status::ResourceExhausted(kErrNoSpace);
    }
  }

  Status DoAux(Op::Kind kind, MDB_dbi dbi, std::string_view key, std::string_view value) {
    MDB_val k = Val(key), v = Val(value);
    if (kind == Op::kAuxPut) return Check(mdb_put(txn_.get(), dbi, &k, &v, 0), "put aux");
    int rc = mdb_del(txn_.get(), dbi, &k, nullptr);
    if (rc == MDB_NOTFOUND) return Status::OK();
    return Check(rc, "del aux");
  }

  void ResetState() {
    rev_ = s_->current_rev_.load();
    compact_rev_ = s_->compact_rev_.load();
    ci_ = s_->ci_.load();
    term_ = s_->term_.load();
    in_txn_ = false;
    changes_.clear();
    map_full_ = false;
  }

  Status Check(int rc, std::string_view what) {
    if (rc == MDB_MAP_FULL) map_full_ = true;
    return lmdb::ToStatus(rc, what);
  }

  // Runs op; on MAP_FULL grows the map, replays and retries. If the map is
  // at its maximum the current logical txn fails with "space exceeded".
  template <typename F>
  Status Retry(F op) {
    for (;;) {
      map_full_ = false;
      Status st = op();
      if (st.ok() || !map_full_) return st;
      ReleaseTxn();  // mdb_env_set_mapsize needs every txn of the process gone
      if (s_->GrowMap()) {
        ETCDPP_RETURN_IF_ERROR(ReplayAfterAbort(log_.size()));
        continue;
      }
      Status rs = ReplayAfterAbort(txn_log_start_);
      if (!rs.ok()) {
        dead_ = rs;
        return rs;
      }
      // The logical txn stays "open" but failed: End() reports the error.
      in_txn_ = true;
      begin_rev_ = rev_;
      txn_status_ = Status::ResourceExhausted(kErrNoSpace);
      return txn_status_;
    }
  }

  void ReleaseTxn() {
    txn_.Abort();
    if (lock_.owns_lock()) lock_.unlock();
  }

  // Aborts the LMDB txn and re-applies log_[0, upto) into a new one.
  Status ReplayAfterAbort(size_t upto) {
    ReleaseTxn();
    lock_ = std::shared_lock<std::shared_mutex>(s_->resize_mu_);
    ResetState();
    log_.resize(upto);
    int rc = lmdb::Txn::Begin(s_->env_, 0, &txn_);
    if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "begin write txn");
    for (const Op& op : log_) {
      Status st;
      switch (op.kind) {
        case Op::kBegin:
          DoBegin();
          break;
        case Op::kPut: {
          std::optional<mvccpb::KeyValue> prev;
          st = DoPut(op.a, op.b, op.n, &prev);
          break;
        }
        case Op::kDelete: {
          std::vector<mvccpb::KeyValue> prev;
          st = DoDelete(op.a, op.b, &prev);
          break;
        }
        case Op::kEnd:
          DoEnd();
          break;
        case Op::kCompact:
          st = DoCompact(op.n);
          break;
        case Op::kSetCI:
          ci_ = static_cast<uint64_t>(op.n);
          term_ = op.m;
          break;
        case Op::kAuxPut:
        case Op::kAuxDel:
          st = DoAux(op.kind, static_cast<MDB_dbi>(op.m), op.a, op.b);
          break;
      }
      if (!st.ok()) return st;  // the same ops fitted a smaller map before
    }
    return Status::OK();  // may end inside the current logical txn: it stays open
  }

  void DoBegin() {
    in_txn_ = true;
    begin_rev_ = rev_;
    changes_.clear();
    txn_status_ = Status::OK();
  }
  void DoEnd() {
    if (!changes_.empty()) rev_ = begin_rev_ + 1;
    in_txn_ = false;
    changes_.clear();
  }

  Status DoCompact(int64_t rev) {
    if (rev <= compact_rev_) return Status::OutOfRange(kErrCompacted);
    if (rev > rev_) return Status::OutOfRange(kErrFutureRev);
    compact_rev_ = rev;
    return Status::OK();
  }

  Status WriteIndex(const std::string& ik, const IndexEntry& e) {
    std::string ev = EncodeIndexEntry(e);
    MDB_val k = Val(ik), v = Val(ev);
    return Check(mdb_put(txn_.get(), s_->dbs_.index, &k, &v, 0), "put index");
  }

  // Revisions only grow, so the key db is written with MDB_APPEND (no search,
  // densely packed pages).
  Status WriteKey(const Revision& rev, bool tombstone, const mvccpb::KeyValue& kv) {
    std::string rk = EncodeRevision(rev, tombstone);
    std::string data = kv.SerializeAsString();
    MDB_val k = Val(rk), v = Val(data);
    return Check(mdb_put(txn_.get(), s_->dbs_.key, &k, &v, MDB_APPEND), "append key");
  }

  Status DoPut(std::string_view key, std::string_view value, int64_t lease,
               std::optional<mvccpb::KeyValue>* prev) {
    Reader r(txn_.get(), s_->dbs_);
    std::string ik;
    bool exists = false;
    ETCDPP_RETURN_IF_ERROR(r.ResolveIndexKey(key, &ik, &exists));
    const int64_t rev = begin_rev_ + 1;
    mvccpb::KeyValue kv;
    kv.set_key(std::string(key));
    kv.set_value(std::string(value));
    kv.set_lease(lease);
    kv.set_mod_revision(rev);
    kv.set_create_revision(rev);
    kv.set_version(1);
    if (exists) {
      auto e = r.EntryAt(ik, INT64_MAX);
      if (!e.ok()) return e.status();
      if (e->has_value() && !(*e)->tombstone) {
        mvccpb::KeyValue old;
        ETCDPP_RETURN_IF_ERROR(r.GetKV((*e)->rev, &old));
        kv.set_create_revision(old.create_revision());
        kv.set_version(old.version() + 1);
        *prev = std::move(old);
      }
    } else {
      MDB_val k = Val(ik), v = Val(key);
      ETCDPP_RETURN_IF_ERROR(
          Check(mdb_put(txn_.get(), s_->dbs_.longkey, &k, &v, 0), "put longkey"));
    }
    Revision rv{rev, static_cast<int64_t>(changes_.size())};
    ETCDPP_RETURN_IF_ERROR(WriteKey(rv, false, kv));
    ETCDPP_RETURN_IF_ERROR(WriteIndex(ik, IndexEntry{rv, false}));
    mvccpb::Event ev;
    ev.set_type(mvccpb::Event::PUT);
    *ev.mutable_kv() = std::move(kv);
    if (prev->has_value()) *ev.mutable_prev_kv() = **prev;
    changes_.push_back(std::move(ev));
    return Status::OK();
  }

  Status DoDelete(std::string_view key, std::string_view end, std::vector<mvccpb::KeyValue>* prev) {
    Reader r(txn_.get(), s_->dbs_);
    struct Victim {
      std::string index_key;
      mvccpb::KeyValue kv;
    };
    std::vector<Victim> victims;
    Status st;
    ETCDPP_RETURN_IF_ERROR(r.Scan(key, end, TxnRev(), [&](const ScanItem& it) {
      Victim vi{std::string(it.index_key), {}};
      st = r.GetKV(it.entry.rev, &vi.kv);
      if (!st.ok()) return false;
      victims.push_back(std::move(vi));
      return true;
    }));
    ETCDPP_RETURN_IF_ERROR(st);
    const int64_t rev = begin_rev_ + 1;
    for (Victim& vi : victims) {
      Revision rv{rev, static_cast<int64_t>(changes_.size())};
      mvccpb::KeyValue tomb;  // etcd stores a tombstone as KeyValue{key}
      tomb.set_key(vi.kv.key());
      ETCDPP_RETURN_IF_ERROR(WriteKey(rv, true, tomb));
      ETCDPP_RETURN_IF_ERROR(WriteIndex(vi.index_key, IndexEntry{rv, true}));
      mvccpb::Event ev;
      ev.set_type(mvccpb::Event::DELETE);
      tomb.set_mod_revision(rev);  // etcd's delete events carry the deleting revision
      *ev.mutable_kv() = std::move(tomb);
      *ev.mutable_prev_kv() = vi.kv;
      changes_.push_back(std::move(ev));
      prev->push_back(std::move(vi.kv));
    }
    return Status::OK();
  }

  int WriteMetaAndCommit() {
    int rc = MDB_SUCCESS;
    MDB_txn* t = txn_.get();
    MDB_dbi m = s_->dbs_.meta;
    // The consistent index lands in the same LMDB txn as the data it covers:
    // after a crash, LMDB and its applied index always agree (etcd #13766).
    if (!PutMetaU64(t, m, kMetaConsistentIndex, ci_, &rc).ok()) return rc;
    if (!PutMetaU64(t, m, kMetaTerm, term_, &rc).ok()) return rc;
    if (!PutMetaU64(t, m, kMetaCurrentRev, static_cast<uint64_t>(rev_), &rc).ok()) return rc;
    if (!PutMetaU64(t, m, kMetaScheduledCompact, static_cast<uint64_t>(compact_rev_), &rc).ok()) {
      return rc;
    }
    // The env runs with MDB_NOMETASYNC: this commit costs one fdatasync (data
    // pages); the meta page reaches disk with the next commit's sync. A power
    // loss can thus undo only this last batch, which the WAL (the client's
    // durability point) replays from the stored consistent index.
    // With Options.unsafe_no_fsync the env has MDB_NOSYNC: no sync at all.
    return txn_.Commit();
  }

  StoreImpl* s_;
  bool open_ = true;  // this batch holds the store's batch_open_ flag
  std::shared_lock<std::shared_mutex> lock_;
  lmdb::Txn txn_;
  Status dead_;
  std::vector<Op> log_;
  size_t txn_log_start_ = 0;
  bool map_full_ = false;
  // Batch state (mirrors the store's committed state plus this batch).
  int64_t rev_ = 1;
  int64_t compact_rev_ = 0;
  uint64_t ci_ = 0;
  uint64_t term_ = 0;
  // Current logical txn.
  bool in_txn_ = false;
  int64_t begin_rev_ = 0;
  std::vector<mvccpb::Event> changes_;
  Status txn_status_;
};

TxnWriteImpl::~TxnWriteImpl() {
  if (!ended_) b_->TxnDiscard();
}
Result<RangeResult> TxnWriteImpl::Range(std::string_view key, std::string_view end,
                                        const RangeOptions& opts) {
  ops_++;
  metrics::Etcd().mvcc_range_total.Inc();
  return b_->TxnRange(key, end, opts);
}
int64_t TxnWriteImpl::Rev() const {
  return b_->TxnRev();
}
int64_t TxnWriteImpl::CompactRev() const {
  return b_->CompactRevNow();
}
Result<std::optional<mvccpb::KeyValue>> TxnWriteImpl::Put(std::string_view key,
                                                          std::string_view value, int64_t lease) {
  ops_++;
  metrics::Etcd().mvcc_put_total.Inc();
  return b_->TxnPut(key, value, lease);
}
Result<std::vector<mvccpb::KeyValue>> TxnWriteImpl::DeleteRange(std::string_view key,
                                                                std::string_view end) {
  ops_++;
  metrics::Etcd().mvcc_delete_total.Inc();
  return b_->TxnDelete(key, end);
}
const std::vector<mvccpb::Event>& TxnWriteImpl::Changes() const {
  return b_->Changes();
}
Status TxnWriteImpl::Abort() {
  return b_->TxnAbort();
}
Status TxnWriteImpl::End() {
  assert(!ended_);
  ended_ = true;
  if (ops_ > 1) metrics::Etcd().mvcc_txn_total.Inc();
  return b_->TxnEnd();
}

// ---------------------------------------------------------------- Store

Status StoreImpl::OpenEnv(const std::string& dir, const Options& opts) {
  dir_ = dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::IOError("mvcc: create " + dir + ": " + ec.message());
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::IOError("mvcc: " + dir + " is not a directory");
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return Status::IOError("mvcc: chmod " + dir + ": " + std::strerror(errno));
  }
  // One process, one Store per environment: LMDB forbids opening an env
  // twice in a process, and two appliers would interleave revisions.
  lock_fd_ = ::open((dir + "/etcdpp.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) {
    return Status::IOError("mvcc: open lock file in " + dir + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Unavailable("mvcc: " + dir +
                               " is in use by another store (flock: " + std::strerror(errno) + ")");
  }
  max_map_size_ = opts.map_size_bytes;
  no_sync_ = opts.unsafe_no_fsync;
  size_t initial = std::min<size_t>(opts.map_size_bytes, opts.initial_map_size_bytes);
  // A defragmentation copy left by a crash: the rename never happened, so
  // data.mdb is the complete old file and the copy is garbage.
  ::unlink((dir + "/" + kDefragFile).c_str());
  ETCDPP_RETURN_IF_ERROR(OpenLmdb(initial));
  int dead = 0;
  mdb_reader_check(env_, &dead);  // reader slots left by crashed processes

  lmdb::Txn txn;
  int rc = lmdb::Txn::Begin(env_, MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "begin");
  auto cur = GetMetaU64(txn.get(), dbs_.meta, kMetaCurrentRev, 1);
  auto cmp = GetMetaU64(txn.get(), dbs_.meta, kMetaScheduledCompact, 0);
  auto fin = GetMetaU64(txn.get(), dbs_.meta, kMetaFinishedCompact, 0);
  auto ci = GetMetaU64(txn.get(), dbs_.meta, kMetaConsistentIndex, 0);
  auto term = GetMetaU64(txn.get(), dbs_.meta, kMetaTerm, 0);
  for (const auto* r : {&cur, &cmp, &fin, &ci, &term}) {
    if (!r->ok()) return r->status();
  }
  current_rev_ = static_cast<int64_t>(*cur);
  compact_rev_ = static_cast<int64_t>(*cmp);
  finished_compact_ = static_cast<int64_t>(*fin);
  ci_ = *ci;
  term_ = *term;
  return Status::OK();
}

Status StoreImpl::OpenLmdb(size_t initial) {
  int rc = mdb_env_create(&env_);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "env create");
  // An existing data file larger than the initial map: start at its size.
  struct stat st;
  if (::stat((dir_ + "/data.mdb").c_str(), &st) == 0) {
    initial = std::max<size_t>(initial, static_cast<size_t>(st.st_size));
  }
  if ((rc = mdb_env_set_maxdbs(env_, 16)) != MDB_SUCCESS ||
      (rc = mdb_env_set_maxreaders(env_, 1024)) != MDB_SUCCESS ||
      (rc = mdb_env_set_mapsize(env_, initial)) != MDB_SUCCESS) {
    return lmdb::ToStatus(rc, "env setup");
  }
  // MDB_NOTLS: read txns are not tied to threads (gRPC threads hand them around).
  unsigned flags = MDB_NOTLS | MDB_NOMETASYNC;
  if (no_sync_) flags |= MDB_NOSYNC;
  rc = mdb_env_open(env_, dir_.c_str(), flags, 0600);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "env open " + dir_);
  if (mdb_env_get_maxkeysize(env_) < static_cast<int>(kSurrogateBytes)) {
    return Status::Internal("mvcc: LMDB max key size too small for the index encoding");
  }
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  map_size_ = info.me_mapsize;

  lmdb::Txn txn;
  rc = lmdb::Txn::Begin(env_, 0, &txn);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "begin");
  if ((rc = mdb_dbi_open(txn.get(), "key", MDB_CREATE, &dbs_.key)) != MDB_SUCCESS ||
      (rc = mdb_dbi_open(txn.get(), "index", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
                         &dbs_.index)) != MDB_SUCCESS ||
      (rc = mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &dbs_.meta)) != MDB_SUCCESS ||
      (rc = mdb_dbi_open(txn.get(), "longkey", MDB_CREATE, &dbs_.longkey)) != MDB_SUCCESS ||
      // Added with cluster membership: MDB_CREATE makes older data dirs open fine.
      (rc = mdb_dbi_open(txn.get(), "members", MDB_CREATE, &dbs_.members)) != MDB_SUCCESS ||
      (rc = mdb_dbi_open(txn.get(), "members_removed", MDB_CREATE, &dbs_.members_removed)) !=
          MDB_SUCCESS ||
      // Added with leases: created in older data dirs too.
      (rc = mdb_dbi_open(txn.get(), "lease", MDB_CREATE, &dbs_.lease)) != MDB_SUCCESS ||
      // Added with alarms (maintenance): created in older data dirs too.
      (rc = mdb_dbi_open(txn.get(), "alarm", MDB_CREATE, &dbs_.alarm)) != MDB_SUCCESS) {
    return lmdb::ToStatus(rc, "open databases");
  }
  return lmdb::ToStatus(txn.Commit(), "commit open");
}

Result<std::unique_ptr<Batch>> StoreImpl::BeginBatch() {
  bool expected = false;
  if (!batch_open_.compare_exchange_strong(expected, true)) {
    return Status::FailedPrecondition("mvcc: a batch is already open");
  }
  MaybeGrowEarly();
  auto b = std::make_unique<BatchImpl>(this);
  ETCDPP_RETURN_IF_ERROR(b->Start());
  return std::unique_ptr<Batch>(std::move(b));
}

int64_t StoreImpl::DbSizeInUseBytes() const {
  auto* self = const_cast<StoreImpl*>(this);
  std::shared_lock<std::shared_mutex> lock = self->ReaderLock();
  lmdb::Txn txn;
  if (lmdb::Txn::Begin(env_, MDB_RDONLY, &txn) != MDB_SUCCESS) return 0;
  MDB_envinfo info;
  MDB_stat st;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &st);
  // Free pages: the free DB (dbi 0) holds lists of page numbers, each list
  // starting with its length.
  size_t free_pages = 0;
  lmdb::Cursor c;
  if (c.Open(txn.get(), 0) == MDB_SUCCESS) {
    MDB_val k, v;
    int rc = c.Get(&k, &v, MDB_FIRST);
    while (rc == MDB_SUCCESS) {
      if (v.mv_size >= sizeof(size_t)) {
        size_t n;
        std::memcpy(&n, v.mv_data, sizeof(n));
        free_pages += n;
      }
      rc = c.Get(&k, &v, MDB_NEXT);
    }
  }
  size_t total = info.me_last_pgno + 1;
  size_t used = total > free_pages ? total - free_pages : 0;
  return static_cast<int64_t>(used * st.ms_psize);
}

namespace {

// Opens an LMDB file written by SnapshotTo read-only, without a lock file.
Status OpenSnapshotEnv(const std::string& path, MDB_env** out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("mvcc: snapshot file " + path + ": " + std::strerror(errno));
  }
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "snapshot env create");
  if ((rc = mdb_env_set_maxdbs(env, 32)) != MDB_SUCCESS ||
      (rc = mdb_env_set_mapsize(env, static_cast<size_t>(st.st_size) + (1 << 20))) != MDB_SUCCESS ||
      (rc = mdb_env_open(env, path.c_str(), MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS,
                         0600)) != MDB_SUCCESS) {
    mdb_env_close(env);
    return Status::Corruption("mvcc: snapshot file " + path +
                              " is not a valid store: " + mdb_strerror(rc));
  }
  *out = env;
  return Status::OK();
}

// Names of the named databases (the main DB's keys).
Result<std::vector<std::string>> DbNames(MDB_txn* txn) {
  MDB_dbi main;
  int rc = mdb_dbi_open(txn, nullptr, 0, &main);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "open main db");
  std::vector<std::string> names;
  lmdb::Cursor c;
  if ((rc = c.Open(txn, main)) != MDB_SUCCESS) return lmdb::ToStatus(rc, "main db cursor");
  MDB_val k, v;
  for (rc = c.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.Get(&k, &v, MDB_NEXT)) {
    names.emplace_back(static_cast<const char*>(k.mv_data), k.mv_size);
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "scan main db");
  return names;
}

// Copies every record of every named database of `src` into `dst` (whose
// databases of the same names are emptied first; databases only `dst` has
// are emptied too). Returns the LMDB rc (MDB_MAP_FULL: grow and retry).
int CopyAll(MDB_txn* src, MDB_txn* dst) {
  auto src_names = DbNames(src);
  auto dst_names = DbNames(dst);
  if (!src_names.ok() || !dst_names.ok()) return MDB_CORRUPTED;
  for (const auto& name : *dst_names) {
    MDB_dbi d;
    int rc = mdb_dbi_open(dst, name.c_str(), 0, &d);
    if (rc == MDB_SUCCESS) rc = mdb_drop(dst, d, 0);
    if (rc != MDB_SUCCESS) return rc;
  }
  for (const auto& name : *src_names) {
    MDB_dbi s, d;
    unsigned flags = 0;
    int rc = mdb_dbi_open(src, name.c_str(), 0, &s);
    if (rc == MDB_SUCCESS) rc = mdb_dbi_flags(src, s, &flags);
    if (rc == MDB_SUCCESS) {
      rc = mdb_dbi_open(dst, name.c_str(),
                        MDB_CREATE | (flags & (MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERKEY |
                                               MDB_INTEGERDUP | MDB_REVERSEKEY | MDB_REVERSEDUP)),
                        &d);
    }
    if (rc != MDB_SUCCESS) return rc;
    lmdb::Cursor c;
    if ((rc = c.Open(src, s)) != MDB_SUCCESS) return rc;
    MDB_val k, v;
    // Source order is the destination's order: appending is exact and cheap.
    const unsigned put = (flags & MDB_DUPSORT) ? MDB_APPENDDUP : MDB_APPEND;
    for (rc = c.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.Get(&k, &v, MDB_NEXT)) {
      if ((rc = mdb_put(dst, d, &k, &v, put)) != MDB_SUCCESS) return rc;
    }
    if (rc != MDB_NOTFOUND) return rc;
  }
  return MDB_SUCCESS;
}

}  // namespace

Status StoreImpl::SnapshotTo(const std::string& path) {
  metrics::ScopedTimer t(metrics::Etcd().backend_snapshot_duration_seconds);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("mvcc: create " + path + ": " + std::strerror(errno));
  int rc;
  {
    // The copy runs in its own read txn: writers go on meanwhile.
    std::shared_lock<std::shared_mutex> lock = ReaderLock();
    rc = mdb_env_copyfd2(env_, fd, MDB_CP_COMPACT);
  }
  // The file is handed to a peer or kept for a restart: it must be complete
  // on disk before anyone relies on it.
  int sync_rc = rc == MDB_SUCCESS ? ::fsync(fd) : 0;
  int sync_errno = errno;
  ::close(fd);
  if (rc != MDB_SUCCESS) {
    ::unlink(path.c_str());
    return lmdb::ToStatus(rc, "snapshot copy to " + path);
  }
  if (sync_rc != 0) {
    ::unlink(path.c_str());
    return Status::IOError("mvcc: fsync " + path + ": " + std::strerror(sync_errno));
  }
  return Status::OK();
}

Status StoreImpl::RestoreFrom(const std::string& path) {
  assert(!batch_open_.load());
  MDB_env* src = nullptr;
  ETCDPP_RETURN_IF_ERROR(OpenSnapshotEnv(path, &src));
  struct CloseEnv {
    MDB_env* e;
    ~CloseEnv() { mdb_env_close(e); }
  } close_src{src};
  uint64_t cur = 1, cmp = 0, fin = 0, ci = 0, term = 0;
  for (;;) {
    int rc;
    {
      std::shared_lock<std::shared_mutex> lock(resize_mu_);
      lmdb::Txn stx, dtx;
      if ((rc = lmdb::Txn::Begin(src, MDB_RDONLY, &stx)) != MDB_SUCCESS) {
        return lmdb::ToStatus(rc, "snapshot read txn");
      }
      if ((rc = lmdb::Txn::Begin(env_, 0, &dtx)) != MDB_SUCCESS) {
        return lmdb::ToStatus(rc, "restore write txn");
      }
      rc = CopyAll(stx.get(), dtx.get());
      if (rc == MDB_SUCCESS) {
        auto c1 = GetMetaU64(dtx.get(), dbs_.meta, kMetaCurrentRev, 1);
        auto c2 = GetMetaU64(dtx.get(), dbs_.meta, kMetaScheduledCompact, 0);
        auto c3 = GetMetaU64(dtx.get(), dbs_.meta, kMetaFinishedCompact, 0);
        auto c4 = GetMetaU64(dtx.get(), dbs_.meta, kMetaConsistentIndex, 0);
        auto c5 = GetMetaU64(dtx.get(), dbs_.meta, kMetaTerm, 0);
        for (const auto* r : {&c1, &c2, &c3, &c4, &c5}) {
          if (!r->ok()) return r->status();
        }
        cur = *c1, cmp = *c2, fin = *c3, ci = *c4, term = *c5;
        rc = dtx.Commit();
      }
    }
    if (rc == MDB_SUCCESS) break;
    if (rc != MDB_MAP_FULL) return lmdb::ToStatus(rc, "restore from " + path);
    if (!GrowMap()) return Status::ResourceExhausted(kErrNoSpace);
  }
  // Durable before the caller deletes the snapshot file it came from.
  ETCDPP_RETURN_IF_ERROR(Sync());
  current_rev_.store(static_cast<int64_t>(cur), std::memory_order_release);
  compact_rev_.store(static_cast<int64_t>(cmp), std::memory_order_release);
  finished_compact_ = static_cast<int64_t>(fin);
  ci_.store(ci, std::memory_order_release);
  term_.store(term, std::memory_order_release);
  return Status::OK();
}

Status StoreImpl::Sync() {
  // Called from the raft loop's thread: the shared lock keeps a Defrag from
  // swapping the environment under it.
  std::shared_lock<std::shared_mutex> lock = ReaderLock();
  int rc = mdb_env_sync(env_, 1);
  return lmdb::ToStatus(rc, "env sync");
}

// Physical compaction to the scheduled revision C: for every index key, drop
// the writes older than its newest write <= C, and that one too if it is a
// tombstone (etcd keyIndex.compact), with their `key` rows. Runs in chunks of
// kCompactionChunkKeys index keys, each chunk its own write txn (committed
// like a batch: one fdatasync; a crash mid-way just redoes the work, which is
// idempotent, because finishedCompactRev is written last).
Status StoreImpl::RunCompaction() {
  for (;;) {
    auto r = CompactionStep();
    if (!r.ok()) return r.status();
    if (*r) return Status::OK();
  }
}

Result<bool> StoreImpl::CompactionStep() {
  const int64_t target = compact_rev_.load();
  if (finished_compact_ >= target) return true;
  if (batch_open_.load()) {
    // LMDB has one writer: a second write txn on this thread would deadlock.
    return Status::FailedPrecondition("mvcc: compaction while a batch is open");
  }
  if (target != comp_target_) {
    // A newer Compact arrived between steps: start over (keys already passed
    // were only compacted to the older revision).
    comp_target_ = target;
    comp_resume_.clear();
  }
  std::string& resume = comp_resume_;  // first index key of the next chunk ("" = start)
  bool done = false;
  while (!done) {
    std::shared_lock<std::shared_mutex> lock(resize_mu_);
    lmdb::Txn txn;
    int rc = lmdb::Txn::Begin(env_, 0, &txn);
    if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "begin compaction txn");
    // 1. Collect this chunk's index keys.
    std::vector<std::string> keys;
    {
      lmdb::Cursor c;
      if ((rc = c.Open(txn.get(), dbs_.index)) != MDB_SUCCESS) return lmdb::ToStatus(rc, "cursor");
      MDB_val k = Val(resume), v;
      rc = c.Get(&k, &v, resume.empty() ? MDB_FIRST : MDB_SET_RANGE);
      while (rc == MDB_SUCCESS && keys.size() <= kCompactionChunkKeys) {
        keys.emplace_back(View(k));
        rc = c.Get(&k, &v, MDB_NEXT_NODUP);
      }
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "compaction scan");
    }
    if (keys.size() > kCompactionChunkKeys) {
      resume = keys.back();
      keys.pop_back();
    } else {
      done = true;
    }
    // 2. Compact each key.
    bool full = false;
    for (const std::string& ik : keys) {
      std::vector<IndexEntry> entries;
      {
        lmdb::Cursor c;
        if ((rc = c.Open(txn.get(), dbs_.index)) != MDB_SUCCESS)
          return lmdb::ToStatus(rc, "cursor");
        MDB_val k = Val(ik), v;
        rc = c.Get(&k, &v, MDB_SET);
        while (rc == MDB_SUCCESS) {
          IndexEntry e = DecodeIndexEntry(View(v));
          if (e.rev.main > target) break;
          entries.push_back(e);
          rc = c.Get(&k, &v, MDB_NEXT_DUP);
        }
      }
      if (entries.empty()) continue;
      size_t drop = entries.size() - 1;                     // keep the newest <= target ...
      if (entries.back().tombstone) drop = entries.size();  // ... unless it is a tombstone
      for (size_t i = 0; i < drop && !full; ++i) {
        std::string ev = EncodeIndexEntry(entries[i]);
        std::string rk = EncodeRevision(entries[i].rev, entries[i].tombstone);
        MDB_val k = Val(ik), v = Val(ev), kk = Val(rk);
        rc = mdb_del(txn.get(), dbs_.index, &k, &v);
        if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND)
          rc = mdb_del(txn.get(), dbs_.key, &kk, nullptr);
        if (rc == MDB_NOTFOUND) rc = MDB_SUCCESS;
        if (rc == MDB_MAP_FULL)
          full = true;
        else if (rc != MDB_SUCCESS)
          return lmdb::ToStatus(rc, "compaction delete");
      }
      if (full) break;
      if (IsSurrogate(ik) && drop == entries.size()) {
        // Key gone from the index? Free its longkey slot unless the next slot
        // is taken (it might continue a probe chain through this one).
        MDB_val k = Val(ik), v;
        if (mdb_get(txn.get(), dbs_.index, &k, &v) == MDB_NOTFOUND) {
          std::string next = ik.substr(0, kShortKeyMax + 1) + BE64(SurrogateHash(ik) + 1);
          MDB_val nk = Val(next), nv;
          if (mdb_get(txn.get(), dbs_.longkey, &nk, &nv) == MDB_NOTFOUND) {
            k = Val(ik);
            rc = mdb_del(txn.get(), dbs_.longkey, &k, nullptr);
            if (rc == MDB_MAP_FULL)
              full = true;
            else if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
              return lmdb::ToStatus(rc, "del longkey");
          }
        }
      }
      if (full) break;
    }
    if (!full && done) {
      std::string v = BE64(static_cast<uint64_t>(target));
      MDB_val k = Val(kMetaFinishedCompact), d = Val(v);
      rc = mdb_put(txn.get(), dbs_.meta, &k, &d, 0);
      if (rc == MDB_MAP_FULL)
        full = true;
      else if (rc != MDB_SUCCESS)
        return lmdb::ToStatus(rc, "put meta");
    }
    if (!full) {
      rc = txn.Commit();  // one fdatasync (MDB_NOMETASYNC), see WriteMetaAndCommit
      if (rc == MDB_MAP_FULL)
        full = true;
      else if (rc != MDB_SUCCESS)
        return lmdb::ToStatus(rc, "commit compaction");
    }
    if (full) {
      // Copy-on-write deletes need pages too: grow and redo this chunk.
      txn.Abort();
      lock.unlock();
      if (!GrowMap()) return Status::ResourceExhausted(kErrNoSpace);
      done = false;
      if (!keys.empty()) resume = keys.front();
      continue;
    }
    if (!done) return false;  // one chunk per step: the applier interleaves batches
  }
  finished_compact_ = target;
  resume.clear();
  return true;
}

Result<HashKVResult> StoreImpl::HashKV(int64_t rev) {
  std::shared_lock<std::shared_mutex> lock = ReaderLock();
  lmdb::Txn txn;
  int rc = lmdb::Txn::Begin(env_, MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "begin read txn");
  auto cur_r = GetMetaU64(txn.get(), dbs_.meta, kMetaCurrentRev, 1);
  if (!cur_r.ok()) return cur_r.status();
  auto cmp_r = GetMetaU64(txn.get(), dbs_.meta, kMetaScheduledCompact, 0);
  if (!cmp_r.ok()) return cmp_r.status();
  const int64_t cur = static_cast<int64_t>(*cur_r);
  const int64_t compact = static_cast<int64_t>(*cmp_r);
  if (rev > cur) return Status::OutOfRange(kErrFutureRev);
  if (rev <= 0) rev = cur;
  if (rev < compact) return Status::OutOfRange(kErrCompacted);
  Reader r(txn.get(), dbs_);
  // Rows at or below the compact revision count only if they are a key's
  // live version at `rev` (etcd: kvindex.Keep(rev)). With no key live at rev
  // etcd hashes whatever physical compaction left, i.e. the versions live at
  // the compact revision: use that set, whether or not compaction has run.
  bool any_live = false;
  ETCDPP_RETURN_IF_ERROR(
      r.Scan(std::string_view("\0", 1), std::string_view("\0", 1), rev, [&](const ScanItem&) {
        any_live = true;
        return false;
      }));
  const int64_t keep_at = any_live ? rev : compact;
  // etcd seeds the CRC with the bucket's name: same value for the same history.
  uint32_t crc = crc32c::Value("key");
  lmdb::Cursor c;
  if ((rc = c.Open(txn.get(), dbs_.key)) != MDB_SUCCESS) return lmdb::ToStatus(rc, "cursor");
  MDB_val k, v;
  rc = c.Get(&k, &v, MDB_FIRST);
  while (rc == MDB_SUCCESS) {
    std::string_view rk = View(k), val = View(v);
    Revision rv = DecodeRevision(rk);
    if (rv.main > rev) break;
    bool keep = true;
    if (rv.main <= compact) {
      // Only what compaction keeps counts, whether or not it already ran.
      mvccpb::KeyValue kv;
      if (!kv.ParseFromArray(val.data(), static_cast<int>(val.size()))) {
        return Status::Corruption("mvcc: unparsable KeyValue");
      }
      std::string ik;
      bool exists = false;
      ETCDPP_RETURN_IF_ERROR(r.ResolveIndexKey(kv.key(), &ik, &exists));
      auto e = r.EntryAt(ik, keep_at);
      if (!e.ok()) return e.status();
      keep = e->has_value() && !(*e)->tombstone && (*e)->rev == rv;
    }
    if (keep) {
      crc = crc32c::Extend(crc, rk.data(), rk.size());
      crc = crc32c::Extend(crc, val.data(), val.size());
    }
    rc = c.Get(&k, &v, MDB_NEXT);
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "hash scan");
  return HashKVResult{crc, compact, rev};
}

Result<HashResult> StoreImpl::Hash() {
  std::shared_lock<std::shared_mutex> lock = ReaderLock();
  lmdb::Txn txn;
  int rc = lmdb::Txn::Begin(env_, MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "begin read txn");
  auto cur = GetMetaU64(txn.get(), dbs_.meta, kMetaCurrentRev, 1);
  if (!cur.ok()) return cur.status();
  auto names = DbNames(txn.get());  // in LMDB's (memcmp) order, as bbolt orders buckets
  if (!names.ok()) return names.status();
  uint32_t crc = 0;
  for (const std::string& name : *names) {
    MDB_dbi dbi;
    // Every table was opened by OpenLmdb: this returns its existing handle.
    if ((rc = mdb_dbi_open(txn.get(), name.c_str(), 0, &dbi)) != MDB_SUCCESS) {
      return lmdb::ToStatus(rc, "open " + name);
    }
    crc = crc32c::Extend(crc, name.data(), name.size());
    const bool meta = dbi == dbs_.meta;
    lmdb::Cursor c;
    if ((rc = c.Open(txn.get(), dbi)) != MDB_SUCCESS) return lmdb::ToStatus(rc, "cursor");
    MDB_val k, v;
    for (rc = c.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.Get(&k, &v, MDB_NEXT)) {
      std::string_view kv = View(k);
      // Raft bookkeeping differs between members at the same data (etcd
      // ignores the same two keys).
      if (meta && (kv == kMetaConsistentIndex || kv == kMetaTerm)) continue;
      crc = crc32c::Extend(crc, k.mv_data, k.mv_size);
      crc = crc32c::Extend(crc, v.mv_data, v.mv_size);
    }
    if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "hash scan " + name);
  }
  return HashResult{crc, static_cast<int64_t>(*cur)};
}

Status StoreImpl::Defrag() {
  if (batch_open_.load()) {
    return Status::FailedPrecondition("mvcc: defragment while a batch is open");
  }
  const std::string copy = dir_ + "/" + kDefragFile;
  const std::string data = dir_ + "/data.mdb";
  ::unlink(copy.c_str());
  // 1. The compacting copy, in a read txn: readers go on; no writer can run
  //    (the caller is the writer thread), so the copy is the current state.
  //    SnapshotTo fsyncs it before returning.
  ETCDPP_RETURN_IF_ERROR(SnapshotTo(copy));
  // 2. The swap. New readers queue on grow_mu_ (as for GrowMap); the
  //    exclusive lock waits for every live read txn of the old environment.
  std::lock_guard<std::timed_mutex> gate(grow_mu_);
  growing_.store(true);
  struct Reset {
    std::atomic<bool>* f;
    ~Reset() { f->store(false); }
  } reset{&growing_};
  std::unique_lock<std::shared_mutex> lock(resize_mu_);
  // Everything committed is in the copy; syncing the old file first keeps
  // the old file valid for the (crash) case that the rename is lost.
  mdb_env_sync(env_, 1);
  mdb_env_close(env_);
  env_ = nullptr;
  if (::rename(copy.c_str(), data.c_str()) != 0) {
    int err = errno;
    ::unlink(copy.c_str());
    Status reopen = OpenLmdb(map_size_);
    if (!reopen.ok()) {
      return Status::Internal("mvcc: reopen after a failed defrag: " + reopen.message());
    }
    return Status::IOError("mvcc: defrag rename " + copy + ": " + std::strerror(err));
  }
  // The rename must be durable before anything is written to the new file:
  // otherwise a crash could bring back the old file without those writes
  // (the WAL would replay them, but only from the old consistent index).
  int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    if (!no_sync_) ::fsync(dfd);
    ::close(dfd);
  }
  Status st = OpenLmdb(map_size_);
  if (!st.ok()) return Status::Internal("mvcc: reopen after defrag: " + st.message());
  return Status::OK();
}

}  // namespace

Result<SnapshotFileInfo> InspectSnapshotFile(const std::string& path) {
  MDB_env* env = nullptr;
  ETCDPP_RETURN_IF_ERROR(OpenSnapshotEnv(path, &env));
  struct CloseEnv {
    MDB_env* e;
    ~CloseEnv() { mdb_env_close(e); }
  } close_env{env};
  lmdb::Txn txn;
  int rc = lmdb::Txn::Begin(env, MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "snapshot read txn");
  MDB_dbi meta;
  if ((rc = mdb_dbi_open(txn.get(), "meta", 0, &meta)) != MDB_SUCCESS) {
    return Status::Corruption("mvcc: snapshot file " + path + " has no meta table");
  }
  SnapshotFileInfo info;
  ETCDPP_ASSIGN_OR_RETURN(info.consistent_index,
                          GetMetaU64(txn.get(), meta, kMetaConsistentIndex, 0));
  ETCDPP_ASSIGN_OR_RETURN(info.term, GetMetaU64(txn.get(), meta, kMetaTerm, 0));
  ETCDPP_ASSIGN_OR_RETURN(uint64_t rev, GetMetaU64(txn.get(), meta, kMetaCurrentRev, 1));
  info.revision = static_cast<int64_t>(rev);
  MDB_dbi members;
  if (mdb_dbi_open(txn.get(), "members", 0, &members) == MDB_SUCCESS) {
    lmdb::Cursor c;
    if ((rc = c.Open(txn.get(), members)) != MDB_SUCCESS) return lmdb::ToStatus(rc, "cursor");
    MDB_val k, v;
    for (rc = c.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.Get(&k, &v, MDB_NEXT)) {
      if (k.mv_size != 8) return Status::Corruption("mvcc: bad member key in " + path);
      uint64_t id = 0;
      for (size_t i = 0; i < 8; i++)
        id = (id << 8) | static_cast<const unsigned char*>(k.mv_data)[i];
      info.members.emplace_back(id, std::string(static_cast<const char*>(v.mv_data), v.mv_size));
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) info.size_bytes = static_cast<int64_t>(st.st_size);
  return info;
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir, const Options& opts) {
  auto s = std::make_unique<StoreImpl>();
  ETCDPP_RETURN_IF_ERROR(s->OpenEnv(dir, opts));
  return std::unique_ptr<Store>(std::move(s));
}

}  // namespace etcdpp::mvcc
