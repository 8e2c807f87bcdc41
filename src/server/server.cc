#include "server/server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "common/log.h"
#include "lease/apply.h"
#include "metrics/etcd_metrics.h"
#include "mvcc/store.h"
#include "server/alarms.h"
#include "server/applier.h"
#include "server/corruption.h"
#include "server/ids.h"
#include "server/listeners.h"
#include "server/raft_node.h"
#include "server/read_pool.h"
#include "server/server_internal.h"
#include "server/server_lease.h"
#include "server/version.h"

namespace etcdpp::server {
namespace {

constexpr mode_t kPrivateDirMode = 0700;  // etcd: data dirs are 0700 (CVE-2020-15113)

// Creates `dir` (0700) if missing, forces 0700 if it exists with wider
// permissions, and fails clearly if it is not a writable directory.
Status EnsurePrivateDir(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return Status::IOError("cannot access data directory: \"" + dir + "\" is not a directory");
    }
    if ((st.st_mode & 07777) != kPrivateDirMode) {
      LOG_WARN(
          "check file permission: directory exists, but the permission is not the recommended "
          "one; fixing it",
          {"directory", dir}, {"recommended-permission", "drwx------"});
      if (chmod(dir.c_str(), kPrivateDirMode) != 0) {
        return Status::IOError("cannot set permission of \"" + dir +
                               "\" to 0700: " + std::strerror(errno));
      }
    }
  } else if (errno == ENOENT) {
    if (mkdir(dir.c_str(), kPrivateDirMode) != 0 && errno != EEXIST) {
      return Status::IOError("cannot create data directory \"" + dir +
                             "\": " + std::strerror(errno));
    }
  } else {
    return Status::IOError("cannot access data directory \"" + dir + "\": " + std::strerror(errno));
  }
  // Writable? (etcd TouchDirAll; catches read-only mounts and foreign owners.)
  std::string probe = dir + "/.touch";
  int fd = open(probe.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Status::IOError("cannot access data directory: \"" + dir +
                           "\" is not writable: " + std::strerror(errno));
  }
  close(fd);
  unlink(probe.c_str());
  return Status::OK();
}

// mkdir -p of the parents, each new one 0700.
Status EnsurePrivateDirAll(const std::string& dir) {
  for (size_t pos = 1; (pos = dir.find('/', pos)) != std::string::npos; pos++) {
    std::string parent = dir.substr(0, pos);
    struct stat st {};
    if (stat(parent.c_str(), &st) != 0 && mkdir(parent.c_str(), kPrivateDirMode) != 0 &&
        errno != EEXIST) {
      return Status::IOError("cannot create directory \"" + parent + "\": " + std::strerror(errno));
    }
  }
  return EnsurePrivateDir(dir);
}

std::atomic<bool> g_stop_requested{false};
std::function<void()> g_stop_hook;
std::mutex g_stop_mu;

}  // namespace

std::string JoinStrings(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

Status ErrNotSupportedForLearner() {
  return Status::FailedPrecondition("etcdserver: rpc not supported for learner");
}

void RequestStop() {
  g_stop_requested.store(true);
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(g_stop_mu);
    hook = g_stop_hook;
  }
  if (hook) hook();
}

bool StopRequested() {
  return g_stop_requested.load();
}

void SetStopHook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(g_stop_mu);
  g_stop_hook = std::move(hook);
}

EtcdServer::EtcdServer(const config::ServerConfig& cfg) : cfg_(cfg) {}

EtcdServer::~EtcdServer() {
  Stop();
}

Result<std::unique_ptr<EtcdServer>> EtcdServer::Start(const config::ServerConfig& cfg) {
  std::unique_ptr<EtcdServer> s(new EtcdServer(cfg));
  Status st = s->Init();
  if (!st.ok()) {
    s->Stop();
    return st;
  }
  return s;
}

Status EtcdServer::Init() {
  if (cfg_.data_dir.empty()) cfg_.data_dir = cfg_.name + ".etcd";
  member_dir_ = cfg_.data_dir + "/member";
  wal_dir_ = cfg_.wal_dir.empty() ? member_dir_ + "/wal" : cfg_.wal_dir;
  snap_dir_ = member_dir_ + "/snap";
  ETCDPP_RETURN_IF_ERROR(PrepareDirs());
  ETCDPP_RETURN_IF_ERROR(OpenStorage());
  return StartServing();
}

