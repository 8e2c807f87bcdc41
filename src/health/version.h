// GET /version (ETCD-FACTS §9): etcd's Versions JSON, in Go's field order,
// plus etcdpp's own version as one more field at the end:
//   {"etcdserver":"3.6.14","etcdcluster":"3.6.0","storage":"3.6.0","etcdpp":"0.1.0"}
// Served on the client, metrics and peer routers (etcd serves it on the peer
// port too).
#pragma once

#include <functional>
#include <string>

#include "http/http.h"

namespace etcdpp::health {

struct VersionInfo {
  std::string server;  // etcd-compatible server version, "3.6.14"
  // The cluster version ("3.6.0"); "" while undecided -> "not_decided".
  std::function<std::string()> cluster;
  // The storage version ("3.6.0"); "" while unset -> "unknown".
  std::function<std::string()> storage;
  std::string etcdpp;  // our own version, "0.1.0"
};

// The body, as json.Marshal writes it (no trailing newline).
std::string VersionJson(const VersionInfo& v);

http::Handler VersionHandler(VersionInfo v);
void RegisterVersionHandler(http::Router& router, VersionInfo v);

}  // namespace etcdpp::health
