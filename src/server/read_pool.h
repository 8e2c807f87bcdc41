// A few threads that run linearizable reads whose ReadIndex was not yet
// applied when they arrived, so the applier thread only signals them and goes
// on with the next batch instead of doing their LMDB reads itself.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace etcdpp::server {

class ReadPool {
 public:
  explicit ReadPool(int threads);
  ~ReadPool();  // Stop()

  // Runs fn on a pool thread; after Stop(), on the caller's thread (never dropped).
  void Post(std::function<void()> fn);
  // Runs everything already posted, then joins the threads. Idempotent.
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace etcdpp::server
