#include "server/listeners.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "common/log.h"
#include "metrics/grpc_metrics.h"
#include "server/cluster_service.h"
#include "server/kv_service.h"
#include "server/lease_service.h"
#include "server/maintenance_service.h"
#include "server/server.h"
#include "server/url.h"
#include "server/watch_service.h"

namespace etcdpp::server {
namespace {

constexpr int kGrpcOverheadBytes = 512 * 1024;  // etcd: max recv = max-request-bytes + 512 KiB

std::string HostOf(const ListenAddr& a) {
  return a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host;
}

Status BindTcp(const ListenAddr& a, int* fd_out, int* port_out, bool listen_too = true);

}  // namespace

Status Listeners::StartClients(EtcdServer* s, const config::ServerConfig& cfg) {
  Listeners* l = this;

  // grpc.health.v1.Health: service "" reports SERVING, as etcd registers it.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder b;
  // gRPC rejects larger messages itself with ResourceExhausted; between
  // max-request-bytes and this, we answer "request is too large" (etcd).
  uint64_t max_recv = cfg.max_request_bytes + kGrpcOverheadBytes;
  b.SetMaxReceiveMessageSize(max_recv > INT_MAX ? INT_MAX : static_cast<int>(max_recv));
  b.SetMaxSendMessageSize(INT_MAX);
  b.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                       cfg.max_concurrent_streams > INT_MAX
                           ? INT_MAX
                           : static_cast<int>(cfg.max_concurrent_streams));
  // etcd's keepalive policy (--grpc-keepalive-*): clients may ping as often as
  // min-time (5 s); the server pings idle connections every interval (2 h)
  // and waits timeout (20 s) for the answer.
  auto ms = [](int64_t ns) {
    int64_t v = ns / 1'000'000;
    return v > INT_MAX ? INT_MAX : static_cast<int>(v);
  };
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                       ms(cfg.grpc_keepalive_min_time_ns));
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(cfg.grpc_keepalive_interval_ns));
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(cfg.grpc_keepalive_timeout_ns));

  std::vector<ListenAddr> addrs;
  std::vector<std::unique_ptr<int>> ports;
  for (size_t i = 0; i < cfg.listen_client_urls.size(); i++) {
    ETCDPP_ASSIGN_OR_RETURN(ListenAddr a, ParseListenUrl(cfg.listen_client_urls[i]));
    // The port claimed at start (StartPeers): same port, so port 0 resolves
    // once and nobody else can have taken it meanwhile.
    if (i < claimed_client_ports_.size() && claimed_client_ports_[i] > 0) {
      a.port = claimed_client_ports_[i];
    }
    ports.push_back(std::make_unique<int>(0));
    b.AddListeningPort(a.GrpcTarget(), grpc::InsecureServerCredentials(), ports.back().get());
    addrs.push_back(a);
  }
  // Hand the ports over to gRPC: released just before it binds them.
  for (int fd : claimed_client_fds_)
    close(fd);
  claimed_client_fds_.clear();
  l->services_.push_back(std::make_unique<KvService>(s));
  l->services_.push_back(std::make_unique<MaintenanceService>(s));
  l->services_.push_back(std::make_unique<ClusterService>(s));
  l->services_.push_back(std::make_unique<LeaseService>(s->leases()));
  l->services_.push_back(std::make_unique<WatchService>(
      s->watch_hub(), [s](etcdserverpb::ResponseHeader* h) { s->FillHeader(h); }));
  for (auto& svc : l->services_)
    b.RegisterService(svc.get());
  metrics::InstallGrpcMetrics(b);  // grpc_server_* by service, method and code
  l->grpc_ = b.BuildAndStart();
  if (!l->grpc_) {
    return Status::Unavailable(
        "failed to start the gRPC server on the client URLs (address in use?)");
  }
  LOG_INFO("grpc service status changed", {"service", ""}, {"status", "SERVING"});
  for (size_t i = 0; i < addrs.size(); i++) {
    if (addrs[i].scheme == "unix") {
      l->client_addrs_.push_back(addrs[i].GrpcTarget());
      continue;
    }
    if (*ports[i] == 0) {
      return Status::Unavailable("failed to listen on client URL " + cfg.listen_client_urls[i]);
    }
    l->client_addrs_.push_back(HostOf(addrs[i]) + ":" + std::to_string(*ports[i]));
  }
  return Status::OK();
}

