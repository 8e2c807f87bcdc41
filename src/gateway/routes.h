// The gateway's URL table (ETCD-FACTS.md §3 "Routes"): which gRPC method each
// /v3/ path calls, with the request and response message types taken from the
// method's descriptor (so streaming kinds come from the .proto, not a list).
#pragma once

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>
#include <string>
#include <vector>

namespace etcdpp::gateway {

enum class CallKind { kUnary, kServerStream, kBidiStream };

struct Route {
  std::string path;         // "/v3/kv/range"
  std::string grpc_method;  // "/etcdserverpb.KV/Range"
  const google::protobuf::Descriptor* request = nullptr;
  const google::protobuf::Descriptor* response = nullptr;
  CallKind kind = CallKind::kUnary;
};

// Every route, built once (thread-safe). v3lockpb and v3electionpb have no
// generated code in this build, so their messages are described at run time
// (field numbers and types from ETCD-FACTS.md §1) unless a generated version
// is linked in.
const std::vector<Route>& Routes();

// A fresh, empty message of `type` (generated or run-time described).
std::unique_ptr<google::protobuf::Message> NewMessage(const google::protobuf::Descriptor* type);

}  // namespace etcdpp::gateway
