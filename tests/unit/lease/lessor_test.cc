// The lessor over a real mvcc::Store with a fake clock.
#include "lease/lessor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "../mvcc/temp_dir.h"
#include "lease/apply.h"
#include "lease/proposals.h"
#include "mvcc/store.h"

namespace etcdpp::lease {
namespace {

using namespace std::chrono_literals;
using etcdpp::testing::TempDir;

class LessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OpenStore();
    lessor_ = std::make_unique<Lessor>(Opts());
  }
  Options Opts() {
    Options o;
    o.min_ttl_seconds = 2;
    o.now = [this] { return now_; };
    o.checkpoint = checkpoint_;
    return o;
  }
  void OpenStore() {
    store_.reset();
    auto s = mvcc::Store::Open(dir_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  std::unique_ptr<mvcc::Batch> Begin() {
    auto b = store_->BeginBatch();
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return std::move(*b);
  }
  int64_t Grant(int64_t id, int64_t ttl) {
    auto b = Begin();
    auto r = lessor_->Grant(*b, id, ttl);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(b->Commit().ok());
    return r.ok() ? *r : -1;
  }
  // A Put as the applier does it: lease check, write, attach from events.
  void Put(const std::string& k, int64_t lease) {
    if (lease != 0) {
      ASSERT_TRUE(lessor_->Exists(lease));
    }
    auto b = Begin();
    auto t = b->BeginTxn();
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE((*t)->Put(k, "v", lease).ok());
    lessor_->OnChanges((*t)->Changes());
    ASSERT_TRUE((*t)->End().ok());
    ASSERT_TRUE(b->Commit().ok());
  }
  std::vector<std::string> Keys(int64_t id) {
    auto i = lessor_->TimeToLive(id, true);
    EXPECT_TRUE(i.ok());
    return i.ok() ? i->keys : std::vector<std::string>{};
  }

  TempDir dir_;
  std::unique_ptr<mvcc::Store> store_;
  Clock::time_point now_ = Clock::time_point() + 1000h;
  bool checkpoint_ = false;
  std::unique_ptr<Lessor> lessor_;
};

TEST(MinLeaseTTL, EtcdFormula) {
  EXPECT_EQ(MinLeaseTTL(10, 100), 2);  // 1.5 s -> 2
  EXPECT_EQ(MinLeaseTTL(10, 200), 3);  // 3 s
  EXPECT_EQ(MinLeaseTTL(5, 100), 1);   // (15/2)=7 ticks * 100 ms = 0.7 s -> 1
  EXPECT_EQ(MinLeaseTTL(20, 1000), 30);
}

TEST_F(LessorTest, GrantErrorsAndMinTTL) {
  EXPECT_EQ(Grant(1, 1), 2);   // raised to the minimum
  EXPECT_EQ(Grant(2, -5), 2);  // negative too (etcd)
  EXPECT_EQ(Grant(3, 60), 60);
  EXPECT_EQ(Grant(-4, 10), 10);  // negative client ids are allowed (etcd)
  auto b = Begin();
  auto dup = lessor_->Grant(*b, 3, 10);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(dup.status().message(), kErrLeaseExists);
  auto big = lessor_->Grant(*b, 5, kMaxLeaseTTL + 1);
  EXPECT_EQ(big.status().code(), Code::kOutOfRange);
  EXPECT_EQ(big.status().message(), kErrLeaseTTLTooLarge);
  EXPECT_TRUE(lessor_->Grant(*b, 6, kMaxLeaseTTL).ok());  // the bound itself is fine
  EXPECT_EQ(lessor_->Grant(*b, 0, 10).status().code(), Code::kNotFound);
  auto rv = lessor_->Revoke(*b, 77);
  EXPECT_EQ(rv.status().code(), Code::kNotFound);
  EXPECT_EQ(rv.status().message(), kErrLeaseNotFound);
  ASSERT_TRUE(b->Commit().ok());
  EXPECT_EQ(lessor_->TimeToLive(77, false).status().code(), Code::kNotFound);
  EXPECT_EQ(lessor_->Leases(), (std::vector<int64_t>{-4, 1, 2, 3, 6}));
}

TEST_F(LessorTest, RevokeDeletesKeysAtOneRevision) {
  Grant(10, 60);
  Grant(11, 60);
  Put("b", 10);
  Put("a", 10);
  Put("c", 11);
  Put("d", 10);
  Put("d", 0);   // detached by a put without lease
  Put("c", 10);  // moved from 11 to 10
  EXPECT_EQ(Keys(10), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(Keys(11).empty());
  const int64_t before = store_->CurrentRev();

  auto b = Begin();
  std::vector<mvccpb::Event> events;
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(10);
  etcdserverpb::LeaseRevokeResponse resp;
  ASSERT_TRUE(ApplyRevoke(*lessor_, *b, req, &resp, &events).ok());
  ASSERT_TRUE(b->Commit().ok());
  EXPECT_EQ(store_->CurrentRev(), before + 1);
  ASSERT_EQ(events.size(), 3u);
  std::vector<std::string> keys;
  for (const auto& e : events) {
    EXPECT_EQ(e.type(), mvccpb::Event::DELETE);
    EXPECT_EQ(e.kv().mod_revision(), before + 1);
    keys.push_back(e.kv().key());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c"}));
  auto r = store_->Read();
  auto all = (*r)->Range(std::string_view("\0", 1), std::string_view("\0", 1), {});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->kvs.size(), 1u);
  EXPECT_EQ(all->kvs[0].key(), "d");
  EXPECT_FALSE(lessor_->Exists(10));
  auto rows = (*r)->Leases();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].first, 11);

  // A lease without keys: no revision at all.
  b = Begin();
  auto ev = lessor_->Revoke(*b, 11);
  ASSERT_TRUE(ev.ok());
  EXPECT_TRUE(ev->empty());
  ASSERT_TRUE(b->Commit().ok());
  EXPECT_EQ(store_->CurrentRev(), before + 1);
}

TEST_F(LessorTest, FollowerNeverExpiresAndRefusesRenew) {
  Grant(1, 5);
  now_ += 1h;
  EXPECT_TRUE(lessor_->ExpiredLeases(10).empty());
  auto r = lessor_->Renew(1);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(r.status().message(), kErrNotPrimary);
  auto i = lessor_->TimeToLive(1, false);
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->ttl, 5);
  EXPECT_EQ(i->remaining, 5);
}

