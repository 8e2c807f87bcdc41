// Small pieces: status mapping, listen URLs, the wait registry.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "server/status_map.h"
#include "server/url.h"
#include "server/wait.h"

namespace etcdpp::server {
namespace {

TEST(StatusMap, CodesAndMessagesVerbatim) {
  EXPECT_TRUE(ToGrpcStatus(Status::OK()).ok());
  auto g = ToGrpcStatus(Status::InvalidArgument("etcdserver: key is not provided"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), "etcdserver: key is not provided");
  EXPECT_EQ(ToGrpcStatus(Status::OutOfRange("x")).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(ToGrpcStatus(Status::ResourceExhausted("x")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ToGrpcStatus(Status::Unavailable("x")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(Status::Corruption("bad")).error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(ToGrpcStatus(Status::IOError("disk full")).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(ToGrpcStatus(Status::IOError("disk full")).error_message(), "disk full");
  EXPECT_EQ(ToGrpcStatus(Status(Code::kUnauthenticated, "t")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST(Url, ParsesEtcdListenUrls) {
  auto a = ParseListenUrl("http://localhost:2379");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->GrpcTarget(), "127.0.0.1:2379");
  a = ParseListenUrl("http://0.0.0.0:0/");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->GrpcTarget(), "0.0.0.0:0");
  a = ParseListenUrl("http://[::1]:2379");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->GrpcTarget(), "[::1]:2379");
  a = ParseListenUrl("unix:///tmp/etcd.sock");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->GrpcTarget(), "unix:/tmp/etcd.sock");
  EXPECT_FALSE(ParseListenUrl("localhost:2379").ok());
  EXPECT_FALSE(ParseListenUrl("http://localhost").ok());
  EXPECT_FALSE(ParseListenUrl("http://localhost:99999").ok());
  EXPECT_FALSE(ParseListenUrl("https://localhost:2379").ok());
  EXPECT_FALSE(ParseListenUrl("http://localhost:2379/path").ok());
}

TEST(WaitRegistry, TriggerCompletesOnceWithResponse) {
  WaitRegistry w;
  int calls = 0;
  std::string got;
  ASSERT_TRUE(w.Register(7, [&](const Status& st, internalpb::InternalResponse* r) {
    calls++;
    EXPECT_TRUE(st.ok());
    got = r->put().prev_kv().key();
  }));
  EXPECT_FALSE(w.Register(7, [](const Status&, internalpb::InternalResponse*) {}));
  internalpb::InternalResponse resp;
  resp.mutable_put()->mutable_prev_kv()->set_key("k");
  EXPECT_TRUE(w.Trigger(7, Status::OK(), &resp));
  EXPECT_FALSE(w.Trigger(7, Status::OK(), &resp));  // already completed
  EXPECT_FALSE(w.Trigger(8, Status::OK(), &resp));  // replayed entry: no waiter
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, "k");
  EXPECT_EQ(w.Size(), 0u);
}

TEST(WaitRegistry, FailAllAndConcurrentUse) {
  WaitRegistry w;
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([&, t] {
      for (uint64_t i = 0; i < 1000; i++) {
        uint64_t id = t * 1000 + i + 1;
        w.Register(id, [&](const Status& st, internalpb::InternalResponse*) {
          (st.ok() ? ok : failed)++;
        });
        if (i % 2 == 0) {
          internalpb::InternalResponse r;
          w.Trigger(id, Status::OK(), &r);
        }
      }
    });
  }
  for (auto& t : ts)
    t.join();
  w.FailAll(Status::Unavailable("etcdserver: server stopped"));
  EXPECT_EQ(ok.load(), 2000);
  EXPECT_EQ(failed.load(), 2000);
  EXPECT_EQ(w.Size(), 0u);
}

}  // namespace
}  // namespace etcdpp::server

#include "server/read_pool.h"

namespace etcdpp::server {
namespace {

TEST(ReadPool, RunsEverythingPostedAndNeverDrops) {
  std::atomic<int> ran{0};
  ReadPool pool(2);
  for (int i = 0; i < 1000; i++)
    pool.Post([&] { ran++; });
  pool.Stop();  // drains
  EXPECT_EQ(ran.load(), 1000);
  pool.Post([&] { ran++; });  // after Stop: runs inline
  EXPECT_EQ(ran.load(), 1001);
}

}  // namespace
}  // namespace etcdpp::server
