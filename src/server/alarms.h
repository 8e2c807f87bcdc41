// Alarms (etcd v3alarm + the capped/corrupt/quota appliers) and the backend
// quota (etcd BackendQuota).
//
// An alarm is raised or cleared only by a committed Maintenance.Alarm entry
// (ACTIVATE/DEACTIVATE), so every member holds the same set at the same log
// position; it is stored in the store's `alarm` table in the applier's batch
// (key = the serialized AlarmMember, as etcd's alarm bucket), so it survives a
// restart. While NOSPACE is raised, applied Puts, Txns with a Put and
// LeaseGrants fail with "database space exceeded"; while CORRUPT is raised,
// every applied KV request, compaction, lease grant and revoke fails with
// "corrupt cluster" (etcd applierV3Capped / applierV3Corrupt).
#pragma once

#include <cstdint>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "etcdpp/internal.pb.h"
#include "etcdserverpb/rpc.pb.h"
#include "mvcc/store.h"

namespace etcdpp::server {

inline constexpr std::string_view kErrNoSpace = "etcdserver: mvcc: database space exceeded";
inline constexpr std::string_view kErrCorrupt = "etcdserver: corrupt cluster";
inline Status ErrNoSpace() {
  return Status::ResourceExhausted(kErrNoSpace);
}
inline Status ErrCorrupt() {
  return Status(Code::kDataLoss, kErrCorrupt);
}

// etcd: --quota-backend-bytes 0 means 2 GiB.
inline constexpr int64_t kDefaultQuotaBytes = int64_t{2} << 30;
inline int64_t EffectiveQuota(int64_t configured) {
  return configured > 0 ? configured : kDefaultQuotaBytes;
}

// etcd's cost estimate of a request: a Put is 256 + key + value bytes; a Txn
// is the larger of its success and failure branches' Puts (top level only);
// a LeaseGrant 64; anything else 0 (never refused by the quota).
int64_t QuotaCost(const internalpb::InternalRequest& req);
// Whether `req` fits: cost 0, or db_size + cost < quota (etcd Available).
inline bool QuotaAvailable(const internalpb::InternalRequest& req, int64_t db_size_bytes,
                           int64_t quota_bytes) {
  const int64_t cost = QuotaCost(req);
  return cost == 0 || db_size_bytes + cost < quota_bytes;
}

// "memberID:<decimal> alarm:<NAME> " (etcd's text form of an AlarmMember,
// as Status.errors lists it).
std::string AlarmString(const etcdserverpb::AlarmMember& m);

// The applier's view of the raised alarms. Applier thread only (Load also
// before the applier starts); the server publishes copies to other threads.
class AlarmStore {
 public:
  // Replaces the state by the alarm table's content.
  Status Load(mvcc::ReadTxn& txn);

  // A committed AlarmRequest, inside the batch (etcd applierV3backend.Alarm):
  //   GET        the raised alarms of req.alarm's type (NONE: all);
  //   ACTIVATE   (NONE is ignored) raises (member, type); answers it, also
  //              when it was already raised;
  //   DEACTIVATE clears (member, type); answers it if it was raised, else
  //              nothing. Never an error for a client mistake.
  // *changed says whether the set changed (the caller republishes it).
  Status Apply(mvcc::Batch& batch, const etcdserverpb::AlarmRequest& req,
               etcdserverpb::AlarmResponse* resp, bool* changed);

  // Whether a request may be applied under the raised alarms: ErrCorrupt or
  // ErrNoSpace as etcd's corrupt/capped appliers, else OK.
  Status Admit(const internalpb::InternalRequest& req) const;

  // Raised alarms of type t (NONE: all), ordered by type, then member id.
  std::vector<etcdserverpb::AlarmMember> Get(etcdserverpb::AlarmType t) const;
  bool Has(etcdserverpb::AlarmType t) const;

 private:
  std::set<std::pair<int, uint64_t>> alarms_;  // (type, member id)
};

}  // namespace etcdpp::server
