// Reads of the revisioned keyspace inside one LMDB transaction (read-only or
// the writer's): key resolution (long keys), "newest write <= rev" lookups,
// ordered range scans and the shared Range implementation.
#pragma once

#include <lmdb.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "mvcc/index_codec.h"
#include "mvcc/store.h"

namespace etcdpp::mvcc {

struct Dbs {
  MDB_dbi key = 0;
  MDB_dbi index = 0;
  MDB_dbi meta = 0;
  MDB_dbi longkey = 0;
  MDB_dbi members = 0;          // member id (8B BE) -> etcdserverpb.Member (src/membership)
  MDB_dbi members_removed = 0;  // member id (8B BE) -> "" (ids that may never come back)
  MDB_dbi lease = 0;            // lease id (8B BE) -> src/lease's encoding
  MDB_dbi alarm = 0;            // raised alarm (caller's encoding, etcd: AlarmMember) -> ""
};

// One live (or, with tombstones, any) key met by a scan.
struct ScanItem {
  std::string_view user_key;
  std::string_view index_key;
  IndexEntry entry;  // the newest write <= the scan revision
};

class Reader {
 public:
  Reader(MDB_txn* txn, const Dbs& dbs) : txn_(txn), dbs_(dbs) {}

  // The index key of `key`. For a long key: probes `longkey`; *exists says
  // whether the key was ever indexed; if not, *index_key is the free slot.
  Status ResolveIndexKey(std::string_view key, std::string* index_key, bool* exists) const;

  // The newest index entry of `index_key` with main revision <= rev.
  Result<std::optional<IndexEntry>> EntryAt(std::string_view index_key, int64_t rev) const;

  // Calls fn for every key in [key, end) (etcd end rules, see store.h) whose
  // newest write <= rev is a put, in key order; fn returns false to stop.
  Status Scan(std::string_view key, std::string_view end, int64_t rev,
              const std::function<bool(const ScanItem&)>& fn) const;

  Status GetKV(const Revision& rev, mvccpb::KeyValue* kv) const;

  // Range with etcd's revision checks; cur/compact describe the view.
  Result<RangeResult> Range(std::string_view key, std::string_view end, const RangeOptions& opts,
                            int64_t cur, int64_t compact) const;

  MDB_txn* txn() const { return txn_; }

 private:
  MDB_txn* txn_;
  Dbs dbs_;
};

// meta helpers (values are 8-byte big-endian).
Result<uint64_t> GetMetaU64(MDB_txn* txn, MDB_dbi meta, std::string_view name, uint64_t dflt);

// The members tables (ids in ascending order: big-endian keys sort numerically).
Result<std::vector<std::pair<uint64_t, std::string>>> ReadMembers(MDB_txn* txn, const Dbs& dbs);
Result<std::vector<uint64_t>> ReadRemovedMembers(MDB_txn* txn, const Dbs& dbs);

// The lease table, raw, by id; and every live key at rev with a lease != 0.
Result<std::vector<std::pair<int64_t, std::string>>> ReadLeases(MDB_txn* txn, const Dbs& dbs);
Result<std::vector<std::pair<int64_t, std::string>>> ReadLeasedKeys(const Reader& r, int64_t rev);

// The alarm table's keys, in key order.
Result<std::vector<std::string>> ReadAlarms(MDB_txn* txn, const Dbs& dbs);

inline constexpr std::string_view kMetaConsistentIndex = "consistent_index";
inline constexpr std::string_view kMetaTerm = "term";
inline constexpr std::string_view kMetaCurrentRev = "current_rev";
inline constexpr std::string_view kMetaScheduledCompact = "scheduledCompactRev";
inline constexpr std::string_view kMetaFinishedCompact = "finishedCompactRev";

}  // namespace etcdpp::mvcc
