#include "simulator.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <string_view>

#include "raft/codec.h"
#include "raft/describe.h"
#include "raft/fatal.h"
#include "raft/rand.h"
#include "raft/rawnode.h"
#include "raft/storage.h"

namespace etcdpp::raftsim {

using raft::ConfChange;
using raft::ConfChangeType;
using raft::ConfState;
using raft::Entry;
using raft::EntryType;
using raft::MemoryStorage;
using raft::Message;
using raft::MessageType;
using raft::RawNode;
using raft::Snapshot;
using raft::StateType;

namespace {

constexpr int kTickUnits = 10;  // time units per tick
constexpr int kElectionTicks = 10;
constexpr uint64_t kHealUnits = 4000;  // liveness bound after healing (400 ticks)
constexpr size_t kTailLines = 60;

struct SimAbort {
  std::string msg;
};
void ThrowFatal(const char* msg) {
  throw SimAbort{msg};
}

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

uint64_t HashStr(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t EntryHash(const Entry& e) {
  return Mix(HashStr(e.data), static_cast<uint64_t>(e.type));
}

struct InFlight {
  uint64_t at;
  uint64_t seq;
  Message m;
  bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

struct SimNode {
  uint64_t id = 0;
  bool started = false;  // has a disk
  bool alive = false;
  bool removed = false;
  int incarnation = 0;
  int tick_offset = 0;
  std::unique_ptr<MemoryStorage> disk;
  std::unique_ptr<RawNode> rn;
  // Volatile state machine: a hash chain of applied entries, rebuilt from snapshot + replay.
  uint64_t sm_applied = 0;
  uint64_t sm_hash = 0;
  ConfState conf;  // as of sm_applied
  uint64_t checked_commit = 0;
  uint64_t leader_term_checked = 0;
  uint64_t restart_at = 0;
  // Mirror of the persisted log: term and prefix hash per index (index 0 = sentinel).
  std::vector<uint64_t> mterm{0};
  std::vector<uint64_t> mph{0};
};

std::string SmData(uint64_t applied, uint64_t hash) {
  return std::to_string(applied) + ":" + std::to_string(hash);
}

void ParseSmData(const std::string& s, uint64_t* applied, uint64_t* hash) {
  *applied = 0;
  *hash = 0;
  auto colon = s.find(':');
  if (colon == std::string::npos) return;
  *applied = std::stoull(s.substr(0, colon));
  *hash = std::stoull(s.substr(colon + 1));
}

class Sim {
 public:
  Sim(const SimOptions& o, bool tracing)
      : o_(o), rng_(o.seed * 0x2545f4914f6cdd1dULL + 1), tracing_(tracing) {}
  SimResult Run();

 private:
  template <typename F>
  void Ev(std::initializer_list<uint64_t> fields, F&& describe) {
    for (uint64_t f : fields)
      res_.trace_hash = Mix(res_.trace_hash, f);
    if (!tracing_) return;
    std::string line = "t=" + std::to_string(now_) + " " + describe();
    if (o_.verbose) std::printf("%s\n", line.c_str());
    tail_.push_back(std::move(line));
    if (tail_.size() > kTailLines) tail_.pop_front();
  }
  void Violation(const std::string& what) {
    if (res_.violation) return;
    res_.violation = true;
    res_.what = what;
    res_.violation_time = now_;
    Ev({999}, [&] { return "VIOLATION: " + what; });
  }
  bool Chance(uint64_t per_mille) { return rng_.Uniform(1000) < per_mille; }
  uint64_t Pick(uint64_t n) { return rng_.Uniform(n); }

  void Bootstrap();
  void StartNode(SimNode& n);
  void Crash(SimNode& n, const char* why);
  void Send(Message m);
  void Deliver(InFlight f);
  void HandleReady(SimNode& n);
  void Apply(SimNode& n, const Entry& e);
  void RecordCommits(SimNode& n);
  void CheckAll();
  void CheckLogMatching();
  void CheckElectable();
  void UpdateMirror(SimNode& n, const std::vector<Entry>& ents);
  void MirrorSnapshot(SimNode& n, uint64_t index);
  bool CanTalk(uint64_t a, uint64_t b) const { return group_[a] == group_[b]; }
  SimNode* Leader();
  void Chaos();
  void ConfChangeOp(SimNode& leader);
  void Compact(SimNode& n);
  void Heal();
  bool LivenessDone();
  void ProcessRemovals();

  SimOptions o_;
  raft::SplitMix64 rng_;
  bool tracing_;
  SimResult res_;
  std::deque<std::string> tail_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  std::vector<SimNode> nodes_;  // index = id (0 unused)
  std::vector<int> group_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<InFlight>> net_;
  // Network behaviour for this seed.
  uint64_t drop_per_mille_ = 0;
  uint64_t dup_per_mille_ = 10;
  bool long_delays_ = true;
  bool pre_vote_ = true;
  bool check_quorum_ = true;
  // Global committed log: term, entry hash, prefix hash, and the term in which it was first
  // seen committed (index 0 = sentinel).
  std::vector<uint64_t> gterm_{0}, ghash_{0}, gph_{0}, gcterm_{0};
  std::map<uint64_t, uint64_t> leaders_;   // term -> leader id
  std::map<std::string, uint64_t> reads_;  // ctx -> committed index when issued
  std::vector<uint64_t> pending_removals_;
  uint64_t proposals_ = 0;
  bool healed_ = false;
  bool conf_applied_ = false;
  uint64_t max_msg_bytes_ = 120;
  uint64_t storm_ = 1;
  bool flow_limits_ = false;
  std::vector<uint64_t> gvoters_;  // voters of the latest committed configuration
  struct Kill {
    uint64_t at;
    uint64_t id;
    int incarnation;
  };
  std::vector<Kill> kills_;
  uint64_t gconf_index_ = 0;  // index of the latest applied conf change
  uint64_t final_proposed_at_ = 0;
  bool final_applied_anywhere_ = false;
};

void Sim::Bootstrap() {
  // Per-seed knobs: most runs use etcd's settings (PreVote + CheckQuorum).
  pre_vote_ = Chance(850);
  check_quorum_ = Chance(800);
  static const uint64_t kDrops[] = {0, 10, 50, 200};
  drop_per_mille_ = kDrops[Pick(4)];
  long_delays_ = Chance(700);
  // One entry per MsgApp (widens windows such as Figure 8's) or a few (batching, pipelining).
  max_msg_bytes_ = Chance(500) ? 1 : 120;
  flow_limits_ = Chance(300);  // tight inflight-bytes and uncommitted-size limits
  // Fault intensity: calm (1), stormy (4: frequent leader crashes/partitions).
  storm_ = Chance(400) ? 4 : 1;
  int max_ids = o_.nodes + 3;  // spare ids for membership changes
  nodes_.resize(max_ids + 1);
  group_.assign(max_ids + 1, 0);
  ConfState cs;
  for (int i = 1; i <= o_.nodes; ++i)
    cs.voters.push_back(i);
  gvoters_ = cs.voters;
  // Index 1 (term 1) is a bootstrap snapshot holding the initial configuration.
  gterm_.push_back(1);
  ghash_.push_back(0);
  gph_.push_back(Mix(Mix(0, 1), 0));
  gcterm_.push_back(0);
  for (int i = 1; i <= max_ids; ++i) {
    SimNode& n = nodes_[i];
    n.id = i;
    n.tick_offset = static_cast<int>(Pick(kTickUnits));
    if (i > o_.nodes) continue;
    n.disk = std::make_unique<MemoryStorage>();
    Snapshot s;
    s.metadata.index = 1;
    s.metadata.term = 1;
    s.metadata.conf_state = cs;
    s.data = SmData(1, gph_[1]);
    (void)n.disk->ApplySnapshot(s);
    n.disk->SetHardState(raft::HardState{1, 0, 1});  // as etcd bootstraps: term 1
    MirrorSnapshot(n, 1);
    n.started = true;
    StartNode(n);
  }
  Ev({1, pre_vote_, check_quorum_, drop_per_mille_, long_delays_, max_msg_bytes_, storm_,
      flow_limits_},
     [&] {
       return "bootstrap nodes=" + std::to_string(o_.nodes) +
              " pre_vote=" + std::to_string(pre_vote_) +
              " check_quorum=" + std::to_string(check_quorum_) +
              " drop=" + std::to_string(drop_per_mille_) + "/1000";
     });
}

void Sim::StartNode(SimNode& n) {
  raft::Config c;
  c.id = n.id;
  c.election_tick = kElectionTicks;
  c.heartbeat_tick = 1;
  c.storage = n.disk.get();
  auto snap = n.disk->Snapshot();
  c.applied = snap->metadata.index;
  c.max_size_per_msg = max_msg_bytes_;
  c.max_inflight_msgs = 4;
  c.max_inflight_bytes = flow_limits_ ? 16 : 0;
  c.max_uncommitted_entries_size = flow_limits_ ? 40 : 0;
  c.check_quorum = check_quorum_;
  c.pre_vote = pre_vote_;
  c.seed = o_.seed * 1000003 + n.incarnation;
  c.bugs = o_.bugs;
  n.rn = std::make_unique<RawNode>(c);
  ParseSmData(snap->data, &n.sm_applied, &n.sm_hash);
  n.sm_applied = snap->metadata.index;
  n.conf = snap->metadata.conf_state;
  n.checked_commit = snap->metadata.index;
  n.leader_term_checked = 0;
  n.alive = true;
  ++n.incarnation;
}

void Sim::Crash(SimNode& n, const char* why) {
  n.alive = false;
  n.rn.reset();  // everything not persisted is lost
  n.restart_at = now_ + 50 + Pick(600);
  ++res_.crashes;
  Ev({2, n.id}, [&] { return "crash " + std::to_string(n.id) + " (" + why + ")"; });
}

void Sim::Send(Message m) {
  if (m.to >= nodes_.size()) return;
  if (nodes_[m.from].removed) return;  // peers reject messages from removed members (as etcd)
  int copies = Chance(dup_per_mille_) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    uint64_t delay = 1 + Pick(12);
    if (long_delays_ && Chance(40)) delay += 20 + Pick(150);  // reordering
    net_.push(InFlight{now_ + delay, seq_++, m});
  }
}

void Sim::Deliver(InFlight f) {
  Message& m = f.m;
  SimNode& to = nodes_[m.to];
  SimNode& from = nodes_[m.from];
  bool dropped = !to.alive || to.removed || !CanTalk(m.from, m.to) || Chance(drop_per_mille_);
  if (m.type == MessageType::kSnap && from.alive) {
    // The transport reports the snapshot's fate to the leader.
    from.rn->ReportSnapshot(m.to, !dropped);
    HandleReady(from);
  }
  if (dropped) {
    // Sometimes the transport notices (as etcd's does for broken streams).
    if (from.alive && !CanTalk(m.from, m.to) && Chance(100)) {
      from.rn->ReportUnreachable(m.to);
      HandleReady(from);
    }
    return;
  }
  Ev({3, m.from, m.to, static_cast<uint64_t>(m.type), m.term, m.index, m.log_term, m.commit,
      m.entries.size(), m.reject},
     [&] { return "deliver " + raft::DescribeMessage(m); });
  if (m.type == MessageType::kSnap) ++res_.snapshots_sent;
  (void)to.rn->Step(std::move(m));
  HandleReady(to);
}

void Sim::MirrorSnapshot(SimNode& n, uint64_t index) {
  if (index >= gterm_.size()) {
    Violation("node " + std::to_string(n.id) + " got a snapshot at " + std::to_string(index) +
              " beyond the committed log " + std::to_string(gterm_.size() - 1));
    return;
  }
  // Entries up to a snapshot are committed: their terms/prefix are the global record.
  n.mterm.assign(gterm_.begin(), gterm_.begin() + index + 1);
  n.mph.assign(gph_.begin(), gph_.begin() + index + 1);
}

void Sim::UpdateMirror(SimNode& n, const std::vector<Entry>& ents) {
  if (ents.empty()) return;
  uint64_t first = ents[0].index;
  if (first > n.mterm.size()) {
    Violation("node " + std::to_string(n.id) + " persisted entries with a gap at " +
              std::to_string(first));
    return;
  }
  n.mterm.resize(first);
  n.mph.resize(first);
  for (const auto& e : ents) {
    n.mterm.push_back(e.term);
    n.mph.push_back(Mix(Mix(n.mph.back(), e.term), EntryHash(e)));
  }
}

void Sim::RecordCommits(SimNode& n) {
  const raft::RaftLog& log = n.rn->raft().log();
  uint64_t c = log.committed();
  for (uint64_t i = n.checked_commit + 1; i <= c; ++i) {
    if (i < log.FirstIndex()) continue;  // inside a snapshot: checked at restore
    auto ents = log.Slice(i, i + 1, UINT64_MAX);
    if (!ents.ok() || ents->empty()) {
      Violation("node " + std::to_string(n.id) + " committed " + std::to_string(i) +
                " but cannot read it");
      return;
    }
    const Entry& e = (*ents)[0];
    uint64_t h = EntryHash(e);
    if (i < gterm_.size()) {
      if (gterm_[i] != e.term || ghash_[i] != h) {
        Violation("state machine safety: node " + std::to_string(n.id) + " committed " +
                  raft::DescribeEntry(e) + " but index " + std::to_string(i) +
                  " was committed with term " + std::to_string(gterm_[i]));
        return;
      }
    } else if (i == gterm_.size()) {
      gterm_.push_back(e.term);
      ghash_.push_back(h);
      gph_.push_back(Mix(Mix(gph_.back(), e.term), h));
      gcterm_.push_back(n.rn->raft().term());
      ++res_.commits;
    } else {
      Violation("node " + std::to_string(n.id) + " committed " + std::to_string(i) +
                " before anyone committed " + std::to_string(gterm_.size()));
      return;
    }
  }
  n.checked_commit = std::max(n.checked_commit, c);
}

void Sim::Apply(SimNode& n, const Entry& e) {
  if (e.index != n.sm_applied + 1) {
    Violation("node " + std::to_string(n.id) + " applied " + std::to_string(e.index) + " after " +
              std::to_string(n.sm_applied));
    return;
  }
  if (e.index >= gterm_.size() || gterm_[e.index] != e.term || ghash_[e.index] != EntryHash(e)) {
    Violation("state machine safety: node " + std::to_string(n.id) + " applied " +
              raft::DescribeEntry(e) + " which differs from the committed entry");
    return;
  }
  n.sm_hash = Mix(Mix(n.sm_hash, e.term), EntryHash(e));
  n.sm_applied = e.index;
  if (n.sm_hash != gph_[e.index]) {
    Violation("state machine of node " + std::to_string(n.id) + " diverged at " +
              std::to_string(e.index));
    return;
  }
  if (e.type != EntryType::kNormal) {
    auto cc = raft::DecodeConfChangeEntry(e);
    if (!cc.ok()) {
      Violation("undecodable conf change at " + std::to_string(e.index));
      return;
    }
    n.conf = n.rn->ApplyConfChange(*cc);
    ++res_.conf_changes;
    if (e.index > gconf_index_) {
      gconf_index_ = e.index;
      gvoters_ = n.conf.voters;
    }
    conf_applied_ = true;
    for (const auto& c : cc->changes) {
      if (c.type == ConfChangeType::kRemoveNode) pending_removals_.push_back(c.node_id);
    }
    Ev({4, n.id, e.index}, [&] {
      return "node " + std::to_string(n.id) + " applied conf change " + raft::DescribeEntry(e) +
             " -> " + raft::DescribeConfState(n.conf);
    });
  }
  if (e.data == "final") final_applied_anywhere_ = true;
}

void Sim::HandleReady(SimNode& n) {
  while (n.alive && n.rn->HasReady() && !res_.violation) {
    raft::Ready rd = n.rn->Ready();
    if (rd.soft_state) {
      if (rd.soft_state->raft_state == StateType::kLeader) {
        ++res_.elections;
        // Nemesis: sometimes kill a brand-new leader before its first entry spreads.
        if (!healed_ && Chance(400)) kills_.push_back({now_ + Pick(25), n.id, n.incarnation});
      }
      Ev({5, n.id, static_cast<uint64_t>(rd.soft_state->raft_state), rd.soft_state->lead}, [&] {
        return "node " + std::to_string(n.id) + " is " +
               raft::StateTypeName(rd.soft_state->raft_state) + " term " +
               std::to_string(n.rn->raft().term()) + " lead " + std::to_string(rd.soft_state->lead);
      });
    }
    // 1. Snapshot, then 2. HardState + entries: all "fsynced" before any message leaves.
    if (!rd.snapshot.empty()) {
      if (!n.disk->ApplySnapshot(rd.snapshot).ok()) {
        Violation("raft emitted an out-of-date snapshot");
        return;
      }
      uint64_t idx = rd.snapshot.metadata.index;
      ParseSmData(rd.snapshot.data, &n.sm_applied, &n.sm_hash);
      if (n.sm_applied != idx || idx >= gph_.size() || n.sm_hash != gph_[idx]) {
        Violation("snapshot at " + std::to_string(idx) + " does not match the committed log");
        return;
      }
      n.conf = rd.snapshot.metadata.conf_state;
      MirrorSnapshot(n, idx);
      Ev({6, n.id, idx}, [&] {
        return "node " + std::to_string(n.id) + " restored snapshot " + std::to_string(idx);
      });
    }
    if (!rd.hard_state.empty()) n.disk->SetHardState(rd.hard_state);
    if (!rd.entries.empty()) {
      (void)n.disk->Append(rd.entries);
      UpdateMirror(n, rd.entries);
    }
    if (!healed_ && Chance(1)) {
      // Crash after the fsync, before the messages went out.
      Crash(n, "after persist");
      return;
    }
    for (auto& m : rd.messages)
      Send(std::move(m));
    RecordCommits(n);
    conf_applied_ = false;
    for (const auto& e : rd.committed_entries) {
      Apply(n, e);
      if (res_.violation) return;
    }
    if (conf_applied_) {
      // Keep the stored snapshot's membership current: a member added after the last snapshot
      // could not install an older one (it is not in that snapshot's ConfState).
      (void)n.disk->CreateSnapshot(n.sm_applied, &n.conf, SmData(n.sm_applied, n.sm_hash));
    }
    for (const auto& rs : rd.read_states) {
      auto it = reads_.find(rs.request_ctx);
      if (it == reads_.end()) continue;
      if (rs.index < it->second) {
        Violation("stale read " + rs.request_ctx + ": read index " + std::to_string(rs.index) +
                  " < " + std::to_string(it->second) + " committed when the read started");
      }
      ++res_.reads;
      reads_.erase(it);
    }
    n.rn->Advance(rd);
  }
}

void Sim::ProcessRemovals() {
  auto ids = std::move(pending_removals_);
  pending_removals_.clear();
  for (uint64_t id : ids) {
    SimNode& n = nodes_[id];
    if (n.removed || id >= nodes_.size()) continue;
    // Like etcd: a member stops once its removal is applied anywhere, and its peers drop
    // its messages from then on.
    n.removed = true;
    if (n.alive) {
      n.alive = false;
      n.rn.reset();
    }
    Ev({7, id}, [&] { return "node " + std::to_string(id) + " removed and stopped"; });
  }
}

void Sim::CheckLogMatching() {
  for (size_t a = 1; a < nodes_.size(); ++a) {
    if (!nodes_[a].started) continue;
    for (size_t b = a + 1; b < nodes_.size(); ++b) {
      if (!nodes_[b].started) continue;
      const SimNode& x = nodes_[a];
      const SimNode& y = nodes_[b];
      uint64_t k = std::min(x.mterm.size(), y.mterm.size()) - 1;
      for (int steps = 0; k > 0 && x.mterm[k] != y.mterm[k] && steps < 64; ++steps)
        --k;
      if (k > 0 && x.mterm[k] == y.mterm[k] && x.mph[k] != y.mph[k]) {
        Violation("log matching: nodes " + std::to_string(a) + " and " + std::to_string(b) +
                  " have term " + std::to_string(x.mterm[k]) + " at index " + std::to_string(k) +
                  " but different prefixes");
        return;
      }
    }
  }
}

void Sim::CheckElectable() {
  // Stronger form of leader completeness, checked on every state instead of only when a
  // leader emerges: a node whose persisted log lacks the latest committed entry must not be
  // able to collect votes from a quorum (Raft §5.4.3's argument). Uses the voters of the
  // latest committed configuration; skipped while a conf change is not applied everywhere.
  uint64_t c = gterm_.size() - 1;
  if (gvoters_.empty()) return;
  for (size_t i = 1; i < nodes_.size(); ++i) {
    const SimNode& n = nodes_[i];
    if (!n.started || n.removed) continue;
    uint64_t applied = n.alive ? n.sm_applied : n.disk->hard_state().commit;
    if (applied < gconf_index_) return;  // configurations differ across nodes: skip
  }
  size_t quorum = gvoters_.size() / 2 + 1;
  for (uint64_t x : gvoters_) {
    const SimNode& X = nodes_[x];
    if (!X.started || X.removed) continue;
    if (X.mterm.size() > c && X.mterm[c] == gterm_[c]) continue;  // has it
    uint64_t xt = X.mterm.back(), xi = X.mterm.size() - 1;
    size_t votes = 0;
    for (uint64_t y : gvoters_) {
      const SimNode& Y = nodes_[y];
      if (!Y.started || Y.removed) continue;
      uint64_t yt = Y.mterm.back(), yi = Y.mterm.size() - 1;
      if (xt > yt || (xt == yt && xi >= yi)) ++votes;
    }
    if (votes >= quorum) {
      Violation("leader completeness: node " + std::to_string(x) + " (last " + std::to_string(xt) +
                "/" + std::to_string(xi) + ") lacks committed entry " + std::to_string(c) +
                " (term " + std::to_string(gterm_[c]) + ") yet could win an election");
      return;
    }
  }
}

void Sim::CheckAll() {
  if (res_.violation) return;
  for (size_t i = 1; i < nodes_.size(); ++i) {
    SimNode& n = nodes_[i];
    if (!n.alive) continue;
    RecordCommits(n);
    if (res_.violation) return;
    const raft::Raft& r = n.rn->raft();
    if (r.state() != StateType::kLeader) continue;
    // Election safety: at most one leader per term.
    auto [it, inserted] = leaders_.emplace(r.term(), n.id);
    if (!inserted && it->second != n.id) {
      Violation("election safety: nodes " + std::to_string(it->second) + " and " +
                std::to_string(n.id) + " are both leader in term " + std::to_string(r.term()));
      return;
    }
    // Leader completeness: entries committed in earlier terms are in the new leader's log.
    if (n.leader_term_checked != r.term()) {
      n.leader_term_checked = r.term();
      const raft::RaftLog& log = r.log();
      for (uint64_t k = log.FirstIndex(); k < gterm_.size(); ++k) {
        if (gcterm_[k] >= r.term()) continue;
        auto t = log.Term(k);
        if (!t.ok() || *t != gterm_[k]) {
          Violation("leader completeness: leader " + std::to_string(n.id) + " of term " +
                    std::to_string(r.term()) + " lacks committed entry " + std::to_string(k) +
                    " (term " + std::to_string(gterm_[k]) + ")");
          return;
        }
      }
    }
  }
  CheckLogMatching();
  CheckElectable();
}

SimNode* Sim::Leader() {
  SimNode* best = nullptr;
  for (size_t i = 1; i < nodes_.size(); ++i) {
    SimNode& n = nodes_[i];
    if (!n.alive || n.rn->raft().state() != StateType::kLeader) continue;
    if (best == nullptr || n.rn->raft().term() > best->rn->raft().term()) best = &n;
  }
  return best;
}

void Sim::Compact(SimNode& n) {
  uint64_t first = n.disk->FirstIndex().value();
  if (n.sm_applied < first + 2) return;
  // Snapshot at the applied index (the conf state is the one as of that index), keep a few
  // entries behind it so slow followers sometimes catch up from the log, sometimes not.
  auto s = n.disk->CreateSnapshot(n.sm_applied, &n.conf, SmData(n.sm_applied, n.sm_hash));
  if (!s.ok()) return;
  uint64_t keep = Pick(4);
  uint64_t at = n.sm_applied > first + keep ? n.sm_applied - keep : first;
  (void)n.disk->Compact(at);
  Ev({8, n.id, n.sm_applied, at}, [&] {
    return "node " + std::to_string(n.id) + " snapshot at " + std::to_string(n.sm_applied) +
           ", compacted to " + std::to_string(at);
  });
}

void Sim::ConfChangeOp(SimNode& leader) {
  ConfState cs = leader.rn->raft().tracker().GetConfState();
  ConfChange cc;
  uint64_t r = Pick(3);
  uint64_t fresh = 0;
  for (size_t i = 1; i < nodes_.size(); ++i) {
    if (!nodes_[i].started) {
      fresh = i;
      break;
    }
  }
  if (r == 0 && !cs.learners.empty()) {
    cc.type = ConfChangeType::kAddNode;  // promote
    cc.node_id = cs.learners[Pick(cs.learners.size())];
  } else if (r <= 1 && fresh != 0) {
    cc.type = ConfChangeType::kAddLearnerNode;
    cc.node_id = fresh;
  } else if (cs.voters.size() > 2) {
    cc.type = ConfChangeType::kRemoveNode;  // possibly the leader itself
    cc.node_id = cs.voters[Pick(cs.voters.size())];
  } else {
    return;
  }
  Status st = leader.rn->ProposeConfChange(cc);
  Ev({9, leader.id, static_cast<uint64_t>(cc.type), cc.node_id, st.ok()}, [&] {
    static const char* kNames[] = {"add", "remove", "update", "add-learner"};
    return "node " + std::to_string(leader.id) + " propose conf change " +
           kNames[static_cast<int>(cc.type)] + " " + std::to_string(cc.node_id) + ": " +
           st.ToString();
  });
  if (st.ok() && cc.type == ConfChangeType::kAddLearnerNode) {
    // The new member starts with an empty disk; it learns the config from the leader.
    SimNode& n = nodes_[cc.node_id];
    n.disk = std::make_unique<MemoryStorage>();
    n.started = true;
    StartNode(n);
  }
  HandleReady(leader);
}

void Sim::Chaos() {
  // One random action per time unit at most; probabilities are per mille.
  uint64_t r = Pick(1000);
  std::vector<SimNode*> alive;
  for (size_t i = 1; i < nodes_.size(); ++i) {
    if (nodes_[i].alive) alive.push_back(&nodes_[i]);
  }
  if (alive.empty()) return;
  SimNode& n = *alive[Pick(alive.size())];
  if (r < 60) {
    std::string data = "p" + std::to_string(++proposals_);
    Status st = n.rn->Propose(data);
    Ev({10, n.id, proposals_, st.ok()},
       [&] { return "node " + std::to_string(n.id) + " propose " + data + ": " + st.ToString(); });
    HandleReady(n);
  } else if (r < 80) {
    std::string ctx = "r" + std::to_string(++proposals_);
    reads_[ctx] = gterm_.size() - 1;
    Status st = n.rn->ReadIndex(ctx);
    Ev({11, n.id, proposals_, st.ok()}, [&] {
      return "node " + std::to_string(n.id) + " read index " + ctx + ": " + st.ToString();
    });
    HandleReady(n);
  } else if (r < 80 + 3 * storm_) {
    // Crash a random node, or (nemesis) the leader, often right after it replicated.
    SimNode* l = Leader();
    if (l != nullptr && Chance(500)) {
      Crash(*l, "leader");
    } else {
      Crash(n, "random");
    }
  } else if (r < 80 + 6 * storm_) {
    // Partition: isolate the leader, one random node, or split in two random groups.
    uint64_t kind = Pick(3);
    SimNode* l = Leader();
    uint64_t victim = (kind == 0 && l != nullptr) ? l->id : n.id;
    for (size_t i = 1; i < group_.size(); ++i) {
      group_[i] = kind < 2 ? (i == victim ? 1 : 0) : static_cast<int>(Pick(2));
    }
    Ev({12, victim, kind}, [&] {
      std::string s = "partition:";
      for (size_t i = 1; i < group_.size(); ++i)
        s += " " + std::to_string(group_[i]);
      return s;
    });
  } else if (r < 80 + 9 * storm_) {
    std::fill(group_.begin(), group_.end(), 0);
    Ev({13}, [] { return std::string("heal partitions"); });
  } else if (r < 80 + 9 * storm_ + 3) {
    if (SimNode* l = Leader()) ConfChangeOp(*l);
  } else if (r < 80 + 9 * storm_ + 5) {
    if (SimNode* l = Leader()) {
      auto voters = l->rn->raft().tracker().Voters();
      uint64_t to = voters[Pick(voters.size())];
      l->rn->TransferLeader(to);
      ++res_.transfers;
      Ev({14, l->id, to}, [&] {
        return "node " + std::to_string(l->id) + " transfer leadership to " + std::to_string(to);
      });
      HandleReady(*l);
    }
  } else if (r < 80 + 9 * storm_ + 11) {
    Compact(n);
  }
}

void Sim::Heal() {
  healed_ = true;
  std::fill(group_.begin(), group_.end(), 0);
  drop_per_mille_ = 0;
  dup_per_mille_ = 0;
  long_delays_ = false;
  for (size_t i = 1; i < nodes_.size(); ++i) {
    SimNode& n = nodes_[i];
    if (n.started && !n.alive && !n.removed) StartNode(n);
  }
  Ev({15}, [] { return std::string("heal: network healed, all nodes restarted"); });
}

bool Sim::LivenessDone() {
  SimNode* l = Leader();
  if (l == nullptr) return false;
  if (!final_applied_anywhere_) {
    if (final_proposed_at_ == 0 || now_ - final_proposed_at_ > 200) {
      final_proposed_at_ = now_;
      (void)l->rn->Propose("final");
      HandleReady(*l);
    }
    return false;
  }
  // Every member of the leader's configuration has applied everything the leader committed.
  uint64_t c = l->rn->raft().log().committed();
  for (const auto& [id, pr] : l->rn->raft().tracker().progress()) {
    const SimNode& n = nodes_[id];
    if (!n.alive || n.sm_applied < c) return false;
  }
  return true;
}

SimResult Sim::Run() {
  raft::SetFatalHandler(&ThrowFatal);
  try {
    Bootstrap();
    uint64_t end = static_cast<uint64_t>(o_.steps) + kHealUnits;
    bool done = false;
    for (now_ = 0; now_ < end && !res_.violation && !done; ++now_) {
      if (now_ == static_cast<uint64_t>(o_.steps)) Heal();
      while (!net_.empty() && net_.top().at <= now_ && !res_.violation) {
        InFlight f = net_.top();
        net_.pop();
        Deliver(std::move(f));
        ProcessRemovals();
        CheckAll();
      }
      for (size_t i = 1; i < nodes_.size() && !res_.violation; ++i) {
        SimNode& n = nodes_[i];
        if (!n.alive || (now_ + n.tick_offset) % kTickUnits != 0) continue;
        n.rn->Tick();
        HandleReady(n);
        ProcessRemovals();
        CheckAll();
      }
      for (size_t i = 1; i < nodes_.size(); ++i) {
        SimNode& n = nodes_[i];
        if (n.started && !n.alive && !n.removed && n.restart_at <= now_) {
          StartNode(n);
          Ev({16, n.id}, [&] { return "restart " + std::to_string(n.id); });
        }
      }
      for (size_t k = 0; k < kills_.size();) {
        Kill kill = kills_[k];
        if (kill.at > now_) {
          ++k;
          continue;
        }
        kills_.erase(kills_.begin() + k);
        SimNode& n = nodes_[kill.id];
        if (n.alive && n.incarnation == kill.incarnation && !healed_) Crash(n, "new leader");
      }
      if (now_ < static_cast<uint64_t>(o_.steps)) {
        Chaos();
      } else {
        done = LivenessDone();
      }
      ProcessRemovals();
      CheckAll();
    }
    if (!res_.violation && !done) {
      Violation("liveness: no leader applied a new entry on all members within " +
                std::to_string(kHealUnits / kTickUnits) + " ticks after the network healed");
    }
  } catch (const SimAbort& a) {
    Violation("raft aborted: " + a.msg);
  }
  raft::SetFatalHandler(nullptr);
  if (res_.violation) res_.trace_tail.assign(tail_.begin(), tail_.end());
  return res_;
}

}  // namespace

bool ParseBug(const std::string& name, raft::InjectedBugs* bugs) {
  if (name == "commit-old-term") {
    bugs->commit_old_term = true;
  } else if (name == "no-prevote-check") {
    bugs->no_vote_log_check = true;
  } else if (name == "grant-two-votes") {
    bugs->grant_two_votes = true;
  } else {
    return false;
  }
  return true;
}

SimResult RunSim(const SimOptions& opts) {
  SimResult r = Sim(opts, opts.verbose).Run();
  if (r.violation && !opts.verbose) {
    // Re-run with tracing on (deterministic: same run) to capture the events leading to it.
    SimResult traced = Sim(opts, true).Run();
    r.trace_tail = std::move(traced.trace_tail);
  }
  return r;
}

}  // namespace etcdpp::raftsim
