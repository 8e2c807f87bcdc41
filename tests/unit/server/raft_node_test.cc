// The raft loop with an in-memory WAL: group commit, ordering (persist before
// apply), and a failing WAL.
#include "server/raft_node.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "raft/codec.h"

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

// The WAL's log of a member: the bootstrap entry, then entries 2..n of `term`.
std::vector<raft::Entry> Log(uint64_t n, uint64_t term) {
  std::vector<raft::Entry> es{BootstrapEntry(kId)};
  for (uint64_t i = 2; i <= n; i++) {
    raft::Entry e;
    e.index = i;
    e.term = term;
    es.push_back(e);
  }
  return es;
}

RaftState NewMember() {
  return RaftState{kId, BootstrapHardState(), Log(1, 1), 1};
}

TEST(RaftNode, BootstrapEntryIsEtcdsAddNode) {
  raft::Entry e = BootstrapEntry(kId);
  EXPECT_EQ(e.index, 1u);
  EXPECT_EQ(e.term, 1u);
  EXPECT_EQ(e.type, raft::EntryType::kConfChange);
  auto cc = raft::DecodeConfChangeEntry(e);
  ASSERT_TRUE(cc.ok()) << cc.status().ToString();
  ASSERT_EQ(cc->changes.size(), 1u);
  EXPECT_EQ(cc->changes[0].type, raft::ConfChangeType::kAddNode);
  EXPECT_EQ(cc->changes[0].node_id, kId);
  EXPECT_EQ(BootstrapHardState(), (raft::HardState{1, 0, 1}));
}

// Restart: the log and hard state come back, the campaign wins the next term
// and its empty entry follows the last one; entries <= applied are not
// handed out again.
TEST(RaftNode, RestartCampaignsForTheNextTerm) {
  FakeWal wal;
  WaitRegistry wait;
  Sink sink;
  sink.wal = &wal;
  {
    std::lock_guard<std::mutex> lock(wal.mu);
    wal.persisted = Log(7, 3);
  }
  RaftNode node(RaftState{kId, raft::HardState{3, kId, 7}, Log(7, 3), 7}, &wal, &wait,
                [&](std::vector<raft::Entry> es) { sink.Add(std::move(es)); }, {});
  EXPECT_EQ(node.Term(), 3u);
  EXPECT_EQ(node.CommitIndex(), 7u);
  node.Start();
  EXPECT_TRUE(node.IsLeader());
  EXPECT_EQ(node.Term(), 4u);
  EXPECT_EQ(node.LeaderEntryIndex(), 8u);
  sink.WaitFor(1);
  node.Stop();
  ASSERT_EQ(sink.applied.size(), 1u);
  EXPECT_EQ(sink.applied[0].index, 8u);
  EXPECT_EQ(sink.applied[0].term, 4u);
  EXPECT_TRUE(sink.applied[0].data.empty());
  EXPECT_TRUE(sink.persisted_first);
  EXPECT_EQ(wal.last_hs, (raft::HardState{4, kId, 8}));
}

// A torn last Save can keep entries whose hard state record is lost: one
// voter treats every persisted entry as committed, at the log's term.
TEST(RaftNode, TornHardStateIsRaisedToTheLog) {
  FakeWal wal;
  WaitRegistry wait;
  RaftNode node(RaftState{kId, raft::HardState{1, 0, 1}, Log(4, 2), 4}, &wal, &wait,
                [](std::vector<raft::Entry>) {}, {});
  EXPECT_EQ(node.Term(), 2u);
  EXPECT_EQ(node.CommitIndex(), 4u);
  node.Start();
  EXPECT_EQ(node.Term(), 3u);
  EXPECT_EQ(node.LeaderEntryIndex(), 5u);
  node.Stop();
}

// A long log: the in-memory copy is trimmed behind the applied index (at
// restart and while running) without disturbing commit or apply order.
TEST(RaftNode, LongLogIsTrimmedInMemory) {
  FakeWal wal;
  WaitRegistry wait;
  Sink sink;
  sink.wal = &wal;
  constexpr uint64_t kOld = 30000;
  {
    std::lock_guard<std::mutex> lock(wal.mu);
    wal.persisted = Log(kOld, 2);
  }
  RaftNode node(RaftState{kId, raft::HardState{2, kId, kOld}, Log(kOld, 2), kOld}, &wal, &wait,
                [&](std::vector<raft::Entry> es) { sink.Add(std::move(es)); }, {});
  node.Start();
  constexpr int kN = 25000;
  for (int i = 0; i < kN; i++)
    ASSERT_TRUE(node.Propose(i + 1, std::to_string(i)).ok());
  sink.WaitFor(kN + 1);
  node.Stop();
  ASSERT_EQ(sink.applied.size(), static_cast<size_t>(kN + 1));
  for (size_t i = 0; i < sink.applied.size(); i++)
    ASSERT_EQ(sink.applied[i].index, kOld + 1 + i);
  for (int i = 0; i < kN; i++)
    ASSERT_EQ(sink.applied[i + 1].data, std::to_string(i));
  EXPECT_TRUE(sink.persisted_first);
  EXPECT_EQ(node.CommitIndex(), kOld + 1 + kN);
}

TEST(RaftNode, GroupCommitUsesFewerSyncsThanProposals) {
  FakeWal wal;
  WaitRegistry wait;
  Sink sink;
  sink.wal = &wal;
  wal.hold = true;  // the campaign's Save blocks until every proposal is queued
  RaftNode node(NewMember(), &wal, &wait,
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
  EXPECT_EQ(wal.last_hs.term, 2u);  // as etcd: bootstrapped at term 1, elected at 2
  EXPECT_EQ(wal.last_hs.vote, kId);
  EXPECT_EQ(wal.last_hs.commit, static_cast<uint64_t>(kN + 2));
  EXPECT_EQ(node.CommitIndex(), static_cast<uint64_t>(kN + 2));
  for (size_t i = 0; i < sink.applied.size(); i++)
    EXPECT_EQ(sink.applied[i].index, i + 2);  // after the bootstrap entry
  // Request data reaches the applier unchanged, in proposal order per thread.
  for (size_t i = 1; i < sink.applied.size(); i++)
    EXPECT_EQ(sink.applied[i].type, raft::EntryType::kNormal);
}

TEST(RaftNode, StopHandlesEverythingProposedBefore) {
  FakeWal wal;
  WaitRegistry wait;
  Sink sink;
  sink.wal = &wal;
  RaftNode node(RaftState{kId, raft::HardState{2, kId, 5}, Log(5, 2), 5}, &wal, &wait,
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
  RaftNode node(NewMember(), &wal, &wait,
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
    ASSERT_TRUE((*w)->Save(BootstrapHardState(), {BootstrapEntry(kId)}, true).ok());
    RaftNode node(NewMember(), w->get(), &wait,
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
  ASSERT_EQ(rr->entries.size(), 202u);  // bootstrap + leader entry + 200
  for (size_t i = 0; i < rr->entries.size(); i++)
    EXPECT_EQ(rr->entries[i].index, i + 1);
  EXPECT_EQ(rr->hard_state.term, 2u);
  EXPECT_EQ(rr->hard_state.vote, kId);
  EXPECT_EQ(rr->hard_state.commit, 202u);
  (void)(*w)->Close();
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace etcdpp::server
