#include "membership/cluster.h"

#include <algorithm>

#include "common/log.h"
#include "membership/errors.h"

namespace etcdpp::membership {

const char* ChangeKindName(ChangeKind k) {
  switch (k) {
    case ChangeKind::kNone:
      return "none";
    case ChangeKind::kAdded:
      return "added";
    case ChangeKind::kRemoved:
      return "removed";
    case ChangeKind::kPromoted:
      return "promoted";
    case ChangeKind::kUpdated:
      return "updated";
    case ChangeKind::kAttrSet:
      return "attr-set";
  }
  return "unknown";
}

namespace {

// A peer URL of `urls` used by a member other than `except`?
bool PeerURLTaken(const MembershipState& s, const std::vector<std::string>& urls, uint64_t except) {
  for (const auto& [id, m] : s.members) {
    if (id == except) continue;
    for (const auto& u : urls) {
      if (std::find(m.peer_urls.begin(), m.peer_urls.end(), u) != m.peer_urls.end()) return true;
    }
  }
  return false;
}

Result<MembershipState> ReadState(mvcc::Batch& batch) {
  MembershipState s;
  ETCDPP_ASSIGN_OR_RETURN(auto rows, batch.Members());
  for (auto& [id, enc] : rows) {
    ETCDPP_ASSIGN_OR_RETURN(Member m, Decode(enc));
    m.id = id;  // the key is authoritative
    s.members.emplace(id, std::move(m));
  }
  ETCDPP_ASSIGN_OR_RETURN(auto removed, batch.RemovedMembers());
  s.removed.insert(removed.begin(), removed.end());
  return s;
}

}  // namespace

Status ValidateConfChange(const MembershipState& state, const raft::ConfChange& cc,
                          const std::optional<Member>& m, size_t max_learners) {
  const uint64_t id = cc.node_id;
  if (state.removed.count(id) != 0) return ErrIDRemoved();
  auto it = state.members.find(id);
  const bool exists = it != state.members.end();
  switch (cc.type) {
    case raft::ConfChangeType::kAddNode:
    case raft::ConfChangeType::kAddLearnerNode: {
      if (exists) {
        // etcd marks a promote with ConfigChangeContext.IsPromote; here a
        // kAddNode of an existing id is the promote of that member.
        if (it->second.is_learner && cc.type == raft::ConfChangeType::kAddNode) {
          return Status::OK();
        }
        if (cc.type == raft::ConfChangeType::kAddNode && !m.has_value()) {
          return ErrMemberNotLearner();
        }
        return ErrIDExists();
      }
      if (!m.has_value()) return ErrIDNotFound();  // promote of an unknown member
      if (PeerURLTaken(state, m->peer_urls, 0)) return ErrPeerURLExists();
      if (cc.type == raft::ConfChangeType::kAddLearnerNode) {
        size_t learners = 0;
        for (const auto& [mid, mm] : state.members)
          learners += mm.is_learner ? 1 : 0;
        if (learners + 1 > max_learners) return ErrTooManyLearners();
      }
      return Status::OK();
    }
    case raft::ConfChangeType::kRemoveNode:
      if (!exists) return ErrIDNotFound();
      return Status::OK();
    case raft::ConfChangeType::kUpdateNode:
      if (!exists) return ErrIDNotFound();
      if (m.has_value() && PeerURLTaken(state, m->peer_urls, id)) return ErrPeerURLExists();
      return Status::OK();
  }
  return Status::InvalidArgument("membership: unknown conf change type");
}

raft::ConfChange MakeAddConfChange(const Member& m) {
  raft::ConfChange cc;
  cc.type = m.is_learner ? raft::ConfChangeType::kAddLearnerNode : raft::ConfChangeType::kAddNode;
  cc.node_id = m.id;
  cc.context = Encode(m);
  return cc;
}

raft::ConfChange MakePromoteConfChange(uint64_t id) {
  raft::ConfChange cc;
  cc.type = raft::ConfChangeType::kAddNode;
  cc.node_id = id;
  return cc;
}

raft::ConfChange MakeRemoveConfChange(uint64_t id) {
  raft::ConfChange cc;
  cc.type = raft::ConfChangeType::kRemoveNode;
  cc.node_id = id;
  return cc;
}

raft::ConfChange MakeUpdateConfChange(uint64_t id, const std::vector<std::string>& peer_urls) {
  Member m;
  m.id = id;
  m.peer_urls = peer_urls;
  raft::ConfChange cc;
  cc.type = raft::ConfChangeType::kUpdateNode;
  cc.node_id = id;
  cc.context = Encode(m);
  return cc;
}

// ---------------------------------------------------------------- Cluster

Status Cluster::Load(mvcc::ReadTxn& txn) {
  MembershipState s;
  ETCDPP_ASSIGN_OR_RETURN(auto rows, txn.Members());
  for (auto& [id, enc] : rows) {
    ETCDPP_ASSIGN_OR_RETURN(Member m, Decode(enc));
    m.id = id;
    s.members.emplace(id, std::move(m));
  }
  ETCDPP_ASSIGN_OR_RETURN(auto removed, txn.RemovedMembers());
  s.removed.insert(removed.begin(), removed.end());
  std::lock_guard<std::mutex> lock(mu_);
  state_ = std::move(s);
  return Status::OK();
}

void Cluster::SetClusterId(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  cluster_id_ = id;
}

uint64_t Cluster::cluster_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cluster_id_;
}

