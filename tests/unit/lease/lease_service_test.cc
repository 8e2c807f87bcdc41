// LeaseService over an in-process gRPC server with a fake backend that
// applies proposals directly (no raft) to a real store.
#include "server/lease_service.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "../mvcc/temp_dir.h"
#include "lease/apply.h"
#include "mvcc/store.h"

namespace etcdpp::server {
namespace {

using namespace std::chrono_literals;

class FakeBackend final : public LeaseBackend {
 public:
  FakeBackend(mvcc::Store* store, lease::Lessor* lessor) : store_(store), lessor_(lessor) {}

  void Propose(internalpb::InternalRequest req, ProposeCallback cb,
               std::chrono::system_clock::time_point /*deadline*/) override {
    internalpb::InternalResponse resp;
    Status st = Apply(req, &resp);
    cb(st, st.ok() ? &resp : nullptr);
  }
  lease::Lessor* lessor() override { return lessor_; }
  void FillHeader(etcdserverpb::ResponseHeader* h) override {
    h->set_cluster_id(11);
    h->set_member_id(22);
    h->set_raft_term(3);
    h->set_revision(store_->CurrentRev());
  }
  void WaitLinearizable(std::function<void(const Status&)> cb) override { cb(Status::OK()); }

  // What the applier does for a Put with a lease.
  Status Put(const std::string& k, int64_t lease) {
    std::lock_guard<std::mutex> lk(mu_);
    if (lease != 0 && !lessor_->Exists(lease)) return Status::NotFound(lease::kErrLeaseNotFound);
    auto b = store_->BeginBatch();
    if (!b.ok()) return b.status();
    auto t = (*b)->BeginTxn();
    if (!t.ok()) return t.status();
    auto p = (*t)->Put(k, "v", lease);
    if (!p.ok()) return p.status();
    lessor_->OnChanges((*t)->Changes());
    ETCDPP_RETURN_IF_ERROR((*t)->End());
    return (*b)->Commit();
  }

 private:
  Status Apply(const internalpb::InternalRequest& req, internalpb::InternalResponse* resp) {
    std::lock_guard<std::mutex> lk(mu_);
    auto b = store_->BeginBatch();
    if (!b.ok()) return b.status();
    Status st;
    if (req.has_lease_grant()) {
      st = lease::ApplyGrant(*lessor_, **b, req.lease_grant(), resp->mutable_lease_grant());
    } else if (req.has_lease_revoke()) {
      std::vector<mvccpb::Event> events;
      st = lease::ApplyRevoke(*lessor_, **b, req.lease_revoke(), resp->mutable_lease_revoke(),
                              &events);
    } else if (req.has_lease_checkpoint()) {
      st = lease::ApplyCheckpoint(*lessor_, **b, req.lease_checkpoint(),
                                  resp->mutable_lease_checkpoint());
    } else {
      st = Status::Unimplemented("fake backend");
    }
    if (!st.ok()) return st;
    ETCDPP_RETURN_IF_ERROR((*b)->Commit());
    const int64_t rev = store_->CurrentRev();
    if (req.has_lease_grant()) resp->mutable_lease_grant()->mutable_header()->set_revision(rev);
    if (req.has_lease_revoke()) resp->mutable_lease_revoke()->mutable_header()->set_revision(rev);
    return Status::OK();
  }

