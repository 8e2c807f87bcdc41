#include "etcd_fixture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace etcdpp::testing {
namespace {

constexpr const char* kEtcd = "/usr/bin/etcd";
constexpr const char* kEtcdctl = "/usr/bin/etcdctl";

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

struct Cmd {
  int rc = -1;
  std::string out;
};

// Runs a shell command line, feeding `input` on stdin; stdout captured.
Cmd Run(const std::string& cmdline, const std::string& input = "") {
  char in_path[] = "/tmp/etcdpp-bbolt-in-XXXXXX";
  int fd = mkstemp(in_path);
  if (write(fd, input.data(), input.size()) != static_cast<ssize_t>(input.size())) {
    close(fd);
    return {};
  }
  close(fd);
  Cmd c;
  std::string full = cmdline + " < " + in_path + " 2>/dev/null";
  FILE* p = popen(full.c_str(), "r");
  if (p != nullptr) {
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
      c.out.append(buf, n);
    int st = pclose(p);
    c.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  unlink(in_path);
  return c;
}

class Generator {
 public:
  explicit Generator(EtcdSnapshot* s) : s_(s) {}
  ~Generator() {
    StopEtcd();
    if (!dir_.empty()) {
      // The snapshot file stays (in its own temp dir, removed at exit).
      std::error_code ec;
      std::filesystem::remove_all(dir_ + "/data", ec);
    }
  }

  bool Generate() {
    char tmpl[] = "/tmp/etcdpp-bbolt-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return Fail("mkdtemp");
    dir_ = tmpl;
    s_->path = dir_ + "/etcd-snapshot.db";
    // Ports come from bind-to-0-and-release: another process may take one
    // meanwhile, so a failed start is retried with new ports.
    bool started = false;
    for (int attempt = 0; attempt < 3 && !started; attempt++) {
      std::error_code ec;
      std::filesystem::remove_all(dir_ + "/data", ec);
      started = StartEtcd();
    }
    if (!started) return false;
    if (!MakeHistory()) return false;
    if (Ctl("snapshot save " + s_->path).rc != 0) return Fail("snapshot save");
    return Record();
  }

  const std::string& dir() const { return dir_; }

 private:
  bool Fail(const std::string& what) {
    s_->error = what;
    return false;
  }

  Cmd Ctl(const std::string& args, const std::string& input = "") {
    return Run(std::string(kEtcdctl) + " --endpoints 127.0.0.1:" + std::to_string(client_port_) +
                   " --command-timeout 30s " + args,
               input);
  }

  bool StartEtcd() {
    client_port_ = FreePort();
    const int peer = FreePort();
    const std::string cu = "http://127.0.0.1:" + std::to_string(client_port_);
    const std::string pu = "http://127.0.0.1:" + std::to_string(peer);
    std::vector<std::string> args = {kEtcd,
                                     "--name",
                                     "e1",
                                     "--data-dir",
                                     dir_ + "/data",
                                     "--listen-client-urls",
                                     cu,
                                     "--advertise-client-urls",
                                     cu,
                                     "--listen-peer-urls",
                                     pu,
                                     "--initial-advertise-peer-urls",
                                     pu,
                                     "--initial-cluster",
                                     "e1=" + pu,
                                     "--logger",
                                     "zap"};
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      int log = open((dir_ + "/etcd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(log, 1);
      dup2(log, 2);
      std::vector<char*> av;
      for (auto& a : args)
        av.push_back(a.data());
      av.push_back(nullptr);
      execv(kEtcd, av.data());
      _exit(127);
    }
    // Poll until it serves (a busy machine: generous).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Ctl("endpoint health").rc == 0) return true;
      int st;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        return Fail("etcd exited at start (port clash?)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // polling interval
    }
    StopEtcd();
    return Fail("etcd did not become healthy");
  }

  void StopEtcd() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int st;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }

  bool Put(const std::string& k, const std::string& v, const std::string& extra = "") {
    // The value on stdin: any size, no quoting.
    return Ctl("put " + extra + " -- " + k, v).rc == 0;
  }

  int64_t GrantLease(int64_t ttl) {
    Cmd c = Ctl("lease grant " + std::to_string(ttl));
    // "lease 694d7a... granted with TTL(600s)"
    std::istringstream is(c.out);
    std::string word, hex;
    is >> word >> hex;
    if (c.rc != 0 || word != "lease") return 0;
    int64_t id = static_cast<int64_t>(std::stoull(hex, nullptr, 16));
    s_->leases[id] = ttl;
    return id;
  }

  static std::string Hex(int64_t id) {
    char b[32];
    std::snprintf(b, sizeof(b), "%llx", static_cast<unsigned long long>(id));
    return b;
  }

  bool MakeHistory() {
    // 8 txns of 120 puts each (etcd's --max-txn-ops is 128): ~960 rows in
    // `key`, many leaf pages under a branch page.
    for (int t = 0; t < 8; t++) {
      std::string ops = "\n";
      for (int i = 0; i < 120; i++) {
        char k[32];
        std::snprintf(k, sizeof(k), "k%04d", t * 120 + i);
        ops += std::string("put ") + k + " value-" + std::to_string(t) + "-" + std::to_string(i) +
               "\n";
      }
      ops += "\n\n";
      if (Ctl("txn", ops).rc != 0) return Fail("txn");
    }
    for (int i = 0; i < 3; i++)
      if (!Put("k0000", "over" + std::to_string(i))) return Fail("overwrite");
    if (Ctl("del k0001").rc != 0) return Fail("del");
    if (Ctl("del k0100 k0110").rc != 0) return Fail("range del");
    if (!Put("big20k", std::string(20000, 'b'))) return Fail("big put");
    if (!Put("big200k", std::string(200000, 'B'))) return Fail("big put");
    if (!Put(std::string(1000, 'L'), "long key value")) return Fail("long key put");
    int64_t l1 = GrantLease(600), l2 = GrantLease(900), l3 = GrantLease(300);
    if (l1 == 0 || l2 == 0 || l3 == 0) return Fail("lease grant");
    if (!Put("lk1", "a", "--lease=" + Hex(l1)) || !Put("lk2", "b", "--lease=" + Hex(l2)) ||
        !Put("lk3", "c", "--lease=" + Hex(l2)) || !Put("lk4", "d", "--lease=" + Hex(l3))) {
      return Fail("leased put");
    }
    if (Ctl("lease revoke " + Hex(l3)).rc != 0) return Fail("lease revoke");
    s_->leases.erase(l3);
    if (!Put("k0002", "before-compact")) return Fail("put");
    // Compact at the current revision minus a few: history before it goes.
    Cmd st = Ctl("endpoint status -w json");
    size_t p = st.out.find("\"revision\":");
    if (p == std::string::npos) return Fail("endpoint status");
    int64_t rev = std::stoll(st.out.substr(p + 11));
    s_->compact_rev = rev - 3;
    if (Ctl("compaction " + std::to_string(s_->compact_rev)).rc != 0) return Fail("compaction");
    for (int i = 0; i < 3; i++)
      if (!Put("after" + std::to_string(i), "x")) return Fail("put after compaction");
    if (!Put("k0000", "latest")) return Fail("overwrite");
    if (Ctl("del big20k").rc != 0) return Fail("del big");
    return true;
  }

  static bool ParseRange(const std::string& json, etcdserverpb::RangeResponse* r) {
    google::protobuf::util::JsonParseOptions o;
    o.ignore_unknown_fields = true;
    return google::protobuf::util::JsonStringToMessage(json, r, o).ok();
  }

  bool Record() {
    Cmd st = Ctl("snapshot status -w json " + s_->path);
    if (st.rc != 0) return Fail("snapshot status");
    auto num = [&](const std::string& field) -> int64_t {
      size_t p = st.out.find("\"" + field + "\":");
      return p == std::string::npos ? -1 : std::stoll(st.out.substr(p + field.size() + 3));
    };
    s_->status_hash = static_cast<uint32_t>(num("hash"));
    s_->status_revision = num("revision");
    s_->status_total_key = num("totalKey");
    s_->status_total_size = num("totalSize");
    Cmd cur = Ctl("get \"\" --from-key -w json");
    etcdserverpb::RangeResponse latest;
    if (cur.rc != 0 || !ParseRange(cur.out, &latest)) return Fail("get latest");
    s_->revision = latest.header().revision();
    for (int64_t rev = s_->compact_rev; rev <= s_->revision; rev++) {
      Cmd g = Ctl("get \"\" --from-key -w json --rev=" + std::to_string(rev));
      etcdserverpb::RangeResponse r;
      if (g.rc != 0 || !ParseRange(g.out, &r)) return Fail("get at " + std::to_string(rev));
      s_->kvs_at[rev].assign(r.kvs().begin(), r.kvs().end());
    }
    return true;
  }

  EtcdSnapshot* s_;
  std::string dir_;
  pid_t pid_ = -1;
  int client_port_ = 0;
};

std::string g_dir;

void RemoveDir() {
  std::error_code ec;
  if (!g_dir.empty()) std::filesystem::remove_all(g_dir, ec);
}

}  // namespace

const EtcdSnapshot& GetEtcdSnapshot() {
  static EtcdSnapshot* snap = [] {
    auto* s = new EtcdSnapshot();
    if (access(kEtcd, X_OK) != 0 || access(kEtcdctl, X_OK) != 0) return s;
    s->available = true;
    Generator g(s);
    g.Generate();
    g_dir = g.dir();
    std::atexit(RemoveDir);
    return s;
  }();
  return *snap;
}

}  // namespace etcdpp::testing
