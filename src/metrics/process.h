// The process_* metrics of Prometheus' Go client (the ones meaningful for a
// C++ process) and etcd's os_fd_* gauges, read from /proc at scrape time.
#pragma once

#include <optional>
#include <string>

#include "metrics/metrics.h"

namespace etcdpp::metrics {

struct ProcessStats {
  double cpu_seconds = 0;         // utime + stime
  double resident_bytes = 0;      // rss pages * page size
  double virtual_bytes = 0;       // vsize
  double start_time_seconds = 0;  // unix time the process started
  double open_fds = 0;            // entries in /proc/self/fd
  double max_fds = 0;             // soft RLIMIT_NOFILE
  double virtual_max_bytes = 0;   // soft RLIMIT_AS (-1: unlimited)
};

// `proc` is the /proc root (tests pass a fake tree); `pid` "self" or a number.
// nullopt when /proc/<pid>/stat cannot be read or parsed.
std::optional<ProcessStats> ReadProcessStats(const std::string& proc = "/proc",
                                             const std::string& pid = "self");

// Adds a collector reporting the stats above under Go's names. The registry
// keeps it for its lifetime (Default() calls this once by itself when the
// /metrics handler is registered).
void RegisterProcessCollector(Registry& r);

}  // namespace etcdpp::metrics
