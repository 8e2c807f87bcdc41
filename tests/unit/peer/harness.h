// Test harness: a member = a Transport + its own grpc::Server on 127.0.0.1 + a Handler that
// records every callback and lets the test wait for conditions.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "peer/transport.h"

namespace etcdpp::peer::testing {

using namespace std::chrono_literals;

// Generous: the machine is shared and busy.
inline constexpr auto kWait = 20s;

class RecordingHandler : public Handler {
 public:
  void Process(raft::Message m) override {
    std::lock_guard<std::mutex> lk(mu);
    msgs.push_back(std::move(m));
    cv.notify_all();
  }
  void ProcessSnapshot(raft::Message m, std::string db_path) override {
    std::lock_guard<std::mutex> lk(mu);
    snaps.emplace_back(std::move(m), std::move(db_path));
    cv.notify_all();
  }
  void ReportUnreachable(uint64_t id) override {
    std::lock_guard<std::mutex> lk(mu);
    ++unreachable[id];
    cv.notify_all();
  }
  void ReportSnapshot(uint64_t id, bool ok) override {
    std::lock_guard<std::mutex> lk(mu);
    snap_reports.emplace_back(id, ok);
    cv.notify_all();
  }
  bool IsRemoved(uint64_t id) override {
    std::lock_guard<std::mutex> lk(mu);
    return removed.count(id) != 0;
  }
  void ReportRejected(uint64_t id, const Status& st) override {
    if (on_rejected) on_rejected(id, st);
    std::lock_guard<std::mutex> lk(mu);
    rejected.emplace_back(id, st);
    cv.notify_all();
  }
  void FillMembers(peerpb::MembersResponse* out) override {
    std::lock_guard<std::mutex> lk(mu);
    *out = members;
  }

  // Waits (without polling) until pred() holds under mu; false on timeout.
  bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, timeout, pred);
  }
  size_t MsgCount() {
    std::lock_guard<std::mutex> lk(mu);
    return msgs.size();
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<raft::Message> msgs;
  std::vector<std::pair<raft::Message, std::string>> snaps;
  std::map<uint64_t, int> unreachable;
  std::vector<std::pair<uint64_t, bool>> snap_reports;
  std::vector<std::pair<uint64_t, Status>> rejected;
  std::set<uint64_t> removed;
  peerpb::MembersResponse members;
  std::function<void(uint64_t, const Status&)> on_rejected;  // set before use, called unlocked
};

inline std::string MakeTempDir() {
  char tmpl[] = "/tmp/etcdpp_peer_test_XXXXXX";
  char* d = mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return d ? d : "";
}

// A port nobody listens on, kept bound (SO_REUSEPORT, not listening: connections are
// refused) until Release(), so a grpc::Server (which sets SO_REUSEPORT too) can take it
// later without racing other processes for it.
class ReservedPort {
 public:
  ReservedPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~ReservedPort() { Release(); }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void Release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// A TCP listener that never accepts: connects complete in the kernel, then nothing happens
// (an HTTP/2 handshake never finishes), like a blackholed peer.
class BlackholeListener {
 public:
  BlackholeListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(a);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~BlackholeListener() { ::close(fd_); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

struct Member {
  explicit Member(uint64_t id, uint64_t cluster_id = 0x1000) {
    snap_dir = MakeTempDir() + "/snap";
    Options o;
    o.local_id = id;
    o.cluster_id = cluster_id;
    o.snap_dir = snap_dir;
    o.backoff_min = 20ms;
    o.backoff_max = 200ms;
    opts = o;
  }
  ~Member() {
    Shutdown();
    std::filesystem::remove_all(std::filesystem::path(snap_dir).parent_path());
  }
  void Create() { transport = std::make_unique<Transport>(opts, &handler); }
  // port 0: any.
  void Serve(int want_port = 0) {
    if (!transport) Create();
    grpc::ServerBuilder b;
    ConfigurePeerServerBuilder(b);
    b.AddListeningPort("127.0.0.1:" + std::to_string(want_port), grpc::InsecureServerCredentials(),
                       &port);
    b.RegisterService(transport->service());
    server = b.BuildAndStart();
    ASSERT_NE(server, nullptr);
    ASSERT_GT(port, 0);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  void Shutdown() {
    // Stop first: it cancels the incoming streams that would keep Shutdown() waiting.
    if (transport) transport->Stop();
    if (server) server->Shutdown(std::chrono::system_clock::now() + 2s);
    server.reset();
    transport.reset();
  }

  Options opts;
  std::string snap_dir;
  RecordingHandler handler;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

inline raft::Message App(uint64_t from, uint64_t to, uint64_t index, size_t data_bytes = 8) {
  raft::Message m;
  m.type = raft::MessageType::kApp;
  m.from = from;
  m.to = to;
  m.term = 3;
  m.index = index;
  raft::Entry e;
  e.term = 3;
  e.index = index + 1;
  e.data.assign(data_bytes, static_cast<char>('a' + index % 26));
  m.entries.push_back(std::move(e));
  return m;
}

}  // namespace etcdpp::peer::testing
