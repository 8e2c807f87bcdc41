// The HTTP/1.1 server of the client, metrics and peer ports: serves accepted
// connections, one thread per connection (handlers run synchronously on it),
// with keep-alive, pipelining, Content-Length and chunked request bodies,
// "Expect: 100-continue", HTTP/1.0, and Go's net/http answers to malformed
// or oversized input. It never listens itself: src/http/listener.h accepts.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "http/http.h"

namespace etcdpp::http {

struct ServerOptions {
  // Go's DefaultMaxHeaderBytes (1 MiB): a longer head gets 431.
  size_t max_header_bytes = 1 << 20;
  // A longer body (declared or received) gets 413 and the connection closes.
  size_t max_body_bytes = 4 << 20;
  // A keep-alive connection idle this long between requests is closed.
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  // Once a request has begun, all of it must arrive within this.
  std::chrono::milliseconds read_timeout{std::chrono::minutes(1)};
  // One send() that makes no progress this long fails the connection.
  std::chrono::milliseconds write_timeout{std::chrono::minutes(1)};
  // Shutdown(): how long in-flight exchanges may take to finish.
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(5)};
};

class Server {
 public:
  Server(ServerOptions opts, std::shared_ptr<const Router> router);
  ~Server();  // Shutdown()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Replaces the routes for requests that start from now on (e.g. the peer
  // port learns /version once the member exists).
  void SetRouter(std::shared_ptr<const Router> router);

  // Serves `fd` (a connected stream socket; ownership passes to the server)
  // on a new thread the server owns and joins. `remote` is for logs and
  // Request::remote. After BeginShutdown the fd is closed at once.
  void ServeAsync(int fd, std::string remote);
  // The same on the calling thread; returns when the connection ends.
  void Serve(int fd, std::string remote);

  // Stops taking requests: idle connections are shut down at once, and
  // ResponseWriter::ClientGone() turns true for in-flight ones. Non-blocking.
  void BeginShutdown();
  // BeginShutdown, then waits up to shutdown_grace for in-flight exchanges,
  // then shuts every remaining socket down (shutdown(2) wakes blocked
  // reads and writes) and joins every connection thread. Idempotent.
  void Shutdown();

  bool ShuttingDown() const;
  size_t ActiveConnections() const;
  const ServerOptions& options() const { return opts_; }

 private:
  friend class Connection;
  struct Conn {
    int fd;
    bool busy = false;  // a handler is running (not idle between requests)
  };
  // Registers a connection; false when shutting down (caller closes fd).
  bool Register(Conn* c);
  void Unregister(Conn* c);
  // Marks the connection busy/idle; false if the server is shutting down
  // and the connection should end instead.
  bool SetBusy(Conn* c, bool busy);
  std::shared_ptr<const Router> router() const;
  void LingerBeforeClose(int fd);
  void ReapFinishedLocked();

  const ServerOptions opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // signalled when a connection ends
  std::shared_ptr<const Router> router_;
  bool stopping_ = false;
  std::list<Conn*> conns_;
  struct Worker {
    std::thread thread;
    bool done = false;
  };
  std::list<Worker> workers_;  // ServeAsync threads; finished ones reaped lazily
};

}  // namespace etcdpp::http
