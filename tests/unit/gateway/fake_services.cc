#include "fake_services.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

namespace etcdpp::gateway::testing {

namespace {

using etcdserverpb::WatchRequest;
using etcdserverpb::WatchResponse;
using grpc::ServerContext;

constexpr auto kWait = std::chrono::seconds(30);  // generous: a busy 2-core machine

// The fake servers poll their context: the tests wait on outcomes, not on time.
void WaitUntilCancelled(ServerContext* ctx) {
  while (!ctx->IsCancelled())
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void FillHeader(etcdserverpb::ResponseHeader* h) {
  h->set_cluster_id(0x8000000000000001ULL);  // > 2^63: must come out as a decimal string
  h->set_member_id(2);
  h->set_revision(5);
  h->set_raft_term(3);
}

class FakeKV final : public etcdserverpb::KV::Service {
 public:
  explicit FakeKV(std::shared_ptr<Seen> seen) : seen_(std::move(seen)) {}

  grpc::Status Range(ServerContext* ctx, const etcdserverpb::RangeRequest* req,
                     etcdserverpb::RangeResponse* resp) override {
    seen_->AddRequest(*req);
    seen_->SetMetadata(*ctx);
    const std::string& key = req->key();
    if (key.rfind("err:", 0) == 0) {
      size_t colon = key.find(':', 4);
      int code = std::atoi(key.substr(4, colon - 4).c_str());
      return grpc::Status(static_cast<grpc::StatusCode>(code), key.substr(colon + 1));
    }
    if (key == "big") {  // larger than gRPC's default 4 MiB receive limit
      resp->add_kvs()->set_value(std::string(5 << 20, 'x'));
      return grpc::Status::OK;
    }
    if (key == "slow") {
      WaitUntilCancelled(ctx);
      seen_->Cancelled();
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    FillHeader(resp->mutable_header());
    auto* kv = resp->add_kvs();
    kv->set_key(key);
    kv->set_value(std::string("\xff\x00v", 3));
    kv->set_create_revision(4);
    kv->set_mod_revision(5);
    kv->set_version(1);
    resp->set_count(1);
    return grpc::Status::OK;
  }

  grpc::Status Put(ServerContext*, const etcdserverpb::PutRequest* req,
                   etcdserverpb::PutResponse* resp) override {
    seen_->AddRequest(*req);
    FillHeader(resp->mutable_header());
    return grpc::Status::OK;
  }

  grpc::Status Txn(ServerContext*, const etcdserverpb::TxnRequest* req,
                   etcdserverpb::TxnResponse* resp) override {
    seen_->AddRequest(*req);
    FillHeader(resp->mutable_header());
    resp->set_succeeded(false);  // false: must be absent from the JSON
    resp->add_responses()->mutable_response_range()->mutable_header();
    return grpc::Status::OK;
  }

 private:
  std::shared_ptr<Seen> seen_;
};

class FakeWatch final : public etcdserverpb::Watch::Service {
 public:
  explicit FakeWatch(std::shared_ptr<Seen> seen) : seen_(std::move(seen)) {}

  grpc::Status Watch(ServerContext* ctx,
                     grpc::ServerReaderWriter<WatchResponse, WatchRequest>* stream) override {
    WatchRequest req;
    int64_t next_id = 0;
    while (stream->Read(&req)) {
      seen_->AddRequest(req);
      if (!req.has_create_request()) continue;
      const std::string& key = req.create_request().key();
      if (key == "fail-early")
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "etcdserver: no leader");
      WatchResponse created;
      created.mutable_header()->set_revision(1);
      created.set_watch_id(next_id++);
      created.set_created(true);
      stream->Write(created);
      if (key == "fail")
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            "etcdserver: \"quoted\" <failure>");
      if (key == "ev") {
        WatchResponse ev;
        FillHeader(ev.mutable_header());
        ev.set_watch_id(created.watch_id());
        auto* put = ev.add_events();
        put->mutable_kv()->set_key("ev");
        put->mutable_kv()->set_value("v");
        put->mutable_kv()->set_mod_revision(5);
        auto* del = ev.add_events();
        del->set_type(mvccpb::Event::DELETE);
        del->mutable_kv()->set_key("ev");
        stream->Write(ev);
      }
    }
    // etcd keeps a watch stream open after the client's half-close.
    WaitUntilCancelled(ctx);
    seen_->Cancelled();
    return grpc::Status::OK;
  }

 private:
  std::shared_ptr<Seen> seen_;
};

class FakeLease final : public etcdserverpb::Lease::Service {
 public:
  explicit FakeLease(std::shared_ptr<Seen> seen) : seen_(std::move(seen)) {}

