// The lease table of the store (written by src/lease through Batch) and the
// leased-keys scan used to rebuild the lease->keys map.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "mvcc/store.h"
#include "store_fixture.h"

namespace etcdpp::mvcc {
namespace {

using Rows = std::vector<std::pair<int64_t, std::string>>;

class LeaseTableTest : public StoreFixture {
 protected:
  Rows Leases() { return ReadAll(&ReadTxn::Leases); }
  Rows LeasedKeys() { return ReadAll(&ReadTxn::LeasedKeys); }
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
