// Write failures and sync accounting, through the injectable file layer and,
// where the sandbox allows mounting, a real full tmpfs.
#include <sys/mount.h>

#include <cstdlib>

#include "gtest/gtest.h"
#include "test_util.h"
#include "wal/wal.h"

namespace etcdpp::wal {
namespace {

using testing::FaultFs;
using testing::MakeEntry;
using testing::ReadBack;
using testing::TempDir;

std::vector<raft::Entry> Batch(uint64_t from, size_t n, size_t size) {
  std::vector<raft::Entry> v;
  for (size_t k = 0; k < n; ++k) {
    v.push_back(
        MakeEntry(1, from + k, std::string(size, static_cast<char>('A' + (from + k) % 26))));
  }
  return v;
}

TEST(Fault, OneSyncPerSave) {
  TempDir tmp;
  FaultFs fs;
  Options o;
  o.fs = &fs;
  auto w = Wal::Create(tmp.wal(), "m", o);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(fs.syncs, 1);      // the first segment's header, before its rename
  EXPECT_EQ(fs.dir_syncs, 2);  // the wal dir (new name) and its parent (new dir)
  fs.syncs = fs.dir_syncs = fs.writes = 0;

  ASSERT_TRUE((*w)->Save({1, 1, 0}, Batch(1, 100, 100)).ok());
  EXPECT_EQ(fs.syncs, 1) << "group commit: one fdatasync for the whole Ready";
  EXPECT_EQ(fs.writes, 1) << "one write for the whole batch";
  ASSERT_TRUE((*w)->Save({1, 1, 100}, {}).ok());
  EXPECT_EQ(fs.syncs, 2);
  ASSERT_TRUE((*w)->Save({1, 1, 100}, Batch(101, 5, 10), /*sync=*/false).ok());
  EXPECT_EQ(fs.syncs, 2);
  ASSERT_TRUE((*w)->SaveSnapshot({50, 1}).ok());
  EXPECT_EQ(fs.syncs, 3);
  EXPECT_EQ(fs.dir_syncs, 0);
}

TEST(Fault, SegmentCutSyncsOldSegmentAndDirectory) {
  TempDir tmp;
  FaultFs fs;
  Options o;
  o.fs = &fs;
  o.segment_bytes = 4096;
  auto w = Wal::Create(tmp.wal(), "m", o);
  ASSERT_TRUE(w.ok());
  fs.syncs = fs.dir_syncs = 0;
  ASSERT_TRUE((*w)->Save({}, Batch(1, 30, 200)).ok());  // ~6.8 KB: one cut
  EXPECT_EQ(testing::SegmentPaths(tmp.wal()).size(), 2u);
  EXPECT_EQ(fs.syncs, 3);  // old segment, new segment's header, the batch
  EXPECT_EQ(fs.dir_syncs, 1);
}

TEST(Fault, UnsafeNoFsyncNeverSyncs) {
  TempDir tmp;
  FaultFs fs;
  Options o;
  o.fs = &fs;
  o.unsafe_no_fsync = true;
  o.segment_bytes = 4096;
  auto w = Wal::Create(tmp.wal(), "m", o);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Save({1, 1, 1}, Batch(1, 50, 200)).ok());
  ASSERT_TRUE((*w)->Close().ok());
  EXPECT_EQ(fs.syncs, 0);
  EXPECT_EQ(fs.dir_syncs, 0);
  auto r = ReadBack(tmp.wal(), {}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries, Batch(1, 50, 200));
}

// Saves batches until the injected disk fills; reopening must give exactly
// the entries whose Save returned OK.
void RunUntilFull(const std::string& dir, FaultFs* fs, int64_t budget, bool single_entries,
                  std::vector<raft::Entry>* acked) {
  Options o;
  o.fs = fs;
  o.segment_bytes = 4096;
  auto w = Wal::Create(dir, "m", o);
  ASSERT_TRUE(w.ok());
  fs->write_budget = budget;
  uint64_t next = 1;
  Status err;
  for (int i = 0; i < 1000 && err.ok(); ++i) {
    size_t n = single_entries ? 1 : 1 + i % 7;
    auto b = Batch(next, n, 40 + (i * 37) % 300);
    err = (*w)->Save({1, 1, next - 1}, b);
    if (err.ok()) {
      acked->insert(acked->end(), b.begin(), b.end());
      next += n;
    }
  }
  ASSERT_TRUE(err.Is(Code::kIOError)) << err.ToString();
  EXPECT_NE(err.message().find("No space"), std::string::npos) << err.ToString();
  // The WAL is failed: every later append is refused with the same error.
  EXPECT_TRUE((*w)->Save({}, Batch(next, 1, 1)).Is(Code::kIOError));
  EXPECT_TRUE((*w)->SaveSnapshot({1, 1}).Is(Code::kIOError));
  (void)(*w)->Close();
}

TEST(Fault, DiskFullRollsBackTheFailedSave) {
  for (int64_t budget : {0, 1, 100, 1000, 4000, 4100, 9000, 20000, 33333}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    TempDir tmp;
    FaultFs fs;
    std::vector<raft::Entry> acked;
    RunUntilFull(tmp.wal(), &fs, budget, /*single_entries=*/false, &acked);
    Options o;
    o.segment_bytes = 4096;
    auto w = Wal::Open(tmp.wal(), {}, o);
    ASSERT_TRUE(w.ok());
    auto r = (*w)->ReadAll();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->entries, acked);
    EXPECT_FALSE(r->repaired.has_value());
    // And the log goes on once there is space again.
    uint64_t next = acked.size() + 1;
    ASSERT_TRUE((*w)->Save({}, Batch(next, 3, 10)).ok());
  }
}

