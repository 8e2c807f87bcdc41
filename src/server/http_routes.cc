#include "server/http_routes.h"

#include <utility>

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
    // merge: the JSON gateway registers /v3/ (and /v3beta/) here, calling
    // the services through `channel`.
    (void)channel;
  }
}

}  // namespace etcdpp::server
