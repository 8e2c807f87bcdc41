// KV/RangeStream: `rpc RangeStream(RangeRequest) returns (stream RangeStreamResponse)` with
// `message RangeStreamResponse { RangeResponse range_response = 1; }`. Called through the
// generic stub and decoded by hand, so the tool builds whether or not proto/ declares it yet.
#pragma once

#include <atomic>

#include "conns.h"
#include "loop.h"

namespace etcdpp::bench {

inline constexpr char kRangeStreamMethod[] = "/etcdserverpb.KV/RangeStream";

// Starts one RangeStream call; `done` runs once the stream ended (OK only when the server
// ended it with OK and every chunk decoded). The keys received are added to *kvs.
void StartRangeStream(Connections* c, int lane, const etcdserverpb::RangeRequest& req,
                      std::atomic<int64_t>* kvs, Done done);

}  // namespace etcdpp::bench
