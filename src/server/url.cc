#include "server/url.h"

#include <charconv>

namespace etcdpp::server {

std::string ListenAddr::GrpcTarget() const {
  if (scheme == "unix") return "unix:" + host;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<ListenAddr> ParseListenUrl(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid listen URL \"" + std::string(url) +
                                   "\": " + std::string(why));
  };
  ListenAddr a;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("missing scheme (want http://host:port)");
  a.scheme = std::string(url.substr(0, sep));
  std::string_view rest = url.substr(sep + 3);
  if (a.scheme == "https" || a.scheme == "unixs") {
    return bad("TLS listeners are not supported yet");
  }
  if (a.scheme == "unix") {
    if (rest.empty()) return bad("empty unix socket path");
    a.host = std::string(rest);
    return a;
  }
  if (a.scheme != "http") return bad("unsupported scheme (want http or unix)");
  // Drop a trailing path ("http://127.0.0.1:2379/").
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") return bad("a listen URL cannot have a path");
    rest = rest.substr(0, slash);
  }
  std::string_view host, port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    host = rest.substr(1, close - 1);
    if (close + 1 >= rest.size() || rest[close + 1] != ':') return bad("missing port");
    port = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("missing port");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  int p = -1;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p < 0 || p > 65535) {
    return bad("invalid port");
  }
  a.port = p;
  a.host = host == "localhost" ? "127.0.0.1" : (host.empty() ? "0.0.0.0" : std::string(host));
  return a;
}

}  // namespace etcdpp::server
