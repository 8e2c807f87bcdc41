// Maintenance: the alarm store and quota rules, the corruption checks'
// decisions, and the member in-process (alarms through raft, NOSPACE, defrag
// under writes, snapshot stream, hashes, the PeerMaintenance service).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "etcdpp/peer.grpc.pb.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "server/alarms.h"
#include "server/corruption.h"
#include "server/maintenance_service.h"
#include "server/server.h"

namespace etcdpp::server {
namespace {

// "k" + std::to_string(n) trips GCC 12's -Wrestrict false positive.
std::string Cat(std::string a, int n) {
  a.append(std::to_string(n));
  return a;
}

class TempRoot {
 public:
  TempRoot() {
    char tmpl[] = "/tmp/etcdpp-maint-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempRoot() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

etcdserverpb::AlarmRequest Req(etcdserverpb::AlarmRequest::AlarmAction action, uint64_t id,
                               etcdserverpb::AlarmType type) {
  etcdserverpb::AlarmRequest r;
  r.set_action(action);
  r.set_memberid(id);
  r.set_alarm(type);
  return r;
}

internalpb::InternalRequest PutReq(size_t key_bytes, size_t value_bytes) {
  internalpb::InternalRequest r;
  r.mutable_put()->set_key(std::string(key_bytes, 'k'));
  r.mutable_put()->set_value(std::string(value_bytes, 'v'));
  return r;
}

// ---------------------------------------------------------------- AlarmStore

TEST(AlarmStore, ActivateDeactivateGetPersist) {
  TempRoot root;
  auto store = mvcc::Store::Open(root.path() + "/db");
  ASSERT_TRUE(store.ok());
  AlarmStore alarms;
  {
    auto b = (*store)->BeginBatch();
    ASSERT_TRUE(b.ok());
    etcdserverpb::AlarmResponse resp;
    bool changed = false;
    ASSERT_TRUE(alarms
                    .Apply(**b, Req(etcdserverpb::AlarmRequest::ACTIVATE, 7, etcdserverpb::NOSPACE),
                           &resp, &changed)
                    .ok());
    EXPECT_TRUE(changed);
    ASSERT_EQ(resp.alarms_size(), 1);
    EXPECT_EQ(resp.alarms(0).memberid(), 7u);
    // Again: answered, unchanged.
    resp.Clear();
    ASSERT_TRUE(alarms
                    .Apply(**b, Req(etcdserverpb::AlarmRequest::ACTIVATE, 7, etcdserverpb::NOSPACE),
                           &resp, &changed)
                    .ok());
    EXPECT_FALSE(changed);
    EXPECT_EQ(resp.alarms_size(), 1);
    // NONE is ignored.
    resp.Clear();
    ASSERT_TRUE(alarms
                    .Apply(**b, Req(etcdserverpb::AlarmRequest::ACTIVATE, 7, etcdserverpb::NONE),
                           &resp, &changed)
                    .ok());
    EXPECT_EQ(resp.alarms_size(), 0);
    ASSERT_TRUE(alarms
                    .Apply(**b, Req(etcdserverpb::AlarmRequest::ACTIVATE, 3, etcdserverpb::CORRUPT),
                           &resp, &changed)
                    .ok());
    ASSERT_TRUE((*b)->Commit().ok());
  }
  EXPECT_TRUE(alarms.Has(etcdserverpb::NOSPACE));
  EXPECT_TRUE(alarms.Has(etcdserverpb::CORRUPT));
  ASSERT_EQ(alarms.Get(etcdserverpb::NONE).size(), 2u);
  EXPECT_EQ(alarms.Get(etcdserverpb::NONE)[0].alarm(), etcdserverpb::NOSPACE);  // by type
  ASSERT_EQ(alarms.Get(etcdserverpb::CORRUPT).size(), 1u);
  EXPECT_EQ(alarms.Get(etcdserverpb::CORRUPT)[0].memberid(), 3u);

  // A restart reloads the table.
  store->reset();
  store = mvcc::Store::Open(root.path() + "/db");
  ASSERT_TRUE(store.ok());
  AlarmStore reloaded;
  {
    auto r = (*store)->Read();
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(reloaded.Load(**r).ok());
  }
  EXPECT_EQ(reloaded.Get(etcdserverpb::NONE).size(), 2u);
  {
    auto b = (*store)->BeginBatch();
    etcdserverpb::AlarmResponse resp;
    bool changed = false;
    // Deactivating what is not raised answers nothing.
    ASSERT_TRUE(reloaded
                    .Apply(**b,
                           Req(etcdserverpb::AlarmRequest::DEACTIVATE, 9, etcdserverpb::NOSPACE),
                           &resp, &changed)
                    .ok());
    EXPECT_FALSE(changed);
    EXPECT_EQ(resp.alarms_size(), 0);
    ASSERT_TRUE(reloaded
                    .Apply(**b,
                           Req(etcdserverpb::AlarmRequest::DEACTIVATE, 7, etcdserverpb::NOSPACE),
                           &resp, &changed)
                    .ok());
    EXPECT_TRUE(changed);
    EXPECT_EQ(resp.alarms_size(), 1);
    ASSERT_TRUE((*b)->Commit().ok());
  }
  EXPECT_FALSE(reloaded.Has(etcdserverpb::NOSPACE));
  EXPECT_TRUE(reloaded.Has(etcdserverpb::CORRUPT));
}

TEST(AlarmStore, AdmitFollowsCappedAndCorruptAppliers) {
  TempRoot root;
  auto store = mvcc::Store::Open(root.path() + "/db");
  ASSERT_TRUE(store.ok());
  AlarmStore alarms;
  auto raise = [&](etcdserverpb::AlarmType t) {
    auto b = (*store)->BeginBatch();
    etcdserverpb::AlarmResponse resp;
    bool changed;
    ASSERT_TRUE(
        alarms.Apply(**b, Req(etcdserverpb::AlarmRequest::ACTIVATE, 1, t), &resp, &changed).ok());
    ASSERT_TRUE((*b)->Commit().ok());
  };
  internalpb::InternalRequest put = PutReq(1, 1), del, grant, revoke, read_txn, write_txn, compact;
  del.mutable_delete_range()->set_key("k");
  grant.mutable_lease_grant()->set_ttl(10);
  revoke.mutable_lease_revoke()->set_id(1);
  read_txn.mutable_txn()->add_success()->mutable_request_range()->set_key("k");
  write_txn.mutable_txn()->add_failure()->mutable_request_put()->set_key("k");
  compact.mutable_compaction()->set_revision(1);
  EXPECT_TRUE(alarms.Admit(put).ok());

  raise(etcdserverpb::NOSPACE);
  EXPECT_EQ(alarms.Admit(put).message(), kErrNoSpace);
  EXPECT_EQ(alarms.Admit(put).code(), Code::kResourceExhausted);
  EXPECT_EQ(alarms.Admit(grant).message(), kErrNoSpace);
  EXPECT_EQ(alarms.Admit(write_txn).message(), kErrNoSpace);
  EXPECT_TRUE(alarms.Admit(read_txn).ok());
  EXPECT_TRUE(alarms.Admit(del).ok());
  EXPECT_TRUE(alarms.Admit(revoke).ok());
  EXPECT_TRUE(alarms.Admit(compact).ok());

  raise(etcdserverpb::CORRUPT);
  for (const auto* r : {&put, &del, &grant, &revoke, &read_txn, &compact}) {
    EXPECT_EQ(alarms.Admit(*r).message(), kErrCorrupt);
    EXPECT_EQ(alarms.Admit(*r).code(), Code::kDataLoss);
  }
}

TEST(Quota, CostAndAvailable) {
  EXPECT_EQ(QuotaCost(PutReq(3, 10)), 256 + 13);
  internalpb::InternalRequest txn;
  auto* t = txn.mutable_txn();
  auto* p1 = t->add_success()->mutable_request_put();
  p1->set_key("a");
  p1->set_value("12345");
  t->add_success()->mutable_request_range()->set_key("x");
  auto* p2 = t->add_failure()->mutable_request_put();
  p2->set_key("b");
  EXPECT_EQ(QuotaCost(txn), 256 + 6);  // the larger branch
  internalpb::InternalRequest grant;
  grant.mutable_lease_grant()->set_ttl(5);
  EXPECT_EQ(QuotaCost(grant), 64);
  internalpb::InternalRequest del;
  del.mutable_delete_range()->set_key("k");
  EXPECT_EQ(QuotaCost(del), 0);
  EXPECT_TRUE(QuotaAvailable(del, 1000, 10));  // cost 0 always passes
  EXPECT_TRUE(QuotaAvailable(PutReq(1, 1), 1000, 1000 + 258 + 1));
  EXPECT_FALSE(QuotaAvailable(PutReq(1, 1), 1000, 1000 + 258));
  EXPECT_EQ(EffectiveQuota(0), int64_t{2} << 30);
  EXPECT_EQ(EffectiveQuota(12345), 12345);
}

TEST(Alarms, TextFormLikeEtcd) {
  etcdserverpb::AlarmMember m;
  m.set_memberid(10276657743932975437ull);
  m.set_alarm(etcdserverpb::NOSPACE);
  EXPECT_EQ(AlarmString(m), "memberID:10276657743932975437 alarm:NOSPACE ");
}

// ---------------------------------------------------------------- corruption rules

PeerHash Peer(uint64_t id, uint32_t hash, int64_t compact, int64_t rev) {
  PeerHash p;
  p.id = id;
  etcdserverpb::HashKVResponse r;
  r.mutable_header()->set_member_id(id);
  r.mutable_header()->set_revision(rev);
  r.set_hash(hash);
  r.set_compact_revision(compact);
  p.resp = r;
  return p;
}

TEST(Corruption, InitialCountsOnlySameCompactRevision) {
  mvcc::HashKVResult local{100, 5, 10};
  PeerHash slow;
  slow.id = 4;
  slow.err = Status::OutOfRange(mvcc::kErrFutureRev);
  EXPECT_EQ(CountInitialMismatches(1, local, {Peer(2, 100, 5, 10), slow}), 0);
  EXPECT_EQ(CountInitialMismatches(1, local, {Peer(2, 101, 6, 10)}), 0);  // other compaction
  EXPECT_EQ(CountInitialMismatches(1, local, {Peer(2, 101, 5, 10), Peer(3, 102, 5, 10)}), 2);
}

TEST(Corruption, CompactMajorityDecides) {
  mvcc::HashKVResult leader{100, 5, 5};
  auto ok = JudgeCompact(1, leader, {Peer(2, 100, 5, 9), Peer(3, 100, 5, 9)});
  EXPECT_TRUE(ok.checked_all);
  EXPECT_TRUE(ok.corrupt.empty());
  // One member differs: it alone is corrupt.
  auto one = JudgeCompact(1, leader, {Peer(2, 100, 5, 9), Peer(3, 999, 5, 9)});
  EXPECT_EQ(one.corrupt, std::vector<uint64_t>{3});
  // The leader is the odd one out.
  auto lead = JudgeCompact(1, leader, {Peer(2, 7, 5, 9), Peer(3, 7, 5, 9)});
  EXPECT_EQ(lead.corrupt, std::vector<uint64_t>{1});
  // No majority: member 0 (the whole cluster).
  auto none = JudgeCompact(1, leader, {Peer(2, 7, 5, 9), Peer(3, 8, 5, 9)});
  EXPECT_EQ(none.corrupt, std::vector<uint64_t>{0});
  // A peer at another compact revision is skipped: not all checked.
  auto skipped = JudgeCompact(1, leader, {Peer(2, 100, 5, 9), Peer(3, 999, 6, 9)});
  EXPECT_FALSE(skipped.checked_all);
  EXPECT_TRUE(skipped.corrupt.empty());
}

TEST(Corruption, PeriodicRules) {
  mvcc::HashKVResult h{100, 5, 10};
  EXPECT_TRUE(JudgePeriodic(1, h, h, 10, {Peer(2, 100, 5, 10), Peer(3, 55, 4, 8)}).empty());
  // Same compact revision, other hash.
  EXPECT_EQ(JudgePeriodic(1, h, h, 10, {Peer(2, 101, 5, 10)}), std::vector<uint64_t>{2});
  // A follower ahead of the leader.
  EXPECT_EQ(JudgePeriodic(1, h, h, 10, {Peer(3, 55, 4, 11)}), std::vector<uint64_t>{3});
  // The leader's own hash changed under the same revision: the leader; one alarm only.
  mvcc::HashKVResult h2{200, 5, 10};
  EXPECT_EQ(JudgePeriodic(1, h, h2, 10, {Peer(2, 101, 5, 10)}), std::vector<uint64_t>{1});
}

// ---------------------------------------------------------------- the member

class MaintenanceServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.name = "default";
    cfg_.data_dir = root_.path() + "/data";
    cfg_.listen_client_urls = {"http://127.0.0.1:0"};
    cfg_.listen_peer_urls = {"http://127.0.0.1:0"};
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  void Start() {
    auto s = EtcdServer::Start(cfg_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    auto ch =
        grpc::CreateChannel(server_->ClientAddresses()[0], grpc::InsecureChannelCredentials());
    kv_ = etcdserverpb::KV::NewStub(ch);
    mt_ = etcdserverpb::Maintenance::NewStub(ch);
  }
  void Restart() {
    server_->Stop();
    server_.reset();
    Start();
  }
  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return c;
  }
  grpc::Status Put(const std::string& k, const std::string& v) {
    etcdserverpb::PutRequest req;
    req.set_key(k);
    req.set_value(v);
    etcdserverpb::PutResponse resp;
    return kv_->Put(Ctx().get(), req, &resp);
  }
  std::vector<etcdserverpb::AlarmMember> Alarms() {
    etcdserverpb::AlarmRequest req;
    etcdserverpb::AlarmResponse resp;
    grpc::Status st = mt_->Alarm(Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return {resp.alarms().begin(), resp.alarms().end()};
  }

  TempRoot root_;
  config::ServerConfig cfg_;
  std::unique_ptr<EtcdServer> server_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> mt_;
};

TEST_F(MaintenanceServerTest, NospaceRaisedCappedSurvivesRestartAndClears) {
  cfg_.quota_backend_bytes = 1 << 20;
  Start();
  const std::string big(200 * 1000, 'x');
  grpc::Status st;
  for (int i = 0; i < 100 && st.ok(); i++)
    st = Put(Cat("big", i), big);
  ASSERT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(st.error_message(), kErrNoSpace);
  // Raised through raft: wait until applied (the write's refusal came first).
  std::vector<etcdserverpb::AlarmMember> a;
  for (int i = 0; i < 300 && a.empty(); i++) {
    a = Alarms();
    if (a.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling
  }
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].memberid(), server_->MemberId());
  EXPECT_EQ(a[0].alarm(), etcdserverpb::NOSPACE);
  EXPECT_EQ(server_->ActiveAlarms().size(), 1u);
  etcdserverpb::StatusResponse status;
  ASSERT_TRUE(mt_->Status(Ctx().get(), {}, &status).ok());
  ASSERT_EQ(status.errors_size(), 1);
  EXPECT_EQ(status.errors(0), AlarmString(a[0]));
  EXPECT_EQ(status.dbsizequota(), 1 << 20);

  Restart();
  EXPECT_EQ(server_->ActiveAlarms().size(), 1u);
  EXPECT_EQ(Put("small", "x").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  etcdserverpb::AlarmRequest dis;
  dis.set_action(etcdserverpb::AlarmRequest::DEACTIVATE);
  dis.set_memberid(server_->MemberId());
  dis.set_alarm(etcdserverpb::NOSPACE);
  etcdserverpb::AlarmResponse resp;
  ASSERT_TRUE(mt_->Alarm(Ctx().get(), dis, &resp).ok());
  EXPECT_EQ(resp.alarms_size(), 1);
  EXPECT_TRUE(server_->ActiveAlarms().empty());
}

TEST_F(MaintenanceServerTest, DefragUnderWritesLosesNothingAndShrinks) {
  Start();
  const std::string junk(8000, 'j');
  for (int i = 0; i < 300; i++)
    ASSERT_TRUE(Put(Cat("junk", i), junk).ok());
  etcdserverpb::DeleteRangeRequest del;
  del.set_key("junk");
  del.set_range_end("junl");
  etcdserverpb::DeleteRangeResponse del_resp;
  ASSERT_TRUE(kv_->DeleteRange(Ctx().get(), del, &del_resp).ok());
  etcdserverpb::CompactionRequest comp;
  comp.set_revision(del_resp.header().revision());
  comp.set_physical(true);
  etcdserverpb::CompactionResponse comp_resp;
  ASSERT_TRUE(kv_->Compact(Ctx().get(), comp, &comp_resp).ok());
  const int64_t before = server_->store()->DbSizeBytes();

  std::atomic<bool> stop{false};
  std::atomic<int> acked{0}, failed{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); i++) {
      if (Put(Cat("w", i), "v").ok()) {
        acked = i + 1;
      } else {
        failed++;
        return;
      }
    }
  });
  for (int i = 0; i < 3; i++) {
    etcdserverpb::DefragmentResponse resp;
    grpc::Status st = mt_->Defragment(Ctx().get(), {}, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }
  stop = true;
  writer.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_LT(server_->store()->DbSizeBytes() * 2, before);
  etcdserverpb::RangeRequest rr;
  rr.set_key("w");
  rr.set_range_end("x");
  rr.set_count_only(true);
  etcdserverpb::RangeResponse range;
  ASSERT_TRUE(kv_->Range(Ctx().get(), rr, &range).ok());
  EXPECT_EQ(range.count(), acked.load());
}

TEST_F(MaintenanceServerTest, SnapshotStreamHashesAndPeerHashKV) {
  Start();
  for (int i = 0; i < 50; i++)
    ASSERT_TRUE(Put(Cat("k", i), std::string(2000, 'v')).ok());
  auto ctx = Ctx();
  auto reader = mt_->Snapshot(ctx.get(), {});
  etcdserverpb::SnapshotResponse msg;
  std::string payload, last;
  int n = 0;
  while (reader->Read(&msg)) {
    n++;
    EXPECT_LE(msg.blob().size(), kSnapshotChunkBytes);
    EXPECT_EQ(msg.version(), "3.6.0");
    EXPECT_FALSE(msg.has_header());
    if (!last.empty()) payload += last;
    last = msg.blob();
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_GT(n, 2);
  ASSERT_EQ(last.size(), 32u);
  EXPECT_EQ(payload.size() % 512, 0u);
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_Digest(payload.data(), payload.size(), digest, &len, EVP_sha256(), nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(digest), 32), last);
  // No temp file left behind.
  for (const auto& e : std::filesystem::directory_iterator(server_->SnapDir())) {
    EXPECT_EQ(e.path().filename().string().find("maintenance-snapshot-"), std::string::npos);
  }

  etcdserverpb::HashKVResponse hkv;
  ASSERT_TRUE(mt_->HashKV(Ctx().get(), {}, &hkv).ok());
  EXPECT_EQ(hkv.hash_revision(), hkv.header().revision());
  etcdserverpb::HashResponse h;
  ASSERT_TRUE(mt_->Hash(Ctx().get(), {}, &h).ok());
  EXPECT_NE(h.hash(), 0u);

  // The same HashKV on the peer port.
  auto pch = grpc::CreateChannel(server_->PeerAddresses()[0], grpc::InsecureChannelCredentials());
  auto peer = peerpb::PeerMaintenance::NewStub(pch);
  etcdserverpb::HashKVResponse phkv;
  ASSERT_TRUE(peer->HashKV(Ctx().get(), {}, &phkv).ok());
  EXPECT_EQ(phkv.hash(), hkv.hash());
  EXPECT_EQ(phkv.header().member_id(), server_->MemberId());
  // Another cluster's member is refused.
  auto bad = Ctx();
  bad->AddMetadata("etcdpp-cluster-id", "abcdef");
  EXPECT_EQ(peer->HashKV(bad.get(), {}, &phkv).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace etcdpp::server
