// Unary routes through a real in-process gRPC server: exact JSON in and out,
// error bodies and statuses, metadata, routing, methods, CORS.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "fake_services.h"
#include "gateway/routes.h"

namespace etcdpp::gateway {
namespace {

using testing::FakeServer;
using testing::FakeWriter;
using testing::Post;

constexpr const char* kHeaderJson =
    R"({"cluster_id":"9223372036854775809","member_id":"2","revision":"5","raft_term":"3"})";

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override { Register(router_, server_.Channel()); }

  std::unique_ptr<FakeWriter> Call(const http::Request& req) {
    auto w = std::make_unique<FakeWriter>();
    testing::Run(router_, req, *w);
    EXPECT_EQ(w->sends + (w->streamed ? 1 : 0), 1) << "exactly one answer per exchange";
    return w;
  }

  FakeServer server_;
  http::Router router_;
};

TEST_F(GatewayTest, RangeRoundTrip) {
  auto w = Call(Post("/v3/kv/range", R"({"key":"Zm9v","rangeEnd":"Zm9w","limit":"2",
                                          "serializable":true,"nope":1})"));
  EXPECT_EQ(w->status, 200);
  EXPECT_EQ(w->body, std::string(R"({"header":)") + kHeaderJson +
                         R"(,"kvs":[{"key":"Zm9v","create_revision":"4","mod_revision":"5",)"
                         R"("version":"1","value":"/wB2"}],"count":"1"})");
  ASSERT_NE(w->Header("Content-Type"), nullptr);
  EXPECT_EQ(*w->Header("Content-Type"), "application/json");
  ASSERT_NE(w->Header("Grpc-Metadata-Content-Type"), nullptr);
  EXPECT_EQ(server_.seen().Requests().back(),
            "key: \"foo\" range_end: \"fop\" limit: 2 serializable: true");
}

TEST_F(GatewayTest, EmptyBodyIsAnEmptyRequestAndTrailingDataIsIgnored) {
  auto w = Call(Post("/v3/kv/put", ""));
  EXPECT_EQ(w->status, 200);
  EXPECT_EQ(w->body, std::string(R"({"header":)") + kHeaderJson + "}");
  EXPECT_EQ(server_.seen().Requests().back(), "");
  w = Call(Post("/v3/kv/put", R"({"key":"YQ==","value":"Yg==","lease":"7"} {"key": garbage)"));
  EXPECT_EQ(w->status, 200);
  EXPECT_EQ(server_.seen().Requests().back(), "key: \"a\" value: \"b\" lease: 7");
}

TEST_F(GatewayTest, TxnFalseSucceededIsOmitted) {
  auto w = Call(Post("/v3/kv/txn",
                     R"({"compare":[{"key":"YQ==","target":"CREATE","create_revision":0}],
                         "success":[{"request_put":{"key":"YQ==","value":"Yg=="}}],
                         "failure":[{"request_range":{"key":"YQ=="}}]})"));
  EXPECT_EQ(w->status, 200);
  EXPECT_EQ(w->body, std::string(R"({"header":)") + kHeaderJson +
                         R"(,"responses":[{"response_range":{"header":{}}}]})");
  EXPECT_EQ(server_.seen().Requests().back(),
            "compare { target: CREATE key: \"a\" create_revision: 0 } success { request_put { "
            "key: \"a\" value: \"b\" } } failure { request_range { key: \"a\" } }");
}

TEST_F(GatewayTest, LeaseClusterMaintenanceShapes) {
  auto w = Call(Post("/v3/lease/grant", R"({"TTL":30,"ID":0})"));
  EXPECT_EQ(w->body, std::string(R"({"header":)") + kHeaderJson +
                         R"(,"ID":"7587883341489504017","TTL":"30"})");
  w = Call(Post("/v3/cluster/member/list", "{}"));
  EXPECT_EQ(w->body,
            std::string(R"({"header":)") + kHeaderJson +
                R"(,"members":[{"ID":"10276657743932975437","name":"m1",)"
                R"("peerURLs":["http://127.0.0.1:2380"],)"
                R"("clientURLs":["http://127.0.0.1:2379"]},{"ID":"1","isLearner":true}]})");
  w = Call(Post("/v3/maintenance/defragment", "{}"));
  EXPECT_EQ(w->status, 200);
  EXPECT_EQ(w->body, "{}");
  w = Call(Post("/v3/maintenance/hash", "{}"));
  EXPECT_EQ(w->body, R"({"hash":4000000000})");
}

TEST_F(GatewayTest, LeaseAliasesAndV3betaReachTheSameCalls) {
  auto w = Call(Post("/v3/kv/lease/revoke", R"({"ID":"12"})"));
  EXPECT_EQ(w->status, 404);
  EXPECT_EQ(w->body, R"({"code":5,"message":"etcdserver: requested lease not found",)"
                     R"("error":"etcdserver: requested lease not found"})");
  EXPECT_EQ(server_.seen().Requests().back(), "ID: 12");
  w = Call(Post("/v3beta/lease/grant", R"({"TTL":"5"})"));
  EXPECT_EQ(w->status, 200);
  EXPECT_NE(w->body.find(R"("TTL":"5")"), std::string::npos);
  w = Call(Post("/v3beta/kv/range", R"({"key":"YQ=="})"));
  EXPECT_EQ(w->status, 200);
}

TEST_F(GatewayTest, ErrorStatusAndBodyForEveryCode) {
  const int http_status[17] = {200, 499, 500, 400, 504, 404, 409, 403, 429,
                               400, 409, 400, 501, 500, 503, 500, 401};
  for (int code = 1; code <= 16; code++) {
    std::string key =
        "err:" + std::to_string(code) + ":etcdserver: failure " + std::to_string(code);
    std::string b64 = testing::Base64(key);
    auto w = Call(Post("/v3/kv/range", "{\"key\":\"" + b64 + "\"}"));
    std::string msg = "etcdserver: failure " + std::to_string(code);
    EXPECT_EQ(w->status, http_status[code]) << code;
    EXPECT_EQ(w->body, "{\"code\":" + std::to_string(code) + ",\"message\":\"" + msg +
                           "\",\"error\":\"" + msg + "\"}");
    EXPECT_EQ(*w->Header("Content-Type"), "application/json");
    if (code == 16) {
      ASSERT_NE(w->Header("WWW-Authenticate"), nullptr);
      EXPECT_EQ(*w->Header("WWW-Authenticate"), msg);
    } else {
      EXPECT_EQ(w->Header("WWW-Authenticate"), nullptr);
    }
  }
}

TEST_F(GatewayTest, BadJsonIs400WithoutACall) {
  size_t before = server_.seen().Requests().size();
  for (const char* bad : {"{\"key\":", "[1]", "{\"key\":\"!!\"}", "{\"limit\":\"x\"}"}) {
    auto w = Call(Post("/v3/kv/range", bad));
    EXPECT_EQ(w->status, 400) << bad;
    EXPECT_EQ(w->body.rfind("{\"code\":3,\"message\":\"", 0), 0u) << w->body;
    EXPECT_NE(w->body.find(",\"error\":\""), std::string::npos) << w->body;
  }
  EXPECT_EQ(server_.seen().Requests().size(), before);
}

TEST_F(GatewayTest, HeadersBecomeMetadata) {
  auto w = Call(Post("/v3/kv/range", R"({"key":"YQ=="})",
                     {{"authorization", "Bearer tok123"},
                      {"grpc-metadata-token", "tok456"},
                      {"grpc-metadata-hasleader", "true"},
                      {"grpc-metadata-blob-bin", "AP8"},
                      {"grpc-metadata-grpc-internal", "dropped"},
                      {"host", "example:2379"},
                      {"x-custom", "not forwarded"}}));
  EXPECT_EQ(w->status, 200);
  std::set<std::string> md;
  {
    std::lock_guard<std::mutex> l(server_.seen().mu);
    md.insert(server_.seen().metadata.begin(), server_.seen().metadata.end());
  }
  EXPECT_TRUE(md.count("authorization=Bearer tok123"));
  EXPECT_TRUE(md.count("token=tok456"));
  EXPECT_TRUE(md.count("hasleader=true"));
  EXPECT_TRUE(md.count(std::string("blob-bin=\x00\xff", 11)));
  EXPECT_TRUE(md.count("x-forwarded-host=example:2379"));
  EXPECT_TRUE(md.count("x-forwarded-for=127.0.0.1"));
  for (const auto& kv : md) {
    EXPECT_EQ(kv.find("grpc-internal"), std::string::npos);
    EXPECT_EQ(kv.find("x-custom"), std::string::npos);
  }
}

TEST_F(GatewayTest, BadTimeoutOrBinaryHeaderIs400) {
  auto w = Call(Post("/v3/kv/range", "{}", {{"grpc-timeout", "soon"}}));
  EXPECT_EQ(w->status, 400);
  EXPECT_EQ(w->body, R"({"code":3,"message":"invalid grpc-timeout: soon",)"
                     R"("error":"invalid grpc-timeout: soon"})");
  w = Call(Post("/v3/kv/range", "{}", {{"grpc-metadata-x-bin", "!!"}}));
  EXPECT_EQ(w->status, 400);
}

TEST_F(GatewayTest, GrpcTimeoutBoundsTheCall) {
  auto w = Call(Post("/v3/kv/range", R"({"key":"c2xvdw=="})", {{"grpc-timeout", "200m"}}));
  EXPECT_EQ(w->status, 504);
  EXPECT_EQ(w->body.rfind("{\"code\":4,", 0), 0u) << w->body;
  EXPECT_TRUE(server_.seen().WaitCancelled(1));
}

TEST_F(GatewayTest, ClientGoneCancelsAUnaryCall) {
  FakeWriter w;
  std::thread t([&] { testing::Run(router_, Post("/v3/kv/range", R"({"key":"c2xvdw=="})"), w); });
  // The fake blocks on "slow" until cancelled; the request must reach it first.
  ASSERT_TRUE(server_.seen().WaitRequest("key: \"slow\""));
  w.gone = true;
  t.join();
  EXPECT_TRUE(server_.seen().WaitCancelled(1));
}

TEST_F(GatewayTest, MissingServicesAnswerUnimplemented) {
  for (const char* path : {"/v3/auth/status", "/v3/lock/lock", "/v3/election/leader",
                           "/v3/election/observe", "/v3/maintenance/status"}) {
    auto w = Call(Post(path, R"({"name":"bG9jaw=="})"));
    EXPECT_EQ(w->status, 501) << path;
    EXPECT_EQ(w->body.rfind("{\"code\":12,\"message\":\"", 0), 0u) << path << " " << w->body;
    EXPECT_FALSE(w->streamed) << path;
  }
}

TEST_F(GatewayTest, UnknownPathWrongMethodOptionsAndCors) {
  auto w = Call(Post("/v3/kv/nothing", "{}"));
  EXPECT_EQ(w->status, 404);
  EXPECT_EQ(w->body, R"({"code":5,"message":"Not Found","error":"Not Found"})");
  w = Call(Post("/v3beta/nothing", "{}"));
  EXPECT_EQ(w->status, 404);

  auto get = Post("/v3/kv/range", "");
  get.method = "GET";
  w = Call(get);
  EXPECT_EQ(w->status, 501);
  EXPECT_EQ(w->body, R"({"code":12,"message":"Method Not Allowed","error":"Method Not Allowed"})");
  get.path = "/v3/watch";
  w = Call(get);
  EXPECT_EQ(w->status, 501);

  auto options = Post("/v3/kv/range", "");
  options.method = "OPTIONS";
  w = Call(options);
  EXPECT_EQ(w->status, 200);
  EXPECT_EQ(w->body, "");
  ASSERT_NE(w->Header("Access-Control-Allow-Origin"), nullptr);
  EXPECT_EQ(*w->Header("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(*w->Header("Access-Control-Allow-Methods"), "POST, GET, OPTIONS, PUT, DELETE");
  EXPECT_EQ(*w->Header("Access-Control-Allow-Headers"), "accept, content-type, authorization");
  options.path = "/v3/unknown";
  EXPECT_EQ(Call(options)->status, 200);

  w = Call(Post("/v3/kv/range", "{}"));  // CORS headers on ordinary answers too
  ASSERT_NE(w->Header("Access-Control-Allow-Origin"), nullptr);
}

TEST_F(GatewayTest, LargeResponsesPassWithTheRecommendedChannel) {
  auto w = Call(Post("/v3/kv/range", R"({"key":"Ymln"})"));
  EXPECT_EQ(w->status, 200);
  EXPECT_GT(w->body.size(), size_t{5} << 20);
  // With gRPC's default 4 MiB client limit the same call fails: why gateway.h
  // asks for SetMaxReceiveMessageSize(-1).
  http::Router limited;
  Register(limited, server_.Channel(/*default_limits=*/true));
  FakeWriter lw;
  testing::Run(limited, Post("/v3/kv/range", R"({"key":"Ymln"})"), lw);
  EXPECT_EQ(lw.status, 429);
}

TEST(GatewayCors, ListedOriginsOnly) {
  FakeServer server;
  http::Router router;
  Register(router, server.Channel(), Options{{"http://a.example"}});
  FakeWriter w;
  testing::Run(router, Post("/v3/kv/range", "{}", {{"origin", "http://a.example"}}), w);
  ASSERT_NE(w.Header("Access-Control-Allow-Origin"), nullptr);
  EXPECT_EQ(*w.Header("Access-Control-Allow-Origin"), "http://a.example");
  FakeWriter w2;
  testing::Run(router, Post("/v3/kv/range", "{}", {{"origin", "http://b.example"}}), w2);
  EXPECT_EQ(w2.Header("Access-Control-Allow-Origin"), nullptr);
}

TEST(GatewayRoutes, EveryPathOfTheFactSheet) {
  std::set<std::string> paths;
  for (const auto& r : Routes())
    paths.insert(r.path);
  const char* expected[] = {"/v3/kv/range",
                            "/v3/kv/put",
                            "/v3/kv/deleterange",
                            "/v3/kv/txn",
                            "/v3/kv/compaction",
                            "/v3/watch",
                            "/v3/lease/grant",
                            "/v3/lease/revoke",
                            "/v3/lease/keepalive",
                            "/v3/lease/timetolive",
                            "/v3/lease/leases",
                            "/v3/kv/lease/revoke",
                            "/v3/kv/lease/timetolive",
                            "/v3/kv/lease/leases",
                            "/v3/cluster/member/add",
                            "/v3/cluster/member/remove",
                            "/v3/cluster/member/update",
                            "/v3/cluster/member/list",
                            "/v3/cluster/member/promote",
                            "/v3/maintenance/alarm",
                            "/v3/maintenance/status",
                            "/v3/maintenance/defragment",
                            "/v3/maintenance/hash",
                            "/v3/maintenance/hashkv",
                            "/v3/maintenance/snapshot",
                            "/v3/maintenance/transfer-leadership",
                            "/v3/maintenance/downgrade",
                            "/v3/auth/enable",
                            "/v3/auth/disable",
                            "/v3/auth/status",
                            "/v3/auth/authenticate",
                            "/v3/auth/user/add",
                            "/v3/auth/user/get",
                            "/v3/auth/user/list",
                            "/v3/auth/user/delete",
                            "/v3/auth/user/changepw",
                            "/v3/auth/user/grant",
                            "/v3/auth/user/revoke",
                            "/v3/auth/role/add",
                            "/v3/auth/role/get",
                            "/v3/auth/role/list",
                            "/v3/auth/role/delete",
                            "/v3/auth/role/grant",
                            "/v3/auth/role/revoke",
                            "/v3/lock/lock",
                            "/v3/lock/unlock",
                            "/v3/election/campaign",
                            "/v3/election/proclaim",
                            "/v3/election/leader",
                            "/v3/election/observe",
                            "/v3/election/resign"};
  EXPECT_EQ(paths.size(), std::size(expected));
  for (const char* p : expected)
    EXPECT_TRUE(paths.count(p)) << p;
  for (const auto& r : Routes()) {
    if (r.path == "/v3/maintenance/transfer-leadership") {
      EXPECT_EQ(r.grpc_method, "/etcdserverpb.Maintenance/MoveLeader");
    }
    if (r.path == "/v3/auth/role/grant") {
      EXPECT_EQ(r.grpc_method, "/etcdserverpb.Auth/RoleGrantPermission");
    }
    if (r.path == "/v3/kv/compaction") {
      EXPECT_EQ(r.grpc_method, "/etcdserverpb.KV/Compact");
    }
    bool stream = r.path == "/v3/watch" || r.path == "/v3/lease/keepalive" ||
                  r.path == "/v3/maintenance/snapshot" || r.path == "/v3/election/observe";
    EXPECT_EQ(r.kind != CallKind::kUnary, stream) << r.path;
  }
}

}  // namespace
}  // namespace etcdpp::gateway
