#include "http/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace etcdpp::http {
namespace {

using Clock = std::chrono::steady_clock;
// How often a connection that sent part of the preface is peeked again.
constexpr auto kPartialRetry = std::chrono::milliseconds(5);
// After EMFILE/ENFILE: the listening socket stays readable, so pause accepting.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

std::string RemoteString(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    std::string out = "[";
    out += host;
    out += "]:";
    out += std::to_string(ntohs(a->sin6_port));
    return out;
  }
  return "@";  // unix socket peers have no name (Go prints "@")
}

void SetBlocking(int fd, bool blocking) {
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) fcntl(fd, F_SETFL, blocking ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK));
}

}  // namespace

Result<std::unique_ptr<Listener>> Listener::Start(int listen_fd, ListenerOptions opts) {
  if (opts.mode != ListenerOptions::Mode::kHttpOnly && !opts.grpc) {
    close(listen_fd);
    return Status::InvalidArgument("listener: no gRPC handler");
  }
  if (opts.mode != ListenerOptions::Mode::kGrpcOnly && opts.http == nullptr) {
    close(listen_fd);
    return Status::InvalidArgument("listener: no HTTP server");
  }
  if (listen(listen_fd, SOMAXCONN) != 0) {
    int err = errno;
    close(listen_fd);
    return Status::Unavailable("listen " + opts.name + ": " + std::strerror(err));
  }
  SetBlocking(listen_fd, false);
  int wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    close(listen_fd);
    return Status::Unavailable(std::string("eventfd: ") + std::strerror(errno));
  }
  std::unique_ptr<Listener> l(new Listener(listen_fd, wake, std::move(opts)));
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len);
  l->is_tcp_ = ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
  l->thread_ = std::thread([p = l.get()] { p->AcceptLoop(); });
  return l;
}

Listener::Listener(int fd, int wake_fd, ListenerOptions opts)
    : fd_(fd), wake_fd_(wake_fd), opts_(std::move(opts)) {}

Listener::~Listener() {
  Stop();
}

void Listener::Stop() {
  if (stopped_) return;
  stopped_ = true;
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  close(fd_);
  close(wake_fd_);
  if (!opts_.unix_path.empty()) unlink(opts_.unix_path.c_str());
}

void Listener::ToHttp(int fd, std::string remote) {
  // The HTTP server's connection threads use blocking I/O with poll for timeouts.
  SetBlocking(fd, true);
  opts_.http->ServeAsync(fd, std::move(remote));
}

void Listener::ToGrpc(int fd) {
  // gRPC's event engine needs a non-blocking socket (it is, from accept4).
  opts_.grpc(fd);
}

void Listener::AcceptReady() {
  // Bounded per round so sniffing and the wake-up are not starved.
  for (int i = 0; i < 64; i++) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    int c = accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        LOG_WARN("accept failed; pausing", {"address", opts_.name},
                 {"error", std::strerror(errno)});
        accept_paused_until_ = Clock::now() + kAcceptBackoff;
      }
      return;  // EAGAIN: drained
    }
    if (is_tcp_) {
      // Small writes (gRPC frames, streamed chunks) leave at once (Go's default too).
      int one = 1;
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    switch (opts_.mode) {
      case ListenerOptions::Mode::kGrpcOnly:
        ToGrpc(c);
        break;
      case ListenerOptions::Mode::kHttpOnly:
        ToHttp(c, RemoteString(ss));
        break;
      case ListenerOptions::Mode::kSniff: {
        Pending p{c, RemoteString(ss), Clock::now() + opts_.sniff_timeout};
        // Usually the first bytes are there already (clients speak first).
        if (!Sniff(p)) pending_.push_back(std::move(p));
        break;
      }
    }
  }
}

bool Listener::Sniff(Pending& p) {
  char buf[kHttp2Preface.size()];
  ssize_t n = recv(p.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  if (n <= 0) {
    close(p.fd);  // EOF or error before a single byte
    return true;
  }
  size_t got = static_cast<size_t>(n);
  if (std::string_view(buf, got) != kHttp2Preface.substr(0, got)) {
    ToHttp(p.fd, std::move(p.remote));
    return true;
  }
  if (got == kHttp2Preface.size()) {
    ToGrpc(p.fd);
    return true;
  }
  p.retry_at = Clock::now() + kPartialRetry;
  return false;
}

void Listener::AcceptLoop() {
  std::vector<pollfd> fds;
  for (;;) {
    auto now = Clock::now();
    // Expired or due-for-retry pending connections first.
    auto next = now + std::chrono::hours(1);
    for (size_t i = 0; i < pending_.size();) {
      Pending& p = pending_[i];
      bool done = false;
      if (now >= p.deadline) {
        close(p.fd);  // said nothing in time
        done = true;
      } else if (p.retry_at != Clock::time_point{} && now >= p.retry_at) {
        p.retry_at = {};
        done = Sniff(p);
      }
      if (done) {
        pending_[i] = std::move(pending_.back());
        pending_.pop_back();
        continue;
      }
      next = std::min(next, p.deadline);
      if (p.retry_at != Clock::time_point{}) next = std::min(next, p.retry_at);
      i++;
    }
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    bool accepting = now >= accept_paused_until_;
    if (accepting) {
      fds.push_back({fd_, POLLIN, 0});
    } else {
      next = std::min(next, accept_paused_until_);
    }
    size_t first_pending = fds.size();
    std::vector<size_t> which;  // pollfd index -> pending_ index
    for (size_t i = 0; i < pending_.size(); i++) {
      if (pending_[i].retry_at != Clock::time_point{}) continue;
      fds.push_back({pending_[i].fd, POLLIN, 0});
      which.push_back(i);
    }
    auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    int rc = poll(fds.data(), fds.size(), static_cast<int>(std::max<int64_t>(wait_ms, 0)));
    if (rc < 0 && errno != EINTR) {
      LOG_ERROR("poll failed in the accept loop", {"error", std::strerror(errno)});
      break;
    }
    if (rc <= 0) continue;
    if (fds[0].revents != 0) break;  // Stop()
    // Sniff the ready pending ones (indices collected before AcceptReady
    // appends new ones; removal from the back keeps earlier indices valid).
    std::vector<size_t> done;
    for (size_t k = first_pending; k < fds.size(); k++) {
      if (fds[k].revents == 0) continue;
      if (Sniff(pending_[which[k - first_pending]])) done.push_back(which[k - first_pending]);
    }
    std::sort(done.rbegin(), done.rend());
    for (size_t i : done) {
      pending_[i] = std::move(pending_.back());
      pending_.pop_back();
    }
    if (accepting && fds[1].revents != 0) AcceptReady();
  }
  for (auto& p : pending_)
    close(p.fd);
  pending_.clear();
}

}  // namespace etcdpp::http
