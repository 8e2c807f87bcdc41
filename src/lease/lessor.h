// etcd v3 leases: the in-memory lessor over the store's `lease` table.
//
// Two halves, as in etcd (server/lease/lessor.go):
//  * Apply side, called by the applier thread for committed raft entries,
//    inside its mvcc::Batch: Grant, Revoke, Checkpoint, and the attach/detach
//    bookkeeping of Puts and Deletes (OnChanges). Deterministic: every member
//    ends with the same leases, rows and attachments.
//  * Time side, meaningful on the leader only ("primary"): Promote/Demote,
//    Renew (KeepAlive), ExpiredLeases and CheckpointsDue, which the leader
//    turns into LeaseRevoke / LeaseCheckpoint proposals. Followers never
//    expire anything (etcd: expiry = forever while not primary).
//
// Expiry is a min-heap of (expiry, id) with lazy deletion: renewals push a new
// entry and stale ones are skipped when they surface, so a million leases
// cost a million heap entries and no timers. Checkpoints use a second heap.
//
// Attachments are derived from mvcc events (OnChanges): a PUT moves the key
// from prev_kv.lease to kv.lease, a DELETE detaches it from prev_kv.lease.
// This covers Put, Txn and DeleteRange without the applier knowing leases.
//
// In-memory changes made by apply-side calls take effect at once, before the
// batch commits: the applier must treat a failed Commit as fatal (it already
// does for the keyspace: memory and disk are reconciled by Load on restart).
//
// Thread-safe: one mutex; the apply side runs on the applier thread, the time
// side on the raft/leader loop, Renew/TimeToLive/Leases on gRPC threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "mvcc/store.h"
#include "mvccpb/kv.pb.h"

namespace etcdpp::lease {

// etcd's error texts (ETCD-FACTS.md §4).
inline constexpr std::string_view kErrLeaseNotFound = "etcdserver: requested lease not found";
inline constexpr std::string_view kErrLeaseExists = "etcdserver: lease already exists";
inline constexpr std::string_view kErrLeaseTTLTooLarge = "etcdserver: too large lease TTL";
// Not an etcd wire error: Renew on a non-leader (etcd ErrNotPrimary). Code
// Unavailable; the server forwards the request to the leader instead.
inline constexpr std::string_view kErrNotPrimary = "lease: not the primary lessor";

// etcd MaxLeaseTTL: 9,000,000,000 s (~285 years).
inline constexpr int64_t kMaxLeaseTTL = 9'000'000'000;
// etcd leaseRevokeRate: revokes per second the leader aims at; Promote
// spreads leases that would expire together beyond 3/4 of it.
inline constexpr int kLeaseRevokeRate = 1000;
// etcd maxLeaseCheckpointBatchSize.
inline constexpr size_t kMaxCheckpointBatch = 1000;

using Clock = std::chrono::steady_clock;

// etcd: minTTL = ceil(((3 * election_ticks) / 2) * heartbeat) seconds, with
// integer division on the ticks (2 s with the defaults 10 ticks x 100 ms).
int64_t MinLeaseTTL(int64_t election_ticks, int64_t heartbeat_ms);

struct Options {
  int64_t min_ttl_seconds = 2;  // MinLeaseTTL(election ticks, heartbeat ms)
  // Feature gate LeaseCheckpoint (etcd 3.6 default off): the leader
  // periodically proposes remaining TTLs so a new leader continues them.
  bool checkpoint = false;
  // Persist checkpointed remaining TTLs in the lease row (etcd: gate
  // LeaseCheckpointPersist, or always once the cluster version is >= 3.6).
  bool checkpoint_persist = true;
  std::chrono::milliseconds checkpoint_interval = std::chrono::minutes(5);
  // An expired lease handed out by ExpiredLeases is handed out again after
  // this long if its revoke has not been applied (etcd: request timeout).
  std::chrono::milliseconds expired_retry_interval = std::chrono::seconds(7);
  // Time source (tests inject a fake one). Default: steady_clock::now.
  std::function<Clock::time_point()> now;
};

struct LeaseInfo {
  int64_t id = 0;
  int64_t ttl = 0;                // granted TTL (seconds, after the minimum rule)
  int64_t remaining = 0;          // seconds left (>= 0); on a follower: checkpointed or ttl
  std::vector<std::string> keys;  // sorted; only when asked for
};

class Lessor {
 public:
  explicit Lessor(Options opts = {});

