#include "metrics/grpc_metrics.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "etcdserverpb/rpc.pb.h"
#include "metrics/parse.h"

namespace etcdpp::metrics {
namespace {

using RpcType = grpc::experimental::ServerRpcInfo::Type;

TEST(GrpcMetricsTest, PreRegistersEveryMethodAndCodeAtZero) {
  // Referencing a generated type links rpc.pb.cc, which fills the pool.
  ASSERT_NE(etcdserverpb::RangeRequest::descriptor(), nullptr);
  Registry r;
  PreRegisterGrpcServices({"etcdserverpb.KV", "etcdserverpb.Watch", "grpc.health.v1.Health"}, r);
  testing::Parsed p = testing::ParseExposition(r.Expose());
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.families["grpc_server_started_total"].type, "counter");
  EXPECT_EQ(p.Value("grpc_server_started_total", {{"grpc_method", "Range"},
                                                  {"grpc_service", "etcdserverpb.KV"},
                                                  {"grpc_type", "unary"}}),
            "0");
  EXPECT_EQ(p.Value("grpc_server_handled_total", {{"grpc_code", "Unavailable"},
                                                  {"grpc_method", "Watch"},
                                                  {"grpc_service", "etcdserverpb.Watch"},
                                                  {"grpc_type", "bidi_stream"}}),
            "0");
  EXPECT_EQ(p.Value("grpc_server_msg_sent_total", {{"grpc_method", "Watch"},
                                                   {"grpc_service", "grpc.health.v1.Health"},
                                                   {"grpc_type", "server_stream"}}),
            "0");
  // Every method of KV and Watch, Health's 2; 17 codes each.
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  size_t methods = pool->FindServiceByName("etcdserverpb.KV")->method_count() +
                   pool->FindServiceByName("etcdserverpb.Watch")->method_count() + 2;
  EXPECT_EQ(p.families["grpc_server_handled_total"].samples.size(), methods * 17);
}

TEST(GrpcMetricsTest, CountsStartedAndHandledByCode) {
  Registry r;
  GrpcCall put{"/etcdserverpb.KV/Put", RpcType::UNARY};
  RecordGrpcStarted(r, put);
  RecordGrpcStarted(r, put);
  RecordGrpcHandled(r, put, 0);
  RecordGrpcHandled(r, put, 14);
  testing::Parsed p = testing::ParseExposition(r.Expose());
  ASSERT_TRUE(p.ok) << p.error;
  auto labels = [](const char* code) {
    std::vector<std::pair<std::string, std::string>> l;
    if (code != nullptr) l.emplace_back("grpc_code", code);
    l.emplace_back("grpc_method", "Put");
    l.emplace_back("grpc_service", "etcdserverpb.KV");
    l.emplace_back("grpc_type", "unary");
    return l;
  };
  EXPECT_EQ(p.Value("grpc_server_started_total", labels(nullptr)), "2");
  EXPECT_EQ(p.Value("grpc_server_handled_total", labels("OK")), "1");
  EXPECT_EQ(p.Value("grpc_server_handled_total", labels("Unavailable")), "1");
  EXPECT_EQ(p.Value("grpc_server_handled_total", labels("NotFound")), "0");
  EXPECT_STREQ(GrpcCodeName(1), "Canceled");
  EXPECT_STREQ(GrpcCodeName(16), "Unauthenticated");
}

TEST(GrpcMetricsTest, HandlingSecondsOnlyWhenExtensive) {
  GrpcCall put{"/etcdserverpb.KV/Put", RpcType::UNARY};
  Registry basic;
  PreRegisterGrpcServices({"etcdserverpb.KV"}, basic);
  RecordGrpcHandlingTime(basic, put, 0.02);
  testing::Parsed pb = testing::ParseExposition(basic.Expose());
  ASSERT_TRUE(pb.ok) << pb.error;
  EXPECT_EQ(pb.families.count("grpc_server_handling_seconds"), 0u);

  Registry ext;
  EnableGrpcHandlingTimeHistogram(ext);
  PreRegisterGrpcServices({"etcdserverpb.KV"}, ext);
  RecordGrpcHandlingTime(ext, put, 0.02);
  testing::Parsed pe = testing::ParseExposition(ext.Expose());
  ASSERT_TRUE(pe.ok) << pe.error;
  EXPECT_EQ(pe.families["grpc_server_handling_seconds"].type, "histogram");
  const std::vector<std::pair<std::string, std::string>> put_labels = {
      {"grpc_method", "Put"}, {"grpc_service", "etcdserverpb.KV"}, {"grpc_type", "unary"}};
  auto with_le = [&](const char* le) {
    auto l = put_labels;
    l.insert(l.begin(), {"le", le});
    std::sort(l.begin(), l.end());
    return l;
  };
  // prometheus.DefBuckets: 0.02 lands in le=0.025, not in le=0.01.
  EXPECT_EQ(pe.Value("grpc_server_handling_seconds_bucket", with_le("0.01")), "0");
  EXPECT_EQ(pe.Value("grpc_server_handling_seconds_bucket", with_le("0.025")), "1");
  EXPECT_EQ(pe.Value("grpc_server_handling_seconds_bucket", with_le("10")), "1");
  EXPECT_EQ(pe.Value("grpc_server_handling_seconds_bucket", with_le("+Inf")), "1");
  EXPECT_EQ(pe.Value("grpc_server_handling_seconds_count", put_labels), "1");
  // Pre-registered at zero for other methods, as go-grpc-prometheus does.
  EXPECT_EQ(pe.Value("grpc_server_handling_seconds_count", {{"grpc_method", "Range"},
                                                            {"grpc_service", "etcdserverpb.KV"},
                                                            {"grpc_type", "unary"}}),
            "0");
}

}  // namespace
}  // namespace etcdpp::metrics
