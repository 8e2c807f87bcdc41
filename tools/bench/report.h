// Latency recording and the report: a human summary in the shape of etcd's benchmark
// (summary, histogram, latency distribution, error distribution) and a JSON object.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace etcdpp::bench {

using Clock = std::chrono::steady_clock;

inline int64_t NanosSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t).count();
}

struct Summary {
  uint64_t requests = 0;  // completed: ok + errors
  uint64_t errors = 0;
  double elapsed_s = 0;
  double rps = 0;  // successful requests per second (as etcd's report computes it)
  double min_ms = 0, max_ms = 0, avg_ms = 0, stddev_ms = 0;
  std::vector<std::pair<double, double>> percentiles_ms;     // (percent, ms)
  std::vector<double> sorted_ms;                             // for the histogram
  std::vector<std::pair<std::string, uint64_t>> error_dist;  // first seen first

  double Percentile(double pct) const;
};

// Collects latencies per lane without locks: a lane (a client, a stream) has at most one
// callback running at a time, so its vector is never touched concurrently. Errors are rare
// and go through a mutex.
class Recorder {
 public:
  Recorder(int lanes, int series);
  void Ok(int lane, int series, int64_t latency_ns) {
    lanes_[static_cast<size_t>(lane) * series_ + series].push_back(latency_ns);
  }
  void Error(int series, const std::string& message, uint64_t count = 1);
  // series -1: every series together.
  Summary Summarize(int series, double elapsed_s) const;
  uint64_t ErrorCount(int series) const;

 private:
  int series_;
  std::vector<std::vector<int64_t>> lanes_;
  mutable std::mutex mu_;
  std::vector<std::map<std::string, uint64_t>> errors_;  // per series
  std::vector<std::vector<std::string>> error_order_;    // per series, first-seen order
};

// Prints etcd's layout: "Summary:", "Response time histogram:", "Latency distribution:",
// then "Error distribution:" when there were errors.
std::string FormatHuman(const std::string& title, const Summary& s);
// One JSON object: requests, errors, rps, p50_ms, p90_ms, p99_ms, p999_ms and more;
// `extra` is appended verbatim (already-formatted `"key": value` pairs, comma-separated).
std::string FormatJson(const Summary& s, const std::string& extra);
std::string JsonString(const std::string& s);

// CPU seconds (user + system) this process has used so far.
double ProcessCpuSeconds();

}  // namespace etcdpp::bench
