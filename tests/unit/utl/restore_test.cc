// snapshot restore of etcdpp snapshot files: the new data dir holds the
// store with the new membership and a WAL the server restarts from; bad
// inputs fail with etcdutl's texts and leave nothing behind.
#include "tools/utl/restore.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "etcdpp/internal.pb.h"
#include "lease/lessor.h"
#include "membership/member.h"
#include "mvcc/store.h"
#include "server/ids.h"
#include "temp_dir.h"
#include "tools/utl/snapshot_file.h"
#include "tools/utl/status.h"
#include "wal/wal.h"

namespace etcdpp::utl {
namespace {

using etcdpp::testing::TempDir;

// "k" + std::to_string(n) trips GCC 12's -Wrestrict false positive.
std::string Cat(const char* prefix, int n) {
  std::string s = prefix;
  s.append(std::to_string(n));
  return s;
}

std::string ReadAll(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void WriteAll(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A store as a member of an old cluster has it: keys over several
    // revisions, a lease, a member and a removed member.
    auto s = mvcc::Store::Open(dir_.path() + "/src");
    ASSERT_TRUE(s.ok());
    auto store = std::move(s).value();
    auto b = store->BeginBatch();
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE((*b)->PutLease(77, lease::Lessor::EncodeRow(600, 0)).ok());
    for (int i = 0; i < 50; i++) {
      auto t = (*b)->BeginTxn();
      ASSERT_TRUE(t.ok());
      ASSERT_TRUE((*t)->Put(Cat("key", i % 20), Cat("v", i), i == 49 ? 77 : 0).ok());
      ASSERT_TRUE((*t)->End().ok());
    }
    membership::Member old{0xabc, "old", {"http://10.0.0.1:2380"}, {}, false};
    ASSERT_TRUE((*b)->PutMember(old.id, membership::Encode(old)).ok());
    ASSERT_TRUE((*b)->PutRemovedMember(0xdef).ok());
    (*b)->SetConsistentIndex(1234, 9);
    ASSERT_TRUE((*b)->Commit().ok());
    revision_ = store->CurrentRev();
    ASSERT_TRUE(store->SnapshotTo(snap_ + ".payload").ok());
    const std::string payload = ReadAll(snap_ + ".payload");
    ASSERT_EQ(payload.size() % 512, 0u);
    WriteAll(snap_, payload + Sha256(payload));  // what etcdctl snapshot save stores
  }

  RestoreConfig Config(const std::string& name) {
    RestoreConfig c;
    c.snapshot_path = snap_;
    c.name = name;
    c.data_dir = dir_.path() + "/" + name;
    c.initial_cluster =
        "m0=http://127.0.0.1:1000,m1=http://127.0.0.1:1001,m2=http://127.0.0.1:1002";
    c.initial_cluster_token = "tok";
    c.initial_advertise_peer_urls = "http://127.0.0.1:100" + name.substr(1);
    return c;
  }

  TempDir dir_;
  std::string snap_ = dir_.path() + "/snapshot.db";
  int64_t revision_ = 0;
};

TEST_F(RestoreTest, Restore_writesStoreWithNewMembershipAndABootableWal) {
  auto r = Restore(Config("m1"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->format, SnapshotFormat::kLmdb);
  const uint64_t m1 = server::ComputeMemberId({"http://127.0.0.1:1001"}, "tok");
  EXPECT_EQ(r->member_id, m1);
  const uint64_t cid =
      server::ComputeClusterId({server::ComputeMemberId({"http://127.0.0.1:1000"}, "tok"), m1,
                                server::ComputeMemberId({"http://127.0.0.1:1002"}, "tok")});
  EXPECT_EQ(r->cluster_id, cid);
  EXPECT_EQ(r->consistent_index, 3u);
  EXPECT_EQ(r->revision, revision_);

  auto s = mvcc::Store::Open(r->data_dir + "/member/snap/db");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto& store = *s;
  EXPECT_EQ(store->ConsistentIndex(), 3u);
  EXPECT_EQ(store->ConsistentTerm(), 1u);
  EXPECT_EQ(store->CurrentRev(), revision_);
  auto txn = store->Read();
  ASSERT_TRUE(txn.ok());
  auto members = (*txn)->Members();
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->size(), 3u);
  for (const auto& [id, enc] : *members) {
    auto m = membership::Decode(enc);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->id, id);
    EXPECT_FALSE(m->name.empty());
    EXPECT_EQ(m->peer_urls.size(), 1u);
  }
  EXPECT_TRUE((*txn)->RemovedMembers()->empty());
  auto leases = (*txn)->Leases();
  ASSERT_EQ(leases->size(), 1u);
  EXPECT_EQ((*leases)[0].first, 77);
  auto rr = (*txn)->Range("key9", "", {});  // v9, v29, v49 (leased)
  ASSERT_TRUE(rr.ok());
  ASSERT_EQ(rr->kvs.size(), 1u);
  EXPECT_EQ(rr->kvs[0].value(), "v49");
  EXPECT_EQ(rr->kvs[0].lease(), 77);
  EXPECT_EQ(rr->kvs[0].version(), 3);
  txn->reset();
  store.reset();

