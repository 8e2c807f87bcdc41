// put, range, txn-put, mixed / txn-mixed, wait-ready: the unary KV workloads.
#include <cstdio>
#include <iostream>
#include <random>
#include <sstream>
#include <thread>

#include "range_stream.h"
#include "workloads.h"

namespace etcdpp::bench {

using etcdserverpb::PutRequest;
using etcdserverpb::PutResponse;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

// ---- shared helpers ----

std::string VarintKey(int64_t n, int key_size) {
  std::string key(static_cast<size_t>(key_size), '\0');
  uint64_t zz = (static_cast<uint64_t>(n) << 1) ^ static_cast<uint64_t>(n >> 63);
  for (size_t i = 0; i < key.size(); ++i) {
    uint8_t b = zz & 0x7f;
    zz >>= 7;
    key[i] = static_cast<char>(zz ? (b | 0x80) : b);
    if (!zz) break;
  }
  return key;
}

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string RandomBytes(size_t n) {
  std::mt19937_64 rng(std::random_device{}());
  std::string s(n, '\0');
  // Printable bytes, as etcd's benchmark sends (and easy to eyeball with etcdctl).
  for (auto& c : s)
    c = static_cast<char>('a' + rng() % 26);
  return s;
}

std::unique_ptr<Connections> OpenOrReport(const GlobalOptions& o) {
  std::string error;
  auto c = Connections::Open(o, &error);
  if (!c) std::fprintf(stderr, "etcdpp-bench: %s\n", error.c_str());
  return c;
}

int Emit(const GlobalOptions& o, const std::string& title, const Summary& s, uint64_t total,
         double cpu_s, const std::string& extra_json, const std::string& human_extra) {
  std::ostringstream extra;
  extra << "\"total\": " << total << ", \"client_cpu_s\": " << cpu_s;
  if (!extra_json.empty()) extra << ", " << extra_json;
  if (o.json) {
    std::cout << FormatJson(s, extra.str()) << std::endl;
  } else {
    std::cout << FormatHuman(title, s) << human_extra;
    std::printf("\nClient CPU: %.2f s user+sys (%.0f%% of one core over %.2f s)\n", cpu_s,
                s.elapsed_s > 0 ? 100.0 * cpu_s / s.elapsed_s : 0.0, s.elapsed_s);
    if (s.requests != total) {
      std::printf("WARNING: %llu of %llu requests completed\n",
                  static_cast<unsigned long long>(s.requests),
                  static_cast<unsigned long long>(total));
    }
    std::fflush(stdout);
  }
  return s.errors > 0 || s.requests != total ? 2 : 0;
}

namespace {

// One unary call in flight: context, request and response live until the callback.
template <class Req, class Resp>
struct Call {
  grpc::ClientContext ctx;
  Req req;
  Resp resp;
  Done done;
};

void IssuePut(Connections* c, int lane, std::string key, const std::string& value, Done done) {
  auto* call = new Call<PutRequest, PutResponse>;
  c->Prepare(&call->ctx);
  call->req.set_key(std::move(key));
  call->req.set_value(value);
  call->done = std::move(done);
  c->Kv(lane)->async()->Put(&call->ctx, &call->req, &call->resp, [call](grpc::Status s) {
    call->done(s);
    delete call;
  });
}

void IssueRange(Connections* c, int lane, const RangeRequest& req, Done done,
                std::atomic<int64_t>* kvs = nullptr) {
  auto* call = new Call<RangeRequest, RangeResponse>;
  c->Prepare(&call->ctx);
  call->req = req;
  call->done = std::move(done);
  c->Kv(lane)->async()->Range(&call->ctx, &call->req, &call->resp, [call, kvs](grpc::Status s) {
    if (kvs) kvs->fetch_add(call->resp.kvs_size());
    call->done(s);
    delete call;
  });
}

void IssueTxn(Connections* c, int lane, TxnRequest req, Done done) {
  auto* call = new Call<TxnRequest, TxnResponse>;
  c->Prepare(&call->ctx);
  call->req = std::move(req);
  call->done = std::move(done);
  c->Kv(lane)->async()->Txn(&call->ctx, &call->req, &call->resp, [call](grpc::Status s) {
    call->done(s);
    delete call;
  });
}

bool PositiveKeySpace(const FlagSet& f) {
  if (f.GetInt("key-space-size") <= 0) {
    std::fprintf(stderr, "expected positive --key-space-size, got (%lld)\n",
                 static_cast<long long>(f.GetInt("key-space-size")));
    return false;
  }
  return true;
}

}  // namespace

// ---- put ----

void DeclarePut(FlagSet& f) {
  f.Int("key-size", 8, "Key size of put request");
  f.Int("val-size", 8, "Value size of put request");
  f.Int("rate", 0, "Maximum puts per second (0 is no limit)");
  f.Int("total", 10000, "Total number of put requests");
  f.Int("key-space-size", 1, "Maximum possible keys");
  f.Bool("sequential-keys", false, "Use sequential keys");
}

int RunPut(const FlagSet& f, const GlobalOptions& o) {
  if (!PositiveKeySpace(f)) return 1;
  auto conns = OpenOrReport(o);
  if (!conns) return 1;
  const int key_size = static_cast<int>(f.GetInt("key-size"));
  const int64_t space = f.GetInt("key-space-size");
  const bool seq_keys = f.GetBool("sequential-keys");
  const uint64_t total = static_cast<uint64_t>(f.GetInt("total"));
  const std::string value = RandomBytes(static_cast<size_t>(f.GetInt("val-size")));
  const uint64_t seed = std::random_device{}();

  Recorder rec(o.clients, 1);
  double cpu0 = ProcessCpuSeconds();
  ClosedLoop loop(o.clients, total, static_cast<double>(f.GetInt("rate")), &rec,
                  [&](int lane, uint64_t seq, Done done) {
                    int64_t n = seq_keys ? static_cast<int64_t>(seq % space)
                                         : static_cast<int64_t>(Mix(seq ^ seed) % space);
                    IssuePut(conns.get(), lane, VarintKey(n, key_size), value, std::move(done));
                  });
  double elapsed = loop.Run();
  return Emit(o, "", rec.Summarize(0, elapsed), total, ProcessCpuSeconds() - cpu0);
}

// ---- range ----

void DeclareRange(FlagSet& f) {
  f.Int("rate", 0, "Maximum range requests per second (0 is no limit)");
  f.Int("total", 10000, "Total number of range requests");
  f.String("consistency", "l", "Linearizable(l) or Serializable(s)");
  f.Int("limit", 0, "Maximum number of results (0 is no limit)");
  f.Bool("count-only", false, "Only get the count");
  f.Bool("stream", false, "Use the KV/RangeStream RPC (the result arrives in chunks)");
}

int RunRange(const FlagSet& f, const GlobalOptions& o) {
  const auto& args = f.positionals();
  const std::string& consistency = f.GetString("consistency");
  if (args.empty() || args.size() > 2 || (consistency != "l" && consistency != "s")) {
    std::fprintf(stderr, "usage: etcdpp-bench range KEY [END] [--consistency l|s]\n");
    return 1;
  }
  RangeRequest req;
  req.set_key(args[0]);
  if (args.size() == 2) req.set_range_end(args[1]);
  req.set_serializable(consistency == "s");
  req.set_limit(f.GetInt("limit"));
  req.set_count_only(f.GetBool("count-only"));
  const bool stream = f.GetBool("stream");
  if (!o.json) {
    std::printf("bench with %s range%s\n", consistency == "l" ? "linearizable" : "serializable",
                stream ? " (RangeStream)" : "");
  }
  auto conns = OpenOrReport(o);
  if (!conns) return 1;
  const uint64_t total = static_cast<uint64_t>(f.GetInt("total"));
  std::atomic<int64_t> kvs{0};
  Recorder rec(o.clients, 1);
  double cpu0 = ProcessCpuSeconds();
  ClosedLoop loop(o.clients, total, static_cast<double>(f.GetInt("rate")), &rec,
                  [&](int lane, uint64_t, Done done) {
                    if (stream) {
                      StartRangeStream(conns.get(), lane, req, &kvs, std::move(done));
                    } else {
                      IssueRange(conns.get(), lane, req, std::move(done), &kvs);
                    }
                  });
  double elapsed = loop.Run();
  // Keys received over all requests: shows the range returned what was asked for.
  return Emit(o, "", rec.Summarize(0, elapsed), total, ProcessCpuSeconds() - cpu0,
              "\"kvs_received\": " + std::to_string(kvs.load()),
              "\nKeys received: " + std::to_string(kvs.load()) + "\n");
}

// ---- txn-put ----

void DeclareTxnPut(FlagSet& f) {
  f.Int("key-size", 8, "Key size of txn put");
  f.Int("val-size", 8, "Value size of txn put");
  f.Int("txn-ops", 1, "Number of puts per txn");
  f.Int("rate", 0, "Maximum txns per second (0 is no limit)");
  f.Int("total", 10000, "Total number of txn requests");
  f.Int("key-space-size", 1, "Maximum possible keys");
}

int RunTxnPut(const FlagSet& f, const GlobalOptions& o) {
  if (!PositiveKeySpace(f)) return 1;
  const int64_t ops = f.GetInt("txn-ops");
  const int64_t space = f.GetInt("key-space-size");
  if (ops <= 0) {
    std::fprintf(stderr, "expected positive --txn-ops, got (%lld)\n", static_cast<long long>(ops));
    return 1;
  }
  if (ops > space) {
    // Two puts of one key in one txn is an error in etcd ("duplicate key given in txn request").
    std::fprintf(stderr,
                 "expected --txn-ops no larger than --key-space-size, got txn-ops(%lld) "
                 "key-space-size(%lld)\n",
                 static_cast<long long>(ops), static_cast<long long>(space));
    return 1;
  }
  auto conns = OpenOrReport(o);
  if (!conns) return 1;
  const int key_size = static_cast<int>(f.GetInt("key-size"));
  const uint64_t total = static_cast<uint64_t>(f.GetInt("total"));
  const std::string value = RandomBytes(static_cast<size_t>(f.GetInt("val-size")));
  Recorder rec(o.clients, 1);
  double cpu0 = ProcessCpuSeconds();
  ClosedLoop loop(o.clients, total, static_cast<double>(f.GetInt("rate")), &rec,
                  [&](int lane, uint64_t seq, Done done) {
                    TxnRequest txn;
                    for (int64_t j = 0; j < ops; ++j) {
                      auto* put = txn.add_success()->mutable_request_put();
                      int64_t n = (static_cast<int64_t>(seq) * ops + j) % space;
                      put->set_key(VarintKey(n, key_size));
                      put->set_value(value);
                    }
                    IssueTxn(conns.get(), lane, std::move(txn), std::move(done));
                  });
  double elapsed = loop.Run();
  return Emit(o, "", rec.Summarize(0, elapsed), total, ProcessCpuSeconds() - cpu0);
}

// ---- mixed / txn-mixed ----

namespace {

void DeclareMixedFlags(FlagSet& f, bool txn) {
  f.Int("key-size", 8, "Key size of mixed requests");
  f.Int("val-size", 8, "Value size of mixed requests");
  f.Int("rate", 0, "Maximum requests per second (0 is no limit)");
  f.Int("total", 10000, "Total number of requests");
  f.String("end-key", "",
           "Read operation range end key. By default, we do full range query with the default "
           "limit of 1000.");
  f.Int("limit", 1000, "Read operation range result limit");
  f.Int("key-space-size", 1, "Maximum possible keys");
  f.String("consistency", "l", "Linearizable(l) or Serializable(s)");
  f.Double("rw-ratio", 1, "Read/write ops ratio");
  f.Bool("txn", txn, "wrap every read and write in a Txn (as etcd's txn-mixed does)");
}

int RunMixedImpl(const FlagSet& f, const GlobalOptions& o) {
  if (!PositiveKeySpace(f)) return 1;
  const std::string& consistency = f.GetString("consistency");
  if (consistency != "l" && consistency != "s") {
    std::fprintf(stderr, "--consistency must be l or s\n");
    return 1;
  }
  const double ratio = f.GetDouble("rw-ratio");
  if (ratio < 0) {
    std::fprintf(stderr, "--rw-ratio must not be negative\n");
    return 1;
  }
  auto conns = OpenOrReport(o);
  if (!conns) return 1;
  const bool txn = f.GetBool("txn");
  const int key_size = static_cast<int>(f.GetInt("key-size"));
  const int64_t space = f.GetInt("key-space-size");
  const uint64_t total = static_cast<uint64_t>(f.GetInt("total"));
  const std::string value = RandomBytes(static_cast<size_t>(f.GetInt("val-size")));
  const uint64_t seed = std::random_device{}();
  // A read is a range over every key (from "\0") or up to --end-key, with --limit.
  RangeRequest read;
  read.set_key(std::string(1, '\0'));
  read.set_range_end(f.GetString("end-key").empty() ? std::string(1, '\0')
                                                    : f.GetString("end-key"));
  read.set_limit(f.GetInt("limit"));
  read.set_serializable(consistency == "s");
  const double read_share = ratio / (1 + ratio);
  auto series_of = [seed, read_share](uint64_t seq) {
    double u = static_cast<double>(Mix(seq ^ seed) >> 11) / static_cast<double>(1ULL << 53);
    return u < read_share ? 0 : 1;  // 0 = read, 1 = write
  };
  if (!o.json) {
    std::printf("bench with %s range\n", consistency == "l" ? "linearizable" : "serializable");
  }

  Recorder rec(o.clients, 2);
  double cpu0 = ProcessCpuSeconds();
  ClosedLoop loop(
      o.clients, total, static_cast<double>(f.GetInt("rate")), &rec,
      [&](int lane, uint64_t seq, Done done) {
        bool is_read = series_of(seq) == 0;
        std::string key = is_read ? "" : VarintKey(static_cast<int64_t>(seq) % space, key_size);
        if (!txn) {
          if (is_read) {
            IssueRange(conns.get(), lane, read, std::move(done));
          } else {
            IssuePut(conns.get(), lane, std::move(key), value, std::move(done));
          }
          return;
        }
        TxnRequest t;
        if (is_read) {
          *t.add_success()->mutable_request_range() = read;
        } else {
          auto* put = t.add_success()->mutable_request_put();
          put->set_key(std::move(key));
          put->set_value(value);
        }
        IssueTxn(conns.get(), lane, std::move(t), std::move(done));
      },
      series_of);
  double elapsed = loop.Run();
  double cpu = ProcessCpuSeconds() - cpu0;
  Summary all = rec.Summarize(-1, elapsed);
  Summary reads = rec.Summarize(0, elapsed);
  Summary writes = rec.Summarize(1, elapsed);
  std::string extra =
      "\"read\": " + FormatJson(reads, "") + ", \"write\": " + FormatJson(writes, "");
  std::string human = "\nTotal Read Ops: " + std::to_string(reads.requests) +
                      "\nDetails:" + FormatHuman("", reads) +
                      "\nTotal Write Ops: " + std::to_string(writes.requests) +
                      "\nDetails:" + FormatHuman("", writes);
  return Emit(o, "All requests:", all, total, cpu, extra, human);
}

}  // namespace

void DeclareMixed(FlagSet& f) {
  DeclareMixedFlags(f, false);
}
int RunMixed(const FlagSet& f, const GlobalOptions& o) {
  return RunMixedImpl(f, o);
}
void DeclareTxnMixed(FlagSet& f) {
  DeclareMixedFlags(f, true);
}
int RunTxnMixed(const FlagSet& f, const GlobalOptions& o) {
  return RunMixedImpl(f, o);
}

// ---- wait-ready ----

void DeclareWaitReady(FlagSet& f) {
  f.Double("timeout", 600, "give up after this many seconds");
  f.String("key", "health", "the key of the linearizable Range used as the probe");
}

int RunWaitReady(const FlagSet& f, const GlobalOptions& o) {
  // Polls a linearizable Range (what etcd's /health does after the alarm and leader checks)
  // on the first endpoint until it succeeds; prints how long that took.
  auto start = Clock::now();
  const double timeout_s = f.GetDouble("timeout");
  std::string target = o.endpoints[0];
  if (target.rfind("http://", 0) == 0) target = target.substr(7);
  grpc::ChannelArguments args;
  // Reconnect fast while the server is still starting (the default backoff grows to minutes).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  auto kv = etcdserverpb::KV::NewStub(channel);
  std::string last;
  while (static_cast<double>(NanosSince(start)) / 1e9 < timeout_s) {
    grpc::ClientContext ctx;
    ctx.set_wait_for_ready(true);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    RangeRequest req;
    req.set_key(f.GetString("key"));
    RangeResponse resp;
    auto st = kv->Range(&ctx, req, &resp);
    if (st.ok()) {
      double ms = static_cast<double>(NanosSince(start)) / 1e6;
      if (o.json) {
        std::printf("{\"ready_ms\": %.1f}\n", ms);
      } else {
        std::printf("ready after %.1f ms\n", ms);
      }
      return 0;
    }
    last = StatusText(st);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
  }
  std::fprintf(stderr, "etcdpp-bench: not ready after %.0fs: %s\n", timeout_s, last.c_str());
  return 1;
}

}  // namespace etcdpp::bench
