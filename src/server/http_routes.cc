#include "server/http_routes.h"

#include <utility>

#include "gateway/gateway.h"
#include "server/server.h"

namespace etcdpp::server {

void RegisterMetricsRoutes(http::Router& r, EtcdServer* s) {
  // merge: metrics (/metrics) and health (/health, /livez, /readyz and
  // their per-check paths) register here.
  (void)r;
  (void)s;
}

void RegisterPeerRoutes(http::Router& r, EtcdServer* s) {
  // merge: the version handler registers GET /version here.
  (void)r;
  (void)s;
}

void RegisterClientRoutes(http::Router& r, EtcdServer* s, std::shared_ptr<grpc::Channel> channel) {
  RegisterMetricsRoutes(r, s);
  RegisterPeerRoutes(r, s);  // /version (etcd's HandleBasic)
  if (s->config().enable_grpc_gateway) {
    // The JSON gateway (/v3/, /v3beta/) calls the member's own services
    // through the in-process channel, so it behaves exactly like gRPC.
    gateway::Options opts;
    opts.cors_origins = s->config().cors;
    gateway::Register(r, std::move(channel), std::move(opts));
  }
}

}  // namespace etcdpp::server
