// The probes, /version and the member-state metrics against a real
// single-member EtcdServer (port 0, temp data dir), through the handlers.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "health/health.h"
#include "health/version.h"
#include "metrics/etcd_metrics.h"
#include "metrics/fake_writer.h"
#include "metrics/handler.h"
#include "metrics/parse.h"
#include "server/health_probes.h"
#include "server/server.h"

namespace etcdpp::server {
namespace {

class ServerProbesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/etcdpp-health-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    cfg_.name = "default";
    cfg_.data_dir = root_ + "/data";
    cfg_.listen_client_urls = {"http://127.0.0.1:0"};
    cfg_.listen_peer_urls = {"http://127.0.0.1:0"};
    cfg_.feature_gates = "AllAlpha=true";
    auto s = EtcdServer::Start(cfg_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    health::RegisterHandlers(router_, MakeHealthProbes(server_.get()));
    health::RegisterVersionHandler(router_, MakeVersionInfo(server_.get()));
    metrics::RegisterHandler(router_);  // the member registers its own collector
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    std::filesystem::remove_all(root_);
  }
  testing::FakeWriter Get(const std::string& target) {
    return testing::Serve(router_, "GET", target);
  }

  std::string root_;
  config::ServerConfig cfg_;
  std::unique_ptr<EtcdServer> server_;
  http::Router router_;
};

TEST_F(ServerProbesTest, HealthyMemberPassesEveryCheck) {
  testing::FakeWriter h = Get("/health");
  EXPECT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(h.body, "{\"health\":\"true\",\"reason\":\"\"}");
  EXPECT_EQ(Get("/health?serializable=true").status, 200);
  testing::FakeWriter r = Get("/readyz?verbose");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body,
            "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n"
            "[+]non_learner ok\nok\n");
  EXPECT_EQ(Get("/livez").body, "ok\n");
  testing::FakeWriter v = Get("/version");
  EXPECT_EQ(v.body, std::string("{\"etcdserver\":\"") + ETCDPP_ETCD_VERSION +
                        "\",\"etcdcluster\":\"3.6.0\",\"storage\":\"3.6.0\",\"etcdpp\":\"" +
                        ETCDPP_VERSION + "\"}");
}

TEST_F(ServerProbesTest, MetricsReflectTheMember) {
  metrics::EtcdMetrics& m = metrics::Etcd();
  uint64_t puts_before = m.mvcc_put_total.Value();
  auto ch = grpc::CreateChannel(server_->ClientAddresses()[0], grpc::InsecureChannelCredentials());
  auto kv = etcdserverpb::KV::NewStub(ch);
  for (const char* k : {"a", "b"}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    etcdserverpb::PutRequest req;
    req.set_key(k);
    req.set_value("v");
    etcdserverpb::PutResponse resp;
    ASSERT_TRUE(kv->Put(&ctx, req, &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    etcdserverpb::RangeRequest req;  // empty key: InvalidArgument
    etcdserverpb::RangeResponse resp;
    EXPECT_EQ(kv->Range(&ctx, req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(m.mvcc_put_total.Value() - puts_before, 2u);

  testing::FakeWriter w = Get("/metrics");
  ASSERT_EQ(w.status, 200);
  testing::Parsed p = testing::ParseExposition(w.body);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.Value("etcd_server_has_leader"), "1");
  EXPECT_EQ(p.Value("etcd_server_is_leader"), "1");
  EXPECT_EQ(p.Value("etcd_server_is_learner"), "0");
  EXPECT_EQ(p.Value("etcd_debugging_mvcc_keys_total"), "2");
  EXPECT_GE(std::stod(p.Value("etcd_server_proposals_committed_total")), 3);
  EXPECT_GE(std::stod(p.Value("etcd_server_proposals_applied_total")), 3);
  EXPECT_EQ(p.Value("etcd_server_proposals_pending"), "0");
  EXPECT_GT(std::stod(p.Value("etcd_mvcc_db_total_size_in_bytes")), 0);
  EXPECT_GT(std::stod(p.Value("etcd_mvcc_db_total_size_in_use_in_bytes")), 0);
  EXPECT_GE(std::stod(p.Value("etcd_debugging_mvcc_current_revision")), 3);
  EXPECT_GT(std::stod(p.Value("etcd_disk_wal_fsync_duration_seconds_count")), 0);
  EXPECT_GT(std::stod(p.Value("etcd_disk_backend_commit_duration_seconds_count")), 0);
  EXPECT_EQ(p.Value("etcd_server_quota_backend_bytes"), "2.147483648e+09");
  EXPECT_EQ(p.Value("etcd_server_id", {{"server_id", metrics::IdLabel(server_->MemberId())}}), "1");
  EXPECT_EQ(p.Value("etcd_server_version", {{"server_version", ETCDPP_ETCD_VERSION}}), "1");
  EXPECT_EQ(p.Value("etcd_cluster_version", {{"cluster_version", "3.6"}}), "1");
  EXPECT_EQ(p.Value("etcd_server_feature_enabled",
                    {{"name", "TxnModeWriteWithSharedBuffer"}, {"stage", "BETA"}}),
            "1");
  EXPECT_EQ(p.Value("etcd_server_feature_enabled", {{"name", "AllAlpha"}, {"stage", "ALPHA"}}),
            "1");
  EXPECT_EQ(p.Value("etcd_server_feature_enabled", {{"name", "AllBeta"}, {"stage", "BETA"}}), "0");
  EXPECT_EQ(
      p.Value("etcd_server_feature_enabled", {{"name", "LeaseCheckpoint"}, {"stage", "ALPHA"}}),
      "1");
  // gRPC by method and code (the interceptor on the client port).
  auto grpc_labels = [](const char* code, const char* method) {
    std::vector<std::pair<std::string, std::string>> l = {{"grpc_code", code},
                                                          {"grpc_method", method},
                                                          {"grpc_service", "etcdserverpb.KV"},
                                                          {"grpc_type", "unary"}};
    return l;
  };
  EXPECT_GE(std::stod(p.Value("grpc_server_handled_total", grpc_labels("OK", "Put"))), 2);
  EXPECT_GE(
      std::stod(p.Value("grpc_server_handled_total", grpc_labels("InvalidArgument", "Range"))), 1);
  EXPECT_EQ(p.Value("grpc_server_handled_total", grpc_labels("OK", "Compact")), "0");
  EXPECT_NE(p.Value("process_resident_memory_bytes"), "");
}

}  // namespace
}  // namespace etcdpp::server
