// Everything about dialling a peer in one place: URL -> gRPC target, channel arguments
// (keepalive, message sizes), credentials (plain TCP for now; TLS goes here later), waiting
// for a connection, and the call metadata.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <grpcpp/grpcpp.h>

#include "common/status.h"

namespace etcdpp::peer {

inline constexpr char kMetaFrom[] = "etcdpp-from";
inline constexpr char kMetaTo[] = "etcdpp-to";
inline constexpr char kMetaClusterId[] = "etcdpp-cluster-id";

// Keepalive: a blackholed peer is noticed within about kKeepaliveTime + kKeepaliveTimeout.
inline constexpr int kKeepaliveTimeMs = 1000;
inline constexpr int kKeepaliveTimeoutMs = 2000;

// "http://host:port" -> "host:port" ("localhost" -> "127.0.0.1"; "[v6]:port" kept).
// kInvalidArgument for other schemes, a path, or a missing/bad port.
Result<std::string> PeerUrlToTarget(std::string_view url);

// A new channel of its own (local subchannel pool, so each dial is a fresh TCP connection).
std::shared_ptr<grpc::Channel> MakePeerChannel(const std::string& target, size_t max_message_bytes);

// max_message_bytes as a gRPC int argument (clamped).
int MessageLimitArg(size_t max_message_bytes);

// Waits until `ch` is READY: true. False when it reports TRANSIENT_FAILURE (e.g. connection
// refused), at `deadline`, or once `*stop` is set (checked every few tens of ms).
bool WaitForReady(grpc::Channel* ch, std::chrono::steady_clock::time_point deadline,
                  const std::atomic<bool>* stop);

// Member/cluster ids in metadata: 16 lowercase hex digits.
std::string IdToHex(uint64_t id);
// Accepts 1..16 hex digits (either case); nullopt otherwise.
std::optional<uint64_t> ParseHexId(std::string_view s);

void AddCallMetadata(grpc::ClientContext* ctx, uint64_t from, uint64_t to, uint64_t cluster_id);

Status FromGrpc(const grpc::Status& st);

}  // namespace etcdpp::peer
