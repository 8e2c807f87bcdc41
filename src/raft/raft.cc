#include "raft/raft.h"

#include "raft/fatal.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace etcdpp::raft {

namespace {

constexpr char kProposalDroppedMsg[] = "raft proposal dropped";

MessageType VoteRespType(MessageType t) {
  return t == MessageType::kVote ? MessageType::kVoteResp : MessageType::kPreVoteResp;
}

Message Msg(MessageType type, uint64_t to) {
  Message m;
  m.type = type;
  m.to = to;
  return m;
}

uint64_t PayloadSize(const std::vector<Entry>& es) {
  uint64_t s = 0;
  for (const auto& e : es)
    s += e.data.size();
  return s;
}

}  // namespace

Status ErrProposalDropped() {
  return Status::Unavailable(kProposalDroppedMsg);
}
bool IsProposalDropped(const Status& s) {
  return s.message() == kProposalDroppedMsg;
}
Status ErrConfChangePending() {
  return Status::FailedPrecondition("raft: a configuration change is already pending");
}

Status Config::Validate() const {
  if (id == kNone) return Status::InvalidArgument("raft: cannot use none as id");
  if (heartbeat_tick <= 0) return Status::InvalidArgument("raft: heartbeat tick must be > 0");
  if (election_tick <= heartbeat_tick) {
    return Status::InvalidArgument("raft: election tick must be greater than heartbeat tick");
  }
  if (storage == nullptr) return Status::InvalidArgument("raft: storage cannot be nil");
  if (max_inflight_msgs == 0) return Status::InvalidArgument("raft: max inflight msgs must be > 0");
  if (read_only_option == ReadOnlyOption::kLeaseBased && !check_quorum) {
    return Status::InvalidArgument("raft: check_quorum must be on with lease-based read-only");
  }
  return Status::OK();
}

Raft::Raft(const Config& c)
    : id_(c.id),
      log_(c.storage,
           c.max_committed_size_per_ready ? c.max_committed_size_per_ready : c.max_size_per_msg),
      prs_(c.max_inflight_msgs, c.max_inflight_bytes),
      max_msg_size_(c.max_size_per_msg),
      max_uncommitted_size_(c.max_uncommitted_entries_size),
      election_timeout_(c.election_tick),
      heartbeat_timeout_(c.heartbeat_tick),
      check_quorum_(c.check_quorum),
      pre_vote_(c.pre_vote),
      disable_proposal_forwarding_(c.disable_proposal_forwarding),
      step_down_on_removal_(c.step_down_on_removal),
      read_only_option_(c.read_only_option),
      bugs_(c.bugs),
      rand_(c.seed ^ (c.id * 0x9e3779b97f4a7c15ULL)) {
  if (!c.Validate().ok()) Fatal(c.Validate().ToString().c_str());
  auto init = c.storage->InitialState();
  if (!init.ok()) Fatal("storage InitialState failed");
  LoadConfState(init->conf_state);
  const HardState& hs = init->hard_state;
  if (!hs.empty()) {
    if (hs.commit < log_.committed() || hs.commit > log_.LastIndex()) {
      Fatal("hard state commit out of range");
    }
    log_.CommitTo(hs.commit);
    term_ = hs.term;
    vote_ = hs.vote;
  }
  if (c.applied > 0) log_.AppliedTo(c.applied);
  BecomeFollower(term_, kNone);
}

bool Raft::Promotable() const {
  return prs_.IsVoter(id_) && !log_.UnstableSnapshot().has_value();
}

void Raft::LoadConfState(const ConfState& cs) {
  prs_.progress().clear();
  uint64_t next = log_.LastIndex() + 1;
  for (uint64_t v : cs.voters)
    prs_.AddNode(v, false, next);
  for (uint64_t l : cs.learners)
    prs_.AddNode(l, true, next);
  const Progress* self = prs_.Get(id_);
  is_learner_ = self != nullptr && self->is_learner;
  if (self != nullptr) prs_.Get(id_)->match = log_.LastIndex();
}

