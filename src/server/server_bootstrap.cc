// EtcdServer start-up: opening an existing WAL (with a pending snapshot
// restore), bootstrapping a new cluster, joining an existing one,
// --force-new-cluster, starting the listeners and publishing this member
// through raft.
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>

#include "common/log.h"
#include "membership/initial_cluster.h"
#include "raft/codec.h"
#include "server/applier.h"
#include "server/bootstrap.h"
#include "server/corruption.h"
#include "server/health_probes.h"
#include "server/ids.h"
#include "server/listeners.h"
#include "server/raft_node.h"
#include "server/server.h"
#include "server/server_internal.h"
#include "server/server_lease.h"
#include "server/version.h"

namespace etcdpp::server {

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
  for (const auto& m : members) {
    LOG_INFO("added member", {"cluster-id", IdToHex(cluster_id_)},
             {"local-member-id", IdToHex(member_id_)}, {"added-peer-id", IdToHex(m.id)},
             {"added-peer-peer-urls", JoinStrings(m.peer_urls)});
  }
  rr->entries = InitialConfChangeEntries(members);
  const uint64_t index = rr->entries.size();
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
  uint64_t index =
      rr->entries.empty() ? std::max(commit, wal_snapshot_.index) : rr->entries.back().index;
  uint64_t term = std::max(rr->hard_state.term,
                           rr->entries.empty() ? wal_snapshot_.term : rr->entries.back().term);
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
  CreateCorruptionChecker();
  ETCDPP_ASSIGN_OR_RETURN(listeners_,
                          Listeners::StartPeers(cfg_, transport_->service(), [this](auto& b) {
                            peer::ConfigurePeerServerBuilder(b);
                            b.RegisterService(corruption_->service());  // PeerMaintenance.HashKV
                          }));
  peer_addrs_ = listeners_->PeerAddresses();
  for (const auto& a : peer_addrs_)
    LOG_INFO("listening for peers", {"address", a});
  for (const auto& m : cluster_.Members())
    if (m.id != member_id_) transport_->AddPeer(m.id, m.peer_urls);
  for (const auto& m : join_peers_)
    if (m.id != member_id_) transport_->AddPeer(m.id, m.peer_urls);

  ETCDPP_RETURN_IF_ERROR(InitialCorruptCheck());
  applier_->Start();
  leases_ = std::make_unique<ServerLeases>(this, lessor_.get());
  raft_->Start(/*campaign=*/single_voter_);
  leases_->Start();
  // Metrics/health and the peer port's /version before ready, as etcd serves them.
  metrics_ = RegisterServerMetrics(this);
  ETCDPP_RETURN_IF_ERROR(listeners_->StartMetrics(this, cfg_));
  ETCDPP_RETURN_IF_ERROR(PublishSelf());
  corruption_->Start();  // periodic and compact hash checks (leader only)
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

}  // namespace etcdpp::server
