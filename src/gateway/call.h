// One HTTP exchange turned into one gRPC call through a GenericStub. The
// handler's own thread drives the call through a private completion queue,
// waking at least every 100 ms to ask ResponseWriter::ClientGone(); when the
// HTTP client has gone the call is cancelled and drained, so nothing of it
// outlives the exchange.
#pragma once

#include <grpcpp/generic/generic_stub.h>

#include "gateway/routes.h"
#include "http/http.h"

namespace etcdpp::gateway {

// Unary: the first JSON value of the body (or {} for an empty body) is the
// request; 200 with the response JSON, or the error body with its status.
void ServeUnary(const Route& route, const http::Request& req, http::ResponseWriter& w,
                grpc::GenericStub& stub, const http::Headers& extra_headers);

// Streams: every JSON value of the body is one request (server streams take
// the first only); the end of the body half-closes the call. Each response is
// one chunk `{"result":{...}}\n`. A call that fails before its first response
// is answered like a unary error (as Go's gateway does when the stream's
// headers never come); a later failure is one `{"error":{...}}\n` chunk.
void ServeStream(const Route& route, const http::Request& req, http::ResponseWriter& w,
                 grpc::GenericStub& stub, const http::Headers& extra_headers);

// The unary error answer (also used for routing errors).
void SendError(http::ResponseWriter& w, int grpc_code, std::string_view message,
               const http::Headers& extra_headers);

}  // namespace etcdpp::gateway