std::vector<Member> Cluster::Members() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Member> out;
  out.reserve(state_.members.size());
  for (const auto& [id, m] : state_.members)
    out.push_back(m);  // std::map: id order
  return out;
}

std::optional<Member> Cluster::GetMember(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = state_.members.find(id);
  if (it == state_.members.end()) return std::nullopt;
  return it->second;
}

bool Cluster::IsRemoved(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.removed.count(id) != 0;
}

size_t Cluster::VoterCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, m] : state_.members)
    n += m.is_learner ? 0 : 1;
  return n;
}

size_t Cluster::LearnerCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, m] : state_.members)
    n += m.is_learner ? 1 : 0;
  return n;
}

std::vector<uint64_t> Cluster::VoterIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> out;
  for (const auto& [id, m] : state_.members) {
    if (!m.is_learner) out.push_back(id);
  }
  return out;
}

MembershipState Cluster::State() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

Status Cluster::ValidateConfChange(const raft::ConfChange& cc,
                                   const std::optional<Member>& m) const {
  std::lock_guard<std::mutex> lock(mu_);
  return membership::ValidateConfChange(state_, cc, m, max_learners_);
}

Result<Change> Cluster::ApplyConfChange(mvcc::Batch& batch, const raft::ConfChange& cc) const {
  std::optional<Member> ctx;
  if (!cc.context.empty()) {
    ETCDPP_ASSIGN_OR_RETURN(Member m, Decode(cc.context));
    m.id = cc.node_id;
    ctx = std::move(m);
  }
  ETCDPP_ASSIGN_OR_RETURN(MembershipState state, ReadState(batch));
  ETCDPP_RETURN_IF_ERROR(membership::ValidateConfChange(state, cc, ctx, max_learners_));

  Change c;
  auto it = state.members.find(cc.node_id);
  switch (cc.type) {
    case raft::ConfChangeType::kAddNode:
    case raft::ConfChangeType::kAddLearnerNode:
      if (it != state.members.end()) {  // validated: a learner being promoted
        c.kind = ChangeKind::kPromoted;
        c.member = it->second;
        c.member.is_learner = false;
      } else {
        c.kind = ChangeKind::kAdded;
        c.member = *ctx;
        c.member.is_learner = cc.type == raft::ConfChangeType::kAddLearnerNode;
      }
      ETCDPP_RETURN_IF_ERROR(batch.PutMember(c.member.id, Encode(c.member)));
      break;
    case raft::ConfChangeType::kRemoveNode:
      c.kind = ChangeKind::kRemoved;
      c.member = it->second;
      ETCDPP_RETURN_IF_ERROR(batch.DeleteMember(cc.node_id));
      ETCDPP_RETURN_IF_ERROR(batch.PutRemovedMember(cc.node_id));
      break;
    case raft::ConfChangeType::kUpdateNode:
      c.kind = ChangeKind::kUpdated;
      c.member = it->second;
      // etcd UpdateRaftAttributes: peer URLs change; name, client URLs and the
      // learner flag stay.
      if (ctx.has_value()) c.member.peer_urls = ctx->peer_urls;
      ETCDPP_RETURN_IF_ERROR(batch.PutMember(c.member.id, Encode(c.member)));
      break;
  }
  return c;
}

Result<Change> Cluster::ApplyAttrSet(mvcc::Batch& batch,
                                     const internalpb::MemberAttrSetRequest& req) const {
  ETCDPP_ASSIGN_OR_RETURN(MembershipState state, ReadState(batch));
  const uint64_t id = req.member_id();
  auto it = state.members.find(id);
  if (it == state.members.end()) {
    log::Write(log::Level::kWarn,
               state.removed.count(id) != 0 ? "skipped attributes update of removed member"
                                            : "skipped attributes update of unknown member",
               {{"updated-peer-id", IdString(id)}});
    return Change{};
  }
  Change c;
  c.kind = ChangeKind::kAttrSet;
  c.member = it->second;
  c.member.name = req.name();
  c.member.client_urls.assign(req.client_urls().begin(), req.client_urls().end());
  ETCDPP_RETURN_IF_ERROR(batch.PutMember(id, Encode(c.member)));
  return c;
}

void Cluster::Publish(const Change& c) {
  if (c.kind == ChangeKind::kNone) return;
  std::vector<Listener> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (c.kind == ChangeKind::kRemoved) {
      state_.members.erase(c.member.id);
      state_.removed.insert(c.member.id);
    } else {
      state_.members[c.member.id] = c.member;
    }
    listeners = listeners_;
  }
  log::Write(log::Level::kInfo, "membership change applied",
             {{"change", ChangeKindName(c.kind)},
              {"member-id", IdString(c.member.id)},
              {"peer-urls", c.member.peer_urls},
              {"is-learner", c.member.is_learner}});
  for (const auto& fn : listeners)
    fn(c.member, c.kind);
}

void Cluster::OnChange(Listener fn) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.push_back(std::move(fn));
}

}  // namespace etcdpp::membership
