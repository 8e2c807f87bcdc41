// The raft loop with an in-memory WAL: group commit, ordering (persist before
// apply), and a failing WAL.
#include "server/raft_node.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <future>
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
  Status SaveSnapshot(wal::WalSnapshot) override {
    std::lock_guard<std::mutex> lock(mu);
    snapshots++;
    return Status::OK();
  }
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
  int snapshots = 0;
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

raft::Entry BootstrapEntry(uint64_t id) {
  raft::ConfChange cc;
  cc.type = raft::ConfChangeType::kAddNode;
  cc.node_id = id;
  raft::Entry e;
  e.term = 1;
  e.index = 1;
  e.type = raft::EntryType::kConfChange;
  e.data = raft::EncodeConfChange(cc);
  return e;
}

// Entries from..to of `term`.
std::vector<raft::Entry> Log(uint64_t from, uint64_t to, uint64_t term) {
  std::vector<raft::Entry> es;
  for (uint64_t i = from; i <= to; i++) {
    raft::Entry e;
    e.index = i;
    e.term = term;
    es.push_back(e);
  }
  return es;
}

// A single voter whose backend is applied up to `applied` (the snapshot),
// with WAL entries applied+1..last of `term`.
RaftState Member(uint64_t applied, uint64_t last, uint64_t term, raft::HardState hs) {
  RaftState rs;
  rs.id = kId;
  rs.hard_state = hs;
  rs.snapshot.metadata.index = applied;
  rs.snapshot.metadata.term = applied == 1 ? 1 : term;
  rs.snapshot.metadata.conf_state.voters = {kId};
  rs.entries = Log(applied + 1, last, term);
  rs.applied = applied;
  return rs;
}

RaftState NewMember() {
  return Member(1, 1, 1, raft::HardState{1, 0, 1});
}

RaftNode::Hooks SinkHooks(Sink* sink) {
  RaftNode::Hooks h;
  h.apply = [sink](std::vector<raft::Entry> es) { sink->Add(std::move(es)); };
  h.await_applied = [](uint64_t) -> Result<bool> { return true; };
  h.send = [](std::vector<raft::Message>) {};
  h.send_snapshot = [](raft::Message) {};
  h.restore = [](const raft::SnapshotMetadata&, std::string) {};
  return h;
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
    wal.persisted = Log(1, 7, 3);
  }
  RaftNode node(Member(7, 7, 3, raft::HardState{3, kId, 7}), &wal, &wait, SinkHooks(&sink), {});
  EXPECT_EQ(node.Term(), 3u);
  EXPECT_EQ(node.CommitIndex(), 7u);
  node.Start(/*campaign=*/true);
  EXPECT_TRUE(node.IsLeader());
  sink.WaitFor(1);
  EXPECT_EQ(node.Term(), 4u);
  node.Stop();
  ASSERT_EQ(sink.applied.size(), 1u);
  EXPECT_EQ(sink.applied[0].index, 8u);
  EXPECT_EQ(sink.applied[0].term, 4u);
  EXPECT_TRUE(sink.applied[0].data.empty());
  EXPECT_TRUE(sink.persisted_first);
  EXPECT_EQ(wal.last_hs, (raft::HardState{4, kId, 8}));
}

// A torn last Save can keep entries whose hard state record is lost: the
// term is raised to the log's, and once elected the entries are committed.
TEST(RaftNode, TornHardStateIsRaisedToTheLog) {
  FakeWal wal;
  WaitRegistry wait;
  Sink sink;
  sink.wal = &wal;
  {
    std::lock_guard<std::mutex> lock(wal.mu);
    wal.persisted = Log(1, 4, 2);
  }
  RaftNode node(Member(1, 4, 2, raft::HardState{1, 0, 1}), &wal, &wait, SinkHooks(&sink), {});
  EXPECT_EQ(node.Term(), 2u);
  EXPECT_EQ(node.CommitIndex(), 1u);
  node.Start(/*campaign=*/true);
  sink.WaitFor(4);  // 2..4 and the new leader's empty entry 5
  node.Stop();
  EXPECT_EQ(node.Term(), 3u);
  ASSERT_EQ(sink.applied.size(), 4u);
  EXPECT_EQ(sink.applied.front().index, 2u);
  EXPECT_EQ(sink.applied.back().index, 5u);
  EXPECT_EQ(sink.applied.back().term, 3u);
}

