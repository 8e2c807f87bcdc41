// The lease table of the store (written by src/lease through Batch) and the
// leased-keys scan used to rebuild the lease->keys map.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "mvcc/store.h"
#include "temp_dir.h"

namespace etcdpp::mvcc {
namespace {

using etcdpp::testing::TempDir;
using Rows = std::vector<std::pair<int64_t, std::string>>;

class LeaseTableTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    auto s = Store::Open(dir_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  std::unique_ptr<Batch> Begin() {
    auto b = store_->BeginBatch();
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? std::move(*b) : nullptr;
  }
  Rows Leases() {
    auto r = store_->Read();
    EXPECT_TRUE(r.ok());
    auto m = (*r)->Leases();
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : Rows{};
  }
  Rows LeasedKeys() {
    auto r = store_->Read();
    EXPECT_TRUE(r.ok());
    auto m = (*r)->LeasedKeys();
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : Rows{};
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(LeaseTableTest, PutDeleteAndReopen) {
  EXPECT_TRUE(Leases().empty());
  auto b = Begin();
  ASSERT_TRUE(b->PutLease(7, "seven").ok());
  ASSERT_TRUE(b->PutLease(0x7fffffffffffffffLL, "max").ok());
  ASSERT_TRUE(b->PutLease(2, "two").ok());
  auto in_batch = b->Leases();
  ASSERT_TRUE(in_batch.ok());
  EXPECT_EQ(in_batch->size(), 3u);
  ASSERT_TRUE(b->Commit().ok());
  b.reset();
  EXPECT_EQ(Leases(), (Rows{{2, "two"}, {7, "seven"}, {0x7fffffffffffffffLL, "max"}}));

  b = Begin();
  ASSERT_TRUE(b->DeleteLease(7).ok());
  ASSERT_TRUE(b->DeleteLease(12345).ok());  // absent: OK
  ASSERT_TRUE(b->PutLease(2, "TWO").ok());
  ASSERT_TRUE(b->Commit().ok());
  b.reset();
  int64_t rev = store_->CurrentRev();
  EXPECT_EQ(rev, 1);  // lease rows create no revision
  Reopen();
  EXPECT_EQ(Leases(), (Rows{{2, "TWO"}, {0x7fffffffffffffffLL, "max"}}));
}

TEST_F(LeaseTableTest, DroppedBatchWritesNothing) {
  {
    auto b = Begin();
    ASSERT_TRUE(b->PutLease(1, "x").ok());
  }
  EXPECT_TRUE(Leases().empty());
}

TEST_F(LeaseTableTest, LeasedKeysFollowCurrentState) {
  auto b = Begin();
  auto t = b->BeginTxn();
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Put("a", "1", 5).ok());
  ASSERT_TRUE((*t)->Put("b", "1", 0).ok());
  ASSERT_TRUE((*t)->Put("c", "1", 6).ok());
  ASSERT_TRUE((*t)->Put("d", "1", 5).ok());
  ASSERT_TRUE((*t)->End().ok());
  t = b->BeginTxn();
  ASSERT_TRUE((*t)->Put("c", "2", 0).ok());  // detached by a later put
  ASSERT_TRUE((*t)->DeleteRange("d", "").ok());
  ASSERT_TRUE((*t)->Put(std::string(600, 'z'), "long", 9).ok());  // a long key
  ASSERT_TRUE((*t)->End().ok());
  ASSERT_TRUE(b->Commit().ok());
  b.reset();
  EXPECT_EQ(LeasedKeys(), (Rows{{5, "a"}, {9, std::string(600, 'z')}}));
}

}  // namespace
}  // namespace etcdpp::mvcc
