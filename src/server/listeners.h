// The member's sockets: gRPC on every --listen-client-urls address, and the
// --listen-peer-urls ports claimed (bound + listening) like etcd does, so a
// second member on the same port fails at start. Peer traffic itself is a
// later issue: connections there are accepted by the kernel and left idle.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace etcdpp::server {

class EtcdServer;

class Listeners {
 public:
  static Result<std::unique_ptr<Listeners>> Start(EtcdServer* s, const config::ServerConfig& cfg);
  ~Listeners();

  // Stops accepting and waits (up to the deadline) for in-flight calls; calls
  // still running then are cancelled. Requires the raft loop and the applier
  // to keep running meanwhile (they complete the calls).
  void Shutdown();

  const std::vector<std::string>& ClientAddresses() const { return client_addrs_; }
  const std::vector<std::string>& PeerAddresses() const { return peer_addrs_; }

 private:
  Listeners() = default;
  Status BindPeers(const config::ServerConfig& cfg);

  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> grpc_;
  std::vector<int> peer_fds_;
  std::vector<std::string> client_addrs_, peer_addrs_;
};

}  // namespace etcdpp::server
