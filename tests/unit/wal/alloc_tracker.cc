#include "alloc_tracker.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> g_tracking{false};
std::atomic<size_t> g_max{0};
}  // namespace

namespace etcdpp::wal::testing {

void StartAllocTracking() {
  g_max = 0;
  g_tracking = true;
}

size_t StopAllocTracking() {
  g_tracking = false;
  return g_max;
}

}  // namespace etcdpp::wal::testing

// The replaceable global allocation functions (the array forms call these).
void* operator new(size_t n) {
  if (g_tracking.load(std::memory_order_relaxed)) {
    size_t cur = g_max.load(std::memory_order_relaxed);
    while (n > cur && !g_max.compare_exchange_weak(cur, n)) {
    }
  }
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
