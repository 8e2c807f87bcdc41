// HTTP request headers -> gRPC call metadata and deadline, as grpc-gateway v2
// forwards them (ETCD-FACTS.md §3 "Auth and headers"):
//   Authorization: <token>         -> "authorization" (etcd reads "token", then
//                                     "authorization", stripping "Bearer ")
//   Grpc-Metadata-<Key>: <value>   -> "<key>" ("-bin" keys: value base64-decoded)
//   Grpc-Timeout: 10S              -> the call's deadline
//   (always) x-forwarded-host / x-forwarded-for from Host / the peer address.
#pragma once

#include <grpcpp/client_context.h>

#include "common/status.h"
#include "http/http.h"

namespace etcdpp::gateway {

// InvalidArgument for a malformed Grpc-Timeout or "-bin" value (the gateway
// answers 400 then, before calling anything).
Status ApplyRequestMetadata(const http::Request& req, grpc::ClientContext* ctx);

// Server initial metadata -> "Grpc-Metadata-<Key>" response headers, plus the
// "Grpc-Metadata-Content-Type: application/grpc" Go's gateway always shows.
void AddResponseMetadata(const grpc::ClientContext& ctx, http::Headers* headers);

}  // namespace etcdpp::gateway
