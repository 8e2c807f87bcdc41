// The members tables of the store (written by src/membership through Batch).
#include <gtest/gtest.h>
#include <lmdb.h>

#include <string>
#include <utility>
#include <vector>

#include "mvcc/store.h"
#include "store_fixture.h"

namespace etcdpp::mvcc {
namespace {

using etcdpp::testing::TempDir;

using Rows = std::vector<std::pair<uint64_t, std::string>>;

class MembersTableTest : public StoreFixture {
 protected:
  Rows Members() { return ReadAll(&ReadTxn::Members); }
  std::vector<uint64_t> Removed() { return ReadAll(&ReadTxn::RemovedMembers); }
};

TEST_F(MembersTableTest, EmptyStoreHasNoMembers) {
  EXPECT_TRUE(Members().empty());
  EXPECT_TRUE(Removed().empty());
}

TEST_F(MembersTableTest, OrderedByIdAndPersistAcrossReopen) {
  auto b = Begin();
  // Ids chosen so that byte order of little-endian keys would differ.
  ASSERT_TRUE(b->PutMember(0x0100, "c").ok());
  ASSERT_TRUE(b->PutMember(0xff00000000000001ull, "z").ok());
  ASSERT_TRUE(b->PutMember(0x02, "a").ok());
  ASSERT_TRUE(b->PutRemovedMember(9).ok());
  ASSERT_TRUE(b->PutRemovedMember(3).ok());
  b->SetConsistentIndex(7, 2);
  ASSERT_TRUE(b->Commit().ok());
  b.reset();
  const Rows want{{0x02, "a"}, {0x0100, "c"}, {0xff00000000000001ull, "z"}};
  EXPECT_EQ(Members(), want);
  EXPECT_EQ(Removed(), (std::vector<uint64_t>{3, 9}));
  EXPECT_EQ(store_->CurrentRev(), 1);  // membership writes create no revision

  Reopen();
  EXPECT_EQ(Members(), want);
  EXPECT_EQ(Removed(), (std::vector<uint64_t>{3, 9}));
  EXPECT_EQ(store_->ConsistentIndex(), 7u);
}

TEST_F(MembersTableTest, BatchSeesOwnWritesAndAbortDiscards) {
  {
    auto b = Begin();
    ASSERT_TRUE(b->PutMember(1, "one").ok());
    ASSERT_TRUE(b->Commit().ok());
  }
  {
    auto b = Begin();
    ASSERT_TRUE(b->PutMember(2, "two").ok());
    ASSERT_TRUE(b->PutMember(1, "uno").ok());  // overwrite
    ASSERT_TRUE(b->DeleteMember(5).ok());      // absent: no error
    ASSERT_TRUE(b->PutRemovedMember(4).ok());
    auto m = b->Members();
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(*m, (Rows{{1, "uno"}, {2, "two"}}));
    auto rm = b->RemovedMembers();
    ASSERT_TRUE(rm.ok());
    EXPECT_EQ(*rm, (std::vector<uint64_t>{4}));
    EXPECT_EQ(Members(), (Rows{{1, "one"}}));  // readers see committed state only
    // Dropped without Commit: aborted.
  }
  EXPECT_EQ(Members(), (Rows{{1, "one"}}));
  EXPECT_TRUE(Removed().empty());
}

TEST_F(MembersTableTest, DeleteAndRemoveInOneBatch) {
  {
    auto b = Begin();
    ASSERT_TRUE(b->PutMember(1, "one").ok());
    ASSERT_TRUE(b->PutMember(2, "two").ok());
    ASSERT_TRUE(b->Commit().ok());
  }
  {
    auto b = Begin();
    ASSERT_TRUE(b->DeleteMember(1).ok());
    ASSERT_TRUE(b->PutRemovedMember(1).ok());
    ASSERT_TRUE(b->Commit().ok());
  }
  Reopen();
  EXPECT_EQ(Members(), (Rows{{2, "two"}}));
  EXPECT_EQ(Removed(), (std::vector<uint64_t>{1}));
}

TEST_F(MembersTableTest, MixesWithKeyValueTxnsInOneBatch) {
  auto b = Begin();
  auto t = b->BeginTxn();
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Put("k", "v", 0).ok());
  ASSERT_TRUE((*t)->End().ok());
  ASSERT_TRUE(b->PutMember(1, "one").ok());
  // A logical txn discarded after a membership write must not undo that write
  // (the batch replays its log up to the txn's start).
  {
    auto t2 = b->BeginTxn();
    ASSERT_TRUE(t2.ok());
    ASSERT_TRUE((*t2)->Put("x", "y", 0).ok());
    // dropped without End(): discarded
  }
  ASSERT_TRUE(b->Commit().ok());
  b.reset();
  EXPECT_EQ(Members(), (Rows{{1, "one"}}));
  EXPECT_EQ(store_->CurrentRev(), 2);
  auto r = store_->Read();
  ASSERT_TRUE(r.ok());
  auto got = (*r)->Range("x", "", {});
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->kvs.empty());
}

