#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "http/listener.h"
#include "test_util.h"

namespace etcdpp::http {
namespace {

using testing::Dial;
using testing::Reader;
using testing::SendAll;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_ = std::make_shared<Router>();
    router_->Handle("/echo", [](const Request& r, ResponseWriter& w) {
      w.Send(200, {{"Content-Type", "application/json"}, {"X-Method", r.method}},
             r.method + " " + r.path + "?" + r.query + " " + r.body);
    });
    router_->Handle("/nothing", [](const Request&, ResponseWriter&) {});
  }
  void Start(ServerOptions o = {}) {
    server_ = std::make_unique<Server>(o, router_);
    int fd = testing::BindLoopback(&port_);
    ASSERT_GE(fd, 0);
    ListenerOptions lo;
    lo.mode = ListenerOptions::Mode::kHttpOnly;
    lo.http = server_.get();
    auto l = Listener::Start(fd, lo);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    listener_ = std::move(*l);
  }
  void TearDown() override {
    if (listener_) listener_->Stop();
    if (server_) server_->Shutdown();
  }
  testing::Response Exchange(const std::string& raw) {
    int fd = Dial(port_);
    EXPECT_GE(fd, 0);
    EXPECT_TRUE(SendAll(fd, raw));
    Reader rd(fd);
    auto r = rd.Read(raw.rfind("HEAD", 0) == 0);
    close(fd);
    return r;
  }

  std::shared_ptr<Router> router_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Listener> listener_;
  int port_ = 0;
};

