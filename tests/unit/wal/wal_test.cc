// The Wal API on healthy logs: round trips, segments, overwrite semantics,
// snapshot markers, purge, locking.
#include "wal/wal.h"

#include "gtest/gtest.h"
#include "test_util.h"

namespace etcdpp::wal {
namespace {

using testing::MakeEntry;
using testing::ReadBack;
using testing::SegmentPaths;
using testing::TempDir;

Options Small() {
  Options o;
  o.segment_bytes = 4096;
  return o;
}

std::vector<raft::Entry> Range(uint64_t term, uint64_t from, uint64_t to, size_t size = 50) {
  std::vector<raft::Entry> v;
  for (uint64_t i = from; i <= to; ++i) {
    v.push_back(MakeEntry(term, i, std::string(size, static_cast<char>('a' + i % 26))));
  }
  return v;
}

TEST(Wal, RoundTrip) {
  TempDir tmp;
  EXPECT_FALSE(Wal::Exists(tmp.wal()));
  auto w = Wal::Create(tmp.wal(), std::string("meta\0data", 9));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE(Wal::Exists(tmp.wal()));
  std::vector<raft::Entry> ents = {
      MakeEntry(1, 1, ""),
      MakeEntry(1, 2, std::string("\0\xff\x01", 3)),
      MakeEntry(2, 3, "conf", raft::EntryType::kConfChange),
      MakeEntry(2, 4, std::string(10000, 'x'), raft::EntryType::kConfChangeV2),
  };
  ASSERT_TRUE((*w)->Save({2, 1, 3}, ents).ok());
  EXPECT_EQ((*w)->LastIndex(), 4u);
  ASSERT_TRUE((*w)->Close().ok());

  auto r = ReadBack(tmp.wal());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->metadata, std::string("meta\0data", 9));
  EXPECT_EQ(r->hard_state, (raft::HardState{2, 1, 3}));
  EXPECT_EQ(r->entries, ents);
  EXPECT_FALSE(r->repaired.has_value());
}

TEST(Wal, DirIsPrivate) {
  TempDir tmp;
  auto w = Wal::Create(tmp.wal(), "m");
  ASSERT_TRUE(w.ok());
  auto perms = std::filesystem::status(tmp.wal()).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all, std::filesystem::perms::owner_all);
}

TEST(Wal, CreateRefusesExistingAndOpenNeedsOne) {
  TempDir tmp;
  EXPECT_TRUE(Wal::Open(tmp.wal(), {}).status().Is(Code::kNotFound));
  { ASSERT_TRUE(Wal::Create(tmp.wal(), "m").ok()); }
  EXPECT_TRUE(Wal::Create(tmp.wal(), "m").status().Is(Code::kAlreadyExists));
}

TEST(Wal, HardStateOnlyAndEmptySave) {
  TempDir tmp;
  auto w = Wal::Create(tmp.wal(), "m");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Save({}, {}).ok());  // nothing to do
  ASSERT_TRUE((*w)->Save({1, 1, 0}, {}).ok());
  ASSERT_TRUE((*w)->Save({2, 0, 0}, {}).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto r = ReadBack(tmp.wal());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->hard_state, (raft::HardState{2, 0, 0}));
  EXPECT_TRUE(r->entries.empty());
}

TEST(Wal, ManySegmentsReopenAndAppend) {
  TempDir tmp;
  std::vector<raft::Entry> all;
  {
    auto w = Wal::Create(tmp.wal(), "m", Small());
    ASSERT_TRUE(w.ok());
    for (uint64_t i = 1; i <= 300; i += 3) {
      auto batch = Range(1, i, i + 2);
      ASSERT_TRUE((*w)->Save({1, 1, i}, batch).ok());
      all.insert(all.end(), batch.begin(), batch.end());
    }
  }
  auto paths = SegmentPaths(tmp.wal());
  ASSERT_GT(paths.size(), 5u);
  // Consecutive seqs, increasing first indexes, each file preallocated to 4 KiB.
  std::vector<std::string> names;
  for (auto& p : paths)
    names.push_back(std::filesystem::path(p).filename().string());
  auto ids = SegmentsIn(names);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(ids[i].seq, i);
    if (i > 0) {
      EXPECT_GT(ids[i].index, ids[i - 1].index);
    }
    EXPECT_EQ(std::filesystem::file_size(paths[i]), 4096u);
  }
  for (int round = 0; round < 3; ++round) {
    auto w = Wal::Open(tmp.wal(), {}, Small());
    ASSERT_TRUE(w.ok());
    auto r = (*w)->ReadAll();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->entries, all);
    EXPECT_EQ((*w)->LastIndex(), all.back().index);
    auto batch = Range(2, all.size() + 1, all.size() + 40, 20);
    ASSERT_TRUE((*w)->Save({2, 1, all.size()}, batch).ok());
    all.insert(all.end(), batch.begin(), batch.end());
  }
  auto r = ReadBack(tmp.wal(), {}, Small());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries, all);
  EXPECT_EQ(r->hard_state.term, 2u);
  EXPECT_EQ(r->metadata, "m");
}

