#include "metrics/grpc_metrics.h"

#include <google/protobuf/descriptor.h>

#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace etcdpp::metrics {
namespace {

using RpcType = grpc::experimental::ServerRpcInfo::Type;
constexpr int kCodes = 17;

const char* TypeLabel(RpcType t) {
  switch (t) {
    case RpcType::UNARY:
      return "unary";
    case RpcType::CLIENT_STREAMING:
      return "client_stream";
    case RpcType::SERVER_STREAMING:
      return "server_stream";
    case RpcType::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unary";
}

// One method's counters, looked up once per call (a shared lock), then
// plain atomic increments.
struct MethodCounters {
  Counter* started;
  Counter* received;
  Counter* sent;
  Counter* handled[kCodes];
  Histogram* handling = nullptr;  // --metrics=extensive only
};

class Families {
 public:
  explicit Families(Registry& r)
      : started_(r.CounterVec("grpc_server_started_total",
                              "Total number of RPCs started on the server.",
                              {"grpc_type", "grpc_service", "grpc_method"})),
        handled_(r.CounterVec(
            "grpc_server_handled_total",
            "Total number of RPCs completed on the server, regardless of success or failure.",
            {"grpc_type", "grpc_service", "grpc_method", "grpc_code"})),
        received_(r.CounterVec("grpc_server_msg_received_total",
                               "Total number of RPC stream messages received on the server.",
                               {"grpc_type", "grpc_service", "grpc_method"})),
        sent_(r.CounterVec("grpc_server_msg_sent_total",
                           "Total number of gRPC stream messages sent by the server.",
                           {"grpc_type", "grpc_service", "grpc_method"})) {}

  // go-grpc-prometheus' EnableHandlingTimeHistogram, which etcd calls for
  // --metrics=extensive. Before the first Get: methods seen earlier would
  // have no series.
  void EnableHandlingTime(Registry& r) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (handling_ != nullptr) return;
    // prometheus.DefBuckets, go-grpc-prometheus' default for this histogram.
    handling_ = &r.HistogramVec(
        "grpc_server_handling_seconds",
        "Histogram of response latency (seconds) of gRPC that had been application-level "
        "handled by the server.",
        {"grpc_type", "grpc_service", "grpc_method"},
        {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    for (auto& [name, mc] : cache_)
      mc->handling = &handling_->With(labels_[name]);
  }

  MethodCounters* Get(const std::string& full_method, RpcType type) {
    {
      std::shared_lock<std::shared_mutex> lock(mu_);
      auto it = cache_.find(full_method);
      if (it != cache_.end()) return it->second.get();
    }
    // "/etcdserverpb.KV/Range" -> service "etcdserverpb.KV", method "Range".
    std::string_view fm = full_method;
    if (!fm.empty() && fm[0] == '/') fm.remove_prefix(1);
    size_t slash = fm.rfind('/');
    std::string service(slash == std::string_view::npos ? std::string_view() : fm.substr(0, slash));
    std::string method(slash == std::string_view::npos ? fm : fm.substr(slash + 1));
    std::string t = TypeLabel(type);
    auto mc = std::make_unique<MethodCounters>();
    mc->started = &started_.With({t, service, method});
    mc->received = &received_.With({t, service, method});
    mc->sent = &sent_.With({t, service, method});
    for (int c = 0; c < kCodes; c++)
      mc->handled[c] = &handled_.With({t, service, method, GrpcCodeName(c)});
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (handling_ != nullptr) mc->handling = &handling_->With({t, service, method});
    labels_.emplace(full_method, std::vector<std::string>{t, service, method});
    auto [it, fresh] = cache_.emplace(full_method, std::move(mc));
    return it->second.get();
  }

 private:
  CounterFamily& started_;
  CounterFamily& handled_;
  CounterFamily& received_;
  CounterFamily& sent_;
  HistogramFamily* handling_ = nullptr;  // guarded by mu_
  std::shared_mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<MethodCounters>> cache_;
  std::unordered_map<std::string, std::vector<std::string>> labels_;
};

Families& FamiliesOf(Registry& r) {
  return r.Extension<Families>("grpc_metrics", [&r] { return std::make_unique<Families>(r); });
}

class Interceptor final : public grpc::experimental::Interceptor {
 public:
  explicit Interceptor(MethodCounters* m) : m_(m), start_(std::chrono::steady_clock::now()) {
    m_->started->Inc();
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using HP = grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(HP::POST_RECV_MESSAGE)) m_->received->Inc();
    if (methods->QueryInterceptionHookPoint(HP::PRE_SEND_MESSAGE)) m_->sent->Inc();
    if (methods->QueryInterceptionHookPoint(HP::PRE_SEND_STATUS)) {
      int code = static_cast<int>(methods->GetSendStatus().error_code());
      m_->handled[code >= 0 && code < kCodes ? code : 2]->Inc();  // 2 = Unknown
      if (m_->handling != nullptr)
        m_->handling->Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    methods->Proceed();
  }

 private:
  MethodCounters* m_;
  std::chrono::steady_clock::time_point start_;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit Factory(Registry& r) : f_(FamiliesOf(r)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    if (info->method() == nullptr) return nullptr;  // unknown method: no series
    return new Interceptor(f_.Get(info->method(), info->type()));
  }

 private:
  Families& f_;
};

}  // namespace

const char* GrpcCodeName(int code) {
  static const char* const kNames[kCodes] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  return code >= 0 && code < kCodes ? kNames[code] : "Unknown";
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewGrpcMetricsInterceptorFactory(Registry& r) {
  return std::make_unique<Factory>(r);
}

void PreRegisterGrpcServices(const std::vector<std::string>& services, Registry& r) {
  Families& f = FamiliesOf(r);
  for (const auto& name : services) {
    if (name == "grpc.health.v1.Health") {
      f.Get("/grpc.health.v1.Health/Check", RpcType::UNARY);
      f.Get("/grpc.health.v1.Health/Watch", RpcType::SERVER_STREAMING);
      continue;
    }
    const auto* sd = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(name);
    if (sd == nullptr) continue;
    for (int i = 0; i < sd->method_count(); i++) {
      const auto* md = sd->method(i);
      RpcType t =
          md->client_streaming()
              ? (md->server_streaming() ? RpcType::BIDI_STREAMING : RpcType::CLIENT_STREAMING)
              : (md->server_streaming() ? RpcType::SERVER_STREAMING : RpcType::UNARY);
      f.Get("/" + name + "/" + md->name(), t);
    }
  }
}

void EnableGrpcHandlingTimeHistogram(Registry& r) {
  FamiliesOf(r).EnableHandlingTime(r);
}

void InstallGrpcMetrics(grpc::ServerBuilder& b, Registry& r, bool handling_time) {
  if (handling_time) EnableGrpcHandlingTimeHistogram(r);
  PreRegisterGrpcServices(
      {"etcdserverpb.KV", "etcdserverpb.Watch", "etcdserverpb.Lease", "etcdserverpb.Cluster",
       "etcdserverpb.Maintenance", "etcdserverpb.Auth", "grpc.health.v1.Health"},
      r);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> v;
  v.push_back(NewGrpcMetricsInterceptorFactory(r));
  b.experimental().SetInterceptorCreators(std::move(v));
}

void RecordGrpcStarted(Registry& r, const GrpcCall& c) {
  FamiliesOf(r).Get(c.full_method, c.type)->started->Inc();
}

void RecordGrpcHandled(Registry& r, const GrpcCall& c, int code) {
  FamiliesOf(r).Get(c.full_method, c.type)->handled[code >= 0 && code < kCodes ? code : 2]->Inc();
}

void RecordGrpcHandlingTime(Registry& r, const GrpcCall& c, double seconds) {
  MethodCounters* m = FamiliesOf(r).Get(c.full_method, c.type);
  if (m->handling != nullptr) m->handling->Observe(seconds);
}

}  // namespace etcdpp::metrics
