// Streaming routes: chunk framing, concatenated requests, half-close, stream
// errors, and that a vanished client frees the gRPC call.
#include <gtest/gtest.h>

#include <thread>

#include "fake_services.h"

namespace etcdpp::gateway {
namespace {

using testing::FakeServer;
using testing::FakeWriter;
using testing::Post;

class GatewayStreamTest : public ::testing::Test {
 protected:
  void SetUp() override { Register(router_, server_.Channel()); }

  // Runs a request that only ends when the client goes: waits for `chunks`
  // chunks, then lets the client go and waits for the handler to return.
  void RunUntilChunks(const http::Request& req, FakeWriter& w, size_t chunks) {
    std::thread t([&] { testing::Run(router_, req, w); });
    bool got = w.WaitChunks(chunks);
    w.gone = true;
    t.join();
    ASSERT_TRUE(got) << "only " << w.Chunks().size() << " chunks";
  }

  FakeServer server_;
  http::Router router_;
};

TEST_F(GatewayStreamTest, WatchConcatenatedRequestsOneChunkPerMessage) {
  FakeWriter w;
  // Two requests, the first followed directly by the second, then a newline.
  RunUntilChunks(Post("/v3/watch",
                      R"({"create_request":{"key":"YQ==","range_end":"Yg==","start_revision":"3"}})"
                      R"({"createRequest":{"key":"ZXY=","prevKv":true,"filters":["NODELETE"]}})"
                      "\n"),
                 w, 3);
  EXPECT_EQ(w.status, 200);
  EXPECT_TRUE(w.streamed);
  EXPECT_EQ(*w.Header("Content-Type"), "application/json");
  auto chunks = w.Chunks();
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0], R"({"result":{"header":{"revision":"1"},"created":true}})"
                       "\n");
  EXPECT_EQ(chunks[1], R"({"result":{"header":{"revision":"1"},"watch_id":"1","created":true}})"
                       "\n");
  EXPECT_EQ(chunks[2],
            R"({"result":{"header":{"cluster_id":"9223372036854775809","member_id":"2",)"
            R"("revision":"5","raft_term":"3"},"watch_id":"1","events":[{"kv":{"key":"ZXY=",)"
            R"("mod_revision":"5","value":"dg=="}},{"type":"DELETE","kv":{"key":"ZXY="}}]}})"
            "\n");
  EXPECT_TRUE(w.ended);
  // The watch stayed open after the body ended, and was cancelled when the client went.
  EXPECT_TRUE(server_.seen().WaitCancelled(1));
  auto reqs = server_.seen().Requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0], "create_request { key: \"a\" range_end: \"b\" start_revision: 3 }");
  EXPECT_EQ(reqs[1], "create_request { key: \"ev\" filters: NODELETE prev_kv: true }");
}

TEST_F(GatewayStreamTest, WatchWithEmptyBodyStaysOpenUntilTheClientGoes) {
  FakeWriter w;
  std::thread t([&] { testing::Run(router_, Post("/v3/watch", ""), w); });
  // Nothing to answer: the handler must notice the client going by polling.
  w.gone = true;
  t.join();
  EXPECT_TRUE(server_.seen().WaitCancelled(1));
  EXPECT_TRUE(w.Chunks().empty());
}

TEST_F(GatewayStreamTest, WriteFailureCancelsTheCall) {
  FakeWriter w;
  w.fail_writes_after = 1;  // the client is gone after the first chunk
  testing::Run(router_, Post("/v3/watch", R"({"create_request":{"key":"ZXY="}})"), w);
  EXPECT_EQ(w.Chunks().size(), 1u);
  EXPECT_TRUE(server_.seen().WaitCancelled(1));
}

