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

#include <dirent.h>
#include <grpcpp/grpcpp.h>

#include "common/log.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "membership/initial_cluster.h"
#include "membership/reconfig.h"
#include "mvcc/store.h"
#include "raft/codec.h"
#include "server/applier.h"
#include "server/bootstrap.h"
#include "server/ids.h"
#include "server/listeners.h"
#include "server/raft_node.h"
#include "server/read_pool.h"
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

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v)
    out += (out.empty() ? "" : ",") + s;
  return out;
}

std::atomic<bool> g_stop_requested{false};
std::function<void()> g_stop_hook;
std::mutex g_stop_mu;

// etcd rpctypes.ErrGRPCNotSupportedForLearner: FailedPrecondition in 3.6
// (3.4 answered Unavailable).
Status ErrNotSupportedForLearner() {
  return Status::FailedPrecondition("etcdserver: rpc not supported for learner");
}

}  // namespace

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
           {"force-new-cluster", cfg_.force_new_cluster},
           {"snapshot-count", cfg_.snapshot_count},
           {"initial-advertise-peer-urls", Join(cfg_.initial_advertise_peer_urls)},
           {"listen-peer-urls", Join(cfg_.listen_peer_urls)},
           {"advertise-client-urls", Join(cfg_.advertise_client_urls)},
           {"listen-client-urls", Join(cfg_.listen_client_urls)},
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
  cluster_.OnChange([this](const membership::Member& m, membership::ChangeKind k) {
    OnMemberChange(m, k);
  });

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
  read_pool_ = std::make_unique<ReadPool>(2);
  aopts.read_executor = [pool = read_pool_.get()](std::function<void()> fn) {
    pool->Post(std::move(fn));
  };
  // No lessor yet (Lease service is a later issue): no lease can exist, so a
  // Put naming one fails with "requested lease not found", as etcd does.
  aopts.ctx.lease_exists = [](int64_t) { return false; };
  aopts.term = [this] { return raft_ ? raft_->Term() : 0; };
  aopts.apply_conf_change = [this](mvcc::Batch& b, const raft::ConfChangeV2& cc,
                                   const internalpb::ConfChangeContext& ctx, Status* st) {
    return ApplyConfChange(b, cc, ctx, st);
  };
  aopts.apply_attr_set = [this](mvcc::Batch& b, const internalpb::MemberAttrSetRequest& req) {
    auto c = cluster_.ApplyAttrSet(b, req);
    if (c.ok()) staged_changes_.push_back(std::move(*c));
  };
  aopts.after_commit = [this] {
    // The members view changes only once LMDB has the change.
    for (const auto& c : staged_changes_)
      cluster_.Publish(c);
    staged_changes_.clear();
  };
  aopts.after_restore = [this] {
    staged_changes_.clear();
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
    LOG_INFO("replaying WAL entries after the backend's consistent index",
             {"consistent-index", ci}, {"entries", static_cast<uint64_t>(todo.size())},
             {"last-index", todo.back().index});
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
  hooks.on_tick = [this] {
    wait_.ExpireDue(WaitRegistry::Clock::now(), Status::Unavailable("etcdserver: request timed out"));
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

Status EtcdServer::OpenExistingWal(wal::ReadResult* rr) {
  wal::Options wopts;
  wopts.unsafe_no_fsync = cfg_.unsafe_no_fsync;
  auto snaps = wal::Wal::ValidSnapshots(wal_dir_, wopts);
  if (!snaps.ok()) return snaps.status();
  wal::WalSnapshot newest = snaps->empty() ? wal::WalSnapshot{} : snaps->back();
  if (newest.index > store_->ConsistentIndex()) {
    // The WAL recorded a snapshot from the leader whose backend restore did
    // not complete (crash in between): redo it from the received file.
    char name[64];
    std::snprintf(name, sizeof(name), "%016llx-%016llx.snap.db",
                  static_cast<unsigned long long>(newest.term),
                  static_cast<unsigned long long>(newest.index));
    std::string path = snap_dir_ + "/" + name;
    if (access(path.c_str(), R_OK) != 0) {
      return Status::Corruption("wal: snapshot at index " + std::to_string(newest.index) +
                                " but the backend is at index " +
                                std::to_string(store_->ConsistentIndex()) + " and " + path +
                                " is missing; refusing to start");
    }
    LOG_INFO("restoring backend from a received snapshot", {"path", path},
             {"snapshot-index", newest.index});
    ETCDPP_RETURN_IF_ERROR(store_->RestoreFrom(path));
    unlink(path.c_str());
  }
  // The newest marker the backend covers: the WAL is read from there.
  for (const auto& sn : *snaps)
    if (sn.index <= store_->ConsistentIndex()) wal_snapshot_ = sn;
  auto w = wal::Wal::Open(wal_dir_, wal_snapshot_, wopts);
  if (!w.ok()) return w.status();
  wal_ = std::move(w).value();
  auto r = wal_->ReadAll();
  if (!r.ok()) return r.status();
  *rr = std::move(r).value();
  if (rr->repaired) {
    // A torn write at the very end (the process died mid-Save): nothing
    // acknowledged is lost, since an ack needs the Save to have returned.
    LOG_WARN("repaired a torn write at the tail of the WAL", {"file", rr->repaired->file},
             {"offset", rr->repaired->offset}, {"dropped-bytes", rr->repaired->dropped_bytes},
             {"reason", rr->repaired->reason});
  }
  internalpb::WalMetadata md;
  if (!md.ParseFromString(rr->metadata) || md.node_id() == 0) {
    return Status::Corruption("wal: metadata record in " + wal_dir_ + " is unreadable");
  }
  member_id_ = md.node_id();
  cluster_id_ = md.cluster_id();
  // Received snapshot files that are no longer needed (already restored or
  // superseded).
  if (DIR* d = opendir(snap_dir_.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.find(".snap.db") != std::string::npos) unlink((snap_dir_ + "/" + n).c_str());
    }
    closedir(d);
  }
  LOG_INFO("restarting local member", {"cluster-id", IdToHex(cluster_id_)},
           {"local-member-id", IdToHex(member_id_)}, {"commit-index", rr->hard_state.commit});
  return Status::OK();
}

Status EtcdServer::CreateWal() {
  wal::Options wopts;
  wopts.unsafe_no_fsync = cfg_.unsafe_no_fsync;
  internalpb::WalMetadata md;
  md.set_node_id(member_id_);
  md.set_cluster_id(cluster_id_);
  auto w = wal::Wal::Create(wal_dir_, md.SerializeAsString(), wopts);
  if (!w.ok()) return w.status();
  wal_ = std::move(w).value();
  return Status::OK();
}

Result<std::vector<membership::Member>> EtcdServer::InitialMembers() const {
  std::string ic = cfg_.initial_cluster;
  if (ic.empty()) {
    // etcd's default: this member alone, at its advertised peer URLs.
    for (const auto& u : cfg_.initial_advertise_peer_urls)
      ic += (ic.empty() ? "" : ",") + cfg_.name + "=" + u;
  }
  ETCDPP_ASSIGN_OR_RETURN(auto parsed, membership::ParseInitialCluster(ic));
  ETCDPP_RETURN_IF_ERROR(membership::CheckHasLocalMember(parsed, cfg_.name));
  const std::string token = cfg_.initial_cluster_token;
  return membership::BuildInitialMembers(
      parsed, [&](const std::vector<std::string>& urls) { return ComputeMemberId(urls, token); });
}

Status EtcdServer::BootstrapNewCluster(wal::ReadResult* rr) {
  // Checks that --initial-cluster lists this member with exactly its
  // advertised peer URLs, and derives the ids as etcd does.
  ETCDPP_ASSIGN_OR_RETURN(Identity id, BootstrapIdentity(cfg_));
  ETCDPP_ASSIGN_OR_RETURN(auto members, InitialMembers());
  member_id_ = id.member_id;
  cluster_id_ = id.cluster_id;
  ETCDPP_RETURN_IF_ERROR(CreateWal());
  LOG_INFO("starting local member", {"local-member-id", IdToHex(member_id_)},
           {"cluster-id", IdToHex(cluster_id_)});
  // As etcd: one ConfChange AddNode entry per initial member (sorted by id,
  // so every member writes the same log) at indexes 1..N, term 1, committed
  // (HardState{1, 0, N}); fdatasync'ed before raft starts.
  uint64_t index = 0;
  for (const auto& m : members) {
    LOG_INFO("added member", {"cluster-id", IdToHex(cluster_id_)},
             {"local-member-id", IdToHex(member_id_)}, {"added-peer-id", IdToHex(m.id)},
             {"added-peer-peer-urls", Join(m.peer_urls)});
    internalpb::ConfChangeContext ctx;
    *ctx.mutable_member() = membership::ToProto(m);
    raft::ConfChange cc;
    cc.type = raft::ConfChangeType::kAddNode;
    cc.node_id = m.id;
    cc.context = ctx.SerializeAsString();
    raft::Entry e;
    e.term = 1;
    e.index = ++index;
    e.type = raft::EntryType::kConfChange;
    e.data = raft::EncodeConfChange(cc);
    rr->entries.push_back(std::move(e));
  }
  rr->hard_state = raft::HardState{1, 0, index};
  return wal_->Save(rr->hard_state, rr->entries, /*sync=*/true);
}

Status EtcdServer::JoinExistingCluster() {
  ETCDPP_ASSIGN_OR_RETURN(auto local, InitialMembers());
  std::vector<std::string> urls;
  for (const auto& m : local) {
    bool self = m.name == cfg_.name;
    for (const auto& u : m.peer_urls)
      if (!self) urls.push_back(u);
  }
  auto remote = peer::FetchMembers(urls, std::chrono::seconds(5));
  if (!remote.ok()) {
    return Status::FailedPrecondition("cannot fetch cluster info from peer urls: " +
                                      remote.status().message());
  }
  std::vector<membership::Member> existing;
  for (const auto& pb : remote->members())
    existing.push_back(membership::FromProto(pb));
  auto matched = membership::ValidateClusterAndAssignIDs(local, existing);
  if (!matched.ok()) {
    return Status::InvalidArgument("error validating peerURLs " +
                                   membership::InitialClusterString({}) +
                                   matched.status().message());
  }
  for (const auto& m : *matched)
    if (m.name == cfg_.name) member_id_ = m.id;
  if (member_id_ == 0) {
    return Status::InvalidArgument("member " + cfg_.name +
                                   " has not been added to the cluster (use member add first)");
  }
  cluster_id_ = remote->cluster_id();
  // Until the leader's snapshot arrives the members table is empty; the
  // transport must still know the others to answer them.
  join_peers_ = existing;
  ETCDPP_RETURN_IF_ERROR(CreateWal());
  LOG_INFO("starting local member", {"local-member-id", IdToHex(member_id_)},
           {"cluster-id", IdToHex(cluster_id_)}, {"initial-cluster-state", "existing"});
  return Status::OK();
}

Status EtcdServer::ForceNewCluster(wal::ReadResult* rr) {
  // etcd --force-new-cluster: uncommitted entries are dropped, and committed
  // conf changes remove every other member, so this member is the only voter.
  uint64_t commit = rr->hard_state.commit;
  while (!rr->entries.empty() && rr->entries.back().index > commit)
    rr->entries.pop_back();
  uint64_t index = rr->entries.empty() ? std::max(commit, wal_snapshot_.index)
                                       : rr->entries.back().index;
  uint64_t term = std::max(rr->hard_state.term, rr->entries.empty() ? wal_snapshot_.term
                                                                      : rr->entries.back().term);
  std::vector<raft::Entry> extra;
  for (const auto& m : cluster_.Members()) {
    if (m.id == member_id_) continue;
    raft::ConfChange cc;
    cc.type = raft::ConfChangeType::kRemoveNode;
    cc.node_id = m.id;
    raft::Entry e;
    e.term = term;
    e.index = ++index;
    e.type = raft::EntryType::kConfChange;
    e.data = raft::EncodeConfChange(cc);
    extra.push_back(std::move(e));
  }
  LOG_WARN("forcing restart member", {"local-member-id", IdToHex(member_id_)},
           {"removed-members", static_cast<uint64_t>(extra.size())}, {"commit-index", index});
  rr->hard_state = raft::HardState{term, 0, index};
  ETCDPP_RETURN_IF_ERROR(wal_->Save(rr->hard_state, extra, /*sync=*/true));
  ETCDPP_RETURN_IF_ERROR(applier_->ApplyNow(extra));
  for (auto& e : extra)
    rr->entries.push_back(std::move(e));
  return Status::OK();
}

Status EtcdServer::StartServing() {
  // Peers first: the others must reach this member before it can be ready.
  peer::Options popts;
  popts.local_id = member_id_;
  popts.cluster_id = cluster_id_;
  popts.snap_dir = snap_dir_;
  transport_ = std::make_unique<peer::Transport>(popts, this);
  ETCDPP_ASSIGN_OR_RETURN(listeners_,
                          Listeners::StartPeers(cfg_, transport_->service(), [](auto& b) {
                            peer::ConfigurePeerServerBuilder(b);
                          }));
  peer_addrs_ = listeners_->PeerAddresses();
  for (const auto& a : peer_addrs_)
    LOG_INFO("listening for peers", {"address", a});
  for (const auto& m : cluster_.Members())
    if (m.id != member_id_) transport_->AddPeer(m.id, m.peer_urls);
  for (const auto& m : join_peers_)
    if (m.id != member_id_) transport_->AddPeer(m.id, m.peer_urls);

  applier_->Start();
  raft_->Start(/*campaign=*/single_voter_);
  ETCDPP_RETURN_IF_ERROR(PublishSelf());
  std::string cv(kClusterVersion);
  cv = cv.substr(0, cv.rfind('.'));  // "3.6.0" -> "3.6"
  LOG_INFO("setting up initial cluster version", {"cluster-version", cv});
  LOG_INFO("set initial cluster version", {"cluster-id", IdToHex(cluster_id_)},
           {"local-member-id", IdToHex(member_id_)}, {"cluster-version", cv});
  LOG_INFO("enabled capabilities for version", {"cluster-version", cv});

  ETCDPP_RETURN_IF_ERROR(listeners_->StartClients(this, cfg_));
  client_addrs_ = listeners_->ClientAddresses();
  LOG_INFO("ready to serve client requests");
  for (const auto& a : client_addrs_) {
    LOG_INFO("serving client traffic insecurely; this is strongly discouraged!",
             {"traffic", "grpc+http"}, {"address", a});
  }
  return Status::OK();
}

Status EtcdServer::PublishSelf() {
  // etcd publishV3: retried until it succeeds or the member is stopped.
  std::string attrs = "{\"name\":\"" + cfg_.name + "\",\"clientURLs\":[";
  for (size_t i = 0; i < cfg_.advertise_client_urls.size(); i++) {
    attrs += (i ? ",\"" : "\"") + cfg_.advertise_client_urls[i] + "\"";
  }
  attrs += "]}";
  for (;;) {
    if (StopRequested()) return Status::Unavailable("etcdserver: stopped before it was ready");
    internalpb::InternalRequest req;
    auto* a = req.mutable_member_attr_set();
    a->set_member_id(member_id_);
    a->set_name(cfg_.name);
    for (const auto& u : cfg_.advertise_client_urls)
      a->add_client_urls(u);
    auto done = std::make_shared<std::promise<Status>>();
    auto f = done->get_future();
    Propose(std::move(req),
            [done](const Status& st, internalpb::InternalResponse*) { done->set_value(st); });
    // Wait in short steps so that a stop request is noticed.
    std::future_status fs;
    do {
      fs = f.wait_for(std::chrono::milliseconds(200));
    } while (fs != std::future_status::ready && !StopRequested());
    if (fs != std::future_status::ready) continue;
    Status st = f.get();
    if (st.ok()) break;
    if (!raft_->WalError().ok() || !applier_->Error().ok()) return st;
    LOG_WARN("failed to publish local member to cluster through raft",
             {"local-member-id", IdToHex(member_id_)}, {"local-member-attributes", attrs},
             {"error", st.ToString()});
  }
  LOG_INFO("published local member to cluster through raft",
           {"local-member-id", IdToHex(member_id_)}, {"local-member-attributes", attrs},
           {"cluster-id", IdToHex(cluster_id_)}, {"publish-timeout", "7s"});
  return Status::OK();
}

void EtcdServer::Stop() {
  if (stopped_.exchange(true)) return;
  // Order matters: first stop taking new client calls and let in-flight ones
  // finish (they need the raft loop and the applier), then stop the loop (it
  // saves everything already proposed), then the transport and the peer
  // server, then the applier (it applies everything committed), then close
  // the WAL and the store.
  if (listeners_) listeners_->Shutdown();
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
  listeners_.reset();
  raft_.reset();
  transport_.reset();
  applier_.reset();
  read_pool_.reset();
  wal_.reset();
  store_.reset();  // closes LMDB (its last commit was synced by the applier)
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
  uint64_t id = req.id();
  std::string data = req.SerializeAsString();
  // Register before proposing: the applier may complete the request before
  // Propose even returns. The deadline covers a proposal forwarded to a
  // leader that died before appending it (etcd: request timed out).
  auto now = WaitRegistry::Clock::now();
  auto deadline = now + RequestTimeout();
  auto sys_now = std::chrono::system_clock::now();
  if (client_deadline < sys_now + RequestTimeout()) {
    deadline = now + std::chrono::duration_cast<WaitRegistry::Clock::duration>(
                         std::max(client_deadline - sys_now, std::chrono::system_clock::duration{}));
  }
  wait_.Register(id, std::move(cb), now + RequestTimeout());
  if (Status st = raft_->Propose(id, std::move(data), deadline); !st.ok()) {
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

Status EtcdServer::RejectIfLearner() const {
  if (raft_ && raft_->IsLearner()) {
    return ErrNotSupportedForLearner();
  }
  return Status::OK();
}

uint64_t EtcdServer::Leader() const {
  return raft_ ? raft_->Leader() : 0;
}

bool EtcdServer::IsLearner() const {
  return raft_ && raft_->IsLearner();
}

membership::ReconfigInput EtcdServer::ReconfigState() const {
  membership::ReconfigInput in;
  in.members = cluster_.Members();
  in.now = membership::Clock::now();
  in.self = member_id_;
  in.strict = cfg_.strict_reconfig_check;
  if (transport_) {
    for (const auto& m : in.members) {
      if (m.id == member_id_) continue;
      if (auto since = transport_->ActiveSince(m.id)) in.active[m.id] = *since;
    }
  }
  return in;
}

void EtcdServer::ProposeConfChangeRaw(raft::ConfChange cc, std::function<void(const Status&)> cb) {
  // The context carries the request id the proposer waits on and the member.
  internalpb::ConfChangeContext ctx;
  uint64_t id = ids_->Next();
  ctx.set_request_id(id);
  if (!cc.context.empty() && !ctx.mutable_member()->ParseFromString(cc.context)) {
    cb(Status::Internal("etcdserver: cannot encode the member"));
    return;
  }
  cc.context = ctx.SerializeAsString();
  wait_.Register(
      id, [cb = std::move(cb)](const Status& st, internalpb::InternalResponse*) { cb(st); },
      WaitRegistry::Clock::now() + RequestTimeout());
  if (Status st = raft_->ProposeConfChange(id, std::move(cc)); !st.ok()) {
    internalpb::InternalResponse empty;
    wait_.Trigger(id, st, &empty);
  }
}

void EtcdServer::ProposeMemberChange(raft::ConfChangeType type, const membership::Member& m,
                                     std::function<void(const Status&)> cb) {
  Status st;
  raft::ConfChange cc;
  switch (type) {
    case raft::ConfChangeType::kAddNode:
    case raft::ConfChangeType::kAddLearnerNode:
      st = membership::MayAddMember(ReconfigState(), m.is_learner);
      cc = membership::MakeAddConfChange(m);
      break;
    case raft::ConfChangeType::kRemoveNode:
      st = membership::MayRemoveMember(ReconfigState(), m.id);
      cc = membership::MakeRemoveConfChange(m.id);
      break;
    case raft::ConfChangeType::kUpdateNode:
      cc = membership::MakeUpdateConfChange(m.id, m.peer_urls);
      break;
  }
  if (!st.ok()) {
    cb(st);
    return;
  }
  ProposeConfChangeRaw(std::move(cc), std::move(cb));
}

void EtcdServer::PromoteMember(uint64_t id, std::function<void(const Status&)> cb) {
  if (!raft_->IsLeader()) {
    // etcd forwards a promote to the leader (only it knows the learner's
    // progress): call the leader's Cluster service.
    auto leader = cluster_.GetMember(raft_->Leader());
    if (!leader || leader->client_urls.empty()) {
      cb(Status::Unavailable("etcdserver: no leader"));
      return;
    }
    std::string target = leader->client_urls.front();
    if (auto p = target.find("://"); p != std::string::npos) target = target.substr(p + 3);
    struct Call {
      std::shared_ptr<grpc::Channel> channel;
      std::unique_ptr<etcdserverpb::Cluster::Stub> stub;
      grpc::ClientContext ctx;
      etcdserverpb::MemberPromoteRequest req;
      etcdserverpb::MemberPromoteResponse resp;
    };
    auto call = std::make_shared<Call>();
    call->channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    call->stub = etcdserverpb::Cluster::NewStub(call->channel);
    call->ctx.set_deadline(std::chrono::system_clock::now() + RequestTimeout());
    call->req.set_id(id);
    call->stub->async()->MemberPromote(&call->ctx, &call->req, &call->resp,
                                       [call, cb = std::move(cb)](grpc::Status s) {
                                         if (s.ok()) {
                                           cb(Status::OK());
                                         } else {
                                           cb(Status(static_cast<Code>(s.error_code()),
                                                     s.error_message()));
                                         }
                                       });
    return;
  }
  raft::RaftStatus rs = raft_->CoreStatus();
  std::optional<uint64_t> learner_match;
  if (auto it = rs.progress.find(id); it != rs.progress.end()) learner_match = it->second.match;
  uint64_t leader_match = 0;
  if (auto it = rs.progress.find(member_id_); it != rs.progress.end()) {
    leader_match = it->second.match;
  }
  Status st = membership::MayPromoteMember(ReconfigState(), id, true, learner_match, leader_match);
  if (!st.ok()) {
    cb(st);
    return;
  }
  ProposeConfChangeRaw(membership::MakePromoteConfChange(id), std::move(cb));
}

void EtcdServer::MoveLeader(uint64_t target, std::function<void(const Status&)> cb) {
  if (!raft_->IsLeader()) {
    cb(Status::FailedPrecondition("etcdserver: not leader"));
    return;
  }
  auto m = cluster_.GetMember(target);
  if (!m || m->is_learner) {
    cb(Status::FailedPrecondition("etcdserver: bad leader transferee"));
    return;
  }
  LOG_INFO("leadership transfer starting", {"local-member-id", IdToHex(member_id_)},
           {"current-leader-member-id", IdToHex(member_id_)},
           {"transferee-member-id", IdToHex(target)});
  raft_->TransferLeader(target, RequestTimeout(), std::move(cb));
}

bool EtcdServer::ApplyConfChange(mvcc::Batch& batch, const raft::ConfChangeV2& ccv2,
                                 const internalpb::ConfChangeContext& ctx, Status* client_status) {
  if (ccv2.changes.size() != 1) {
    *client_status = Status::Unimplemented("etcdserver: joint consensus is not supported");
    return false;
  }
  raft::ConfChange cc;
  cc.type = ccv2.changes[0].type;
  cc.node_id = ccv2.changes[0].node_id;
  if (ctx.has_member()) cc.context = ctx.member().SerializeAsString();
  auto r = cluster_.ApplyConfChange(batch, cc);
  if (!r.ok()) {
    // Rejected for every member alike (validation runs on the same state
    // everywhere): raft applies it as a no-op.
    *client_status = r.status();
    return false;
  }
  staged_changes_.push_back(std::move(*r));
  *client_status = Status::OK();
  return true;
}

void EtcdServer::OnMemberChange(const membership::Member& m, membership::ChangeKind kind) {
  if (m.id == member_id_) {
    if (kind == membership::ChangeKind::kRemoved) {
      LOG_ERROR("the member has been permanently removed from the cluster",
                {"local-member-id", IdToHex(member_id_)});
      RequestStop();
    }
    return;
  }
  if (!transport_) return;  // start-up replay: peers are added when the transport starts
  switch (kind) {
    case membership::ChangeKind::kAdded:
      LOG_INFO("added member", {"cluster-id", IdToHex(cluster_id_)},
               {"local-member-id", IdToHex(member_id_)}, {"added-peer-id", IdToHex(m.id)},
               {"added-peer-peer-urls", Join(m.peer_urls)}, {"added-peer-is-learner", m.is_learner});
      transport_->AddPeer(m.id, m.peer_urls);
      break;
    case membership::ChangeKind::kRemoved:
      LOG_INFO("removed member", {"cluster-id", IdToHex(cluster_id_)},
               {"local-member-id", IdToHex(member_id_)}, {"removed-remote-peer-id", IdToHex(m.id)});
      transport_->RemovePeer(m.id);
      break;
    case membership::ChangeKind::kUpdated:
      transport_->UpdatePeer(m.id, m.peer_urls);
      break;
    case membership::ChangeKind::kPromoted:
      LOG_INFO("promote member", {"cluster-id", IdToHex(cluster_id_)},
               {"local-member-id", IdToHex(member_id_)}, {"promoted-member-id", IdToHex(m.id)});
      break;
    default:
      break;
  }
}

void EtcdServer::SendSnapshot(raft::Message m) {
  // One snapshot send at a time; raft retries a refused one later (its
  // progress for that follower stays in snapshot state until reported).
  if (snapshot_busy_.exchange(true)) {
    raft_->ReportSnapshot(m.to, false);
    return;
  }
  if (snapshot_sender_.joinable()) snapshot_sender_.join();
  snapshot_sender_ = std::thread([this, m = std::move(m)]() mutable {
    // etcd's "merged snapshot": the backend as it is now, with raft metadata
    // taken from the copy itself (its consistent index/term and members), so
    // the follower's state and raft's view of it match exactly.
    const std::string path = snap_dir_ + "/send-" + IdToHex(m.to) + ".db";
    auto fail = [&](const Status& st) {
      LOG_WARN("failed to create a database snapshot for a follower",
               {"remote-peer-id", IdToHex(m.to)}, {"error", st.ToString()});
      unlink(path.c_str());
      snapshot_busy_.store(false);
      raft_->ReportSnapshot(m.to, false);
    };
    if (Status st = store_->SnapshotTo(path); !st.ok()) return fail(st);
    auto info = mvcc::InspectSnapshotFile(path);
    if (!info.ok()) return fail(info.status());
    auto snap = std::make_shared<raft::Snapshot>();
    snap->metadata.index = info->consistent_index;
    snap->metadata.term = info->term;
    for (const auto& [id, enc] : info->members) {
      auto mem = membership::Decode(enc);
      if (!mem.ok()) return fail(mem.status());
      (mem->is_learner ? snap->metadata.conf_state.learners : snap->metadata.conf_state.voters)
          .push_back(id);
    }
    m.snapshot = std::move(snap);
    LOG_INFO("sending database snapshot", {"remote-peer-id", IdToHex(m.to)},
             {"snapshot-index", info->consistent_index}, {"bytes", info->size_bytes});
    transport_->SendSnapshot(std::move(m), path);  // reports through ReportSnapshot
  });
}

void EtcdServer::Process(raft::Message m) {
  if (raft_) raft_->Step(std::move(m));
}

void EtcdServer::ProcessSnapshot(raft::Message m, std::string db_path) {
  LOG_INFO("received database snapshot", {"remote-peer-id", IdToHex(m.from)},
           {"snapshot-index", m.snapshot ? m.snapshot->metadata.index : 0}, {"path", db_path});
  if (raft_) {
    raft_->StepSnapshot(std::move(m), std::move(db_path));
  } else {
    unlink(db_path.c_str());
  }
}

void EtcdServer::ReportUnreachable(uint64_t id) {
  if (raft_) raft_->ReportUnreachable(id);
}

void EtcdServer::ReportSnapshot(uint64_t id, bool ok) {
  LOG_INFO(ok ? "sent database snapshot" : "failed to send database snapshot",
           {"remote-peer-id", IdToHex(id)});
  snapshot_busy_.store(false);
  if (raft_) raft_->ReportSnapshot(id, ok);
}

bool EtcdServer::IsRemoved(uint64_t id) {
  return cluster_.IsRemoved(id);
}

void EtcdServer::ReportRejected(uint64_t id, const Status& st) {
  LOG_WARN("peer rejected the connection", {"remote-peer-id", IdToHex(id)},
           {"error", st.ToString()});
  if (st.message().find("permanently removed") != std::string::npos) {
    LOG_ERROR("the member has been permanently removed from the cluster",
              {"local-member-id", IdToHex(member_id_)});
    RequestStop();
  }
}

void EtcdServer::FillMembers(peerpb::MembersResponse* out) {
  out->set_cluster_id(cluster_id_);
  for (const auto& m : cluster_.Members())
    *out->add_members() = membership::ToProto(m);
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

}  // namespace etcdpp::server
