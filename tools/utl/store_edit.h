// Direct LMDB access to an etcdpp store (layout: docs/mvcc_layout.md) for
// what mvcc::Store does not offer because only an offline tool needs it:
// opening a snapshot file, copying an environment, emptying a table, moving
// the revision counters. Everything else goes through mvcc::Store.
//
// The store's own lock convention is kept: `etcdpp.lock` in the environment
// directory is flock'ed by whoever opens it (a running server holds it).
#pragma once

#include <lmdb.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace etcdpp::utl {

class RawEnv {
 public:
  // A snapshot file (one LMDB file, any trailing digest ignored), read-only.
  static Result<std::unique_ptr<RawEnv>> OpenFile(const std::string& path);
  // The environment in directory `dir`, read-write, with etcdpp.lock held
  // (kUnavailable with etcd's wording if a server or another tool has it).
  // map_size_bytes: virtual map size (at least the data file's size is used).
  static Result<std::unique_ptr<RawEnv>> OpenDir(const std::string& dir,
                                                 uint64_t map_size_bytes = 0);
  ~RawEnv();
  RawEnv(const RawEnv&) = delete;
  RawEnv& operator=(const RawEnv&) = delete;

  MDB_env* get() const { return env_; }
  // Releases the environment but keeps the directory lock (for a swap of data.mdb).
  void CloseEnvKeepLock();

 private:
  RawEnv() = default;
  MDB_env* env_ = nullptr;
  int lock_fd_ = -1;
};

// Names of the named databases (the keys of LMDB's main database), in order.
Result<std::vector<std::string>> DbNames(MDB_txn* txn);

// Data-dir surgery for `snapshot restore`, in one write txn of the store at
// `db_dir` (closed again before returning; fsynced):
//  - empties `members_removed` (the new cluster has its own history);
//  - with bump > 0 (etcdutl --bump-revision/--mark-compacted): current_rev
//    += bump and scheduledCompactRev = the new current_rev, so the server
//    treats everything before it as compacted (it finishes the compaction
//    at start-up, as etcd does).
Status PrepareRestoredStore(const std::string& db_dir, uint64_t bump);

// Writes a compacted copy of the environment at `db_dir` to `dst` (fsynced).
Status CompactCopy(const RawEnv& env, const std::string& dst);

// fsync of a file or directory by path.
Status FsyncPath(const std::string& path);

}  // namespace etcdpp::utl
