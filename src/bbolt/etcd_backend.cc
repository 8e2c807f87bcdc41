#include "bbolt/etcd_backend.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>

#include "etcdserverpb/rpc.pb.h"

namespace etcdpp::bbolt {
namespace {

constexpr size_t kRevBytes = 17;

uint64_t Be64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

Result<uint64_t> Be64Value(std::string_view v, std::string_view what) {
  if (v.size() != 8) {
    return Status::Corruption("etcd backend: " + std::string(what) + " is " +
                              std::to_string(v.size()) + " bytes, want 8");
  }
  return Be64(v.data());
}

// etcd's types.ID: lower-case hex without leading zeros.
Result<uint64_t> ParseHexId(std::string_view s) {
  if (s.empty() || s.size() > 16) return Status::Corruption("etcd backend: bad member id");
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return Status::Corruption("etcd backend: bad member id " + std::string(s));
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

bool ReadVarint(std::string_view v, size_t* pos, uint64_t* out) {
  uint64_t x = 0;
  for (int shift = 0; shift < 64 && *pos < v.size(); shift += 7) {
    auto b = static_cast<unsigned char>(v[(*pos)++]);
    x |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = x;
      return true;
    }
  }
  return false;
}

}  // namespace

Result<int64_t> DecodeRevisionMain(std::string_view v) {
  if (v.size() < kRevBytes || v[8] != '_') {
    return Status::Corruption("etcd backend: bad revision encoding (" + std::to_string(v.size()) +
                              " bytes)");
  }
  return static_cast<int64_t>(Be64(v.data()));
}

Result<EtcdMeta> ReadEtcdMeta(const Db& db) {
  EtcdMeta m;
  if (!db.HasBucket("meta")) return m;
  Status st = db.ForEach("meta", [&](std::string_view k, std::string_view v, bool) -> Status {
    if (k == "consistent_index") {
      ETCDPP_ASSIGN_OR_RETURN(m.consistent_index, Be64Value(v, k));
    } else if (k == "term") {
      ETCDPP_ASSIGN_OR_RETURN(m.term, Be64Value(v, k));
    } else if (k == "scheduledCompactRev") {
      ETCDPP_ASSIGN_OR_RETURN(m.scheduled_compact_rev, DecodeRevisionMain(v));
    } else if (k == "finishedCompactRev") {
      ETCDPP_ASSIGN_OR_RETURN(m.finished_compact_rev, DecodeRevisionMain(v));
    } else if (k == "storageVersion") {
      m.storage_version.assign(v);
    }
    return Status::OK();
  });
  if (!st.ok()) return st;
  return m;
}

Result<std::vector<EtcdMember>> ReadEtcdMembers(const Db& db) {
  std::vector<EtcdMember> out;
  if (!db.HasBucket("members")) return out;
  Status st = db.ForEach("members", [&](std::string_view k, std::string_view v, bool) -> Status {
    EtcdMember m;
    ETCDPP_ASSIGN_OR_RETURN(m.id, ParseHexId(k));
    // The JSON's field names match etcdserverpb.Member's except the numeric
    // "id", which the key carries anyway.
    etcdserverpb::Member pb;
    google::protobuf::util::JsonParseOptions opts;
    opts.ignore_unknown_fields = true;
    auto js = google::protobuf::util::JsonStringToMessage(std::string(v), &pb, opts);
    if (!js.ok()) {
      return Status::Corruption("etcd backend: member " + std::string(k) +
                                ": bad JSON: " + std::string(js.message()));
    }
    m.name = pb.name();
    m.peer_urls.assign(pb.peerurls().begin(), pb.peerurls().end());
    m.client_urls.assign(pb.clienturls().begin(), pb.clienturls().end());
    m.is_learner = pb.islearner();
    out.push_back(std::move(m));
    return Status::OK();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<uint64_t>> ReadEtcdRemovedMembers(const Db& db) {
  std::vector<uint64_t> out;
  if (!db.HasBucket("members_removed")) return out;
  Status st = db.ForEach("members_removed", [&](std::string_view k, std::string_view, bool) {
    auto id = ParseHexId(k);
    if (!id.ok()) return id.status();
    out.push_back(*id);
    return Status::OK();
  });
  if (!st.ok()) return st;
  std::sort(out.begin(), out.end());
  return out;
}

Result<EtcdLease> DecodeLease(std::string_view v) {
  EtcdLease l;
  size_t pos = 0;
  while (pos < v.size()) {
    uint64_t tag = 0, x = 0;
    if (!ReadVarint(v, &pos, &tag)) return Status::Corruption("etcd backend: bad lease");
    const uint64_t field = tag >> 3, wire = tag & 7;
    if (wire == 0) {
      if (!ReadVarint(v, &pos, &x)) return Status::Corruption("etcd backend: bad lease varint");
      if (field == 1) l.id = static_cast<int64_t>(x);
      if (field == 2) l.ttl = static_cast<int64_t>(x);
      if (field == 3) l.remaining_ttl = static_cast<int64_t>(x);
    } else if (wire == 2) {
      if (!ReadVarint(v, &pos, &x) || x > v.size() - pos) {
        return Status::Corruption("etcd backend: bad lease field length");
      }
      pos += x;
    } else if (wire == 1 || wire == 5) {
      const size_t n = wire == 1 ? 8 : 4;
      if (n > v.size() - pos) return Status::Corruption("etcd backend: short lease field");
      pos += n;
    } else {
      return Status::Corruption("etcd backend: bad lease wire type");
    }
  }
  return l;
}

Result<std::vector<EtcdLease>> ReadEtcdLeases(const Db& db) {
  std::vector<EtcdLease> out;
  if (!db.HasBucket("lease")) return out;
  Status st = db.ForEach("lease", [&](std::string_view k, std::string_view v, bool) -> Status {
    ETCDPP_ASSIGN_OR_RETURN(uint64_t key_id, Be64Value(k, "lease key"));
    ETCDPP_ASSIGN_OR_RETURN(EtcdLease l, DecodeLease(v));
    if (static_cast<uint64_t>(l.id) != key_id) {
      return Status::Corruption("etcd backend: lease row id mismatch");
    }
    out.push_back(l);
    return Status::OK();
  });
  if (!st.ok()) return st;
  return out;
}

Status ForEachEtcdKey(const Db& db, const std::function<Status(const EtcdKeyRow&)>& fn) {
  if (!db.HasBucket("key")) return Status::OK();
  EtcdKeyRow row;
  return db.ForEach("key", [&](std::string_view k, std::string_view v, bool is_bucket) -> Status {
    if (is_bucket || (k.size() != kRevBytes && k.size() != kRevBytes + 1) || k[8] != '_' ||
        (k.size() == kRevBytes + 1 && k[kRevBytes] != 't')) {
      return Status::Corruption("etcd backend: malformed revision key in bucket key");
    }
    row.main = static_cast<int64_t>(Be64(k.data()));
    row.sub = static_cast<int64_t>(Be64(k.data() + 9));
    row.tombstone = k.size() == kRevBytes + 1;
    row.raw_key = k;
    row.raw_value = v;
    row.kv.Clear();
    if (!row.kv.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      return Status::Corruption("etcd backend: value at revision " + std::to_string(row.main) +
                                " is not a KeyValue");
    }
    return fn(row);
  });
}

std::vector<std::string> EtcdAuthBuckets(const Db& db) {
  std::vector<std::string> out;
  auto b = db.Buckets();
  if (!b.ok()) return out;
  for (const auto& n : *b)
    if (n == "auth" || n == "authUsers" || n == "authRoles") out.push_back(n);
  return out;
}

}  // namespace etcdpp::bbolt
