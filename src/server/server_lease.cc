#include "server/server_lease.h"

#include <grpcpp/grpcpp.h>

#include <cstdlib>

#include "common/log.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "lease/proposals.h"
#include "server/server.h"

namespace etcdpp::server {
namespace {

constexpr auto kExpiryTick = std::chrono::milliseconds(500);
constexpr auto kForwardTimeout = std::chrono::seconds(5);
constexpr const char* kCheckpointIntervalEnv = "ETCDPP_TEST_LEASE_CHECKPOINT_INTERVAL_MS";

Status FromGrpc(const grpc::Status& s) {
  return Status(static_cast<Code>(s.error_code()), s.error_message());
}

}  // namespace

ServerLeases::ServerLeases(EtcdServer* s, lease::Lessor* lessor)
    : s_(s),
      lessor_(lessor),
      monitor_(std::make_unique<watch::LeaderMonitor>(
          [s] { return s->Leader() != 0; },
          std::chrono::milliseconds(s->config().election_timeout_ms))) {
  // Test hook (e2e lease checkpoint test): etcd's checkpoint interval is 5
  // minutes and has no flag; its own tests set it through the Go config.
  if (const char* v = std::getenv(kCheckpointIntervalEnv); v != nullptr && *v != '\0') {
    const long ms = std::strtol(v, nullptr, 10);
    if (ms > 0) {
      lessor_->SetCheckpointInterval(std::chrono::milliseconds(ms));
      LOG_WARN("lease checkpoint interval set by the environment (test hook)",
               {"variable", kCheckpointIntervalEnv}, {"interval-ms", static_cast<int64_t>(ms)});
    }
  }
}

ServerLeases::~ServerLeases() {
  Stop();
}

void ServerLeases::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ServerLeases::Stop() {
  std::unique_lock<std::mutex> lock(mu_);
  stopping_ = true;
  cv_.notify_all();
  // Forwarded calls end within kForwardTimeout (their gRPC deadline).
  cv_.wait(lock, [&] { return forwards_ == 0; });
  lock.unlock();
  if (thread_.joinable()) thread_.join();
  // monitor_ lives until the destructor: keepalive streams unregister from
  // it until the listeners are gone.
}

void ServerLeases::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    auto next = std::min(lease::Clock::now() + kExpiryTick, lessor_->NextDeadline());
    cv_.wait_until(lock, next, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    // Only the leader expires leases (Lessor::IsPrimary); revokes and
    // checkpoints go through raft like any write. A lost revoke is handed
    // out again by the lessor after its retry interval.
    if (lessor_->IsPrimary()) {
      for (auto& req : lease::DueProposals(*lessor_)) {
        s_->Propose(std::move(req), [](const Status&, internalpb::InternalResponse*) {});
      }
    }
    lock.lock();
  }
}

void ServerLeases::Propose(internalpb::InternalRequest req, ProposeCallback cb,
                           std::chrono::system_clock::time_point deadline) {
  s_->Propose(std::move(req), std::move(cb), deadline);
}

void ServerLeases::FillHeader(etcdserverpb::ResponseHeader* h) {
  s_->FillHeader(h);
  h->set_revision(s_->store()->CurrentRev());
}

void ServerLeases::WaitLinearizable(std::function<void(const Status&)> cb) {
  s_->WaitLinearizable(std::move(cb));
}

std::optional<std::string> ServerLeases::LeaderTarget() const {
  for (const auto& m : s_->Members()) {
    if (m.id != s_->Leader() || m.client_urls.empty()) continue;
    std::string t = m.client_urls.front();
    if (auto p = t.find("://"); p != std::string::npos) t = t.substr(p + 3);
    return t;
  }
  return std::nullopt;
}

void ServerLeases::ForwardRenew(int64_t id, std::function<void(Result<int64_t>)> cb) {
  auto target = LeaderTarget();
  if (!target) {
    cb(Status::Unavailable("etcdserver: no leader"));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      cb(Status::Unavailable("etcdserver: server stopped"));
      return;
    }
    forwards_++;
  }
  // One keepalive round trip on the leader's client port (etcd forwards
  // over the peer port's /leases endpoint): a short-lived stream.
  std::thread([this, id, target = *target, cb = std::move(cb)] {
    auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    auto stub = etcdserverpb::Lease::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kForwardTimeout);
    auto stream = stub->LeaseKeepAlive(&ctx);
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(id);
    etcdserverpb::LeaseKeepAliveResponse resp;
    bool ok = stream->Write(req) && stream->Read(&resp);
    stream->WritesDone();
    grpc::Status st = stream->Finish();
    if (ok) {
      if (resp.ttl() <= 0) {
        cb(Status::NotFound(lease::kErrLeaseNotFound));
      } else {
        cb(resp.ttl());
      }
    } else {
      cb(st.ok() ? Status::Unavailable("etcdserver: leader changed") : FromGrpc(st));
    }
    std::lock_guard<std::mutex> lock(mu_);
    forwards_--;
    cv_.notify_all();
  }).detach();
}

void ServerLeases::ForwardTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& req,
                                     std::function<void(Result<lease::LeaseInfo>)> cb) {
  auto target = LeaderTarget();
  if (!target) {
    cb(Status::Unavailable("etcdserver: no leader"));
    return;
  }
  struct Call {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::Lease::Stub> stub;
    grpc::ClientContext ctx;
    etcdserverpb::LeaseTimeToLiveRequest req;
    etcdserverpb::LeaseTimeToLiveResponse resp;
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      cb(Status::Unavailable("etcdserver: server stopped"));
      return;
    }
    forwards_++;
  }
  auto call = std::make_shared<Call>();
  call->channel = grpc::CreateChannel(*target, grpc::InsecureChannelCredentials());
  call->stub = etcdserverpb::Lease::NewStub(call->channel);
  call->ctx.set_deadline(std::chrono::system_clock::now() + kForwardTimeout);
  call->req = req;
  call->stub->async()->LeaseTimeToLive(&call->ctx, &call->req, &call->resp,
                                       [this, call, cb = std::move(cb)](grpc::Status st) {
                                         if (!st.ok()) {
                                           cb(FromGrpc(st));
                                         } else if (call->resp.ttl() < 0) {
                                           cb(Status::NotFound(lease::kErrLeaseNotFound));
                                         } else {
                                           lease::LeaseInfo info;
                                           info.id = call->resp.id();
                                           info.ttl = call->resp.grantedttl();
                                           info.remaining = call->resp.ttl();
                                           for (const auto& k : call->resp.keys())
                                             info.keys.push_back(k);
                                           cb(info);
                                         }
                                         std::lock_guard<std::mutex> lock(mu_);
                                         forwards_--;
                                         cv_.notify_all();
                                       });
}

}  // namespace etcdpp::server
