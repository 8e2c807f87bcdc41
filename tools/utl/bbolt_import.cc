#include "tools/utl/bbolt_import.h"

#include <sys/stat.h>

#include <algorithm>

#include "bbolt/etcd_backend.h"
#include "lease/lessor.h"
#include "mvcc/index_codec.h"
#include "mvcc/lmdb.h"
#include "mvcc/reader.h"
#include "mvcc/store.h"
#include "tools/utl/store_edit.h"

namespace etcdpp::utl {

using mvcc::lmdb::ToStatus;
using mvcc::lmdb::Val;

namespace {

// Rows per LMDB write txn: bounds the txn's dirty pages (LMDB caps them).
constexpr int64_t kRowsPerTxn = 20000;

class Importer {
 public:
  Importer(MDB_env* env, const mvcc::Dbs& dbs) : env_(env), dbs_(dbs) {}

  Status Begin() { return ToStatus(mvcc::lmdb::Txn::Begin(env_, 0, &txn_), "begin"); }
  Status Commit() { return ToStatus(txn_.Commit(), "commit"); }
  MDB_txn* txn() { return txn_.get(); }

  Status AddRow(const bbolt::EtcdKeyRow& row, ImportStats* stats) {
    if (row.main < last_main_) return Status::Corruption("etcd backend: key rows out of order");
    last_main_ = row.main;
    MDB_val k = Val(row.raw_key), v = Val(row.raw_value);
    // Revision order is the bbolt bucket's order: append.
    int rc = mdb_put(txn_.get(), dbs_.key, &k, &v, MDB_APPEND);
    if (rc != MDB_SUCCESS) return ToStatus(rc, "put key row");
    mvcc::Reader r(txn_.get(), dbs_);
    std::string ik;
    bool exists = false;
    ETCDPP_RETURN_IF_ERROR(r.ResolveIndexKey(row.kv.key(), &ik, &exists));
    if (!exists) {
      MDB_val lk = Val(ik), lv = Val(row.kv.key());
      if ((rc = mdb_put(txn_.get(), dbs_.longkey, &lk, &lv, MDB_NOOVERWRITE)) != MDB_SUCCESS) {
        return ToStatus(rc, "put longkey");
      }
      stats->long_keys++;
    }
    const std::string entry =
        mvcc::EncodeIndexEntry({mvcc::Revision{row.main, row.sub}, row.tombstone});
    MDB_val ixk = Val(ik), ixv = Val(entry);
    if ((rc = mdb_put(txn_.get(), dbs_.index, &ixk, &ixv, 0)) != MDB_SUCCESS) {
      return ToStatus(rc, "put index");
    }
    stats->key_rows++;
    if (row.tombstone) stats->tombstones++;
    if (++rows_in_txn_ >= kRowsPerTxn) {
      ETCDPP_RETURN_IF_ERROR(Commit());
      ETCDPP_RETURN_IF_ERROR(Begin());
      rows_in_txn_ = 0;
    }
    return Status::OK();
  }

  int64_t last_main() const { return last_main_; }

