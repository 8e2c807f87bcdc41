// The raft loop with an in-memory WAL: group commit, ordering (persist before
// apply), and a failing WAL.
#include "server/raft_node.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

namespace etcdpp::server {
namespace {

// An in-memory wal::Wal that records Saves and can hold one Save until the
// test releases it (so proposals pile up deterministically) or fail.
class FakeWal : public wal::Wal {
 public:
  Result<wal::ReadResult> ReadAll() override { return wal::ReadResult{}; }
  Status Save(const raft::HardState& hs, const std::vector<raft::Entry>& entries,
              bool sync) override {
    std::unique_lock<std::mutex> lock(mu);
    saves++;
    if (sync) syncs++;
    in_save = true;
    cv.notify_all();
    cv.wait(lock, [&] { return !hold; });
    in_save = false;
    if (!fail.ok()) return fail;
    if (!hs.empty()) last_hs = hs;
    for (const auto& e : entries)
      persisted.push_back(e);
    return Status::OK();
  }
  Status SaveSnapshot(wal::WalSnapshot) override { return Status::OK(); }
  Status PurgeTo(uint64_t) override { return Status::OK(); }
  uint64_t LastIndex() const override {
    std::lock_guard<std::mutex> lock(mu);
    return persisted.empty() ? 0 : persisted.back().index;
  }
  Status Close() override { return Status::OK(); }

  void WaitInSave() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return in_save; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    hold = false;
    cv.notify_all();
  }

  mutable std::mutex mu;
  std::condition_variable cv;
  bool hold = false;
  bool in_save = false;
  Status fail;
  int saves = 0;
  int syncs = 0;
  raft::HardState last_hs;
  std::vector<raft::Entry> persisted;
};

struct Sink {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<raft::Entry> applied;
  FakeWal* wal = nullptr;
  bool persisted_first = true;

  void Add(std::vector<raft::Entry> es) {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& e : es) {
      // The ordering duty: an entry reaches the applier only once durable.
      if (wal->LastIndex() < e.index) persisted_first = false;
      applied.push_back(std::move(e));
    }
    cv.notify_all();
  }
  void WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return applied.size() >= n; });
  }
};

constexpr uint64_t kId = 0x8e9e05c52164694dull;

TEST(SoloRaft, CampaignBumpsTermAndCommitsOnPersist) {
  SoloRaft r(kId, raft::HardState{3, kId, 7}, 7, 3);
  EXPECT_FALSE(r.HasReady());
  EXPECT_EQ(r.Propose("early").code(), Code::kUnavailable);  // not leader yet
  ASSERT_TRUE(r.Campaign().ok());
  EXPECT_EQ(r.term(), 4u);
  ASSERT_TRUE(r.Propose("a").ok());
  ASSERT_TRUE(r.HasReady());
  Ready rd = r.Ready();
  EXPECT_TRUE(rd.must_sync);
  EXPECT_EQ(rd.hard_state, (raft::HardState{4, kId, 9}));
  ASSERT_EQ(rd.entries.size(), 2u);
  EXPECT_EQ(rd.entries[0].index, 8u);
  EXPECT_TRUE(rd.entries[0].data.empty());  // the new leader's empty entry
  EXPECT_EQ(rd.entries[1].index, 9u);
  EXPECT_EQ(rd.entries[1].term, 4u);
  EXPECT_EQ(rd.committed_entries, rd.entries);
  EXPECT_FALSE(r.HasReady());  // until Advance
  r.Advance(rd);
  EXPECT_FALSE(r.HasReady());
}

TEST(RaftNode, GroupCommitUsesFewerSyncsThanProposals) {
  FakeWal wal;
  WaitRegistry wait;
  Sink sink;
  sink.wal = &wal;
  wal.hold = true;  // the campaign's Save blocks until every proposal is queued
  RaftNode node(std::make_unique<SoloRaft>(kId, raft::HardState{}, 0, 0), &wal, &wait,
                [&](std::vector<raft::Entry> es) { sink.Add(std::move(es)); }, {});
  node.Start();
  wal.WaitInSave();
  constexpr int kN = 100;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kN / 4; i++) {
        ASSERT_TRUE(node.Propose(t * 1000 + i + 1, std::to_string(t * 1000 + i)).ok());
      }
    });
  }
  for (auto& t : ts)
    t.join();
  wal.Release();
  sink.WaitFor(kN + 1);  // + the leader's empty entry
  node.Stop();
  // One Save for the campaign, one for all 100 queued proposals.
  EXPECT_EQ(wal.saves, 2);
  EXPECT_LT(wal.syncs, kN);
  EXPECT_TRUE(sink.persisted_first);
  EXPECT_EQ(wal.last_hs.term, 1u);
  EXPECT_EQ(wal.last_hs.vote, kId);
  EXPECT_EQ(wal.last_hs.commit, static_cast<uint64_t>(kN + 1));
  EXPECT_EQ(node.CommitIndex(), static_cast<uint64_t>(kN + 1));
  for (size_t i = 0; i < sink.applied.size(); i++)
    EXPECT_EQ(sink.applied[i].index, i + 1);
}

