#include "server/lease_service.h"

#include <memory>
#include <mutex>
#include <utility>

#include "server/status_map.h"
#include "server/watch_service.h"

namespace etcdpp::server {
namespace {

using etcdserverpb::LeaseKeepAliveRequest;
using etcdserverpb::LeaseKeepAliveResponse;

bool IsLeaseNotFound(const Status& st) {
  return st.Is(Code::kNotFound) && st.message() == lease::kErrLeaseNotFound;
}

bool IsNotPrimary(const Status& st) {
  return st.Is(Code::kUnavailable) && st.message() == lease::kErrNotPrimary;
}

// Header of an applied write: the applier's revision (the write's) is kept;
// FillHeader supplies the rest.
void FillAppliedHeader(LeaseBackend* b, etcdserverpb::ResponseHeader* h) {
  const int64_t rev = h->revision();
  b->FillHeader(h);
  if (rev != 0) h->set_revision(rev);
}

// One keepalive stream. Strictly one request at a time: read, renew (maybe
// forwarded, asynchronously), write, read again, so answers keep request
// order and at most one write is outstanding (gRPC's rule). Lifetime: owned
// by self_ until OnDone, and by a pending forward or the leader monitor while
// they call back; Finish happens exactly once and never during a write.
class KeepAliveReactor final
    : public grpc::ServerBidiReactor<LeaseKeepAliveRequest, LeaseKeepAliveResponse>,
      public watch::LeaderMonitor::Stream,
      public std::enable_shared_from_this<KeepAliveReactor> {
 public:
  explicit KeepAliveReactor(LeaseBackend* b) : b_(b) {}

  static KeepAliveReactor* Start(LeaseBackend* b, watch::LeaderMonitor* monitor) {
    auto r = std::make_shared<KeepAliveReactor>(b);
    r->self_ = r;
    if (monitor != nullptr) {
      r->monitor_ = monitor;
      r->token_ = monitor->Register(r);
    }
    r->StartRead(&r->req_);
    return r.get();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // client half-closed or went away
      RequestFinish(grpc::Status::OK);
      return;
    }
    const int64_t id = req_.id();
    // No read is outstanding until Answer; the callbacks keep us alive.
    b_->lessor()->RenewOrWait(id, [self = shared_from_this(), id](Result<int64_t> r, bool waited) {
      if (!r.ok() && IsNotPrimary(r.status())) {
        // Not the leader (or no longer): etcd forwards the renewal.
        self->b_->ForwardRenew(id, [self, id](Result<int64_t> fr) { self->Answer(id, fr); });
        return;
      }
      if (waited) {
        // The lease had expired; its revoke was just applied in the
        // applier's open batch. Answer once it is committed and visible
        // (etcd answers after the revoke's txn ended).
        self->b_->WaitLinearizable([self, id, r](const Status&) { self->Answer(id, r); });
        return;
      }
      self->Answer(id, r);
    });
  }

  void OnCancel() override {
    RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "context canceled"));
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      writing_ = false;
    }
    if (!ok) {
      RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "keepalive stream write failed"));
      return;
    }
    if (!FinishIfRequested()) StartRead(&req_);
  }

  // etcd: LeaseKeepAlive returns ErrGRPCNoLeader when the monitor cancels
  // the stream's context.
  void CancelNoLeader() override { RequestFinish(NoLeaderStatus()); }

  void OnDone() override {
    if (monitor_ != nullptr) monitor_->Unregister(token_);
    auto keep = std::move(self_);  // may delete this: nothing after it
  }

 private:
  void Answer(int64_t id, const Result<int64_t>& r) {
    if (!r.ok() && !IsLeaseNotFound(r.status())) {
      RequestFinish(ToGrpcStatus(r.status()));
      return;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      if (finishing_) return;  // cancelled meanwhile
      resp_.Clear();
      b_->FillHeader(resp_.mutable_header());
      resp_.set_id(id);
      resp_.set_ttl(r.ok() ? *r : 0);  // etcd: unknown/expired lease -> TTL 0, no error
      writing_ = true;
    }
    StartWrite(&resp_);
  }

  // The first status wins. Finish runs at once, or after the write in flight.
  void RequestFinish(grpc::Status st) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (finishing_) return;
      finishing_ = true;
      status_ = std::move(st);
    }
    FinishIfRequested();
  }
  bool FinishIfRequested() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!finishing_) return false;
      if (writing_ || finished_) return true;
      finished_ = true;
    }
    Finish(status_);
    return true;
  }

  LeaseBackend* b_;
  std::shared_ptr<KeepAliveReactor> self_;
  watch::LeaderMonitor* monitor_ = nullptr;
  uint64_t token_ = 0;
  LeaseKeepAliveRequest req_;  // only touched by the read chain

  std::mutex mu_;
  LeaseKeepAliveResponse resp_;
  bool writing_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  grpc::Status status_;
};

}  // namespace

