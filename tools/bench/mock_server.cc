// mock-server: a trivial in-process gRPC server that answers KV, Lease and Maintenance calls
// from a map in memory (no Raft, no disk). Running the benchmark against it shows what the
// tool itself can drive on this machine: when a real server's figure is far below it, the
// tool is not the bottleneck. See docs/benchmarks.md.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <shared_mutex>

#include "range_stream.h"
#include "workloads.h"

namespace etcdpp::bench {

namespace {

using namespace etcdserverpb;

struct Store {
  std::shared_mutex mu;
  std::map<std::string, mvccpb::KeyValue> kvs;
  int64_t revision = 1;
  std::atomic<int64_t> lease_id{1};
};

void FillHeader(ResponseHeader* h, int64_t rev) {
  h->set_cluster_id(1);
  h->set_member_id(1);
  h->set_revision(rev);
  h->set_raft_term(1);
}

int64_t PutLocked(Store& s, const PutRequest& req) {
  int64_t rev = ++s.revision;
  auto& kv = s.kvs[req.key()];
  if (kv.create_revision() == 0) kv.set_create_revision(rev);
  kv.set_key(req.key());
  kv.set_value(req.value());
  kv.set_mod_revision(rev);
  kv.set_version(kv.version() + 1);
  kv.set_lease(req.lease());
  return rev;
}

void RangeLocked(Store& s, const RangeRequest& req, RangeResponse* resp) {
  FillHeader(resp->mutable_header(), s.revision);
  auto add = [&](const mvccpb::KeyValue& kv) {
    if (req.limit() > 0 && resp->kvs_size() >= req.limit()) {
      resp->set_more(true);
      return;
    }
    if (!req.count_only()) *resp->add_kvs() = kv;
    resp->set_count(resp->count() + 1);
  };
  if (req.range_end().empty()) {
    auto it = s.kvs.find(req.key());
    if (it != s.kvs.end()) add(it->second);
    return;
  }
  bool to_end = req.range_end() == std::string(1, '\0');
  for (auto it = s.kvs.lower_bound(req.key());
       it != s.kvs.end() && (to_end || it->first < req.range_end()); ++it) {
    add(it->second);
  }
}

// RangeStream is left to the generic service below (the tool decodes it by hand).
class KvService : public KV::WithGenericMethod_RangeStream<KV::CallbackService> {
 public:
  explicit KvService(Store* s) : s_(s) {}
  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* ctx, const RangeRequest* req,
                                  RangeResponse* resp) override {
    {
      std::shared_lock lock(s_->mu);
      RangeLocked(*s_, *req, resp);
    }
    return Finish(ctx);
  }
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx, const PutRequest* req,
                                PutResponse* resp) override {
    std::unique_lock lock(s_->mu);
    FillHeader(resp->mutable_header(), PutLocked(*s_, *req));
    return Finish(ctx);
  }
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext* ctx, const TxnRequest* req,
                                TxnResponse* resp) override {
    // No compares are evaluated: the benchmark's txns have none.
    std::unique_lock lock(s_->mu);
    int64_t rev = s_->revision;
    for (const auto& op : req->success()) {
      if (op.has_request_put()) {
        rev = PutLocked(*s_, op.request_put());
        resp->add_responses()->mutable_response_put();
      } else if (op.has_request_range()) {
        RangeLocked(*s_, op.request_range(), resp->add_responses()->mutable_response_range());
      }
    }
    resp->set_succeeded(true);
    FillHeader(resp->mutable_header(), rev);
    return Finish(ctx);
  }

 private:
  static grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* ctx) {
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  Store* s_;
};

class KeepAliveEcho
    : public grpc::ServerBidiReactor<LeaseKeepAliveRequest, LeaseKeepAliveResponse> {
 public:
  KeepAliveEcho() { StartRead(&req_); }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    resp_.set_id(req_.id());
    resp_.set_ttl(100);
    FillHeader(resp_.mutable_header(), 1);
    StartWrite(&resp_);
  }
  void OnWriteDone(bool ok) override {
    if (ok) {
      StartRead(&req_);
    } else {
      Finish(grpc::Status::OK);
    }
  }
  void OnDone() override { delete this; }

 private:
  LeaseKeepAliveRequest req_;
  LeaseKeepAliveResponse resp_;
};

