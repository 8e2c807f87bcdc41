#include "metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace etcdpp::metrics {

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
    case Type::kUntyped:
      return "untyped";
  }
  return "untyped";
}

void Gauge::Add(double d) {
  v_.fetch_add(d, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  // Prometheus requires strictly ascending bounds; a violation is a bug here.
  for (size_t i = 1; i < bounds_.size(); i++)
    if (!(bounds_[i - 1] < bounds_[i])) std::abort();
  for (size_t i = 0; i <= bounds_.size(); i++)
    buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // First bound >= v (`le` is inclusive); past the end is the +Inf bucket.
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); i++) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = acc;
  }
  s.count = acc;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  out.reserve(count);
  for (int i = 0; i < count; i++) {
    out.push_back(start);
    start *= factor;  // iterated, as Go does (exact for factor 2)
  }
  return out;
}

Registration& Registration::operator=(Registration&& o) noexcept {
  if (this != &o) {
    Reset();
    r_ = o.r_;
    id_ = o.id_;
    o.r_ = nullptr;
  }
  return *this;
}

void Registration::Reset() {
  if (r_ != nullptr) r_->RemoveCollector(id_);
  r_ = nullptr;
}

template <typename M>
Family<M>& Registry::GetOrCreate(std::string_view name, std::string_view help, Type type,
                                 std::vector<std::string> label_names,
                                 typename Family<M>::Factory factory) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    auto* f = dynamic_cast<Family<M>*>(it->second.get());
    // Same name, other shape: two call sites disagree about a metric.
    if (f == nullptr || f->type() != type || f->label_names() != label_names) std::abort();
    return *f;
  }
  auto f = std::make_unique<Family<M>>(std::string(name), std::string(help), type,
                                       std::move(label_names), std::move(factory));
  Family<M>& ref = *f;
  families_.emplace(std::string(name), std::move(f));
  return ref;
}

CounterFamily& Registry::CounterVec(std::string_view name, std::string_view help,
                                    std::vector<std::string> label_names) {
  return GetOrCreate<metrics::Counter>(name, help, Type::kCounter, std::move(label_names),
                                       [] { return std::make_unique<metrics::Counter>(); });
}

GaugeFamily& Registry::GaugeVec(std::string_view name, std::string_view help,
                                std::vector<std::string> label_names) {
  return GetOrCreate<metrics::Gauge>(name, help, Type::kGauge, std::move(label_names),
                                     [] { return std::make_unique<metrics::Gauge>(); });
}

HistogramFamily& Registry::HistogramVec(std::string_view name, std::string_view help,
                                        std::vector<std::string> label_names,
                                        std::vector<double> bounds) {
  return GetOrCreate<metrics::Histogram>(
      name, help, Type::kHistogram, std::move(label_names),
      [bounds] { return std::make_unique<metrics::Histogram>(bounds); });
}

Registration Registry::AddCollector(CollectFn fn) {
  std::lock_guard<std::mutex> lock(collectors_mu_);
  uint64_t id = next_id_++;
  collectors_.emplace(id, std::move(fn));
  return Registration(this, id);
}

void Registry::AddPermanentCollector(std::string_view key, CollectFn fn) {
  std::lock_guard<std::mutex> lock(collectors_mu_);
  if (permanent_.count(key)) return;
  uint64_t id = next_id_++;
  collectors_.emplace(id, std::move(fn));
  permanent_.emplace(std::string(key), id);
}

void Registry::RemoveCollector(uint64_t id) {
  // Blocks while a scrape runs the collectors: after this returns, the
  // callback is not running and never will again.
  std::lock_guard<std::mutex> lock(collectors_mu_);
  collectors_.erase(id);
}

Registry& Default() {
  static Registry* r = new Registry();  // leaked: usable during static destruction
  return *r;
}

