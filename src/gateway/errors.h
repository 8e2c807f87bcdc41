// How a gRPC failure looks over HTTP (ETCD-FACTS.md §3 "Unary errors",
// "Streams"). Two generations of clients read these bodies: etcd 3.6's
// gateway sends {"code","message"}; 3.5 and older sent "error" beside them in
// unary bodies and {"error":{"grpc_code","http_code","message","http_status"}}
// in streams (Debian's Patroni 3.0.2 reads both of those). Every body here
// carries the union, so either kind of client finds what it looks for.
#pragma once

#include <string>
#include <string_view>

namespace etcdpp::gateway {

// gRPC status code -> HTTP status, as grpc-gateway v2 maps it.
int HttpStatusFromGrpcCode(int code);

// {"code":N,"message":"...","error":"..."} (no trailing newline).
std::string UnaryErrorBody(int code, std::string_view message);

// {"error":{"code":N,"message":"...","grpc_code":N,"http_code":H,
// "http_status":"..."}} followed by "\n": one stream chunk.
std::string StreamErrorChunk(int code, std::string_view message);

}  // namespace etcdpp::gateway
