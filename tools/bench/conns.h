// The global options of etcd's benchmark (--endpoints --conns --clients --target-leader, TLS,
// --user) and the gRPC connections they describe. Client i uses connection i % conns.
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "flags.h"

namespace etcdpp::bench {

struct GlobalOptions {
  std::vector<std::string> endpoints;
  int conns = 1;
  int clients = 1;
  bool target_leader = false;
  bool json = false;
  std::string cacert, cert, key;
  std::string user;  // name[:password]
  double dial_timeout_s = 10;
  double request_timeout_s = 60;

  static void Declare(FlagSet& flags);
  // Reads the declared flags; false (and *error) when they make no sense.
  bool Load(const FlagSet& flags, std::string* error);
};

class Connections {
 public:
  // Dials every connection and waits until each is ready (so connection setup is never timed).
  static std::unique_ptr<Connections> Open(const GlobalOptions& opts, std::string* error);

  int size() const { return static_cast<int>(channels_.size()); }
  etcdserverpb::KV::Stub* Kv(int client) { return kv_[Index(client)].get(); }
  etcdserverpb::Lease::Stub* Lease(int client) { return lease_[Index(client)].get(); }
  etcdserverpb::Watch::Stub* Watch(int client) { return watch_[Index(client)].get(); }
  grpc::GenericStub* Generic(int client) { return generic_[Index(client)].get(); }
  // Deadline (--request-timeout, 0 = none) and the auth token when --user was given.
  void Prepare(grpc::ClientContext* ctx) const;
  void PrepareStream(grpc::ClientContext* ctx) const;  // no deadline: streams live long
  const std::vector<std::string>& endpoints() const { return endpoints_; }

 private:
  int Index(int client) const { return client % static_cast<int>(channels_.size()); }

  double request_timeout_s_ = 0;
  std::string token_;
  std::vector<std::string> endpoints_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> kv_;
  std::vector<std::unique_ptr<etcdserverpb::Lease::Stub>> lease_;
  std::vector<std::unique_ptr<etcdserverpb::Watch::Stub>> watch_;
  std::vector<std::unique_ptr<grpc::GenericStub>> generic_;
};

// "error code: message" for a failed call; the text shown in the error distribution.
std::string StatusText(const grpc::Status& s);

}  // namespace etcdpp::bench
