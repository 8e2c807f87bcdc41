// gateway_proxy: a test tool that puts the gateway library in front of any
// gRPC endpoint (e.g. a real etcd), over a deliberately tiny HTTP/1.1 server
// (one request per connection, Content-Length bodies only). It lets
// tests/e2e/test_gateway.py check this gateway against real etcd before the
// product's own HTTP server exists:
//
//   gateway_proxy --listen 127.0.0.1:PORT --target 127.0.0.1:GRPC_PORT
//
// Prints "ready" on stdout once listening. GET /version answers
// {"etcdserver":<Status.version>,"etcdcluster":"<major>.<minor>.0"} from the
// target's Maintenance.Status, so Patroni's client can run against the proxy
// (it asks /version before anything else). Not part of the product.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "gateway/gateway.h"
#include "http/status_text.h"

namespace {

using etcdpp::http::Headers;

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

class Writer : public etcdpp::http::ResponseWriter {
 public:
  explicit Writer(int fd) : fd_(fd) {}
  void Send(int status, Headers headers, std::string body) override {
    std::string out = Head(status, headers);
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    SendAll(fd_, out);
  }
  bool StartStream(int status, Headers headers) override {
    return SendAll(fd_, Head(status, headers) + "Transfer-Encoding: chunked\r\n\r\n");
  }
  bool WriteChunk(std::string_view data) override {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    return SendAll(fd_, std::string(size) + std::string(data) + "\r\n");
  }
  void EndStream() override { SendAll(fd_, "0\r\n\r\n"); }
  bool ClientGone() override {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
    char c;
    return recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }

 private:
  static std::string Head(int status, const Headers& headers) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " +
                      std::string(etcdpp::http::StatusText(status)) + "\r\n";
    for (const auto& [k, v] : headers)
      out += k + ": " + v + "\r\n";
    return out + "Connection: close\r\n";
  }
  int fd_;
};

void Serve(int fd, const etcdpp::http::Router* router, std::string remote) {
  std::string buf;
  char tmp[65536];
  size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return (void)close(fd);
    buf.append(tmp, static_cast<size_t>(n));
  }
  etcdpp::http::Request req;
  req.remote = std::move(remote);
  size_t line_end = buf.find("\r\n");
  std::string line = buf.substr(0, line_end);
  size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  size_t content_length = 0;
  for (size_t pos = line_end + 2; pos < head_end;) {
    size_t eol = buf.find("\r\n", pos);
    std::string h = buf.substr(pos, eol - pos);
    pos = eol + 2;
    size_t colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string name = h.substr(0, colon), value = h.substr(colon + 1);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t") + 1);
    if (name == "content-length") content_length = std::stoul(value);
    req.headers.emplace_back(name, value);
  }
  req.body = buf.substr(head_end + 4);
  while (req.body.size() < content_length) {
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return (void)close(fd);
    req.body.append(tmp, static_cast<size_t>(n));
  }
  Writer w(fd);
  if (const auto* h = router->Match(req.path)) {
    (*h)(req, w);
  } else {
    w.Send(404, {{"Content-Type", "text/plain; charset=utf-8"}}, "404 page not found\n");
  }
  shutdown(fd, SHUT_WR);
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_addr, target;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--listen")) listen_addr = argv[i + 1];
    if (!std::strcmp(argv[i], "--target")) target = argv[i + 1];
  }
  size_t colon = listen_addr.rfind(':');
  if (target.empty() || colon == std::string::npos) {
    std::fprintf(stderr, "usage: gateway_proxy --listen HOST:PORT --target HOST:PORT\n");
    return 2;
  }
  auto* router = new etcdpp::http::Router();  // lives until exit
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // as the server's own gateway channel must be
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  etcdpp::gateway::Register(*router, channel);
  router->Handle("/version",
                 [channel](const etcdpp::http::Request&, etcdpp::http::ResponseWriter& w) {
                   auto stub = etcdserverpb::Maintenance::NewStub(channel);
                   grpc::ClientContext ctx;
                   ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
                   etcdserverpb::StatusResponse st;
                   if (!stub->Status(&ctx, etcdserverpb::StatusRequest(), &st).ok())
                     return w.Send(503, {}, "status failed\n");
                   std::string v = st.version();
                   std::string cluster = v.substr(0, v.rfind('.')) + ".0";
                   w.Send(200, {{"Content-Type", "application/json"}},
                          "{\"etcdserver\":\"" + v + "\",\"etcdcluster\":\"" + cluster + "\"}");
                 });
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(listen_addr.substr(colon + 1))));
  inet_pton(AF_INET, listen_addr.substr(0, colon).c_str(), &addr.sin_addr);
  if (bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(ls, 64) != 0) {
    std::perror("gateway_proxy: listen");
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    int fd = accept(ls, reinterpret_cast<sockaddr*>(&peer), &len);
    if (fd < 0) continue;
    char ip[INET_ADDRSTRLEN] = "";
    inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
    std::thread(Serve, fd, router, std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port)))
        .detach();
  }
}