  grpc::Status LeaseGrant(ServerContext*, const etcdserverpb::LeaseGrantRequest* req,
                          etcdserverpb::LeaseGrantResponse* resp) override {
    seen_->AddRequest(*req);
    FillHeader(resp->mutable_header());
    resp->set_id(7587883341489504017);
    resp->set_ttl(req->ttl());
    return grpc::Status::OK;
  }

  grpc::Status LeaseRevoke(ServerContext*, const etcdserverpb::LeaseRevokeRequest* req,
                           etcdserverpb::LeaseRevokeResponse*) override {
    seen_->AddRequest(*req);
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "etcdserver: requested lease not found");
  }

  grpc::Status LeaseKeepAlive(
      ServerContext*,
      grpc::ServerReaderWriter<etcdserverpb::LeaseKeepAliveResponse,
                               etcdserverpb::LeaseKeepAliveRequest>* stream) override {
    etcdserverpb::LeaseKeepAliveRequest req;
    while (stream->Read(&req)) {
      seen_->AddRequest(req);
      etcdserverpb::LeaseKeepAliveResponse resp;
      FillHeader(resp.mutable_header());
      resp.set_id(req.id());
      if (req.id() != 0) resp.set_ttl(10);
      stream->Write(resp);
    }
    return grpc::Status::OK;  // the half-close ends a keepalive stream
  }

 private:
  std::shared_ptr<Seen> seen_;
};

class FakeCluster final : public etcdserverpb::Cluster::Service {
 public:
  grpc::Status MemberList(ServerContext*, const etcdserverpb::MemberListRequest*,
                          etcdserverpb::MemberListResponse* resp) override {
    FillHeader(resp->mutable_header());
    auto* m = resp->add_members();
    m->set_id(10276657743932975437ULL);
    m->set_name("m1");
    m->add_peerurls("http://127.0.0.1:2380");
    m->add_clienturls("http://127.0.0.1:2379");
    auto* l = resp->add_members();
    l->set_id(1);
    l->set_islearner(true);
    return grpc::Status::OK;
  }
};

class FakeMaintenance final : public etcdserverpb::Maintenance::Service {
 public:
  grpc::Status Defragment(ServerContext*, const etcdserverpb::DefragmentRequest*,
                          etcdserverpb::DefragmentResponse*) override {
    return grpc::Status::OK;  // no header at all: the JSON is {}
  }

  grpc::Status Hash(ServerContext*, const etcdserverpb::HashRequest*,
                    etcdserverpb::HashResponse* resp) override {
    resp->set_hash(4000000000u);  // uint32: a JSON number
    return grpc::Status::OK;
  }

  grpc::Status Snapshot(ServerContext*, const etcdserverpb::SnapshotRequest*,
                        grpc::ServerWriter<etcdserverpb::SnapshotResponse>* writer) override {
    const char* blobs[] = {"abc", "d", ""};
    uint64_t remaining = 2;
    for (const char* b : blobs) {
      etcdserverpb::SnapshotResponse r;
      r.set_remaining_bytes(remaining);
      r.set_blob(b);
      if (remaining > 0) remaining--;
      writer->Write(r);
    }
    return grpc::Status::OK;
  }
};

}  // namespace

void Seen::AddRequest(const google::protobuf::Message& m) {
  std::lock_guard<std::mutex> l(mu);
  requests.push_back(m.ShortDebugString());
  cv.notify_all();
}

