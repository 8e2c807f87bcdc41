// Loopback helpers for the HTTP tests: a listening socket on a random port,
// a raw client socket, and a small HTTP/1.1 response reader.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>

namespace etcdpp::http::testing {

// Bound (not listening) TCP socket on 127.0.0.1, random port.
inline int BindLoopback(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return -1;
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// Connected client socket; reads time out after 20 s (a hang fails, not blocks).
inline int Dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

inline bool SendAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    s.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// True when the peer closed (recv returns 0) within 20 s.
inline bool WaitClosed(int fd) {
  char b[256];
  for (;;) {
    ssize_t n = recv(fd, b, sizeof(b), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

struct Response {
  int status = 0;
  std::string status_line;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::vector<std::string> chunks;  // chunked bodies, chunk by chunk
  bool ok = false;
};

class Reader {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  // One line without its CRLF; false on EOF/timeout.
  bool Line(std::string* out) {
    for (;;) {
      size_t nl = buf_.find("\r\n");
      if (nl != std::string::npos) {
        *out = buf_.substr(0, nl);
        buf_.erase(0, nl + 2);
        return true;
      }
      if (!Fill()) return false;
    }
  }
  bool Bytes(size_t n, std::string* out) {
    while (buf_.size() < n)
      if (!Fill()) return false;
    *out = buf_.substr(0, n);
    buf_.erase(0, n);
    return true;
  }
  std::string Rest() {
    while (Fill()) {
    }
    std::string r = std::move(buf_);
    buf_.clear();
    return r;
  }
  // Status line and headers.
  bool Head(Response* r) {
    std::string line;
    if (!Line(&r->status_line)) return false;
    r->status = std::stoi(r->status_line.substr(9, 3));
    while (Line(&line) && !line.empty()) {
      size_t c = line.find(':');
      std::string k = line.substr(0, c);
      for (auto& ch : k)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      r->headers[k] = line.substr(c + 2);
    }
    return true;
  }
  // One chunk of a chunked body; false at the last (empty) chunk.
  bool Chunk(std::string* data) {
    std::string size;
    if (!Line(&size)) return false;
    size_t n = std::stoul(size, nullptr, 16);
    if (n == 0) {
      std::string blank;
      Line(&blank);
      return false;
    }
    std::string crlf;
    return Bytes(n, data) && Bytes(2, &crlf);
  }
  Response Read(bool head_request = false) {
    Response r;
    if (!Head(&r)) return r;
    if (r.status == 100) return Read(head_request);
    if (head_request) {
      r.ok = true;
    } else if (r.headers.count("content-length")) {
      r.ok = Bytes(std::stoul(r.headers["content-length"]), &r.body);
    } else if (auto te = r.headers.find("transfer-encoding");
               te != r.headers.end() && te->second == "chunked") {
      std::string c;
      while (Chunk(&c)) {
        r.chunks.push_back(c);
        r.body += c;
      }
      r.ok = true;
    } else {
      r.body = Rest();
      r.ok = true;
    }
    return r;
  }

 private:
  bool Fill() {
    char b[4096];
    ssize_t n = recv(fd_, b, sizeof(b), 0);
    if (n <= 0) return false;
    buf_.append(b, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  std::string buf_;
};

}  // namespace etcdpp::http::testing
