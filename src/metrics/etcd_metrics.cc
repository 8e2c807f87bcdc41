#include "metrics/etcd_metrics.h"

#include <cstdio>

namespace etcdpp::metrics {
namespace {

// etcd's disk histograms: 1 ms .. 8.192 s.
std::vector<double> DiskBuckets() {
  return ExponentialBuckets(0.001, 2, 14);
}

EtcdMetrics* Build(Registry& r) {
  return new EtcdMetrics{
      r.Gauge("etcd_server_has_leader",
              "Whether or not a leader exists. 1 is existence, 0 is not."),
      r.Gauge("etcd_server_is_leader",
              "Whether or not this member is a leader. 1 if is, 0 otherwise."),
      r.Gauge("etcd_server_is_learner",
              "Whether or not this member is a learner. 1 if is, 0 otherwise."),
      r.Counter("etcd_server_leader_changes_seen_total", "The number of leader changes seen."),
      r.Gauge("etcd_server_proposals_committed_total",
              "The total number of consensus proposals committed."),
      r.Gauge("etcd_server_proposals_applied_total",
              "The total number of consensus proposals applied."),
      r.Gauge("etcd_server_proposals_pending",
              "The current number of pending proposals to commit."),
      r.Counter("etcd_server_proposals_failed_total", "The total number of failed proposals seen."),
      r.Counter("etcd_server_slow_apply_total",
                "The total number of slow apply requests (likely overloaded from slow disk)."),
      r.Counter("etcd_server_slow_read_indexes_total",
                "The total number of pending read indexes not in sync with leader's or timed out "
                "read index requests."),
      r.Counter("etcd_server_read_indexes_failed_total",
                "The total number of failed read indexes seen."),
      r.Counter("etcd_server_heartbeat_send_failures_total",
                "The total number of leader heartbeat send failures (likely overloaded from slow "
                "disk)."),
      r.Gauge("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes."),
      r.Gauge("etcd_server_snapshot_apply_in_progress_total",
              "1 if the server is applying the incoming snapshot. 0 if none."),
      r.GaugeVec("etcd_server_version",
                 "Which version is running. 1 for 'server_version' label with current version.",
                 {"server_version"}),
      r.GaugeVec(
          "etcd_server_id",
          "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
          {"server_id"}),
      r.GaugeVec("etcd_cluster_version",
                 "Which version is running. 1 for 'cluster_version' label with current cluster "
                 "version",
                 {"cluster_version"}),
      r.GaugeVec("etcd_server_feature_enabled",
                 "Whether or not a feature is enabled. 1 is enabled, 0 is not.", {"name", "stage"}),
      r.Counter("etcd_server_health_success", "The total number of successful health checks"),
      r.Counter("etcd_server_health_failures", "The total number of failed health checks"),
      r.GaugeVec("etcd_server_healthcheck", "The result of each kind of healthcheck.",
                 {"type", "name"}),
      r.CounterVec("etcd_server_healthchecks_total",
                   "The total number of each kind of healthcheck.", {"type", "name", "status"}),

      r.Histogram("etcd_disk_wal_fsync_duration_seconds",
                  "The latency distributions of fsync called by WAL.", DiskBuckets()),
      r.Histogram("etcd_disk_wal_write_duration_seconds",
                  "The latency distributions of write called by WAL.", DiskBuckets()),
      r.Gauge("etcd_disk_wal_write_bytes_total", "Total number of bytes written in WAL."),
      r.Histogram("etcd_disk_backend_commit_duration_seconds",
                  "The latency distributions of commit called by backend.", DiskBuckets()),
      r.Histogram("etcd_disk_backend_snapshot_duration_seconds",
                  "The latency distribution of backend snapshots.",
                  ExponentialBuckets(0.01, 2, 17)),
      r.Histogram("etcd_disk_backend_defrag_duration_seconds",
                  "The latency distribution of backend defragmentation.",
                  ExponentialBuckets(0.1, 2, 13)),

      r.Counter("etcd_mvcc_range_total", "Total number of ranges seen by this member."),
      r.Counter("etcd_mvcc_put_total", "Total number of puts seen by this member."),
      r.Counter("etcd_mvcc_delete_total", "Total number of deletes seen by this member."),
      r.Counter("etcd_mvcc_txn_total", "Total number of txns seen by this member."),
      r.Gauge("etcd_mvcc_db_total_size_in_bytes",
              "Total size of the underlying database physically allocated in bytes."),
      r.Gauge("etcd_mvcc_db_total_size_in_use_in_bytes",
              "Total size of the underlying database logically in use in bytes."),
      r.Gauge("etcd_debugging_mvcc_keys_total", "Total number of keys."),
      r.Gauge("etcd_debugging_mvcc_watcher_total", "Total number of watchers."),
      r.Gauge("etcd_debugging_mvcc_watch_stream_total", "Total number of watch streams."),
      r.Gauge("etcd_debugging_mvcc_slow_watcher_total", "Total number of unsynced slow watchers."),
      r.Gauge("etcd_debugging_mvcc_current_revision", "The current revision of store."),
      r.Gauge("etcd_debugging_mvcc_compact_revision",
              "The revision of the last compaction in store."),

      r.CounterVec("etcd_network_peer_sent_bytes_total", "The total number of bytes sent to peers.",
                   {"To"}),
      r.CounterVec("etcd_network_peer_received_bytes_total",
                   "The total number of bytes received from peers.", {"From"}),
      r.CounterVec("etcd_network_peer_sent_failures_total",
                   "The total number of send failures from peers.", {"To"}),
      r.CounterVec("etcd_network_peer_received_failures_total",
                   "The total number of receive failures from peers.", {"From"}),
      r.HistogramVec("etcd_network_peer_round_trip_time_seconds",
                     "Round-Trip-Time histogram between peers", {"To"},
                     ExponentialBuckets(0.0001, 2, 14)),
      r.GaugeVec("etcd_network_active_peers", "The current number of active peer connections.",
                 {"Local", "Remote"}),
      r.GaugeVec("etcd_network_known_peers", "The current number of known peers.",
                 {"Local", "Remote"}),
  };
}

}  // namespace

EtcdMetrics& Etcd() {
  static EtcdMetrics* m = Build(Default());  // leaked with the registry it points into
  return *m;
}

void EtcdMetrics::OnRaftState(uint64_t lead, uint64_t previous_lead, bool leading, bool learner) {
  // etcd counts a change whenever a (new) leader becomes known; losing the
  // leader alone is not a change.
  if (lead != 0 && lead != previous_lead) leader_changes_seen_total.Inc();
  has_leader.Set(lead != 0 ? 1 : 0);
  is_leader.Set(leading ? 1 : 0);
  is_learner.Set(learner ? 1 : 0);
}

void EtcdMetrics::OnApplied(std::chrono::steady_clock::duration took) {
  if (std::chrono::duration_cast<std::chrono::nanoseconds>(took).count() >
      warning_apply_duration_ns.load(std::memory_order_relaxed)) {
    slow_apply_total.Inc();
  }
}

std::string IdLabel(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(id));
  return buf;
}

}  // namespace etcdpp::metrics
