// The sending half for one peer: a bounded queue drained by one thread that keeps a Stream
// open to the peer (reconnecting with exponential back-off), plus one thread per snapshot in
// flight. See transport.h for the behaviour; this file is the mechanism.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "peer/shared.h"
#include "raft/types.h"

namespace etcdpp::peer {

class PeerSender {
 public:
  // `targets` are gRPC targets ("host:port"), already parsed from the peer URLs.
  PeerSender(uint64_t id, std::vector<std::string> targets, Shared* shared);
  ~PeerSender();  // Stop()
  PeerSender(const PeerSender&) = delete;
  PeerSender& operator=(const PeerSender&) = delete;

  // Never blocks: queues `m`, or drops it (backing off / queue full) and reports unreachable.
  void Enqueue(raft::Message m);
  void SendSnapshot(raft::Message m, std::string db_path);
  // Closes the current stream and redials on the new targets.
  void UpdateTargets(std::vector<std::string> targets);
  std::optional<std::chrono::steady_clock::time_point> ActiveSince() const;
  uint64_t sent_bytes() const { return sent_bytes_.load(); }
  uint64_t sent_failures() const { return sent_failures_.load(); }
  // Cancels the stream and the snapshot sends, joins every thread. Idempotent.
  void Stop();

 private:
  enum class State { kConnecting, kActive, kBackoff };
  struct SnapshotJob {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void Run();
  // One connection: dial, open the stream, write batches until it breaks. Sets *connected
  // when the peer accepted the stream and *lost to the number of messages of a failed write.
  Status RunStream(const std::string& target, bool* connected, size_t* lost);
  // Takes up to ~kMaxBatchBytes of queued messages. False when stopping, retargeted, or the
  // stream ended (then *ended is set).
  bool NextBatch(uint64_t gen, std::vector<raft::Message>* out, bool* ended);
  void ReportUnreachableLocked();
  void RunSnapshot(raft::Message m, std::string db_path, std::shared_ptr<std::atomic<bool>> done);
  Status DoSendSnapshot(const raft::Message& m, const std::string& db_path);
  void ReapSnapshotJobsLocked();

  const uint64_t id_;
  Shared* const shared_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<raft::Message> queue_;
  State state_ = State::kConnecting;
  bool stopping_ = false;
  bool failing_ = false;  // logged the current run of failures already
  std::vector<std::string> targets_;
  uint64_t targets_gen_ = 0;  // bumped by UpdateTargets
  size_t target_index_ = 0;   // which of targets_ the stream uses (rotates on failure)
  std::shared_ptr<grpc::Channel> channel_;  // of the current connection
  grpc::ClientContext* stream_ctx_ = nullptr;
  bool stream_ended_ = false;  // the current stream's reader saw the call end
  std::set<grpc::ClientContext*> snapshot_ctxs_;
  std::optional<std::chrono::steady_clock::time_point> active_since_;
  std::chrono::steady_clock::time_point last_unreachable_report_{};
  std::list<SnapshotJob> snapshot_jobs_;
  // Interrupts a dial in progress (Stop, UpdateTargets); reset under mu_ at each attempt.
  std::atomic<bool> interrupt_{false};
  std::atomic<bool> stop_flag_{false};  // interrupts snapshot dials (Stop only)
  std::atomic<uint64_t> sent_bytes_{0};
  std::atomic<uint64_t> sent_failures_{0};  // messages dropped or lost, failed snapshots

  std::thread thread_;  // last: started once everything above is initialised
};

}  // namespace etcdpp::peer
