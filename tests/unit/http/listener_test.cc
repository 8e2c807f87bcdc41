#include "http/listener.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/un.h>

#include <future>
#include <mutex>

#include "test_util.h"

namespace etcdpp::http {
namespace {

using testing::Dial;
using testing::Reader;
using testing::SendAll;

// What the gRPC side received: the fd's properties and its first bytes.
struct Handoff {
  std::mutex mu;
  std::vector<int> fds;
  std::promise<void> first;
  bool signalled = false;
  void Take(int fd) {
    std::lock_guard<std::mutex> lk(mu);
    fds.push_back(fd);
    if (!signalled) {
      signalled = true;
      first.set_value();
    }
  }
  ~Handoff() {
    for (int fd : fds)
      close(fd);
  }
};

class ListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = std::make_shared<Router>();
    router->Handle("/ping", [](const Request&, ResponseWriter& w) { w.Send(200, {}, "pong"); });
    server_ = std::make_unique<Server>(ServerOptions{}, router);
  }
  void Start(ListenerOptions::Mode mode,
             std::chrono::milliseconds sniff_timeout = std::chrono::seconds(30)) {
    int fd = testing::BindLoopback(&port_);
    ASSERT_GE(fd, 0);
    ListenerOptions o;
    o.mode = mode;
    o.http = server_.get();
    o.grpc = [this](int c) { handoff_.Take(c); };
    o.sniff_timeout = sniff_timeout;
    auto l = Listener::Start(fd, o);
    ASSERT_TRUE(l.ok());
    listener_ = std::move(*l);
  }
  void TearDown() override {
    if (listener_) listener_->Stop();
    server_->Shutdown();
  }
  std::string Ping(int fd) {
    if (!SendAll(fd, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")) return "";
    Reader rd(fd);
    return rd.Read().body;
  }

  Handoff handoff_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Listener> listener_;
  int port_ = 0;
};

void ExpectGrpcReady(int fd) {
  int nodelay = 0;
  socklen_t len = sizeof(nodelay);
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);
  EXPECT_NE(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  // The preface is still there for gRPC to read.
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 20000), 1);
  char buf[64];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);
  ASSERT_GE(n, static_cast<ssize_t>(kHttp2Preface.size()));
  EXPECT_EQ(std::string_view(buf, kHttp2Preface.size()), kHttp2Preface);
}

TEST_F(ListenerTest, Sniff_Http2PrefaceGoesToGrpcUnread) {
  Start(ListenerOptions::Mode::kSniff);
  int c = Dial(port_);
  ASSERT_TRUE(SendAll(c, std::string(kHttp2Preface) + "frames"));
  handoff_.first.get_future().wait();
  std::lock_guard<std::mutex> lk(handoff_.mu);
  ASSERT_EQ(handoff_.fds.size(), 1u);
  ExpectGrpcReady(handoff_.fds[0]);
  close(c);
}

TEST_F(ListenerTest, Sniff_PrefaceInPieces) {
  Start(ListenerOptions::Mode::kSniff);
  int c = Dial(port_);
  ASSERT_TRUE(SendAll(c, kHttp2Preface.substr(0, 5)));
  // Meanwhile HTTP on another connection is served.
  int h = Dial(port_);
  EXPECT_EQ(Ping(h), "pong");
  ASSERT_TRUE(SendAll(c, kHttp2Preface.substr(5)));
  handoff_.first.get_future().wait();
  std::lock_guard<std::mutex> lk(handoff_.mu);
  ASSERT_EQ(handoff_.fds.size(), 1u);
  ExpectGrpcReady(handoff_.fds[0]);
  close(c);
  close(h);
}

TEST_F(ListenerTest, Sniff_HttpServedAndPRIMethodPrefixIsHttp) {
  Start(ListenerOptions::Mode::kSniff);
  int h = Dial(port_);
  EXPECT_EQ(Ping(h), "pong");
  EXPECT_EQ(Ping(h), "pong");  // keep-alive across the hand-over
  close(h);
  int p = Dial(port_);
  ASSERT_TRUE(SendAll(p, "PRI /x HTTP/1.1\r\nHost: x\r\n\r\n"));
  Reader rd(p);
  EXPECT_EQ(rd.Read().status, 404);
  close(p);
  std::lock_guard<std::mutex> lk(handoff_.mu);
  EXPECT_TRUE(handoff_.fds.empty());
}

TEST_F(ListenerTest, Sniff_SilentClientDoesNotBlockOthersAndTimesOut) {
  Start(ListenerOptions::Mode::kSniff, std::chrono::milliseconds(300));
  std::vector<int> silent;
  for (int i = 0; i < 20; i++)
    silent.push_back(Dial(port_));
  for (int i = 0; i < 5; i++) {
    int h = Dial(port_);
    EXPECT_EQ(Ping(h), "pong");
    close(h);
  }
  for (int s : silent) {
    EXPECT_TRUE(testing::WaitClosed(s));  // closed at the sniff timeout
    close(s);
  }
}

TEST_F(ListenerTest, GrpcOnly_NoSniffing) {
  Start(ListenerOptions::Mode::kGrpcOnly);
  int c = Dial(port_);  // says nothing: handed over at once anyway
  handoff_.first.get_future().wait();
  close(c);
}

TEST_F(ListenerTest, UnixSocket) {
  char dir[] = "/tmp/http_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/sock";
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  snprintf(a.sun_path, sizeof(a.sun_path), "%s", path.c_str());
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ListenerOptions o;
  o.http = server_.get();
  o.grpc = [this](int c) { handoff_.Take(c); };
  o.unix_path = path;
  auto l = Listener::Start(fd, o);
  ASSERT_TRUE(l.ok());
  int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(Ping(c), "pong");
  close(c);
  (*l)->Stop();
  EXPECT_NE(access(path.c_str(), F_OK), 0);  // removed on stop, as Go does
  rmdir(dir);
}

TEST_F(ListenerTest, ManyConcurrentConnections) {
  Start(ListenerOptions::Mode::kSniff);
  std::vector<std::future<std::string>> results;
  for (int i = 0; i < 50; i++) {
    results.push_back(std::async(std::launch::async, [this] {
      int h = Dial(port_);
      std::string a = Ping(h) + Ping(h);
      close(h);
      return a;
    }));
  }
  for (auto& r : results)
    EXPECT_EQ(r.get(), "pongpong");
}

}  // namespace
}  // namespace etcdpp::http
