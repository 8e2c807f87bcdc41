#include "server/watch_service.h"

#include <mutex>
#include <utility>

namespace etcdpp::server {

bool RequiresLeader(const grpc::CallbackServerContext* ctx) {
  // clientv3 rpctypes: MetadataRequireLeaderKey "hasleader", value "true".
  const auto& md = ctx->client_metadata();
  auto it = md.find("hasleader");
  return it != md.end() && it->second == "true";
}

grpc::Status NoLeaderStatus() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(watch::kErrNoLeader));
}

namespace {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

// One stream. Lifetime: owned by self_ until OnDone, and meanwhile by the
// leader monitor while it calls CancelNoLeader; OnDone first closes the hub
// stream (the hub's on_ready callback, which touches this, never runs again).
class WatchReactor final : public grpc::ServerBidiReactor<WatchRequest, WatchResponse>,
                           public watch::LeaderMonitor::Stream {
 public:
  WatchReactor(watch::WatchHub* hub, const WatchService::FillHeader* fill_header)
      : hub_(hub), fill_header_(fill_header) {}

  // Separate from the constructor: the hub callback must not run before
  // self_ is set.
  static WatchReactor* Start(watch::WatchHub* hub, const WatchService::FillHeader* fill_header,
                             watch::LeaderMonitor* monitor) {
    auto r = std::make_shared<WatchReactor>(hub, fill_header);
    r->self_ = r;
    if (monitor != nullptr) {
      r->monitor_ = monitor;
      r->token_ = monitor->Register(r);
    }
    r->sid_ = hub->OpenStream([p = r.get()] { p->MaybeWrite(); });
    r->StartRead(&r->req_);
    return r.get();
  }

  // etcd: the stream's context is cancelled and Watch returns
  // ErrGRPCNoLeader ("the only server-side cancellation is noleader").
  void CancelNoLeader() override {
    bool finish = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      RequestFinishLocked(NoLeaderStatus());
      finish = TakeFinishLocked();
    }
    if (finish) Finish(finish_status_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // Half-close or cancel. etcd keeps a half-closed watch stream open (the
      // gateway relies on it); it ends when the client cancels (OnCancel).
      return;
    }
    switch (req_.request_union_case()) {
      case WatchRequest::kCreateRequest:
        hub_->Create(sid_, req_.create_request());
        break;
      case WatchRequest::kCancelRequest:
        hub_->Cancel(sid_, req_.cancel_request().watch_id());
        break;
      case WatchRequest::kProgressRequest:
        hub_->RequestProgress(sid_);
        break;
      default:
        break;  // etcd ignores an empty request
    }
    MaybeWrite();
    StartRead(&req_);
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      writing_ = false;
      if (!ok) RequestFinishLocked(CanceledStatus());
      finish = TakeFinishLocked();
      if (!finish && finishing_) return;
    }
    if (finish) {
      Finish(finish_status_);
      return;
    }
    MaybeWrite();
  }

  void OnCancel() override {
    bool finish = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      RequestFinishLocked(CanceledStatus());
      finish = TakeFinishLocked();
    }
    if (finish) Finish(finish_status_);
  }

  void OnDone() override {
    hub_->CloseStream(sid_);
    if (monitor_ != nullptr) monitor_->Unregister(token_);
    auto keep = std::move(self_);  // may delete this: nothing after it
  }

 private:
  static grpc::Status CanceledStatus() {
    return grpc::Status(grpc::StatusCode::CANCELLED, "etcdserver: watch canceled");
  }

  // Starts the next Write if none is in flight (responses wait in the hub's
  // bounded per-stream queue meanwhile). gRPC calls are made outside mu_ so
  // a reaction run inline could never deadlock on it or outlive it.
  //
  // Each response stays its own gRPC message (etcd's framing); when more are
  // queued behind it, the write carries gRPC's buffer hint so the transport
  // sends several messages per syscall instead of one. Such a write
  // completes as soon as it is buffered (below the transport's write buffer
  // size), and the last queued response is written without the hint, which
  // flushes everything. Never on the first write: it carries the initial
  // metadata, and a hinted first message can stall (grpc issues 12975, 34231).
  void MaybeWrite() {
    bool more = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (writing_ || finishing_) return;
      if (!hub_->Next(sid_, &out_, &more)) return;
      const int64_t rev = out_.header().revision();
      if (*fill_header_) (*fill_header_)(out_.mutable_header());
      out_.mutable_header()->set_revision(rev);
      writing_ = true;  // out_ is gRPC's until OnWriteDone
      more = more && wrote_once_;
      wrote_once_ = true;
    }
    StartWrite(&out_, more ? grpc::WriteOptions().set_buffer_hint() : grpc::WriteOptions());
  }

  // The first reason wins; the status is fixed from then on.
  void RequestFinishLocked(grpc::Status st) {
    if (finishing_) return;
    finishing_ = true;
    finish_status_ = std::move(st);
  }
  // Finish exactly once, and never while a Write is in flight.
  bool TakeFinishLocked() {
    if (!finishing_ || writing_ || finished_) return false;
    finished_ = true;
    return true;
  }

  watch::WatchHub* hub_;
  const WatchService::FillHeader* fill_header_;
  std::shared_ptr<WatchReactor> self_;
  watch::LeaderMonitor* monitor_ = nullptr;
  uint64_t token_ = 0;
  watch::WatchHub::StreamId sid_ = 0;
  WatchRequest req_;  // only touched by the read chain

  std::mutex mu_;
  WatchResponse out_;
  bool writing_ = false;
  bool wrote_once_ = false;  // the initial metadata went out with a write
  bool finishing_ = false;
  bool finished_ = false;
  grpc::Status finish_status_;
};

}  // namespace

WatchService::WatchService(watch::WatchHub* hub, FillHeader fill_header,
                           std::function<bool()> has_leader,
                           std::chrono::milliseconds election_timeout)
    : hub_(hub), fill_header_(std::move(fill_header)) {
  if (has_leader) {
    monitor_ = std::make_unique<watch::LeaderMonitor>(std::move(has_leader), election_timeout);
  }
}

grpc::ServerBidiReactor<WatchRequest, WatchResponse>* WatchService::Watch(
    grpc::CallbackServerContext* ctx) {
  watch::LeaderMonitor* monitor = nullptr;
  if (monitor_ != nullptr && RequiresLeader(ctx)) {
    // etcd's stream interceptor: refused at once without a leader.
    if (!monitor_->HasLeader())
      return new RefusedStream<WatchRequest, WatchResponse>(NoLeaderStatus());
    monitor = monitor_.get();
  }
  return WatchReactor::Start(hub_, &fill_header_, monitor);
}

}  // namespace etcdpp::server