Status EtcdServer::PrepareDirs() {
  ETCDPP_RETURN_IF_ERROR(EnsurePrivateDirAll(cfg_.data_dir));
  ETCDPP_RETURN_IF_ERROR(EnsurePrivateDir(member_dir_));
  ETCDPP_RETURN_IF_ERROR(EnsurePrivateDir(snap_dir_));
  if (!cfg_.wal_dir.empty()) ETCDPP_RETURN_IF_ERROR(EnsurePrivateDirAll(cfg_.wal_dir));
  return Status::OK();
}

Status EtcdServer::OpenStorage() {
  const bool wal_exists = wal::Wal::Exists(wal_dir_);
  LOG_INFO("starting an etcd server", {"etcd-version", kEtcdVersion},
           {"etcdpp-version", kEtcdppVersion}, {"git-sha", kGitSha}, {"go-version", "n/a (C++)"},
           {"go-os", "linux"}, {"go-arch", "amd64"},
           {"max-cpu-available", static_cast<int64_t>(std::thread::hardware_concurrency())},
           {"member-initialized", wal_exists}, {"name", cfg_.name}, {"data-dir", cfg_.data_dir},
           {"wal-dir", cfg_.wal_dir}, {"member-dir", member_dir_},
           {"force-new-cluster", cfg_.force_new_cluster}, {"snapshot-count", cfg_.snapshot_count},
           {"initial-advertise-peer-urls", JoinStrings(cfg_.initial_advertise_peer_urls)},
           {"listen-peer-urls", JoinStrings(cfg_.listen_peer_urls)},
           {"advertise-client-urls", JoinStrings(cfg_.advertise_client_urls)},
           {"listen-client-urls", JoinStrings(cfg_.listen_client_urls)},
           {"initial-cluster", cfg_.initial_cluster},
           {"initial-cluster-state", cfg_.initial_cluster_state},
           {"initial-cluster-token", cfg_.initial_cluster_token},
           {"quota-backend-bytes", cfg_.quota_backend_bytes},
           {"max-request-bytes", cfg_.max_request_bytes});

  mvcc::Options mopts;
  mopts.unsafe_no_fsync = cfg_.unsafe_no_fsync;
  auto store = mvcc::Store::Open(snap_dir_ + "/db", mopts);
  if (!store.ok()) return store.status();
  store_ = std::move(store).value();
  LOG_INFO("opened backend db", {"path", snap_dir_ + "/db"},
           {"consistent-index", store_->ConsistentIndex()},
           {"current-revision", store_->CurrentRev()});

  // Finish a compaction that an earlier run left half done (idempotent).
  if (Status st = store_->RunCompaction(); !st.ok()) {
    LOG_WARN("failed to resume an interrupted compaction", {"error", st.ToString()});
  }
  ETCDPP_RETURN_IF_ERROR(MaybeDefragAtBoot());
  watch::HubOptions hopts;
  hopts.progress_notify_interval = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::nanoseconds(cfg_.watch_progress_notify_interval_ns));
  hopts.max_request_bytes = cfg_.max_request_bytes;
  watch_hub_ = std::make_unique<watch::WatchHub>(store_.get(), hopts);
  cluster_.OnChange(
      [this](const membership::Member& m, membership::ChangeKind k) { OnMemberChange(m, k); });

  wal::ReadResult rr;
  bool joining = false;
  if (wal_exists) {
    ETCDPP_RETURN_IF_ERROR(OpenExistingWal(&rr));
  } else {
    if (store_->ConsistentIndex() != 0) {
      // Applied state without its log: the WAL was lost or --wal-dir changed.
      return Status::Corruption("found backend data at index " +
                                std::to_string(store_->ConsistentIndex()) + " but no WAL in " +
                                wal_dir_ + "; refusing to start");
    }
    if (cfg_.initial_cluster_state == "existing") {
      ETCDPP_RETURN_IF_ERROR(JoinExistingCluster());
      joining = true;
    } else {
      ETCDPP_RETURN_IF_ERROR(BootstrapNewCluster(&rr));
    }
  }
  ETCDPP_RETURN_IF_ERROR(LoadMembers());
  cluster_.SetClusterId(cluster_id_);

  // Recovery (durability invariant, ARCHITECTURE.md §5): state = LMDB at its
  // consistent index + replay of the committed WAL entries after it, BEFORE
  // any client is served. The applier skips entries <= the consistent index.
  ids_ = std::make_unique<IdGenerator>(
      member_id_, static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count()));
  Applier::Options aopts;
  aopts.cluster_id = cluster_id_;
  aopts.member_id = member_id_;
  aopts.data_dir = snap_dir_ + "/db";
  read_pool_ = std::make_unique<ReadPool>(
      static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  aopts.read_executor = [pool = read_pool_.get()](std::function<void()> fn) {
    pool->Post(std::move(fn));
  };
  // Leases: the lessor's state is rebuilt from the lease table and the keys
  // that name a lease before anything is replayed.
  lease::Options lopts;
  const int64_t hb_ms = static_cast<int64_t>(std::max<uint64_t>(cfg_.heartbeat_interval_ms, 1));
  lopts.min_ttl_seconds = lease::MinLeaseTTL(
      static_cast<int64_t>(std::max<uint64_t>(cfg_.election_timeout_ms / hb_ms, 2)), hb_ms);
  lopts.checkpoint = cfg_.FeatureEnabled("LeaseCheckpoint");
  // etcd persists checkpointed TTLs once the cluster version is >= 3.6,
  // which an etcdpp cluster always is.
  lopts.checkpoint_persist = true;
  lessor_ = std::make_unique<lease::Lessor>(lopts);
  lessor_->SeedIds(member_id_);
  {
    auto txn = store_->Read();
    if (!txn.ok()) return txn.status();
    ETCDPP_RETURN_IF_ERROR(lessor_->Load(**txn));
    ETCDPP_RETURN_IF_ERROR(InitAlarms(**txn));
  }
  // Alarms and the backend quota (src/server/alarms.h): applied in the batch.
  aopts.apply_alarm = [this](mvcc::Batch& b, const internalpb::InternalRequest& req,
                             internalpb::InternalResponse* resp) {
    bool changed = false;
    Status st = alarm_store_->Apply(b, req.alarm(), resp->mutable_alarm(), &changed);
    alarms_changed_ = alarms_changed_ || changed;
    return st;
  };
  aopts.admit = [this](const internalpb::InternalRequest& req) { return alarm_store_->Admit(req); };
  aopts.quota_available = [this, quota = QuotaBytes()](const internalpb::InternalRequest& req) {
    return QuotaCost(req) == 0 || QuotaAvailable(req, store_->DbSizeBytes(), quota);
  };
  aopts.ctx.lease_exists = [this](int64_t id) { return lessor_->Exists(id); };
  aopts.on_txn_changes = [this](const std::vector<mvccpb::Event>& ch) { lessor_->OnChanges(ch); };
  aopts.apply_lease = [this](mvcc::Batch& b, const internalpb::InternalRequest& req,
                             internalpb::InternalResponse* resp,
                             std::vector<mvccpb::Event>* events) -> Status {
    switch (req.request_case()) {
      case internalpb::InternalRequest::kLeaseGrant:
        return lease::ApplyGrant(*lessor_, b, req.lease_grant(), resp->mutable_lease_grant());
      case internalpb::InternalRequest::kLeaseRevoke:
        return lease::ApplyRevoke(*lessor_, b, req.lease_revoke(), resp->mutable_lease_revoke(),
                                  events);
      case internalpb::InternalRequest::kLeaseCheckpoint:
        return lease::ApplyCheckpoint(*lessor_, b, req.lease_checkpoint(),
                                      resp->mutable_lease_checkpoint());
      default:
        return Status::Internal("not a lease request");
    }
  };
  aopts.term = [this] { return raft_ ? raft_->Term() : 0; };
  aopts.apply_conf_change = [this](mvcc::Batch& b, const raft::ConfChangeV2& cc,
                                   const internalpb::ConfChangeContext& ctx,
                                   Status* st) { return ApplyConfChange(b, cc, ctx, st); };
  aopts.apply_attr_set = [this](mvcc::Batch& b, const internalpb::MemberAttrSetRequest& req) {
    auto c = cluster_.ApplyAttrSet(b, req);
    if (c.ok()) staged_changes_.push_back(std::move(*c));
  };
  aopts.after_commit = [this] {
    // The members view changes only once LMDB has the change.
    for (const auto& c : staged_changes_)
      cluster_.Publish(c);
    staged_changes_.clear();
    // So do the alarms others read (health, Status, the quota check).
    if (alarms_changed_) PublishAlarms();
  };
  // Watchers see a batch's events once LMDB has committed it.
  aopts.publish_events = [this](const std::vector<mvccpb::Event>& evs) {
    watch_hub_->Publish(evs);
  };
  aopts.after_restore = [this] {
    staged_changes_.clear();
    watch_hub_->Resync();  // the store's content changed under the watchers
    if (auto txn = store_->Read(); txn.ok()) {
      if (Status st = lessor_->Load(**txn); !st.ok()) {
        LOG_ERROR("failed to load leases after a snapshot restore", {"error", st.ToString()});
      }
      if (Status st = InitAlarms(**txn); !st.ok()) {
        LOG_ERROR("failed to load alarms after a snapshot restore", {"error", st.ToString()});
      }
    }
    if (Status st = LoadMembers(); !st.ok()) {
      LOG_ERROR("failed to load members after a snapshot restore", {"error", st.ToString()});
    }
    if (transport_) {
      for (const auto& m : cluster_.Members())
        if (m.id != member_id_) transport_->AddPeer(m.id, m.peer_urls);
    }
  };
  applier_ = std::make_unique<Applier>(store_.get(), &wait_, aopts);

  const uint64_t marker = wal_snapshot_.index;
  const uint64_t last_index = rr.entries.empty() ? marker : rr.entries.back().index;
  if (store_->ConsistentIndex() > last_index) {
    return Status::Corruption("backend consistent index " +
                              std::to_string(store_->ConsistentIndex()) +
                              " is beyond the last WAL index " + std::to_string(last_index) +
                              " in " + wal_dir_ + "; refusing to start");
  }
  // Replay what is committed. Entries past the commit index may still be
  // overwritten by a leader; raft decides about them.
  auto replay_to = [&](uint64_t upto) -> Status {
    uint64_t ci = store_->ConsistentIndex();
    std::vector<raft::Entry> todo;
    for (const auto& e : rr.entries)
      if (e.index > ci && e.index <= upto) todo.push_back(e);
    if (todo.empty()) return Status::OK();
    LOG_INFO("replaying WAL entries after the backend's consistent index", {"consistent-index", ci},
             {"entries", static_cast<uint64_t>(todo.size())}, {"last-index", todo.back().index});
    return applier_->ApplyNow(todo);
  };
  ETCDPP_RETURN_IF_ERROR(replay_to(rr.hard_state.commit));
  // One voter: every persisted entry is committed (it is on a quorum: us),
  // even if the hard state record of its batch did not survive a crash.
  auto voters = cluster_.VoterIds();
  if (!joining && (voters.empty() || (voters.size() == 1 && voters[0] == member_id_))) {
    rr.hard_state.commit = std::max(rr.hard_state.commit, last_index);
    ETCDPP_RETURN_IF_ERROR(replay_to(last_index));
  }
  if (cfg_.force_new_cluster && wal_exists) ETCDPP_RETURN_IF_ERROR(ForceNewCluster(&rr));

  // Raft restarts from the backend's applied state as its snapshot plus the
  // WAL entries after it.
  RaftState rs;
  rs.id = member_id_;
  rs.hard_state = rr.hard_state;
  const uint64_t ci = store_->ConsistentIndex();
  if (ci > 0) {
    rs.snapshot.metadata.index = ci;
    rs.snapshot.metadata.term = store_->ConsistentTerm();
    for (const auto& m : cluster_.Members()) {
      (m.is_learner ? rs.snapshot.metadata.conf_state.learners
                    : rs.snapshot.metadata.conf_state.voters)
          .push_back(m.id);
    }
    if (rs.snapshot.metadata.conf_state.voters.empty() && !joining) {
      // A log from before the members table existed: its first entry made
      // this member the only voter.
      rs.snapshot.metadata.conf_state.voters = {member_id_};
    }
  }
  for (auto& e : rr.entries)
    if (e.index > ci) rs.entries.push_back(std::move(e));
  rr.entries.clear();
  if (!rs.entries.empty() && rs.entries.front().index != ci + 1) {
    return Status::Corruption("wal: entries in " + wal_dir_ + " start at index " +
                              std::to_string(rs.entries.front().index) +
                              " but the backend is at index " + std::to_string(ci));
  }
  rs.applied = ci;
  single_voter_ = rs.snapshot.metadata.conf_state.voters.size() == 1 &&
                  rs.snapshot.metadata.conf_state.voters[0] == member_id_;

  RaftNode::Options ropts;
  const uint64_t hb = std::max<uint64_t>(cfg_.heartbeat_interval_ms, 1);
  ropts.tick_interval = std::chrono::milliseconds(hb);
  ropts.election_tick = static_cast<int>(std::max<uint64_t>(cfg_.election_timeout_ms / hb, 2));
  ropts.pre_vote = cfg_.pre_vote;
  ropts.snapshot_count = cfg_.snapshot_count;
  ropts.snapshot_catchup_entries = cfg_.snapshot_catchup_entries;
  ropts.read_timeout = RequestTimeout();
  ropts.no_leader_wait = RequestTimeout();
  RaftNode::Hooks hooks;
  hooks.apply = [this](std::vector<raft::Entry> es) { applier_->Enqueue(std::move(es)); };
  hooks.restore = [this](const raft::SnapshotMetadata& md, std::string path) {
    applier_->EnqueueRestore(md.index, md.term, std::move(path));
  };
  hooks.await_applied = [this](uint64_t index) { return applier_->AwaitApplied(index); };
  hooks.send = [this](std::vector<raft::Message> ms) {
    if (transport_) transport_->Send(std::move(ms));
  };
  hooks.send_snapshot = [this](raft::Message m) { SendSnapshot(std::move(m)); };
  hooks.sync_backend = [this]() -> Result<std::pair<uint64_t, uint64_t>> {
    // Read the index before the sync: everything up to it is then on disk.
    uint64_t index = store_->ConsistentIndex();
    uint64_t term = store_->ConsistentTerm();
    ETCDPP_RETURN_IF_ERROR(store_->Sync());
    return std::make_pair(index, term);
  };
  hooks.on_leadership = [this,
                         et = std::chrono::milliseconds(cfg_.election_timeout_ms)](bool leading) {
    // etcd: a new leader extends every lease by an election timeout (or
    // continues checkpointed TTLs); a follower never expires leases.
    if (leading) {
      lessor_->Promote(et);
    } else {
      lessor_->Demote();
    }
  };
  hooks.on_tick = [this] {
    wait_.ExpireDue(WaitRegistry::Clock::now(),
                    Status::Unavailable("etcdserver: request timed out"));
  };
  raft_ = std::make_unique<RaftNode>(std::move(rs), wal_.get(), &wait_, std::move(hooks), ropts);
  return Status::OK();
}

