// etcd's metric names, types, labels and help texts (ETCD-FACTS §9), as one
// catalog so every module instruments with a single line:
//
//   metrics::Etcd().mvcc_put_total.Inc();
//   metrics::ScopedTimer t(metrics::Etcd().wal_fsync_duration_seconds);
//
// Everything is registered in Default() on first use of Etcd(), so /metrics
// shows every family at zero from start-up, as etcd's init() registration does.
// Values the server already knows (commit index, db size, ...) are filled by
// the collector of src/server/server_metrics.* at scrape time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "metrics/metrics.h"

namespace etcdpp::metrics {

struct EtcdMetrics {
  // --- etcd_server_* (server/etcdserver/metrics.go) ---
  metrics::Gauge& has_leader;
  metrics::Gauge& is_leader;
  metrics::Gauge& is_learner;
  metrics::Counter& leader_changes_seen_total;
  metrics::Gauge& proposals_committed_total;  // gauges in etcd, despite the name
  metrics::Gauge& proposals_applied_total;
  metrics::Gauge& proposals_pending;
  metrics::Counter& proposals_failed_total;
  metrics::Counter& slow_apply_total;
  metrics::Counter& slow_read_indexes_total;
  metrics::Counter& read_indexes_failed_total;
  metrics::Counter& heartbeat_send_failures_total;
  metrics::Gauge& quota_backend_bytes;
  metrics::Gauge& snapshot_apply_in_progress_total;
  GaugeFamily& server_version;   // {server_version}
  GaugeFamily& server_id;        // {server_id}
  GaugeFamily& cluster_version;  // {cluster_version}, "3.6"
  GaugeFamily& feature_enabled;  // {name, stage}
  metrics::Counter& health_success;
  metrics::Counter& health_failures;
  GaugeFamily& healthcheck;           // {type, name}
  CounterFamily& healthchecks_total;  // {type, name, status}

  // --- etcd_disk_* (wal/metrics.go, backend/metrics.go) ---
  metrics::Histogram& wal_fsync_duration_seconds;
  metrics::Histogram& wal_write_duration_seconds;
  metrics::Gauge& wal_write_bytes_total;
  metrics::Histogram& backend_commit_duration_seconds;
  metrics::Histogram& backend_snapshot_duration_seconds;
  metrics::Histogram& backend_defrag_duration_seconds;

  // --- etcd_mvcc_* / etcd_debugging_mvcc_* (mvcc/metrics.go) ---
  metrics::Counter& mvcc_range_total;
  metrics::Counter& mvcc_put_total;
  metrics::Counter& mvcc_delete_total;
  metrics::Counter& mvcc_txn_total;
  metrics::Gauge& mvcc_db_total_size_in_bytes;
  metrics::Gauge& mvcc_db_total_size_in_use_in_bytes;
  metrics::Gauge& debugging_mvcc_keys_total;
  metrics::Gauge& debugging_mvcc_watcher_total;
  metrics::Gauge& debugging_mvcc_watch_stream_total;
  metrics::Gauge& debugging_mvcc_slow_watcher_total;
  metrics::Gauge& debugging_mvcc_current_revision;
  metrics::Gauge& debugging_mvcc_compact_revision;

  // --- etcd_network_* (rafthttp/metrics.go, membership/metrics.go) ---
  CounterFamily& peer_sent_bytes_total;           // {To}
  CounterFamily& peer_received_bytes_total;       // {From}
  CounterFamily& peer_sent_failures_total;        // {To}
  CounterFamily& peer_received_failures_total;    // {From}
  HistogramFamily& peer_round_trip_time_seconds;  // {To}
  GaugeFamily& active_peers;                      // {Local, Remote}
  GaugeFamily& known_peers;                       // {Local, Remote}

  // An apply slower than this counts in slow_apply_total (etcd
  // --warning-apply-duration); the server sets it from its config.
  std::atomic<int64_t> warning_apply_duration_ns{100'000'000};

  // One call for the raft loop when it publishes leader/role: sets
  // has_leader, is_leader, is_learner and counts a change to a new leader.
  void OnRaftState(uint64_t lead, uint64_t previous_lead, bool leading, bool learner);
  // The applier: one entry took `took`; counts it if slow.
  void OnApplied(std::chrono::steady_clock::duration took);
};

// The catalog, registered in Default() on first call (thread-safe).
EtcdMetrics& Etcd();

// Observes the seconds from construction to destruction.
class ScopedTimer {
 public:
  explicit ScopedTimer(metrics::Histogram& h) : h_(h), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() {
    h_.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  metrics::Histogram& h_;
  std::chrono::steady_clock::time_point start_;
};

// etcd's member id label format (types.ID.String(): lower-case hex, no padding).
std::string IdLabel(uint64_t id);

}  // namespace etcdpp::metrics
