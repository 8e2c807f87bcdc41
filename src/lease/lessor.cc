#include "lease/lessor.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "mvcc/revision.h"

namespace etcdpp::lease {
namespace {

constexpr Clock::time_point kForever = Clock::time_point::max();

// t + d without overflowing into the past (TTLs go up to ~285 years, close to
// the range of a nanosecond steady clock).
Clock::time_point AddSat(Clock::time_point t, Clock::duration d) {
  if (t == kForever) return kForever;
  if (d.count() > 0 &&
      t.time_since_epoch().count() > kForever.time_since_epoch().count() - d.count()) {
    return kForever;
  }
  return t + d;
}

}  // namespace

int64_t MinLeaseTTL(int64_t election_ticks, int64_t heartbeat_ms) {
  const int64_t ms = ((3 * election_ticks) / 2) * heartbeat_ms;
  return (ms + 999) / 1000;  // ceil to whole seconds
}

Lessor::Lessor(Options opts) : opts_(std::move(opts)) {
  if (!opts_.now) opts_.now = [] { return Clock::now(); };
  SeedIds(0);
}

Clock::time_point Lessor::Now() const {
  return opts_.now();
}

Clock::duration Lessor::Seconds(int64_t s) {
  // Clamp: beyond this the expiry saturates to forever anyway.
  constexpr int64_t kMaxS = std::numeric_limits<Clock::duration::rep>::max() / 1'000'000'000 - 1;
  return std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(std::min(s, kMaxS)));
}

std::string Lessor::EncodeRow(int64_t ttl, int64_t remaining) {
  std::string s(16, '\0');
  mvcc::PutBE64(s.data(), static_cast<uint64_t>(ttl));
  mvcc::PutBE64(s.data() + 8, static_cast<uint64_t>(remaining));
  return s;
}

bool Lessor::DecodeRow(std::string_view v, int64_t* ttl, int64_t* remaining) {
  if (v.size() != 16) return false;
  *ttl = static_cast<int64_t>(mvcc::GetBE64(v.data()));
  *remaining = static_cast<int64_t>(mvcc::GetBE64(v.data() + 8));
  return true;
}

// ---------------------------------------------------------------- apply side

Result<int64_t> Lessor::Grant(mvcc::Batch& batch, int64_t id, int64_t ttl) {
  if (id == 0) return Status::NotFound(kErrLeaseNotFound);  // etcd NoLease
  if (ttl > kMaxLeaseTTL) return Status::OutOfRange(kErrLeaseTTLTooLarge);
  std::lock_guard<std::mutex> lk(mu_);
  if (leases_.count(id) != 0) return Status::FailedPrecondition(kErrLeaseExists);
  // etcd raises short (and negative) TTLs to the minimum so a lease cannot
  // expire before a new leader could take over.
  if (ttl < opts_.min_ttl_seconds) ttl = opts_.min_ttl_seconds;
  ETCDPP_RETURN_IF_ERROR(batch.PutLease(id, EncodeRow(ttl, 0)));
  Lease& l = leases_[id];
  l.ttl = ttl;
  if (primary_) {
    RefreshLocked(id, l, Clock::duration::zero());
    ScheduleCheckpointLocked(id, l);
  }
  return ttl;
}