void LeaseBackend::ForwardRenew(int64_t /*id*/, std::function<void(Result<int64_t>)> cb) {
  cb(Status::FailedPrecondition(kErrNotLeader));
}

void LeaseBackend::ForwardTimeToLive(const etcdserverpb::LeaseTimeToLiveRequest& /*req*/,
                                     std::function<void(Result<lease::LeaseInfo>)> cb) {
  cb(Status::FailedPrecondition(kErrNotLeader));
}

grpc::ServerUnaryReactor* LeaseService::LeaseGrant(grpc::CallbackServerContext* ctx,
                                                   const etcdserverpb::LeaseGrantRequest* req,
                                                   etcdserverpb::LeaseGrantResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  // Checked before proposing (the applier checks again): saves a raft round.
  if (req->ttl() > lease::kMaxLeaseTTL) {
    reactor->Finish(ToGrpcStatus(Status::OutOfRange(lease::kErrLeaseTTLTooLarge)));
    return reactor;
  }
  internalpb::InternalRequest ir;
  *ir.mutable_lease_grant() = *req;
  // ID 0: the proposer picks (etcd); every member then applies the same id.
  if (req->id() == 0) ir.mutable_lease_grant()->set_id(b_->lessor()->NextId());
  b_->Propose(
      std::move(ir),
      [b = b_, reactor, resp](const Status& st, internalpb::InternalResponse* r) {
        if (st.ok() && r != nullptr) {
          resp->Swap(r->mutable_lease_grant());
          FillAppliedHeader(b, resp->mutable_header());
        }
        reactor->Finish(ToGrpcStatus(st));
      },
      ctx->deadline());
  return reactor;
}

grpc::ServerUnaryReactor* LeaseService::LeaseRevoke(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::LeaseRevokeRequest* req,
                                                    etcdserverpb::LeaseRevokeResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  internalpb::InternalRequest ir;
  *ir.mutable_lease_revoke() = *req;
  b_->Propose(
      std::move(ir),
      [b = b_, reactor, resp](const Status& st, internalpb::InternalResponse* r) {
        if (st.ok() && r != nullptr) {
          resp->Swap(r->mutable_lease_revoke());
          FillAppliedHeader(b, resp->mutable_header());
        }
        reactor->Finish(ToGrpcStatus(st));
      },
      ctx->deadline());
  return reactor;
}

grpc::ServerBidiReactor<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>*
LeaseService::LeaseKeepAlive(grpc::CallbackServerContext* ctx) {
  watch::LeaderMonitor* monitor = b_->leader_monitor();
  if (monitor != nullptr && RequiresLeader(ctx)) {
    // etcd's stream interceptor: refused at once without a leader.
    if (!monitor->HasLeader()) {
      return new RefusedStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>(NoLeaderStatus());
    }
  } else {
    monitor = nullptr;
  }
  return KeepAliveReactor::Start(b_, monitor);
}

grpc::ServerUnaryReactor* LeaseService::LeaseTimeToLive(
    grpc::CallbackServerContext* ctx, const etcdserverpb::LeaseTimeToLiveRequest* req,
    etcdserverpb::LeaseTimeToLiveResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  auto answer = [b = b_, reactor, req, resp](const Result<lease::LeaseInfo>& r) {
    if (!r.ok() && !IsLeaseNotFound(r.status())) {
      reactor->Finish(ToGrpcStatus(r.status()));
      return;
    }
    resp->set_id(req->id());
    if (!r.ok()) {
      resp->set_ttl(-1);  // etcd: unknown lease is TTL -1, not an error
    } else {
      resp->set_ttl(r->remaining);
      resp->set_grantedttl(r->ttl);
      if (req->keys()) {
        for (const auto& k : r->keys)
          resp->add_keys(k);
      }
    }
    b->FillHeader(resp->mutable_header());
    reactor->Finish(grpc::Status::OK);
  };
  // Only the leader knows how long a lease has left (etcd forwards).
  if (!b_->lessor()->IsPrimary()) {
    b_->ForwardTimeToLive(*req, answer);
    return reactor;
  }
  b_->WaitLinearizable([b = b_, reactor, req, answer](const Status& st) {
    if (!st.ok()) {
      reactor->Finish(ToGrpcStatus(st));
      return;
    }
    answer(b->lessor()->TimeToLive(req->id(), req->keys()));
  });
  return reactor;
}

grpc::ServerUnaryReactor* LeaseService::LeaseLeases(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::LeaseLeasesRequest* /*req*/,
                                                    etcdserverpb::LeaseLeasesResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  for (int64_t id : b_->lessor()->Leases())
    resp->add_leases()->set_id(id);
  b_->FillHeader(resp->mutable_header());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace etcdpp::server
