// Accepts connections on one listening socket and hands each to gRPC or to
// the HTTP/1.1 server (ARCHITECTURE.md §7: one port, two protocols). In
// sniffing mode it peeks at the first bytes without consuming them: the
// HTTP/2 client preface means gRPC, anything else is HTTP/1.x. Connections
// still being sniffed wait in the accept thread's poll set, so a client that
// connects and sends nothing never blocks the accept loop or anyone else.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "http/server.h"

namespace etcdpp::http {

// What an HTTP/2 (gRPC) connection starts with (RFC 9113 §3.4).
inline constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct ListenerOptions {
  enum class Mode {
    kSniff,     // HTTP/2 preface -> grpc, anything else -> http
    kHttpOnly,  // every connection -> http (no sniffing)
    kGrpcOnly,  // every connection -> grpc (no sniffing)
  };
  Mode mode = Mode::kSniff;
  // Takes ownership of a connection whose first bytes (still unread) are the
  // HTTP/2 preface. The fd is non-blocking, close-on-exec and, for TCP, has
  // TCP_NODELAY. Called on the accept thread: must not block.
  std::function<void(int fd)> grpc;
  Server* http = nullptr;  // not owned; must outlive the listener
  // A connection that has not said which protocol it speaks by then is closed.
  std::chrono::milliseconds sniff_timeout{std::chrono::seconds(30)};
  // For unix sockets: the path, removed when the listener stops (as Go does).
  std::string unix_path;
  std::string name;  // for logs ("127.0.0.1:2379")
};

class Listener {
 public:
  // Takes ownership of `listen_fd` (a bound stream socket; listen(2) is
  // called here) and starts the accept thread.
  static Result<std::unique_ptr<Listener>> Start(int listen_fd, ListenerOptions opts);
  ~Listener();  // Stop()
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Stops accepting, closes connections still being sniffed, joins the
  // accept thread and closes the socket. Connections already handed over
  // are not touched (their server shuts them down). Idempotent.
  void Stop();

 private:
  struct Pending {
    int fd;
    std::string remote;
    std::chrono::steady_clock::time_point deadline;
    // Set while a partial preface is buffered: poll would report the socket
    // readable at once, so it is peeked again at this time instead.
    std::chrono::steady_clock::time_point retry_at{};
  };
  Listener(int fd, int wake_fd, ListenerOptions opts);
  void AcceptLoop();
  void AcceptReady();
  // Peeks at a pending connection: true when it was handed over or closed.
  bool Sniff(Pending& p);
  void ToHttp(int fd, std::string remote);
  void ToGrpc(int fd);

  int fd_;
  int wake_fd_;
  ListenerOptions opts_;
  bool is_tcp_ = true;
  std::vector<Pending> pending_;  // accept thread only
  std::chrono::steady_clock::time_point accept_paused_until_{};
  std::thread thread_;
  bool stopped_ = false;
};

}  // namespace etcdpp::http
