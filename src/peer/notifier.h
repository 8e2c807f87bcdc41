// A single thread that runs Handler callbacks (ReportUnreachable, ReportSnapshot,
// ReportRejected) in the order they were posted, so that they never run on the thread that
// called Transport::Send (the raft loop) and are never delayed by a peer blocked in a write.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace etcdpp::peer {

class Notifier {
 public:
  Notifier();
  ~Notifier();  // Stop()
  // Never blocks for long (a mutex and a deque push). Ignored after Stop().
  void Post(std::function<void()> fn);
  // Runs what is already posted, then joins the thread. Idempotent.
  void Stop();

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace etcdpp::peer
