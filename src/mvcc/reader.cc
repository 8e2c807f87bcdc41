#include "mvcc/reader.h"

#include <algorithm>
#include <vector>

#include "mvcc/lmdb.h"

namespace etcdpp::mvcc {

using lmdb::Val;
using lmdb::View;

Result<uint64_t> GetMetaU64(MDB_txn* txn, MDB_dbi meta, std::string_view name, uint64_t dflt) {
  MDB_val k = Val(name), v;
  int rc = mdb_get(txn, meta, &k, &v);
  if (rc == MDB_NOTFOUND) return dflt;
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "get meta");
  if (v.mv_size != 8) return Status::Corruption("mvcc: bad meta value for " + std::string(name));
  return GetBE64(static_cast<const char*>(v.mv_data));
}

namespace {

// Calls fn(id, value) for every row of a members table, in id order.
template <typename F>
Status ScanIdTable(MDB_txn* txn, MDB_dbi dbi, std::string_view what, F fn) {
  lmdb::Cursor c;
  int rc = c.Open(txn, dbi);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "cursor");
  MDB_val k, v;
  for (rc = c.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.Get(&k, &v, MDB_NEXT)) {
    if (k.mv_size != 8) return Status::Corruption("mvcc: bad key in " + std::string(what));
    fn(GetBE64(static_cast<const char*>(k.mv_data)), View(v));
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, std::string(what) + " scan");
  return Status::OK();
}

}  // namespace

Result<std::vector<std::pair<uint64_t, std::string>>> ReadMembers(MDB_txn* txn, const Dbs& dbs) {
  std::vector<std::pair<uint64_t, std::string>> out;
  ETCDPP_RETURN_IF_ERROR(
      ScanIdTable(txn, dbs.members, "members",
                  [&](uint64_t id, std::string_view v) { out.emplace_back(id, std::string(v)); }));
  return out;
}

Result<std::vector<uint64_t>> ReadRemovedMembers(MDB_txn* txn, const Dbs& dbs) {
  std::vector<uint64_t> out;
  ETCDPP_RETURN_IF_ERROR(ScanIdTable(txn, dbs.members_removed, "members_removed",
                                     [&](uint64_t id, std::string_view) { out.push_back(id); }));
  return out;
}

Result<std::vector<std::pair<int64_t, std::string>>> ReadLeases(MDB_txn* txn, const Dbs& dbs) {
  std::vector<std::pair<int64_t, std::string>> out;
  ETCDPP_RETURN_IF_ERROR(ScanIdTable(txn, dbs.lease, "lease", [&](uint64_t id, std::string_view v) {
    out.emplace_back(static_cast<int64_t>(id), std::string(v));
  }));
  return out;
}

Result<std::vector<std::string>> ReadAlarms(MDB_txn* txn, const Dbs& dbs) {
  std::vector<std::string> out;
  lmdb::Cursor c;
  int rc = c.Open(txn, dbs.alarm);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "alarm cursor");
  MDB_val k, v;
  for (rc = c.Get(&k, &v, MDB_FIRST); rc == MDB_SUCCESS; rc = c.Get(&k, &v, MDB_NEXT)) {
    out.emplace_back(lmdb::View(k));
  }
  if (rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "scan alarm");
  return out;
}

Result<std::vector<std::pair<int64_t, std::string>>> ReadLeasedKeys(const Reader& r, int64_t rev) {
  // A full scan: only at start-up / snapshot restore (etcd rebuilds its
  // lease->keys map the same way, from the key index).
  std::vector<std::pair<int64_t, std::string>> out;
  Status st;
  ETCDPP_RETURN_IF_ERROR(
      r.Scan(std::string_view("\0", 1), std::string_view("\0", 1), rev, [&](const ScanItem& it) {
        mvccpb::KeyValue kv;
        st = r.GetKV(it.entry.rev, &kv);
        if (!st.ok()) return false;
        if (kv.lease() != 0) out.emplace_back(kv.lease(), kv.key());
        return true;
      }));
  ETCDPP_RETURN_IF_ERROR(st);
  return out;
}

