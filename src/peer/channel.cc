#include "peer/channel.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <thread>

namespace etcdpp::peer {

Result<std::string> PeerUrlToTarget(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.substr(0, kHttp.size()) != kHttp) {
    return Status::InvalidArgument(
        "peer URL must be http://host:port (TLS is not supported yet): " + std::string(url));
  }
  std::string_view hostport = url.substr(kHttp.size());
  if (!hostport.empty() && hostport.back() == '/') hostport.remove_suffix(1);
  if (hostport.find('/') != std::string_view::npos) {
    return Status::InvalidArgument("peer URL must not have a path: " + std::string(url));
  }
  size_t colon = hostport.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("peer URL needs host:port: " + std::string(url));
  }
  std::string_view host = hostport.substr(0, colon);
  std::string_view port = hostport.substr(colon + 1);
  int port_num = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), port_num);
  if (ec != std::errc() || p != port.data() + port.size() || port_num <= 0 || port_num > 65535) {
    return Status::InvalidArgument("peer URL has a bad port: " + std::string(url));
  }
  if (host.front() != '[' && host.find(':') != std::string_view::npos) {
    return Status::InvalidArgument("IPv6 peer URL needs brackets: " + std::string(url));
  }
  std::string h = host == "localhost" ? "127.0.0.1" : std::string(host);
  return h + ":" + std::to_string(port_num);
}

std::shared_ptr<grpc::Channel> MakePeerChannel(const std::string& target,
                                               size_t max_message_bytes) {
  grpc::ChannelArguments args;
  // Our own connection per dial: a broken/blackholed connection is never reused through
  // gRPC's global subchannel pool, and Transports in one process (tests) stay independent.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Keep pinging an idle stream (defaults stop after 2 pings without data / wait 5 min).
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_HTTP2_MIN_SENT_PING_INTERVAL_WITHOUT_DATA_MS, kKeepaliveTimeMs);
  args.SetMaxSendMessageSize(MessageLimitArg(max_message_bytes));
  args.SetMaxReceiveMessageSize(MessageLimitArg(max_message_bytes));
  // TLS: peer credentials will be chosen here (--peer-cert-file etc.).
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

int MessageLimitArg(size_t max_message_bytes) {
  return static_cast<int>(std::min<size_t>(max_message_bytes, std::numeric_limits<int>::max()));
}

bool WaitForReady(grpc::Channel* ch, std::chrono::steady_clock::time_point deadline,
                  const std::atomic<bool>* stop) {
  // Sliced waits so Stop() is noticed promptly even while a peer is blackholed.
  constexpr auto kSlice = std::chrono::milliseconds(25);
  for (;;) {
    grpc_connectivity_state s = ch->GetState(/*try_to_connect=*/true);
    if (s == GRPC_CHANNEL_READY) return true;
    if (s == GRPC_CHANNEL_TRANSIENT_FAILURE || s == GRPC_CHANNEL_SHUTDOWN) return false;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline || (stop && stop->load())) return false;
    // gRPC takes system_clock deadlines only; the slice is short, so a wall-clock jump
    // costs at most one slice.
    auto slice = std::min(deadline - now, std::chrono::steady_clock::duration(kSlice));
    ch->WaitForStateChange(s, std::chrono::system_clock::now() + slice);
  }
}

std::string IdToHex(uint64_t id) {
  char buf[17];
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    buf[i] = kDigits[id & 0xf];
    id >>= 4;
  }
  buf[16] = '\0';
  return std::string(buf, 16);
}

std::optional<uint64_t> ParseHexId(std::string_view s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

void AddCallMetadata(grpc::ClientContext* ctx, uint64_t from, uint64_t to, uint64_t cluster_id) {
  ctx->AddMetadata(kMetaFrom, IdToHex(from));
  ctx->AddMetadata(kMetaTo, IdToHex(to));
  ctx->AddMetadata(kMetaClusterId, IdToHex(cluster_id));
}

Status FromGrpc(const grpc::Status& st) {
  if (st.ok()) return Status::OK();
  // gRPC's codes are ours (status.h mirrors them).
  return Status(static_cast<Code>(st.error_code()), st.error_message());
}

}  // namespace etcdpp::peer