std::chrono::milliseconds EtcdServer::RequestTimeout() const {
  // etcd ReqTimeout: 5 s + 2 election timeouts.
  return std::chrono::milliseconds(5000 + 2 * cfg_.election_timeout_ms);
}

Status EtcdServer::LoadMembers() {
  auto txn = store_->Read();
  if (!txn.ok()) return txn.status();
  return cluster_.Load(**txn);
}

void EtcdServer::Stop() {
  if (stopped_.exchange(true)) return;
  metrics_.Reset();  // no scrape reads the member while it stops
  // Order matters: first stop taking new client calls and let in-flight ones
  // finish (they need the raft loop and the applier), then stop the loop (it
  // saves everything already proposed), then the transport and the peer
  // server, then the applier (it applies everything committed), then close
  // the WAL and the store.
  if (corruption_) corruption_->Stop();  // its peer calls and proposals end first
  if (listeners_) listeners_->Shutdown();
  if (leases_) leases_->Stop();  // its proposals need the raft loop
  if (raft_) raft_->Stop();
  if (transport_) transport_->Stop();  // before the peer server: cancels its streams
  if (listeners_) listeners_->ShutdownPeers();
  if (snapshot_sender_.joinable()) snapshot_sender_.join();
  if (applier_) applier_->Stop();
  if (read_pool_) read_pool_->Stop();  // after the applier: it may still post
  wait_.FailAll(Status::Unavailable("etcdserver: server stopped"));
  if (wal_) {
    if (Status st = wal_->Close(); !st.ok())
      LOG_WARN("failed to close WAL", {"error", st.ToString()});
  }
  corruption_.reset();
  listeners_.reset();
  leases_.reset();
  raft_.reset();
  transport_.reset();
  applier_.reset();
  read_pool_.reset();
  wal_.reset();
  watch_hub_.reset();  // its catch-up thread reads the store
  store_.reset();      // closes LMDB (its last commit was synced by the applier)
  LOG_INFO("stopped etcd server", {"local-member-id", IdToHex(member_id_)});
}

