// Store maintenance: Hash, HashKV (logical, layout independent), Defrag and
// the alarm table.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <unistd.h>

#include "mvcc/store.h"
#include "store_fixture.h"
#include "temp_dir.h"

namespace etcdpp::mvcc {
namespace {

using etcdpp::testing::TempDir;

// "k" + std::to_string(n) trips GCC 12's -Wrestrict false positive.
std::string Cat(std::string a, int n) {
  a.append(std::to_string(n));
  return a;
}

class MaintenanceTest : public StoreFixture {
 protected:
  // One logical txn per batch (or `per_batch` of them), each putting one key.
  void Put(Store* s, const std::string& k, const std::string& v, uint64_t ci = 0) {
    auto b = s->BeginBatch();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    auto t = (*b)->BeginTxn();
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE((*t)->Put(k, v, 0).ok());
    ASSERT_TRUE((*t)->End().ok());
    if (ci != 0) (*b)->SetConsistentIndex(ci, 1);
    ASSERT_TRUE((*b)->Commit().ok());
  }
  void Del(Store* s, const std::string& k, const std::string& end) {
    auto b = s->BeginBatch();
    ASSERT_TRUE(b.ok());
    auto t = (*b)->BeginTxn();
    ASSERT_TRUE((*t)->DeleteRange(k, end).ok());
    ASSERT_TRUE((*t)->End().ok());
    ASSERT_TRUE((*b)->Commit().ok());
  }
  void Compact(Store* s, int64_t rev, bool physical) {
    auto b = s->BeginBatch();
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE((*b)->Compact(rev).ok());
    ASSERT_TRUE((*b)->Commit().ok());
    if (physical) {
      ASSERT_TRUE(s->RunCompaction().ok());
    }
  }
  // A small history with overwrites, deletes and a long key.
  void History(Store* s, uint64_t ci_base) {
    for (int i = 0; i < 20; i++) {
      Put(s, Cat("k", i % 7), Cat("v", i), ci_base + i);
    }
    Put(s, std::string(600, 'L'), "long");
    Del(s, "k3", "k5");
  }
  HashKVResult HashKV(Store* s, int64_t rev) {
    auto h = s->HashKV(rev);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? *h : HashKVResult{};
  }
};

TEST_F(MaintenanceTest, HashKV_sameHistoryDifferentLayout_equal) {
  TempDir other_dir;
  auto other = Store::Open(other_dir.path() + "/db");
  ASSERT_TRUE(other.ok());
  History(store_.get(), 100);
  History(other->get(), 5000);  // other consistent indexes: never hashed
  // The other store also compacts physically and is defragmented: a very
  // different page layout, the same logical content.
  Compact(store_.get(), 10, /*physical=*/false);
  Compact(other->get(), 10, /*physical=*/true);
  ASSERT_TRUE((*other)->Defrag().ok());
  for (int64_t rev : {0, 10, 15, 22}) {
    HashKVResult a = HashKV(store_.get(), rev), b = HashKV(other->get(), rev);
    EXPECT_EQ(a.hash, b.hash) << "rev " << rev;
    EXPECT_EQ(a.compact_rev, 10);
    EXPECT_EQ(b.compact_rev, 10);
    EXPECT_EQ(a.hash_rev, rev == 0 ? store_->CurrentRev() : rev);
  }
  EXPECT_NE(HashKV(store_.get(), 12).hash, HashKV(store_.get(), 13).hash);
}

TEST_F(MaintenanceTest, HashKV_errors) {
  History(store_.get(), 1);
  Compact(store_.get(), 5, true);
  auto future = store_->HashKV(store_->CurrentRev() + 1);
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.status().code(), Code::kOutOfRange);
  EXPECT_EQ(future.status().message(), kErrFutureRev);
  auto compacted = store_->HashKV(4);
  ASSERT_FALSE(compacted.ok());
  EXPECT_EQ(compacted.status().message(), kErrCompacted);
  EXPECT_TRUE(store_->HashKV(5).ok());  // the compacted revision itself is allowed
}

TEST_F(MaintenanceTest, HashKV_emptyStore_isCrcOfTableName) {
  // etcd's value for an empty store: CRC-32C of "key" alone.
  HashKVResult h = HashKV(store_.get(), 0);
  EXPECT_EQ(h.hash, 0x40a4756du);  // crc32c("key")
  EXPECT_EQ(h.hash_rev, 1);
}

// Values produced by etcd 3.4 for the same requests (tests/e2e/test_maintenance.py
// asserts them against the real server too).
TEST_F(MaintenanceTest, HashKV_bitForBitEtcd) {
  Put(store_.get(), "a", "1");  // rev 2
  Put(store_.get(), "b", "2");  // rev 3
  Put(store_.get(), "a", "3");  // rev 4
  Del(store_.get(), "b", "");   // rev 5
  Put(store_.get(), "c", "4");  // rev 6
  EXPECT_EQ(HashKV(store_.get(), 1).hash, 1084519789u);
  EXPECT_EQ(HashKV(store_.get(), 2).hash, 2587454935u);
  EXPECT_EQ(HashKV(store_.get(), 3).hash, 1827592406u);
  EXPECT_EQ(HashKV(store_.get(), 4).hash, 2069675932u);
  EXPECT_EQ(HashKV(store_.get(), 5).hash, 1125682900u);
  EXPECT_EQ(HashKV(store_.get(), 6).hash, 2750537463u);
  // After compacting to 4: b@3 is no longer live at 5 (deleted there) and
  // does not count, whether or not the compaction has physically run.
  Compact(store_.get(), 4, /*physical=*/false);
  EXPECT_EQ(HashKV(store_.get(), 5).hash, 1468967122u);
  EXPECT_EQ(HashKV(store_.get(), 6).hash, 2450235489u);
  ASSERT_TRUE(store_->RunCompaction().ok());
  EXPECT_EQ(HashKV(store_.get(), 5).hash, 1468967122u);
  EXPECT_EQ(HashKV(store_.get(), 6).hash, 2450235489u);
  Compact(store_.get(), 5, /*physical=*/true);
  EXPECT_EQ(HashKV(store_.get(), 6).hash, 168415639u);
}

TEST_F(MaintenanceTest, Hash_ignoresConsistentIndex_seesData) {
  TempDir other_dir;
  auto other = Store::Open(other_dir.path() + "/db");
  ASSERT_TRUE(other.ok());
  History(store_.get(), 100);
  History(other->get(), 7000);
  auto a = store_->Hash();
  auto b = (*other)->Hash();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->hash, b->hash);
  EXPECT_EQ(a->rev, store_->CurrentRev());
  Put(other->get(), "extra", "x");
  EXPECT_NE((*other)->Hash()->hash, a->hash);
}

