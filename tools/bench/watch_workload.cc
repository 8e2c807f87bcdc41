// watch: --streams watch streams with --watch-per-stream watchers each on --watched-key-total
// keys (etcd's benchmark flags), then --put-total puts to those keys at --put-rate. Reports
// the watch creation latency (create request sent -> "created" response) and the event
// delivery latency (put sent -> event received: each put's value carries its send time).
#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>

#include "workloads.h"

namespace etcdpp::bench {

namespace {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;

constexpr int kSeriesCreate = 0;
constexpr int kSeriesEvent = 1;

std::string EncodeTime(Clock::time_point t) {
  int64_t ns = t.time_since_epoch().count();
  std::string v(sizeof ns, '\0');
  std::memcpy(v.data(), &ns, sizeof ns);
  return v;
}

bool DecodeTime(const std::string& v, Clock::time_point* t) {
  int64_t ns = 0;
  if (v.size() != sizeof ns) return false;
  std::memcpy(&ns, v.data(), sizeof ns);
  *t = Clock::time_point(Clock::duration(ns));
  return true;
}

struct Shared {
  Recorder* rec;
  OpenStreams streams;
  std::atomic<uint64_t> created{0};
  std::atomic<uint64_t> events{0};
  std::atomic<bool> cancelling{false};
  std::mutex mu;
  std::condition_variable cv;
  Clock::time_point last_event;
  void Notify() {
    std::lock_guard lock(mu);
    last_event = Clock::now();
    cv.notify_all();
  }
};

class WatchStream : public grpc::ClientBidiReactor<WatchRequest, WatchResponse> {
 public:
  WatchStream(Connections* c, int index, std::vector<std::string> keys, Shared* shared)
      : index_(index), keys_(std::move(keys)), shared_(shared) {
    shared_->streams.Add();
    c->PrepareStream(&ctx_);
    c->Watch(index)->async()->Watch(&ctx_, this);
    StartRead(&response_);
    WriteNext();
    StartCall();
  }

  void Cancel() { ctx_.TryCancel(); }

  void OnWriteDone(bool ok) override {
    if (ok) WriteNext();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    auto now = Clock::now();
    if (response_.created()) {
      Clock::time_point sent;
      {
        std::lock_guard lock(mu_);
        sent = sent_.empty() ? now : sent_.front();
        if (!sent_.empty()) sent_.pop_front();
      }
      shared_->rec->Ok(index_, kSeriesCreate, (now - sent).count());
      shared_->created.fetch_add(1);
      shared_->Notify();
    }
    if (response_.canceled()) {
      shared_->rec->Error(kSeriesEvent,
                          "watch canceled by the server: " + response_.cancel_reason());
    }
    if (response_.compact_revision() != 0) {
      shared_->rec->Error(kSeriesEvent, "watch compacted");
    }
    for (const auto& ev : response_.events()) {
      Clock::time_point sent;
      if (DecodeTime(ev.kv().value(), &sent)) {
        shared_->rec->Ok(index_, kSeriesEvent, (now - sent).count());
      } else {
        shared_->rec->Error(kSeriesEvent, "event with a value this tool did not put");
      }
    }
    if (response_.events_size() > 0) {
      shared_->events.fetch_add(static_cast<uint64_t>(response_.events_size()));
      shared_->Notify();
    }
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    if (!status.ok() && !shared_->cancelling.load()) {
      shared_->rec->Error(kSeriesEvent, "watch stream ended: " + StatusText(status));
    }
    // Remove before Notify: a waiter woken by Notify must already see the stream gone.
    shared_->streams.Remove();
    shared_->Notify();
  }

 private:
  // Sends the next create request; one write in flight at a time (a reactor rule).
  void WriteNext() {
    if (next_ == keys_.size()) return;
    request_.mutable_create_request()->set_key(keys_[next_++]);
    {
      std::lock_guard lock(mu_);
      sent_.push_back(Clock::now());
    }
    StartWrite(&request_);
  }

