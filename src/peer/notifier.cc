#include "peer/notifier.h"

namespace etcdpp::peer {

Notifier::Notifier() : thread_([this] { Run(); }) {}

Notifier::~Notifier() {
  Stop();
}

void Notifier::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) return;
    queue_.push_back(std::move(fn));
  }
  cv_.notify_one();
}

void Notifier::Stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  // Called from a callback (a handler stopping the transport): the thread ends by itself
  // once the callback returns; joining it from itself would throw.
  if (std::this_thread::get_id() == thread_.get_id()) return;
  if (thread_.joinable()) thread_.join();
}

void Notifier::Run() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping_ and drained
    auto fn = std::move(queue_.front());
    queue_.pop_front();
    // Callbacks run unlocked: they may post again.
    lk.unlock();
    fn();
    lk.lock();
  }
}

}  // namespace etcdpp::peer
