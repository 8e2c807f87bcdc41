// lease-keepalive: each client grants a lease (TTL 100 s, not timed), then sends keepalives
// on its own LeaseKeepAlive stream, one at a time: a request and its response are one sample.
// (etcd's benchmark opens a stream per keepalive through clientv3's KeepAliveOnce; a long-lived
// stream is what real clients keep, and both servers are measured with the same tool.)
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include "workloads.h"

namespace etcdpp::bench {

namespace {

using etcdserverpb::LeaseKeepAliveRequest;
using etcdserverpb::LeaseKeepAliveResponse;

class KeepAliveStream
    : public grpc::ClientBidiReactor<LeaseKeepAliveRequest, LeaseKeepAliveResponse> {
 public:
  KeepAliveStream(Connections* c, int lane, int64_t lease, OpenStreams* count) : count_(count) {
    count_->Add();
    c->PrepareStream(&ctx_);
    request_.set_id(lease);
    c->Lease(lane)->async()->LeaseKeepAlive(&ctx_, this);
    AddHold();  // until Close(): the stream stays open between keepalives
    StartCall();
  }

  // One keepalive; `done` runs when its response arrived (or the stream failed).
  void Ping(Done done) {
    {
      std::lock_guard lock(mu_);
      if (ended_) {
        auto st = final_;
        done(st.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keepalive stream ended") : st);
        return;
      }
      done_ = std::move(done);
      halves_ = 2;  // the write and the read must both finish before the next ping
      error_.clear();
    }
    StartWrite(&request_);
    StartRead(&response_);
  }

  void Close() {
    StartWritesDone();
    RemoveHold();
  }
  void Cancel() { ctx_.TryCancel(); }

  void OnWriteDone(bool ok) override {
    if (!ok)
      Half("keepalive write failed (stream broken)");
    else
      Half("");
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Half("keepalive stream closed by the server");
    } else if (response_.ttl() <= 0) {
      Half("keepalive: TTL <= 0 (lease not found)");
    } else {
      Half("");
    }
  }
  void OnDone(const grpc::Status& status) override {
    Done pending;
    {
      std::lock_guard lock(mu_);
      ended_ = true;
      final_ = status;
      if (halves_ > 0) pending = std::move(done_);
      halves_ = 0;
    }
    if (pending) {
      pending(status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended") : status);
    }
    count_->Remove();
  }

 private:
  void Half(const std::string& error) {
    Done done;
    std::string err;
    {
      std::lock_guard lock(mu_);
      if (!error.empty() && error_.empty()) error_ = error;
      if (halves_ == 0 || --halves_ > 0) return;
      done = std::move(done_);
      err = error_;
    }
    done(err.empty() ? grpc::Status::OK : grpc::Status(grpc::StatusCode::UNKNOWN, err));
  }

  grpc::ClientContext ctx_;
  LeaseKeepAliveRequest request_;
  LeaseKeepAliveResponse response_;
  OpenStreams* count_;
  std::mutex mu_;
  Done done_;
  int halves_ = 0;
  std::string error_;
  bool ended_ = false;
  grpc::Status final_;
};

}  // namespace

void DeclareLeaseKeepalive(FlagSet& f) {
  f.Int("total", 10000, "Total number of lease keepalive requests");
  f.Int("rate", 0, "Maximum keepalives per second (0 is no limit)");
  f.Int("ttl", 100, "TTL in seconds of the leases granted (one per client)");
}

int RunLeaseKeepalive(const FlagSet& f, const GlobalOptions& o) {
  auto conns = OpenOrReport(o);
  if (!conns) return 1;
  const uint64_t total = static_cast<uint64_t>(f.GetInt("total"));

  // Grant one lease per client, concurrently; not part of the measurement.
  std::vector<int64_t> leases(static_cast<size_t>(o.clients), 0);
  Recorder grant_rec(o.clients, 1);
  ClosedLoop grants(o.clients, static_cast<uint64_t>(o.clients), 0, &grant_rec,
                    [&](int lane, uint64_t seq, Done done) {
                      struct G {
                        grpc::ClientContext ctx;
                        etcdserverpb::LeaseGrantRequest req;
                        etcdserverpb::LeaseGrantResponse resp;
                      };
                      auto* g = new G;
                      conns->Prepare(&g->ctx);
                      g->req.set_ttl(f.GetInt("ttl"));
                      conns->Lease(lane)->async()->LeaseGrant(
                          &g->ctx, &g->req, &g->resp,
                          [g, seq, &leases, done = std::move(done)](grpc::Status s) {
                            leases[seq] = g->resp.id();
                            done(s);
                            delete g;
                          });
                    });
  grants.Run();
  if (grant_rec.ErrorCount(0) > 0) {
    Summary s = grant_rec.Summarize(0, 0);
    std::fprintf(stderr, "etcdpp-bench: lease grant failed: %s\n",
                 s.error_dist.front().first.c_str());
    return 1;
  }

  OpenStreams count;
  std::vector<KeepAliveStream*> streams;
  for (int lane = 0; lane < o.clients; ++lane) {
    streams.push_back(new KeepAliveStream(conns.get(), lane, leases[lane], &count));
  }
  Recorder rec(o.clients, 1);
  double cpu0 = ProcessCpuSeconds();
  ClosedLoop loop(o.clients, total, static_cast<double>(f.GetInt("rate")), &rec,
                  [&](int lane, uint64_t, Done done) { streams[lane]->Ping(std::move(done)); });
  double elapsed = loop.Run();
  double cpu = ProcessCpuSeconds() - cpu0;
  for (auto* s : streams)
    s->Close();
  if (!count.WaitZero(std::chrono::seconds(10))) {
    // The server did not end the streams after our half-close: cancel them.
    for (auto* s : streams)
      s->Cancel();
    count.WaitZero(std::chrono::seconds(3600));
  }
  for (auto* s : streams)
    delete s;
  return Emit(o, "", rec.Summarize(0, elapsed), total, cpu);
}

}  // namespace etcdpp::bench
