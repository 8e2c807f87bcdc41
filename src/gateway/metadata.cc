#include "gateway/metadata.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace etcdpp::gateway {

namespace {

constexpr std::string_view kMetadataPrefix = "grpc-metadata-";

// A key gRPC accepts: lower-case letters, digits, '-', '_', '.'; not reserved.
bool ValidMetadataKey(std::string_view k) {
  if (k.empty() || k.substr(0, 5) == "grpc-") return false;
  for (char c : k)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return false;
  return k != "content-type" && k != "te" && k != "user-agent" && k != "host" && k != "connection";
}

bool ValidMetadataValue(std::string_view v) {
  for (char c : v)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return false;
  return true;
}

// Both base64 alphabets, padding optional (Go's decodeBinHeader accepts both).
bool DecodeBase64(std::string_view in, std::string* out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=')
    in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

// "10S", "500m", "1H": gRPC's timeout header syntax (at most 8 digits).
bool ParseGrpcTimeout(std::string_view v, std::chrono::nanoseconds* out) {
  if (v.size() < 2 || v.size() > 9) return false;
  int64_t n = 0;
  for (char c : v.substr(0, v.size() - 1)) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  using namespace std::chrono;
  switch (v.back()) {
    case 'H':
      *out = hours(n);
      return true;
    case 'M':
      *out = minutes(n);
      return true;
    case 'S':
      *out = seconds(n);
      return true;
    case 'm':
      *out = milliseconds(n);
      return true;
    case 'u':
      *out = microseconds(n);
      return true;
    case 'n':
      *out = nanoseconds(n);
      return true;
    default:
      return false;
  }
}

std::string HostOnly(std::string_view addr) {
  // "127.0.0.1:5000" -> "127.0.0.1", "[::1]:5000" -> "::1"
  if (!addr.empty() && addr.front() == '[') {
    size_t close = addr.find(']');
    return std::string(addr.substr(1, close == std::string_view::npos ? addr.size() : close - 1));
  }
  size_t colon = addr.rfind(':');
  if (colon != std::string_view::npos && addr.find(':') == colon) addr = addr.substr(0, colon);
  return std::string(addr);
}

// "content-type" -> "Content-Type" (Go's textproto canonical form).
std::string CanonicalHeaderKey(std::string_view k) {
  std::string out(k);
  bool upper = true;
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    upper = c == '-';
  }
  return out;
}

}  // namespace

Status ApplyRequestMetadata(const http::Request& req, grpc::ClientContext* ctx) {
  std::string forwarded_for;
  const std::string* forwarded_host = nullptr;
  for (const auto& [name, value] : req.headers) {
    if (name == "authorization") {
      if (ValidMetadataValue(value)) ctx->AddMetadata("authorization", value);
    } else if (name.size() > kMetadataPrefix.size() && name.rfind(kMetadataPrefix, 0) == 0) {
      std::string key = name.substr(kMetadataPrefix.size());
      if (!ValidMetadataKey(key)) continue;  // gRPC would refuse the whole call
      if (key.size() > 4 && key.compare(key.size() - 4, 4, "-bin") == 0) {
        std::string raw;
        if (!DecodeBase64(value, &raw))
          return Status::InvalidArgument("invalid binary header " + name + ": illegal base64 data");
        ctx->AddMetadata(key, raw);
      } else if (ValidMetadataValue(value)) {
        ctx->AddMetadata(key, value);
      }
    } else if (name == "grpc-timeout") {
      std::chrono::nanoseconds timeout;
      if (!ParseGrpcTimeout(value, &timeout))
        return Status::InvalidArgument("invalid grpc-timeout: " + value);
      ctx->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::duration_cast<std::chrono::system_clock::duration>(timeout));
    } else if (name == "x-forwarded-for") {
      forwarded_for = value;
    } else if (name == "x-forwarded-host") {
      forwarded_host = &value;
    }
  }
  const std::string* host = forwarded_host ? forwarded_host : req.Header("host");
  if (host && ValidMetadataValue(*host)) ctx->AddMetadata("x-forwarded-host", *host);
  std::string remote = HostOnly(req.remote);
  if (!remote.empty())
    forwarded_for = forwarded_for.empty() ? remote : forwarded_for + ", " + remote;
  if (!forwarded_for.empty() && ValidMetadataValue(forwarded_for))
    ctx->AddMetadata("x-forwarded-for", forwarded_for);
  return Status::OK();
}

void AddResponseMetadata(const grpc::ClientContext& ctx, http::Headers* headers) {
  bool content_type = false;
  for (const auto& [k, v] : ctx.GetServerInitialMetadata()) {
    std::string_view key(k.data(), k.size());
    std::string_view value(v.data(), v.size());
    if (key == "content-type") content_type = true;
    if (!ValidMetadataValue(value)) continue;  // binary values are not HTTP header text
    headers->emplace_back("Grpc-Metadata-" + CanonicalHeaderKey(key), std::string(value));
  }
  if (!content_type) headers->emplace_back("Grpc-Metadata-Content-Type", "application/grpc");
}

}  // namespace etcdpp::gateway
