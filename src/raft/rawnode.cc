#include "raft/rawnode.h"

#include <utility>

#include "raft/codec.h"

namespace etcdpp::raft {

RawNode::RawNode(const Config& c) : raft_(c) {
  prev_soft_state_ = raft_.GetSoftState();
  // What storage already holds is not reported again.
  prev_hard_state_ = raft_.GetHardState();
}

void RawNode::Tick() {
  raft_.Tick();
}

etcdpp::Status RawNode::Campaign() {
  Message m;
  m.type = MessageType::kHup;
  m.from = raft_.id();
  return raft_.Step(std::move(m));
}

etcdpp::Status RawNode::StepLocal(MessageType type, EntryType entry_type, std::string data) {
  Message m;
  m.type = type;
  m.from = raft_.id();
  Entry e;
  e.type = entry_type;
  e.data = std::move(data);
  m.entries.push_back(std::move(e));
  return raft_.Step(std::move(m));
}

etcdpp::Status RawNode::Propose(std::string data) {
  return StepLocal(MessageType::kProp, EntryType::kNormal, std::move(data));
}

etcdpp::Status RawNode::ProposeConfChange(const ConfChange& cc) {
  return StepLocal(MessageType::kProp, EntryType::kConfChange, EncodeConfChange(cc));
}

etcdpp::Status RawNode::ProposeConfChange(const ConfChangeV2& cc) {
  if (cc.changes.size() > 1) {
    return etcdpp::Status::Unimplemented("raft: joint consensus (multiple changes) unsupported");
  }
  return StepLocal(MessageType::kProp, EntryType::kConfChangeV2, EncodeConfChangeV2(cc));
}

ConfState RawNode::ApplyConfChange(const ConfChange& cc) {
  return raft_.ApplyConfChange(ConfChangeSingle{cc.type, cc.node_id});
}

ConfState RawNode::ApplyConfChange(const ConfChangeV2& cc) {
  if (cc.changes.empty()) return raft_.tracker().GetConfState();
  ConfState cs;
  // Only single changes are accepted at proposal time; apply sequentially regardless.
  for (const auto& c : cc.changes)
    cs = raft_.ApplyConfChange(c);
  return cs;
}

etcdpp::Status RawNode::Step(Message m) {
  if (IsLocalMessage(m.type)) {
    return etcdpp::Status::InvalidArgument("raft: cannot step raft local message");
  }
  if (IsResponseMessage(m.type) && !raft_.tracker().IsMember(m.from)) {
    return etcdpp::Status::OK();  // ErrStepPeerNotFound in etcd: ignore
  }
  // Shape checks at the transport boundary: raft's invariants assume well-formed appends.
  if (m.type == MessageType::kApp) {
    for (size_t i = 0; i < m.entries.size(); ++i) {
      if (m.entries[i].index != m.index + 1 + i || m.entries[i].term > m.term) {
        return etcdpp::Status::InvalidArgument("raft: malformed MsgApp entries");
      }
    }
  }
  if (m.type == MessageType::kSnap && m.snapshot == nullptr) {
    return etcdpp::Status::InvalidArgument("raft: MsgSnap without snapshot");
  }
  return raft_.Step(std::move(m));
}

etcdpp::Status RawNode::ReadIndex(std::string rctx) {
  return StepLocal(MessageType::kReadIndex, EntryType::kNormal, std::move(rctx));
}

void RawNode::TransferLeader(uint64_t transferee) {
  Message m;
  m.type = MessageType::kTransferLeader;
  m.from = transferee;
  (void)raft_.Step(std::move(m));
}

void RawNode::ReportUnreachable(uint64_t id) {
  Message m;
  m.type = MessageType::kUnreachable;
  m.from = id;
  (void)raft_.Step(std::move(m));
}

void RawNode::ReportSnapshot(uint64_t id, bool success) {
  Message m;
  m.type = MessageType::kSnapStatus;
  m.from = id;
  m.reject = !success;
  (void)raft_.Step(std::move(m));
}

bool RawNode::HasReady() const {
  if (raft_.GetSoftState() != prev_soft_state_) return true;
  HardState hs = raft_.GetHardState();
  if (!hs.empty() && hs != prev_hard_state_) return true;
  const RaftLog& log = raft_.log();
  if (log.UnstableSnapshot().has_value()) return true;
  if (!log.UnstableEntries().empty()) return true;
  if (log.HasNextCommittedEnts()) return true;
  return raft_.HasPendingOutput();
}

raft::Ready RawNode::Ready() {
  raft::Ready rd;
  SoftState ss = raft_.GetSoftState();
  if (ss != prev_soft_state_) {
    rd.soft_state = ss;
    prev_soft_state_ = ss;
  }
  HardState hs = raft_.GetHardState();
  if (hs != prev_hard_state_) rd.hard_state = hs;
  const RaftLog& log = raft_.log();
  rd.entries = log.UnstableEntries();
  if (log.UnstableSnapshot()) rd.snapshot = *log.UnstableSnapshot();
  rd.committed_entries = log.NextCommittedEnts();
  rd.messages = std::move(raft_.msgs());
  raft_.msgs().clear();
  rd.read_states = std::move(raft_.read_states());
  raft_.read_states().clear();
  rd.must_sync =
      !rd.entries.empty() || hs.term != prev_hard_state_.term || hs.vote != prev_hard_state_.vote;
  return rd;
}

void RawNode::Advance(const raft::Ready& rd) {
  if (!rd.hard_state.empty()) prev_hard_state_ = rd.hard_state;
  RaftLog& log = raft_.mutable_log();
  if (!rd.entries.empty()) log.StableTo(rd.entries.back().index, rd.entries.back().term);
  if (!rd.snapshot.empty()) log.StableSnapTo(rd.snapshot.metadata.index);
  uint64_t applied = 0;
  uint64_t bytes = 0;
  if (!rd.snapshot.empty()) applied = rd.snapshot.metadata.index;
  if (!rd.committed_entries.empty()) {
    applied = rd.committed_entries.back().index;
    for (const auto& e : rd.committed_entries)
      bytes += e.data.size();
  }
  if (applied > raft_.log().applied()) raft_.AppliedTo(applied, bytes);
}

RaftStatus RawNode::Status() const {
  RaftStatus s;
  s.id = raft_.id();
  s.hard_state = raft_.GetHardState();
  s.soft_state = raft_.GetSoftState();
  s.applied = raft_.log().applied();
  s.lead_transferee = raft_.lead_transferee();
  s.config = raft_.tracker().GetConfState();
  if (raft_.state() == StateType::kLeader) {
    for (const auto& [id, pr] : raft_.tracker().progress()) {
      s.progress[id] = ProgressInfo{pr.match, pr.next, pr.state, pr.is_learner, pr.recent_active};
    }
  }
  return s;
}

}  // namespace etcdpp::raft
