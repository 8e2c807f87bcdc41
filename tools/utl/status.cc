#include "tools/utl/status.h"

#include <lmdb.h>

#include "bbolt/etcd_backend.h"
#include "common/crc32c.h"
#include "mvcc/lmdb.h"
#include "mvcc/reader.h"
#include "mvcc/revision.h"
#include "server/version.h"
#include "tools/utl/store_edit.h"

namespace etcdpp::utl {
namespace {

Result<DbStatus> BboltStatus(std::string_view payload) {
  ETCDPP_ASSIGN_OR_RETURN(bbolt::Db db, bbolt::Db::Open(payload));
  DbStatus ds;
  ds.total_size = static_cast<int64_t>(db.SizeBytes());
  if (auto v = db.Get("meta", "storageVersion"); v.ok()) ds.version = *v;
  uint32_t crc = 0;
  ETCDPP_ASSIGN_OR_RETURN(auto buckets, db.Buckets());
  for (const auto& name : buckets) {
    crc = crc32c::Extend(crc, name.data(), name.size());
    const bool is_key = name == "key";
    ETCDPP_RETURN_IF_ERROR(
        db.ForEach(name, [&](std::string_view k, std::string_view v, bool is_bucket) -> Status {
          crc = crc32c::Extend(crc, k.data(), k.size());
          // bbolt's ForEach hands a nested bucket's value as nil.
          if (!is_bucket) crc = crc32c::Extend(crc, v.data(), v.size());
          if (is_key) {
            if (k.size() < mvcc::kRevBytes) return Status::Corruption("bad revision key");
            ds.revision = mvcc::DecodeRevision(k).main;
          }
          ds.total_key++;
          return Status::OK();
        }));
  }
  ds.hash = crc;
  return ds;
}

Result<DbStatus> LmdbStatus(const std::string& path) {
  ETCDPP_ASSIGN_OR_RETURN(auto env, RawEnv::OpenFile(path));
  mvcc::lmdb::Txn txn;
  int rc = mvcc::lmdb::Txn::Begin(env->get(), MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) return mvcc::lmdb::ToStatus(rc, "read txn");
  DbStatus ds;
  MDB_envinfo info;
  MDB_stat est;
  mdb_env_info(env->get(), &info);
  mdb_env_stat(env->get(), &est);
  ds.total_size = static_cast<int64_t>((info.me_last_pgno + 1) * est.ms_psize);
  ETCDPP_ASSIGN_OR_RETURN(auto names, DbNames(txn.get()));
  uint32_t crc = 0;
  for (const auto& name : names) {
    MDB_dbi dbi;
    if ((rc = mdb_dbi_open(txn.get(), name.c_str(), 0, &dbi)) != MDB_SUCCESS) {
      return mvcc::lmdb::ToStatus(rc, "open table " + name);
    }
    crc = crc32c::Extend(crc, name.data(), name.size());
    mvcc::lmdb::Cursor c;
    if ((rc = c.Open(txn.get(), dbi)) != MDB_SUCCESS) return mvcc::lmdb::ToStatus(rc, "cursor");
    MDB_val k, v;
    for (rc = c.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.Get(&k, &v, MDB_NEXT)) {
      crc = crc32c::Extend(crc, k.mv_data, k.mv_size);
      crc = crc32c::Extend(crc, v.mv_data, v.mv_size);
      ds.total_key++;
    }
    if (rc != MDB_NOTFOUND) return mvcc::lmdb::ToStatus(rc, "scan " + name);
    if (name == "meta") {
      ETCDPP_ASSIGN_OR_RETURN(uint64_t cur,
                              mvcc::GetMetaU64(txn.get(), dbi, mvcc::kMetaCurrentRev, 1));
      ds.revision = static_cast<int64_t>(cur);
      MDB_val key = mvcc::lmdb::Val("storageVersion"), val;
      if (mdb_get(txn.get(), dbi, &key, &val) == MDB_SUCCESS) {
        ds.version = std::string(mvcc::lmdb::View(val));
      }
    }
  }
  // An etcdpp store always has the storage version this build writes (the
  // store does not record it yet).
  if (ds.version.empty()) ds.version = server::kStorageVersion;
  ds.hash = crc;
  return ds;
}

}  // namespace

Result<DbStatus> SnapshotStatus(const SnapshotFile& f) {
  switch (f.format) {
    case SnapshotFormat::kBbolt:
      return BboltStatus(f.payload);
    case SnapshotFormat::kLmdb:
      return LmdbStatus(f.path);
    default:
      return Status::InvalidArgument("file " + f.path +
                                     " is neither an etcdpp (LMDB) nor an etcd (bbolt) snapshot");
  }
}

Result<DbStatus> SnapshotStatus(const std::string& path) {
  ETCDPP_ASSIGN_OR_RETURN(SnapshotFile f, OpenSnapshotFile(path));
  return SnapshotStatus(f);
}

}  // namespace etcdpp::utl
