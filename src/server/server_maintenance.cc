// EtcdServer's maintenance plumbing: alarms (raise, load, publish), the
// backend quota, defragmentation and the corruption checker's wiring.
// docs/maintenance.md.
#include <chrono>
#include <future>

#include "common/log.h"
#include "server/alarms.h"
#include "server/applier.h"
#include "server/corruption.h"
#include "server/ids.h"
#include "server/listeners.h"
#include "server/raft_node.h"
#include "server/server.h"

namespace etcdpp::server {

int64_t EtcdServer::QuotaBytes() const {
  return EffectiveQuota(cfg_.quota_backend_bytes);
}

Status EtcdServer::InitAlarms(mvcc::ReadTxn& txn) {
  if (!alarm_store_) {
    alarm_store_ = std::make_unique<AlarmStore>();
    const int64_t quota = QuotaBytes();
    // etcd's warnings about the quota (storage/quota.go).
    if (cfg_.quota_backend_bytes <= 0) {
      LOG_INFO("enabled backend quota with default value", {"quota-name", "v3-applier"},
               {"quota-size-bytes", quota}, {"quota-size", "2.1 GB"});
    } else if (quota > (int64_t{8} << 30)) {
      LOG_WARN("quota exceeds the maximum value", {"quota-name", "v3-applier"},
               {"quota-size-bytes", quota}, {"quota-maximum-size-bytes", int64_t{8} << 30});
    } else {
      LOG_INFO("enabled backend quota", {"quota-name", "v3-applier"}, {"quota-size-bytes", quota});
    }
  }
  ETCDPP_RETURN_IF_ERROR(alarm_store_->Load(txn));
  PublishAlarms();
  return Status::OK();
}

void EtcdServer::PublishAlarms() {
  auto now = alarm_store_->Get(etcdserverpb::NONE);
  std::lock_guard<std::mutex> lock(alarms_mu_);
  alarms_ = std::move(now);
  alarms_changed_ = false;
}

void EtcdServer::RaiseAlarm(etcdserverpb::AlarmType type, uint64_t member) {
  for (const auto& a : ActiveAlarms()) {
    if (a.alarm() == type && a.memberid() == member) return;  // already raised and applied
  }
  internalpb::InternalRequest req;
  auto* ar = req.mutable_alarm();
  ar->set_action(etcdserverpb::AlarmRequest::ACTIVATE);
  ar->set_memberid(member);
  ar->set_alarm(type);
  Propose(std::move(req), [type, member](const Status& st, internalpb::InternalResponse*) {
    if (!st.ok()) {
      LOG_WARN("failed to raise alarm", {"alarm", etcdserverpb::AlarmType_Name(type)},
               {"member-id", IdToHex(member)}, {"error", st.ToString()});
    }
  });
}

void EtcdServer::Defragment(std::function<void(const Status&)> cb) {
  const bool stop_grpc = cfg_.FeatureEnabled("StopGRPCServiceOnDefrag");
  LOG_INFO("starting defragment");
  if (stop_grpc && listeners_) {
    LOG_WARN("grpc service status changed", {"service", ""}, {"status", "NOT_SERVING"},
             {"reason", "defrag is active"});
    listeners_->SetServing(false);
  }
  const auto start = std::chrono::steady_clock::now();
  defrags_inflight_++;
  // On the applier thread between two batches: no write txn is open, and
  // entries committed meanwhile wait in the applier's queue (none is lost;
  // their clients wait for the copy, as etcd's do for bbolt's defrag).
  applier_->EnqueueTask([this, cb = std::move(cb), start](const Status& queued) {
    Status st = queued;
    if (st.ok()) {
      const int64_t before = store_->DbSizeBytes();
      const int64_t in_use = store_->DbSizeInUseBytes();
      LOG_INFO("defragmenting", {"path", snap_dir_ + "/db"}, {"current-db-size-bytes", before},
               {"current-db-size-in-use-bytes", in_use});
      st = store_->Defrag();
      if (st.code() == Code::kInternal) {
        // The environment is closed and could not be reopened: nothing can
        // be applied any more (etcd exits the same way).
        LOG_FATAL("failed to defragment; the backend cannot be reopened", {"error", st.ToString()});
      }
      const int64_t after = store_->DbSizeBytes();
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
      if (st.ok()) {
        LOG_INFO("finished defragmenting directory", {"path", snap_dir_ + "/db"},
                 {"current-db-size-bytes-diff", after - before}, {"current-db-size-bytes", after},
                 {"took", std::to_string(took.count()) + "ms"});
      }
    }
    if (listeners_) {
      // etcd's DefragFinished always (re)announces SERVING.
      LOG_INFO("grpc service status changed", {"service", ""}, {"status", "SERVING"});
      listeners_->SetServing(true);
    }
    if (st.ok()) {
      LOG_INFO("finished defragment");
    } else {
      LOG_WARN("failed to defragment", {"error", st.ToString()});
    }
    defrags_inflight_--;
    cb(st);
  });
}

Status EtcdServer::MaybeDefragAtBoot() {
  const uint64_t threshold_mb = cfg_.bootstrap_defrag_threshold_megabytes;
  if (threshold_mb == 0) return Status::OK();
  const int64_t size = store_->DbSizeBytes();
  const int64_t in_use = store_->DbSizeInUseBytes();
  const int64_t free_bytes = size - in_use;
  if (free_bytes < static_cast<int64_t>(threshold_mb << 20)) {
    LOG_INFO("Skipping defragmentation", {"current-db-size-bytes", size},
             {"current-db-size-in-use-bytes", in_use},
             {"experimental-bootstrap-defrag-threshold-bytes", threshold_mb << 20});
    return Status::OK();
  }
  // No applier yet: nothing else writes.
  ETCDPP_RETURN_IF_ERROR(store_->Defrag());
  LOG_INFO("finished defragmenting directory", {"path", snap_dir_ + "/db"},
           {"current-db-size-bytes-diff", store_->DbSizeBytes() - size},
           {"current-db-size-bytes", store_->DbSizeBytes()});
  return Status::OK();
}

void EtcdServer::CreateCorruptionChecker() {
  CorruptionChecker::Hooks h;
  h.member_id = member_id_;
  h.cluster_id = [this] { return cluster_id_; };
  h.peers = [this] {
    std::vector<std::pair<uint64_t, std::vector<std::string>>> out;
    for (const auto& m : cluster_.Members())
      if (m.id != member_id_) out.emplace_back(m.id, m.peer_urls);
    return out;
  };
  h.is_leader = [this] { return raft_ && raft_->IsLeader(); };
  h.store = store_.get();
  h.raise_corrupt = [this](uint64_t id) { RaiseAlarm(etcdserverpb::CORRUPT, id); };
  h.barrier = [this] {
    auto done = std::make_shared<std::promise<Status>>();
    auto f = done->get_future();
    WaitLinearizable([done](const Status& st) { done->set_value(st); });
    if (f.wait_for(RequestTimeout()) != std::future_status::ready) {
      return Status::Unavailable("etcdserver: request timed out");
    }
    return f.get();
  };
  CorruptionChecker::Options o;
  o.initial = cfg_.FeatureEnabled("InitialCorruptCheck");
  o.periodic = std::chrono::nanoseconds(cfg_.corrupt_check_time_ns);
  o.compact = cfg_.FeatureEnabled("CompactHashCheck");
  if (cfg_.compact_hash_check_time_ns > 0) {
    o.compact_interval = std::chrono::nanoseconds(cfg_.compact_hash_check_time_ns);
  }
  o.peer_timeout = RequestTimeout();
  corruption_ = std::make_unique<CorruptionChecker>(std::move(h), o);
}

Status EtcdServer::InitialCorruptCheck() {
  return corruption_->InitialCheck();
}

}  // namespace etcdpp::server
