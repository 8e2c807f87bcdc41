// Listen URLs as etcd accepts them: http://host:port (localhost means
// 127.0.0.1), http://[v6]:port, unix://path. TLS (https/unixs) is a later issue.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace etcdpp::server {

struct ListenAddr {
  std::string scheme;  // "http" or "unix"
  std::string host;    // "127.0.0.1", "::1", "0.0.0.0"; the path for unix
  int port = 0;        // 0 = pick any
  // The address in gRPC's syntax: "127.0.0.1:2379", "[::1]:2379", "unix:/path".
  std::string GrpcTarget() const;
};

// kInvalidArgument with a clear message on a bad or unsupported URL.
Result<ListenAddr> ParseListenUrl(std::string_view url);

}  // namespace etcdpp::server