  // ---- apply side (applier thread; batch open, no TxnWrite open) ----

  // Grants lease `id` (a client's, or one the server picked with NextId
  // before proposing). ttl > kMaxLeaseTTL -> OutOfRange kErrLeaseTTLTooLarge;
  // an existing id -> FailedPrecondition kErrLeaseExists; id 0 -> NotFound
  // (etcd: NoLease; negative client ids are accepted, as etcd). ttl < min (negative included) is
  // raised to the minimum. Returns the effective TTL. On the leader the lease starts ticking now.
  Result<int64_t> Grant(mvcc::Batch& batch, int64_t id, int64_t ttl);

  // Deletes every attached key (in key order) in ONE logical txn, so one
  // revision, then the lease row. Returns the txn's events (for the watch
  // hub; empty if no key was attached). Unknown id -> NotFound.
  Result<std::vector<mvccpb::Event>> Revoke(mvcc::Batch& batch, int64_t id);

  // Applies a LeaseCheckpoint entry: sets the lease's remaining TTL (0 =
  // cleared); unknown ids are ignored (etcd). Persists the row if
  // checkpoint_persist.
  Status Checkpoint(mvcc::Batch& batch, int64_t id, int64_t remaining_ttl);

  // True iff the lease exists (for the applier's "lease not found" check of
  // a Put with a lease, before writing).
  bool Exists(int64_t id) const;

  // Attach/detach bookkeeping from a logical txn's events (TxnWrite::
  // Changes(), before End()). Idempotent; keys on unknown leases are ignored.
  void OnChanges(const std::vector<mvccpb::Event>& events);
  // The same, one key at a time (old_lease/new_lease 0 = none).
  void Move(std::string_view key, int64_t old_lease, int64_t new_lease);

  // ---- time side (leader) ----

  // This member became leader: every lease expires at now + extend + its
  // remaining TTL (checkpointed remaining if set, else the full TTL); then,
  // with >= kLeaseRevokeRate leases, expiries are spread so at most 3/4 of
  // the revoke rate fall in any second (etcd). etcd passes the election
  // timeout as `extend`.
  void Promote(std::chrono::milliseconds extend);
  // Leadership lost: nothing expires any more; scheduled checkpoints dropped.
  void Demote();
  bool IsPrimary() const;

  // Changes Options::checkpoint_interval for checkpoints scheduled from now
  // on (a test hook: etcd has no flag for it, only its Go test config).
  void SetCheckpointInterval(std::chrono::milliseconds interval);

  // KeepAlive on the leader: refreshes the expiry, returns the granted TTL.
  // Not leader -> Unavailable kErrNotPrimary; unknown or already expired
  // (revoke pending) -> NotFound kErrLeaseNotFound (etcd waits for the
  // pending revoke and then answers not found). With checkpointing on and a
  // remaining TTL set, queues a clearing checkpoint (id, 0) for
  // CheckpointsDue, as etcd's Renew proposes one.
  Result<int64_t> Renew(int64_t id);

  // KeepAlive as etcd's lessor.Renew answers it: like Renew, except for a
  // lease whose time is up but whose revoke is not applied yet. etcd waits:
  // cb gets NotFound kErrLeaseNotFound once the revoke is applied (so a
  // client told "not found" never sees the lease's keys any more), or
  // Unavailable kErrNotPrimary if leadership is lost (or the state is
  // reloaded) first; the caller then retries on the leader. cb runs inline
  // (waited = false), or later (waited = true) on the thread applying the
  // revoke / calling Demote or Load, never under the lessor's lock. A revoke
  // is applied inside the applier's batch, before its LMDB commit: a caller
  // that must not answer before the deletes are visible waits for the apply
  // (etcd answers after the revoke's txn ended, i.e. once they are visible).
  using RenewCallback = std::function<void(Result<int64_t>, bool waited)>;
  void RenewOrWait(int64_t id, RenewCallback cb);
  size_t RenewWaiters() const;  // tests

