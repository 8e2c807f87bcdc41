// Corruption checks between members (etcd 3.6 corruptionChecker):
//
//   initial   (--feature-gates=InitialCorruptCheck=true, or the old
//             --experimental-initial-corrupt-check): before raft starts, this
//             member's HashKV at its current revision is compared with every
//             peer's at that revision; a different hash with the same compact
//             revision fails the start ("<id> found data inconsistency with
//             peers"). Unreachable, slower or compacted peers are skipped.
//   periodic  (--corrupt-check-time > 0): the leader compares its HashKV with
//             the followers' (etcd PeriodicCheck rules) and raises CORRUPT for
//             the member found inconsistent.
//   compact   (--feature-gates=CompactHashCheck=true, every
//             --compact-hash-check-time): the leader compares the HashKV at the
//             latest compaction revision on every member whose compact
//             revision is the same; members outside the majority hash get
//             CORRUPT (member 0 when there is no majority).
//
// Peers' hashes come from PeerMaintenance.HashKV on their peer URLs (our peer
// gRPC server; proto/etcdpp/peer.proto), not their client URLs: the peer port
// needs no client auth and is the channel etcd itself uses (/members/hashkv).
// Differences from etcd: HashKV is computed on demand (etcd also keeps the
// hashes it computed at its last 10 compactions); the compact check therefore
// checks only the latest compaction revision, and a member that already
// applied a later compaction is skipped for that round.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "etcdpp/peer.grpc.pb.h"
#include "etcdserverpb/rpc.pb.h"
#include "mvcc/store.h"

namespace etcdpp::server {

// One peer's answer to HashKV(rev).
struct PeerHash {
  uint64_t id = 0;
  std::optional<etcdserverpb::HashKVResponse> resp;  // set on success
  Status err;                                        // else why not
};

// --- the decision rules (pure; unit tested) ---

// Initial check: how many peers have a different hash at the same compact
// revision (each logged).
int CountInitialMismatches(uint64_t local_id, const mvcc::HashKVResult& local,
                           const std::vector<PeerHash>& peers);

// Periodic check (leader): h = leader's hash before asking the peers, h2/rev2
// after a linearizable barrier. Returns the members to raise CORRUPT for
// (at most one, as etcd: the first finding wins).
std::vector<uint64_t> JudgePeriodic(uint64_t leader_id, const mvcc::HashKVResult& h,
                                    const mvcc::HashKVResult& h2, int64_t rev2,
                                    const std::vector<PeerHash>& peers);

struct CompactJudgement {
  bool checked_all = false;       // every peer answered with the same compact revision
  std::vector<uint64_t> corrupt;  // members to raise CORRUPT for (0 = the whole cluster)
};
CompactJudgement JudgeCompact(uint64_t leader_id, const mvcc::HashKVResult& leader,
                              const std::vector<PeerHash>& peers);

class CorruptionChecker {
 public:
  struct Hooks {
    uint64_t member_id = 0;
    std::function<uint64_t()> cluster_id;
    // Other members' (id, peer URLs), learners included.
    std::function<std::vector<std::pair<uint64_t, std::vector<std::string>>>()> peers;
    std::function<bool()> is_leader;
    mvcc::Store* store = nullptr;
    std::function<void(uint64_t member)> raise_corrupt;
    // Blocks until a linearizable read could run (ReadIndex + apply).
    std::function<Status()> barrier;
  };
  struct Options {
    bool initial = false;
    std::chrono::nanoseconds periodic{0};  // 0 = off
    bool compact = false;
    std::chrono::nanoseconds compact_interval{std::chrono::minutes(1)};
    std::chrono::milliseconds peer_timeout{5000};
  };
  CorruptionChecker(Hooks hooks, Options opts);
  ~CorruptionChecker();

  // The PeerMaintenance service to register on the peer server.
  grpc::Service* service();

  Status InitialCheck();  // OK when the gate is off
  void PeriodicCheck();
  void CompactHashCheck();

  // Starts the periodic/compact threads (if enabled); Stop joins them.
  void Start();
  void Stop();

  // Every peer's HashKV(rev), sequentially, each bounded by peer_timeout.
  std::vector<PeerHash> PeerHashes(int64_t rev);

 private:
  void Loop(std::chrono::nanoseconds every, void (CorruptionChecker::*check)());

  Hooks hooks_;
  Options opts_;
  std::unique_ptr<grpc::Service> service_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::vector<std::thread> threads_;
  int64_t latest_checked_rev_ = 0;  // compact check thread only
};

}  // namespace etcdpp::server