namespace {

// Binds and listens on a TCP address; returns the fd and the bound port.
Status BindTcp(const ListenAddr& a, int* fd_out, int* port_out, bool listen_too) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  addrinfo* res = nullptr;
  std::string port = std::to_string(a.port);
  if (int rc = getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Status::InvalidArgument("listen address " + a.GrpcTarget() +
                                   ": host must be an IP address or localhost (" +
                                   gai_strerror(rc) + ")");
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
      (listen_too && listen(fd, 128) != 0)) {
    int err = errno;
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    // etcd's wording ("listen tcp 127.0.0.1:2379: bind: address already in use").
    std::string why = std::strerror(err);
    for (auto& c : why)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return Status::Unavailable("listen tcp " + a.GrpcTarget() + ": bind: " + why);
  }
  freeaddrinfo(res);
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  *port_out = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                       : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  *fd_out = fd;
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Listeners>> Listeners::StartPeers(
    const config::ServerConfig& cfg, grpc::Service* peer_service,
    const std::function<void(grpc::ServerBuilder&)>& configure) {
  std::unique_ptr<Listeners> l(new Listeners());
  grpc::ServerBuilder b;
  if (configure) configure(b);
  std::vector<std::string> targets;
  for (const auto& u : cfg.listen_peer_urls) {
    ETCDPP_ASSIGN_OR_RETURN(ListenAddr a, ParseListenUrl(u));
    if (a.scheme != "http") return Status::InvalidArgument("unsupported peer URL " + u);
    // Bind once ourselves for etcd's error text ("bind: address already in
    // use") and to resolve port 0, then let gRPC listen on that port.
    int fd = -1, port = 0;
    ETCDPP_RETURN_IF_ERROR(BindTcp(a, &fd, &port));
    close(fd);
    a.port = port;
    b.AddListeningPort(a.GrpcTarget(), grpc::InsecureServerCredentials());
    l->peer_addrs_.push_back(HostOf(a) + ":" + std::to_string(port));
  }
  // Client ports are claimed now too (etcd binds every listener before it
  // starts raft): a port clash fails the start at once with etcd's error,
  // and the port stays ours while raft elects and the member publishes.
  for (const auto& u : cfg.listen_client_urls) {
    ETCDPP_ASSIGN_OR_RETURN(ListenAddr a, ParseListenUrl(u));
    if (a.scheme == "unix") {
      l->claimed_client_ports_.push_back(0);
      continue;
    }
    int fd = -1, port = 0;
    // Bound, not listening: a client dialling early is refused (and retries)
    // instead of hanging on a connection nobody serves.
    ETCDPP_RETURN_IF_ERROR(BindTcp(a, &fd, &port, /*listen_too=*/false));
    l->claimed_client_fds_.push_back(fd);
    l->claimed_client_ports_.push_back(port);
  }
  if (peer_service != nullptr) b.RegisterService(peer_service);
  l->peer_grpc_ = b.BuildAndStart();
  if (!l->peer_grpc_) {
    return Status::Unavailable("failed to start the peer server on " + [&] {
      std::string out;
      for (const auto& u : cfg.listen_peer_urls)
        out += (out.empty() ? "" : ",") + u;
      return out;
    }());
  }
  return l;
}

void Listeners::Shutdown() {
  if (grpc_) {
    // In-flight writes finish within this grace period (they only wait for
    // one WAL fsync and an apply); after it gRPC cancels what is left.
    grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc_->Wait();
    grpc_.reset();
  }
}

void Listeners::ShutdownPeers() {
  for (int fd : claimed_client_fds_)
    close(fd);
  claimed_client_fds_.clear();
  if (peer_grpc_) {
    peer_grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    peer_grpc_->Wait();
    peer_grpc_.reset();
  }
}

Listeners::~Listeners() {
  Shutdown();
  ShutdownPeers();
}

}  // namespace etcdpp::server
