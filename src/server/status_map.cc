#include "server/status_map.h"

namespace etcdpp::server {

grpc::Status ToGrpcStatus(const Status& st) {
  if (st.ok()) return grpc::Status::OK;
  switch (st.code()) {
    // Storage codes are not gRPC codes. Damaged data is etcd's DataLoss
    // ("corrupt cluster" family); the OS refusing I/O (disk full, EIO) means
    // this member cannot serve the request now: Unavailable, so clients may
    // go to another member, and nothing is claimed to be durable.
    case Code::kCorruption:
      return grpc::Status(grpc::StatusCode::DATA_LOSS, st.message());
    case Code::kIOError:
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, st.message());
    default:
      break;
  }
  int c = static_cast<int>(st.code());
  if (c < 0 || c > static_cast<int>(grpc::StatusCode::UNAUTHENTICATED)) {
    return grpc::Status(grpc::StatusCode::UNKNOWN, st.message());
  }
  // Our codes 0..16 are gRPC's canonical codes by construction (status.h).
  return grpc::Status(static_cast<grpc::StatusCode>(c), st.message());
}

}  // namespace etcdpp::server
