#include "report.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace etcdpp::bench {

namespace {

constexpr double kPercentiles[] = {10, 25, 50, 75, 90, 95, 99, 99.9};
constexpr int kHistogramBuckets = 10;
constexpr size_t kErrorsShown = 20;

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

double Summary::Percentile(double pct) const {
  for (const auto& [p, ms] : percentiles_ms) {
    if (p == pct) return ms;
  }
  return 0;
}

Recorder::Recorder(int lanes, int series)
    : series_(series),
      lanes_(static_cast<size_t>(lanes) * series),
      errors_(series),
      error_order_(series) {}

void Recorder::Error(int series, const std::string& message, uint64_t count) {
  std::lock_guard lock(mu_);
  auto& dist = errors_[series];
  if (dist[message] == 0) error_order_[series].push_back(message);
  dist[message] += count;
}

uint64_t Recorder::ErrorCount(int series) const {
  std::lock_guard lock(mu_);
  uint64_t n = 0;
  for (const auto& [m, c] : errors_[series])
    n += c;
  return n;
}

Summary Recorder::Summarize(int series, double elapsed_s) const {
  Summary s;
  s.elapsed_s = elapsed_s;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    if (series >= 0 && static_cast<int>(i % series_) != series) continue;
    for (int64_t ns : lanes_[i])
      s.sorted_ms.push_back(static_cast<double>(ns) / 1e6);
  }
  std::sort(s.sorted_ms.begin(), s.sorted_ms.end());
  {
    std::lock_guard lock(mu_);
    for (int k = 0; k < series_; ++k) {
      if (series >= 0 && k != series) continue;
      for (const auto& m : error_order_[k]) {
        uint64_t c = errors_[k].at(m);
        s.error_dist.emplace_back(m, c);
        s.errors += c;
      }
    }
  }
  const size_t n = s.sorted_ms.size();
  s.requests = n + s.errors;
  s.rps = elapsed_s > 0 ? static_cast<double>(n) / elapsed_s : 0;
  if (n == 0) return s;
  double sum = 0;
  for (double v : s.sorted_ms)
    sum += v;
  s.avg_ms = sum / static_cast<double>(n);
  double var = 0;
  for (double v : s.sorted_ms)
    var += (v - s.avg_ms) * (v - s.avg_ms);
  s.stddev_ms = std::sqrt(var / static_cast<double>(n));
  s.min_ms = s.sorted_ms.front();
  s.max_ms = s.sorted_ms.back();
  for (double p : kPercentiles) {
    // Nearest-rank: the smallest value with at least p% of the samples at or below it.
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
    rank = std::clamp<size_t>(rank, 1, n);
    s.percentiles_ms.emplace_back(p, s.sorted_ms[rank - 1]);
  }
  return s;
}

std::string FormatHuman(const std::string& title, const Summary& s) {
  std::ostringstream out;
  if (!title.empty()) out << title << "\n";
  out << "\nSummary:\n";
  out << "  Total:\t" << Fixed(s.elapsed_s, 4) << " secs.\n";
  out << "  Requests:\t" << s.requests << " (" << s.errors << " errors)\n";
  if (!s.sorted_ms.empty()) {
    out << "  Slowest:\t" << Fixed(s.max_ms / 1e3, 4) << " secs.\n";
    out << "  Fastest:\t" << Fixed(s.min_ms / 1e3, 4) << " secs.\n";
    out << "  Average:\t" << Fixed(s.avg_ms / 1e3, 4) << " secs.\n";
    out << "  Stddev:\t" << Fixed(s.stddev_ms / 1e3, 4) << " secs.\n";
    out << "  Requests/sec:\t" << Fixed(s.rps, 4) << "\n";

    // Linear buckets between fastest and slowest, as etcd's pkg/report prints them.
    std::vector<double> bounds(kHistogramBuckets + 1);
    std::vector<uint64_t> counts(kHistogramBuckets + 1, 0);
    double width = (s.max_ms - s.min_ms) / kHistogramBuckets;
    for (int i = 0; i < kHistogramBuckets; ++i)
      bounds[i] = s.min_ms + width * i;
    bounds[kHistogramBuckets] = s.max_ms;
    size_t b = 0;
    uint64_t most = 0;
    for (double v : s.sorted_ms) {
      while (v > bounds[b] && b < bounds.size() - 1)
        ++b;
      most = std::max(most, ++counts[b]);
    }
    out << "\nResponse time histogram:\n";
    for (size_t i = 0; i < bounds.size(); ++i) {
      size_t bar = most ? static_cast<size_t>(counts[i] * 40 / most) : 0;
      std::string bars;
      for (size_t k = 0; k < bar; ++k)
        bars += "\xe2\x88\x8e";  // U+220E, etcd's bar glyph
      out << "  " << Fixed(bounds[i] / 1e3, 4) << " [" << counts[i] << "]\t|" << bars << "\n";
    }
    out << "\nLatency distribution:\n";
    for (const auto& [p, ms] : s.percentiles_ms) {
      std::ostringstream pct;
      pct << p;
      out << "  " << pct.str() << "% in " << Fixed(ms / 1e3, 4) << " secs.\n";
    }
  }
  if (!s.error_dist.empty()) {
    out << "\nError distribution:\n";
    size_t shown = 0;
    for (const auto& [m, c] : s.error_dist) {
      if (shown++ == kErrorsShown) {
        out << "  ... and " << (s.error_dist.size() - kErrorsShown) << " more distinct errors\n";
        break;
      }
      out << "  [" << c << "]\t" << m << "\n";
    }
  }
  return out.str();
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string FormatJson(const Summary& s, const std::string& extra) {
  std::ostringstream out;
  out << "{\"requests\": " << s.requests << ", \"errors\": " << s.errors
      << ", \"elapsed_s\": " << Fixed(s.elapsed_s, 4) << ", \"rps\": " << Fixed(s.rps, 2)
      << ", \"avg_ms\": " << Fixed(s.avg_ms, 4) << ", \"min_ms\": " << Fixed(s.min_ms, 4)
      << ", \"max_ms\": " << Fixed(s.max_ms, 4) << ", \"p50_ms\": " << Fixed(s.Percentile(50), 4)
      << ", \"p90_ms\": " << Fixed(s.Percentile(90), 4)
      << ", \"p99_ms\": " << Fixed(s.Percentile(99), 4)
      << ", \"p999_ms\": " << Fixed(s.Percentile(99.9), 4) << ", \"first_errors\": [";
  for (size_t i = 0; i < s.error_dist.size() && i < 5; ++i) {
    out << (i ? ", " : "") << JsonString(s.error_dist[i].first);
  }
  out << "]";
  if (!extra.empty()) out << ", " << extra;
  out << "}";
  return out.str();
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

}  // namespace etcdpp::bench
