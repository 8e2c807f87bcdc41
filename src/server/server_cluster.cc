// EtcdServer as a cluster member: membership changes (strict reconfig
// checks, conf changes through raft, their application), leader transfer,
// the peer transport's handler and snapshots for lagging followers.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include "common/log.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "membership/reconfig.h"
#include "mvcc/store.h"
#include "server/applier.h"
#include "server/ids.h"
#include "server/raft_node.h"
#include "server/server.h"
#include "server/server_internal.h"

namespace etcdpp::server {

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
    call->stub->async()->MemberPromote(
        &call->ctx, &call->req, &call->resp, [call, cb = std::move(cb)](grpc::Status s) {
          if (s.ok()) {
            cb(Status::OK());
          } else {
            cb(Status(static_cast<Code>(s.error_code()), s.error_message()));
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
               {"added-peer-peer-urls", JoinStrings(m.peer_urls)},
               {"added-peer-is-learner", m.is_learner});
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
  // src/peer logs the transfer itself ("sent database snapshot to peer", ...).
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

}  // namespace etcdpp::server
