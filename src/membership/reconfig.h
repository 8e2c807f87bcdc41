// etcd's strict reconfiguration checks (--strict-reconfig-check, default on),
// as pure functions. Findings from etcd v3.6 (server/etcdserver/server.go,
// util.go, api/membership/cluster.go):
//
// "started" = the member has published its name (Member::IsStarted).
// "connected since t" = the transport has had an active stream to that peer
// since before t (rafthttp ActiveSince; nullopt = not connected); the local
// member always counts as connected. HealthInterval = 5 s.
//
// MemberAdd (mayAddMember), only with strict on:
//   1. voter add and !IsReadyToAddVotingMember      -> kErrNotEnoughStartedMembers
//   2. not connected to EVERY voter since now-5s    -> kErrUnhealthy   (learner adds too)
// MemberRemove (mayRemoveMember), only with strict on:
//   1. the member is a learner                      -> OK (no quorum at stake)
//   2. !IsReadyToRemoveVotingMember(id)             -> kErrNotEnoughStartedMembers
//   3. id != self and id not connected at all       -> OK (a down member is safe to remove)
//   4. active = voters connected since now-5s (self counts);
//      active-1 < 1 + (voters-1)/2                  -> kErrUnhealthy
// MemberPromote (mayPromoteMember):
//   1. always (even with strict off), on the leader only: isLearnerReady:
//      not leader -> kErrNotLeader (the caller forwards to the leader);
//      id not in the leader's progress -> membership kErrIDNotFound;
//      learner match / leader match < 0.9 -> kErrLearnerNotReady
//   2. strict on and !IsReadyToPromoteMember        -> kErrNotEnoughStartedMembers
// Then the change goes through raft, and ValidateConfChange (cluster.h) runs at apply.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "common/status.h"
#include "membership/member.h"

namespace etcdpp::membership {

using Clock = std::chrono::steady_clock;
inline constexpr std::chrono::seconds kHealthInterval{5};
inline constexpr double kLearnerReadyPercent = 0.9;

// etcd IsReadyToAddVotingMember: with the new member counted (not started),
// started voters must still be a quorum; special case: a 1-voter cluster
// whose voter is started may always grow to 2.
bool IsReadyToAddVotingMember(const std::vector<Member>& members);
// etcd IsReadyToRemoveVotingMember: without `id`, started voters >= quorum of
// the remaining voters.
bool IsReadyToRemoveVotingMember(const std::vector<Member>& members, uint64_t id);
// etcd IsReadyToPromoteMember: the learner counted as a started voter.
bool IsReadyToPromoteMember(const std::vector<Member>& members, uint64_t id);

// etcd isLearnerReady's ratio test: learner_match / leader_match >= 0.9 (in
// floating point, like etcd: leader_match 0 counts as ready).
bool IsLearnerCaughtUp(uint64_t learner_match, uint64_t leader_match);

// What the transport knows: peer id -> connected since (absent = not connected).
using ActiveSince = std::map<uint64_t, Clock::time_point>;

// etcd numConnectedSince over the voters of `members`.
int NumConnectedSince(const std::vector<Member>& members, const ActiveSince& active,
                      Clock::time_point since, uint64_t self);

struct ReconfigInput {
  std::vector<Member> members;  // current members (voters and learners)
  ActiveSince active;           // from the peer transport
  Clock::time_point now;
  uint64_t self = 0;   // local member id
  bool strict = true;  // --strict-reconfig-check
};

// OK or kErrNotEnoughStartedMembers (FailedPrecondition) / kErrUnhealthy (Unavailable).
Status MayAddMember(const ReconfigInput& in, bool is_learner);
Status MayRemoveMember(const ReconfigInput& in, uint64_t id);
// learner_match: the leader's progress Match for id (nullopt: id not in the
// progress map); leader_match: the leader's own Match; is_leader: whether the
// local member is the raft leader (progress is only known there).
Status MayPromoteMember(const ReconfigInput& in, uint64_t id, bool is_leader,
                        std::optional<uint64_t> learner_match, uint64_t leader_match);

}  // namespace etcdpp::membership
