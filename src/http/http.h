// The HTTP/1.1 side of the client port (ARCHITECTURE.md §7): what a handler
// sees and how it answers. The server (src/http/server.*) parses requests,
// routes them by path and calls the handler synchronously on the
// connection's own thread; the handler returns when its exchange is over
// (a streaming handler, e.g. the gateway's watch, loops until the stream or
// the client ends). The gateway, health, metrics and version handlers are
// written against this header only, so they are testable without sockets.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etcdpp::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target: "/health?serializable=true"
  std::string path;    // target up to '?', percent-decoded: "/health"
  std::string query;   // raw text after '?': "serializable=true" ("" if none)
  Headers headers;     // names lower-cased, values trimmed, in arrival order
  std::string body;    // whole body (Content-Length or de-chunked)
  std::string remote;  // peer address "127.0.0.1:51234" (for logs)

  // First header with this (lower-case) name, or nullptr.
  const std::string* Header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return &v;
    return nullptr;
  }
  // Query parameters, percent-decoded ("a=1&b&a=2" -> a:[1,2], b:[""]).
  std::map<std::string, std::vector<std::string>> QueryParams() const {
    std::map<std::string, std::vector<std::string>> out;
    size_t i = 0;
    while (i <= query.size() && !query.empty()) {
      size_t amp = query.find('&', i);
      if (amp == std::string::npos) amp = query.size();
      std::string_view part(query.data() + i, amp - i);
      if (!part.empty()) {
        size_t eq = part.find('=');
        std::string k = PercentDecode(part.substr(0, eq));
        std::string v = eq == std::string_view::npos ? "" : PercentDecode(part.substr(eq + 1));
        out[k].push_back(std::move(v));
      }
      i = amp + 1;
    }
    return out;
  }

  // "%2F" -> "/", "+" -> " " (form encoding, as Go's url.ParseQuery).
  static std::string PercentDecode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
        i += 2;
      } else if (s[i] == '+') {
        out.push_back(' ');
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  }
};

// One exchange's answer. Exactly one of Send() or StartStream()..EndStream()
// per request; the server writes a default 500 if the handler does neither.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // The whole response. Content-Length is added; `headers` must not carry it.
  virtual void Send(int status, Headers headers, std::string body) = 0;
  // A streamed response (Transfer-Encoding: chunked). Each WriteChunk is one
  // chunk, flushed at once (the gateway's watch events must not wait).
  // Return false once the client has gone; the handler should then stop.
  virtual bool StartStream(int status, Headers headers) = 0;
  virtual bool WriteChunk(std::string_view data) = 0;
  virtual void EndStream() = 0;
  // Non-blocking: true when the client closed its side or the server is
  // shutting down. A streaming handler that is idle polls this (e.g. every
  // 100 ms) so an abandoned stream frees its resources promptly.
  virtual bool ClientGone() = 0;
};

using Handler = std::function<void(const Request&, ResponseWriter&)>;

// Path routing: exact paths first, then the longest matching prefix.
class Router {
 public:
  void Handle(std::string path, Handler h) { exact_[std::move(path)] = std::move(h); }
  void HandlePrefix(std::string prefix, Handler h) { prefix_[std::move(prefix)] = std::move(h); }
  // nullptr when nothing matches (the server answers Go's "404 page not found").
  const Handler* Match(std::string_view path) const {
    if (auto it = exact_.find(std::string(path)); it != exact_.end()) return &it->second;
    const Handler* best = nullptr;
    size_t best_len = 0;
    for (const auto& [p, h] : prefix_) {
      if (path.substr(0, p.size()) == p && p.size() >= best_len) {
        best = &h;
        best_len = p.size();
      }
    }
    return best;
  }

 private:
  std::map<std::string, Handler> exact_;
  std::map<std::string, Handler> prefix_;
};

}  // namespace etcdpp::http