// ---------------------------------------------------------------- exposition

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  // Shortest round-trip digits, then Go's 'g' rule for precision -1:
  // scientific iff the decimal exponent is < -4 or >= 6.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-1.234567e+06"
  size_t e = sci.find('e');
  int exp = std::atoi(sci.c_str() + e + 1);
  if (exp < -4 || exp >= 6) return sci;  // to_chars pads the exponent to 2 digits, as Go
  bool neg = sci[0] == '-';
  std::string digits;
  for (size_t i = neg ? 1 : 0; i < e; i++)
    if (sci[i] != '.') digits.push_back(sci[i]);
  std::string out = neg ? "-" : "";
  if (exp < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exp - 1), '0');
    out += digits;
  } else {
    size_t int_len = static_cast<size_t>(exp) + 1;
    if (digits.size() <= int_len) {
      out += digits;
      out.append(int_len - digits.size(), '0');
    } else {
      out += digits.substr(0, int_len);
      out += '.';
      out += digits.substr(int_len);
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeLabelValue(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

struct SeriesOut {
  Labels labels;  // sorted by name
  double value = 0;
  bool is_histogram = false;
  std::vector<double> bounds;
  Histogram::Snapshot hist;
};

struct FamilyOut {
  std::string help;
  Type type = Type::kUntyped;
  std::vector<SeriesOut> series;
};

Labels Zip(const std::vector<std::string>& names, const std::vector<std::string>& values) {
  Labels l;
  l.reserve(names.size());
  for (size_t i = 0; i < names.size(); i++)
    l.emplace_back(names[i], values[i]);
  return l;
}

class CollectSink : public Sink {
 public:
  explicit CollectSink(std::map<std::string, FamilyOut>* out) : out_(out) {}
  void Add(std::string_view name, std::string_view help, Type type, Labels labels,
           double value) override {
    auto [it, fresh] = out_->try_emplace(std::string(name));
    if (fresh) {
      it->second.help = std::string(help);
      it->second.type = type;
    }
    SeriesOut s;
    s.labels = std::move(labels);
    s.value = value;
    it->second.series.push_back(std::move(s));
  }

 private:
  std::map<std::string, FamilyOut>* out_;
};

void WriteLabels(std::string* out, const Labels& labels, const char* extra_name = nullptr,
                 const std::string& extra_value = "") {
  if (labels.empty() && extra_name == nullptr) return;
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out->push_back(',');
    first = false;
    *out += k;
    *out += "=\"";
    *out += EscapeLabelValue(v);
    out->push_back('"');
  }
  if (extra_name != nullptr) {
    if (!first) out->push_back(',');
    *out += extra_name;
    *out += "=\"";
    *out += extra_value;
    out->push_back('"');
  }
  out->push_back('}');
}

}  // namespace

std::string Registry::Expose() const {
  std::map<std::string, FamilyOut> fams;
  {
    // Collectors first: they may also refresh registered gauges (e.g. the
    // commit index) just before those are read below.
    std::lock_guard<std::mutex> lock(collectors_mu_);
    CollectSink sink(&fams);
    for (const auto& [id, fn] : collectors_)
      fn(sink);
  }
  {
    // Snapshot the family list; families are never removed, so the pointers
    // stay valid after the lock is released.
    std::vector<const FamilyBase*> list;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [name, f] : families_)
        list.push_back(f.get());
    }
    for (const FamilyBase* f : list) {
      FamilyOut fo;
      fo.help = f->help();
      fo.type = f->type();
      if (auto* c = dynamic_cast<const CounterFamily*>(f)) {
        for (const auto& [values, m] : c->Children())
          fo.series.push_back(
              {Zip(f->label_names(), values), static_cast<double>(m->Value()), false, {}, {}});
      } else if (auto* g = dynamic_cast<const GaugeFamily*>(f)) {
        for (const auto& [values, m] : g->Children())
          fo.series.push_back({Zip(f->label_names(), values), m->Value(), false, {}, {}});
      } else if (auto* h = dynamic_cast<const HistogramFamily*>(f)) {
        for (const auto& [values, m] : h->Children()) {
          SeriesOut s;
          s.labels = Zip(f->label_names(), values);
          s.is_histogram = true;
          s.bounds = m->bounds();
          s.hist = m->Take();
          fo.series.push_back(std::move(s));
        }
      }
      // A labelled family with no child yet is not exposed (client_golang).
      if (fo.series.empty()) continue;
      auto [it, fresh] = fams.try_emplace(f->name(), std::move(fo));
      if (!fresh) {
        for (auto& s : fo.series)
          it->second.series.push_back(std::move(s));
      }
    }
  }
  std::string out;
  out.reserve(fams.size() * 256);
  for (auto& [name, fo] : fams) {
    for (auto& s : fo.series)
      std::sort(s.labels.begin(), s.labels.end());
    std::stable_sort(fo.series.begin(), fo.series.end(),
                     [](const SeriesOut& a, const SeriesOut& b) {
                       for (size_t i = 0; i < a.labels.size() && i < b.labels.size(); i++) {
                         if (a.labels[i].second != b.labels[i].second)
                           return a.labels[i].second < b.labels[i].second;
                       }
                       return a.labels.size() < b.labels.size();
                     });
    // Appended piecewise: `const char* + std::string` trips GCC 12's
    // -Wrestrict false positive (GCC bug 105329).
    out.append("# HELP ").append(name).append(" ").append(EscapeHelp(fo.help)).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(TypeName(fo.type)).append("\n");
    for (const auto& s : fo.series) {
      if (!s.is_histogram) {
        out += name;
        WriteLabels(&out, s.labels);
        out.append(" ").append(FormatValue(s.value)).append("\n");
        continue;
      }
      for (size_t i = 0; i <= s.bounds.size(); i++) {
        out.append(name).append("_bucket");
        WriteLabels(&out, s.labels, "le",
                    i < s.bounds.size() ? FormatValue(s.bounds[i]) : std::string("+Inf"));
        out.append(" ").append(FormatValue(static_cast<double>(s.hist.cumulative[i]))).append("\n");
      }
      out.append(name).append("_sum");
      WriteLabels(&out, s.labels);
      out.append(" ").append(FormatValue(s.hist.sum)).append("\n");
      out.append(name).append("_count");
      WriteLabels(&out, s.labels);
      out.append(" ").append(FormatValue(static_cast<double>(s.hist.count))).append("\n");
    }
  }
  return out;
}

}  // namespace etcdpp::metrics