Result<std::vector<mvccpb::Event>> Lessor::Revoke(mvcc::Batch& batch, int64_t id) {
  std::vector<std::string> keys;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = leases_.find(id);
    if (it == leases_.end()) return Status::NotFound(kErrLeaseNotFound);
    keys.assign(it->second.keys.begin(), it->second.keys.end());  // sorted (std::set)
  }
  // The store is touched without the lock: only the applier thread writes,
  // and gRPC readers must not wait on LMDB.
  std::vector<mvccpb::Event> events;
  if (!keys.empty()) {
    auto txn = batch.BeginTxn();
    if (!txn.ok()) return txn.status();
    for (const auto& k : keys) {
      auto d = (*txn)->DeleteRange(k, "");
      if (!d.ok()) {
        Status ab = (*txn)->Abort();
        (void)(*txn)->End();
        (void)ab;
        return d.status();
      }
    }
    events = (*txn)->Changes();  // before End(), which clears them
    ETCDPP_RETURN_IF_ERROR((*txn)->End());
  }
  ETCDPP_RETURN_IF_ERROR(batch.DeleteLease(id));
  std::vector<RenewCallback> waiters;
  {
    std::lock_guard<std::mutex> lk(mu_);
    leases_.erase(id);  // stale heap entries are skipped when they surface
    waiters = TakeWaitersLocked(id);
  }
  // The batch commits after this (see RenewOrWait).
  for (auto& cb : waiters)
    cb(Status::NotFound(kErrLeaseNotFound), true);
  return events;
}

Status Lessor::Checkpoint(mvcc::Batch& batch, int64_t id, int64_t remaining_ttl) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return Status::OK();  // revoked meanwhile: etcd ignores it
  Lease& l = it->second;
  // Only the remaining TTL changes; Promote turns it into an expiry.
  l.remaining = remaining_ttl;
  if (opts_.checkpoint_persist) {
    ETCDPP_RETURN_IF_ERROR(batch.PutLease(id, EncodeRow(l.ttl, l.remaining)));
  }
  if (primary_) ScheduleCheckpointLocked(id, l);
  return Status::OK();
}

bool Lessor::Exists(int64_t id) const {
  std::lock_guard<std::mutex> lk(mu_);
  return leases_.count(id) != 0;
}

void Lessor::OnChanges(const std::vector<mvccpb::Event>& events) {
  for (const auto& ev : events) {
    const int64_t old_lease = ev.has_prev_kv() ? ev.prev_kv().lease() : 0;
    const int64_t new_lease = ev.type() == mvccpb::Event::PUT ? ev.kv().lease() : 0;
    if (old_lease != new_lease) Move(ev.kv().key(), old_lease, new_lease);
  }
}

void Lessor::Move(std::string_view key, int64_t old_lease, int64_t new_lease) {
  if (old_lease == new_lease) return;
  std::lock_guard<std::mutex> lk(mu_);
  if (old_lease != 0) {
    auto it = leases_.find(old_lease);
    if (it != leases_.end()) it->second.keys.erase(std::string(key));
  }
  if (new_lease != 0) {
    auto it = leases_.find(new_lease);
    if (it != leases_.end()) it->second.keys.emplace(key);
  }
}

// ---------------------------------------------------------------- time side

void Lessor::RefreshLocked(int64_t id, Lease& l, Clock::duration extend) {
  const int64_t secs = l.remaining > 0 ? l.remaining : l.ttl;
  l.expiry = AddSat(AddSat(Now(), extend), Seconds(secs));
  l.expiry_key = l.expiry;
  expiry_heap_.push(HeapItem{l.expiry, id});
  MaybeCompactHeapsLocked();
}

void Lessor::ScheduleCheckpointLocked(int64_t id, Lease& l) {
  if (!opts_.checkpoint) return;
  const int64_t left = l.remaining > 0 ? l.remaining : l.ttl;
  const auto interval_s =
      std::chrono::duration_cast<std::chrono::seconds>(opts_.checkpoint_interval);
  // etcd: only leases that outlive one interval need a checkpoint.
  if (left <= interval_s.count()) return;
  l.checkpoint_at = Now() + opts_.checkpoint_interval;
  checkpoint_heap_.push(HeapItem{l.checkpoint_at, id});
}