TEST_F(ServerTest, UnknownPath_GoNotFound) {
  Start();
  auto r = Exchange("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(r.body, "404 page not found\n");
  EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(r.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(r.headers["content-length"], "19");
  EXPECT_TRUE(r.headers.count("date"));
}

TEST_F(ServerTest, HandlerThatAnswersNothing_Gets500) {
  Start();
  auto r = Exchange("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 500);
}

TEST_F(ServerTest, KeepAliveAndPipelining) {
  Start();
  int fd = Dial(port_);
  Reader rd(fd);
  // Two requests in one write, then a third later on the same connection.
  ASSERT_TRUE(SendAll(fd,
                      "GET /echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"));
  auto r1 = rd.Read();
  auto r2 = rd.Read();
  EXPECT_EQ(r1.body, "GET /echo?a=1 ");
  EXPECT_EQ(r2.body, "POST /echo? abc");
  EXPECT_EQ(r2.headers["content-type"], "application/json");
  ASSERT_TRUE(SendAll(fd, "\r\nGET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto r3 = rd.Read();
  EXPECT_EQ(r3.body, "GET /echo? ");
  EXPECT_EQ(r3.headers["connection"], "close");
  EXPECT_TRUE(testing::WaitClosed(fd));
  close(fd);
}

TEST_F(ServerTest, Http10_ClosesUnlessKeepAlive) {
  Start();
  auto r = Exchange("GET /echo HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status_line, "HTTP/1.0 200 OK");
  int fd = Dial(port_);
  Reader rd(fd);
  ASSERT_TRUE(SendAll(fd, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r1 = rd.Read();
  EXPECT_EQ(r1.headers["connection"], "keep-alive");
  ASSERT_TRUE(SendAll(fd, "GET /echo HTTP/1.0\r\n\r\n"));
  auto r2 = rd.Read();
  EXPECT_EQ(r2.status, 200);
  EXPECT_TRUE(testing::WaitClosed(fd));
  close(fd);
}

TEST_F(ServerTest, ChunkedRequestBody) {
  Start();
  auto r = Exchange(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(r.body, "POST /echo? abcde");
}

TEST_F(ServerTest, ExpectContinue_SentBeforeBody) {
  Start();
  int fd = Dial(port_);
  Reader rd(fd);
  std::string body(2000, 'x');
  ASSERT_TRUE(SendAll(fd,
                      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      "Content-Length: 2000\r\n\r\n"));
  // curl waits for this before it sends the body.
  std::string line;
  ASSERT_TRUE(rd.Line(&line));
  EXPECT_EQ(line, "HTTP/1.1 100 Continue");
  ASSERT_TRUE(rd.Line(&line));
  EXPECT_EQ(line, "");
  ASSERT_TRUE(SendAll(fd, body));
  auto r = rd.Read();
  EXPECT_EQ(r.body, "POST /echo? " + body);
  close(fd);
}

TEST_F(ServerTest, Limits_413And431) {
  ServerOptions o;
  o.max_body_bytes = 100;
  o.max_header_bytes = 1000;
  Start(o);
  auto r = Exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  r = Exchange(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "40\r\n" +
      std::string(64, 'a') + "\r\n40\r\n" + std::string(64, 'a') + "\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 413);
  r = Exchange("GET /echo HTTP/1.1\r\nHost: x\r\nX: " + std::string(2000, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(r.body, "431 Request Header Fields Too Large");
  // Exactly at the limit is fine.
  r = Exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" +
               std::string(100, 'b'));
  EXPECT_EQ(r.status, 200);
}

TEST_F(ServerTest, Refused_ResponseSurvivesUnreadBody) {
  ServerOptions o;
  o.max_body_bytes = 100;
  Start(o);
  int fd = Dial(port_);
  // The client sends its whole body although the server refuses it at the
  // head: closing with that input unread would reset the 413 away.
  std::string body(300000, 'z');
  std::thread sender([&] {
    SendAll(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n" + body);
  });
  Reader rd(fd);
  auto r = rd.Read();
  sender.join();
  EXPECT_EQ(r.status, 413);
  close(fd);
}

TEST_F(ServerTest, Malformed_400ThenServesOthers) {
  Start();
  auto r = Exchange("THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "400 Bad Request");
  EXPECT_EQ(r.headers["connection"], "close");
  r = Exchange("GET /echo HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status_line, "HTTP/1.1 400 Bad Request: missing required Host header");
  EXPECT_EQ(r.body, "400 Bad Request: missing required Host header");
  r = Exchange("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
}

TEST_F(ServerTest, Head_NoBody) {
  Start();
  int fd = Dial(port_);
  Reader rd(fd);
  ASSERT_TRUE(
      SendAll(fd, "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r1 = rd.Read(/*head_request=*/true);
  EXPECT_EQ(r1.headers["content-length"], "12");  // "HEAD /echo? "
  auto r2 = rd.Read();                            // the next response starts right after the head
  EXPECT_EQ(r2.body, "GET /echo? ");
  close(fd);
}

TEST_F(ServerTest, Stream_EachChunkFlushed) {
  std::promise<void> chunk_read[3];
  router_->Handle("/stream", [&](const Request&, ResponseWriter& w) {
    ASSERT_TRUE(w.StartStream(200, {{"Content-Type", "application/json"}}));
    for (int i = 0; i < 3; i++) {
      ASSERT_TRUE(w.WriteChunk("{\"result\":" + std::to_string(i) + "}\n"));
      // The next chunk is written only after the client saw this one.
      chunk_read[i].get_future().wait();
    }
    w.EndStream();
  });
  Start();
  int fd = Dial(port_);
  Reader rd(fd);
  ASSERT_TRUE(SendAll(fd, "POST /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
  testing::Response r;
  ASSERT_TRUE(rd.Head(&r));
  EXPECT_EQ(r.headers["transfer-encoding"], "chunked");
  for (int i = 0; i < 3; i++) {
    std::string c;
    ASSERT_TRUE(rd.Chunk(&c));
    EXPECT_EQ(c, "{\"result\":" + std::to_string(i) + "}\n");
    chunk_read[i].set_value();
  }
  std::string c;
  EXPECT_FALSE(rd.Chunk(&c));  // the terminating chunk
  // Keep-alive after a stream.
  ASSERT_TRUE(SendAll(fd, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(rd.Read().status, 200);
  close(fd);
}

TEST_F(ServerTest, Stream_Http10HasNoChunkingAndCloses) {
  router_->Handle("/stream", [](const Request& r, ResponseWriter& w) {
    EXPECT_EQ(r.remote.rfind("127.0.0.1:", 0), 0u) << r.remote;
    w.StartStream(200, {});
    w.WriteChunk("a");
    w.WriteChunk("b");
    w.EndStream();
  });
  Start();
  auto r = Exchange("GET /stream HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(r.headers.count("transfer-encoding"), 0u);
  EXPECT_EQ(r.body, "ab");  // ended by the close
}

TEST_F(ServerTest, SetRouter_AppliesToLaterRequests) {
  Start();
  EXPECT_EQ(Exchange("GET /late HTTP/1.1\r\nHost: x\r\n\r\n").status, 404);
  auto r2 = std::make_shared<Router>();
  r2->Handle("/late", [](const Request&, ResponseWriter& w) { w.Send(200, {}, "late"); });
  server_->SetRouter(r2);
  EXPECT_EQ(Exchange("GET /late HTTP/1.1\r\nHost: x\r\n\r\n").body, "late");
}

TEST_F(ServerTest, UnknownExpectation_417) {
  Start();
  auto r =
      Exchange("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx");
  EXPECT_EQ(r.status, 417);
}

TEST_F(ServerTest, ClientGone_WhenClientCloses) {
  std::promise<void> started, ended;
  router_->Handle("/watch", [&](const Request&, ResponseWriter& w) {
    w.StartStream(200, {});
    w.WriteChunk("x");
    EXPECT_FALSE(w.ClientGone());
    started.set_value();
    // Deadline only as a failure bound; the loop ends when the client goes.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!w.ClientGone() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ended.set_value();
  });
  Start();
  int fd = Dial(port_);
  ASSERT_TRUE(SendAll(fd, "POST /watch HTTP/1.1\r\nHost: x\r\n\r\n"));
  started.get_future().wait();
  auto t0 = std::chrono::steady_clock::now();
  close(fd);
  ended.get_future().wait();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
}

TEST_F(ServerTest, Shutdown_WakesIdleAndStreamingConnections) {
  std::promise<void> started;
  std::atomic<bool> saw_gone{false};
  router_->Handle("/watch", [&](const Request&, ResponseWriter& w) {
    w.StartStream(200, {});
    started.set_value();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!w.ClientGone() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    saw_gone = w.ClientGone();
  });
  Start();
  int idle = Dial(port_);
  Reader rd(idle);
  ASSERT_TRUE(SendAll(idle, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(rd.Read().status, 200);  // now idle between requests
  int streaming = Dial(port_);
  ASSERT_TRUE(SendAll(streaming, "POST /watch HTTP/1.1\r\nHost: x\r\n\r\n"));
  started.get_future().wait();
  EXPECT_EQ(server_->ActiveConnections(), 2u);
  auto t0 = std::chrono::steady_clock::now();
  listener_->Stop();
  server_->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  EXPECT_TRUE(saw_gone);
  EXPECT_EQ(server_->ActiveConnections(), 0u);
  EXPECT_TRUE(testing::WaitClosed(idle));
  close(idle);
  close(streaming);
}

TEST_F(ServerTest, Shutdown_LetsInFlightRequestFinish) {
  std::promise<void> started, release;
  auto release_f = release.get_future().share();
  router_->Handle("/slow", [&, release_f](const Request&, ResponseWriter& w) {
    started.set_value();
    release_f.wait();
    w.Send(200, {}, "done");
  });
  Start();
  int fd = Dial(port_);
  ASSERT_TRUE(SendAll(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"));
  started.get_future().wait();
  std::thread stopper([&] { server_->Shutdown(); });
  server_->BeginShutdown();  // (idempotent) the shutdown is under way
  release.set_value();
  Reader rd(fd);
  auto r = rd.Read();
  EXPECT_EQ(r.body, "done");
  EXPECT_EQ(r.headers["connection"], "close");
  stopper.join();
  close(fd);
}

}  // namespace
}  // namespace etcdpp::http
