#include "metrics/process.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace etcdpp::metrics {
namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// /proc/stat "btime <unix seconds>": boot time, base of the start time ticks.
double BootTime(const std::string& proc) {
  auto s = ReadFile(proc + "/stat");
  if (!s) return 0;
  std::istringstream in(*s);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) == 0) return std::strtod(line.c_str() + 6, nullptr);
  }
  return 0;
}

// One soft limit from /proc/<pid>/limits, e.g. "Max open files  1024  4096  files".
double SoftLimit(const std::string& limits, const std::string& what) {
  std::istringstream in(limits);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(what, 0) != 0) continue;
    std::istringstream f(line.substr(what.size()));
    std::string soft;
    f >> soft;
    if (soft == "unlimited") return -1;
    return std::strtod(soft.c_str(), nullptr);
  }
  return 0;
}

double CountFds(const std::string& dir, bool own_dir_fd) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return 0;
  double n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(d);
  // Reading our own fd table lists opendir's descriptor too.
  return own_dir_fd && n > 0 ? n - 1 : n;
}

}  // namespace

std::optional<ProcessStats> ReadProcessStats(const std::string& proc, const std::string& pid) {
  const std::string base = proc + "/" + pid;
  auto stat = ReadFile(base + "/stat");
  if (!stat) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parens; fields
  // resume after the last ')'.
  size_t close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream in(stat->substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  std::string tok;
  while (in >> tok)
    f.push_back(tok);
  if (f.size() < 22) return std::nullopt;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  ProcessStats s;
  // proc(5): utime 14, stime 15, starttime 22, vsize 23, rss 24 (1-based).
  s.cpu_seconds =
      (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) / ticks;
  s.start_time_seconds = BootTime(proc) + std::strtod(f[19].c_str(), nullptr) / ticks;
  s.virtual_bytes = std::strtod(f[20].c_str(), nullptr);
  s.resident_bytes = std::strtod(f[21].c_str(), nullptr) * page;
  if (auto limits = ReadFile(base + "/limits")) {
    s.max_fds = SoftLimit(*limits, "Max open files");
    s.virtual_max_bytes = SoftLimit(*limits, "Max address space");
  }
  s.open_fds = CountFds(base + "/fd", proc == "/proc" && pid == "self");
  return s;
}

void RegisterProcessCollector(Registry& r) {
  r.AddPermanentCollector("process", [](Sink& sink) {
    auto s = ReadProcessStats();
    if (!s) return;
    sink.Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                 s->cpu_seconds);
    sink.Gauge("process_open_fds", "Number of open file descriptors.", s->open_fds);
    sink.Gauge("process_max_fds", "Maximum number of open file descriptors.", s->max_fds);
    sink.Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", s->virtual_bytes);
    sink.Gauge("process_virtual_memory_max_bytes",
               "Maximum amount of virtual memory available in bytes.", s->virtual_max_bytes);
    sink.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
               s->resident_bytes);
    sink.Gauge("process_start_time_seconds",
               "Start time of the process since unix epoch in seconds.", s->start_time_seconds);
    // etcd's own names for the same numbers (server/etcdserver/metrics.go).
    sink.Gauge("os_fd_used", "The number of used file descriptors.", s->open_fds);
    sink.Gauge("os_fd_limit", "The file descriptor limit.", s->max_fds);
  });
}

}  // namespace etcdpp::metrics