TEST(Wal, RecordBiggerThanASegment) {
  TempDir tmp;
  auto w = Wal::Create(tmp.wal(), "m", Small());
  ASSERT_TRUE(w.ok());
  std::vector<raft::Entry> ents = {MakeEntry(1, 1, "a"), MakeEntry(1, 2, std::string(20000, 'b')),
                                   MakeEntry(1, 3, "c")};
  ASSERT_TRUE((*w)->Save({}, ents).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto r = ReadBack(tmp.wal(), {}, Small());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->entries, ents);
}

TEST(Wal, OverwriteTruncatesTheLog) {
  TempDir tmp;
  {
    auto w = Wal::Create(tmp.wal(), "m", Small());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Save({1, 1, 2}, Range(1, 1, 100)).ok());
    // A new leader rewrites from 51: 51.. replaced, 52..100 gone.
    ASSERT_TRUE((*w)->Save({2, 2, 2}, {MakeEntry(2, 51, "new51")}).ok());
    EXPECT_EQ((*w)->LastIndex(), 51u);
    // Gap after the last index: refused, nothing written, WAL still usable.
    EXPECT_TRUE((*w)->Save({}, {MakeEntry(2, 53, "x")}).Is(Code::kInvalidArgument));
    EXPECT_TRUE(
        (*w)->Save({}, {MakeEntry(2, 52, "x"), MakeEntry(2, 54, "y")}).Is(Code::kInvalidArgument));
    ASSERT_TRUE((*w)->Save({}, {MakeEntry(2, 52, "new52")}).ok());
  }
  auto r = ReadBack(tmp.wal(), {}, Small());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto want = Range(1, 1, 50);
  want.push_back(MakeEntry(2, 51, "new51"));
  want.push_back(MakeEntry(2, 52, "new52"));
  EXPECT_EQ(r->entries, want);
  EXPECT_EQ(r->hard_state, (raft::HardState{2, 2, 2}));

  // Overwrite again after a reopen, far back and across segments.
  {
    auto w = Wal::Open(tmp.wal(), {}, Small());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->ReadAll().ok());
    ASSERT_TRUE((*w)->Save({}, {MakeEntry(3, 3, "three")}).ok());
    EXPECT_EQ((*w)->LastIndex(), 3u);
  }
  r = ReadBack(tmp.wal(), {}, Small());
  ASSERT_TRUE(r.ok());
  want = Range(1, 1, 2);
  want.push_back(MakeEntry(3, 3, "three"));
  EXPECT_EQ(r->entries, want);
}

TEST(Wal, SaveNeedsReadAllAfterOpen) {
  TempDir tmp;
  { ASSERT_TRUE(Wal::Create(tmp.wal(), "m").ok()); }
  auto w = Wal::Open(tmp.wal(), {});
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE((*w)->Save({1, 0, 0}, {}).Is(Code::kFailedPrecondition));
  ASSERT_TRUE((*w)->ReadAll().ok());
  EXPECT_TRUE((*w)->ReadAll().status().Is(Code::kFailedPrecondition));
  EXPECT_TRUE((*w)->Save({1, 0, 0}, {}).ok());
  ASSERT_TRUE((*w)->Close().ok());
  EXPECT_TRUE((*w)->Save({1, 0, 0}, {}).Is(Code::kFailedPrecondition));
}

TEST(Wal, LockKeepsASecondUserOut) {
  TempDir tmp;
  auto w = Wal::Create(tmp.wal(), "m");
  ASSERT_TRUE(w.ok());
  EXPECT_TRUE(Wal::Open(tmp.wal(), {}).status().Is(Code::kFailedPrecondition));
  ASSERT_TRUE((*w)->Close().ok());
  auto w2 = Wal::Open(tmp.wal(), {});
  ASSERT_TRUE(w2.ok()) << w2.status().ToString();
  EXPECT_TRUE(Wal::Open(tmp.wal(), {}).status().Is(Code::kFailedPrecondition));
}

TEST(Wal, SnapshotMarkerPositionsOpen) {
  TempDir tmp;
  {
    auto w = Wal::Create(tmp.wal(), "m", Small());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Save({1, 1, 10}, Range(1, 1, 60)).ok());
    ASSERT_TRUE((*w)->SaveSnapshot({40, 1}).ok());
    ASSERT_TRUE((*w)->Save({1, 1, 60}, Range(1, 61, 70)).ok());
  }
  auto r = ReadBack(tmp.wal(), {40, 1}, Small());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->entries, Range(1, 41, 70));
  EXPECT_EQ(r->hard_state, (raft::HardState{1, 1, 60}));

  r = ReadBack(tmp.wal(), {}, Small());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries, Range(1, 1, 70));

  EXPECT_TRUE(ReadBack(tmp.wal(), {41, 1}, Small()).status().Is(Code::kNotFound));
  EXPECT_TRUE(ReadBack(tmp.wal(), {40, 2}, Small()).status().Is(Code::kCorruption));
}