void EtcdServer::Propose(internalpb::InternalRequest req, WaitRegistry::Callback cb,
                         std::chrono::system_clock::time_point client_deadline) {
  req.set_id(ids_->Next());
  if (raft_->IsLearner() && req.request_case() != internalpb::InternalRequest::kMemberAttrSet) {
    internalpb::InternalResponse empty;
    cb(ErrNotSupportedForLearner(), &empty);
    return;
  }
  // etcd checks the marshalled raft request against --max-request-bytes.
  if (req.ByteSizeLong() > cfg_.max_request_bytes) {
    internalpb::InternalResponse empty;
    cb(Status::InvalidArgument("etcdserver: request is too large"), &empty);
    return;
  }
  if (Status st = applier_->Error(); !st.ok()) {
    internalpb::InternalResponse empty;
    cb(st, &empty);  // the applier failed: nothing more can be applied
    return;
  }
  // etcd's quota check in the API layer: a write that would not fit raises
  // NOSPACE for this member (cluster-wide, through raft) and fails at once.
  if (QuotaCost(req) > 0 && !QuotaAvailable(req, store_->DbSizeBytes(), QuotaBytes())) {
    RaiseAlarm(etcdserverpb::NOSPACE, member_id_);
    internalpb::InternalResponse empty;
    cb(ErrNoSpace(), &empty);
    return;
  }
  uint64_t id = req.id();
  std::string data = req.SerializeAsString();
  // Register before proposing: the applier may complete the request before
  // Propose even returns. The deadline covers a proposal forwarded to a
  // leader that died before appending it (etcd: request timed out).
  auto now = WaitRegistry::Clock::now();
  auto deadline = now + RequestTimeout();
  auto sys_now = std::chrono::system_clock::now();
  if (client_deadline < sys_now + RequestTimeout()) {
    deadline = now + std::chrono::duration_cast<WaitRegistry::Clock::duration>(std::max(
                         client_deadline - sys_now, std::chrono::system_clock::duration{}));
  }
  wait_.Register(id, std::move(cb), now + RequestTimeout());
  if (Status st = raft_->Propose(id, std::move(data), deadline); !st.ok()) {
    metrics::Etcd().proposals_failed_total.Inc();
    internalpb::InternalResponse empty;
    wait_.Trigger(id, st, &empty);
  }
}