TEST_F(LessorTest, ExpiryRenewAndRetry) {
  lessor_->Promote(0ms);
  Grant(1, 10);
  Grant(2, 5);
  now_ += 4s;
  EXPECT_TRUE(lessor_->ExpiredLeases(10).empty());
  auto t = lessor_->TimeToLive(1, false);
  EXPECT_EQ(t->remaining, 6);
  EXPECT_EQ(*lessor_->Renew(2), 5);  // now expires at +9
  now_ += 2s;                        // +6
  EXPECT_TRUE(lessor_->ExpiredLeases(10).empty());
  now_ += 4s;                                                           // +10
  EXPECT_EQ(lessor_->ExpiredLeases(10), (std::vector<int64_t>{2, 1}));  // earliest first
  EXPECT_TRUE(lessor_->ExpiredLeases(10).empty());                      // handed out once
  // Expired but not revoked yet: keepalive answers not found.
  EXPECT_EQ(lessor_->Renew(1).status().code(), Code::kNotFound);
  // The revoke of 2 was lost: both are handed out again after the retry interval.
  now_ += 7s;
  auto b = Begin();
  ASSERT_TRUE(lessor_->Revoke(*b, 1).ok());
  ASSERT_TRUE(b->Commit().ok());
  EXPECT_EQ(lessor_->ExpiredLeases(10), (std::vector<int64_t>{2}));
  EXPECT_EQ(lessor_->Renew(99).status().code(), Code::kNotFound);
}

// etcd's lessor.Renew on an expired lease waits for its revoke (then not
// found) or for a demotion (then not primary, and the caller retries).
TEST_F(LessorTest, RenewOrWaitWaitsForTheRevokeOfAnExpiredLease) {
  lessor_->Promote(0ms);
  Grant(1, 5);
  Grant(2, 5);
  Grant(3, 50);
  std::vector<std::pair<int64_t, std::string>> got;
  auto record = [&got](int64_t id) {
    return [&got, id](Result<int64_t> r, bool waited) {
      got.emplace_back(id, (waited ? "waited " : "now ") +
                               (r.ok() ? std::to_string(*r) : r.status().ToString()));
    };
  };
  lessor_->RenewOrWait(3, record(3));  // alive: renewed at once
  lessor_->RenewOrWait(9, record(9));  // unknown: not found at once
  now_ += 6s;
  lessor_->RenewOrWait(1, record(1));
  lessor_->RenewOrWait(2, record(2));
  lessor_->RenewOrWait(1, record(1));
  EXPECT_EQ(lessor_->RenewWaiters(), 3u);
  ASSERT_EQ(got.size(), 2u);
  auto b = Begin();
  ASSERT_TRUE(lessor_->Revoke(*b, 1).ok());
  ASSERT_TRUE(b->Commit().ok());
  EXPECT_EQ(lessor_->RenewWaiters(), 1u);
  lessor_->Demote();
  EXPECT_EQ(lessor_->RenewWaiters(), 0u);
  const std::string nf = Status::NotFound(kErrLeaseNotFound).ToString();
  const std::string np = Status::Unavailable(kErrNotPrimary).ToString();
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, std::string>>{{3, "now 50"},
                                                               {9, "now " + nf},
                                                               {1, "waited " + nf},
                                                               {1, "waited " + nf},
                                                               {2, "waited " + np}}));
}

