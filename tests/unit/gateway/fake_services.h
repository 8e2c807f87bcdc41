// Test fixture for the gateway: small fake etcd services in a real in-process
// gRPC server, a recording ResponseWriter, and a helper that runs a request
// through a Router set up by gateway::Register.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "gateway/gateway.h"
#include "http/http.h"

namespace etcdpp::gateway::testing {

// What the fakes saw, for the tests to check.
struct Seen {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> requests;  // ShortDebugString of each request, in order
  std::vector<std::string> metadata;  // "key=value" of the latest call's client metadata
  int streams_cancelled = 0;          // watch/slow calls that ended by cancellation

  void AddRequest(const google::protobuf::Message& m);
  void SetMetadata(const grpc::ServerContext& ctx);
  void Cancelled();
  // Waits (bounded) until a request with this text arrived.
  bool WaitRequest(const std::string& text);
  // Waits (bounded) until `n` calls were cancelled.
  bool WaitCancelled(int n);
  std::vector<std::string> Requests();
};

// An in-process server hosting fake KV, Watch, Lease, Cluster and
// Maintenance services (no Auth, Lock or Election: those answer Unimplemented).
//
// KV.Range: key "err:<code>:<message>" fails with that status; key "slow"
//   blocks until cancelled; key "big" answers a 5 MiB value; otherwise answers
//   a fixed response (see tests).
// Watch: answers each create_request with created=true; key "ev" also gets a
//   PUT and a DELETE event; key "fail" fails the stream after the created
//   response; key "fail-early" fails before answering. After the client's
//   half-close the stream stays open until cancelled.
// Lease.LeaseKeepAlive: answers each request {ID, TTL=10} (no TTL for ID 0)
//   and ends at the half-close.
// Maintenance.Snapshot: three messages with blobs "abc", "d", "".
class FakeServer {
 public:
  FakeServer();
  ~FakeServer();
  // The gateway's channel; `default_limits` keeps gRPC's 4 MiB receive limit.
  std::shared_ptr<grpc::Channel> Channel(bool default_limits = false);
  Seen& seen() { return *seen_; }

 private:
  std::shared_ptr<Seen> seen_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
};

// Records what a handler answers.
class FakeWriter : public http::ResponseWriter {
 public:
  void Send(int status, http::Headers headers, std::string body) override;
  bool StartStream(int status, http::Headers headers) override;
  bool WriteChunk(std::string_view data) override;
  void EndStream() override;
  bool ClientGone() override { return gone.load(); }

  // Waits (bounded) until `n` chunks were written.
  bool WaitChunks(size_t n);
  std::vector<std::string> Chunks();
  const std::string* Header(std::string_view name) const;

  std::atomic<bool> gone{false};
  size_t fail_writes_after = SIZE_MAX;  // WriteChunk returns false from then on

  int status = 0;
  http::Headers headers;
  std::string body;
  int sends = 0;
  bool streamed = false;
  bool ended = false;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> chunks_;
};

// Standard padded base64.
std::string Base64(std::string_view s);

http::Request Post(std::string path, std::string body, http::Headers headers = {});

// Dispatches `req` the way the HTTP server does (Router::Match) and runs it.
void Run(const http::Router& router, const http::Request& req, FakeWriter& w);

}  // namespace etcdpp::gateway::testing