// ---- role transitions ----

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  prs_.ResetVotes();
  uint64_t last = log_.LastIndex();
  for (auto& [id, pr] : prs_.progress()) {
    pr.ResetState(ProgressState::kProbe);
    pr.match = 0;
    pr.next = last + 1;
    pr.recent_active = false;
    if (id == id_) {
      pr.match = last;
      pr.recent_active = true;
    }
  }
  pending_conf_index_ = 0;
  uncommitted_size_ = 0;
  ResetReadOnly();
}

void Raft::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      election_timeout_ + static_cast<int>(rand_.Uniform(static_cast<uint64_t>(election_timeout_)));
}

void Raft::BecomeFollower(uint64_t term, uint64_t lead) {
  Reset(term);
  lead_ = lead;
  state_ = StateType::kFollower;
}

void Raft::BecomeCandidate() {
  if (state_ == StateType::kLeader) Fatal("invalid transition [leader -> candidate]");
  Reset(term_ + 1);
  vote_ = id_;
  state_ = StateType::kCandidate;
}

void Raft::BecomePreCandidate() {
  if (state_ == StateType::kLeader) Fatal("invalid transition [leader -> pre-candidate]");
  // Term and vote stay: a pre-election must not disrupt anyone if it fails.
  prs_.ResetVotes();
  lead_ = kNone;
  state_ = StateType::kPreCandidate;
}

void Raft::BecomeLeader() {
  if (state_ == StateType::kFollower) Fatal("invalid transition [follower -> leader]");
  Reset(term_);
  lead_ = id_;
  state_ = StateType::kLeader;
  if (Progress* self = prs_.Get(id_)) self->BecomeReplicate();
  // Conservatively treat every uncommitted entry as possibly a conf change.
  pending_conf_index_ = log_.LastIndex();
  // An empty entry of the new term: committing it commits all earlier entries (§5.4.2) and
  // tells ReadIndex that this leader knows the commit index.
  if (!AppendEntry({Entry{}})) Fatal("empty entry was dropped");
}

// ---- ticks ----

void Raft::Tick() {
  if (state_ == StateType::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    Message m = Msg(MessageType::kHup, kNone);
    m.from = id_;
    (void)Step(std::move(m));
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_timeout_) {
    election_elapsed_ = 0;
    if (check_quorum_) {
      Message m = Msg(MessageType::kCheckQuorum, kNone);
      m.from = id_;
      (void)Step(std::move(m));
    }
    // A transfer that did not finish within an election timeout is abandoned.
    if (state_ == StateType::kLeader && lead_transferee_ != kNone) AbortLeaderTransfer();
  }
  if (state_ != StateType::kLeader) return;
  if (heartbeat_elapsed_ >= heartbeat_timeout_) {
    heartbeat_elapsed_ = 0;
    Message m = Msg(MessageType::kBeat, kNone);
    m.from = id_;
    (void)Step(std::move(m));
  }
}

// ---- elections ----

bool Raft::HasUnappliedConfChanges() const {
  if (log_.applied() >= log_.committed()) return false;
  auto ents =
      log_.Slice(std::max(log_.applied() + 1, log_.FirstIndex()), log_.committed() + 1, UINT64_MAX);
  if (!ents.ok()) return false;
  for (const auto& e : *ents) {
    if (e.type != EntryType::kNormal) return true;
  }
  return false;
}

void Raft::Hup(CampaignType t) {
  if (state_ == StateType::kLeader) return;
  if (!Promotable()) return;
  // A committed conf change might remove us or change the quorum: apply it before campaigning.
  if (HasUnappliedConfChanges()) return;
  Campaign(t);
}

