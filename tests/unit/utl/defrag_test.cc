// defrag --data-dir: the data file shrinks, the content stays, a store in
// use is refused.
#include "tools/utl/defrag.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "mvcc/store.h"
#include "temp_dir.h"

namespace etcdpp::utl {
namespace {

using etcdpp::testing::TempDir;

// "k" + std::to_string(n) trips GCC 12's -Wrestrict false positive.
std::string Cat(const char* prefix, int n) {
  std::string s = prefix;
  s.append(std::to_string(n));
  return s;
}

TEST(Defrag, DefragDataDir_shrinksAndKeepsContent) {
  TempDir dir;
  const std::string db = dir.path() + "/member/snap/db";
  {
    auto s = mvcc::Store::Open(db);
    ASSERT_TRUE(s.ok());
    for (int round = 0; round < 4; round++) {
      auto b = (*s)->BeginBatch();
      ASSERT_TRUE(b.ok());
      for (int i = 0; i < 200; i++) {
        auto t = (*b)->BeginTxn();
        ASSERT_TRUE((*t)->Put(Cat("k", i), std::string(2000, 'a' + round), 0).ok());
        ASSERT_TRUE((*t)->End().ok());
      }
      ASSERT_TRUE((*b)->Commit().ok());
    }
    auto b = (*s)->BeginBatch();
    ASSERT_TRUE((*b)->Compact((*s)->CurrentRev()).ok());
    ASSERT_TRUE((*b)->Commit().ok());
    ASSERT_TRUE((*s)->RunCompaction().ok());
    // In use: refused.
    auto r = DefragDataDir(dir.path());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kUnavailable);
  }
  auto r = DefragDataDir(dir.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LT(r->size_after_bytes, r->size_before_bytes / 2);
  EXPECT_EQ(std::filesystem::file_size(db + "/data.mdb"),
            static_cast<uintmax_t>(r->size_after_bytes));
  auto s = mvcc::Store::Open(db);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto txn = (*s)->Read();
  auto rr = (*txn)->Range("k", "l", {});
  ASSERT_TRUE(rr.ok());
  ASSERT_EQ(rr->kvs.size(), 200u);
  EXPECT_EQ(rr->kvs[7].value(), std::string(2000, 'd'));
  EXPECT_EQ(rr->kvs[7].version(), 4);
  EXPECT_FALSE(DefragDataDir(dir.path() + "/nope").ok());
}

}  // namespace
}  // namespace etcdpp::utl
