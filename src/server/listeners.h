// The member's sockets (ARCHITECTURE.md §7). We bind and accept every
// listener ourselves; each accepted connection is sniffed and handed to gRPC
// (grpc::AddInsecureChannelFromFd; the gRPC servers have no listening ports
// of their own) or to the HTTP/1.1 server:
//   --listen-client-urls        gRPC + HTTP on one port (HTTP/2 preface = gRPC),
//                               or gRPC only when --listen-client-http-urls is set
//   --listen-client-http-urls   HTTP only: health, metrics, version, JSON gateway
//   --listen-metrics-urls       HTTP only: metrics and health
//   --listen-peer-urls          peer gRPC + HTTP GET /version
// Every port is bound at StartPeers (a clash fails the start at once, with
// etcd's error text); peers, metrics and /version are served before the
// member is ready (as etcd does), client traffic once it is.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "http/listener.h"
#include "http/server.h"
#include "server/url.h"

namespace etcdpp::server {

class EtcdServer;

class Listeners {
 public:
  // Binds every URL (peer, client, client-http, metrics) and serves
  // `peer_service` on the peer URLs; `configure` adds the transport's server
  // settings.
  static Result<std::unique_ptr<Listeners>> StartPeers(
      const config::ServerConfig& cfg, grpc::Service* peer_service,
      const std::function<void(grpc::ServerBuilder&)>& configure);
  // Serves --listen-metrics-urls and the peer port's /version. Call once the
  // member's raft loop runs (the health checks need it); StartClients calls
  // it if nobody did. Idempotent.
  Status StartMetrics(EtcdServer* s, const config::ServerConfig& cfg);
  // Starts the client listeners with the member's services.
  Status StartClients(EtcdServer* s, const config::ServerConfig& cfg);
  ~Listeners();

  // Stops accepting client and metrics connections; in-flight gRPC calls and
  // HTTP exchanges get a grace period (then are cancelled / closed). HTTP
  // streams see ClientGone() at once. Requires the raft loop and the applier
  // to keep running meanwhile (they complete the calls).
  void Shutdown();
  // Stops the peer server (after the raft loop has stopped).
  void ShutdownPeers();
  // grpc.health.v1 status of service "" on the client port (etcd reports
  // NOT_SERVING during a defrag with the StopGRPCServiceOnDefrag gate).
  void SetServing(bool serving);

  // The client gRPC server's in-process channel (nullptr before
  // StartClients): the JSON gateway calls the services through it.
  std::shared_ptr<grpc::Channel> InProcessChannel() const { return in_process_; }

  // Bound addresses ("127.0.0.1:2379", "unix:/path"), port 0 resolved.
  const std::vector<std::string>& ClientAddresses() const { return client_addrs_; }
  const std::vector<std::string>& PeerAddresses() const { return peer_addrs_; }
  const std::vector<std::string>& ClientHttpAddresses() const { return client_http_addrs_; }
  const std::vector<std::string>& MetricsAddresses() const { return metrics_addrs_; }

 private:
  // A socket bound at start, listened on when its server starts.
  struct Claimed {
    ListenAddr addr;
    int fd = -1;
    std::string display;  // "127.0.0.1:2379" / "unix:/path"
  };
  Listeners() = default;
  static Result<std::vector<Claimed>> Claim(const std::vector<std::string>& urls);
  // Starts a listener on a claimed socket (consumed).
  Status Listen(Claimed* c, http::ListenerOptions::Mode mode, http::Server* http,
                grpc::Server* grpc, std::vector<std::unique_ptr<http::Listener>>* out);

  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<grpc::Server> peer_grpc_;
  std::shared_ptr<grpc::Channel> in_process_;
  // HTTP servers, declared before the listeners that feed them: the
  // listeners are stopped (and destroyed) first.
  std::unique_ptr<http::Server> client_http_, metrics_http_, peer_http_;
  std::vector<std::unique_ptr<http::Listener>> client_listeners_, metrics_listeners_,
      peer_listeners_;
  std::vector<Claimed> claimed_client_, claimed_client_http_, claimed_metrics_;
  bool metrics_started_ = false;
  std::vector<std::string> client_addrs_, peer_addrs_, client_http_addrs_, metrics_addrs_;
};

}  // namespace etcdpp::server