  // The WAL: metadata with our ids, the bootstrap log, a marker at {3, 1}.
  const std::string wal_dir = r->data_dir + "/member/wal";
  auto snaps = wal::Wal::ValidSnapshots(wal_dir);
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->back(), (wal::WalSnapshot{3, 1}));
  auto w = wal::Wal::Open(wal_dir, snaps->back());
  ASSERT_TRUE(w.ok());
  auto rd = (*w)->ReadAll();
  ASSERT_TRUE(rd.ok()) << rd.status().ToString();
  internalpb::WalMetadata md;
  ASSERT_TRUE(md.ParseFromString(rd->metadata));
  EXPECT_EQ(md.node_id(), m1);
  EXPECT_EQ(md.cluster_id(), cid);
  EXPECT_EQ(rd->hard_state.commit, 3u);
  EXPECT_EQ(rd->hard_state.term, 1u);
  EXPECT_TRUE(rd->entries.empty());

  // Status of the snapshot file (etcdpp format).
  auto st = SnapshotStatus(snap_);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->revision, revision_);
  EXPECT_GT(st->total_key, 50);
  EXPECT_EQ(st->total_size % 4096, 0);
  EXPECT_EQ(st->version, "3.6.0");
}

TEST_F(RestoreTest, Restore_badInputsFailWithEtcdutlTextsAndLeaveNothing) {
  auto c = Config("m0");
  {
    std::string f = ReadAll(snap_);
    f[5000] ^= 1;
    WriteAll(snap_ + ".bad", f);
    c.snapshot_path = snap_ + ".bad";
    auto r = Restore(c);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message().rfind("expected sha256 [", 0), 0u) << r.status().message();
    EXPECT_FALSE(std::filesystem::exists(c.data_dir));
  }
  {
    std::string f = ReadAll(snap_);
    WriteAll(snap_ + ".nohash", f.substr(0, f.size() - 32));
    c.snapshot_path = snap_ + ".nohash";
    auto r = Restore(c);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "snapshot missing hash but --skip-hash-check=false");
    c.skip_hash_check = true;
    EXPECT_TRUE(Restore(c).ok());  // a db copied from a data dir
    c.skip_hash_check = false;
  }
  {
    c.snapshot_path = snap_;
    auto r = Restore(c);  // the data dir is not empty now
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(),
              "data-dir \"" + c.data_dir + "\" not empty or could not be read");
  }
  {
    auto c2 = Config("m2");
    c2.bump_revision = 5;
    EXPECT_EQ(Restore(c2).status().message(), "--mark-compacted required if --revision-bump > 0");
    c2.initial_advertise_peer_urls = "http://127.0.0.1:9999";
    c2.bump_revision = 0;
    EXPECT_FALSE(Restore(c2).ok());
    EXPECT_FALSE(std::filesystem::exists(c2.data_dir));
    c2.initial_advertise_peer_urls = "http://127.0.0.1:1002";
    WriteAll(dir_.path() + "/junk", std::string(4096, 'j'));
    c2.snapshot_path = dir_.path() + "/junk";
    c2.skip_hash_check = true;
    EXPECT_FALSE(Restore(c2).ok());
    EXPECT_FALSE(std::filesystem::exists(c2.data_dir));
  }
}

TEST_F(RestoreTest, Restore_walDirElsewhere) {
  auto c = Config("m0");
  c.wal_dir = dir_.path() + "/wals/m0";
  auto r = Restore(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(wal::Wal::Exists(c.wal_dir));
  EXPECT_FALSE(std::filesystem::exists(c.data_dir + "/member/wal"));
  auto again = Config("m1");
  again.wal_dir = c.wal_dir;
  EXPECT_EQ(Restore(again).status().message(), "wal-dir \"" + c.wal_dir + "\" exists");
}

TEST_F(RestoreTest, Restore_bumpRevisionMarksEverythingBeforeCompacted) {
  auto c = Config("m2");
  c.bump_revision = 1000;
  c.mark_compacted = true;
  auto r = Restore(c);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->revision, revision_ + 1000);
  auto s = mvcc::Store::Open(r->data_dir + "/member/snap/db");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->CurrentRev(), revision_ + 1000);
  EXPECT_EQ((*s)->CompactRev(), revision_ + 1000);
  auto txn = (*s)->Read();
  mvcc::RangeOptions o;
  o.rev = revision_;
  EXPECT_EQ((*txn)->Range("key1", "", o).status().message(), mvcc::kErrCompacted);
  auto now = (*txn)->Range("key1", "", {});
  ASSERT_TRUE(now.ok());
  ASSERT_EQ(now->kvs.size(), 1u);  // the latest version survives the compaction
}

}  // namespace
}  // namespace etcdpp::utl
