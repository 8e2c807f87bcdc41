// Shared test helpers: a real mvcc::Store in a temp dir, and writes that
// publish their events to a WatchHub exactly as the applier will.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../mvcc/temp_dir.h"
#include "mvcc/store.h"
#include "watch/hub.h"

namespace etcdpp::watch::testing {

using Op = std::pair<std::string, std::string>;  // value kDelete = delete the key
inline const std::string kDelete = "<delete>";

// "prefix" + number (GCC 12 warns falsely on operator+ with a literal).
inline std::string Cat(std::string prefix, int64_t n) {
  prefix += std::to_string(n);
  return prefix;
}

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    mvcc::Options o;
    o.unsafe_no_fsync = true;
    auto s = mvcc::Store::Open(dir_.path() + "/db", o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override {
    hub_.reset();
    store_.reset();
  }
  void MakeHub(HubOptions o = {}) { hub_ = std::make_unique<WatchHub>(store_.get(), o); }

  // One txn (one revision) with the given ops; publishes unless told not to.
  // Returns the events.
  std::vector<mvccpb::Event> Txn(const std::vector<Op>& ops, bool publish = true) {
    auto b = store_->BeginBatch();
    EXPECT_TRUE(b.ok());
    auto t = (*b)->BeginTxn();
    EXPECT_TRUE(t.ok());
    for (const auto& [k, v] : ops) {
      if (v == kDelete) {
        EXPECT_TRUE((*t)->DeleteRange(k, "").ok());
      } else {
        EXPECT_TRUE((*t)->Put(k, v, 0).ok());
      }
    }
    std::vector<mvccpb::Event> evs = (*t)->Changes();  // before End() clears them
    EXPECT_TRUE((*t)->End().ok());
    EXPECT_TRUE((*b)->Commit().ok());
    if (publish && hub_) hub_->Publish(evs);
    return evs;
  }
  void Put(const std::string& k, const std::string& v) { Txn({{k, v}}); }
  void Del(const std::string& k) { Txn({{k, kDelete}}); }
  void Compact(int64_t rev) {
    auto b = store_->BeginBatch();
    ASSERT_TRUE(b.ok());
    ASSERT_TRUE((*b)->Compact(rev).ok());
    ASSERT_TRUE((*b)->Commit().ok());
    ASSERT_TRUE(store_->RunCompaction().ok());
  }

  etcdpp::testing::TempDir dir_;
  std::unique_ptr<mvcc::Store> store_;
  std::unique_ptr<WatchHub> hub_;
};

// A hub stream read by the test: waits for responses with a generous timeout.
class TestStream {
 public:
  explicit TestStream(WatchHub* hub) : hub_(hub) {
    sid_ = hub_->OpenStream([this] {
      std::lock_guard<std::mutex> l(mu_);
      ready_++;
      cv_.notify_all();
    });
  }
  ~TestStream() { hub_->CloseStream(sid_); }
  WatchHub::StreamId sid() const { return sid_; }

  // Next response, waiting up to 30 s (on a busy machine) for one to arrive.
  bool Get(Response* out, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      uint64_t seen;
      {
        std::lock_guard<std::mutex> l(mu_);
        seen = ready_;
      }
      if (hub_->Next(sid_, out)) return true;
      std::unique_lock<std::mutex> l(mu_);
      // The hub's background thread wakes us; the short poll covers a
      // notification that raced with Next above.
      if (!cv_.wait_until(
              l,
              std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(50)),
              [&] { return ready_ != seen; }) &&
          std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
    }
  }
  Response MustGet() {
    Response r;
    EXPECT_TRUE(Get(&r)) << "no response";
    return r;
  }
  // True if nothing is queued right now (consumes nothing when true).
  bool Idle() {
    Response r;
    if (!hub_->Next(sid_, &r)) return true;
    ADD_FAILURE() << "unexpected response: " << r.ShortDebugString();
    return false;
  }

 private:
  WatchHub* hub_;
  WatchHub::StreamId sid_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t ready_ = 0;
};

inline etcdserverpb::WatchCreateRequest CreateReq(const std::string& key,
                                                  const std::string& end = "", int64_t start = 0) {
  etcdserverpb::WatchCreateRequest r;
  r.set_key(key);
  r.set_range_end(end);
  r.set_start_revision(start);
  return r;
}

}  // namespace etcdpp::watch::testing
