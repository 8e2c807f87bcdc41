// `snapshot status`: etcdutl's Status of a snapshot file, for both formats.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "tools/utl/snapshot_file.h"

namespace etcdpp::utl {

// etcdutl snapshot.Status.
struct DbStatus {
  uint32_t hash = 0;       // CRC-32C over every table name, then its keys and values, in order
  int64_t revision = 0;    // the store's current revision
  int64_t total_key = 0;   // rows in all tables
  int64_t total_size = 0;  // bytes in use
  std::string version;     // storage version ("" for etcd < 3.6)
};

// bbolt (etcd): exactly etcdutl's computation (buckets in name order; hash
// over name, then each key and value; revision = main revision of the last
// `key` row; size = high-water mark * page size; version = meta
// storageVersion). LMDB (etcdpp): the same over the named databases; revision
// = meta current_rev; size = pages in use * page size; version = meta
// storageVersion if present, else the storage version this build writes.
// kCorruption for a damaged file, kInvalidArgument for an unknown format.
Result<DbStatus> SnapshotStatus(const SnapshotFile& f);
Result<DbStatus> SnapshotStatus(const std::string& path);

}  // namespace etcdpp::utl