TEST_F(LessorTest, HundredThousandLeasesExpireInOrder) {
  lessor_->Promote(0ms);
  constexpr int kN = 100000;
  auto b = Begin();
  for (int i = 1; i <= kN; ++i) {
    // ttl spread over 2..1001 s, ids not in ttl order
    ASSERT_TRUE(lessor_->Grant(*b, i, 2 + (static_cast<int64_t>(i) * 7919) % 1000).ok());
  }
  ASSERT_TRUE(b->Commit().ok());
  // Renewing everything many times must not grow memory without bound.
  for (int round = 0; round < 3; ++round) {
    for (int i = 1; i <= kN; ++i)
      ASSERT_TRUE(lessor_->Renew(i).ok());
  }
  now_ += 1001s;
  std::vector<int64_t> all;
  for (;;) {
    auto batch = lessor_->ExpiredLeases(1000);
    if (batch.empty()) break;
    EXPECT_LE(batch.size(), 1000u);
    all.insert(all.end(), batch.begin(), batch.end());
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kN));
  auto ttl_of = [](int64_t i) { return 2 + (i * 7919) % 1000; };
  for (size_t k = 1; k < all.size(); ++k) {
    ASSERT_LE(ttl_of(all[k - 1]), ttl_of(all[k])) << k;
  }
}

TEST_F(LessorTest, NextDeadline) {
  EXPECT_EQ(lessor_->NextDeadline(), Clock::time_point::max());
  lessor_->Promote(0ms);
  Grant(1, 30);
  Grant(2, 10);
  EXPECT_EQ(lessor_->NextDeadline(), now_ + 10s);
}

TEST_F(LessorTest, PromoteWithoutCheckpointRestoresFullTTL) {
  lessor_->Promote(0ms);
  Grant(1, 100);
  now_ += 60s;
  lessor_->Demote();
  EXPECT_TRUE(lessor_->CheckpointsDue().empty());
  lessor_->Promote(1s);  // a new term: full TTL again + extend (gate off, etcd default)
  EXPECT_EQ(lessor_->TimeToLive(1, false)->remaining, 101);
}

TEST_F(LessorTest, CheckpointKeepsRemainingAcrossLeaderChange) {
  checkpoint_ = true;
  lessor_ = std::make_unique<Lessor>(Opts());
  lessor_->Promote(0ms);
  Grant(1, 1000);
  Grant(2, 100);  // shorter than the 5 min interval: never checkpointed
  now_ += 299s;
  EXPECT_TRUE(lessor_->CheckpointsDue().empty());
  now_ += 1s;
  auto due = lessor_->CheckpointsDue();
  ASSERT_EQ(due, (std::vector<std::pair<int64_t, int64_t>>{{1, 700}}));
  // The leader proposes it; every member applies it.
  auto b = Begin();
  etcdserverpb::LeaseCheckpointRequest req;
  auto* cp = req.add_checkpoints();
  cp->set_id(1);
  cp->set_remaining_ttl(700);
  etcdserverpb::LeaseCheckpointResponse resp;
  ASSERT_TRUE(ApplyCheckpoint(*lessor_, *b, req, &resp).ok());
  ASSERT_TRUE(b->Commit().ok());

  // Leadership moves (here: to this member again after a restart).
  lessor_->Demote();
  lessor_ = std::make_unique<Lessor>(Opts());
  auto r = store_->Read();
  ASSERT_TRUE(lessor_->Load(**r).ok());
  now_ += 100s;
  lessor_->Promote(0ms);
  EXPECT_EQ(lessor_->TimeToLive(1, false)->remaining, 700);
  EXPECT_EQ(lessor_->TimeToLive(2, false)->remaining, 100);

  // A keepalive clears the checkpoint through raft and restores the full TTL.
  EXPECT_EQ(*lessor_->Renew(1), 1000);
  EXPECT_EQ(lessor_->TimeToLive(1, false)->remaining, 1000);
  EXPECT_EQ(lessor_->NextDeadline(), now_);
  EXPECT_EQ(lessor_->CheckpointsDue(), (std::vector<std::pair<int64_t, int64_t>>{{1, 0}}));
  EXPECT_TRUE(lessor_->CheckpointsDue().empty());
}

