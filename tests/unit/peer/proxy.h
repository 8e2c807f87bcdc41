// A loopback TCP proxy that can be frozen: while frozen it forwards nothing and accepts
// nothing, but keeps every connection open (a blackholed network path, unlike a closed port
// that refuses). Test-only; one poll() thread.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace etcdpp::peer::testing {

class FreezableProxy {
 public:
  explicit FreezableProxy(int target_port) : target_port_(target_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = Loopback(0);
    EXPECT_EQ(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(listen_fd_, 64), 0);
    socklen_t len = sizeof(a);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(::pipe(wake_), 0);
    thread_ = std::thread([this] { Run(); });
  }
  ~FreezableProxy() {
    stop_ = true;
    Wake();
    thread_.join();
    for (auto& p : pairs_) {
      ::close(p.client);
      ::close(p.upstream);
    }
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void Freeze() {
    frozen_ = true;
    Wake();
  }
  void Thaw() {
    frozen_ = false;
    Wake();
  }

 private:
  struct Pair {
    int client;
    int upstream;
  };

  static sockaddr_in Loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    return a;
  }
  void Wake() {
    char c = 0;
    [[maybe_unused]] ssize_t n = ::write(wake_[1], &c, 1);
  }
  // Copies what is readable from `from` to `to`; false on EOF or error.
  static bool Pump(int from, int to) {
    char buf[65536];
    ssize_t n = ::read(from, buf, sizeof(buf));
    if (n <= 0) return false;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
      if (w <= 0) return false;
      off += w;
    }
    return true;
  }
  void Run() {
    while (!stop_) {
      bool frozen = frozen_;
      std::vector<pollfd> fds{{wake_[0], POLLIN, 0}};
      if (!frozen) {
        fds.push_back({listen_fd_, POLLIN, 0});
        for (auto& p : pairs_) {
          fds.push_back({p.client, POLLIN, 0});
          fds.push_back({p.upstream, POLLIN, 0});
        }
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents) {
        char buf[64];
        [[maybe_unused]] ssize_t n = ::read(wake_[0], buf, sizeof(buf));
        continue;  // re-read frozen_/stop_
      }
      if (frozen) continue;
      std::vector<Pair> alive;
      if (fds[1].revents & POLLIN) {
        int c = ::accept(listen_fd_, nullptr, nullptr);
        int u = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a = Loopback(target_port_);
        if (c >= 0 && ::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
          alive.push_back({c, u});
        } else {
          if (c >= 0) ::close(c);
          ::close(u);
        }
      }
      for (size_t i = 0; i < pairs_.size(); ++i) {
        const pollfd& pc = fds[2 + 2 * i];
        const pollfd& pu = fds[3 + 2 * i];
        bool ok = true;
        if (pc.revents) ok = Pump(pairs_[i].client, pairs_[i].upstream);
        if (ok && pu.revents) ok = Pump(pairs_[i].upstream, pairs_[i].client);
        if (ok) {
          alive.push_back(pairs_[i]);
        } else {
          ::close(pairs_[i].client);
          ::close(pairs_[i].upstream);
        }
      }
      pairs_.swap(alive);
    }
  }

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> frozen_{false};
  std::atomic<bool> stop_{false};
  std::vector<Pair> pairs_;  // Run() only (and the destructor after the join)
  std::thread thread_;
};

}  // namespace etcdpp::peer::testing
