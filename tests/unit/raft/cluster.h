// An in-memory cluster of RawNodes for tests: a manual network (messages wait until delivered),
// link cuts, crash/restart from MemoryStorage (only what Ready persisted survives).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "raft/rawnode.h"
#include "raft/storage.h"

namespace etcdpp::raft::testing {

struct NodeOptions {
  bool pre_vote = false;
  bool check_quorum = false;
  int election_tick = 10;
  int heartbeat_tick = 1;
  uint64_t max_size_per_msg = 1 << 20;
  size_t max_inflight_msgs = 256;
  ReadOnlyOption read_only = ReadOnlyOption::kSafe;
  InjectedBugs bugs;
};

class Cluster {
 public:
  struct Node {
    uint64_t id = 0;
    NodeOptions opts;
    std::unique_ptr<MemoryStorage> storage;
    std::unique_ptr<RawNode> rn;
    bool down = false;
    ConfState conf;
    std::vector<Entry> applied;  // every applied entry
    std::vector<ReadState> read_states;
    uint64_t applied_index = 0;
  };

  // Bootstraps `ids` with a snapshot at `index` (term 1) holding voters/learners.
  void AddNodes(const std::vector<uint64_t>& ids, const std::vector<uint64_t>& voters,
                const std::vector<uint64_t>& learners, uint64_t index, const NodeOptions& o);
  // A node joining later: empty storage, learns everything from the leader.
  void AddEmptyNode(uint64_t id, const NodeOptions& o);

  Node& node(uint64_t id) { return nodes_.at(id); }
  bool has(uint64_t id) const { return nodes_.count(id) != 0; }
  std::map<uint64_t, Node>& nodes() { return nodes_; }

  // Persists, queues messages, applies, advances; optionally logs what happened.
  void HandleReady(uint64_t id, std::ostream* log);
  void HandleAllReady(std::ostream* log);
  // Delivers every queued message once (responses queue for the next round). Returns the number
  // delivered.
  size_t DeliverRound(std::ostream* log);
  // Delivers until no message is queued and no node has a Ready.
  void Stabilize(std::ostream* log);

  void Isolate(uint64_t id) { isolated_.insert(id); }
  void Heal() { isolated_.clear(); }
  void DropQueued() { queue_.clear(); }
  void Crash(uint64_t id);
  void Restart(uint64_t id);
  // Snapshot at `index` (<= applied) with the node's conf, then compact the log to it.
  void Compact(uint64_t id, uint64_t index);

  // Ticks the node until its election timer fires once (it campaigns if it can).
  void TickElection(uint64_t id, std::ostream* log);
  void Tick(uint64_t id, int n, std::ostream* log);

  // The unique leader among live nodes (0 if none or several).
  uint64_t Leader() const;

 private:
  void Start(Node& n);
  std::map<uint64_t, Node> nodes_;
  std::deque<Message> queue_;
  std::set<uint64_t> isolated_;
};

}  // namespace etcdpp::raft::testing
