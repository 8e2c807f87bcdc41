// The whole member in-process: a real gRPC client against EtcdServer on
// port 0 with a temp data dir; restart on the same dir keeps the data.
#include "server/server.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "etcdserverpb/rpc.grpc.pb.h"

namespace etcdpp::server {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/etcdpp-server-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    cfg_.name = "default";
    cfg_.data_dir = root_ + "/data";
    cfg_.listen_client_urls = {"http://127.0.0.1:0"};
    cfg_.listen_peer_urls = {"http://127.0.0.1:0"};
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    std::filesystem::remove_all(root_);
  }

  void StartServer() {
    auto s = EtcdServer::Start(cfg_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    ASSERT_EQ(server_->ClientAddresses().size(), 1u);
    auto ch =
        grpc::CreateChannel(server_->ClientAddresses()[0], grpc::InsecureChannelCredentials());
    kv_ = etcdserverpb::KV::NewStub(ch);
    mt_ = etcdserverpb::Maintenance::NewStub(ch);
    cl_ = etcdserverpb::Cluster::NewStub(ch);
  }
  void Restart() {
    server_->Stop();
    server_.reset();
    StartServer();
  }

  grpc::Status Put(const std::string& k, const std::string& v, etcdserverpb::PutResponse* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    etcdserverpb::PutRequest req;
    req.set_key(k);
    req.set_value(v);
    req.set_prev_kv(true);
    return kv_->Put(&ctx, req, out);
  }
  grpc::Status Get(const std::string& k, etcdserverpb::RangeResponse* out,
                   bool serializable = false, int64_t rev = 0) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    etcdserverpb::RangeRequest req;
    req.set_key(k);
    req.set_serializable(serializable);
    req.set_revision(rev);
    return kv_->Range(&ctx, req, out);
  }

  std::string root_;
  config::ServerConfig cfg_;
  std::unique_ptr<EtcdServer> server_;
  std::unique_ptr<etcdserverpb::KV::Stub> kv_;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> mt_;
  std::unique_ptr<etcdserverpb::Cluster::Stub> cl_;
};