// A long log: the in-memory copy is trimmed behind the applied index (at
// restart and while running) without disturbing commit or apply order.
TEST(RaftNode, LongLogIsTrimmedInMemory) {
  FakeWal wal;
  WaitRegistry wait;
  Sink sink;
  sink.wal = &wal;
  static constexpr uint64_t kOld = 30000;
  {
    std::lock_guard<std::mutex> lock(wal.mu);
    wal.persisted = Log(1, kOld, 2);
  }
  auto hooks = SinkHooks(&sink);
  // The "backend" is the sink: everything it received is applied.
  hooks.sync_backend = [&sink]() -> Result<std::pair<uint64_t, uint64_t>> {
    std::lock_guard<std::mutex> lock(sink.mu);
    if (sink.applied.empty()) return std::make_pair(kOld, uint64_t{2});
    return std::make_pair(sink.applied.back().index, sink.applied.back().term);
  };
  RaftNode::Options opts;
  opts.snapshot_count = 1000;
  opts.snapshot_catchup_entries = 500;
  RaftNode node(Member(kOld, kOld, 2, raft::HardState{2, kId, kOld}), &wal, &wait, hooks, opts);
  node.Start(/*campaign=*/true);
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
  EXPECT_GE(wal.snapshots, 1);  // --snapshot-count took raft snapshots
}

