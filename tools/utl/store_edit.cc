#include "tools/utl/store_edit.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mvcc/lmdb.h"
#include "mvcc/reader.h"
#include "mvcc/revision.h"

namespace etcdpp::utl {

using mvcc::lmdb::ToStatus;
using mvcc::lmdb::Val;

namespace {

constexpr unsigned kMaxDbs = 32;  // the store opens 16; leave room for tables it does not know

}  // namespace

Result<std::unique_ptr<RawEnv>> RawEnv::OpenFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return Status::NotFound("stat " + path + ": " + std::strerror(errno));
  }
  std::unique_ptr<RawEnv> e(new RawEnv());
  int rc = mdb_env_create(&e->env_);
  if (rc != MDB_SUCCESS) return ToStatus(rc, "env create");
  if ((rc = mdb_env_set_maxdbs(e->env_, kMaxDbs)) != MDB_SUCCESS ||
      (rc = mdb_env_set_mapsize(e->env_, static_cast<size_t>(st.st_size) + (1 << 20))) !=
          MDB_SUCCESS ||
      (rc = mdb_env_open(e->env_, path.c_str(), MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK | MDB_NOTLS,
                         0600)) != MDB_SUCCESS) {
    return Status::Corruption("snapshot file " + path +
                              " is not a valid etcdpp store: " + mdb_strerror(rc));
  }
  return e;
}

Result<std::unique_ptr<RawEnv>> RawEnv::OpenDir(const std::string& dir, uint64_t map_size_bytes) {
  std::unique_ptr<RawEnv> e(new RawEnv());
  const std::string data = dir + "/data.mdb";
  struct stat st {};
  if (::stat(data.c_str(), &st) != 0) {
    return Status::NotFound("cannot open database at " + dir + ": " + std::strerror(errno));
  }
  e->lock_fd_ = ::open((dir + "/etcdpp.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (e->lock_fd_ < 0) {
    return Status::IOError("open lock file in " + dir + ": " + std::strerror(errno));
  }
  if (::flock(e->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::Unavailable("database " + dir +
                               " is in use (is etcdpp running on this data dir?)");
  }
  int rc = mdb_env_create(&e->env_);
  if (rc != MDB_SUCCESS) return ToStatus(rc, "env create");
  const uint64_t map =
      std::max<uint64_t>({map_size_bytes, static_cast<uint64_t>(st.st_size) * 2, 64ull << 20});
  if ((rc = mdb_env_set_maxdbs(e->env_, kMaxDbs)) != MDB_SUCCESS ||
      (rc = mdb_env_set_mapsize(e->env_, map)) != MDB_SUCCESS ||
      (rc = mdb_env_open(e->env_, dir.c_str(), MDB_NOTLS, 0600)) != MDB_SUCCESS) {
    return ToStatus(rc, "open " + dir);
  }
  return e;
}

void RawEnv::CloseEnvKeepLock() {
  if (env_ != nullptr) mdb_env_close(env_);
  env_ = nullptr;
}

RawEnv::~RawEnv() {
  CloseEnvKeepLock();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<std::vector<std::string>> DbNames(MDB_txn* txn) {
  MDB_dbi main;
  int rc = mdb_dbi_open(txn, nullptr, 0, &main);
  if (rc != MDB_SUCCESS) return ToStatus(rc, "open main db");
  std::vector<std::string> names;
  mvcc::lmdb::Cursor c;
  if ((rc = c.Open(txn, main)) != MDB_SUCCESS) return ToStatus(rc, "main db cursor");
  MDB_val k, v;
  for (rc = c.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.Get(&k, &v, MDB_NEXT)) {
    names.emplace_back(mvcc::lmdb::View(k));
  }
  if (rc != MDB_NOTFOUND) return ToStatus(rc, "scan main db");
  return names;
}

Status PrepareRestoredStore(const std::string& db_dir, uint64_t bump) {
  ETCDPP_ASSIGN_OR_RETURN(auto env, RawEnv::OpenDir(db_dir));
  mvcc::lmdb::Txn txn;
  int rc = mvcc::lmdb::Txn::Begin(env->get(), 0, &txn);
  if (rc != MDB_SUCCESS) return ToStatus(rc, "begin");
  MDB_dbi removed, meta;
  if ((rc = mdb_dbi_open(txn.get(), "members_removed", MDB_CREATE, &removed)) != MDB_SUCCESS ||
      (rc = mdb_drop(txn.get(), removed, 0)) != MDB_SUCCESS) {
    return ToStatus(rc, "empty members_removed");
  }
  if (bump > 0) {
    if ((rc = mdb_dbi_open(txn.get(), "meta", MDB_CREATE, &meta)) != MDB_SUCCESS) {
      return ToStatus(rc, "open meta");
    }
    ETCDPP_ASSIGN_OR_RETURN(uint64_t cur,
                            mvcc::GetMetaU64(txn.get(), meta, mvcc::kMetaCurrentRev, 1));
    const std::string v = mvcc::BE64(cur + bump);
    for (std::string_view name : {mvcc::kMetaCurrentRev, mvcc::kMetaScheduledCompact}) {
      MDB_val k = Val(name), d = Val(v);
      if ((rc = mdb_put(txn.get(), meta, &k, &d, 0)) != MDB_SUCCESS) {
        return ToStatus(rc, "put meta");
      }
    }
  }
  if ((rc = txn.Commit()) != MDB_SUCCESS) return ToStatus(rc, "commit");
  // Durable before the restore goes on (the commit synced the data pages).
  return ToStatus(mdb_env_sync(env->get(), 1), "sync");
}

Status CompactCopy(const RawEnv& env, const std::string& dst) {
  int fd = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("create " + dst + ": " + std::strerror(errno));
  int rc = mdb_env_copyfd2(env.get(), fd, MDB_CP_COMPACT);
  // The copy replaces the live file next: it must be on disk first.
  int sync_rc = rc == MDB_SUCCESS ? ::fsync(fd) : 0;
  int sync_errno = errno;
  ::close(fd);
  if (rc != MDB_SUCCESS) {
    ::unlink(dst.c_str());
    return ToStatus(rc, "compacting copy to " + dst);
  }
  if (sync_rc != 0) {
    ::unlink(dst.c_str());
    return Status::IOError("fsync " + dst + ": " + std::strerror(sync_errno));
  }
  return Status::OK();
}

Status FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError("open " + path + ": " + std::strerror(errno));
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return Status::IOError("fsync " + path + ": " + std::strerror(e));
  return Status::OK();
}

}  // namespace etcdpp::utl
