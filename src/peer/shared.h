// State shared by the sending (PeerSender) and receiving (PeerService) halves of a Transport.
#pragma once

#include <atomic>
#include <cstdint>

#include "peer/notifier.h"
#include "peer/transport.h"

namespace etcdpp::peer {

struct Shared {
  Shared(Options o, Handler* h) : opts(std::move(o)), handler(h), cluster_id(opts.cluster_id) {}

  const Options opts;  // opts.cluster_id is the initial value only; see cluster_id
  Handler* const handler;
  std::atomic<uint64_t> cluster_id;  // SetClusterId may change it at any time
  Notifier notifier;                 // runs Report* callbacks off the caller's thread
};

}  // namespace etcdpp::peer
