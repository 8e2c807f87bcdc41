// Store::SnapshotTo / InspectSnapshotFile / RestoreFrom: the state a leader
// streams to a lagging follower must arrive whole and replace the follower's.
#include <gtest/gtest.h>

#include <string>

#include "mvcc/store.h"
#include "temp_dir.h"

namespace etcdpp::mvcc {
namespace {

using etcdpp::testing::TempDir;

// "k" + std::to_string(n) trips GCC 12's -Wrestrict false positive.
std::string Key(int n) {
  std::string k = "k";
  k.append(std::to_string(n));
  return k;
}

std::unique_ptr<Store> OpenStore(const std::string& dir) {
  auto s = Store::Open(dir);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

void Put(Store* s, const std::string& k, const std::string& v, uint64_t index) {
  auto b = s->BeginBatch();
  ASSERT_TRUE(b.ok());
  auto t = (*b)->BeginTxn();
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Put(k, v, 0).ok());
  ASSERT_TRUE((*t)->End().ok());
  (*b)->SetConsistentIndex(index, 7);
  ASSERT_TRUE((*b)->Commit().ok());
}

std::vector<std::string> Keys(Store* s) {
  auto r = s->Read();
  EXPECT_TRUE(r.ok());
  auto rr = (*r)->Range(std::string(1, '\0'), std::string(1, '\0'), RangeOptions{});
  EXPECT_TRUE(rr.ok());
  std::vector<std::string> out;
  for (const auto& kv : rr->kvs)
    out.push_back(kv.key() + "=" + kv.value());
  return out;
}

TEST(SnapshotTest, CopyInspectRestoreRoundTrip) {
  TempDir dir;
  auto leader = OpenStore(dir.path() + "/a");
  auto follower = OpenStore(dir.path() + "/b");
  ASSERT_TRUE(leader && follower);
  for (int i = 0; i < 500; i++)
    Put(leader.get(), Key(i), std::string(100, 'x'), 10 + i);
  Put(follower.get(), "stale", "gone after restore", 3);

  const std::string file = dir.path() + "/snap.db";
  ASSERT_TRUE(leader->SnapshotTo(file).ok());
  // Writes after the copy do not reach it.
  Put(leader.get(), "late", "v", 1000);

  auto info = InspectSnapshotFile(file);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->consistent_index, 509u);
  EXPECT_EQ(info->term, 7u);
  EXPECT_EQ(info->revision, 501);
  EXPECT_GT(info->size_bytes, 0);

  ASSERT_TRUE(follower->RestoreFrom(file).ok());
  EXPECT_EQ(follower->ConsistentIndex(), 509u);
  EXPECT_EQ(follower->CurrentRev(), 501);
  auto keys = Keys(follower.get());
  ASSERT_EQ(keys.size(), 500u);
  EXPECT_EQ(keys.front(), "k0=" + std::string(100, 'x'));
  auto h1 = leader->HashKV(501);
  auto h2 = follower->HashKV(501);
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_EQ(h1->hash, h2->hash);

  // The restored store keeps working and survives a reopen.
  Put(follower.get(), "after", "1", 510);
  follower.reset();
  follower = OpenStore(dir.path() + "/b");
  EXPECT_EQ(follower->ConsistentIndex(), 510u);
  EXPECT_EQ(Keys(follower.get()).size(), 501u);
}

TEST(SnapshotTest, GarbageFileIsRefusedAndStoreUntouched) {
  TempDir dir;
  auto s = OpenStore(dir.path() + "/a");
  Put(s.get(), "k", "v", 5);
  const std::string file = dir.path() + "/bad.db";
  FILE* f = fopen(file.c_str(), "w");
  fputs("this is not an lmdb file at all", f);
  fclose(f);
  EXPECT_FALSE(InspectSnapshotFile(file).ok());
  EXPECT_FALSE(s->RestoreFrom(file).ok());
  EXPECT_FALSE(s->RestoreFrom(dir.path() + "/missing.db").ok());
  EXPECT_EQ(s->ConsistentIndex(), 5u);
  EXPECT_EQ(Keys(s.get()).size(), 1u);
}

}  // namespace
}  // namespace etcdpp::mvcc
