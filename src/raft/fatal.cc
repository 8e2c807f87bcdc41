#include "raft/fatal.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace etcdpp::raft {

namespace {
std::atomic<FatalHandler> g_handler{nullptr};
}

void SetFatalHandler(FatalHandler h) {
  g_handler.store(h);
}

void Fatal(const char* msg) {
  if (FatalHandler h = g_handler.load()) h(msg);
  std::fprintf(stderr, "raft: fatal: %s\n", msg);
  std::abort();
}

}  // namespace etcdpp::raft
