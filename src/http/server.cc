#include "http/server.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <utility>

#include "common/log.h"
#include "http/request_parser.h"
#include "http/status_text.h"

namespace etcdpp::http {
namespace {

using Clock = std::chrono::steady_clock;

std::string HttpDate() {
  char buf[64];
  time_t now = time(nullptr);
  tm t{};
  gmtime_r(&now, &t);
  strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &t);
  return buf;
}

bool NameIs(std::string_view name, std::string_view lower_name) {
  if (name.size() != lower_name.size()) return false;
  for (size_t i = 0; i < name.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(name[i])) != lower_name[i]) return false;
  }
  return true;
}

bool HasHeader(const Headers& h, std::string_view lower_name) {
  for (const auto& kv : h)
    if (NameIs(kv.first, lower_name)) return true;
  return false;
}

}  // namespace

// One connection's request loop and its ResponseWriter.
class Connection final : public ResponseWriter {
 public:
  Connection(Server* srv, Server::Conn* c, std::string remote)
      : srv_(srv), c_(c), fd_(c->fd), remote_(std::move(remote)) {}

  void Run();

  // --- ResponseWriter ---
  void Send(int status, Headers headers, std::string body) override;
  bool StartStream(int status, Headers headers) override;
  bool WriteChunk(std::string_view data) override;
  void EndStream() override;
  bool ClientGone() override;

 private:
  enum class Reply { kNone, kSent, kStreaming, kEnded };
  // Appends what arrives before `deadline` to buf_: >0 bytes read, 0 on
  // EOF, -1 on timeout or error.
  ssize_t ReadMore(Clock::time_point deadline);
  bool WriteAll(std::string_view data);
  // Go's answer to a request refused before routing; the connection closes.
  void WriteError(int status, std::string_view detail);
  std::string StatusLine(int status) const;
  // Common response headers; sets keep_alive_ false on "Connection: close".
  void AppendHeaders(std::string* out, const Headers& headers, bool has_body_type);
  bool ReadBody(const RequestHead& head, std::string* body);
  void Dispatch(const Request& req);

  Server* srv_;
  Server::Conn* c_;
  int fd_;
  std::string remote_;
  std::string buf_;  // received, not yet parsed
  // The exchange in progress.
  int minor_version_ = 1;
  bool keep_alive_ = true;
  bool head_method_ = false;
  Reply reply_ = Reply::kNone;
  // Atomic: ClientGone() may be polled from another thread than the writer.
  std::atomic<bool> write_failed_{false};
};

