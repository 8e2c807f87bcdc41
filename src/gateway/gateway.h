// etcd's JSON gateway (grpc-gateway) on the client port's HTTP side:
// POST /v3/<service>/<call> with a JSON body calls the gRPC method through
// `channel` and answers JSON (ETCD-FACTS.md §3; docs/gateway.md).
//
//   grpc::ChannelArguments args;
//   args.SetMaxReceiveMessageSize(-1);  // etcd's gateway dials with MaxInt32: a big
//                                       // Range answer must not hit gRPC's 4 MiB default
//   Register(router, server->InProcessChannel(args));
//
// Routes: every KV, Watch (stream), Lease (keepalive stream, /v3/kv/lease/*
// aliases), Cluster, Maintenance (snapshot stream), Auth, Lock and Election
// call; /v3beta/... is the same as /v3/...; other /v3/ paths answer 404
// {"code":5,"message":"Not Found"}; non-POST methods answer 501
// {"code":12,"message":"Method Not Allowed"}; OPTIONS answers 200.
// Handlers block their (connection) thread for the whole exchange.
#pragma once

#include <grpcpp/channel.h>

#include <memory>
#include <string>
#include <vector>

#include "http/http.h"

namespace etcdpp::gateway {

struct Options {
  // etcd's --cors: "*" answers every origin with "*"; otherwise a request's
  // Origin header gets the CORS headers only when listed. Empty: no headers.
  std::vector<std::string> cors_origins{"*"};
};

void Register(http::Router& router, std::shared_ptr<grpc::Channel> channel, Options options = {});

}  // namespace etcdpp::gateway
