// Import of an etcd backend (a bbolt file: `etcdctl snapshot save` or a
// member's member/snap/db) into a new etcdpp store: the migration path from
// etcd. Carried: every `key` row with its revision (puts with their
// create/mod revision, version, lease; tombstones), the compaction
// revisions, the current revision, the leases (TTL and checkpointed remaining
// TTL), and the auth buckets as raw tables (etcdpp has no auth tables yet;
// their content is etcd's authpb encoding). Not carried: membership (a
// restore replaces it by the new cluster's, as etcdutl does), alarms, the
// cluster version, the consistent index (the restore sets its own).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bbolt/db.h"
#include "common/status.h"

namespace etcdpp::utl {

struct ImportStats {
  int64_t key_rows = 0;  // rows of the `key` bucket (puts + tombstones)
  int64_t tombstones = 0;
  int64_t long_keys = 0;  // keys beyond LMDB's key size (stored through `longkey`)
  int64_t current_rev = 0;
  int64_t compact_rev = 0;
  int64_t leases = 0;
  std::vector<std::string> raw_tables;  // auth buckets carried as they are
};

// Creates the store at `db_dir` (which must not hold one yet) from `db`.
// kCorruption for a damaged or non-etcd file; the caller removes db_dir on
// failure.
Status ImportBbolt(const bbolt::Db& db, const std::string& db_dir, ImportStats* stats);

}  // namespace etcdpp::utl