Status Reader::ResolveIndexKey(std::string_view key, std::string* index_key, bool* exists) const {
  if (key.size() <= kShortKeyMax) {
    *index_key = std::string(key);
    *exists = true;  // meaningless for short keys: the index itself answers
    return Status::OK();
  }
  // Linear probing over the 64-bit hash; chains end at the first free slot
  // (compaction never frees a slot whose successor is taken, see store.cc).
  uint64_t h = LongKeyHash(key);
  for (;;) {
    std::string s = MakeSurrogate(key, h);
    MDB_val k = Val(s), v;
    int rc = mdb_get(txn_, dbs_.longkey, &k, &v);
    if (rc == MDB_NOTFOUND) {
      *index_key = std::move(s);
      *exists = false;
      return Status::OK();
    }
    if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "get longkey");
    if (View(v) == key) {
      *index_key = std::move(s);
      *exists = true;
      return Status::OK();
    }
    ++h;
  }
}

namespace {

// With the cursor on index key `ik`, finds the newest entry <= rev.
// *moved says the cursor went through MDB_GET_BOTH_RANGE/MDB_PREV_DUP (whose
// failure may leave it unpositioned), so a scan must re-seek the key.
Result<std::optional<IndexEntry>> EntryAtCursor(lmdb::Cursor& c, std::string_view ik, int64_t rev,
                                                bool* moved = nullptr) {
  MDB_val k = Val(ik), v;
  int rc = c.Get(&k, &v, MDB_LAST_DUP);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "index last dup");
  IndexEntry last = DecodeIndexEntry(View(v));
  if (last.rev.main <= rev) return std::optional<IndexEntry>(last);
  // Historic read: the first entry >= (rev+1, 0), then one step back.
  if (moved != nullptr) *moved = true;
  std::string probe = EncodeIndexEntry(IndexEntry{Revision{rev + 1, 0}, false});
  k = Val(ik);
  v = Val(probe);
  rc = c.Get(&k, &v, MDB_GET_BOTH_RANGE);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "index both range");
  rc = c.Get(&k, &v, MDB_PREV_DUP);
  if (rc == MDB_NOTFOUND) return std::optional<IndexEntry>();
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "index prev dup");
  return std::optional<IndexEntry>(DecodeIndexEntry(View(v)));
}

}  // namespace

Result<std::optional<IndexEntry>> Reader::EntryAt(std::string_view index_key, int64_t rev) const {
  lmdb::Cursor c;
  int rc = c.Open(txn_, dbs_.index);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "cursor");
  MDB_val k = Val(index_key), v;
  rc = c.Get(&k, &v, MDB_SET);
  if (rc == MDB_NOTFOUND) return std::optional<IndexEntry>();
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "index set");
  return EntryAtCursor(c, index_key, rev);
}