TEST_F(MaintenanceTest, Defrag_shrinksFileKeepsData) {
  const std::string big(8000, 'x');
  for (int i = 0; i < 400; i++)
    Put(store_.get(), Cat("big", i), big);
  Put(store_.get(), "keep", "me");
  Del(store_.get(), "big", "bih");
  Compact(store_.get(), store_->CurrentRev(), true);
  const int64_t before = store_->DbSizeBytes();
  const auto hash_before = HashKV(store_.get(), 0);
  ASSERT_TRUE(store_->Defrag().ok());
  const int64_t after = store_->DbSizeBytes();
  EXPECT_LT(after * 4, before) << "before " << before << " after " << after;
  EXPECT_EQ(HashKV(store_.get(), 0).hash, hash_before.hash);
  // Writes go on after the swap, and everything survives a reopen.
  Put(store_.get(), "after", "defrag");
  Reopen();
  auto r = store_->Read();
  ASSERT_TRUE(r.ok());
  auto keep = (*r)->Range("keep", "", {});
  ASSERT_TRUE(keep.ok());
  ASSERT_EQ(keep->kvs.size(), 1u);
  EXPECT_EQ(keep->kvs[0].value(), "me");
  auto after_kv = (*r)->Range("after", "", {});
  ASSERT_TRUE(after_kv.ok());
  EXPECT_EQ(after_kv->kvs.size(), 1u);
  EXPECT_EQ((*r)->Range("big", "bih", {})->count, 0);
}

TEST_F(MaintenanceTest, Defrag_waitsForReaders_readersNeverFail) {
  History(store_.get(), 1);
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, failures{0};
  std::thread reader([&] {
    while (!stop.load()) {
      auto r = store_->Read();
      if (!r.ok()) {
        failures++;
        continue;
      }
      auto got = (*r)->Range("k0", "", {});
      if (!got.ok() || got->kvs.size() != 1) failures++;
      reads++;
    }
  });
  for (int i = 0; i < 5; i++)
    ASSERT_TRUE(store_->Defrag().ok());
  // Let the reader run at least once more against the final environment.
  const int seen = reads.load();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (reads.load() == seen && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  stop = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(reads.load(), seen);
}

TEST_F(MaintenanceTest, Defrag_leftoverCopyRemovedAtOpen) {
  History(store_.get(), 1);
  store_.reset();
  const std::string copy = dir_.path() + "/db/data.mdb.defrag";
  FILE* f = fopen(copy.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("half a copy", f);
  fclose(f);
  Reopen();
  EXPECT_NE(access(copy.c_str(), F_OK), 0);
  EXPECT_EQ(HashKV(store_.get(), 0).hash_rev, store_->CurrentRev());
}

TEST_F(MaintenanceTest, AlarmTable_persists) {
  {
    auto b = Begin();
    ASSERT_TRUE(b->PutAlarm("b-alarm").ok());
    ASSERT_TRUE(b->PutAlarm("a-alarm").ok());
    ASSERT_TRUE(b->DeleteAlarm("missing").ok());
    ASSERT_TRUE(b->Commit().ok());
  }
  Reopen();
  EXPECT_EQ(ReadAll(&ReadTxn::Alarms), (std::vector<std::string>{"a-alarm", "b-alarm"}));
  {
    auto b = Begin();
    ASSERT_TRUE(b->DeleteAlarm("a-alarm").ok());
    ASSERT_TRUE(b->Commit().ok());
  }
  ASSERT_TRUE(store_->Defrag().ok());
  EXPECT_EQ(ReadAll(&ReadTxn::Alarms), (std::vector<std::string>{"b-alarm"}));
}

}  // namespace
}  // namespace etcdpp::mvcc