ssize_t Connection::ReadMore(Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return -1;
    pollfd p{fd_, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return -1;
    char tmp[16384];
    ssize_t n = recv(fd_, tmp, sizeof(tmp), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return n < 0 ? -1 : 0;
    buf_.append(tmp, static_cast<size_t>(n));
    return n;
  }
}

bool Connection::WriteAll(std::string_view data) {
  while (!data.empty() && !write_failed_) {
    // MSG_NOSIGNAL: a client that went away is an error, not SIGPIPE.
    ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      write_failed_ = true;  // includes SO_SNDTIMEO expiring (EAGAIN)
      break;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return !write_failed_;
}

std::string Connection::StatusLine(int status) const {
  std::string text(StatusText(status));
  if (text.empty()) text = "status code " + std::to_string(status);
  return std::string(minor_version_ == 0 ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(status) +
         " " + text + "\r\n";
}

void Connection::WriteError(int status, std::string_view detail) {
  // Go's server writes these itself (server.go): no Content-Length, then
  // close; the body repeats the status, with the detail after ": ".
  std::string text = std::to_string(status) + " " + std::string(StatusText(status));
  if (!detail.empty()) text += ": " + std::string(detail);
  std::string body = status == 501 ? "Unsupported transfer encoding" : text;
  if (status == 417) {
    WriteAll("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  WriteAll("HTTP/1.1 " + text +
           "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n" + body);
}

void Connection::AppendHeaders(std::string* out, const Headers& headers, bool has_body_type) {
  for (const auto& [k, v] : headers) {
    if (NameIs(k, "content-length") || NameIs(k, "transfer-encoding")) {
      continue;  // the server frames the body itself
    }
    if (NameIs(k, "connection") && v == "close") keep_alive_ = false;
    *out += k + ": " + v + "\r\n";
  }
  if (!HasHeader(headers, "date")) *out += "Date: " + HttpDate() + "\r\n";
  // Go sniffs a missing Content-Type; for the text and JSON we send that
  // comes out as text/plain.
  if (has_body_type && !HasHeader(headers, "content-type")) {
    *out += "Content-Type: text/plain; charset=utf-8\r\n";
  }
  if (srv_->ShuttingDown()) keep_alive_ = false;
  if (!keep_alive_) {
    if (!HasHeader(headers, "connection")) *out += "Connection: close\r\n";
  } else if (minor_version_ == 0) {
    *out += "Connection: keep-alive\r\n";
  }
}

void Connection::Send(int status, Headers headers, std::string body) {
  if (reply_ != Reply::kNone) {
    LOG_ERROR("http handler answered twice", {"status", std::to_string(status)});
    return;
  }
  reply_ = Reply::kSent;
  bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
  std::string out = StatusLine(status);
  AppendHeaders(&out, headers, !body.empty() && !no_body);
  if (!no_body) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "\r\n";
  if (!head_method_ && !no_body) out += body;
  WriteAll(out);
}

bool Connection::StartStream(int status, Headers headers) {
  if (reply_ != Reply::kNone) {
    LOG_ERROR("http handler answered twice", {"status", std::to_string(status)});
    return false;
  }
  reply_ = Reply::kStreaming;
  // HTTP/1.0 has no chunked encoding: the stream ends when the server closes.
  if (minor_version_ == 0) keep_alive_ = false;
  std::string out = StatusLine(status);
  AppendHeaders(&out, headers, false);
  if (minor_version_ == 1) out += "Transfer-Encoding: chunked\r\n";
  out += "\r\n";
  return WriteAll(out);
}

bool Connection::WriteChunk(std::string_view data) {
  if (reply_ != Reply::kStreaming || write_failed_) return false;
  if (data.empty() || head_method_) return true;  // an empty chunk would end the stream
  if (minor_version_ == 0) return WriteAll(data);
  char size[32];
  int n = snprintf(size, sizeof(size), "%zx\r\n", data.size());
  std::string out(size, static_cast<size_t>(n));
  out.append(data);
  out += "\r\n";
  // One send per chunk: each event reaches the client at once (TCP_NODELAY
  // is set by the listener).
  return WriteAll(out);
}

void Connection::EndStream() {
  if (reply_ != Reply::kStreaming) return;
  reply_ = Reply::kEnded;
  if (minor_version_ == 1 && !head_method_) WriteAll("0\r\n\r\n");
}

bool Connection::ClientGone() {
  if (write_failed_ || srv_->ShuttingDown()) return true;
  pollfd p{fd_, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  if (p.revents & POLLIN) {
    // Data is a pipelined request (not a goodbye); 0 bytes is EOF.
    char b;
    ssize_t n = recv(fd_, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
  }
  return false;
}

bool Connection::ReadBody(const RequestHead& head, std::string* body) {
  const ServerOptions& o = srv_->options();
  auto deadline = Clock::now() + o.read_timeout;
  if (head.chunked) {
    ChunkedDecoder dec;
    for (;;) {
      size_t used = 0;
      auto st = dec.Feed(buf_, &used, body, o.max_body_bytes);
      buf_.erase(0, used);
      if (st == ChunkedDecoder::State::kDone) return true;
      if (st == ChunkedDecoder::State::kTooLarge) {
        WriteError(413, "");
        return false;
      }
      if (st == ChunkedDecoder::State::kError) {
        WriteError(400, "");
        return false;
      }
      if (ReadMore(deadline) <= 0) return false;
    }
  }
  while (buf_.size() < head.content_length) {
    if (ReadMore(deadline) <= 0) return false;
  }
  body->assign(buf_, 0, head.content_length);
  buf_.erase(0, head.content_length);
  return true;
}

void Connection::Dispatch(const Request& req) {
  auto router = srv_->router();
  const Handler* h = router ? router->Match(req.path) : nullptr;
  if (h == nullptr) {
    // Go's http.NotFound.
    Send(404,
         {{"Content-Type", "text/plain; charset=utf-8"}, {"X-Content-Type-Options", "nosniff"}},
         "404 page not found\n");
    return;
  }
  (*h)(req, *this);
  if (reply_ == Reply::kNone) {
    Send(500, {{"Content-Type", "text/plain; charset=utf-8"}}, "Internal Server Error\n");
  } else if (reply_ == Reply::kStreaming) {
    EndStream();
  }
}

void Connection::Run() {
  const ServerOptions& o = srv_->options();
  for (;;) {
    // Head: the first byte may take up to the idle timeout, the rest of the
    // request the read timeout.
    auto deadline = Clock::now() + o.idle_timeout;
    bool started = false;
    size_t end = std::string::npos;
    for (;;) {
      // Go skips empty lines before a request line (clients send a stray
      // CRLF after a POST body).
      size_t skip = 0;
      while (skip < buf_.size() && (buf_[skip] == '\r' || buf_[skip] == '\n'))
        skip++;
      buf_.erase(0, skip);
      if (!buf_.empty() && !started) {
        started = true;
        deadline = Clock::now() + o.read_timeout;
      }
      end = FindHeadEnd(buf_);
      if (end != std::string::npos) break;
      if (buf_.size() > o.max_header_bytes) {
        WriteError(431, "");
        return;
      }
      if (ReadMore(deadline) <= 0) return;  // EOF, timeout or shutdown: Go closes silently
    }
    if (end > o.max_header_bytes) {
      WriteError(431, "");
      return;
    }
    ParseError err;
    RequestHead head = ParseRequestHead(std::string_view(buf_).substr(0, end), &err);
    buf_.erase(0, end);
    minor_version_ = head.minor_version;
    if (err.status != 0) {
      WriteError(err.status, err.detail);
      return;
    }
    keep_alive_ = head.keep_alive;
    head_method_ = head.request.method == "HEAD";
    reply_ = Reply::kNone;
    if (!head.chunked && head.content_length > o.max_body_bytes) {
      // Refused before reading it (and before "100 Continue").
      WriteError(413, "");
      return;
    }
    // curl waits (1 s) for this before it sends a body > 1 KiB.
    if (head.expect_continue && buf_.empty() && !WriteAll("HTTP/1.1 100 Continue\r\n\r\n")) {
      return;
    }
    Request& req = head.request;
    if (!ReadBody(head, &req.body)) return;
    req.remote = remote_;
    if (!srv_->SetBusy(c_, true)) return;
    Dispatch(req);
    if (!srv_->SetBusy(c_, false) || write_failed_ || !keep_alive_) return;
  }
}

Server::Server(ServerOptions opts, std::shared_ptr<const Router> router)
    : opts_(opts), router_(std::move(router)) {}

Server::~Server() {
  Shutdown();
}

void Server::SetRouter(std::shared_ptr<const Router> router) {
  std::lock_guard<std::mutex> lk(mu_);
  router_ = std::move(router);
}

std::shared_ptr<const Router> Server::router() const {
  std::lock_guard<std::mutex> lk(mu_);
  return router_;
}

bool Server::ShuttingDown() const {
  std::lock_guard<std::mutex> lk(mu_);
  return stopping_;
}

size_t Server::ActiveConnections() const {
  std::lock_guard<std::mutex> lk(mu_);
  return conns_.size();
}

bool Server::Register(Conn* c) {
  std::lock_guard<std::mutex> lk(mu_);
  if (stopping_) return false;
  conns_.push_back(c);
  return true;
}

void Server::Unregister(Conn* c) {
  std::lock_guard<std::mutex> lk(mu_);
  conns_.remove(c);
  // Closed under the lock: Shutdown() never calls shutdown(2) on a number
  // that was closed and reused meanwhile.
  close(c->fd);
  cv_.notify_all();
}

bool Server::SetBusy(Conn* c, bool busy) {
  std::lock_guard<std::mutex> lk(mu_);
  c->busy = busy;
  // A request that arrived complete is still answered during shutdown;
  // the connection ends after it.
  return busy || !stopping_;
}

void Server::Serve(int fd, std::string remote) {
  Conn c{fd};
  if (!Register(&c)) {
    close(fd);
    return;
  }
  // Bounded writes: a client that stops reading cannot hold the thread.
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(opts_.write_timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((opts_.write_timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  {
    Connection conn(this, &c, std::move(remote));
    conn.Run();
  }
  LingerBeforeClose(fd);
  Unregister(&c);
}

void Server::LingerBeforeClose(int fd) {
  // Closing a socket with unread input sends a reset, which can destroy a
  // response (a 413, a 400) before the client reads it. So, as Go's
  // closeWriteAndWait: send FIN, then read and drop what the client still
  // sends, until it closes or a short while passes.
  if (ShuttingDown()) return;
  shutdown(fd, SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  size_t dropped = 0;
  char buf[16384];
  while (dropped < (4u << 20)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;
    dropped += static_cast<size_t>(n);
  }
}

void Server::ReapFinishedLocked() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->done) {
      it->thread.join();  // already returned (done is set as its last act)
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
}

void Server::ServeAsync(int fd, std::string remote) {
  std::lock_guard<std::mutex> lk(mu_);
  if (stopping_) {
    close(fd);
    return;
  }
  ReapFinishedLocked();
  workers_.emplace_back();
  Worker* w = &workers_.back();
  w->thread = std::thread([this, fd, w, remote = std::move(remote)]() mutable {
    Serve(fd, std::move(remote));
    std::lock_guard<std::mutex> lk2(mu_);
    w->done = true;
  });
}

void Server::BeginShutdown() {
  std::lock_guard<std::mutex> lk(mu_);
  if (stopping_) return;
  stopping_ = true;
  for (Conn* c : conns_) {
    // Idle (between requests or mid-head): wake its read now.
    if (!c->busy) shutdown(c->fd, SHUT_RDWR);
  }
}

void Server::Shutdown() {
  BeginShutdown();
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait_for(lk, opts_.shutdown_grace, [&] { return conns_.empty(); });
  for (Conn* c : conns_)
    shutdown(c->fd, SHUT_RDWR);
  if (!conns_.empty()) {
    LOG_WARN("http: connections still busy after the grace period; closing them",
             {"count", std::to_string(conns_.size())});
  }
  // Connections served by callers' own threads (Serve) end on their own now.
  cv_.wait(lk, [&] { return conns_.empty(); });
  std::list<Worker> workers = std::move(workers_);
  workers_.clear();
  lk.unlock();
  for (auto& w : workers)
    w.thread.join();
}

}  // namespace etcdpp::http
