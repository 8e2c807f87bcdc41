// Which HTTP routes each listener serves (etcd 3.6's muxes). The handlers
// live in their own modules (gateway, health, metrics, version); these
// functions only wire them to a Router.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "http/http.h"

namespace etcdpp::server {

class EtcdServer;

// The client HTTP side (on --listen-client-urls, or only on
// --listen-client-http-urls when set): health, metrics and version as on
// the metrics listener, plus the JSON gateway (/v3/..., /v3beta/...) unless
// --enable-grpc-gateway=false. `channel` is the in-process channel to this
// member's gRPC services (Listeners::InProcessChannel()): the gateway calls
// them through it, so auth, limits and metrics apply as for gRPC clients.
void RegisterClientRoutes(http::Router& r, EtcdServer* s, std::shared_ptr<grpc::Channel> channel);

// --listen-metrics-urls: /metrics, /health, /livez, /readyz (and the
// per-check paths). Also part of the client routes.
void RegisterMetricsRoutes(http::Router& r, EtcdServer* s);

// The peer URLs: GET /version (etcd serves it there for other members).
void RegisterPeerRoutes(http::Router& r, EtcdServer* s);

}  // namespace etcdpp::server