void Raft::Campaign(CampaignType t) {
  if (!Promotable()) return;
  MessageType vote_type;
  uint64_t term;
  if (t == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_type = MessageType::kPreVote;
    term = term_ + 1;  // the term we would campaign in; our own term is unchanged
  } else {
    BecomeCandidate();
    vote_type = MessageType::kVote;
    term = term_;
  }
  // Our own vote: the HardState with vote=id_ is persisted (Ready) before the requests go out.
  if (Poll(id_, VoteRespType(vote_type), true) == VoteResult::kWon) {
    // Single voter: won immediately.
    if (t == CampaignType::kPreElection) {
      Campaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (uint64_t id : prs_.Voters()) {
    if (id == id_) continue;
    Message m = Msg(vote_type, id);
    m.term = term;
    m.index = log_.LastIndex();
    m.log_term = log_.LastTerm();
    if (t == CampaignType::kTransfer) m.context = kCampaignTransfer;
    Send(std::move(m));
  }
}

VoteResult Raft::Poll(uint64_t id, MessageType t, bool granted) {
  prs_.RecordVote(id, granted);
  return prs_.TallyVotes();
}

void Raft::StepVote(const Message& m) {
  // We can vote if we already voted for this candidate (a duplicate request), or have not voted
  // and know no leader in this term, or this is a pre-vote for a future term.
  bool can_vote = vote_ == m.from || (vote_ == kNone && lead_ == kNone) ||
                  (m.type == MessageType::kPreVote && m.term > term_);
  if (bugs_.grant_two_votes && m.type == MessageType::kVote) can_vote = true;
  bool log_ok = bugs_.no_vote_log_check || log_.IsUpToDate(m.index, m.log_term);
  if (can_vote && log_ok) {
    // The response carries the request's term: for a pre-vote our own term is unchanged.
    Message resp = Msg(VoteRespType(m.type), m.from);
    resp.term = m.term;
    Send(std::move(resp));
    if (m.type == MessageType::kVote) {
      election_elapsed_ = 0;
      vote_ = m.from;  // persisted via HardState before the response is sent
    }
  } else {
    Message resp = Msg(VoteRespType(m.type), m.from);
    resp.term = term_;
    resp.reject = true;
    Send(std::move(resp));
  }
}

// ---- message dispatch ----

Status Raft::Step(Message m) {
  if (m.term == 0) {
    // Local message (or a forwarded proposal/read index).
  } else if (m.term > term_) {
    if (m.type == MessageType::kVote || m.type == MessageType::kPreVote) {
      bool force = m.context == kCampaignTransfer;
      bool in_lease = check_quorum_ && lead_ != kNone && election_elapsed_ < election_timeout_;
      // We heard from a leader within the minimum election timeout: ignore (thesis §4.2.3).
      if (!force && in_lease) return Status::OK();
    }
    if (m.type == MessageType::kPreVote) {
      // A pre-vote never changes our term.
    } else if (m.type == MessageType::kPreVoteResp && !m.reject) {
      // A granted pre-vote for term+1: the term moves only if the pre-election wins.
    } else if (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnap) {
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, kNone);
    }
  } else if (m.term < term_) {
    if ((check_quorum_ || pre_vote_) &&
        (m.type == MessageType::kHeartbeat || m.type == MessageType::kApp)) {
      // A stale leader (e.g. after a partition): tell it our term so it steps down. Without this
      // a node that raised its term in isolation could never rejoin under CheckQuorum/PreVote.
      Send(Msg(MessageType::kAppResp, m.from));
    } else if (m.type == MessageType::kPreVote || m.type == MessageType::kVote) {
      // Reject with our term so the candidate catches up (paper Fig. 2: RequestVote returns
      // currentTerm). etcd-raft ignores stale MsgVote; that can deadlock a lagging voter whose
      // term is higher but whose configuration is stale (seen in raft-sim): it never contacts
      // the up-to-date candidate, and the candidate never learns the higher term.
      Message resp = Msg(VoteRespType(m.type), m.from);
      resp.term = term_;
      resp.reject = true;
      Send(std::move(resp));
    }
    return Status::OK();
  }

  switch (m.type) {
    case MessageType::kHup:
      Hup(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
      return Status::OK();
    case MessageType::kVote:
    case MessageType::kPreVote:
      StepVote(m);
      return Status::OK();
    default:
      break;
  }
  switch (state_) {
    case StateType::kLeader:
      return StepLeader(m);
    case StateType::kCandidate:
    case StateType::kPreCandidate:
      return StepCandidate(m);
    case StateType::kFollower:
      return StepFollower(m);
  }
  return Status::OK();
}

Status Raft::StepLeader(Message& m) {
  switch (m.type) {
    case MessageType::kBeat:
      // Piggyback the newest pending read so lost heartbeats of a read round get retried.
      BcastHeartbeat(read_index_queue_.empty() ? std::string() : read_index_queue_.back());
      return Status::OK();
    case MessageType::kCheckQuorum:
      if (!prs_.QuorumActive()) BecomeFollower(term_, kNone);
      for (auto& [id, pr] : prs_.progress()) {
        if (id != id_) pr.recent_active = false;
      }
      return Status::OK();
    case MessageType::kProp: {
      if (m.entries.empty()) Fatal("stepped empty MsgProp");
      if (!prs_.IsMember(id_)) return ErrProposalDropped();  // removed from the config
      if (lead_transferee_ != kNone) return ErrProposalDropped();
      for (size_t i = 0; i < m.entries.size(); ++i) {
        Entry& e = m.entries[i];
        if (e.type == EntryType::kNormal) continue;
        // One conf change at a time: a second one while one is unapplied is refused.
        if (pending_conf_index_ > log_.applied()) {
          if (m.from == id_ && m.entries.size() == 1) return ErrConfChangePending();
          e = Entry{};  // forwarded batch: keep the slot, drop the change
        } else {
          pending_conf_index_ = log_.LastIndex() + i + 1;
        }
      }
      if (!AppendEntry(std::move(m.entries))) return ErrProposalDropped();
      BcastAppend();
      return Status::OK();
    }
    case MessageType::kReadIndex:
      if (m.entries.size() != 1) return Status::InvalidArgument("raft: bad read index request");
      HandleReadIndexOnLeader(m);
      return Status::OK();
    default:
      break;
  }

  Progress* pr = prs_.Get(m.from);
  if (pr == nullptr) return Status::OK();  // not (or no longer) in the config
  switch (m.type) {
    case MessageType::kAppResp: {
      pr->recent_active = true;
      if (m.reject) {
        // Fast back-off: the follower hints (index, term) of its last entry that could match;
        // skip our entries of terms the follower cannot have.
        uint64_t next_probe = m.reject_hint;
        if (m.log_term > 0) next_probe = log_.FindConflictByTerm(m.reject_hint, m.log_term).first;
        if (pr->MaybeDecrTo(m.index, next_probe)) {
          if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
          SendAppend(m.from);
        }
        break;
      }
      bool old_paused = pr->IsPaused();
      if (!pr->MaybeUpdate(m.index)) break;
      switch (pr->state) {
        case ProgressState::kProbe:
          pr->BecomeReplicate();
          break;
        case ProgressState::kSnapshot:
          if (pr->match + 1 >= log_.FirstIndex()) {
            pr->BecomeProbe();
            pr->BecomeReplicate();
          }
          break;
        case ProgressState::kReplicate:
          pr->inflights.FreeLE(m.index);
          break;
      }
      if (MaybeCommit()) {
        ReleasePendingReadIndexMessages();
        BcastAppend();
      } else if (old_paused) {
        SendAppend(m.from);
      }
      while (MaybeSendAppend(m.from, false)) {
      }
      if (m.from == lead_transferee_ && pr->match == log_.LastIndex()) SendTimeoutNow(m.from);
      break;
    }
    case MessageType::kHeartbeatResp: {
      pr->recent_active = true;
      pr->msg_app_flow_paused = false;
      // MsgApps of a full window may have been lost: free one slot so a (possibly rejected,
      // hence probing) append goes out.
      if (pr->state == ProgressState::kReplicate && pr->inflights.Full()) {
        pr->inflights.FreeFirstOne();
      }
      if (pr->match < log_.LastIndex() || pr->state == ProgressState::kProbe) SendAppend(m.from);
      if (read_only_option_ != ReadOnlyOption::kSafe || m.context.empty()) break;
      auto it = pending_read_index_.find(m.context);
      if (it == pending_read_index_.end()) break;
      it->second.acks[m.from] = true;
      if (prs_.QuorumOf(it->second.acks) != VoteResult::kWon) break;
      // Leadership confirmed for this round: it also answers every earlier queued request.
      std::vector<ReadIndexStatus> done;
      while (!read_index_queue_.empty()) {
        std::string ctx = std::move(read_index_queue_.front());
        read_index_queue_.pop_front();
        auto st = pending_read_index_.find(ctx);
        done.push_back(std::move(st->second));
        pending_read_index_.erase(st);
        if (ctx == m.context) break;
      }
      for (const auto& rs : done)
        RespondReadIndex(rs.req, rs.index);
      break;
    }
    case MessageType::kSnapStatus:
      if (pr->state != ProgressState::kSnapshot) break;
      if (m.reject) pr->pending_snapshot = 0;  // failed: probe from match again
      pr->BecomeProbe();
      // Wait for the follower's MsgAppResp (or a heartbeat response) before probing.
      pr->msg_app_flow_paused = true;
      break;
    case MessageType::kUnreachable:
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      break;
    case MessageType::kTransferLeader: {
      if (pr->is_learner) break;
      uint64_t transferee = m.from;
      if (lead_transferee_ != kNone) {
        if (lead_transferee_ == transferee) break;
        AbortLeaderTransfer();
      }
      if (transferee == id_) break;
      election_elapsed_ = 0;  // the transfer must finish within one election timeout
      lead_transferee_ = transferee;
      if (pr->match == log_.LastIndex()) {
        SendTimeoutNow(transferee);
      } else {
        SendAppend(transferee);
      }
      break;
    }
    default:
      break;
  }
  return Status::OK();
}

Status Raft::StepCandidate(Message& m) {
  MessageType my_resp =
      state_ == StateType::kPreCandidate ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  switch (m.type) {
    case MessageType::kProp:
      return ErrProposalDropped();
    case MessageType::kReadIndex:
      return ErrProposalDropped();
    case MessageType::kApp:
      BecomeFollower(m.term, m.from);  // a leader of our term exists
      HandleAppendEntries(m);
      return Status::OK();
    case MessageType::kHeartbeat:
      BecomeFollower(m.term, m.from);
      HandleHeartbeat(m);
      return Status::OK();
    case MessageType::kSnap:
      BecomeFollower(m.term, m.from);
      HandleSnapshot(m);
      return Status::OK();
    default:
      break;
  }
  if (m.type == my_resp) {
    VoteResult res = Poll(m.from, m.type, !m.reject);
    if (res == VoteResult::kWon) {
      if (state_ == StateType::kPreCandidate) {
        Campaign(CampaignType::kElection);
      } else {
        BecomeLeader();
        BcastAppend();
      }
    } else if (res == VoteResult::kLost) {
      // A pre-candidate that lost may hold a term+1 rejection; stay in our term.
      BecomeFollower(term_, kNone);
    }
  }
  return Status::OK();
}

Status Raft::StepFollower(Message& m) {
  switch (m.type) {
    case MessageType::kProp:
      if (lead_ == kNone || disable_proposal_forwarding_) return ErrProposalDropped();
      m.to = lead_;
      Send(std::move(m));
      return Status::OK();
    case MessageType::kApp:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleAppendEntries(m);
      return Status::OK();
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleHeartbeat(m);
      return Status::OK();
    case MessageType::kSnap:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshot(m);
      return Status::OK();
    case MessageType::kTransferLeader:
      if (lead_ == kNone) return ErrProposalDropped();
      m.to = lead_;
      Send(std::move(m));
      return Status::OK();
    case MessageType::kTimeoutNow:
      // Leader transfer: campaign now, skipping pre-vote, and force through leases.
      Hup(CampaignType::kTransfer);
      return Status::OK();
    case MessageType::kReadIndex:
      if (m.entries.size() != 1) return Status::InvalidArgument("raft: bad read index request");
      if (lead_ == kNone) return ErrProposalDropped();
      m.to = lead_;
      Send(std::move(m));
      return Status::OK();
    case MessageType::kReadIndexResp:
      if (m.entries.size() != 1) return Status::OK();
      read_states_.push_back({m.index, m.entries[0].data});
      return Status::OK();
    default:
      return Status::OK();
  }
}

// ---- follower handlers ----

void Raft::HandleAppendEntries(const Message& m) {
  if (m.index < log_.committed()) {
    // Already committed here: tell the leader where we are.
    Message resp = Msg(MessageType::kAppResp, m.from);
    resp.index = log_.committed();
    Send(std::move(resp));
    return;
  }
  if (auto last = log_.MaybeAppend(m.index, m.log_term, m.commit, m.entries)) {
    Message resp = Msg(MessageType::kAppResp, m.from);
    resp.index = *last;
    Send(std::move(resp));
    return;
  }
  // Mismatch: hint the largest index whose term is <= the leader's term at m.index, so the
  // leader can skip a whole term of conflicting entries per round trip.
  uint64_t hint_index = std::min(m.index, log_.LastIndex());
  auto [hi, ht] = log_.FindConflictByTerm(hint_index, m.log_term);
  Message resp = Msg(MessageType::kAppResp, m.from);
  resp.index = m.index;
  resp.reject = true;
  resp.reject_hint = hi;
  resp.log_term = ht;
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const Message& m) {
  // The leader sends min(match, commit), so this never exceeds what we hold.
  log_.CommitTo(m.commit);
  Message resp = Msg(MessageType::kHeartbeatResp, m.from);
  resp.context = m.context;
  Send(std::move(resp));
}

void Raft::HandleSnapshot(const Message& m) {
  Message resp = Msg(MessageType::kAppResp, m.from);
  if (m.snapshot != nullptr && Restore(*m.snapshot)) {
    resp.index = log_.LastIndex();
  } else {
    resp.index = log_.committed();
  }
  Send(std::move(resp));
}

bool Raft::Restore(const Snapshot& s) {
  if (s.metadata.index <= log_.committed()) return false;
  if (state_ != StateType::kFollower) {
    // Only a leader of our term sends snapshots, and its messages made us follower; be safe.
    BecomeFollower(term_ + 1, kNone);
    return false;
  }
  const ConfState& cs = s.metadata.conf_state;
  bool found = false;
  for (const auto* set : {&cs.voters, &cs.learners, &cs.voters_outgoing}) {
    if (std::find(set->begin(), set->end(), id_) != set->end()) found = true;
  }
  if (!found) return false;  // a snapshot of a config we are not part of
  if (log_.MatchTerm(s.metadata.index, s.metadata.term)) {
    // We already have the snapshot's last entry: fast-forward the commit instead.
    log_.CommitTo(s.metadata.index);
    return false;
  }
  log_.Restore(s);
  LoadConfState(cs);
  return true;
}

// ---- leader helpers ----

void Raft::Send(Message m) {
  if (m.from == kNone) m.from = id_;
  bool vote_family = m.type == MessageType::kVote || m.type == MessageType::kVoteResp ||
                     m.type == MessageType::kPreVote || m.type == MessageType::kPreVoteResp;
  if (vote_family) {
    if (m.term == 0) Fatal("vote message without term");
  } else {
    // Proposals and read requests are forwarded as local messages (term 0).
    if (m.type != MessageType::kProp && m.type != MessageType::kReadIndex) m.term = term_;
  }
  msgs_.push_back(std::move(m));
}

bool Raft::MaybeSendSnapshot(uint64_t to, Progress* pr) {
  // Don't ship a (possibly large) snapshot to a node we have not heard from.
  if (!pr->recent_active) return false;
  auto snap = log_.GetSnapshot();
  if (!snap.ok()) {
    if (IsSnapshotTemporarilyUnavailable(snap.status())) return false;
    Fatal("failed to get snapshot");
  }
  if (snap->empty()) Fatal("need non-empty snapshot");
  pr->BecomeSnapshot(snap->metadata.index);
  Message m = Msg(MessageType::kSnap, to);
  m.snapshot = std::make_shared<const Snapshot>(std::move(*snap));
  Send(std::move(m));
  return true;
}

bool Raft::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  Progress* pr = prs_.Get(to);
  if (pr == nullptr || pr->IsPaused()) return false;
  uint64_t prev_index = pr->next - 1;
  auto prev_term = log_.Term(prev_index);
  if (!prev_term.ok()) {
    if (IsCompacted(prev_term.status())) return MaybeSendSnapshot(to, pr);
    return false;
  }
  auto ents = log_.EntriesFrom(pr->next, max_msg_size_);
  if (!ents.ok()) {
    if (IsCompacted(ents.status())) return MaybeSendSnapshot(to, pr);
    return false;
  }
  if (ents->empty() && !send_if_empty) return false;
  Message m = Msg(MessageType::kApp, to);
  m.index = prev_index;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  if (!ents->empty() && pr->state == ProgressState::kReplicate) {
    // Optimistic: assume delivery and pipeline the next batch; bounded by inflights.
    uint64_t last = ents->back().index;
    pr->next = last + 1;
    pr->inflights.Add(last, PayloadSize(*ents));
  }
  if (pr->state == ProgressState::kProbe) pr->msg_app_flow_paused = true;
  m.entries = std::move(*ents);
  Send(std::move(m));
  return true;
}

void Raft::SendHeartbeat(uint64_t to, const std::string& ctx) {
  const Progress* pr = prs_.Get(to);
  // Never tell a follower to commit beyond what it is known to hold.
  Message m = Msg(MessageType::kHeartbeat, to);
  m.commit = std::min(pr->match, log_.committed());
  m.context = ctx;
  Send(std::move(m));
}

void Raft::BcastAppend() {
  for (auto& [id, pr] : prs_.progress()) {
    if (id != id_) SendAppend(id);
  }
}

void Raft::BcastHeartbeat(const std::string& ctx) {
  for (auto& [id, pr] : prs_.progress()) {
    if (id != id_) SendHeartbeat(id, ctx);
  }
}

void Raft::SendTimeoutNow(uint64_t to) {
  Send(Msg(MessageType::kTimeoutNow, to));
}

bool Raft::AppendEntry(std::vector<Entry> es) {
  uint64_t li = log_.LastIndex();
  for (size_t i = 0; i < es.size(); ++i) {
    es[i].term = term_;
    es[i].index = li + 1 + i;
  }
  uint64_t size = PayloadSize(es);
  // Bound memory held by uncommitted proposals; always admit at least one entry.
  if (max_uncommitted_size_ > 0 && uncommitted_size_ > 0 && size > 0 &&
      uncommitted_size_ + size > max_uncommitted_size_) {
    return false;
  }
  uncommitted_size_ += size;
  li = log_.Append(es);
  // The leader's own entries count towards the quorum: they are persisted (Ready.entries)
  // before any MsgApp carrying them is sent, and before commit is acted upon (applied).
  if (Progress* self = prs_.Get(id_)) self->MaybeUpdate(li);
  MaybeCommit();
  return true;
}

bool Raft::MaybeCommit() {
  uint64_t mci = prs_.Committed();
  if (mci == UINT64_MAX) return false;
  return log_.MaybeCommit(mci, term_, bugs_.commit_old_term);
}

bool Raft::CommittedEntryInCurrentTerm() const {
  return log_.ZeroTermOnError(log_.committed()) == term_;
}

void Raft::AppliedTo(uint64_t index, uint64_t applied_bytes) {
  log_.AppliedTo(index);
  uncommitted_size_ = applied_bytes > uncommitted_size_ ? 0 : uncommitted_size_ - applied_bytes;
}

// ---- configuration ----

ConfState Raft::ApplyConfChange(const ConfChangeSingle& cc) {
  // The application rejected this change after it was committed (etcd sets
  // NodeID to None then): it is a no-op on every member.
  if (cc.node_id == kNone) return prs_.GetConfState();
  uint64_t next = log_.LastIndex() + 1;
  switch (cc.type) {
    case ConfChangeType::kAddNode:
      prs_.AddNode(cc.node_id, false, next);
      break;
    case ConfChangeType::kAddLearnerNode:
      // Demoting a voter is not supported (etcd refuses it too); adding a learner is.
      if (!prs_.IsMember(cc.node_id)) prs_.AddNode(cc.node_id, true, next);
      break;
    case ConfChangeType::kRemoveNode:
      prs_.RemoveNode(cc.node_id);
      break;
    case ConfChangeType::kUpdateNode:
      break;
  }
  SwitchToConfig();
  return prs_.GetConfState();
}

void Raft::SwitchToConfig() {
  const Progress* self = prs_.Get(id_);
  is_learner_ = self != nullptr && self->is_learner;
  if ((self == nullptr || is_learner_) && state_ == StateType::kLeader) {
    // The leader was removed: step down; the remaining voters elect a new leader.
    if (step_down_on_removal_) BecomeFollower(term_, kNone);
    return;
  }
  if (state_ != StateType::kLeader || prs_.Voters().empty()) return;
  // The quorum changed: maybe more is committed now; new nodes need their first append.
  if (MaybeCommit()) {
    BcastAppend();
  } else {
    for (auto& [id, pr] : prs_.progress()) {
      if (id != id_) MaybeSendAppend(id, false);
    }
  }
  if (lead_transferee_ != kNone && !prs_.IsVoter(lead_transferee_)) AbortLeaderTransfer();
}

// ---- ReadIndex ----

void Raft::HandleReadIndexOnLeader(const Message& m) {
  if (prs_.Voters().size() <= 1) {
    RespondReadIndex(m, log_.committed());
    return;
  }
  // Until an entry of this term is committed we don't know the cluster's commit index.
  if (!CommittedEntryInCurrentTerm()) {
    pending_read_index_messages_.push_back(m);
    return;
  }
  if (read_only_option_ == ReadOnlyOption::kLeaseBased) {
    RespondReadIndex(m, log_.committed());
    return;
  }
  const std::string& ctx = m.entries[0].data;
  if (pending_read_index_.count(ctx) == 0) {
    ReadIndexStatus st;
    st.req = m;
    st.index = log_.committed();
    st.acks[id_] = true;
    pending_read_index_.emplace(ctx, std::move(st));
    read_index_queue_.push_back(ctx);
  }
  BcastHeartbeat(ctx);
}

void Raft::RespondReadIndex(const Message& req, uint64_t index) {
  if (req.from == kNone || req.from == id_) {
    read_states_.push_back({index, req.entries[0].data});
    return;
  }
  Message resp = Msg(MessageType::kReadIndexResp, req.from);
  resp.index = index;
  resp.entries = req.entries;
  Send(std::move(resp));
}

void Raft::ReleasePendingReadIndexMessages() {
  if (pending_read_index_messages_.empty() || !CommittedEntryInCurrentTerm()) return;
  auto pending = std::move(pending_read_index_messages_);
  pending_read_index_messages_.clear();
  for (const auto& m : pending)
    HandleReadIndexOnLeader(m);
}

void Raft::ResetReadOnly() {
  pending_read_index_.clear();
  read_index_queue_.clear();
  pending_read_index_messages_.clear();
}

}  // namespace etcdpp::raft
