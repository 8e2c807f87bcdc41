// The member's sockets: gRPC for clients on every --listen-client-urls
// address, and the peer gRPC server (src/peer's service) on every
// --listen-peer-urls address. Peers start first (other members must reach
// this one before it can be ready); clients once the member is ready.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace etcdpp::server {

class EtcdServer;

class Listeners {
 public:
  // Binds the peer URLs (etcd's "address already in use" error) and serves
  // `peer_service` there; `configure` adds the transport's server settings.
  static Result<std::unique_ptr<Listeners>> StartPeers(
      const config::ServerConfig& cfg, grpc::Service* peer_service,
      const std::function<void(grpc::ServerBuilder&)>& configure);
  // Starts the client listeners with the member's services.
  Status StartClients(EtcdServer* s, const config::ServerConfig& cfg);
  ~Listeners();

  // Stops accepting client calls and waits (up to the deadline) for in-flight
  // ones; calls still running then are cancelled. Requires the raft loop and
  // the applier to keep running meanwhile (they complete the calls).
  void Shutdown();
  // Stops the peer server (after the raft loop has stopped).
  void ShutdownPeers();
  // grpc.health.v1 status of service "" on the client port (etcd reports
  // NOT_SERVING during a defrag with the StopGRPCServiceOnDefrag gate).
  void SetServing(bool serving);

  const std::vector<std::string>& ClientAddresses() const { return client_addrs_; }
  const std::vector<std::string>& PeerAddresses() const { return peer_addrs_; }

 private:
  Listeners() = default;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<grpc::Server> peer_grpc_;
  // Client ports bound at start and held until StartClients (see StartPeers).
  std::vector<int> claimed_client_fds_;
  std::vector<int> claimed_client_ports_;
  std::vector<std::string> client_addrs_, peer_addrs_;
};

}  // namespace etcdpp::server
