// Deterministic Raft cluster simulator: N RawNodes in one thread over a simulated network
// (delays, reordering, drops, duplicates, partitions) and a logical clock, with crashes
// (only what a Ready asked to persist survives), membership changes, leader transfers, reads
// and log compaction. Invariants are checked after every step; see docs/raft.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "raft/raft.h"

namespace etcdpp::raftsim {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 3;      // initial voters (3 or 5)
  int steps = 10000;  // chaos phase length in time units (10 units = 1 tick)
  raft::InjectedBugs bugs;
  bool verbose = false;  // print every trace line to stdout
};

struct SimResult {
  bool violation = false;
  std::string what;  // the violated property and details
  uint64_t violation_time = 0;
  uint64_t trace_hash = 0;              // hash of every event of the run
  std::vector<std::string> trace_tail;  // last events before the violation (when violated)
  // Statistics.
  uint64_t commits = 0;
  uint64_t elections = 0;
  uint64_t crashes = 0;
  uint64_t conf_changes = 0;
  uint64_t snapshots_sent = 0;
  uint64_t reads = 0;
  uint64_t transfers = 0;
};

SimResult RunSim(const SimOptions& opts);

// Parses "commit-old-term", "no-prevote-check", "grant-two-votes"; false if unknown.
bool ParseBug(const std::string& name, raft::InjectedBugs* bugs);

}  // namespace etcdpp::raftsim