// Renewals leave stale heap entries behind; rebuild when they dominate so
// memory stays proportional to the number of leases.
void Lessor::MaybeCompactHeapsLocked() {
  auto rebuild = [&](MinHeap& heap, auto key_of) {
    if (heap.size() <= 2 * leases_.size() + 1024) return;
    std::vector<HeapItem> items;
    items.reserve(leases_.size());
    for (auto& [id, l] : leases_) {
      const Clock::time_point t = key_of(l);
      if (t != kForever) items.push_back(HeapItem{t, id});
    }
    heap = MinHeap(std::greater<HeapItem>(), std::move(items));
  };
  rebuild(expiry_heap_, [](const Lease& l) { return l.expiry_key; });
  rebuild(checkpoint_heap_, [](const Lease& l) { return l.checkpoint_at; });
}

void Lessor::SetCheckpointInterval(std::chrono::milliseconds interval) {
  std::lock_guard<std::mutex> lk(mu_);
  opts_.checkpoint_interval = interval;
}

void Lessor::Promote(std::chrono::milliseconds extend) {
  std::lock_guard<std::mutex> lk(mu_);
  primary_ = true;
  expiry_heap_ = MinHeap();
  checkpoint_heap_ = MinHeap();
  pending_clears_.clear();
  for (auto& [id, l] : leases_) {
    RefreshLocked(id, l, extend);
    ScheduleCheckpointLocked(id, l);
  }
  if (leases_.size() < static_cast<size_t>(kLeaseRevokeRate)) return;
  // Spread pile-ups (etcd): walking leases by expiry in one-second windows,
  // every lease beyond 3/4 of the revoke rate in a window is pushed back in
  // proportion, so the new leader does not revoke a burst at once.
  const Clock::time_point now = Now();
  std::vector<std::pair<Clock::time_point, int64_t>> order;
  order.reserve(leases_.size());
  for (auto& [id, l] : leases_)
    order.emplace_back(l.expiry, id);
  std::sort(order.begin(), order.end());
  const auto second = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1));
  Clock::duration base = order.front().first - now;
  Clock::duration next = base + second;
  int64_t expires = 0;
  const int64_t target = (3 * kLeaseRevokeRate) / 4;
  for (const auto& [t, id] : order) {
    if (t == kForever) break;
    const Clock::duration remaining = t - now;
    if (remaining > next) {
      base = remaining;
      next = base + second;
      expires = 1;
      continue;
    }
    ++expires;
    if (expires <= target) continue;
    const auto rate_delay = Clock::duration(static_cast<Clock::duration::rep>(
        static_cast<double>(second.count()) * static_cast<double>(expires) /
        static_cast<double>(target)));
    const Clock::duration delay = base - remaining + rate_delay;
    RefreshLocked(id, leases_[id], delay + extend);
  }
}

void Lessor::Demote() {
  std::vector<RenewCallback> waiters;
  {
    std::lock_guard<std::mutex> lk(mu_);
    primary_ = false;
    for (auto& [id, l] : leases_) {
      l.expiry = kForever;
      l.expiry_key = kForever;
      l.checkpoint_at = kForever;
    }
    expiry_heap_ = MinHeap();
    checkpoint_heap_ = MinHeap();
    pending_clears_.clear();
    waiters = TakeWaitersLocked(0);
  }
  // etcd: the expired lease may never be revoked by this member now; the
  // caller retries on the new leader.
  for (auto& cb : waiters)
    cb(Status::Unavailable(kErrNotPrimary), true);
}

bool Lessor::IsPrimary() const {
  std::lock_guard<std::mutex> lk(mu_);
  return primary_;
}

Result<int64_t> Lessor::Renew(int64_t id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto r = RenewLocked(id);
  // Expired, revoke pending: not renewed (that would resurrect a lease the
  // leader is deleting); RenewOrWait waits for the revoke as etcd does.
  if (!r) return Status::NotFound(kErrLeaseNotFound);
  return *r;
}

void Lessor::RenewOrWait(int64_t id, RenewCallback cb) {
  std::optional<Result<int64_t>> r;
  {
    std::lock_guard<std::mutex> lk(mu_);
    r = RenewLocked(id);
    if (!r) {
      renew_waiters_[id].push_back(std::move(cb));
      return;
    }
  }
  cb(std::move(*r), false);
}

