#include "gateway/gateway.h"

#include <grpcpp/generic/generic_stub.h>

#include <algorithm>
#include <map>

#include "gateway/call.h"
#include "gateway/routes.h"

namespace etcdpp::gateway {

namespace {

class Gateway {
 public:
  Gateway(std::shared_ptr<grpc::Channel> channel, Options options)
      : stub_(std::move(channel)), options_(std::move(options)) {
    for (const Route& r : Routes())
      by_path_[r.path] = &r;
  }

  void Serve(const Route* route, const http::Request& req, http::ResponseWriter& w) {
    http::Headers cors = CorsHeaders(req);
    // etcd answers OPTIONS before routing: 200 for any path, no body.
    if (req.method == "OPTIONS") return w.Send(200, std::move(cors), "");
    if (!route) return SendError(w, grpc::StatusCode::NOT_FOUND, "Not Found", cors);
    // grpc-gateway v2 maps "method not allowed" to Unimplemented, hence 501.
    if (req.method != "POST")
      return SendError(w, grpc::StatusCode::UNIMPLEMENTED, "Method Not Allowed", cors);
    if (route->kind == CallKind::kUnary) return ServeUnary(*route, req, w, stub_, cors);
    ServeStream(*route, req, w, stub_, cors);
  }

  // /v3beta/x is served as /v3/x (etcd rewrites the path before routing).
  const Route* Lookup(std::string_view path) const {
    std::string p(path);
    if (p.rfind("/v3beta/", 0) == 0) p = "/v3/" + p.substr(8);
    auto it = by_path_.find(p);
    return it == by_path_.end() ? nullptr : it->second;
  }

 private:
  http::Headers CorsHeaders(const http::Request& req) const {
    const auto& allowed = options_.cors_origins;
    std::string origin;
    if (std::find(allowed.begin(), allowed.end(), "*") != allowed.end()) {
      origin = "*";
    } else if (const std::string* o = req.Header("origin");
               o && std::find(allowed.begin(), allowed.end(), *o) != allowed.end()) {
      origin = *o;
    }
    if (origin.empty()) return {};
    return {{"Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE"},
            {"Access-Control-Allow-Origin", origin},
            {"Access-Control-Allow-Headers", "accept, content-type, authorization"}};
  }

  grpc::GenericStub stub_;  // thread-safe: one per gateway, shared by all handlers
  Options options_;
  std::map<std::string, const Route*, std::less<>> by_path_;
};

}  // namespace

void Register(http::Router& router, std::shared_ptr<grpc::Channel> channel, Options options) {
  auto gw = std::make_shared<Gateway>(std::move(channel), std::move(options));
  for (const Route& r : Routes()) {
    router.Handle(r.path, [gw, route = &r](const http::Request& req, http::ResponseWriter& w) {
      gw->Serve(route, req, w);
    });
  }
  // Unknown /v3/ paths and every /v3beta/ path.
  auto by_lookup = [gw](const http::Request& req, http::ResponseWriter& w) {
    gw->Serve(gw->Lookup(req.path), req, w);
  };
  router.HandlePrefix("/v3/", by_lookup);
  router.HandlePrefix("/v3beta/", by_lookup);
}

}  // namespace etcdpp::gateway
