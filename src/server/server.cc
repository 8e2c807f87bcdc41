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

#include "common/log.h"
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

}  // namespace

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

  wal::Options wopts;
  wopts.unsafe_no_fsync = cfg_.unsafe_no_fsync;
  wal::ReadResult rr;
  if (wal_exists) {
    // Restart: identity comes from the WAL, never from (possibly changed) flags.
    auto w = wal::Wal::Open(wal_dir_, wal::WalSnapshot{}, wopts);
    if (!w.ok()) return w.status();
    wal_ = std::move(w).value();
    auto r = wal_->ReadAll();
    if (!r.ok()) return r.status();
    rr = std::move(r).value();
    if (rr.repaired) {
      // A torn write at the very end (the process died mid-Save): nothing
      // acknowledged is lost, since an ack needs the Save to have returned.
      LOG_WARN("repaired a torn write at the tail of the WAL", {"file", rr.repaired->file},
               {"offset", rr.repaired->offset}, {"dropped-bytes", rr.repaired->dropped_bytes},
               {"reason", rr.repaired->reason});
    }
    internalpb::WalMetadata md;
    if (!md.ParseFromString(rr.metadata) || md.node_id() == 0) {
      return Status::Corruption("wal: metadata record in " + wal_dir_ + " is unreadable");
    }
    member_id_ = md.node_id();
    cluster_id_ = md.cluster_id();
    LOG_INFO("restarting local member", {"cluster-id", IdToHex(cluster_id_)},
             {"local-member-id", IdToHex(member_id_)}, {"commit-index", rr.hard_state.commit});
  } else {
    if (store_->ConsistentIndex() != 0) {
      // Applied state without its log: the WAL was lost or --wal-dir changed.
      return Status::Corruption("found backend data at index " +
                                std::to_string(store_->ConsistentIndex()) + " but no WAL in " +
                                wal_dir_ + "; refusing to start");
    }
    ETCDPP_ASSIGN_OR_RETURN(Identity id, BootstrapIdentity(cfg_));
    if (id.member_ids.size() != 1) {
      return Status::InvalidArgument(
          "--initial-cluster lists more than one member; multi-member clusters are not "
          "supported yet");
    }
    member_id_ = id.member_id;
    cluster_id_ = id.cluster_id;
    internalpb::WalMetadata md;
    md.set_node_id(member_id_);
    md.set_cluster_id(cluster_id_);
    auto w = wal::Wal::Create(wal_dir_, md.SerializeAsString(), wopts);
    if (!w.ok()) return w.status();
    wal_ = std::move(w).value();
    LOG_INFO("starting local member", {"local-member-id", IdToHex(member_id_)},
             {"cluster-id", IdToHex(cluster_id_)});
  }

  if (rr.entries.empty()) {
    // A new member (or one that died before its first Save completed): write
    // the bootstrap record as etcd does, a ConfChange AddNode(self) entry at
    // index 1, term 1, committed (HardState{1, 0, 1}); the member then wins
    // term 2. fdatasync'ed before raft starts: every later entry follows it.
    rr.hard_state = BootstrapHardState();
    rr.entries.push_back(BootstrapEntry(member_id_));
    ETCDPP_RETURN_IF_ERROR(wal_->Save(rr.hard_state, rr.entries, /*sync=*/true));
  } else if (rr.entries.front().index != 1) {
    // Raft snapshots / WAL purge are not implemented yet: the log must be whole.
    return Status::Corruption("wal: first entry in " + wal_dir_ + " has index " +
                              std::to_string(rr.entries.front().index) + ", expected 1");
  }

  // Recovery (durability invariant, ARCHITECTURE.md §5): state = LMDB at its
  // consistent index + replay of the WAL entries after it, BEFORE any client
  // is served. The applier skips entries <= the consistent index.
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
  applier_ = std::make_unique<Applier>(store_.get(), &wait_, aopts);
  const uint64_t last_index = rr.entries.back().index;
  if (store_->ConsistentIndex() > last_index) {
    return Status::Corruption("backend consistent index " +
                              std::to_string(store_->ConsistentIndex()) +
                              " is beyond the last WAL index " + std::to_string(last_index) +
                              " in " + wal_dir_ + "; refusing to start");
  }
  uint64_t ci = store_->ConsistentIndex();
  size_t to_replay = 0;
  for (const auto& e : rr.entries)
    to_replay += e.index > ci ? 1 : 0;
  if (to_replay > 0) {
    LOG_INFO("replaying WAL entries after the backend's consistent index", {"consistent-index", ci},
             {"entries", static_cast<uint64_t>(to_replay)}, {"last-index", last_index});
    ETCDPP_RETURN_IF_ERROR(applier_->ApplyNow(rr.entries));
  }

  // Raft restarts from the same log (MemoryStorage rebuilt from the WAL) with
  // everything up to the backend's consistent index applied; after the replay
  // above that is the whole log.
  RaftState rs;
  rs.id = member_id_;
  rs.hard_state = rr.hard_state;
  rs.entries = std::move(rr.entries);
  rs.applied = store_->ConsistentIndex();
  RaftNode::Options ropts;
  const uint64_t hb = std::max<uint64_t>(cfg_.heartbeat_interval_ms, 1);
  ropts.tick_interval = std::chrono::milliseconds(hb);
  ropts.election_tick = static_cast<int>(std::max<uint64_t>(cfg_.election_timeout_ms / hb, 2));
  raft_ = std::make_unique<RaftNode>(
      std::move(rs), wal_.get(), &wait_,
      [this](std::vector<raft::Entry> es) { applier_->Enqueue(std::move(es)); }, ropts);
  return Status::OK();
}

