// etcd's backend schema on top of a bbolt Db (ETCD-FACTS.md §12): the
// buckets an etcd 3.4-3.6 data file or `etcdctl snapshot save` file holds,
// decoded for import into etcdpp.
//
//   key      17-byte revision (8B BE main | '_' | 8B BE sub) [+ 't' tombstone]
//            -> serialized mvccpb.KeyValue (a tombstone holds only the key)
//   meta     consistent_index, term (8B BE; term from 3.5), scheduledCompactRev
//            / finishedCompactRev (17-byte revision: main is used),
//            storageVersion (3.6), confState (JSON)
//   lease    8B BE id -> leasepb.Lease{1 ID, 2 TTL, 3 RemainingTTL} (varints)
//   members  hex id -> JSON {"id","peerURLs","name","clientURLs","isLearner"}
//   members_removed  hex id -> "removed"
//   auth, authUsers, authRoles: raw (authpb), carried as they are
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bbolt/db.h"
#include "common/status.h"
#include "mvccpb/kv.pb.h"

namespace etcdpp::bbolt {

struct EtcdMeta {
  uint64_t consistent_index = 0;
  uint64_t term = 0;                  // 0 when absent (etcd < 3.5)
  int64_t scheduled_compact_rev = 0;  // main revision; 0 = none
  int64_t finished_compact_rev = 0;
  std::string storage_version;  // "" when absent (etcd < 3.6)
};

struct EtcdMember {
  uint64_t id = 0;
  std::string name;
  std::vector<std::string> peer_urls;
  std::vector<std::string> client_urls;
  bool is_learner = false;
};

struct EtcdLease {
  int64_t id = 0;
  int64_t ttl = 0;
  int64_t remaining_ttl = 0;  // checkpointed remaining TTL; 0 = none
};

// One row of the `key` bucket.
struct EtcdKeyRow {
  int64_t main = 0;
  int64_t sub = 0;
  bool tombstone = false;
  std::string_view raw_key;    // the 17/18-byte revision key, as stored
  std::string_view raw_value;  // the serialized KeyValue, as stored
  mvccpb::KeyValue kv;         // parsed
};

// The main revision of a 17-byte revision value (compaction revisions).
Result<int64_t> DecodeRevisionMain(std::string_view v);

Result<EtcdMeta> ReadEtcdMeta(const Db& db);
Result<std::vector<EtcdMember>> ReadEtcdMembers(const Db& db);       // by key (hex id) order
Result<std::vector<uint64_t>> ReadEtcdRemovedMembers(const Db& db);  // ascending
Result<std::vector<EtcdLease>> ReadEtcdLeases(const Db& db);         // by id (key) order
// Every `key` row in revision order (kCorruption on a malformed key or a
// value that is not a KeyValue). A file without a `key` bucket has no rows.
Status ForEachEtcdKey(const Db& db, const std::function<Status(const EtcdKeyRow&)>& fn);
// The auth buckets present in the file, among "auth", "authRoles", "authUsers".
std::vector<std::string> EtcdAuthBuckets(const Db& db);

// leasepb.Lease wire decoding (fields 1-3, int64 varints; unknown fields skipped).
Result<EtcdLease> DecodeLease(std::string_view v);

}  // namespace etcdpp::bbolt
