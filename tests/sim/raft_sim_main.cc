// raft-sim: runs the deterministic Raft simulator over many seeds.
//
//   raft-sim --seeds N [--seed-start K] [--nodes 3|5] [--steps S] [--inject-bug NAME]
//   raft-sim --seed X [--nodes ..] [--steps ..] [--inject-bug ..]   (replay one seed, verbose)
//
// Last line: "seeds: N, violations: V, digest: HEX"; the digest hashes every run's trace, so the
// same arguments always print the same digest.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "simulator.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: raft-sim --seeds N [--seed-start K] [--nodes 3|5] [--steps S]\n"
               "                [--inject-bug commit-old-term|no-prevote-check|grant-two-votes]\n"
               "       raft-sim --seed X [...]   replay one seed with a verbose trace\n");
}

bool ParseU64(const char* s, uint64_t* out) {
  char* end = nullptr;
  *out = std::strtoull(s, &end, 10);
  return end != s && *end == '\0';
}

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

}  // namespace

int main(int argc, char** argv) {
  using etcdpp::raftsim::RunSim;
  using etcdpp::raftsim::SimOptions;
  uint64_t seeds = 100, seed_start = 1, nodes = 3, steps = 10000, one_seed = 0;
  bool replay = false;
  std::string bug;
  SimOptions base;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    bool ok = v != nullptr;
    if (a == "--seeds") {
      ok = ok && ParseU64(v, &seeds);
    } else if (a == "--seed-start") {
      ok = ok && ParseU64(v, &seed_start);
    } else if (a == "--nodes") {
      ok = ok && ParseU64(v, &nodes) && (nodes == 3 || nodes == 5);
    } else if (a == "--steps") {
      ok = ok && ParseU64(v, &steps) && steps > 0;
    } else if (a == "--seed") {
      ok = ok && ParseU64(v, &one_seed);
      replay = true;
    } else if (a == "--inject-bug") {
      ok = ok && etcdpp::raftsim::ParseBug(v, &base.bugs);
      if (ok) bug = v;
    } else {
      ok = false;
    }
    if (!ok) {
      Usage();
      return 2;
    }
    ++i;
  }
  base.nodes = static_cast<int>(nodes);
  base.steps = static_cast<int>(steps);
  if (replay) {
    seeds = 1;
    seed_start = one_seed;
    base.verbose = true;
  }
  auto t0 = std::chrono::steady_clock::now();
  uint64_t digest = 0, violations = 0, commits = 0, elections = 0, crashes = 0, confs = 0,
           snaps = 0, reads = 0;
  for (uint64_t s = seed_start; s < seed_start + seeds; ++s) {
    SimOptions o = base;
    o.seed = s;
    auto r = RunSim(o);
    digest = Mix(digest, r.trace_hash);
    commits += r.commits;
    elections += r.elections;
    crashes += r.crashes;
    confs += r.conf_changes;
    snaps += r.snapshots_sent;
    reads += r.reads;
    if (!r.violation) continue;
    ++violations;
    if (violations <= 3) {
      std::printf("VIOLATION seed %" PRIu64 " at t=%" PRIu64 ": %s\n", s, r.violation_time,
                  r.what.c_str());
      // Chaos decisions before time T do not depend on --steps, so a violation during the
      // chaos phase replays identically with --steps T+1: the shortest trace reaching it.
      uint64_t min_steps = r.violation_time < steps ? r.violation_time + 1 : steps;
      std::printf("  replay: raft-sim --seed %" PRIu64 " --nodes %" PRIu64 " --steps %" PRIu64
                  "%s%s\n",
                  s, nodes, min_steps, bug.empty() ? "" : " --inject-bug ", bug.c_str());
      if (!replay) {
        std::printf("  last events:\n");
        for (const auto& line : r.trace_tail)
          std::printf("    %s\n", line.c_str());
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "raft-sim: %.1fs, commits %" PRIu64 ", leaders %" PRIu64 ", crashes %" PRIu64
               ", conf changes %" PRIu64 ", snapshots %" PRIu64 ", reads %" PRIu64 "\n",
               secs, commits, elections, crashes, confs, snaps, reads);
  std::printf("seeds: %" PRIu64 ", violations: %" PRIu64 ", digest: %016" PRIx64 "\n", seeds,
              violations, digest);
  std::fflush(stdout);
  return violations == 0 ? 0 : 1;
}
