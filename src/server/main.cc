// etcdpp: one etcd-compatible member. Flags and ETCD_* variables as etcd 3.6.
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/log.h"
#include "config/config.h"
#include "server/server.h"
#include "server/version.h"

extern char** environ;

namespace {

void PrintVersion() {
  // etcd prints exactly these four lines; tools parse the first one. The
  // fifth is ours.
  std::printf("etcd Version: %s\n", etcdpp::server::kEtcdVersion);
  std::printf("Git SHA: %s\n", etcdpp::server::kGitSha);
  std::printf("Go Version: not applicable (etcdpp is C++)\n");
  std::printf("Go OS/Arch: linux/amd64\n");
  std::printf("etcdpp Version: %s\n", etcdpp::server::kEtcdppVersion);
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals first, before any library can start a thread
  // (threads inherit the mask); main takes them synchronously with sigwait.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; e++)
    env.emplace_back(*e);

  // Parsing never touches the data dir: a bad flag exits 2 with nothing created.
  auto parsed = etcdpp::config::Parse(args, env);
  if (!parsed.ok()) {
    // etcd (Go's flag package) prints the error, then the short usage.
    std::fprintf(stderr, "%s\n%s", parsed.status().message().c_str(),
                 etcdpp::config::UsageText().c_str());
    return 2;
  }
  auto& outcome = parsed.value();
  if (outcome.action == etcdpp::config::ParseOutcome::Action::kPrintVersion) {
    PrintVersion();
    return 0;
  }
  if (outcome.action == etcdpp::config::ParseOutcome::Action::kPrintHelp) {
    std::fputs(etcdpp::config::HelpText().c_str(), stdout);
    return 0;
  }
  const auto& cfg = outcome.config;
  if (auto st = etcdpp::log::Init(cfg.log_level, cfg.log_outputs, cfg.log_format); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 2;
  }
  // etcd's own texts and fields ("recognized and used environment variable", ...).
  etcdpp::config::LogNotes(outcome);

  auto server = etcdpp::server::EtcdServer::Start(cfg);
  if (!server.ok()) {
    LOG_ERROR("failed to start etcd server", {"error", server.status().ToString()});
    etcdpp::log::Flush();
    std::fprintf(stderr, "etcdpp: %s\n", server.status().message().c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  LOG_INFO("received signal; shutting down", {"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"});
  (*server)->Stop();
  etcdpp::log::Flush();
  return 0;
}
