// A ResponseWriter that records what a handler answered.
#pragma once

#include <string>

#include "http/http.h"

namespace etcdpp::testing {

class FakeWriter : public http::ResponseWriter {
 public:
  void Send(int st, http::Headers h, std::string b) override {
    sends++;
    status = st;
    headers = std::move(h);
    body = std::move(b);
  }
  bool StartStream(int, http::Headers) override { return false; }
  bool WriteChunk(std::string_view) override { return false; }
  void EndStream() override {}
  bool ClientGone() override { return false; }

  const std::string* Header(const std::string& name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return &v;
    return nullptr;
  }

  int sends = 0;
  int status = 0;
  http::Headers headers;
  std::string body;
};

inline http::Request MakeRequest(std::string method, std::string target) {
  http::Request r;
  r.method = std::move(method);
  r.target = target;
  size_t q = target.find('?');
  r.path = http::Request::PercentDecode(target.substr(0, q));
  r.query = q == std::string::npos ? "" : target.substr(q + 1);
  return r;
}

// Routes like the server: exact, then prefix; 404 when nothing matches.
inline FakeWriter Serve(const http::Router& router, std::string method, std::string target) {
  FakeWriter w;
  http::Request r = MakeRequest(std::move(method), std::move(target));
  if (const http::Handler* h = router.Match(r.path)) {
    (*h)(r, w);
  } else {
    w.Send(404, {}, "404 page not found\n");
  }
  return w;
}

}  // namespace etcdpp::testing
