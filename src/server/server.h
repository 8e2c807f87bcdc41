// EtcdServer: one etcdpp member. Owns the data dir, the WAL, the MVCC store,
// the raft loop, the applier and the gRPC listeners, wired as
// ARCHITECTURE.md §2 draws it:
//   gRPC handler -> Propose (encoded InternalRequest, request id)
//     -> raft loop: WAL append + one fdatasync per batch
//     -> applier: LMDB batch (+ consistent index) -> reply by request id.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "etcdpp/internal.pb.h"
#include "etcdserverpb/rpc.pb.h"
#include "lease/lessor.h"
#include "membership/cluster.h"
#include "membership/reconfig.h"
#include "metrics/metrics.h"
#include "mvcc/store.h"
#include "peer/transport.h"
#include "raft/types.h"
#include "server/wait.h"
#include "wal/wal.h"
#include "watch/hub.h"

namespace etcdpp::server {

class Applier;
class RaftNode;
class Listeners;
class ReadPool;
class IdGenerator;
class ServerLeases;
class LeaseBackend;
class AlarmStore;
class CorruptionChecker;

// Process-wide stop request (a signal, or this member was removed from the
// cluster): start-up waits give up, and the hook (main's) is called.
void RequestStop();
bool StopRequested();
void SetStopHook(std::function<void()> hook);

// What the gRPC services need from the member. Also the peer transport's
// handler (raft messages in, membership out).
class EtcdServer final : public peer::Handler {
 public:
  // Creates/opens the data dir, recovers (LMDB + WAL replay), starts raft,
  // the applier and the listeners. Returns once it is ready to serve.
  static Result<std::unique_ptr<EtcdServer>> Start(const config::ServerConfig& cfg);
  ~EtcdServer() override;

  // Graceful stop: stops accepting, finishes in-flight requests, stops the
  // raft loop and the applier (everything proposed is applied), closes the
  // WAL and the store. Idempotent.
  void Stop();

  // --- for the services ---
  // Proposes a write; cb runs once it is applied (or failed). Never blocks on disk.
  // `client_deadline`: the caller's gRPC deadline; the proposal is dropped
  // if it is still waiting for a leader then.
  void Propose(internalpb::InternalRequest req, WaitRegistry::Callback cb,
               std::chrono::system_clock::time_point client_deadline =
                   std::chrono::system_clock::time_point::max());
  // Calls cb once a linearizable read may run (ReadIndex + wait for apply).
  void WaitLinearizable(std::function<void(const Status&)> cb);
  mvcc::Store* store() { return store_.get(); }
  LeaseBackend* leases();
  watch::WatchHub* watch_hub() { return watch_hub_.get(); }
  void FillHeader(etcdserverpb::ResponseHeader* h) const;
  const config::ServerConfig& config() const { return cfg_; }

  // --- membership (ClusterService) ---
  std::vector<membership::Member> Members() const { return cluster_.Members(); }
  // Add (voter/learner), remove or update `m` through raft after etcd's
  // strict reconfiguration checks; cb once applied (or refused).
  void ProposeMemberChange(raft::ConfChangeType type, const membership::Member& m,
                           std::function<void(const Status&)> cb);
  void PromoteMember(uint64_t id, std::function<void(const Status&)> cb);
  // etcd: a learner serves only Status, serializable Range and Snapshot.
  Status RejectIfLearner() const;
  void MoveLeader(uint64_t target, std::function<void(const Status&)> cb);
  uint64_t Leader() const;
  bool IsLearner() const;
  // Alarms raised in the cluster (NOSPACE, CORRUPT) as applied through raft;
  // empty while none is raised. Health checks and Maintenance.Alarm read it.
  // Updated once the batch that applied the change is committed; ordered by
  // type, then member id.
  std::vector<etcdserverpb::AlarmMember> ActiveAlarms() const;

  // --- maintenance (server_maintenance.cc, docs/maintenance.md) ---
  // Proposes Alarm ACTIVATE(type, member) and forgets it (quota, corruption
  // checks); a failure is logged.
  void RaiseAlarm(etcdserverpb::AlarmType type, uint64_t member);
  // Maintenance.Defragment: the applier runs Store::Defrag between two
  // batches (writes wait in its queue meanwhile); with the
  // StopGRPCServiceOnDefrag gate, grpc.health.v1 reports NOT_SERVING
  // meanwhile. cb runs on the applier thread.
  void Defragment(std::function<void(const Status&)> cb);
  // The effective --quota-backend-bytes (0 -> 2 GiB).
  int64_t QuotaBytes() const;
  // Whether a Defragment is queued or running (etcd_disk_defrag_inflight).
  bool DefragInProgress() const { return defrags_inflight_.load() > 0; }
  // Where temporary files of this member may go (<data-dir>/member/snap).
  const std::string& SnapDir() const { return snap_dir_; }

