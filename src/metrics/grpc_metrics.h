// go-grpc-prometheus' server metrics, as etcd exposes them: a gRPC server
// interceptor counting grpc_server_started_total, grpc_server_handled_total
// (with grpc_code), grpc_server_msg_received_total and grpc_server_msg_sent_total
// by grpc_type / grpc_service / grpc_method.
//
// Wiring (listeners.cc, before BuildAndStart): metrics::InstallGrpcMetrics(builder);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>

#include "metrics/metrics.h"

namespace etcdpp::metrics {

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewGrpcMetricsInterceptorFactory(Registry& r = Default());

// Creates every method's series at zero (all 17 codes for handled_total), as
// go-grpc-prometheus' InitializeMetrics does at start-up. Services are named by
// full name ("etcdserverpb.KV") and looked up in the generated protobuf pool;
// "grpc.health.v1.Health" is known without it.
void PreRegisterGrpcServices(const std::vector<std::string>& services, Registry& r = Default());

// Adds grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}
// (buckets prometheus.DefBuckets), as etcd does for --metrics=extensive
// (go-grpc-prometheus EnableHandlingTimeHistogram). Basic never calls it.
void EnableGrpcHandlingTimeHistogram(Registry& r = Default());

// Both of the above for a client-port server: etcd's six services and
// grpc.health.v1.Health pre-registered, the interceptor installed on `b`;
// `handling_time` (--metrics=extensive) adds the latency histogram.
void InstallGrpcMetrics(grpc::ServerBuilder& b, Registry& r = Default(),
                        bool handling_time = false);

// Counts one finished call (the interceptor's work, exposed for tests).
// `full_method` is "/pkg.Service/Method"; `code` a gRPC status code number.
struct GrpcCall {
  std::string full_method;
  grpc::experimental::ServerRpcInfo::Type type;
};
void RecordGrpcStarted(Registry& r, const GrpcCall& c);
void RecordGrpcHandled(Registry& r, const GrpcCall& c, int code);
// The histogram's observation (no-op unless enabled for `r`).
void RecordGrpcHandlingTime(Registry& r, const GrpcCall& c, double seconds);

// Go's codes.Code.String() ("OK", "Canceled", ..., "Unauthenticated").
const char* GrpcCodeName(int code);

}  // namespace etcdpp::metrics