TEST_F(ServerTest, PutGetTxnCompactAndRestart) {
  StartServer();
  etcdserverpb::PutResponse put;
  ASSERT_TRUE(Put("foo", "bar", &put).ok());
  EXPECT_EQ(put.header().revision(), 2);
  EXPECT_EQ(put.header().member_id(), 0x8e9e05c52164694dull);
  EXPECT_EQ(put.header().cluster_id(), 0xcdf818194e3a8c32ull);
  EXPECT_EQ(put.header().raft_term(), 2u);  // as etcd: bootstrap at term 1, elected at 2
  EXPECT_FALSE(put.has_prev_kv());
  ASSERT_TRUE(Put("foo", "baz", &put).ok());
  EXPECT_EQ(put.prev_kv().value(), "bar");

  etcdserverpb::RangeResponse rr;
  ASSERT_TRUE(Get("foo", &rr).ok());
  ASSERT_EQ(rr.kvs_size(), 1);
  EXPECT_EQ(rr.kvs(0).value(), "baz");
  EXPECT_EQ(rr.kvs(0).version(), 2);
  EXPECT_EQ(rr.header().revision(), 3);
  ASSERT_TRUE(Get("foo", &rr, /*serializable=*/true, /*rev=*/2).ok());
  EXPECT_EQ(rr.kvs(0).value(), "bar");

  // Txn: compare value == baz -> put foo=qux, else get.
  {
    grpc::ClientContext ctx;
    etcdserverpb::TxnRequest req;
    auto* c = req.add_compare();
    c->set_key("foo");
    c->set_target(etcdserverpb::Compare::VALUE);
    c->set_result(etcdserverpb::Compare::EQUAL);
    c->set_value("baz");
    auto* p = req.add_success()->mutable_request_put();
    p->set_key("foo");
    p->set_value("qux");
    req.add_failure()->mutable_request_range()->set_key("foo");
    etcdserverpb::TxnResponse resp;
    ASSERT_TRUE(kv_->Txn(&ctx, req, &resp).ok());
    EXPECT_TRUE(resp.succeeded());
    EXPECT_EQ(resp.header().revision(), 4);
  }
  // Read-only txn (linearizable read path, no proposal).
  {
    grpc::ClientContext ctx;
    etcdserverpb::TxnRequest req;
    req.add_success()->mutable_request_range()->set_key("foo");
    etcdserverpb::TxnResponse resp;
    ASSERT_TRUE(kv_->Txn(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.responses_size(), 1);
    EXPECT_EQ(resp.responses(0).response_range().kvs(0).value(), "qux");
  }
  // Compact at 3; reading rev 2 then fails with etcd's error.
  {
    grpc::ClientContext ctx;
    etcdserverpb::CompactionRequest req;
    req.set_revision(3);
    req.set_physical(true);
    etcdserverpb::CompactionResponse resp;
    ASSERT_TRUE(kv_->Compact(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.header().revision(), 4);
    auto st = Get("foo", &rr, false, 2);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::OUT_OF_RANGE);
    EXPECT_EQ(st.error_message(), "etcdserver: mvcc: required revision has been compacted");
  }
  // Status and MemberList.
  {
    grpc::ClientContext ctx;
    etcdserverpb::StatusResponse st;
    ASSERT_TRUE(mt_->Status(&ctx, etcdserverpb::StatusRequest(), &st).ok());
    EXPECT_EQ(st.version(), "3.6.14");
    EXPECT_EQ(st.leader(), 0x8e9e05c52164694dull);
    EXPECT_EQ(st.raftindex(), st.raftappliedindex());
    EXPECT_GT(st.raftindex(), 4u);
    EXPECT_GT(st.dbsize(), 0);
    EXPECT_EQ(st.dbsizequota(), 2ll << 30);
    EXPECT_EQ(st.storageversion(), "3.6.0");
    EXPECT_TRUE(st.has_downgradeinfo());
    grpc::ClientContext ctx2;
    etcdserverpb::MemberListResponse ml;
    ASSERT_TRUE(cl_->MemberList(&ctx2, etcdserverpb::MemberListRequest(), &ml).ok());
    ASSERT_EQ(ml.members_size(), 1);
    EXPECT_EQ(ml.members(0).name(), "default");
    EXPECT_EQ(ml.members(0).id(), 0x8e9e05c52164694dull);
    grpc::ClientContext ctx3;
    etcdserverpb::AlarmResponse al;
    ASSERT_TRUE(mt_->Alarm(&ctx3, etcdserverpb::AlarmRequest(), &al).ok());
    EXPECT_EQ(al.alarms_size(), 0);
  }
  uint64_t term_before = server_->Term();

  Restart();
  ASSERT_TRUE(Get("foo", &rr).ok());
  ASSERT_EQ(rr.kvs_size(), 1);
  EXPECT_EQ(rr.kvs(0).value(), "qux");
  EXPECT_EQ(rr.header().revision(), 4);
  EXPECT_EQ(server_->Term(), term_before + 1);  // every start wins a new term
  EXPECT_EQ(server_->MemberId(), 0x8e9e05c52164694dull);
  ASSERT_TRUE(Put("foo", "after", &put).ok());
  EXPECT_EQ(put.header().revision(), 5);
}

TEST_F(ServerTest, ConcurrentWritesAllLandAndSurviveRestart) {
  StartServer();
  constexpr int kThreads = 8, kPer = 25;
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPer; i++) {
        etcdserverpb::PutResponse r;
        if (Put("k/" + std::to_string(t) + "/" + std::to_string(i), "v", &r).ok()) ok++;
      }
    });
  }
  for (auto& t : ts)
    t.join();
  EXPECT_EQ(ok.load(), kThreads * kPer);
  Restart();
  grpc::ClientContext ctx;
  etcdserverpb::RangeRequest req;
  req.set_key("k/");
  req.set_range_end("k0");
  req.set_count_only(true);
  etcdserverpb::RangeResponse rr;
  ASSERT_TRUE(kv_->Range(&ctx, req, &rr).ok());
  EXPECT_EQ(rr.count(), kThreads * kPer);
  EXPECT_EQ(rr.header().revision(), 1 + kThreads * kPer);
}

