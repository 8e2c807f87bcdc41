// State shared by the sending (PeerSender) and receiving (PeerService) halves of a Transport.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>

#include "peer/notifier.h"
#include "peer/transport.h"

namespace etcdpp::peer {

struct Shared {
  Shared(Options o, Handler* h) : opts(std::move(o)), handler(h), cluster_id(opts.cluster_id) {}

  const Options opts;  // opts.cluster_id is the initial value only; see cluster_id
  Handler* const handler;
  std::atomic<uint64_t> cluster_id;  // SetClusterId may change it at any time
  Notifier notifier;                 // runs Report* callbacks off the caller's thread

  // Receive-side counters, by sender id.
  void CountReceived(uint64_t from, uint64_t bytes, bool failed) {
    std::lock_guard<std::mutex> lk(counters_mu);
    auto& c = received[from];
    c.received_bytes += bytes;
    if (failed) ++c.received_failures;
  }
  std::mutex counters_mu;
  std::map<uint64_t, PeerCounters> received;
};

}  // namespace etcdpp::peer
