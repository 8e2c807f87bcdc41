// lease-keepalive: each client grants a lease (TTL 100 s, not timed), then sends keepalives
// on its own LeaseKeepAlive stream, one at a time: a request and its response are one sample.
// (etcd's benchmark opens a stream per keepalive through clientv3's KeepAliveOnce; a long-lived
// stream is what real clients keep, and both servers are measured with the same tool.)
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

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
    grpc::Status ended;
    {
      std::lock_guard lock(mu_);
      if (ended_) {
        ended = final_.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keepalive stream ended")
                            : final_;
      } else {
        done_ = std::move(done);
        halves_ = 2;  // the write and the read must both finish before the next ping
        error_.clear();
        ping_start_ = Clock::now();
      }
    }
    if (!ended.ok()) {
      // Outside mu_: `done` goes on to this lane's next Ping, on this same stream.
      done(ended);
      return;
    }
    StartWrite(&request_);
    StartRead(&response_);
  }

  void Close() {
    StartWritesDone();
    RemoveHold();
  }
  void Cancel() { ctx_.TryCancel(); }

  // Fails the ping in flight if it has waited longer than `timeout` (the stream is unusable
  // afterwards: a server that stopped answering). Called by the workload's watchdog.
  void ExpireIfOlder(std::chrono::nanoseconds timeout) {
    Done done;
    {
      std::lock_guard lock(mu_);
      if (halves_ == 0 || Clock::now() - ping_start_ < timeout) return;
      halves_ = 0;
      ended_ = true;
      final_ = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "keepalive: no response within --request-timeout");
      done = std::move(done_);
    }
    ctx_.TryCancel();
    done(final_);
  }

  void OnWriteDone(bool ok) override {
    Half(ok ? "" : "keepalive write failed (stream broken)", !ok);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Half("keepalive stream closed by the server", true);
    } else if (response_.ttl() <= 0) {
      Half("keepalive: TTL <= 0 (lease not found)", false);
    } else {
      Half("", false);
    }
  }
  void OnDone(const grpc::Status& status) override {
    Done pending;
    {
      std::lock_guard lock(mu_);
      if (!ended_ || !status.ok()) final_ = status;
      ended_ = true;
      if (halves_ > 0) pending = std::move(done_);
      halves_ = 0;
    }
    if (pending) {
      pending(status.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended") : status);
    }
    count_->Remove();
  }

 private:
  // One half (the write or the read) of the current ping finished. A broken stream is never
  // used again: operations started after it failed may never complete, so later pings fail
  // at once with the stream's error.
  void Half(const std::string& error, bool broken) {
    Done done;
    std::string err;
    {
      std::lock_guard lock(mu_);
      if (!error.empty() && error_.empty()) error_ = error;
      if (broken && !ended_) {
        ended_ = true;
        final_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, error);
      }
      if (halves_ == 0) return;
      // On a broken stream the other half may never complete: finish the ping now.
      halves_ = broken ? 0 : halves_ - 1;
      if (halves_ > 0) return;
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
  Clock::time_point ping_start_;
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
  // Streams have no gRPC deadline; a watchdog gives each keepalive --request-timeout.
  std::atomic<bool> running{true};
  std::thread watchdog([&] {
    auto timeout = std::chrono::nanoseconds(static_cast<int64_t>(o.request_timeout_s * 1e9));
    while (running.load() && o.request_timeout_s > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a poll period, not sync
      for (auto* s : streams)
        s->ExpireIfOlder(timeout);
    }
  });
  double elapsed = loop.Run();
  running = false;
  watchdog.join();
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
