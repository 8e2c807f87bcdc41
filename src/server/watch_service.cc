#include "server/watch_service.h"

#include <mutex>

namespace etcdpp::server {

namespace {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

// One stream. Lifetime: deleted in OnDone, after hub->CloseStream guarantees
// the hub's on_ready callback (which touches this) never runs again.
class WatchReactor final : public grpc::ServerBidiReactor<WatchRequest, WatchResponse> {
 public:
  WatchReactor(watch::WatchHub* hub,
               const std::function<void(etcdserverpb::ResponseHeader*)>* fill_header)
      : hub_(hub), fill_header_(fill_header) {
    sid_ = hub_->OpenStream([this] { MaybeWrite(); });
    StartRead(&req_);
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
    delete this;
  }

 private:
  static grpc::Status CanceledStatus() {
    return grpc::Status(grpc::StatusCode::CANCELLED, "etcdserver: watch canceled");
  }

  // Starts the next Write if none is in flight (responses wait in the hub's
  // bounded per-stream queue meanwhile). gRPC calls are made outside mu_ so
  // a reaction run inline could never deadlock on it or outlive it.
  void MaybeWrite() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (writing_ || finishing_) return;
      if (!hub_->Next(sid_, &out_)) return;
      const int64_t rev = out_.header().revision();
      if (*fill_header_) (*fill_header_)(out_.mutable_header());
      out_.mutable_header()->set_revision(rev);
      writing_ = true;  // out_ is gRPC's until OnWriteDone
    }
    StartWrite(&out_);
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
  const std::function<void(etcdserverpb::ResponseHeader*)>* fill_header_;
  watch::WatchHub::StreamId sid_ = 0;
  WatchRequest req_;  // only touched by the read chain

  std::mutex mu_;
  WatchResponse out_;
  bool writing_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  grpc::Status finish_status_;
};

}  // namespace

grpc::ServerBidiReactor<WatchRequest, WatchResponse>* WatchService::Watch(
    grpc::CallbackServerContext* ctx) {
  return new WatchReactor(hub_, &fill_header_);
}

}  // namespace etcdpp::server
