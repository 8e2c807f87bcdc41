#include "server/watch_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "fixture.h"

namespace etcdpp::watch::testing {
namespace {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

class WatchServiceTest : public StoreFixture {
 protected:
  // with_leader_rule: the `hasleader` monitor over has_leader_, checking
  // every 20 ms.
  void StartServer(HubOptions o = {}, bool with_leader_rule = false) {
    MakeHub(o);
    std::function<bool()> has_leader;
    if (with_leader_rule) has_leader = [this] { return has_leader_.load(); };
    service_ = std::make_unique<server::WatchService>(
        hub_.get(),
        [](etcdserverpb::ResponseHeader* h) {
          h->set_cluster_id(7);
          h->set_member_id(8);
          h->set_raft_term(9);
        },
        has_leader, std::chrono::milliseconds(20));
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    // No BDP probing: the client's flow-control window stays small, so a
    // client that stops reading backs the server up quickly.
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    stub_ = etcdserverpb::Watch::NewStub(grpc::CreateCustomChannel(
        Cat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
  }
  void TearDown() override {
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
      server_->Wait();
    }
    server_.reset();
    service_.reset();
    StoreFixture::TearDown();
  }

  struct Client {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<WatchRequest, WatchResponse>> rw;
    ~Client() {
      ctx.TryCancel();
      if (rw) (void)rw->Finish();
    }
    void Create(const etcdserverpb::WatchCreateRequest& c) {
      WatchRequest r;
      *r.mutable_create_request() = c;
      ASSERT_TRUE(rw->Write(r));
    }
    void Cancel(int64_t id) {
      WatchRequest r;
      r.mutable_cancel_request()->set_watch_id(id);
      ASSERT_TRUE(rw->Write(r));
    }
    void Progress() {
      WatchRequest r;
      r.mutable_progress_request();
      ASSERT_TRUE(rw->Write(r));
    }
    WatchResponse Read() {
      WatchResponse r;
      EXPECT_TRUE(rw->Read(&r)) << "stream ended";
      return r;
    }
  };
  std::unique_ptr<Client> Open(bool require_leader = false) {
    auto c = std::make_unique<Client>();
    c->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
    if (require_leader) c->ctx.AddMetadata("hasleader", "true");  // clientv3 WithRequireLeader
    c->rw = stub_->Watch(&c->ctx);
    return c;
  }

  std::atomic<bool> has_leader_{true};
  std::unique_ptr<server::WatchService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<etcdserverpb::Watch::Stub> stub_;
};

TEST_F(WatchServiceTest, CreateEventCancel) {
  StartServer();
  auto c = Open();
  auto req = CreateReq("foo", "fop");
  req.set_prev_kv(true);
  c->Create(req);
  WatchResponse r = c->Read();
  EXPECT_TRUE(r.created());
  EXPECT_EQ(r.watch_id(), 0);
  EXPECT_EQ(r.header().cluster_id(), 7u);
  EXPECT_EQ(r.header().member_id(), 8u);
  EXPECT_EQ(r.header().raft_term(), 9u);
  EXPECT_EQ(r.header().revision(), 1);
  Put("foo/a", "1");
  Put("foo/a", "2");
  r = c->Read();
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).kv().key(), "foo/a");
  EXPECT_EQ(r.header().revision(), 2);
  EXPECT_EQ(r.header().cluster_id(), 7u);
  r = c->Read();
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).prev_kv().value(), "1");
  c->Cancel(5);  // unknown: ignored
  c->Cancel(0);
  r = c->Read();
  EXPECT_TRUE(r.canceled());
  EXPECT_EQ(r.watch_id(), 0);
}

// etcd's hasleader rule: refused without a leader; a `hasleader` stream ends
// with Unavailable "etcdserver: no leader" after 3 election timeouts without
// one; other streams are left alone.
TEST_F(WatchServiceTest, HasLeaderStreamsRefusedAndCancelledWithoutLeader) {
  StartServer({}, /*with_leader_rule=*/true);
  auto plain = Open();
  plain->Create(CreateReq("a", ""));
  EXPECT_TRUE(plain->Read().created());
  auto strict = Open(/*require_leader=*/true);
  strict->Create(CreateReq("a", ""));
  EXPECT_TRUE(strict->Read().created());
  has_leader_ = false;
  WatchResponse r;
  EXPECT_FALSE(strict->rw->Read(&r));  // ends within ~3 checks of 20 ms
  grpc::Status st = strict->rw->Finish();
  strict->rw.reset();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(st.error_message(), "etcdserver: no leader");
  // A new hasleader stream is refused at once.
  auto refused = Open(/*require_leader=*/true);
  EXPECT_FALSE(refused->rw->Read(&r));
  st = refused->rw->Finish();
  refused->rw.reset();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(st.error_message(), "etcdserver: no leader");
  // The plain stream still works.
  Put("a", "1");
  r = plain->Read();
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).kv().value(), "1");
  // With a leader again, hasleader streams are served.
  has_leader_ = true;
  auto again = Open(/*require_leader=*/true);
  again->Create(CreateReq("a", ""));
  EXPECT_TRUE(again->Read().created());
}