TEST(RaftNode, StopHandlesEverythingProposedBefore) {
  FakeWal wal;
  WaitRegistry wait;
  Sink sink;
  sink.wal = &wal;
  RaftNode node(std::make_unique<SoloRaft>(kId, raft::HardState{2, kId, 5}, 5, 2), &wal, &wait,
                [&](std::vector<raft::Entry> es) { sink.Add(std::move(es)); }, {});
  node.Start();
  for (int i = 0; i < 50; i++)
    ASSERT_TRUE(node.Propose(i + 1, "x").ok());
  node.Stop();
  EXPECT_EQ(sink.applied.size(), 51u);
  EXPECT_EQ(sink.applied.front().index, 6u);
  EXPECT_EQ(sink.applied.back().index, 56u);
  EXPECT_EQ(sink.applied.back().term, 3u);
  EXPECT_EQ(node.Propose(99, "late").code(), Code::kUnavailable);
}

TEST(RaftNode, WalFailureFailsBatchAndRejectsLaterWrites) {
  FakeWal wal;
  WaitRegistry wait;
  Sink sink;
  sink.wal = &wal;
  RaftNode node(std::make_unique<SoloRaft>(kId, raft::HardState{}, 0, 0), &wal, &wait,
                [&](std::vector<raft::Entry> es) { sink.Add(std::move(es)); }, {});
  node.Start();
  sink.WaitFor(1);  // the campaign entry is durable
  {
    std::lock_guard<std::mutex> lock(wal.mu);
    wal.fail = Status::IOError("write: no space left on device");
  }
  std::mutex mu;
  std::condition_variable cv;
  Status got;
  bool done = false;
  wait.Register(42, [&](const Status& st, internalpb::InternalResponse*) {
    std::lock_guard<std::mutex> lock(mu);
    got = st;
    done = true;
    cv.notify_all();
  });
  ASSERT_TRUE(node.Propose(42, "doomed").ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
  }
  EXPECT_EQ(got.code(), Code::kIOError);
  EXPECT_NE(got.message().find("no space left"), std::string::npos);
  // Never acknowledged, never applied; later writes are refused at once.
  EXPECT_EQ(sink.applied.size(), 1u);
  EXPECT_EQ(node.Propose(43, "later").code(), Code::kIOError);
  EXPECT_FALSE(node.WalError().ok());
  node.Stop();
}

}  // namespace
}  // namespace etcdpp::server

namespace etcdpp::server {
namespace {

// The loop on the real WAL: concurrent proposals, then reopen and read back
// every entry in order with the last hard state.
TEST(RaftNode, RealWalRoundTrip) {
  char tmpl[] = "/tmp/etcdpp-raftnode-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = std::string(tmpl) + "/wal";
  {
    auto w = wal::Wal::Create(dir, "meta");
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    WaitRegistry wait;
    std::mutex mu;
    std::condition_variable cv;
    size_t applied = 0;
    RaftNode node(std::make_unique<SoloRaft>(kId, raft::HardState{1, 0, 0}, 0, 0), w->get(), &wait,
                  [&](std::vector<raft::Entry> es) {
                    std::lock_guard<std::mutex> lock(mu);
                    applied += es.size();
                    cv.notify_all();
                  },
                  {});
    node.Start();
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; t++) {
      ts.emplace_back([&, t] {
        for (int i = 0; i < 50; i++)
          ASSERT_TRUE(node.Propose(t * 100 + i + 1, "d").ok());
      });
    }
    for (auto& t : ts)
      t.join();
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return applied == 201; });
    }
    node.Stop();
    EXPECT_LT(node.SaveCount(), 201u);  // group commit happened at least once
    ASSERT_TRUE((*w)->Close().ok());
  }
  auto w = wal::Wal::Open(dir, wal::WalSnapshot{});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto rr = (*w)->ReadAll();
  ASSERT_TRUE(rr.ok()) << rr.status().ToString();
  EXPECT_EQ(rr->metadata, "meta");
  ASSERT_EQ(rr->entries.size(), 201u);
  for (size_t i = 0; i < rr->entries.size(); i++)
    EXPECT_EQ(rr->entries[i].index, i + 1);
  EXPECT_EQ(rr->hard_state.term, 2u);
  EXPECT_EQ(rr->hard_state.vote, kId);
  EXPECT_EQ(rr->hard_state.commit, 201u);
  (void)(*w)->Close();
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace etcdpp::server
