// Mapping our Status to what a gRPC client sees. etcd's error strings travel
// verbatim in the message; the code follows ETCD-FACTS.md §4.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace etcdpp::server {

grpc::Status ToGrpcStatus(const Status& st);

}  // namespace etcdpp::server