Status Reader::Scan(std::string_view key, std::string_view end, int64_t rev,
                    const std::function<bool(const ScanItem&)>& fn) const {
  if (end.empty()) {
    std::string ik;
    bool exists = false;
    ETCDPP_RETURN_IF_ERROR(ResolveIndexKey(key, &ik, &exists));
    if (!exists) return Status::OK();
    auto e = EntryAt(ik, rev);
    if (!e.ok()) return e.status();
    if (e->has_value() && !(*e)->tombstone) fn(ScanItem{key, ik, **e});
    return Status::OK();
  }
  const bool unbounded = end.size() == 1 && end[0] == '\0';
  auto in_range = [&](std::string_view uk) { return uk >= key && (unbounded || uk < end); };

  lmdb::Cursor c;
  int rc = c.Open(txn_, dbs_.index);
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "cursor");
  std::string seek(key.substr(0, std::min(key.size(), kShortKeyMax)));
  MDB_val k = Val(seek), v;
  rc = c.Get(&k, &v, MDB_SET_RANGE);
  while (rc == MDB_SUCCESS) {
    std::string ik(View(k));
    if (!IsSurrogate(ik)) {
      if (!unbounded && ik >= end) break;
      bool moved = false;
      if (ik >= key) {
        auto e = EntryAtCursor(c, ik, rev, &moved);
        if (!e.ok()) return e.status();
        if (e->has_value() && !(*e)->tombstone) {
          if (!fn(ScanItem{ik, ik, **e})) return Status::OK();
        }
      }
      rc = MDB_SUCCESS;
      if (moved) {
        k = Val(ik);
        rc = c.Get(&k, &v, MDB_SET);
      }
      if (rc == MDB_SUCCESS) rc = c.Get(&k, &v, MDB_NEXT_NODUP);
      continue;
    }
    // A run of surrogates sharing one prefix: load full keys and sort (rare).
    const std::string prefix = ik.substr(0, kShortKeyMax);
    if (!unbounded && std::string_view(prefix) >= end) break;
    struct Item {
      std::string user_key, index_key;
      IndexEntry entry;
    };
    std::vector<Item> run;
    while (rc == MDB_SUCCESS) {
      std::string cur(View(k));
      if (!IsSurrogate(cur) || std::string_view(cur).substr(0, kShortKeyMax) != prefix) break;
      MDB_val lk = Val(cur), lv;
      int r2 = mdb_get(txn_, dbs_.longkey, &lk, &lv);
      if (r2 != MDB_SUCCESS) return lmdb::ToStatus(r2, "longkey of surrogate");
      std::string full(View(lv));
      if (in_range(full)) {
        auto e = EntryAtCursor(c, cur, rev);
        if (!e.ok()) return e.status();
        if (e->has_value() && !(*e)->tombstone) run.push_back(Item{std::move(full), cur, **e});
      }
      k = Val(cur);
      rc = c.Get(&k, &v, MDB_SET);
      if (rc == MDB_SUCCESS) rc = c.Get(&k, &v, MDB_NEXT_NODUP);
    }
    std::sort(run.begin(), run.end(),
              [](const Item& a, const Item& b) { return a.user_key < b.user_key; });
    for (const Item& it : run) {
      if (!fn(ScanItem{it.user_key, it.index_key, it.entry})) return Status::OK();
    }
  }
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return lmdb::ToStatus(rc, "index scan");
  return Status::OK();
}

Status Reader::GetKV(const Revision& rev, mvccpb::KeyValue* kv) const {
  std::string rk = EncodeRevision(rev, false);
  MDB_val k = Val(rk), v;
  int rc = mdb_get(txn_, dbs_.key, &k, &v);
  if (rc == MDB_NOTFOUND) {
    return Status::Corruption("mvcc: index points at missing revision " + std::to_string(rev.main) +
                              "_" + std::to_string(rev.sub));
  }
  if (rc != MDB_SUCCESS) return lmdb::ToStatus(rc, "get key");
  if (!kv->ParseFromArray(v.mv_data, static_cast<int>(v.mv_size))) {
    return Status::Corruption("mvcc: unparsable KeyValue");
  }
  return Status::OK();
}

Result<RangeResult> Reader::Range(std::string_view key, std::string_view end,
                                  const RangeOptions& opts, int64_t cur, int64_t compact) const {
  // etcd's order of checks (kvstore_txn.go rangeKeys): future first, then compacted.
  if (opts.rev > cur) return Status::OutOfRange(kErrFutureRev);
  int64_t rev = opts.rev <= 0 ? cur : opts.rev;
  if (rev < compact) return Status::OutOfRange(kErrCompacted);
  RangeResult res;
  res.rev = cur;
  Status st;
  ETCDPP_RETURN_IF_ERROR(Scan(key, end, rev, [&](const ScanItem& it) {
    ++res.count;
    if (opts.count_only) return true;
    if (opts.limit > 0 && static_cast<int64_t>(res.kvs.size()) >= opts.limit) return true;
    mvccpb::KeyValue kv;
    st = GetKV(it.entry.rev, &kv);
    if (!st.ok()) return false;
    res.kvs.push_back(std::move(kv));
    return true;
  }));
  ETCDPP_RETURN_IF_ERROR(st);
  return res;
}

}  // namespace etcdpp::mvcc