TEST_F(ServerTest, BadRequestsGetEtcdErrorsAndServerKeepsServing) {
  cfg_.max_request_bytes = 1024;
  StartServer();
  etcdserverpb::PutResponse put;
  auto st = Put("", "v", &put);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "etcdserver: key is not provided");
  st = Put("big", std::string(2048, 'x'), &put);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "etcdserver: request is too large");
  st = Put("huge", std::string(1024 + 600 * 1024, 'x'), &put);  // past the gRPC limit
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  etcdserverpb::RangeResponse rr;
  st = Get("k", &rr, false, 100);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(st.error_message(), "etcdserver: mvcc: required revision is a future revision");
  ASSERT_TRUE(Put("ok", "v", &put).ok());
  EXPECT_EQ(put.header().revision(), 2);
}

TEST_F(ServerTest, DataDirThatIsAFileFails) {
  std::ofstream(cfg_.data_dir) << "not a dir";
  auto s = EtcdServer::Start(cfg_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("not a directory"), std::string::npos);
}

TEST_F(ServerTest, DataDirIsMadePrivate) {
  ASSERT_EQ(mkdir(cfg_.data_dir.c_str(), 0755), 0);
  StartServer();
  struct stat st {};
  ASSERT_EQ(stat(cfg_.data_dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((cfg_.data_dir + "/member").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

}  // namespace
}  // namespace etcdpp::server

namespace etcdpp::server {
namespace {

TEST_F(ServerTest, PeerPortInUseFailsClearly) {
  StartServer();
  config::ServerConfig second = cfg_;
  second.data_dir = root_ + "/data2";
  second.listen_peer_urls = {"http://" + server_->PeerAddresses()[0]};
  auto s = EtcdServer::Start(second);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("address already in use"), std::string::npos)
      << s.status().ToString();
}

}  // namespace
}  // namespace etcdpp::server

#include <grpcpp/generic/generic_stub.h>

namespace etcdpp::server {
namespace {

// grpc.health.v1.Health/Check for service "" answers SERVING (etcd registers it).
TEST_F(ServerTest, GrpcHealthServiceServing) {
  StartServer();
  auto ch = grpc::CreateChannel(server_->ClientAddresses()[0], grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(ch);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Slice empty("", 0);  // an empty HealthCheckRequest = service ""
  grpc::ByteBuffer req(&empty, 1), resp;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status got;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &resp,
                 [&](grpc::Status st) {
                   std::lock_guard<std::mutex> lock(mu);
                   got = st;
                   done = true;
                   cv.notify_all();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(got.ok()) << got.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(resp.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // HealthCheckResponse{status: SERVING}
}

}  // namespace
}  // namespace etcdpp::server

namespace etcdpp::server {
namespace {

// A crash after the WAL fsync but before the LMDB commit leaves entries only
// in the WAL: start-up must replay them before serving (durability invariant).
TEST_F(ServerTest, ReplaysWalEntriesBeyondTheBackend) {
  const uint64_t member = 0x8e9e05c52164694dull, cluster = 0xcdf818194e3a8c32ull;
  ASSERT_EQ(mkdir(cfg_.data_dir.c_str(), 0700), 0);
  ASSERT_EQ(mkdir((cfg_.data_dir + "/member").c_str(), 0700), 0);
  {
    internalpb::WalMetadata md;
    md.set_node_id(member);
    md.set_cluster_id(cluster);
    auto w = wal::Wal::Create(cfg_.data_dir + "/member/wal", md.SerializeAsString());
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    std::vector<raft::Entry> es(3);
    for (int i = 0; i < 3; i++) {
      es[i].index = i + 1;
      es[i].term = 2;
    }
    internalpb::InternalRequest put;
    put.set_id(77);  // a waiter of the crashed incarnation: nobody waits now
    put.mutable_put()->set_key("a");
    put.mutable_put()->set_value("1");
    es[1].data = put.SerializeAsString();
    internalpb::InternalRequest txn;
    txn.set_id(78);
    auto* p = txn.mutable_txn()->add_success()->mutable_request_put();
    p->set_key("b");
    p->set_value("2");
    es[2].data = txn.SerializeAsString();
    ASSERT_TRUE((*w)->Save(raft::HardState{2, member, 3}, es, true).ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  StartServer();
  // 3 replayed + this term's leader entry + the member publishing its attributes.
  EXPECT_EQ(server_->AppliedIndex(), 5u);
  EXPECT_EQ(server_->Term(), 3u);
  etcdserverpb::RangeResponse rr;
  ASSERT_TRUE(Get("a", &rr).ok());
  ASSERT_EQ(rr.kvs_size(), 1);
  EXPECT_EQ(rr.kvs(0).value(), "1");
  ASSERT_TRUE(Get("b", &rr).ok());
  ASSERT_EQ(rr.kvs_size(), 1);
  EXPECT_EQ(rr.kvs(0).mod_revision(), 3);
  EXPECT_EQ(rr.header().revision(), 3);
  // Replay is idempotent: the consistent index now covers those entries.
  Restart();
  ASSERT_TRUE(Get("b", &rr).ok());
  EXPECT_EQ(rr.header().revision(), 3);
  etcdserverpb::PutResponse put;
  ASSERT_TRUE(Put("c", "3", &put).ok());
  EXPECT_EQ(put.header().revision(), 4);
}

// Applied data without its WAL (lost or wrong --wal-dir): refuse, never guess.
TEST_F(ServerTest, BackendWithoutWalRefusesToStart) {
  StartServer();
  etcdserverpb::PutResponse put;
  ASSERT_TRUE(Put("k", "v", &put).ok());
  server_->Stop();
  server_.reset();
  std::filesystem::remove_all(cfg_.data_dir + "/member/wal");
  auto s = EtcdServer::Start(cfg_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kCorruption);
  EXPECT_NE(s.status().message().find("no WAL"), std::string::npos) << s.status().ToString();
}

TEST_F(ServerTest, ServesOnUnixSocket) {
  cfg_.listen_client_urls = {"unix://" + root_ + "/etcd.sock"};
  StartServer();
  EXPECT_EQ(server_->ClientAddresses()[0], "unix:" + root_ + "/etcd.sock");
  etcdserverpb::PutResponse put;
  ASSERT_TRUE(Put("k", "v", &put).ok());
}

}  // namespace
}  // namespace etcdpp::server

namespace etcdpp::server {
namespace {

// Compactions free history between batches; writes keep flowing meanwhile,
// and a physical compaction is answered once its history is gone.
TEST_F(ServerTest, CompactionsInterleaveWithWrites) {
  StartServer();
  etcdserverpb::PutResponse put;
  for (int i = 0; i < 300; i++)
    ASSERT_TRUE(Put("c/" + std::to_string(i % 50), "v", &put).ok());
  auto compact = [&](int64_t rev, bool physical) {
    grpc::ClientContext ctx;
    etcdserverpb::CompactionRequest req;
    req.set_revision(rev);
    req.set_physical(physical);
    etcdserverpb::CompactionResponse resp;
    return kv_->Compact(&ctx, req, &resp);
  };
  ASSERT_TRUE(compact(100, false).ok());
  ASSERT_TRUE(Put("after-logical", "v", &put).ok());
  ASSERT_TRUE(compact(250, true).ok());
  EXPECT_EQ(compact(200, true).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  etcdserverpb::RangeResponse rr;
  EXPECT_EQ(Get("c/1", &rr, false, 249).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  ASSERT_TRUE(Get("c/1", &rr, false, 250).ok());
  Restart();
  ASSERT_TRUE(Get("c/1", &rr).ok());
  ASSERT_EQ(rr.kvs_size(), 1);
  EXPECT_EQ(rr.header().revision(), put.header().revision());
}

}  // namespace
}  // namespace etcdpp::server
