// The reader against a real etcd 3.4 snapshot (etcd_fixture.h): every key
// at every revision since the compaction equals what etcd served.
#include "bbolt/etcd_backend.h"

#include <gtest/gtest.h>

#include <map>

#include "etcd_fixture.h"

namespace etcdpp::bbolt {
namespace {

class EtcdBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& s = etcdpp::testing::GetEtcdSnapshot();
    if (!s.available) GTEST_SKIP() << "no /usr/bin/etcd";
    ASSERT_TRUE(s.error.empty()) << "generating the etcd snapshot failed: " << s.error;
    auto m = MappedFile::Open(s.path);
    ASSERT_TRUE(m.ok());
    file_ = std::move(m).value();
    auto db = Db::Open(file_->data());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::make_unique<Db>(*db);
  }
  std::unique_ptr<MappedFile> file_;
  std::unique_ptr<Db> db_;
};

TEST_F(EtcdBackendTest, Buckets_areEtcds) {
  auto b = db_->Buckets();
  ASSERT_TRUE(b.ok());
  for (const char* want : {"key", "meta", "lease", "members", "members_removed", "auth",
                           "authUsers", "authRoles", "cluster", "alarm"}) {
    EXPECT_NE(std::find(b->begin(), b->end(), want), b->end()) << want;
  }
  EXPECT_EQ(EtcdAuthBuckets(*db_), (std::vector<std::string>{"auth", "authRoles", "authUsers"}));
}

// The generated file exercises every page kind the reader handles.
TEST_F(EtcdBackendTest, File_hasBranchOverflowAndInlinePages) {
  const std::string_view data = file_->data();
  const uint64_t ps = db_->meta().page_size;
  auto le64 = [&](size_t off) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
      v = (v << 8) | static_cast<unsigned char>(data[off + i]);
    return v;
  };
  auto flags_of = [&](uint64_t pgid) {
    return static_cast<unsigned char>(data[pgid * ps + 8]) |
           (static_cast<unsigned char>(data[pgid * ps + 9]) << 8);
  };
  uint64_t key_root = 0;
  int inline_buckets = 0;
  ASSERT_TRUE(db_->ForEachRoot([&](std::string_view k, std::string_view v, bool is_bucket) {
                   if (!is_bucket) return Status::OK();
                   if (k == "key") key_root = le64(v.data() - data.data());
                   if (le64(v.data() - data.data()) == 0) inline_buckets++;
                   return Status::OK();
                 })
                  .ok());
  ASSERT_NE(key_root, 0u);
  EXPECT_EQ(flags_of(key_root), 0x01) << "the key bucket's root is a branch page";
  EXPECT_GT(inline_buckets, 0);
  bool overflow = false;
  for (uint64_t p = 2; p < db_->meta().pgid; p++) {
    if (flags_of(p) == 0x02 && le64(p * ps) == p && (le64(p * ps + 8) >> 32) > 0) {
      overflow = true;
    }
  }
  EXPECT_TRUE(overflow) << "a leaf page with overflow pages (the 200 KB value)";
}

TEST_F(EtcdBackendTest, Meta_membersAndLeases) {
  const auto& s = etcdpp::testing::GetEtcdSnapshot();
  auto meta = ReadEtcdMeta(*db_);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_GT(meta->consistent_index, 0u);
  EXPECT_EQ(meta->scheduled_compact_rev, s.compact_rev);
  EXPECT_EQ(meta->finished_compact_rev, s.compact_rev);
  EXPECT_EQ(meta->storage_version, "");  // etcd 3.4 has none
  auto members = ReadEtcdMembers(*db_);
  ASSERT_TRUE(members.ok()) << members.status().ToString();
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ((*members)[0].name, "e1");
  EXPECT_EQ((*members)[0].peer_urls.size(), 1u);
  EXPECT_NE((*members)[0].id, 0u);
  auto leases = ReadEtcdLeases(*db_);
  ASSERT_TRUE(leases.ok()) << leases.status().ToString();
  std::map<int64_t, int64_t> got;
  for (const auto& l : *leases)
    got[l.id] = l.ttl;
  EXPECT_EQ(got, s.leases);
}

TEST_F(EtcdBackendTest, KeyRows_replayToWhatEtcdServedAtEveryRevision) {
  const auto& s = etcdpp::testing::GetEtcdSnapshot();
  ASSERT_FALSE(s.kvs_at.empty());
  // key -> [(main, tombstone, kv)] in revision order.
  struct W {
    int64_t main;
    bool tombstone;
    mvccpb::KeyValue kv;
  };
  std::map<std::string, std::vector<W>> hist;
  int64_t last = 0, rows = 0;
  Status st = ForEachEtcdKey(*db_, [&](const EtcdKeyRow& r) {
    EXPECT_GE(r.main, last);
    last = r.main;
    rows++;
    hist[r.kv.key()].push_back({r.main, r.tombstone, r.kv});
    return Status::OK();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(last, s.revision);
  EXPECT_GT(rows, 900);
  for (const auto& [rev, want] : s.kvs_at) {
    std::vector<mvccpb::KeyValue> got;
    for (const auto& [key, ws] : hist) {
      const W* cur = nullptr;
      for (const auto& w : ws)
        if (w.main <= rev) cur = &w;
      if (cur != nullptr && !cur->tombstone) got.push_back(cur->kv);
    }
    ASSERT_EQ(got.size(), want.size()) << "at revision " << rev;
    for (size_t i = 0; i < got.size(); i++) {
      EXPECT_EQ(got[i].SerializeAsString(), want[i].SerializeAsString())
          << "at revision " << rev << " key " << want[i].key().substr(0, 40);
    }
  }
}

TEST(EtcdBackend, DecodeLease_skipsUnknownFieldsAndRejectsGarbage) {
  // ID=5, TTL=60, RemainingTTL=7, then an unknown length-delimited field 9.
  std::string v = {0x08, 0x05, 0x10, 0x3c, 0x18, 0x07, 0x4a, 0x02, 'h', 'i'};
  auto l = DecodeLease(v);
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->id, 5);
  EXPECT_EQ(l->ttl, 60);
  EXPECT_EQ(l->remaining_ttl, 7);
  EXPECT_FALSE(DecodeLease(std::string{0x08}).ok());
  EXPECT_FALSE(DecodeLease(std::string{0x4a, 0x10, 'x'}).ok());
}

}  // namespace
}  // namespace etcdpp::bbolt
