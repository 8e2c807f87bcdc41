// The Raft state machine (one node). Pure and deterministic: input = Tick()/Step(Message),
// output = messages in msgs_ plus log/state changes collected by RawNode into a Ready.
// Follows the structure of etcd-io/raft (roles as step functions, becomeX() transitions,
// logical ticks); see docs/raft.md. Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "raft/progress.h"
#include "raft/raft_log.h"
#include "raft/rand.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace etcdpp::raft {

enum class ReadOnlyOption : uint8_t {
  // Confirm leadership with a heartbeat round before serving a read (linearizable).
  kSafe = 0,
  // Rely on the leader lease (needs check_quorum and bounded clock drift).
  kLeaseBased = 1,
};

// Deliberately broken rules, used only by raft-sim's mutation tests (--inject-bug).
struct InjectedBugs {
  bool commit_old_term = false;    // commit entries of an older term by counting replicas
  bool no_vote_log_check = false;  // grant (pre)votes without the log up-to-date check
  bool grant_two_votes = false;    // grant a vote even after voting for another candidate
};

struct Config {
  uint64_t id = 0;                            // this node; must not be 0
  int election_tick = 10;                     // ticks without leader contact before campaigning
  int heartbeat_tick = 1;                     // leader heartbeat period; must be < election_tick
  Storage* storage = nullptr;                 // required; owned by the application
  uint64_t applied = 0;                       // last applied index when restarting
  uint64_t max_size_per_msg = 1 << 20;        // bytes of entries per MsgApp (at least 1 entry)
  uint64_t max_committed_size_per_ready = 0;  // 0 = max_size_per_msg
  size_t max_inflight_msgs = 256;             // MsgApp in flight per follower (Replicate)
  uint64_t max_inflight_bytes = 0;            // 0 = unlimited
  uint64_t max_uncommitted_entries_size = 0;  // 0 = unlimited; beyond: proposals dropped
  bool check_quorum = false;                  // leader steps down without contact from a quorum
  bool pre_vote = false;                      // Raft thesis §9.6
  bool disable_proposal_forwarding = false;
  ReadOnlyOption read_only_option = ReadOnlyOption::kSafe;
  uint64_t seed = 0;                 // randomized election timeout PRNG seed (mixed with id)
  bool step_down_on_removal = true;  // a leader removed from the config becomes follower
  InjectedBugs bugs;

  Status Validate() const;
};

// Error for a dropped proposal: no leader known, leader transfer in progress, the node was
// removed, forwarding disabled, or the uncommitted-size limit was hit. The caller retries.
Status ErrProposalDropped();
bool IsProposalDropped(const Status& s);
// A conf change was proposed while another one is still unapplied.
Status ErrConfChangePending();

inline constexpr char kCampaignTransfer[] = "CampaignTransfer";

class Raft {
 public:
  explicit Raft(const Config& c);  // aborts on an invalid config (programmer error)

  void Tick();
  Status Step(Message m);

  // Applies a committed conf change; returns the new configuration.
  ConfState ApplyConfChange(const ConfChangeSingle& cc);

  // Accessors (Status(), tests, simulator).
  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t lead() const { return lead_; }
  StateType state() const { return state_; }
  uint64_t lead_transferee() const { return lead_transferee_; }
  bool is_learner() const { return is_learner_; }
  uint64_t pending_conf_index() const { return pending_conf_index_; }
  const RaftLog& log() const { return log_; }
  RaftLog& mutable_log() { return log_; }
  const ProgressTracker& tracker() const { return prs_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  void set_randomized_election_timeout(int t) { randomized_election_timeout_ = t; }
  int election_elapsed() const { return election_elapsed_; }
  HardState GetHardState() const { return {term_, vote_, log_.committed()}; }
  SoftState GetSoftState() const { return {lead_, state_}; }
  std::vector<Message>& msgs() { return msgs_; }
  bool HasPendingOutput() const { return !msgs_.empty() || !read_states_.empty(); }
  std::vector<ReadState>& read_states() { return read_states_; }
  bool Promotable() const;

  // Called by RawNode on Advance: bookkeeping of applied entries.
  void AppliedTo(uint64_t index, uint64_t applied_bytes);

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  struct ReadIndexStatus {
    Message req;
    uint64_t index = 0;
    std::map<uint64_t, bool> acks;
  };

  // Role transitions.
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomeCandidate();
  void BecomePreCandidate();
  void BecomeLeader();
  void Reset(uint64_t term);
  void ResetRandomizedElectionTimeout();

  void TickElection();
  void TickHeartbeat();
  bool PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }

  void Hup(CampaignType t);
  void Campaign(CampaignType t);
  VoteResult Poll(uint64_t id, MessageType t, bool granted);

  Status StepLeader(Message& m);
  Status StepCandidate(Message& m);
  Status StepFollower(Message& m);
  void StepVote(const Message& m);

  void HandleAppendEntries(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  bool Restore(const Snapshot& s);

  void Send(Message m);
  void SendAppend(uint64_t to) { MaybeSendAppend(to, true); }
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  bool MaybeSendSnapshot(uint64_t to, Progress* pr);
  void SendHeartbeat(uint64_t to, const std::string& ctx);
  void BcastAppend();
  void BcastHeartbeat(const std::string& ctx);
  void SendTimeoutNow(uint64_t to);
  bool AppendEntry(std::vector<Entry> es);
  bool MaybeCommit();
  void AbortLeaderTransfer() { lead_transferee_ = kNone; }
  bool CommittedEntryInCurrentTerm() const;
  bool HasUnappliedConfChanges() const;
  void SwitchToConfig();
  void LoadConfState(const ConfState& cs);

  // ReadIndex.
  void HandleReadIndexOnLeader(const Message& m);
  void RespondReadIndex(const Message& req, uint64_t index);
  void ReleasePendingReadIndexMessages();
  void ResetReadOnly();

  uint64_t id_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  uint64_t lead_ = kNone;
  StateType state_ = StateType::kFollower;
  bool is_learner_ = false;
  RaftLog log_;
  ProgressTracker prs_;
  uint64_t max_msg_size_;
  uint64_t max_uncommitted_size_;
  uint64_t uncommitted_size_ = 0;
  uint64_t lead_transferee_ = kNone;
  uint64_t pending_conf_index_ = 0;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int election_timeout_;
  int heartbeat_timeout_;
  int randomized_election_timeout_ = 0;
  bool check_quorum_;
  bool pre_vote_;
  bool disable_proposal_forwarding_;
  bool step_down_on_removal_;
  ReadOnlyOption read_only_option_;
  InjectedBugs bugs_;
  SplitMix64 rand_;

  std::vector<Message> msgs_;
  std::vector<ReadState> read_states_;
  std::vector<Message> pending_read_index_messages_;  // before the first commit of the term
  std::map<std::string, ReadIndexStatus> pending_read_index_;
  std::deque<std::string> read_index_queue_;
};

}  // namespace etcdpp::raft