Status EtcdServer::StartServing() {
  applier_->Start();
  raft_->Start();
  // The leader's first entry of this term stands in for etcd's publish of
  // the member's attributes: once it is applied, the member is in service.
  std::promise<Status> applied;
  applier_->WaitApplied(raft_->LeaderEntryIndex(),
                        [&applied](const Status& st) { applied.set_value(st); });
  ETCDPP_RETURN_IF_ERROR(applied.get_future().get());
  std::string attrs = "{\"name\":\"" + cfg_.name + "\",\"clientURLs\":[";
  for (size_t i = 0; i < cfg_.advertise_client_urls.size(); i++) {
    attrs += (i ? ",\"" : "\"") + cfg_.advertise_client_urls[i] + "\"";
  }
  attrs += "]}";
  LOG_INFO("published local member to cluster through raft",
           {"local-member-id", IdToHex(member_id_)}, {"local-member-attributes", attrs},
           {"cluster-id", IdToHex(cluster_id_)}, {"publish-timeout", "7s"});
  std::string cv(kClusterVersion);
  cv = cv.substr(0, cv.rfind('.'));  // "3.6.0" -> "3.6"
  LOG_INFO("setting up initial cluster version", {"cluster-version", cv});
  LOG_INFO("set initial cluster version", {"cluster-id", IdToHex(cluster_id_)},
           {"local-member-id", IdToHex(member_id_)}, {"cluster-version", cv});
  LOG_INFO("enabled capabilities for version", {"cluster-version", cv});

  ETCDPP_ASSIGN_OR_RETURN(listeners_, Listeners::Start(this, cfg_));
  client_addrs_ = listeners_->ClientAddresses();
  peer_addrs_ = listeners_->PeerAddresses();
  for (const auto& a : peer_addrs_)
    LOG_INFO("listening for peers", {"address", a});
  LOG_INFO("ready to serve client requests");
  for (const auto& a : client_addrs_) {
    LOG_INFO("serving client traffic insecurely; this is strongly discouraged!",
             {"traffic", "grpc+http"}, {"address", a});
  }
  return Status::OK();
}

void EtcdServer::Stop() {
  if (stopped_.exchange(true)) return;
  // Order matters: first stop taking new calls and let in-flight ones finish
  // (they need the raft loop and the applier), then stop the loop (it saves
  // everything already proposed), then the applier (it applies everything
  // committed), then close the WAL and the store.
  if (listeners_) listeners_->Shutdown();
  if (raft_) raft_->Stop();
  if (applier_) applier_->Stop();
  if (read_pool_) read_pool_->Stop();  // after the applier: it may still post
  wait_.FailAll(Status::Unavailable("etcdserver: server stopped"));
  if (wal_) {
    if (Status st = wal_->Close(); !st.ok())
      LOG_WARN("failed to close WAL", {"error", st.ToString()});
  }
  listeners_.reset();
  raft_.reset();
  applier_.reset();
  read_pool_.reset();
  wal_.reset();
  store_.reset();  // closes LMDB (its last commit was synced by the applier)
  LOG_INFO("stopped etcd server", {"local-member-id", IdToHex(member_id_)});
}

void EtcdServer::Propose(internalpb::InternalRequest req, WaitRegistry::Callback cb) {
  req.set_id(ids_->Next());
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
  // Propose even returns.
  wait_.Register(id, std::move(cb));
  if (Status st = raft_->Propose(id, std::move(data)); !st.ok()) {
    internalpb::InternalResponse empty;
    wait_.Trigger(id, st, &empty);
  }
}

void EtcdServer::WaitLinearizable(std::function<void(const Status&)> cb) {
  raft_->ReadIndex([this, cb = std::move(cb)](Result<uint64_t> index) mutable {
    if (!index.ok()) {
      cb(index.status());
      return;
    }
    applier_->WaitApplied(*index, std::move(cb));
  });
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
