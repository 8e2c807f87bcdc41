#include "cluster.h"

#include <gtest/gtest.h>

#include "raft/codec.h"
#include "raft/describe.h"

namespace etcdpp::raft::testing {

void Cluster::Start(Node& n) {
  Config c;
  c.id = n.id;
  c.election_tick = n.opts.election_tick;
  c.heartbeat_tick = n.opts.heartbeat_tick;
  c.storage = n.storage.get();
  c.applied = n.storage->Snapshot()->metadata.index;
  c.max_size_per_msg = n.opts.max_size_per_msg;
  c.max_inflight_msgs = n.opts.max_inflight_msgs;
  c.pre_vote = n.opts.pre_vote;
  c.check_quorum = n.opts.check_quorum;
  c.read_only_option = n.opts.read_only;
  c.bugs = n.opts.bugs;
  c.seed = n.id;
  n.rn = std::make_unique<RawNode>(c);
  n.applied_index = c.applied;
  n.conf = n.storage->Snapshot()->metadata.conf_state;
  n.down = false;
}

void Cluster::AddNodes(const std::vector<uint64_t>& ids, const std::vector<uint64_t>& voters,
                       const std::vector<uint64_t>& learners, uint64_t index,
                       const NodeOptions& o) {
  for (uint64_t id : ids) {
    Node& n = nodes_[id];
    n.id = id;
    n.opts = o;
    n.storage = std::make_unique<MemoryStorage>();
    Snapshot s;
    s.metadata.index = index;
    s.metadata.term = 1;
    s.metadata.conf_state.voters = voters;
    s.metadata.conf_state.learners = learners;
    EXPECT_TRUE(n.storage->ApplySnapshot(s).ok());
    n.storage->SetHardState(HardState{1, 0, index});  // as etcd bootstraps: term 1
    Start(n);
  }
}

void Cluster::AddEmptyNode(uint64_t id, const NodeOptions& o) {
  Node& n = nodes_[id];
  n.id = id;
  n.opts = o;
  n.storage = std::make_unique<MemoryStorage>();
  Start(n);
}

void Cluster::HandleReady(uint64_t id, std::ostream* log) {
  Node& n = nodes_.at(id);
  while (!n.down && n.rn->HasReady()) {
    Ready rd = n.rn->Ready();
    if (rd.soft_state && log) {
      *log << id << " becomes " << StateTypeName(rd.soft_state->raft_state) << " at term "
           << n.rn->raft().term() << "\n";
    }
    // Persist (snapshot, hard state, entries) before sending.
    if (!rd.snapshot.empty()) {
      EXPECT_TRUE(n.storage->ApplySnapshot(rd.snapshot).ok());
      n.conf = rd.snapshot.metadata.conf_state;
      n.applied_index = rd.snapshot.metadata.index;
      if (log) *log << id << " restores snapshot at " << rd.snapshot.metadata.index << "\n";
    }
    if (!rd.hard_state.empty()) n.storage->SetHardState(rd.hard_state);
    EXPECT_TRUE(n.storage->Append(rd.entries).ok());
    for (auto& m : rd.messages)
      queue_.push_back(std::move(m));
    for (const auto& e : rd.committed_entries) {
      EXPECT_EQ(e.index, n.applied_index + 1) << "node " << id;
      n.applied_index = e.index;
      n.applied.push_back(e);
      if (e.type != EntryType::kNormal) {
        auto cc = DecodeConfChangeEntry(e);
        EXPECT_TRUE(cc.ok());
        if (cc.ok()) n.conf = n.rn->ApplyConfChange(*cc);
        // Keep the stored snapshot's membership current so new members can install it.
        (void)n.storage->CreateSnapshot(e.index, &n.conf, "snap@" + std::to_string(e.index));
        if (log) *log << id << " applies conf change -> " << DescribeConfState(n.conf) << "\n";
      }
    }
    for (const auto& rs : rd.read_states)
      n.read_states.push_back(rs);
    n.rn->Advance(rd);
  }
}

void Cluster::HandleAllReady(std::ostream* log) {
  for (auto& [id, n] : nodes_)
    HandleReady(id, log);
}

size_t Cluster::DeliverRound(std::ostream* log) {
  HandleAllReady(log);
  std::deque<Message> round;
  round.swap(queue_);
  size_t delivered = 0;
  for (auto& m : round) {
    if (!nodes_.count(m.to) || nodes_.at(m.to).down || isolated_.count(m.to) ||
        isolated_.count(m.from)) {
      if (m.type == MessageType::kSnap && nodes_.count(m.from) && !nodes_.at(m.from).down) {
        nodes_.at(m.from).rn->ReportSnapshot(m.to, false);
      }
      continue;
    }
    if (log) *log << "  " << DescribeMessage(m) << "\n";
    uint64_t to = m.to, from = m.from;
    bool snap = m.type == MessageType::kSnap;
    (void)nodes_.at(to).rn->Step(std::move(m));
    if (snap && nodes_.count(from) && !nodes_.at(from).down) {
      nodes_.at(from).rn->ReportSnapshot(to, true);
    }
    ++delivered;
    HandleReady(to, log);
  }
  HandleAllReady(log);
  return delivered;
}

void Cluster::Stabilize(std::ostream* log) {
  for (int i = 0; i < 1000; ++i) {
    HandleAllReady(log);
    if (queue_.empty()) return;
    DeliverRound(log);
  }
  ADD_FAILURE() << "cluster did not stabilize";
}

void Cluster::Crash(uint64_t id) {
  Node& n = nodes_.at(id);
  n.rn.reset();
  n.down = true;
  n.applied.clear();
}

void Cluster::Restart(uint64_t id) {
  Start(nodes_.at(id));
}

void Cluster::Compact(uint64_t id, uint64_t index) {
  Node& n = nodes_.at(id);
  EXPECT_TRUE(n.storage->CreateSnapshot(index, &n.conf, "snap@" + std::to_string(index)).ok());
  EXPECT_TRUE(n.storage->Compact(index).ok());
}

void Cluster::TickElection(uint64_t id, std::ostream* log) {
  Node& n = nodes_.at(id);
  // Until the election timer fires (it restarts from 0): one campaign (or pre-campaign).
  for (int i = 0; i < 4 * n.opts.election_tick; ++i) {
    n.rn->Tick();
    if (n.rn->raft().election_elapsed() == 0) break;
  }
  HandleReady(id, log);
}

void Cluster::Tick(uint64_t id, int count, std::ostream* log) {
  Node& n = nodes_.at(id);
  for (int i = 0; i < count && !n.down; ++i) {
    n.rn->Tick();
    HandleReady(id, log);
  }
}

uint64_t Cluster::Leader() const {
  uint64_t lead = 0;
  for (const auto& [id, n] : nodes_) {
    if (n.down || n.rn->raft().state() != StateType::kLeader) continue;
    if (lead != 0) return 0;
    lead = id;
  }
  return lead;
}

}  // namespace etcdpp::raft::testing
