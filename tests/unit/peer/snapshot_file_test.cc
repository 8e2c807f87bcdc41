#include "peer/snapshot_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/crc32c.h"
#include "harness.h"

namespace etcdpp::peer {
namespace {

TEST(SnapshotFileTest, CommitRenamesAndMismatchDiscards) {
  std::string dir = testing::MakeTempDir();
  std::string snap = dir + "/snap";  // created on demand
  EXPECT_EQ(SnapshotDbFileName(0x10, 0xabc), "0000000000000010-0000000000000abc.snap.db");
  {
    auto w = SnapshotFileWriter::Create(snap, 0x10, 0xabc);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_TRUE(std::filesystem::exists(snap + "/2748.snap.db.tmp"));
    ASSERT_TRUE((*w)->Append("hello ").ok());
    ASSERT_TRUE((*w)->Append("world").ok());
    auto p = (*w)->Commit(11, crc32c::Value("hello world"));
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(*p, snap + "/0000000000000010-0000000000000abc.snap.db");
    EXPECT_EQ(std::filesystem::file_size(*p), 11u);
    EXPECT_FALSE(std::filesystem::exists(snap + "/2748.snap.db.tmp"));
  }
  EXPECT_TRUE(std::filesystem::exists(snap + "/0000000000000010-0000000000000abc.snap.db"));
  {
    auto w = SnapshotFileWriter::Create(snap, 1, 5);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("abc").ok());
    auto p = (*w)->Commit(3, crc32c::Value("abd"));
    EXPECT_TRUE(p.status().Is(Code::kDataLoss));
    EXPECT_FALSE(std::filesystem::exists(snap + "/5.snap.db.tmp"));
    EXPECT_FALSE(std::filesystem::exists(snap + "/" + SnapshotDbFileName(1, 5)));
  }
  {
    auto w = SnapshotFileWriter::Create(snap, 1, 6);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("abc").ok());
    // Destroyed without Commit (stream broke): tmp removed.
  }
  EXPECT_FALSE(std::filesystem::exists(snap + "/6.snap.db.tmp"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace etcdpp::peer
