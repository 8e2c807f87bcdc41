// Import of a real etcd 3.4 snapshot (etcd_fixture.h) through snapshot
// restore: every key at every revision since the compaction, the leases,
// the revisions and the status numbers equal what etcd served / reported.
#include <gtest/gtest.h>

#include "etcd_fixture.h"
#include "lease/lessor.h"
#include "mvcc/store.h"
#include "temp_dir.h"
#include "tools/utl/restore.h"
#include "tools/utl/status.h"

namespace etcdpp::utl {
namespace {

using etcdpp::testing::TempDir;

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& s = etcdpp::testing::GetEtcdSnapshot();
    if (!s.available) GTEST_SKIP() << "no /usr/bin/etcd";
    ASSERT_TRUE(s.error.empty()) << "generating the etcd snapshot failed: " << s.error;
  }
  TempDir dir_;
};

TEST_F(ImportTest, Status_equalsEtcdctlSnapshotStatus) {
  const auto& s = etcdpp::testing::GetEtcdSnapshot();
  auto st = SnapshotStatus(s.path);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->hash, s.status_hash);
  EXPECT_EQ(st->revision, s.status_revision);
  EXPECT_EQ(st->total_key, s.status_total_key);
  EXPECT_EQ(st->total_size, s.status_total_size);
  EXPECT_EQ(st->version, "");
}

TEST_F(ImportTest, Restore_importsEveryRevisionLeasesAndCompaction) {
  const auto& s = etcdpp::testing::GetEtcdSnapshot();
  RestoreConfig c;
  c.snapshot_path = s.path;
  c.name = "n1";
  c.data_dir = dir_.path() + "/n1";
  c.initial_cluster = "n1=http://127.0.0.1:2380";
  c.initial_advertise_peer_urls = "http://127.0.0.1:2380";
  auto r = Restore(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->format, SnapshotFormat::kBbolt);
  EXPECT_EQ(r->revision, s.revision);
  EXPECT_EQ(r->import.compact_rev, s.compact_rev);
  EXPECT_EQ(r->import.long_keys, 1);
  EXPECT_EQ(r->import.leases, static_cast<int64_t>(s.leases.size()));
  EXPECT_EQ(r->import.raw_tables, (std::vector<std::string>{"auth", "authRoles", "authUsers"}));

  auto store = mvcc::Store::Open(c.data_dir + "/member/snap/db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->CurrentRev(), s.revision);
  EXPECT_EQ((*store)->CompactRev(), s.compact_rev);
  EXPECT_EQ((*store)->ConsistentIndex(), 1u);
  auto txn = (*store)->Read();
  ASSERT_TRUE(txn.ok());
  for (const auto& [rev, want] : s.kvs_at) {
    mvcc::RangeOptions o;
    o.rev = rev;
    auto got = (*txn)->Range(std::string(1, '\0'), std::string(1, '\0'), o);
    ASSERT_TRUE(got.ok()) << "at " << rev << ": " << got.status().ToString();
    ASSERT_EQ(got->kvs.size(), want.size()) << "at revision " << rev;
    for (size_t i = 0; i < want.size(); i++) {
      EXPECT_EQ(got->kvs[i].SerializeAsString(), want[i].SerializeAsString())
          << "at revision " << rev << " key " << want[i].key().substr(0, 40);
    }
  }
  mvcc::RangeOptions below;
  below.rev = s.compact_rev - 1;
  EXPECT_EQ((*txn)->Range("k0000", "", below).status().message(), mvcc::kErrCompacted);
  auto leases = (*txn)->Leases();
  ASSERT_TRUE(leases.ok());
  std::map<int64_t, int64_t> got;
  for (const auto& [id, enc] : *leases) {
    int64_t ttl = 0, remaining = 0;
    ASSERT_TRUE(lease::Lessor::DecodeRow(enc, &ttl, &remaining));
    got[id] = ttl;
  }
  EXPECT_EQ(got, s.leases);
  auto leased = (*txn)->LeasedKeys();
  ASSERT_TRUE(leased.ok());
  EXPECT_EQ(leased->size(), 3u);  // lk1, lk2, lk3 (lk4's lease was revoked)
}

}  // namespace
}  // namespace etcdpp::utl