  std::mutex mu_;
  mvcc::Store* store_;
  lease::Lessor* lessor_;
};

class LeaseServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = mvcc::Store::Open(dir_.path() + "/db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    lease::Options o;
    o.now = [this] {
      std::lock_guard<std::mutex> lk(clock_mu_);
      return now_;
    };
    lessor_ = std::make_unique<lease::Lessor>(o);
    lessor_->Promote(0ms);
    backend_ = std::make_unique<FakeBackend>(store_.get(), lessor_.get());
    service_ = std::make_unique<LeaseService>(backend_.get());
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    auto ch = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                  grpc::InsecureChannelCredentials());
    stub_ = etcdserverpb::Lease::NewStub(ch);
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now() + 5s);
    server_.reset();
  }
  void Advance(std::chrono::seconds d) {
    std::lock_guard<std::mutex> lk(clock_mu_);
    now_ += d;
  }
  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + 30s);
    return c;
  }
  etcdserverpb::LeaseGrantResponse Grant(int64_t ttl, int64_t id, grpc::Status* st) {
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(ttl);
    req.set_id(id);
    etcdserverpb::LeaseGrantResponse resp;
    *st = stub_->LeaseGrant(Ctx().get(), req, &resp);
    return resp;
  }

  etcdpp::testing::TempDir dir_;
  std::unique_ptr<mvcc::Store> store_;
  std::mutex clock_mu_;
  lease::Clock::time_point now_ = lease::Clock::time_point() + 1000h;
  std::unique_ptr<lease::Lessor> lessor_;
  std::unique_ptr<FakeBackend> backend_;
  std::unique_ptr<LeaseService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<etcdserverpb::Lease::Stub> stub_;
};