TEST(Wal, SnapshotAheadOfTheLog) {
  // A follower installs a leader's snapshot: the log continues after it.
  TempDir tmp;
  {
    auto w = Wal::Create(tmp.wal(), "m", Small());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Save({1, 1, 3}, Range(1, 1, 3)).ok());
    ASSERT_TRUE((*w)->SaveSnapshot({100, 5}).ok());
    EXPECT_EQ((*w)->LastIndex(), 100u);
    ASSERT_TRUE((*w)->Save({5, 0, 100}, Range(5, 101, 150)).ok());
  }
  auto r = ReadBack(tmp.wal(), {100, 5}, Small());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->entries, Range(5, 101, 150));
}

TEST(Wal, ValidSnapshotsAreThoseCommitted) {
  TempDir tmp;
  {
    auto w = Wal::Create(tmp.wal(), "m", Small());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Save({1, 1, 30}, Range(1, 1, 40)).ok());
    ASSERT_TRUE((*w)->SaveSnapshot({10, 1}).ok());
    ASSERT_TRUE((*w)->Save({}, Range(1, 41, 120)).ok());
    ASSERT_TRUE((*w)->SaveSnapshot({30, 1}).ok());
    ASSERT_TRUE((*w)->SaveSnapshot({35, 1}).ok());  // past commit 30: not usable
  }
  auto snaps = Wal::ValidSnapshots(tmp.wal(), Small());
  ASSERT_TRUE(snaps.ok()) << snaps.status().ToString();
  EXPECT_EQ(*snaps, (std::vector<WalSnapshot>{{0, 0}, {10, 1}, {30, 1}}));
  // Read-only: the WAL can still be opened at the newest one.
  auto r = ReadBack(tmp.wal(), snaps->back(), Small());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries, Range(1, 31, 120));
  EXPECT_TRUE(Wal::ValidSnapshots(tmp.root() + "/nope").status().Is(Code::kNotFound));
}

TEST(Wal, PurgeToKeepsWhatOpenNeeds) {
  TempDir tmp;
  auto w = Wal::Create(tmp.wal(), "m", Small());
  ASSERT_TRUE(w.ok());
  for (uint64_t i = 1; i <= 200; i += 10)
    ASSERT_TRUE((*w)->Save({1, 1, i}, Range(1, i, i + 9)).ok());
  size_t before = SegmentPaths(tmp.wal()).size();
  ASSERT_GE(before, 4u);

  // No marker yet: nothing can go (Open would have nowhere to start).
  ASSERT_TRUE((*w)->PurgeTo(150).ok());
  EXPECT_EQ(SegmentPaths(tmp.wal()).size(), before);

  ASSERT_TRUE((*w)->SaveSnapshot({120, 1}).ok());
  ASSERT_TRUE((*w)->PurgeTo(150).ok());  // clamped to the marker at 120
  auto after = SegmentPaths(tmp.wal());
  EXPECT_LT(after.size(), before);
  // The first kept segment starts at or before 121.
  auto first = ParseSegmentName(std::filesystem::path(after[0]).filename().string());
  ASSERT_TRUE(first.has_value());
  EXPECT_LE(first->index, 120u);
  ASSERT_TRUE((*w)->Save({1, 1, 200}, Range(1, 201, 205)).ok());
  ASSERT_TRUE((*w)->Close().ok());

  auto r = ReadBack(tmp.wal(), {120, 1}, Small());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->entries, Range(1, 121, 205));
  auto snaps = Wal::ValidSnapshots(tmp.wal(), Small());
  ASSERT_TRUE(snaps.ok());
  EXPECT_EQ(*snaps, (std::vector<WalSnapshot>{{120, 1}}));  // {0,0} went with segment 0
  EXPECT_EQ(r->metadata, "m");
  EXPECT_EQ(r->hard_state, (raft::HardState{1, 1, 200}));
  EXPECT_TRUE(ReadBack(tmp.wal(), {}, Small()).status().Is(Code::kNotFound));

  // Purging everything still keeps the last segment.
  auto w2 = Wal::Open(tmp.wal(), {120, 1}, Small());
  ASSERT_TRUE(w2.ok());
  ASSERT_TRUE((*w2)->ReadAll().ok());
  ASSERT_TRUE((*w2)->SaveSnapshot({205, 1}).ok());
  ASSERT_TRUE((*w2)->PurgeTo(1000).ok());
  EXPECT_GE(SegmentPaths(tmp.wal()).size(), 1u);
  ASSERT_TRUE((*w2)->Close().ok());
  r = ReadBack(tmp.wal(), {205, 1}, Small());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->entries.empty());
}

TEST(Wal, StaleTmpSegmentIsIgnored) {
  TempDir tmp;
  {
    auto w = Wal::Create(tmp.wal(), "m");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Save({}, Range(1, 1, 3)).ok());
  }
  std::string junk = tmp.wal() + "/0000000000000001-0000000000000004.wal.tmp";
  testing::WriteFileBytes(junk, "garbage");
  auto r = ReadBack(tmp.wal());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries, Range(1, 1, 3));
  EXPECT_FALSE(std::filesystem::exists(junk));
}

}  // namespace
}  // namespace etcdpp::wal
