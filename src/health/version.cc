#include "health/version.h"

#include <memory>

#include "health/health.h"

namespace etcdpp::health {

std::string VersionJson(const VersionInfo& v) {
  std::string cluster = v.cluster ? v.cluster() : "";
  std::string storage = v.storage ? v.storage() : "";
  return "{\"etcdserver\":" + GoJsonString(v.server) +
         ",\"etcdcluster\":" + GoJsonString(cluster.empty() ? "not_decided" : cluster) +
         ",\"storage\":" + GoJsonString(storage.empty() ? "unknown" : storage) +
         ",\"etcdpp\":" + GoJsonString(v.etcdpp) + "}";
}

http::Handler VersionHandler(VersionInfo v) {
  auto info = std::make_shared<const VersionInfo>(std::move(v));
  return [info](const http::Request& r, http::ResponseWriter& w) {
    if (r.method != "GET") {
      WriteGoError(w, 405, "Method Not Allowed", {{"Allow", "GET"}});
      return;
    }
    w.Send(200, {{"Content-Type", "application/json"}}, VersionJson(*info));
  };
}

void RegisterVersionHandler(http::Router& router, VersionInfo v) {
  router.Handle("/version", VersionHandler(std::move(v)));
}

}  // namespace etcdpp::health