TEST_F(LeaseServiceTest, GrantErrors) {
  grpc::Status st;
  auto r = Grant(1, 0, &st);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_GT(r.id(), 0);   // server-chosen
  EXPECT_EQ(r.ttl(), 2);  // minimum TTL
  EXPECT_EQ(r.header().cluster_id(), 11u);
  Grant(10, 42, &st);
  ASSERT_TRUE(st.ok());
  Grant(10, 42, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), "etcdserver: lease already exists");
  Grant(lease::kMaxLeaseTTL + 1, 43, &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(st.error_message(), "etcdserver: too large lease TTL");

  etcdserverpb::LeaseRevokeRequest rv;
  rv.set_id(999);
  etcdserverpb::LeaseRevokeResponse rvr;
  st = stub_->LeaseRevoke(Ctx().get(), rv, &rvr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(st.error_message(), "etcdserver: requested lease not found");
}

TEST_F(LeaseServiceTest, TimeToLiveWithKeysLeasesAndRevoke) {
  grpc::Status st;
  Grant(60, 7, &st);
  ASSERT_TRUE(st.ok());
  Grant(60, 8, &st);
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE(backend_->Put("k2", 7).ok());
  ASSERT_TRUE(backend_->Put("k1", 7).ok());
  EXPECT_EQ(backend_->Put("k3", 9).code(), Code::kNotFound);
  Advance(20s);

  etcdserverpb::LeaseTimeToLiveRequest tr;
  tr.set_id(7);
  tr.set_keys(true);
  etcdserverpb::LeaseTimeToLiveResponse ttl;
  st = stub_->LeaseTimeToLive(Ctx().get(), tr, &ttl);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(ttl.id(), 7);
  EXPECT_EQ(ttl.ttl(), 40);
  EXPECT_EQ(ttl.grantedttl(), 60);
  ASSERT_EQ(ttl.keys_size(), 2);
  EXPECT_EQ(ttl.keys(0), "k1");
  EXPECT_EQ(ttl.keys(1), "k2");

  tr.set_id(12345);
  ttl.Clear();
  st = stub_->LeaseTimeToLive(Ctx().get(), tr, &ttl);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(ttl.ttl(), -1);

  etcdserverpb::LeaseLeasesResponse ll;
  st = stub_->LeaseLeases(Ctx().get(), etcdserverpb::LeaseLeasesRequest(), &ll);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ(ll.leases_size(), 2);
  EXPECT_EQ(ll.leases(0).id(), 7);
  EXPECT_EQ(ll.leases(1).id(), 8);

  const int64_t before = store_->CurrentRev();
  etcdserverpb::LeaseRevokeRequest rv;
  rv.set_id(7);
  etcdserverpb::LeaseRevokeResponse rvr;
  st = stub_->LeaseRevoke(Ctx().get(), rv, &rvr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(rvr.header().revision(), before + 1);
  EXPECT_EQ(store_->CurrentRev(), before + 1);
}

TEST_F(LeaseServiceTest, KeepAliveStream) {
  grpc::Status st;
  Grant(10, 5, &st);
  ASSERT_TRUE(st.ok());
  auto ctx = Ctx();
  auto stream = stub_->LeaseKeepAlive(ctx.get());
  etcdserverpb::LeaseKeepAliveRequest req;
  etcdserverpb::LeaseKeepAliveResponse resp;

  Advance(8s);
  req.set_id(5);
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.id(), 5);
  EXPECT_EQ(resp.ttl(), 10);
  Advance(8s);  // would have expired without the renewal
  EXPECT_TRUE(lessor_->ExpiredLeases(10).empty());

  req.set_id(6);  // unknown: TTL 0, stream goes on
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.id(), 6);
  EXPECT_EQ(resp.ttl(), 0);

  ASSERT_TRUE(backend_->Put("ka/key", 5).ok());
  Advance(3s);  // expired now, revoke pending
  EXPECT_EQ(lessor_->ExpiredLeases(10), (std::vector<int64_t>{5}));
  req.set_id(5);
  ASSERT_TRUE(stream->Write(req));
  // etcd's lessor.Renew waits for the pending revoke: no answer before it.
  for (int i = 0; i < 3000 && lessor_->RenewWaiters() == 0; i++)
    std::this_thread::sleep_for(1ms);  // polling the server side, bounded
  ASSERT_EQ(lessor_->RenewWaiters(), 1u);
  etcdserverpb::LeaseRevokeRequest rreq;
  rreq.set_id(5);
  etcdserverpb::LeaseRevokeResponse rresp;
  ASSERT_TRUE(stub_->LeaseRevoke(Ctx().get(), rreq, &rresp).ok());
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.id(), 5);
  EXPECT_EQ(resp.ttl(), 0);  // then not found: TTL 0
  EXPECT_EQ(lessor_->RenewWaiters(), 0u);
  EXPECT_FALSE(lessor_->Exists(5));
  EXPECT_EQ(store_->CurrentRev(), rresp.header().revision());

  ASSERT_TRUE(stream->WritesDone());
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(LeaseServiceTest, ExpiredLeaseWaiterForwardedWhenLeadershipIsLost) {
  grpc::Status st;
  Grant(10, 5, &st);
  ASSERT_TRUE(st.ok());
  Advance(11s);
  EXPECT_EQ(lessor_->ExpiredLeases(10), (std::vector<int64_t>{5}));
  auto ctx = Ctx();
  auto stream = stub_->LeaseKeepAlive(ctx.get());
  etcdserverpb::LeaseKeepAliveRequest req;
  req.set_id(5);
  ASSERT_TRUE(stream->Write(req));
  for (int i = 0; i < 3000 && lessor_->RenewWaiters() == 0; i++)
    std::this_thread::sleep_for(1ms);  // polling the server side, bounded
  ASSERT_EQ(lessor_->RenewWaiters(), 1u);
  // etcd: Renew returns ErrNotPrimary on demotion and the server forwards
  // the renewal to the new leader (here: no forwarding -> not leader).
  lessor_->Demote();
  etcdserverpb::LeaseKeepAliveResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  st = stream->Finish();
  EXPECT_EQ(st.error_message(), "etcdserver: not leader");
}

TEST_F(LeaseServiceTest, FollowerWithoutForwardingSaysNotLeader) {
  grpc::Status st;
  Grant(10, 5, &st);
  ASSERT_TRUE(st.ok());
  lessor_->Demote();
  auto ctx = Ctx();
  auto stream = stub_->LeaseKeepAlive(ctx.get());
  etcdserverpb::LeaseKeepAliveRequest req;
  req.set_id(5);
  ASSERT_TRUE(stream->Write(req));
  etcdserverpb::LeaseKeepAliveResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  st = stream->Finish();
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(st.error_message(), "etcdserver: not leader");
}

}  // namespace
}  // namespace etcdpp::server
