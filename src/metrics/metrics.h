// A small Prometheus-style metrics registry: counters, gauges and histograms,
// with optional label sets, exposed in the Prometheus text format (0.0.4) the
// way Go's client_golang writes it (etcd's /metrics; docs/observability.md).
//
// Hot path: Counter::Inc, Gauge::Set/Add and Histogram::Observe are lock-free
// atomics. Looking up a labelled child (Family::With) takes a mutex; callers on
// hot paths look the child up once and keep the reference (children are never
// freed while the registry lives).
//
// Values known elsewhere (the leader, the db size, /proc) are not copied on
// every change: a Collector callback reports them at scrape time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace etcdpp::metrics {

enum class Type { kCounter, kGauge, kHistogram, kUntyped };
const char* TypeName(Type t);  // "counter", ...

// Monotonic, integer-valued (every counter etcd operators alert on counts events).
class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  double Value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Buckets are upper bounds (inclusive, as Prometheus' `le`), ascending; +Inf
// is implicit.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  // Count is derived from the buckets, so a scrape never shows count !=
  // the +Inf bucket even while observations race with it.
  Snapshot Take() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Go's prometheus.ExponentialBuckets(start, factor, count).
std::vector<double> ExponentialBuckets(double start, double factor, int count);

using Labels = std::vector<std::pair<std::string, std::string>>;

// A metric name with a fixed list of label names; one child per label-value
// tuple, created on first use (as client_golang's *Vec).
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  Type type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

 protected:
  std::string name_, help_;
  Type type_;
  std::vector<std::string> label_names_;
};

template <typename M>
class Family : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<M>()>;
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names,
         Factory factory)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        factory_(std::move(factory)) {}

  // Values in the order of label_names(); aborts on a count mismatch
  // (a programmer error, as client_golang panics).
  M& With(const std::vector<std::string>& values);
  M& With(std::initializer_list<std::string_view> values) {
    return With(std::vector<std::string>(values.begin(), values.end()));
  }
  // Every child with its label values (for exposition and tests).
  std::vector<std::pair<std::vector<std::string>, const M*>> Children() const;

 private:
  Factory factory_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// What a Collector reports at scrape time.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void Add(std::string_view name, std::string_view help, Type type, Labels labels,
                   double value) = 0;
  void Gauge(std::string_view name, std::string_view help, double v, Labels labels = {}) {
    Add(name, help, Type::kGauge, std::move(labels), v);
  }
  void Counter(std::string_view name, std::string_view help, double v, Labels labels = {}) {
    Add(name, help, Type::kCounter, std::move(labels), v);
  }
};
using CollectFn = std::function<void(Sink&)>;

class Registry;

// Keeps a collector registered; unregisters on destruction (and waits for a
// scrape that is running it), so the callback may capture objects that die
// with the handle.
class Registration {
 public:
  Registration() = default;
  Registration(Registry* r, uint64_t id) : r_(r), id_(id) {}
  Registration(Registration&& o) noexcept : r_(o.r_), id_(o.id_) { o.r_ = nullptr; }
  Registration& operator=(Registration&& o) noexcept;
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;
  ~Registration() { Reset(); }
  void Reset();

 private:
  Registry* r_ = nullptr;
  uint64_t id_ = 0;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Idempotent by name: a second call returns the same metric. Asking for an
  // existing name with another type or other label names aborts.
  CounterFamily& CounterVec(std::string_view name, std::string_view help,
                            std::vector<std::string> label_names);
  GaugeFamily& GaugeVec(std::string_view name, std::string_view help,
                        std::vector<std::string> label_names);
  HistogramFamily& HistogramVec(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names, std::vector<double> bounds);
  metrics::Counter& Counter(std::string_view name, std::string_view help) {
    return CounterVec(name, help, {}).With(std::vector<std::string>{});
  }
  metrics::Gauge& Gauge(std::string_view name, std::string_view help) {
    return GaugeVec(name, help, {}).With(std::vector<std::string>{});
  }
  metrics::Histogram& Histogram(std::string_view name, std::string_view help,
                                std::vector<double> bounds) {
    return HistogramVec(name, help, {}, std::move(bounds)).With(std::vector<std::string>{});
  }

  [[nodiscard]] Registration AddCollector(CollectFn fn);
  // A collector that lives as long as the registry; idempotent by `key`
  // (e.g. the process collector, added by every /metrics registration).
  void AddPermanentCollector(std::string_view key, CollectFn fn);

  // The whole registry in the Prometheus text format: families sorted by
  // name, series by label values, label pairs by name (client_golang's order).
  std::string Expose() const;

  // Per-registry state of a helper module (grpc_metrics' per-method cache),
  // made on first use and destroyed with the registry: no process-wide map
  // keyed by a registry's address that could outlive it.
  template <typename T, typename Make>
  T& Extension(std::string_view key, Make make) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = extensions_.find(key); it != extensions_.end()) {
        return *static_cast<T*>(it->second.get());
      }
    }
    // Made unlocked: the maker may register families (which takes mu_).
    std::shared_ptr<void> made(make());
    std::lock_guard<std::mutex> lock(mu_);
    auto it = extensions_.emplace(std::string(key), std::move(made)).first;  // first one wins
    return *static_cast<T*>(it->second.get());
  }

 private:
  friend class Registration;
  void RemoveCollector(uint64_t id);
  template <typename M>
  Family<M>& GetOrCreate(std::string_view name, std::string_view help, Type type,
                         std::vector<std::string> label_names, typename Family<M>::Factory factory);

  mutable std::mutex mu_;  // families_ (never held while collectors run)
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_;
  std::map<std::string, std::shared_ptr<void>, std::less<>> extensions_;  // guarded by mu_
  // Held while collectors run (Expose) and while one is removed.
  mutable std::mutex collectors_mu_;
  std::map<uint64_t, CollectFn> collectors_;
  std::map<std::string, uint64_t, std::less<>> permanent_;  // key -> collector id
  uint64_t next_id_ = 1;
};

// The process-wide registry /metrics serves (never destroyed).
Registry& Default();

// --- text format helpers (exposed for tests) ---
// Go's strconv.FormatFloat(v, 'g', -1, 64), with "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);
std::string EscapeHelp(std::string_view s);        // '\' and newline
std::string EscapeLabelValue(std::string_view s);  // '\', '"' and newline

// --- template implementation ---
template <typename M>
M& Family<M>::With(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) std::abort();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(values, factory_()).first;
  return *it->second;
}

template <typename M>
std::vector<std::pair<std::vector<std::string>, const M*>> Family<M>::Children() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<std::vector<std::string>, const M*>> out;
  out.reserve(children_.size());
  for (const auto& [k, v] : children_)
    out.emplace_back(k, v.get());
  return out;
}

}  // namespace etcdpp::metrics