 private:
  MDB_env* env_;
  mvcc::Dbs dbs_;
  mvcc::lmdb::Txn txn_;
  int64_t last_main_ = 0;
  int64_t rows_in_txn_ = 0;
};

Status PutMeta(MDB_txn* txn, MDB_dbi meta, std::string_view name, uint64_t value) {
  const std::string v = mvcc::BE64(value);
  MDB_val k = Val(name), d = Val(v);
  return ToStatus(mdb_put(txn, meta, &k, &d, 0), "put meta");
}

Status CopyRawBucket(const bbolt::Db& db, const std::string& name, MDB_txn* txn) {
  MDB_dbi dbi;
  int rc = mdb_dbi_open(txn, name.c_str(), MDB_CREATE, &dbi);
  if (rc != MDB_SUCCESS) return ToStatus(rc, "create table " + name);
  return db.ForEach(name, [&](std::string_view k, std::string_view v, bool is_bucket) -> Status {
    if (is_bucket) return Status::Corruption("etcd backend: nested bucket in " + name);
    MDB_val key = Val(k), val = Val(v);
    return ToStatus(mdb_put(txn, dbi, &key, &val, 0), "put " + name);
  });
}

}  // namespace

Status ImportBbolt(const bbolt::Db& db, const std::string& db_dir, ImportStats* stats) {
  *stats = ImportStats{};
  ETCDPP_ASSIGN_OR_RETURN(bbolt::EtcdMeta meta, bbolt::ReadEtcdMeta(db));
  ETCDPP_ASSIGN_OR_RETURN(auto leases, bbolt::ReadEtcdLeases(db));
  {
    // Let the store create its environment and tables (names and flags are its business).
    struct stat st {};
    if (::stat((db_dir + "/data.mdb").c_str(), &st) == 0) {
      return Status::FailedPrecondition("a store already exists in " + db_dir);
    }
    ETCDPP_ASSIGN_OR_RETURN(auto store, mvcc::Store::Open(db_dir));
  }
  // Room for the rows, the index and LMDB's overhead; virtual until written.
  const uint64_t map = std::max<uint64_t>(8ull << 30, db.SizeBytes() * 4);
  ETCDPP_ASSIGN_OR_RETURN(auto env, RawEnv::OpenDir(db_dir, map));
  mvcc::Dbs dbs;
  {
    mvcc::lmdb::Txn t;
    int rc = mvcc::lmdb::Txn::Begin(env->get(), 0, &t);
    if (rc == MDB_SUCCESS) rc = mdb_dbi_open(t.get(), "key", 0, &dbs.key);
    if (rc == MDB_SUCCESS)
      rc = mdb_dbi_open(t.get(), "index", MDB_DUPSORT | MDB_DUPFIXED, &dbs.index);
    if (rc == MDB_SUCCESS) rc = mdb_dbi_open(t.get(), "meta", 0, &dbs.meta);
    if (rc == MDB_SUCCESS) rc = mdb_dbi_open(t.get(), "longkey", 0, &dbs.longkey);
    if (rc == MDB_SUCCESS) rc = mdb_dbi_open(t.get(), "lease", 0, &dbs.lease);
    if (rc == MDB_SUCCESS) rc = t.Commit();
    if (rc != MDB_SUCCESS) return ToStatus(rc, "open store tables");
  }
  Importer im(env->get(), dbs);
  ETCDPP_RETURN_IF_ERROR(im.Begin());
  ETCDPP_RETURN_IF_ERROR(bbolt::ForEachEtcdKey(
      db, [&](const bbolt::EtcdKeyRow& row) { return im.AddRow(row, stats); }));

  // etcd: the current revision is the last row's, at least the compacted one;
  // an empty store is at 1.
  const int64_t compact = std::max<int64_t>(meta.scheduled_compact_rev, 0);
  stats->current_rev = std::max<int64_t>({im.last_main(), compact, 1});
  stats->compact_rev = compact;
  MDB_txn* t = im.txn();
  ETCDPP_RETURN_IF_ERROR(
      PutMeta(t, dbs.meta, mvcc::kMetaCurrentRev, static_cast<uint64_t>(stats->current_rev)));
  ETCDPP_RETURN_IF_ERROR(
      PutMeta(t, dbs.meta, mvcc::kMetaScheduledCompact, static_cast<uint64_t>(compact)));
  ETCDPP_RETURN_IF_ERROR(PutMeta(
      t, dbs.meta, mvcc::kMetaFinishedCompact,
      static_cast<uint64_t>(std::max<int64_t>(std::min(meta.finished_compact_rev, compact), 0))));
  for (const auto& l : leases) {
    const std::string k = mvcc::BE64(static_cast<uint64_t>(l.id));
    const std::string v = lease::Lessor::EncodeRow(l.ttl, l.remaining_ttl);
    MDB_val mk = Val(k), mv = Val(v);
    int rc = mdb_put(t, dbs.lease, &mk, &mv, 0);
    if (rc != MDB_SUCCESS) return ToStatus(rc, "put lease");
    stats->leases++;
  }
  for (const auto& name : bbolt::EtcdAuthBuckets(db)) {
    ETCDPP_RETURN_IF_ERROR(CopyRawBucket(db, name, t));
    stats->raw_tables.push_back(name);
  }
  ETCDPP_RETURN_IF_ERROR(im.Commit());
  // One forced sync for the whole import (each commit above synced too; the
  // meta page may lag with MDB_NOMETASYNC-style settings).
  return ToStatus(mdb_env_sync(env->get(), 1), "sync");
}

}  // namespace etcdpp::utl