// Member rows ride the batch's MAP_FULL handling: growth mid-batch replays
// them; at the maximum the failing write errors and earlier ones survive.
TEST(MembersTableMapTest, GrowsThenSpaceExceeded) {
  TempDir dir;
  Options o;
  o.initial_map_size_bytes = 1 << 20;
  o.map_size_bytes = 4 << 20;
  auto s = Store::Open(dir.path() + "/db", o);
  ASSERT_TRUE(s.ok());
  const std::string v(64 * 1024, 'm');
  {
    auto b = (*s)->BeginBatch();
    ASSERT_TRUE(b.ok());
    auto t = (*b)->BeginTxn();
    ASSERT_TRUE((*t)->Put("k", "v", 0).ok());
    ASSERT_TRUE((*t)->End().ok());
    for (uint64_t id = 1; id <= 24; ++id)
      ASSERT_TRUE((*b)->PutMember(id, v).ok()) << id;
    ASSERT_TRUE((*b)->PutRemovedMember(99).ok());
    ASSERT_TRUE((*b)->Commit().ok());
  }
  EXPECT_GT((*s)->DbSizeBytes(), 1 << 20);
  auto b = (*s)->BeginBatch();
  ASSERT_TRUE(b.ok());
  Status last;
  uint64_t id = 100;
  for (; id < 300; ++id) {
    last = (*b)->PutMember(id, v);
    if (!last.ok()) break;
  }
  EXPECT_EQ(last.code(), Code::kResourceExhausted);
  ASSERT_TRUE((*b)->Commit().ok());
  b->reset();
  auto r = (*s)->Read();
  ASSERT_TRUE(r.ok());
  auto m = (*r)->Members();
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), 24u + (id - 100));
  EXPECT_EQ(m->front().second, v);
  auto rm = (*r)->RemovedMembers();
  ASSERT_TRUE(rm.ok());
  EXPECT_EQ(*rm, (std::vector<uint64_t>{99}));
  EXPECT_EQ((*r)->Range("k", "", {})->kvs.size(), 1u);
}

// A data dir written before the members tables existed opens and reads empty.
TEST(MembersTableUpgradeTest, OldDataDirWithoutTablesOpens) {
  TempDir dir;
  const std::string path = dir.path() + "/db";
  {
    auto s = Store::Open(path);
    ASSERT_TRUE(s.ok());
    auto b = (*s)->BeginBatch();
    ASSERT_TRUE(b.ok());
    auto t = (*b)->BeginTxn();
    ASSERT_TRUE((*t)->Put("k", "v", 0).ok());
    ASSERT_TRUE((*t)->End().ok());
    ASSERT_TRUE((*b)->Commit().ok());
  }
  {
    // Drop the two tables with raw LMDB, as an older build would have left it.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), MDB_SUCCESS);
    ASSERT_EQ(mdb_env_set_maxdbs(env, 16), MDB_SUCCESS);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0600), MDB_SUCCESS);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), MDB_SUCCESS);
    for (const char* name : {"members", "members_removed"}) {
      MDB_dbi dbi;
      ASSERT_EQ(mdb_dbi_open(txn, name, 0, &dbi), MDB_SUCCESS);
      ASSERT_EQ(mdb_drop(txn, dbi, 1), MDB_SUCCESS);
    }
    ASSERT_EQ(mdb_txn_commit(txn), MDB_SUCCESS);
    mdb_env_close(env);
  }
  auto s = Store::Open(path);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto r = (*s)->Read();
  ASSERT_TRUE(r.ok());
  auto m = (*r)->Members();
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->empty());
  auto kv = (*r)->Range("k", "", {});
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->kvs.size(), 1u);
  r->reset();
  auto b = (*s)->BeginBatch();
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE((*b)->PutMember(1, "one").ok());
  ASSERT_TRUE((*b)->Commit().ok());
}

}  // namespace
}  // namespace etcdpp::mvcc