size_t Lessor::RenewWaiters() const {
  std::lock_guard<std::mutex> lk(mu_);
  size_t n = 0;
  for (const auto& [id, v] : renew_waiters_)
    n += v.size();
  return n;
}

std::vector<Lessor::RenewCallback> Lessor::TakeWaitersLocked(int64_t id) {
  std::vector<RenewCallback> out;
  if (id == 0) {
    for (auto& [lid, v] : renew_waiters_) {
      for (auto& cb : v)
        out.push_back(std::move(cb));
    }
    renew_waiters_.clear();
    return out;
  }
  auto it = renew_waiters_.find(id);
  if (it == renew_waiters_.end()) return out;
  out = std::move(it->second);
  renew_waiters_.erase(it);
  return out;
}

std::optional<Result<int64_t>> Lessor::RenewLocked(int64_t id) {
  if (!primary_) return Result<int64_t>(Status::Unavailable(kErrNotPrimary));
  auto it = leases_.find(id);
  if (it == leases_.end()) return Result<int64_t>(Status::NotFound(kErrLeaseNotFound));
  Lease& l = it->second;
  if (l.expiry <= Now()) return std::nullopt;
  // etcd clears a checkpointed remaining TTL through raft (at most 2 entries
  // per lease per checkpoint interval); the full TTL applies from now on.
  if (opts_.checkpoint && l.remaining > 0) pending_clears_.push_back(id);
  const int64_t remaining = l.remaining;
  l.remaining = 0;  // locally at once; the clearing checkpoint makes it durable
  RefreshLocked(id, l, Clock::duration::zero());
  l.remaining = remaining;
  return l.ttl;
}

std::vector<int64_t> Lessor::ExpiredLeases(size_t max) {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<int64_t> out;
  if (!primary_) return out;
  const Clock::time_point now = Now();
  while (out.size() < max && !expiry_heap_.empty()) {
    const HeapItem top = expiry_heap_.top();
    if (top.t > now) break;
    expiry_heap_.pop();
    auto it = leases_.find(top.id);
    if (it == leases_.end() || it->second.expiry_key != top.t) continue;  // stale
    out.push_back(top.id);
    // If the revoke never applies (lost proposal, leader change), hand the
    // lease out again later (etcd: expiredLeaseRetryInterval).
    it->second.expiry_key = AddSat(now, opts_.expired_retry_interval);
    expiry_heap_.push(HeapItem{it->second.expiry_key, top.id});
  }
  return out;
}

std::vector<std::pair<int64_t, int64_t>> Lessor::CheckpointsDue() {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::pair<int64_t, int64_t>> out;
  if (!primary_ || !opts_.checkpoint) return out;
  for (int64_t id : pending_clears_) {
    if (out.size() >= kMaxCheckpointBatch) break;
    if (leases_.count(id) != 0) out.emplace_back(id, 0);
  }
  pending_clears_.erase(pending_clears_.begin(),
                        pending_clears_.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                      out.size(), pending_clears_.size())));
  const Clock::time_point now = Now();
  while (out.size() < kMaxCheckpointBatch && !checkpoint_heap_.empty()) {
    const HeapItem top = checkpoint_heap_.top();
    if (top.t > now) break;
    checkpoint_heap_.pop();
    auto it = leases_.find(top.id);
    if (it == leases_.end() || it->second.checkpoint_at != top.t) continue;
    Lease& l = it->second;
    l.checkpoint_at = kForever;  // the applied checkpoint schedules the next one
    const double left_s = std::chrono::duration<double>(l.expiry - now).count();
    const auto remaining = static_cast<int64_t>(std::ceil(left_s));
    if (remaining >= l.ttl) {  // nothing to save yet (just renewed); look again later
      ScheduleCheckpointLocked(top.id, l);
      continue;
    }
    out.emplace_back(top.id, std::max<int64_t>(remaining, 1));
  }
  return out;
}

