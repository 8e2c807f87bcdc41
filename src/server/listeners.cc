#include "server/listeners.h"

#include <arpa/inet.h>
#include <grpcpp/server_posix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "common/log.h"
#include "metrics/grpc_metrics.h"
#include "server/cluster_service.h"
#include "server/http_routes.h"
#include "server/kv_service.h"
#include "server/lease_service.h"
#include "server/maintenance_service.h"
#include "server/server.h"
#include "server/watch_service.h"

namespace etcdpp::server {
namespace {

constexpr int kGrpcOverheadBytes = 512 * 1024;  // etcd: max recv = max-request-bytes + 512 KiB

std::string HostOf(const ListenAddr& a) {
  return a.host.find(':') != std::string::npos ? "[" + a.host + "]" : a.host;
}

std::string LowerErrno(int err) {
  std::string why = std::strerror(err);
  for (auto& c : why)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return why;
}

// Binds (does not listen on) a TCP address; returns the fd and the bound port.
Status BindTcp(const ListenAddr& a, int* fd_out, int* port_out) {
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
  if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    freeaddrinfo(res);
    // etcd's wording ("listen tcp 127.0.0.1:2379: bind: address already in use").
    return Status::Unavailable("listen tcp " + a.GrpcTarget() + ": bind: " + LowerErrno(err));
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

// etcd's unix listener removes a stale socket file first, then binds.
Status BindUnix(const std::string& path, int* fd_out) {
  sockaddr_un sa{};
  if (path.size() >= sizeof(sa.sun_path)) {
    return Status::InvalidArgument("listen unix " + path + ": bind: invalid argument");
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    return Status::Unavailable("listen unix " + path + ": bind: " + LowerErrno(err));
  }
  *fd_out = fd;
  return Status::OK();
}

}  // namespace

Result<std::vector<Listeners::Claimed>> Listeners::Claim(const std::vector<std::string>& urls) {
  std::vector<Claimed> out;
  auto fail = [&](Status st) {
    for (auto& c : out)
      if (c.fd >= 0) close(c.fd);
    return st;
  };
  for (const auto& u : urls) {
    auto a = ParseListenUrl(u);
    if (!a.ok()) return fail(a.status());
    Claimed c;
    c.addr = *a;
    if (c.addr.scheme == "unix") {
      if (Status st = BindUnix(c.addr.host, &c.fd); !st.ok()) return fail(st);
      c.display = c.addr.GrpcTarget();
    } else {
      int port = 0;
      if (Status st = BindTcp(c.addr, &c.fd, &port); !st.ok()) return fail(st);
      c.addr.port = port;
      c.display = HostOf(c.addr) + ":" + std::to_string(port);
    }
    out.push_back(std::move(c));
  }
  return out;
}

Status Listeners::Listen(Claimed* c, http::ListenerOptions::Mode mode, http::Server* http,
                         grpc::Server* grpc, std::vector<std::unique_ptr<http::Listener>>* out) {
  http::ListenerOptions o;
  o.mode = mode;
  o.http = http;
  if (grpc != nullptr) {
    // gRPC reads the (unconsumed) preface itself and owns the fd from here.
    o.grpc = [grpc](int fd) { grpc::AddInsecureChannelFromFd(grpc, fd); };
  }
  o.name = c->display;
  if (c->addr.scheme == "unix") o.unix_path = c->addr.host;
  int fd = c->fd;
  c->fd = -1;
  ETCDPP_ASSIGN_OR_RETURN(auto l, http::Listener::Start(fd, std::move(o)));
  out->push_back(std::move(l));
  return Status::OK();
}

Result<std::unique_ptr<Listeners>> Listeners::StartPeers(
    const config::ServerConfig& cfg, grpc::Service* peer_service,
    const std::function<void(grpc::ServerBuilder&)>& configure) {
  std::unique_ptr<Listeners> l(new Listeners());
  for (const auto& u : cfg.listen_peer_urls) {
    ETCDPP_ASSIGN_OR_RETURN(ListenAddr a, ParseListenUrl(u));
    if (a.scheme != "http") return Status::InvalidArgument("unsupported peer URL " + u);
  }
  // Every port is claimed now (etcd binds every listener before it starts
  // raft): a clash fails the start at once with etcd's error, and the ports
  // stay ours while raft elects and the member publishes. Client sockets are
  // bound but not listening until StartClients: a client dialling early is
  // refused (and retries) instead of hanging on a connection nobody serves.
  ETCDPP_ASSIGN_OR_RETURN(auto peers, Claim(cfg.listen_peer_urls));
  ETCDPP_ASSIGN_OR_RETURN(l->claimed_client_, Claim(cfg.listen_client_urls));
  ETCDPP_ASSIGN_OR_RETURN(l->claimed_client_http_, Claim(cfg.listen_client_http_urls));
  ETCDPP_ASSIGN_OR_RETURN(l->claimed_metrics_, Claim(cfg.listen_metrics_urls));

  grpc::ServerBuilder b;
  if (configure) configure(b);
  if (peer_service != nullptr) b.RegisterService(peer_service);
  // No listening ports: connections come from our listeners.
  l->peer_grpc_ = b.BuildAndStart();
  if (!l->peer_grpc_) {
    return Status::Unavailable("failed to start the peer server on " + [&] {
      std::string out;
      for (const auto& u : cfg.listen_peer_urls)
        out += (out.empty() ? "" : ",") + u;
      return out;
    }());
  }
  // The peer port's HTTP side learns /version in StartMetrics; until then 404.
  l->peer_http_ =
      std::make_unique<http::Server>(http::ServerOptions{}, std::make_shared<http::Router>());
  for (auto& c : peers) {
    l->peer_addrs_.push_back(c.display);
    ETCDPP_RETURN_IF_ERROR(l->Listen(&c, http::ListenerOptions::Mode::kSniff, l->peer_http_.get(),
                                     l->peer_grpc_.get(), &l->peer_listeners_));
  }
  return l;
}

Status Listeners::StartMetrics(EtcdServer* s, const config::ServerConfig& cfg) {
  if (metrics_started_) return Status::OK();
  metrics_started_ = true;
  auto peer_router = std::make_shared<http::Router>();
  RegisterPeerRoutes(*peer_router, s);
  peer_http_->SetRouter(std::move(peer_router));
  if (claimed_metrics_.empty()) return Status::OK();
  auto router = std::make_shared<http::Router>();
  RegisterMetricsRoutes(*router, s);
  metrics_http_ = std::make_unique<http::Server>(http::ServerOptions{}, std::move(router));
  for (auto& c : claimed_metrics_) {
    metrics_addrs_.push_back(c.display);
    ETCDPP_RETURN_IF_ERROR(Listen(&c, http::ListenerOptions::Mode::kHttpOnly, metrics_http_.get(),
                                  nullptr, &metrics_listeners_));
    LOG_INFO("serving metrics", {"address", "http://" + c.display});
  }
  claimed_metrics_.clear();
  (void)cfg;
  return Status::OK();
}

Status Listeners::StartClients(EtcdServer* s, const config::ServerConfig& cfg) {
  ETCDPP_RETURN_IF_ERROR(StartMetrics(s, cfg));

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

  services_.push_back(std::make_unique<KvService>(s));
  services_.push_back(std::make_unique<MaintenanceService>(s));
  services_.push_back(std::make_unique<ClusterService>(s));
  services_.push_back(std::make_unique<LeaseService>(s->leases()));
  services_.push_back(std::make_unique<WatchService>(
      s->watch_hub(), [s](etcdserverpb::ResponseHeader* h) { s->FillHeader(h); },
      [s] { return s->Leader() != 0; },
      std::chrono::milliseconds(s->config().election_timeout_ms)));
  for (auto& svc : services_)
    b.RegisterService(svc.get());
  // grpc_server_* by service, method and code; the latency histogram with
  // --metrics=extensive only, as etcd.
  metrics::InstallGrpcMetrics(b, metrics::Default(), cfg.metrics == "extensive");
  // No listening ports: our listeners accept and hand connections over.
  grpc_ = b.BuildAndStart();
  if (!grpc_) return Status::Unavailable("failed to start the gRPC server for the client URLs");
  LOG_INFO("grpc service status changed", {"service", ""}, {"status", "SERVING"});
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // the gateway's answers may be large ranges
  args.SetMaxSendMessageSize(-1);     // the server's own limit applies
  in_process_ = grpc_->InProcessChannel(args);

  auto router = std::make_shared<http::Router>();
  RegisterClientRoutes(*router, s, in_process_);
  http::ServerOptions ho;
  // A JSON body carries bytes in base64 (4/3) plus field names: a request
  // gRPC would accept must fit; bigger ones get 413 before any parsing.
  ho.max_body_bytes =
      static_cast<size_t>((cfg.max_request_bytes + kGrpcOverheadBytes) * 4 / 3 + 64 * 1024);
  client_http_ = std::make_unique<http::Server>(ho, std::move(router));

  // With --listen-client-http-urls all HTTP moves there and the client URLs
  // speak gRPC only (etcd 3.6).
  bool split = !claimed_client_http_.empty();
  for (auto& c : claimed_client_) {
    client_addrs_.push_back(c.display);
    ETCDPP_RETURN_IF_ERROR(Listen(
        &c, split ? http::ListenerOptions::Mode::kGrpcOnly : http::ListenerOptions::Mode::kSniff,
        client_http_.get(), grpc_.get(), &client_listeners_));
  }
  claimed_client_.clear();
  for (auto& c : claimed_client_http_) {
    client_http_addrs_.push_back(c.display);
    ETCDPP_RETURN_IF_ERROR(Listen(&c, http::ListenerOptions::Mode::kHttpOnly, client_http_.get(),
                                  nullptr, &client_listeners_));
    LOG_INFO("serving client traffic insecurely; this is strongly discouraged!",
             {"traffic", "http"}, {"address", c.display});
  }
  claimed_client_http_.clear();
  return Status::OK();
}

void Listeners::Shutdown() {
  // 1. No new connections; connections still being sniffed are closed.
  for (auto& l : client_listeners_)
    l->Stop();
  for (auto& l : metrics_listeners_)
    l->Stop();
  // 2. HTTP: idle connections close, streams (e.g. a gateway watch) see
  //    ClientGone() and end their in-process gRPC calls, so step 3 need not
  //    wait for them.
  if (client_http_) client_http_->BeginShutdown();
  if (metrics_http_) metrics_http_->BeginShutdown();
  // 3. gRPC: in-flight writes finish within this grace period (they only
  //    wait for one WAL fsync and an apply); after it gRPC cancels the rest
  //    (including calls the gateway makes for HTTP requests still running).
  if (grpc_) {
    grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc_->Wait();
  }
  // 4. HTTP exchanges have had their grace too; join their threads.
  if (client_http_) client_http_->Shutdown();
  if (metrics_http_) metrics_http_->Shutdown();
  // The routes hold copies of the in-process channel: gone before the server.
  client_listeners_.clear();
  metrics_listeners_.clear();
  client_http_.reset();
  metrics_http_.reset();
  in_process_.reset();
  grpc_.reset();
}

void Listeners::ShutdownPeers() {
  for (auto& l : peer_listeners_)
    l->Stop();
  if (peer_http_) peer_http_->Shutdown();
  for (auto* v : {&claimed_client_, &claimed_client_http_, &claimed_metrics_}) {
    for (auto& c : *v)
      if (c.fd >= 0) close(c.fd);
    v->clear();
  }
  if (peer_grpc_) {
    peer_grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    peer_grpc_->Wait();
    peer_grpc_.reset();
  }
  peer_listeners_.clear();
}

void Listeners::SetServing(bool serving) {
  if (!grpc_) return;
  if (auto* hc = grpc_->GetHealthCheckService()) hc->SetServingStatus("", serving);
}

Listeners::~Listeners() {
  Shutdown();
  ShutdownPeers();
}

}  // namespace etcdpp::server
