#include "server/http_routes.h"

#include <utility>

#include "gateway/gateway.h"
#include "health/health.h"
#include "health/version.h"
#include "metrics/handler.h"
#include "server/health_probes.h"
#include "server/server.h"

namespace etcdpp::server {

void RegisterMetricsRoutes(http::Router& r, EtcdServer* s) {
  metrics::RegisterHandler(r);
  health::RegisterHandlers(r, MakeHealthProbes(s));
}

void RegisterPeerRoutes(http::Router& r, EtcdServer* s) {
  health::RegisterVersionHandler(r, MakeVersionInfo(s));
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