  // Up to `max` leases whose time is up, earliest first (empty on a
  // follower). Each one is handed out again after expired_retry_interval if
  // it still exists then (its revoke may have been lost).
  std::vector<int64_t> ExpiredLeases(size_t max);

  // (id, remaining TTL seconds) to propose as one LeaseCheckpointRequest:
  // leases whose checkpoint interval has passed, plus clears queued by
  // Renew. At most kMaxCheckpointBatch. Empty unless checkpoint && primary.
  std::vector<std::pair<int64_t, int64_t>> CheckpointsDue();

  // Earliest time something may be due (expiry or checkpoint); max() if
  // none. Lets the leader loop sleep precisely instead of polling.
  Clock::time_point NextDeadline() const;

  // TTL info; NotFound kErrLeaseNotFound if unknown. remaining: seconds left
  // on the leader (truncated, etcd), the checkpointed remaining or the TTL
  // on a follower (etcd forwards TimeToLive to the leader).
  Result<LeaseInfo> TimeToLive(int64_t id, bool with_keys) const;
  std::vector<int64_t> Leases() const;  // ascending ids
  size_t Size() const;

  // A fresh id for a LeaseGrant with ID 0: positive, not in use. The server
  // should seed with its member id (etcd: idutil generator over member id
  // and time) so two members never pick the same.
  int64_t NextId();
  void SeedIds(uint64_t member_id);

  // ---- restore ----
  // Replaces all state with the store's (after start-up or a snapshot
  // restore): lease rows, then attachments from the current keys. Expiries
  // are "forever" until Promote (a leader calls Promote again after Load).
  Status Load(mvcc::ReadTxn& txn);

  // Row encoding (16 bytes: TTL, remaining TTL, both 8-byte big-endian).
  static std::string EncodeRow(int64_t ttl, int64_t remaining);
  static bool DecodeRow(std::string_view v, int64_t* ttl, int64_t* remaining);

 private:
  struct Lease {
    int64_t ttl = 0;
    int64_t remaining = 0;                                // checkpointed remaining TTL (0 = none)
    Clock::time_point expiry = Clock::time_point::max();  // max = forever
    // Time of this lease's live entry in expiry_heap_ (others are stale):
    // the expiry, or the retry time once handed out by ExpiredLeases.
    Clock::time_point expiry_key = Clock::time_point::max();
    Clock::time_point checkpoint_at = Clock::time_point::max();  // same, checkpoint_heap_
    std::set<std::string> keys;
  };
  struct HeapItem {
    Clock::time_point t;
    int64_t id;
    bool operator>(const HeapItem& o) const { return t > o.t || (t == o.t && id > o.id); }
  };
  using MinHeap = std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<HeapItem>>;

  Clock::time_point Now() const;
  // Renew with mu_ held; nullopt = expired, revoke pending.
  std::optional<Result<int64_t>> RenewLocked(int64_t id);
  // Takes the waiters (of `id`, or all with id 0) to call outside mu_.
  std::vector<RenewCallback> TakeWaitersLocked(int64_t id);
  void RefreshLocked(int64_t id, Lease& l, Clock::duration extend);
  void ScheduleCheckpointLocked(int64_t id, Lease& l);
  void MaybeCompactHeapsLocked();
  static Clock::duration Seconds(int64_t s);

  Options opts_;
  mutable std::mutex mu_;
  bool primary_ = false;
  std::map<int64_t, Lease> leases_;
  MinHeap expiry_heap_;
  MinHeap checkpoint_heap_;
  std::vector<int64_t> pending_clears_;
  std::map<int64_t, std::vector<RenewCallback>> renew_waiters_;  // expired, revoke pending
  uint64_t id_seed_ = 0;
  uint64_t id_counter_ = 0;
};

}  // namespace etcdpp::lease