  grpc::ClientContext ctx_;
  int index_;
  std::vector<std::string> keys_;
  size_t next_ = 0;
  Shared* shared_;
  WatchRequest request_;
  WatchResponse response_;
  std::mutex mu_;
  std::deque<Clock::time_point> sent_;  // create requests awaiting their "created"
};

}  // namespace

void DeclareWatch(FlagSet& f) {
  f.Int("streams", 10, "Total watch streams");
  f.Int("watch-per-stream", 100, "Total watchers per stream");
  f.Int("watched-key-total", 1, "Total number of keys to be watched");
  f.Int("put-rate", 0, "Number of keys to put per second");
  f.Int("put-total", 1000, "Number of put requests");
  f.Int("key-size", 32, "Key size of watch request");
  f.Int("key-space-size", 1, "Maximum possible keys");
  f.Bool("sequential-keys", false, "Use sequential keys");
  f.Double("timeout", 60, "seconds to wait for outstanding events (or creations) to arrive");
}

int RunWatch(const FlagSet& f, const GlobalOptions& o) {
  const int64_t space = f.GetInt("key-space-size");
  const int64_t streams_n = f.GetInt("streams");
  const int64_t per_stream = f.GetInt("watch-per-stream");
  const int64_t key_total = f.GetInt("watched-key-total");
  if (space <= 0 || streams_n <= 0 || per_stream <= 0 || key_total <= 0) {
    std::fprintf(stderr,
                 "--key-space-size, --streams, --watch-per-stream and --watched-key-total must "
                 "be positive\n");
    return 1;
  }
  auto conns = OpenOrReport(o);
  if (!conns) return 1;
  const auto timeout =
      std::chrono::microseconds(static_cast<int64_t>(f.GetDouble("timeout") * 1e6));
  const int key_size = static_cast<int>(f.GetInt("key-size"));
  std::mt19937_64 rng(std::random_device{}());
  std::vector<std::string> watched;
  for (int64_t i = 0; i < key_total; ++i) {
    int64_t n = f.GetBool("sequential-keys") ? i % space : static_cast<int64_t>(rng() % space);
    watched.push_back(VarintKey(n, key_size));
  }
  std::map<std::string, uint64_t> watchers_of;
  std::vector<std::vector<std::string>> per_stream_keys(static_cast<size_t>(streams_n));
  for (int64_t i = 0; i < streams_n * per_stream; ++i) {
    const std::string& k = watched[i % watched.size()];
    per_stream_keys[i % streams_n].push_back(k);
    ++watchers_of[k];
  }
  const uint64_t want_created = static_cast<uint64_t>(streams_n * per_stream);
  const uint64_t put_total = static_cast<uint64_t>(f.GetInt("put-total"));
  uint64_t want_events = 0;
  for (uint64_t i = 0; i < put_total; ++i)
    want_events += watchers_of[watched[i % watched.size()]];

  Recorder rec(static_cast<int>(streams_n), 2);
  Shared shared;
  shared.rec = &rec;
  double cpu0 = ProcessCpuSeconds();

  // Phase 1: create every watcher and wait for its "created" response.
  auto t0 = Clock::now();
  std::vector<WatchStream*> streams;
  for (int64_t s = 0; s < streams_n; ++s) {
    streams.push_back(
        new WatchStream(conns.get(), static_cast<int>(s), std::move(per_stream_keys[s]), &shared));
  }
  auto wait_for = [&](const std::atomic<uint64_t>& counter, uint64_t want) {
    std::unique_lock lock(shared.mu);
    shared.last_event = Clock::now();
    while (counter.load() < want && shared.streams.AnyOpen()) {
      if (shared.cv.wait_until(lock, shared.last_event + timeout) == std::cv_status::timeout &&
          Clock::now() - shared.last_event >= timeout) {
        return false;
      }
    }
    return counter.load() >= want;
  };
  bool all_created = wait_for(shared.created, want_created);
  double create_elapsed = static_cast<double>(NanosSince(t0)) / 1e9;

  // Phase 2: the puts; each event's latency is measured from its put's send time.
  Recorder put_rec(o.clients, 1);
  double put_elapsed = 0;
  auto t1 = Clock::now();
  if (all_created) {
    ClosedLoop puts(o.clients, put_total, static_cast<double>(f.GetInt("put-rate")), &put_rec,
                    [&](int lane, uint64_t seq, Done done) {
                      struct P {
                        grpc::ClientContext ctx;
                        etcdserverpb::PutRequest req;
                        etcdserverpb::PutResponse resp;
                        Done done;
                      };
                      auto* p = new P;
                      conns->Prepare(&p->ctx);
                      p->req.set_key(watched[seq % watched.size()]);
                      p->req.set_value(EncodeTime(Clock::now()));
                      p->done = std::move(done);
                      conns->Kv(lane)->async()->Put(&p->ctx, &p->req, &p->resp,
                                                    [p](grpc::Status st) {
                                                      p->done(st);
                                                      delete p;
                                                    });
                    });
    put_elapsed = puts.Run();
    wait_for(shared.events, want_events);
  }
  double event_elapsed = static_cast<double>(NanosSince(t1)) / 1e9;
  double cpu = ProcessCpuSeconds() - cpu0;

  shared.cancelling = true;
  for (auto* s : streams)
    s->Cancel();
  shared.streams.WaitZero(std::chrono::seconds(3600));
  for (auto* s : streams)
    delete s;

  uint64_t created = shared.created.load();
  if (created < want_created) {
    rec.Error(kSeriesCreate, "watch not created (no \"created\" response)", want_created - created);
  }
  uint64_t got = shared.events.load();
  if (all_created && got < want_events) {
    rec.Error(kSeriesEvent, "event not delivered within --timeout", want_events - got);
  } else if (got > want_events) {
    rec.Error(kSeriesEvent, "more events than puts times watchers", got - want_events);
  }
  if (!all_created) rec.Error(kSeriesEvent, "not run: watch creation failed", want_events);

  Summary creates = rec.Summarize(kSeriesCreate, create_elapsed);
  Summary events = rec.Summarize(kSeriesEvent, event_elapsed);
  Summary puts = put_rec.Summarize(0, put_elapsed);
  std::string extra = "\"watchers\": " + std::to_string(want_created) +
                      ", \"create\": " + FormatJson(creates, "") +
                      ", \"put\": " + FormatJson(puts, "");
  std::string human;
  if (!o.json) {
    std::printf(
        "Watch creation summary:%s\nPut summary:%s\nWatch events received summary "
        "(latency = put sent -> event received):",
        FormatHuman("", creates).c_str(), FormatHuman("", puts).c_str());
  }
  int rc = Emit(o, "", events, want_events, cpu, extra, human);
  return creates.errors > 0 || puts.errors > 0 ? 2 : rc;
}

}  // namespace etcdpp::bench