void EtcdServer::WaitLinearizable(std::function<void(const Status&)> cb) {
  if (raft_->IsLearner()) {
    cb(ErrNotSupportedForLearner());
    return;
  }
  raft_->ReadIndex([this, cb = std::move(cb)](Result<uint64_t> index) mutable {
    if (!index.ok()) {
      cb(index.status());
      return;
    }
    applier_->WaitApplied(*index, std::move(cb));
  });
}

LeaseBackend* EtcdServer::leases() {
  return leases_.get();
}

void EtcdServer::FillHeader(etcdserverpb::ResponseHeader* h) const {
  h->set_cluster_id(cluster_id_);
  h->set_member_id(member_id_);
  h->set_raft_term(Term());
}

uint64_t EtcdServer::Term() const {
  return raft_ ? raft_->Term() : 0;
}
uint64_t EtcdServer::CommitIndex() const {
  return raft_ ? raft_->CommitIndex() : 0;
}
uint64_t EtcdServer::AppliedIndex() const {
  return applier_ ? applier_->AppliedIndex() : 0;
}

std::vector<etcdserverpb::AlarmMember> EtcdServer::ActiveAlarms() const {
  std::lock_guard<std::mutex> lock(alarms_mu_);
  return alarms_;
}

}  // namespace etcdpp::server