class LeaseService : public Lease::CallbackService {
 public:
  explicit LeaseService(Store* s) : s_(s) {}
  grpc::ServerUnaryReactor* LeaseGrant(grpc::CallbackServerContext* ctx,
                                       const LeaseGrantRequest* req,
                                       LeaseGrantResponse* resp) override {
    resp->set_id(s_->lease_id.fetch_add(1));
    resp->set_ttl(req->ttl());
    FillHeader(resp->mutable_header(), 1);
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
  grpc::ServerBidiReactor<LeaseKeepAliveRequest, LeaseKeepAliveResponse>* LeaseKeepAlive(
      grpc::CallbackServerContext*) override {
    return new KeepAliveEcho;
  }

 private:
  Store* s_;
};

class MaintenanceService : public Maintenance::CallbackService {
 public:
  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx, const StatusRequest*,
                                   StatusResponse* resp) override {
    FillHeader(resp->mutable_header(), 1);
    resp->set_leader(1);
    resp->set_version("mock");
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

// KV/RangeStream through the generic service (the tool must not need it in proto/): the
// range result in chunks of at most 100 keys, each a RangeStreamResponse{range_response = 1}.
class RangeStreamReactor : public grpc::ServerGenericBidiReactor {
 public:
  explicit RangeStreamReactor(Store* s) : s_(s) { StartRead(&request_); }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
      return;
    }
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (request_.Dump(&slices).ok()) {
      for (const auto& sl : slices)
        bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    }
    RangeRequest req;
    if (!req.ParseFromString(bytes)) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad RangeRequest"));
      return;
    }
    RangeResponse all;
    {
      std::shared_lock lock(s_->mu);
      RangeLocked(*s_, req, &all);
    }
    constexpr int kChunk = 100;
    for (int i = 0; i == 0 || i < all.kvs_size(); i += kChunk) {
      RangeResponse chunk;
      *chunk.mutable_header() = all.header();
      for (int k = i; k < all.kvs_size() && k < i + kChunk; ++k)
        *chunk.add_kvs() = all.kvs(k);
      if (i + kChunk >= all.kvs_size()) {
        chunk.set_count(all.count());
        chunk.set_more(all.more());
      }
      std::string body = chunk.SerializeAsString();
      std::string msg(1, '\x0a');  // field 1, length-delimited
      for (uint64_t n = body.size();; n >>= 7) {
        msg += static_cast<char>(n >= 0x80 ? (n & 0x7f) | 0x80 : n);
        if (n < 0x80) break;
      }
      msg += body;
      grpc::Slice slice(msg);
      chunks_.emplace_back(&slice, 1);
    }
    WriteNext();
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    WriteNext();
  }
  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    if (next_ == chunks_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    StartWrite(&chunks_[next_++]);
  }
  Store* s_;
  grpc::ByteBuffer request_;
  std::vector<grpc::ByteBuffer> chunks_;
  size_t next_ = 0;
};

class GenericService : public grpc::CallbackGenericService {
 public:
  explicit GenericService(Store* s) : s_(s) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    if (ctx->method() == kRangeStreamMethod) return new RangeStreamReactor(s_);
    return grpc::CallbackGenericService::CreateReactor(ctx);  // Unimplemented
  }

 private:
  Store* s_;
};

}  // namespace

void DeclareMockServer(FlagSet& f) {
  f.String("listen", "127.0.0.1:0", "host:port to serve on (port 0 picks a free port)");
}

int RunMockServer(const FlagSet& f, const GlobalOptions&) {
  // Block the stop signals before gRPC starts its threads; this thread waits for them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  Store store;
  KvService kv(&store);
  LeaseService lease(&store);
  MaintenanceService maintenance;
  GenericService generic(&store);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(f.GetString("listen"), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&kv);
  builder.RegisterService(&lease);
  builder.RegisterService(&maintenance);
  builder.RegisterCallbackGenericService(&generic);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "mock-server: cannot listen on %s\n", f.GetString("listen").c_str());
    return 1;
  }
  std::string host = f.GetString("listen").substr(0, f.GetString("listen").rfind(':'));
  std::printf("mock-server listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  // Open streams (keepalive, watch) would hold a plain Shutdown() forever: cancel them.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

}  // namespace etcdpp::bench
