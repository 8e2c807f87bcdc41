// Helpers shared by the EtcdServer implementation files (server.cc,
// server_bootstrap.cc, server_cluster.cc); not part of the server's API.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace etcdpp::server {

// "a,b,c" (log fields).
std::string JoinStrings(const std::vector<std::string>& v);

// etcd rpctypes.ErrGRPCNotSupportedForLearner: FailedPrecondition in 3.6
// (3.4 answered Unavailable).
Status ErrNotSupportedForLearner();

}  // namespace etcdpp::server