TEST_F(LessorTest, LoadAfterReopenRestoresLeasesAndKeys) {
  Grant(5, 30);
  Grant(6, 40);
  Put("x", 5);
  Put("y", 6);
  Put("z", 5);
  Put("y", 5);
  lessor_.reset();
  OpenStore();
  lessor_ = std::make_unique<Lessor>(Opts());
  auto r = store_->Read();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(lessor_->Load(**r).ok());
  r = Result<std::unique_ptr<mvcc::ReadTxn>>(Status::Internal("released"));
  EXPECT_EQ(lessor_->Leases(), (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(Keys(5), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_TRUE(Keys(6).empty());
  EXPECT_EQ(lessor_->TimeToLive(6, false)->ttl, 40);
  // Revoke after the restore still deletes the keys.
  auto b = Begin();
  auto ev = lessor_->Revoke(*b, 5);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->size(), 3u);
  ASSERT_TRUE(b->Commit().ok());
}

TEST_F(LessorTest, SnapshotRestoreReplacesLeases) {
  Grant(1, 30);
  Put("a", 1);
  const std::string snap = dir_.path() + "/snap.db";
  ASSERT_TRUE(store_->SnapshotTo(snap).ok());
  // Diverge after the snapshot: new lease, key moved, lease 1 revoked.
  Grant(2, 30);
  Put("b", 2);
  auto b = Begin();
  ASSERT_TRUE(lessor_->Revoke(*b, 1).ok());
  ASSERT_TRUE(b->Commit().ok());
  b.reset();
  ASSERT_TRUE(store_->RestoreFrom(snap).ok());
  {
    auto r = store_->Read();
    ASSERT_TRUE(lessor_->Load(**r).ok());
  }
  EXPECT_EQ(lessor_->Leases(), (std::vector<int64_t>{1}));
  EXPECT_EQ(Keys(1), (std::vector<std::string>{"a"}));
}

TEST_F(LessorTest, DueProposalsAreRevokesAndOneCheckpointBatch) {
  checkpoint_ = true;
  lessor_ = std::make_unique<Lessor>(Opts());
  Grant(1, 5);
  Grant(2, 1000);
  Grant(3, 1000);
  now_ += 1h;
  EXPECT_TRUE(DueProposals(*lessor_).empty());  // follower: nothing
  lessor_->Promote(0ms);
  now_ += 300s;
  auto ps = DueProposals(*lessor_, 10);
  ASSERT_EQ(ps.size(), 2u);
  ASSERT_TRUE(ps[0].has_lease_revoke());
  EXPECT_EQ(ps[0].lease_revoke().id(), 1);
  ASSERT_TRUE(ps[1].has_lease_checkpoint());
  ASSERT_EQ(ps[1].lease_checkpoint().checkpoints_size(), 2);
  EXPECT_EQ(ps[1].lease_checkpoint().checkpoints(0).id(), 2);
  EXPECT_EQ(ps[1].lease_checkpoint().checkpoints(0).remaining_ttl(), 700);
  EXPECT_TRUE(DueProposals(*lessor_, 10).empty());
}

TEST_F(LessorTest, NextIdIsPositiveUniqueAndFree) {
  lessor_->SeedIds(0xabcd);
  int64_t prev = 0;
  for (int i = 0; i < 1000; ++i) {
    int64_t id = lessor_->NextId();
    EXPECT_GT(id, 0);
    EXPECT_NE(id, prev);
    prev = id;
  }
  Grant(prev + 1, 10);  // the next candidate is taken: skipped
  EXPECT_NE(lessor_->NextId(), prev + 1);
}

TEST_F(LessorTest, PromoteSpreadsPileUps) {
  auto b = Begin();
  for (int i = 1; i <= 3000; ++i)
    ASSERT_TRUE(lessor_->Grant(*b, i, 10).ok());
  ASSERT_TRUE(b->Commit().ok());
  lessor_->Promote(0ms);
  // All would expire at +10 s; at most 750 per second may (the rest are
  // pushed back by expires/750 s).
  now_ += 10s;
  EXPECT_EQ(lessor_->ExpiredLeases(100000).size(), 750u);
  now_ += 2s;
  EXPECT_EQ(lessor_->ExpiredLeases(100000).size(), 750u);
  now_ += 2s;  // +14 s: the last pushed back by 3000/750 s; no retry due yet
  EXPECT_EQ(lessor_->ExpiredLeases(100000).size(), 1500u);
}

}  // namespace
}  // namespace etcdpp::lease