Clock::time_point Lessor::NextDeadline() const {
  std::lock_guard<std::mutex> lk(mu_);
  if (!primary_) return kForever;
  if (!pending_clears_.empty()) return Now();
  Clock::time_point t = kForever;
  if (!expiry_heap_.empty()) t = std::min(t, expiry_heap_.top().t);
  if (!checkpoint_heap_.empty()) t = std::min(t, checkpoint_heap_.top().t);
  return t;
}

Result<LeaseInfo> Lessor::TimeToLive(int64_t id, bool with_keys) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = leases_.find(id);
  if (it == leases_.end()) return Status::NotFound(kErrLeaseNotFound);
  const Lease& l = it->second;
  LeaseInfo info;
  info.id = id;
  info.ttl = l.ttl;
  if (primary_ && l.expiry != kForever) {
    // etcd truncates the remaining duration to whole seconds.
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(l.expiry - Now()).count();
    info.remaining = std::max<int64_t>(left, 0);
  } else {
    info.remaining = l.remaining > 0 ? l.remaining : l.ttl;
  }
  if (with_keys) info.keys.assign(l.keys.begin(), l.keys.end());
  return info;
}

std::vector<int64_t> Lessor::Leases() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<int64_t> out;
  out.reserve(leases_.size());
  for (const auto& [id, l] : leases_)
    out.push_back(id);
  return out;
}

size_t Lessor::Size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return leases_.size();
}

void Lessor::SeedIds(uint64_t member_id) {
  std::lock_guard<std::mutex> lk(mu_);
  // etcd's idutil layout: 16 bits of member id, then a counter started from
  // the wall clock in ms, so ids differ across members and restarts.
  const auto ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  id_seed_ = (member_id & 0xffff) << 48;
  id_counter_ = (ms << 8) & ((uint64_t{1} << 48) - 1);
}

int64_t Lessor::NextId() {
  std::lock_guard<std::mutex> lk(mu_);
  for (;;) {
    id_counter_ = (id_counter_ + 1) & ((uint64_t{1} << 48) - 1);
    // Only positive int64 ids (etcd masks the sign bit).
    const auto id = static_cast<int64_t>((id_seed_ | id_counter_) & ((uint64_t{1} << 63) - 1));
    if (id != 0 && leases_.count(id) == 0) return id;
  }
}

// ---------------------------------------------------------------- restore

Status Lessor::Load(mvcc::ReadTxn& txn) {
  auto rows = txn.Leases();
  if (!rows.ok()) return rows.status();
  auto keys = txn.LeasedKeys();
  if (!keys.ok()) return keys.status();
  std::map<int64_t, Lease> leases;
  for (const auto& [id, v] : *rows) {
    Lease l;
    if (!DecodeRow(v, &l.ttl, &l.remaining)) {
      return Status::Corruption("lease: bad row for lease " + std::to_string(id));
    }
    leases.emplace(id, std::move(l));
  }
  // A key naming a lease that is gone is left alone (etcd logs and goes on).
  for (auto& [lease, key] : *keys) {
    auto it = leases.find(lease);
    if (it != leases.end()) it->second.keys.insert(std::move(key));
  }
  std::vector<RenewCallback> waiters;
  {
    std::lock_guard<std::mutex> lk(mu_);
    leases_ = std::move(leases);
    expiry_heap_ = MinHeap();
    checkpoint_heap_ = MinHeap();
    pending_clears_.clear();
    waiters = TakeWaitersLocked(0);
    if (primary_) {
      // A leader that restores keeps expiring (etcd: forever until Promote;
      // here the leader would otherwise never expire the restored leases).
      for (auto& [id, l] : leases_) {
        RefreshLocked(id, l, Clock::duration::zero());
        ScheduleCheckpointLocked(id, l);
      }
    }
  }
  // Their leases were replaced: let them ask again.
  for (auto& cb : waiters)
    cb(Status::Unavailable(kErrNotPrimary), true);
  return Status::OK();
}

}  // namespace etcdpp::lease
