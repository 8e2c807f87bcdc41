#include "server/health_probes.h"

#include <future>
#include <memory>

#include "config/feature_gates.h"
#include "metrics/etcd_metrics.h"
#include "server/server.h"
#include "server/version.h"

namespace etcdpp::server {
namespace {

// etcd's health read: keys only, limit 1; only whether it works matters.
// etcd asks for the empty key; the store cannot look that up in LMDB (keys
// must be non-empty), so read "\0", the smallest key there is.
Status LocalRead(EtcdServer* s) {
  auto txn = s->store()->Read();
  if (!txn.ok()) return txn.status();
  mvcc::RangeOptions opts;
  opts.limit = 1;
  auto r = (*txn)->Range(std::string(1, '\0'), "", opts);
  return r.ok() ? Status::OK() : r.status();
}

Status LinearizableRead(EtcdServer* s, std::chrono::milliseconds timeout) {
  // The callback may come after we gave up: it only touches the shared promise.
  auto done = std::make_shared<std::promise<Status>>();
  std::future<Status> f = done->get_future();
  s->WaitLinearizable([done](const Status& st) { done->set_value(st); });
  if (f.wait_for(timeout) != std::future_status::ready) {
    return Status::Unavailable("etcdserver: request timed out");
  }
  Status st = f.get();
  if (!st.ok()) return st;
  return LocalRead(s);
}

std::string MajorMinor(const std::string& v) {
  size_t first = v.find('.');
  size_t second = first == std::string::npos ? std::string::npos : v.find('.', first + 1);
  return second == std::string::npos ? v : v.substr(0, second);
}

}  // namespace

health::Probes MakeHealthProbes(EtcdServer* s) {
  health::Probes p;
  p.alarms = [s] { return s->ActiveAlarms(); };
  p.leader = [s] { return s->Leader(); };
  p.is_learner = [s] { return s->IsLearner(); };
  p.range = [s](bool serializable, std::chrono::milliseconds timeout) {
    return serializable ? LocalRead(s) : LinearizableRead(s, timeout);
  };
  // etcd ReqTimeout: 5 s + 2 election timeouts.
  p.request_timeout = std::chrono::milliseconds(5000 + 2 * s->config().election_timeout_ms);
  return p;
}

health::VersionInfo MakeVersionInfo(EtcdServer* s) {
  (void)s;  // the cluster/storage versions are constants until downgrade lands
  health::VersionInfo v;
  v.server = kEtcdVersion;
  v.cluster = [] { return std::string(kClusterVersion); };
  v.storage = [] { return std::string(kStorageVersion); };
  v.etcdpp = kEtcdppVersion;
  return v;
}

metrics::Registration RegisterServerMetrics(EtcdServer* s) {
  metrics::EtcdMetrics& m = metrics::Etcd();
  const config::ServerConfig& cfg = s->config();
  m.warning_apply_duration_ns.store(cfg.warning_apply_duration_ns);
  m.server_id.With({metrics::IdLabel(s->MemberId())}).Set(1);
  m.server_version.With({kEtcdVersion}).Set(1);
  m.cluster_version.With({MajorMinor(kClusterVersion)}).Set(1);
  // Every gate etcd knows, AllAlpha/AllBeta included (etcd: GetAll()).
  auto explicit_gates = config::ParseFeatureGates(cfg.feature_gates);
  // cfg.features is filled by flag parsing; a config built in code may lack it.
  const std::map<std::string, bool> features =
      !cfg.features.empty() ? cfg.features
      : explicit_gates.ok()
          ? config::EffectiveFeatures(*explicit_gates, cfg.gates_from_experimental_flags)
          : std::map<std::string, bool>{};
  for (const auto& spec : config::KnownFeatures()) {
    auto it = features.find(std::string(spec.name));
    bool on = it != features.end() && it->second;
    m.feature_enabled.With({std::string(spec.name), std::string(spec.stage)}).Set(on ? 1 : 0);
  }
  for (const char* meta : {"AllAlpha", "AllBeta"}) {
    bool on = explicit_gates.ok() && explicit_gates->count(meta) && explicit_gates->at(meta);
    m.feature_enabled.With({meta, meta == std::string("AllAlpha") ? "ALPHA" : "BETA"})
        .Set(on ? 1 : 0);
  }
  const double quota = cfg.quota_backend_bytes > 0 ? static_cast<double>(cfg.quota_backend_bytes)
                                                   : 2.0 * 1024 * 1024 * 1024;
  return metrics::Default().AddCollector([s, quota](metrics::Sink& sink) {
    metrics::EtcdMetrics& em = metrics::Etcd();
    em.proposals_committed_total.Set(static_cast<double>(s->CommitIndex()));
    em.proposals_applied_total.Set(static_cast<double>(s->AppliedIndex()));
    em.proposals_pending.Set(static_cast<double>(s->PendingProposals()));
    em.is_learner.Set(s->IsLearner() ? 1 : 0);
    em.quota_backend_bytes.Set(quota);
    if (mvcc::Store* st = s->store()) {
      em.mvcc_db_total_size_in_bytes.Set(static_cast<double>(st->DbSizeBytes()));
      em.mvcc_db_total_size_in_use_in_bytes.Set(static_cast<double>(st->DbSizeInUseBytes()));
      em.debugging_mvcc_current_revision.Set(static_cast<double>(st->CurrentRev()));
      em.debugging_mvcc_compact_revision.Set(static_cast<double>(st->CompactRev()));
      // A count over the key index (no RAM tree to ask); one LMDB scan per scrape.
      if (auto txn = st->Read(); txn.ok()) {
        mvcc::RangeOptions opts;
        opts.count_only = true;
        const std::string all(1, '\0');  // etcd's "every key": key and end "\0"
        if (auto r = (*txn)->Range(all, all, opts); r.ok()) {
          em.debugging_mvcc_keys_total.Set(static_cast<double>(r->count));
        }
      }
    }
    if (watch::WatchHub* hub = s->watch_hub()) {
      em.debugging_mvcc_watcher_total.Set(static_cast<double>(hub->WatcherCount()));
      em.debugging_mvcc_slow_watcher_total.Set(static_cast<double>(hub->UnsyncedCount()));
    }
    const std::string self = metrics::IdLabel(s->MemberId());
    for (const auto& member : s->Members()) {
      if (member.id == s->MemberId()) continue;
      sink.Gauge("etcd_network_known_peers", "The current number of known peers.", 1,
                 {{"Local", self}, {"Remote", metrics::IdLabel(member.id)}});
    }
    if (peer::Transport* t = s->transport()) {
      // The transport counts per peer; reported under etcd's rafthttp names.
      for (const auto& [id, c] : t->Counters()) {
        const std::string peer_id = metrics::IdLabel(id);
        sink.Counter("etcd_network_peer_sent_bytes_total",
                     "The total number of bytes sent to peers.", static_cast<double>(c.sent_bytes),
                     {{"To", peer_id}});
        sink.Counter("etcd_network_peer_sent_failures_total",
                     "The total number of send failures from peers.",
                     static_cast<double>(c.sent_failures), {{"To", peer_id}});
        sink.Counter("etcd_network_peer_received_bytes_total",
                     "The total number of bytes received from peers.",
                     static_cast<double>(c.received_bytes), {{"From", peer_id}});
        sink.Counter("etcd_network_peer_received_failures_total",
                     "The total number of receive failures from peers.",
                     static_cast<double>(c.received_failures), {{"From", peer_id}});
        if (c.active) {
          sink.Gauge("etcd_network_active_peers", "The current number of active peer connections.",
                     1, {{"Local", self}, {"Remote", peer_id}});
        }
      }
    }
  });
}

}  // namespace etcdpp::server