TEST(Fault, DiskFullWithoutRollbackLeavesOnlyATornTail) {
  // The roll-back cannot truncate: the partial record stays on disk and the
  // torn-tail rule must drop it.
  for (int64_t budget : {20, 1000, 4000, 9000}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    TempDir tmp;
    FaultFs fs;
    fs.fail_truncate = true;
    std::vector<raft::Entry> acked;
    RunUntilFull(tmp.wal(), &fs, budget, /*single_entries=*/true, &acked);
    Options o;
    o.segment_bytes = 4096;
    auto r = ReadBack(tmp.wal(), {}, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->entries, acked);
  }
}

TEST(Fault, SyncFailureIsReportedAndRolledBack) {
  TempDir tmp;
  FaultFs fs;
  Options o;
  o.fs = &fs;
  auto w = Wal::Create(tmp.wal(), "m", o);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Save({1, 1, 0}, Batch(1, 3, 10)).ok());
  fs.fail_sync = true;
  Status st = (*w)->Save({1, 1, 3}, Batch(4, 3, 10));
  EXPECT_TRUE(st.Is(Code::kIOError)) << st.ToString();
  fs.fail_sync = false;
  EXPECT_TRUE((*w)->Save({}, Batch(4, 1, 10)).Is(Code::kIOError)) << "failed WAL must stay failed";
  (void)(*w)->Close();
  auto r = ReadBack(tmp.wal());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->entries, Batch(1, 3, 10));
  EXPECT_EQ(r->hard_state, (raft::HardState{1, 1, 0}));
}

TEST(Fault, NoPreallocationStillWorks) {
  TempDir tmp;
  FaultFs fs;
  fs.no_prealloc = true;
  Options o;
  o.fs = &fs;
  o.segment_bytes = 4096;
  {
    auto w = Wal::Create(tmp.wal(), "m", o);
    ASSERT_TRUE(w.ok());
    for (uint64_t i = 1; i <= 100; i += 5)
      ASSERT_TRUE((*w)->Save({1, 1, i}, Batch(i, 5, 60)).ok());
  }
  auto paths = testing::SegmentPaths(tmp.wal());
  ASSERT_GT(paths.size(), 1u);
  EXPECT_LT(std::filesystem::file_size(paths.back()), 4096u);
  // A torn append at the very end of a file that grows on append.
  testing::TruncateFile(paths.back(), std::filesystem::file_size(paths.back()) - 7);
  auto r = ReadBack(tmp.wal(), {}, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->repaired.has_value());
  // The last Save wrote 5 entries and a hard state; the hard state was cut.
  EXPECT_EQ(r->entries, Batch(1, 100, 60));
  EXPECT_EQ(r->hard_state, (raft::HardState{1, 1, 91}));
}

// A real full file system, if this sandbox lets us mount one.
TEST(Fault, FullTmpfs) {
  TempDir tmp;
  const std::string mnt = tmp.root() + "/mnt";
  std::filesystem::create_directory(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (not root or no CAP_SYS_ADMIN)";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string dir = mnt + "/wal";
  Options o;
  o.segment_bytes = 256 << 10;
  std::vector<raft::Entry> acked;
  {
    auto w = Wal::Create(dir, "m", o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    Status err;
    uint64_t next = 1;
    for (int i = 0; i < 10000 && err.ok(); ++i) {
      auto b = Batch(next, 1 + i % 4, 700);
      err = (*w)->Save({1, 1, next - 1}, b);
      if (err.ok()) {
        acked.insert(acked.end(), b.begin(), b.end());
        next += b.size();
      }
    }
    ASSERT_TRUE(err.Is(Code::kIOError)) << err.ToString();
    EXPECT_NE(err.message().find("No space"), std::string::npos) << err.ToString();
    EXPECT_GT(acked.size(), 100u);
  }
  auto r = ReadBack(dir, {}, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->entries, acked);
}

}  // namespace
}  // namespace etcdpp::wal
