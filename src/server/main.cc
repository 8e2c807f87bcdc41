// etcdpp: one etcd-compatible member. Flags and ETCD_* variables as etcd 3.6.
#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include <cstdio>
#include <string>
#include <vector>

#include "common/log.h"
#include "config/config.h"
#include "server/sd_notify.h"
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

  // Stop requests: a signal (taken by this thread with sigwait), or the
  // member learning it was removed from the cluster. Start may block until
  // the cluster has a quorum, so signals are watched from the beginning.
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool done = false;  // main is finishing: the next signal only wakes the thread
  int sig = 0;
  etcdpp::server::SetStopHook([&] {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_all();
  });
  std::thread signals([&] {
    int s = 0;
    sigwait(&stop_signals, &s);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (done) return;
      sig = s;
    }
    etcdpp::server::RequestStop();
    // A second SIGINT/SIGTERM while the graceful stop runs (it may wait up to
    // the gRPC grace period for in-flight calls) ends the process at once,
    // as the issue asks: an operator pressing ^C twice means "now". etcd
    // itself only queues the second signal; it ends by re-raising the first
    // one with the default action, and we die the same way here (a shell
    // sees 128+signal). Nothing is lost: every acknowledged write is in the
    // fsynced WAL.
    sigwait(&stop_signals, &s);
    {
      std::lock_guard<std::mutex> lock(mu);
      if (done) return;
    }
    LOG_WARN("received second signal; exiting immediately",
             {"signal", s == SIGINT ? "SIGINT" : "SIGTERM"});
    etcdpp::log::Flush();
    signal(s, SIG_DFL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, s);
    kill(getpid(), s);  // pending for the process until unblocked below
    pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
    _exit(128 + s);  // not reached: the default action ends the process
  });
  auto finish = [&](int code) {
    // Wake the signal thread (it waits for a first or a second signal).
    {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
    }
    kill(getpid(), SIGTERM);
    signals.join();
    etcdpp::server::SetStopHook(nullptr);
    etcdpp::log::Flush();
    return code;
  };

  auto server = etcdpp::server::EtcdServer::Start(cfg);
  if (!server.ok()) {
    if (etcdpp::server::StopRequested()) {
      LOG_INFO("stopped before the member was ready", {"error", server.status().ToString()});
      return finish(0);
    }
    LOG_ERROR("failed to start etcd server", {"error", server.status().ToString()});
    etcdpp::log::Flush();
    std::fprintf(stderr, "etcdpp: %s\n", server.status().message().c_str());
    return finish(1);
  }
  // systemd Type=notify: the member serves clients now (etcd notifies at
  // the same point, after the server is ready).
  if (auto st = etcdpp::server::SdNotify("READY=1"); !st.ok())
    LOG_WARN("failed to notify systemd for readiness", {"error", st.ToString()});
  int got = 0;
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return stop; });
    got = sig;
  }
  if (got != 0) {
    LOG_INFO("received signal; shutting down", {"signal", got == SIGINT ? "SIGINT" : "SIGTERM"});
  }
  (void)etcdpp::server::SdNotify("STOPPING=1");
  (*server)->Stop();
  return finish(0);
}