TEST_F(GatewayStreamTest, ErrorAfterAMessageIsAnErrorChunk) {
  FakeWriter w;
  testing::Run(router_, Post("/v3/watch", R"({"create_request":{"key":"ZmFpbA=="}})"), w);
  EXPECT_EQ(w.status, 200);
  auto chunks = w.Chunks();
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[1],
            R"({"error":{"code":9,"message":"etcdserver: \"quoted\" <failure>","grpc_code":9,)"
            R"("http_code":400,"http_status":"Bad Request"}})"
            "\n");
  EXPECT_TRUE(w.ended);
}

TEST_F(GatewayStreamTest, ErrorBeforeAnyMessageIsAUnaryError) {
  FakeWriter w;
  testing::Run(router_, Post("/v3/watch", R"({"create_request":{"key":"ZmFpbC1lYXJseQ=="}})"), w);
  EXPECT_FALSE(w.streamed);
  EXPECT_EQ(w.status, 503);
  EXPECT_EQ(w.body,
            R"({"code":14,"message":"etcdserver: no leader","error":"etcdserver: no leader"})");
}

TEST_F(GatewayStreamTest, BadRequestInAStreamBodyIs400StreamError) {
  FakeWriter w;
  testing::Run(router_, Post("/v3/watch", R"({"create_request":{}} {"create_request":)"), w);
  EXPECT_EQ(w.status, 400);
  auto chunks = w.Chunks();
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].rfind(R"({"error":{"code":3,"message":)", 0), 0u) << chunks[0];
  EXPECT_TRUE(server_.seen().Requests().empty());
}

TEST_F(GatewayStreamTest, KeepAliveAnswersEachRequestThenEnds) {
  FakeWriter w;
  testing::Run(router_, Post("/v3/lease/keepalive", "{\"ID\":\"7\"}\n{\"ID\":0}"), w);
  EXPECT_EQ(w.status, 200);
  auto chunks = w.Chunks();
  ASSERT_EQ(chunks.size(), 2u);
  const std::string header =
      R"({"cluster_id":"9223372036854775809","member_id":"2","revision":"5","raft_term":"3"})";
  EXPECT_EQ(chunks[0], R"({"result":{"header":)" + header +
                           R"(,"ID":"7","TTL":"10"}})"
                           "\n");
  // Unknown lease: no TTL key at all (Patroni reads that as "lease gone").
  EXPECT_EQ(chunks[1], R"({"result":{"header":)" + header + "}}\n");
  EXPECT_TRUE(w.ended);
  EXPECT_EQ(server_.seen().Requests(), (std::vector<std::string>{"ID: 7", ""}));
}

TEST_F(GatewayStreamTest, KeepAliveWithEmptyBodyIsAnEmptyStream) {
  FakeWriter w;
  testing::Run(router_, Post("/v3/lease/keepalive", ""), w);
  EXPECT_EQ(w.status, 200);
  EXPECT_TRUE(w.streamed);
  EXPECT_TRUE(w.ended);
  EXPECT_TRUE(w.Chunks().empty());
}

TEST_F(GatewayStreamTest, SnapshotServerStream) {
  FakeWriter w;
  testing::Run(router_, Post("/v3/maintenance/snapshot", ""), w);
  EXPECT_EQ(w.status, 200);
  EXPECT_EQ(w.Chunks(),
            (std::vector<std::string>{R"({"result":{"remaining_bytes":"2","blob":"YWJj"}})"
                                      "\n",
                                      R"({"result":{"remaining_bytes":"1","blob":"ZA=="}})"
                                      "\n",
                                      R"({"result":{}})"
                                      "\n"}));
  EXPECT_TRUE(w.ended);
}

TEST_F(GatewayStreamTest, V3betaWatch) {
  FakeWriter w;
  RunUntilChunks(Post("/v3beta/watch", R"({"create_request":{"key":"YQ=="}})"), w, 1);
  EXPECT_EQ(w.Chunks()[0], R"({"result":{"header":{"revision":"1"},"created":true}})"
                           "\n");
}

}  // namespace
}  // namespace etcdpp::gateway