bool Seen::WaitRequest(const std::string& text) {
  std::unique_lock<std::mutex> l(mu);
  return cv.wait_for(l, kWait, [&] {
    return std::find(requests.begin(), requests.end(), text) != requests.end();
  });
}

void Seen::SetMetadata(const grpc::ServerContext& ctx) {
  std::lock_guard<std::mutex> l(mu);
  metadata.clear();
  for (const auto& [k, v] : ctx.client_metadata())
    metadata.push_back(std::string(k.data(), k.size()) + "=" + std::string(v.data(), v.size()));
}

void Seen::Cancelled() {
  std::lock_guard<std::mutex> l(mu);
  streams_cancelled++;
  cv.notify_all();
}

bool Seen::WaitCancelled(int n) {
  std::unique_lock<std::mutex> l(mu);
  return cv.wait_for(l, kWait, [&] { return streams_cancelled >= n; });
}

std::vector<std::string> Seen::Requests() {
  std::lock_guard<std::mutex> l(mu);
  return requests;
}

FakeServer::FakeServer() : seen_(std::make_shared<Seen>()) {
  services_.push_back(std::make_unique<FakeKV>(seen_));
  services_.push_back(std::make_unique<FakeWatch>(seen_));
  services_.push_back(std::make_unique<FakeLease>(seen_));
  services_.push_back(std::make_unique<FakeCluster>());
  services_.push_back(std::make_unique<FakeMaintenance>());
  grpc::ServerBuilder b;  // no ports: reached through InProcessChannel only
  for (auto& s : services_)
    b.RegisterService(s.get());
  server_ = b.BuildAndStart();
}

FakeServer::~FakeServer() {
  server_->Shutdown(std::chrono::system_clock::now());
}

std::shared_ptr<grpc::Channel> FakeServer::Channel(bool default_limits) {
  grpc::ChannelArguments args;
  if (!default_limits) args.SetMaxReceiveMessageSize(-1);  // as gateway.h asks
  return server_->InProcessChannel(args);
}

void FakeWriter::Send(int s, http::Headers h, std::string b) {
  sends++;
  status = s;
  headers = std::move(h);
  body = std::move(b);
}

bool FakeWriter::StartStream(int s, http::Headers h) {
  streamed = true;
  status = s;
  headers = std::move(h);
  return !gone.load();
}

bool FakeWriter::WriteChunk(std::string_view data) {
  std::lock_guard<std::mutex> l(mu_);
  if (gone.load() || chunks_.size() >= fail_writes_after) return false;
  chunks_.emplace_back(data);
  cv_.notify_all();
  return true;
}

void FakeWriter::EndStream() {
  ended = true;
}

bool FakeWriter::WaitChunks(size_t n) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, kWait, [&] { return chunks_.size() >= n; });
}

std::vector<std::string> FakeWriter::Chunks() {
  std::lock_guard<std::mutex> l(mu_);
  return chunks_;
}

const std::string* FakeWriter::Header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

std::string Base64(std::string_view s) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    uint32_t n =
        (uint32_t(uint8_t(s[i])) << 16) | (uint32_t(uint8_t(s[i + 1])) << 8) | uint8_t(s[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6)
      out.push_back(kAlphabet[(n >> shift) & 63]);
  }
  if (size_t rest = s.size() - i; rest > 0) {
    uint32_t n = uint32_t(uint8_t(s[i])) << 16;
    if (rest == 2) n |= uint32_t(uint8_t(s[i + 1])) << 8;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

http::Request Post(std::string path, std::string body, http::Headers headers) {
  http::Request r;
  r.method = "POST";
  r.target = path;
  r.path = std::move(path);
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.remote = "127.0.0.1:40000";
  return r;
}

void Run(const http::Router& router, const http::Request& req, FakeWriter& w) {
  const http::Handler* h = router.Match(req.path);
  ASSERT_NE(h, nullptr) << req.path;
  (*h)(req, w);
}

}  // namespace etcdpp::gateway::testing
