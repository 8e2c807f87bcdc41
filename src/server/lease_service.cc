#include "server/lease_service.h"

#include <memory>
#include <utility>

#include "server/status_map.h"

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
// order and at most one write is outstanding (gRPC's rule).
class KeepAliveReactor final
    : public grpc::ServerBidiReactor<LeaseKeepAliveRequest, LeaseKeepAliveResponse> {
 public:
  explicit KeepAliveReactor(LeaseBackend* b) : b_(b) { StartRead(&req_); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // client half-closed or went away
      Finish(grpc::Status::OK);
      return;
    }
    const int64_t id = req_.id();
    Result<int64_t> r = b_->lessor()->Renew(id);
    if (!r.ok() && IsNotPrimary(r.status())) {
      // No read is outstanding until Answer, so the reactor stays alive
      // (OnDone needs our Finish) until the forward calls back.
      b_->ForwardRenew(id, [this, id](Result<int64_t> fr) { Answer(id, fr); });
      return;
    }
    Answer(id, r);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "keepalive stream write failed"));
      return;
    }
    StartRead(&req_);
  }

  void OnDone() override { delete this; }

 private:
  void Answer(int64_t id, const Result<int64_t>& r) {
    if (!r.ok() && !IsLeaseNotFound(r.status())) {
      Finish(ToGrpcStatus(r.status()));
      return;
    }
    resp_.Clear();
    b_->FillHeader(resp_.mutable_header());
    resp_.set_id(id);
    resp_.set_ttl(r.ok() ? *r : 0);  // etcd: unknown/expired lease -> TTL 0, no error
    StartWrite(&resp_);
  }

  LeaseBackend* b_;
  LeaseKeepAliveRequest req_;
  LeaseKeepAliveResponse resp_;
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
LeaseService::LeaseKeepAlive(grpc::CallbackServerContext* /*ctx*/) {
  return new KeepAliveReactor(b_);
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