TEST(RaftNode, GroupCommitUsesFewerSyncsThanProposals) {
  FakeWal wal;
  WaitRegistry wait;
  Sink sink;
  sink.wal = &wal;
  wal.hold = true;  // the campaign's Save blocks until every proposal is queued
  RaftNode node(NewMember(), &wal, &wait, SinkHooks(&sink), {});
  node.Start(/*campaign=*/true);
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
  RaftNode node(Member(5, 5, 2, raft::HardState{2, kId, 5}), &wal, &wait, SinkHooks(&sink), {});
  node.Start(/*campaign=*/true);
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
  RaftNode node(NewMember(), &wal, &wait, SinkHooks(&sink), {});
  node.Start(/*campaign=*/true);
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
    ASSERT_TRUE((*w)->Save(raft::HardState{1, 0, 1}, {BootstrapEntry(kId)}, true).ok());
    RaftNode::Hooks hooks;
    hooks.apply = [&](std::vector<raft::Entry> es) {
      std::lock_guard<std::mutex> lock(mu);
      applied += es.size();
      cv.notify_all();
    };
    RaftNode node(NewMember(), w->get(), &wait, hooks, {});
    node.Start(/*campaign=*/true);
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

// --snapshot-count on the real WAL: snapshot markers are written and old
// segments purged, so the WAL on disk does not grow with history; a reopen
// at the newest marker reads exactly the entries after it.
TEST(RaftNode, SnapshotsPurgeTheWal) {
  char tmpl[] = "/tmp/etcdpp-raftnode-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/wal";
  wal::Options wopts;
  wopts.segment_bytes = 64 << 10;  // small segments: many of them for 4 MB of entries
  constexpr int kN = 4000;
  auto count_segments = [&] {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      n += e.path().extension() == ".wal" ? 1 : 0;
    return n;
  };
  {
    auto w = wal::Wal::Create(dir, "meta", wopts);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->Save(raft::HardState{1, 0, 1}, {BootstrapEntry(kId)}, true).ok());
    WaitRegistry wait;
    std::mutex mu;
    std::condition_variable cv;
    uint64_t applied = 1, applied_term = 1;
    RaftNode::Hooks hooks;
    hooks.apply = [&](std::vector<raft::Entry> es) {
      std::lock_guard<std::mutex> lock(mu);
      applied = es.back().index;
      applied_term = es.back().term;
      cv.notify_all();
    };
    // The "backend" has applied everything the loop handed over.
    hooks.sync_backend = [&]() -> Result<std::pair<uint64_t, uint64_t>> {
      std::lock_guard<std::mutex> lock(mu);
      return std::make_pair(applied, applied_term);
    };
    RaftNode::Options opts;
    opts.snapshot_count = 200;
    opts.snapshot_catchup_entries = 50;
    RaftNode node(NewMember(), w->get(), &wait, hooks, opts);
    node.Start(/*campaign=*/true);
    const std::string value(1000, 'v');
    for (int i = 0; i < kN; i++)
      ASSERT_TRUE(node.Propose(i + 1, value).ok());
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return applied >= kN + 2; });
    }
    node.Stop();
    ASSERT_TRUE((*w)->Close().ok());
  }
  // ~4 MB of entries in 64 KiB segments = 60+ segments without purging.
  EXPECT_LT(count_segments(), 12);
  auto snaps = wal::Wal::ValidSnapshots(dir, wopts);
  ASSERT_TRUE(snaps.ok()) << snaps.status().ToString();
  ASSERT_FALSE(snaps->empty());
  const wal::WalSnapshot newest = snaps->back();
  EXPECT_GT(newest.index, static_cast<uint64_t>(kN) - 400);
  auto w = wal::Wal::Open(dir, newest, wopts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto rr = (*w)->ReadAll();
  ASSERT_TRUE(rr.ok()) << rr.status().ToString();
  // Exactly the entries after the marker (none if it is the last one).
  EXPECT_LE(newest.index, static_cast<uint64_t>(kN) + 2);
  EXPECT_EQ(rr->entries.size(), kN + 2 - newest.index);
  if (!rr->entries.empty()) {
    EXPECT_EQ(rr->entries.front().index, newest.index + 1);
    EXPECT_EQ(rr->entries.back().index, static_cast<uint64_t>(kN) + 2);
  }
  ASSERT_TRUE((*w)->Close().ok());
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace etcdpp::server

namespace etcdpp::server {
namespace {

// Three raft loops wired to each other in memory (Step delivers directly):
// election, a follower's proposal committed on every member, a follower's
// batched ReadIndex, and a leader transfer.
class ThreeNodes {
 public:
  static constexpr uint64_t kIds[3] = {11, 22, 33};

  ThreeNodes() {
    for (int i = 0; i < 3; i++) {
      sinks_[i].wal = &wals_[i];
      RaftState rs;
      rs.id = kIds[i];
      rs.hard_state = raft::HardState{1, 0, 3};
      rs.snapshot.metadata.index = 3;  // the three bootstrap entries, applied
      rs.snapshot.metadata.term = 1;
      rs.snapshot.metadata.conf_state.voters = {11, 22, 33};
      rs.applied = 3;
      RaftNode::Hooks h = SinkHooks(&sinks_[i]);
      h.send = [this](std::vector<raft::Message> ms) {
        for (auto& m : ms) {
          std::lock_guard<std::mutex> lock(mu_);
          if (RaftNode* to = ByIdLocked(m.to)) to->Step(std::move(m));
        }
      };
      RaftNode::Options o;
      o.tick_interval = std::chrono::milliseconds(10);
      o.election_tick = 10;
      nodes_[i] = std::make_unique<RaftNode>(std::move(rs), &wals_[i], &waits_[i], h, o);
    }
    for (auto& n : nodes_)
      n->Start(/*campaign=*/false);
  }
  ~ThreeNodes() {
    for (auto& n : nodes_)
      n->Stop();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& n : nodes_)
      n.reset();
  }

  // Index of the member all three agree leads, waiting for one (10 s).
  int WaitLeader() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      uint64_t l = nodes_[0]->Leader();
      if (l != 0 && nodes_[1]->Leader() == l && nodes_[2]->Leader() == l) {
        for (int i = 0; i < 3; i++)
          if (kIds[i] == l) return i;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling interval
    }
    return -1;
  }

  RaftNode* node(int i) { return nodes_[i].get(); }
  Sink& sink(int i) { return sinks_[i]; }

 private:
  RaftNode* ByIdLocked(uint64_t id) {
    for (int i = 0; i < 3; i++)
      if (kIds[i] == id) return nodes_[i].get();
    return nullptr;
  }

  std::mutex mu_;
  FakeWal wals_[3];
  WaitRegistry waits_[3];
  Sink sinks_[3];
  std::unique_ptr<RaftNode> nodes_[3];
};

bool HasEntryWithData(Sink& s, const std::string& data) {
  std::unique_lock<std::mutex> lock(s.mu);
  return s.cv.wait_for(lock, std::chrono::seconds(10), [&] {
    for (const auto& e : s.applied)
      if (e.data == data) return true;
    return false;
  });
}

TEST(RaftNodeCluster, ElectsOneLeaderAndReplicatesAFollowersProposal) {
  ThreeNodes c;
  int leader = c.WaitLeader();
  ASSERT_GE(leader, 0);
  int follower = (leader + 1) % 3;
  // Forwarded to the leader by raft, committed by a quorum, applied everywhere.
  ASSERT_TRUE(c.node(follower)->Propose(7, "from-a-follower").ok());
  for (int i = 0; i < 3; i++)
    EXPECT_TRUE(HasEntryWithData(c.sink(i), "from-a-follower")) << "member " << i;
  for (int i = 0; i < 3; i++)
    EXPECT_TRUE(c.sink(i).persisted_first) << "member " << i;

  // ReadIndex on the follower, batched: every answer covers the commit.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<uint64_t> got;
  for (int r = 0; r < 5; r++) {
    c.node(follower)->ReadIndex([&](Result<uint64_t> idx) {
      std::lock_guard<std::mutex> lock(mu);
      got.push_back(idx.ok() ? *idx : 0);
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return got.size() == 5; }));
  }
  for (uint64_t idx : got)
    EXPECT_GE(idx, 5u);  // bootstrap 1..3, the leader's empty entry, the proposal

  // Leader transfer to the follower.
  std::promise<Status> moved;
  c.node(leader)->TransferLeader(ThreeNodes::kIds[follower], std::chrono::seconds(10),
                                 [&](const Status& st) { moved.set_value(st); });
  Status st = moved.get_future().get();
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.WaitLeader(), follower);
}

}  // namespace
}  // namespace etcdpp::server