TEST_F(WatchServiceTest, CompactedAndPastRevision) {
  StartServer();
  for (int i = 0; i < 5; i++)
    Put("k", std::to_string(i));  // 2..6
  Compact(4);
  auto c = Open();
  c->Create(CreateReq("k", "", 3));
  EXPECT_TRUE(c->Read().created());
  WatchResponse r = c->Read();
  EXPECT_TRUE(r.canceled());
  EXPECT_EQ(r.compact_revision(), 4);
  c->Create(CreateReq("k", "", 5));
  r = c->Read();
  EXPECT_TRUE(r.created());
  EXPECT_EQ(r.watch_id(), 1);
  std::vector<int64_t> revs;
  while (revs.size() < 2) {
    r = c->Read();
    for (const auto& ev : r.events())
      revs.push_back(ev.kv().mod_revision());
  }
  EXPECT_EQ(revs, (std::vector<int64_t>{5, 6}));
}

TEST_F(WatchServiceTest, ProgressRequestAfterQueuedEvents) {
  StartServer();
  auto c = Open();
  c->Create(CreateReq("k"));
  EXPECT_TRUE(c->Read().created());
  Put("k", "1");
  Put("k", "2");
  c->Progress();
  EXPECT_EQ(c->Read().events(0).kv().mod_revision(), 2);
  EXPECT_EQ(c->Read().events(0).kv().mod_revision(), 3);
  WatchResponse r = c->Read();
  EXPECT_EQ(r.watch_id(), -1);
  EXPECT_EQ(r.header().revision(), 3);
  EXPECT_EQ(r.events_size(), 0);
  EXPECT_EQ(r.header().cluster_id(), 7u);
}

// A client that stops reading: Publish keeps going, memory stays bounded, and
// once the client reads again every event arrives exactly once, in order.
TEST_F(WatchServiceTest, SlowClientCaughtUpExactly) {
  HubOptions o;
  o.stream_queue_bytes = 32 * 1024;
  o.catchup_max_events = 100;
  StartServer(o);
  auto c = Open();
  c->Create(CreateReq("", std::string(1, '\0')));
  EXPECT_TRUE(c->Read().created());
  const int n = 3000;  // ~24 MB: far beyond gRPC's and TCP's buffers and the queue bound
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; i++)
    Put(Cat("key", i % 50), std::string(8192, 'v'));
  auto publish_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  std::printf("3000 txns published with a stalled client in %lld ms\n",
              static_cast<long long>(publish_ms));
  EXPECT_GE(hub_->UnsyncedCount(), 1u);
  int64_t last = 1;
  while (last < n + 1) {
    WatchResponse r = c->Read();
    ASSERT_GT(r.events_size(), 0) << r.ShortDebugString();
    for (const auto& ev : r.events()) {
      ASSERT_EQ(ev.kv().mod_revision(), last + 1);
      last = ev.kv().mod_revision();
    }
  }
  Put("key0", "live");
  WatchResponse r = c->Read();
  ASSERT_EQ(r.events_size(), 1);
  EXPECT_EQ(r.events(0).kv().mod_revision(), n + 2);
}

TEST_F(WatchServiceTest, ManyWatchersOneStreamAndCancelFreesAll) {
  StartServer();
  auto c = Open();
  constexpr int kWatchers = 2000;
  for (int i = 0; i < kWatchers; i++)
    c->Create(CreateReq(Cat("k", i % 10)));
  for (int i = 0; i < kWatchers; i++) {
    WatchResponse r = c->Read();
    ASSERT_TRUE(r.created());
    ASSERT_EQ(r.watch_id(), i);
  }
  Put("k3", "v");
  for (int i = 0; i < kWatchers / 10; i++) {
    WatchResponse r = c->Read();
    ASSERT_EQ(r.events_size(), 1);
    EXPECT_EQ(r.watch_id() % 10, 3);
  }
  EXPECT_EQ(hub_->WatcherCount(), static_cast<size_t>(kWatchers));
  c.reset();  // client cancels the stream
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (hub_->WatcherCount() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a condition
  }
  EXPECT_EQ(hub_->WatcherCount(), 0u);
}

}  // namespace
}  // namespace etcdpp::watch::testing
