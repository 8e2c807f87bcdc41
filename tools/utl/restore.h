// `snapshot restore`: a new data dir for a member of a new cluster, from a
// snapshot file (etcdpp LMDB or etcd bbolt), as etcdutl does it:
//   1. the payload's SHA-256 is checked (snapshot_file.h);
//   2. <data-dir>/member/snap/db gets the store: a copy of an LMDB payload, or
//      the import of a bbolt one (bbolt_import.h); its membership is replaced
//      by the members of --initial-cluster (ids from the peer URLs and the
//      token, as etcd computes them), members_removed emptied, and its
//      consistent index set to N (the number of members) at term 1;
//   3. the WAL (<data-dir>/member/wal or --wal-dir) gets the metadata (this
//      member's id, the cluster id), the bootstrap log of a new cluster (N
//      AddNode conf changes at term 1, server/bootstrap.h), HardState{1,0,N}
//      and a snapshot marker at {N, 1}: the server restarts from it like any
//      member that has applied up to N.
// With bump_revision (requires mark_compacted, as etcdutl): the revision
// jumps by that much and everything before it counts as compacted.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "tools/utl/bbolt_import.h"
#include "tools/utl/snapshot_file.h"

namespace etcdpp::utl {

struct RestoreConfig {
  std::string snapshot_path;
  std::string name = "default";
  std::string data_dir;  // default "<name>.etcd"
  std::string wal_dir;   // default "<data-dir>/member/wal"
  std::string initial_cluster = "default=http://localhost:2380";
  std::string initial_cluster_token = "etcd-cluster";
  std::string initial_advertise_peer_urls = "http://localhost:2380";  // comma-separated
  bool skip_hash_check = false;
  uint64_t bump_revision = 0;
  bool mark_compacted = false;
};

struct RestoreResult {
  SnapshotFormat format = SnapshotFormat::kUnknown;
  uint64_t member_id = 0;
  uint64_t cluster_id = 0;
  uint64_t consistent_index = 0;  // = number of members
  int64_t revision = 0;           // the store's current revision after the restore
  std::string data_dir, wal_dir;
  ImportStats import;  // bbolt only
};

// Errors use etcdutl's texts where it has them:
//   "--mark-compacted required if --revision-bump > 0" (kInvalidArgument)
//   "data-dir \"<d>\" not empty or could not be read", "wal-dir \"<w>\" exists"
//   "snapshot missing hash but --skip-hash-check=false", "expected sha256 ..."
//   --initial-cluster / peer URL mismatches (server/bootstrap.h texts)
// On failure nothing this call created is left behind.
Result<RestoreResult> Restore(const RestoreConfig& cfg);

}  // namespace etcdpp::utl