  // --- peer::Handler ---
  void Process(raft::Message m) override;
  void ProcessSnapshot(raft::Message m, std::string db_path) override;
  void ReportUnreachable(uint64_t id) override;
  void ReportSnapshot(uint64_t id, bool ok) override;
  bool IsRemoved(uint64_t id) override;
  void ReportRejected(uint64_t id, const Status& st) override;
  void FillMembers(peerpb::MembersResponse* out) override;

  uint64_t MemberId() const { return member_id_; }
  uint64_t ClusterId() const { return cluster_id_; }
  uint64_t Term() const;
  uint64_t CommitIndex() const;
  uint64_t AppliedIndex() const;
  // Proposals of this member waiting to be applied (etcd_server_proposals_pending).
  size_t PendingProposals() const { return wait_.Size(); }
  peer::Transport* transport() { return transport_.get(); }  // null before start
  // Actual bound client addresses ("127.0.0.1:2379"), after port 0 resolution.
  const std::vector<std::string>& ClientAddresses() const { return client_addrs_; }
  const std::vector<std::string>& PeerAddresses() const { return peer_addrs_; }

 private:
  explicit EtcdServer(const config::ServerConfig& cfg);
  Status Init();
  Status PrepareDirs();
  Status OpenStorage();
  Status StartServing();
  // Restart: picks the WAL snapshot marker, restores the backend from a
  // received snapshot file when the WAL is ahead of it, opens the WAL.
  Status OpenExistingWal(wal::ReadResult* rr);
  Status BootstrapNewCluster(wal::ReadResult* rr);
  Status JoinExistingCluster();
  // --force-new-cluster: drops the other members by committed conf changes.
  Status ForceNewCluster(wal::ReadResult* rr);
  // Publishes name and client URLs through raft (etcd publishV3); the member
  // serves clients only after that is applied.
  Status PublishSelf();
  void SendSnapshot(raft::Message m);
  bool ApplyConfChange(mvcc::Batch& batch, const raft::ConfChangeV2& cc,
                       const internalpb::ConfChangeContext& ctx, Status* client_status);
  void OnMemberChange(const membership::Member& m, membership::ChangeKind kind);
  membership::ReconfigInput ReconfigState() const;
  void ProposeConfChangeRaw(raft::ConfChange cc, std::function<void(const Status&)> cb);
  std::chrono::milliseconds RequestTimeout() const;
  Status LoadMembers();
  Status CreateWal();
  Result<std::vector<membership::Member>> InitialMembers() const;

  config::ServerConfig cfg_;
  std::string member_dir_, wal_dir_, snap_dir_;
  uint64_t member_id_ = 0;
  uint64_t cluster_id_ = 0;

  std::unique_ptr<mvcc::Store> store_;
  std::unique_ptr<wal::Wal> wal_;
  WaitRegistry wait_;
  std::unique_ptr<IdGenerator> ids_;
  std::unique_ptr<ReadPool> read_pool_;  // declared before applier_: outlives it
  std::unique_ptr<Applier> applier_;
  std::unique_ptr<RaftNode> raft_;
  std::unique_ptr<Listeners> listeners_;
  std::unique_ptr<peer::Transport> transport_;
  std::unique_ptr<lease::Lessor> lessor_;
  std::unique_ptr<watch::WatchHub> watch_hub_;
  std::unique_ptr<ServerLeases> leases_;
  membership::Cluster cluster_;
  // Conf changes applied in the current batch, published after its commit
  // (applier thread only).
  std::vector<membership::Change> staged_changes_;
  std::thread snapshot_sender_;  // one MsgSnap at a time (joined at Stop)
  std::atomic<bool> snapshot_busy_{false};
  wal::WalSnapshot wal_snapshot_;  // the marker the WAL was opened at
  bool single_voter_ = false;
  std::vector<membership::Member> join_peers_;  // --initial-cluster-state existing
  std::vector<std::string> client_addrs_, peer_addrs_;
  std::atomic<bool> stopped_{false};
  mutable std::mutex alarms_mu_;
  std::vector<etcdserverpb::AlarmMember> alarms_;  // guarded by alarms_mu_
  // Maintenance (server_maintenance.cc).
  std::unique_ptr<AlarmStore> alarm_store_;  // applier thread (and Init before it starts)
  bool alarms_changed_ = false;              // applier thread: republish after the commit
  std::unique_ptr<CorruptionChecker> corruption_;
  std::atomic<int> defrags_inflight_{0};
  // Applier hooks for alarms and the quota; loads the alarm table.
  Status InitAlarms(mvcc::ReadTxn& txn);
  void PublishAlarms();
  // The corruption checker and its peer service (before the peer server
  // starts); the initial check (--initial-corrupt-check gate, before raft
  // starts; a mismatch fails the start).
  void CreateCorruptionChecker();
  Status InitialCorruptCheck();
  // --bootstrap-defrag-threshold-megabytes.
  Status MaybeDefragAtBoot();
  // The member-state metrics collector (health_probes.h). Last member: destroyed
  // first, so a scrape never reads members already gone.
  metrics::Registration metrics_;
};

}  // namespace etcdpp::server
