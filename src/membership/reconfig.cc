#include "membership/reconfig.h"

#include "common/log.h"
#include "membership/errors.h"

namespace etcdpp::membership {
namespace {

Status NotEnoughStarted() {
  return Status::FailedPrecondition(kErrNotEnoughStartedMembers);
}
Status Unhealthy() {
  return Status::Unavailable(kErrUnhealthy);
}

bool ConnectedSince(const ActiveSince& active, Clock::time_point since, uint64_t id) {
  auto it = active.find(id);
  return it != active.end() && it->second < since;  // etcd: !t.IsZero() && t.Before(since)
}

}  // namespace

bool IsReadyToAddVotingMember(const std::vector<Member>& members) {
  int nmembers = 1;  // the member being added
  int nstarted = 0;
  for (const Member& m : members) {
    if (m.is_learner) continue;
    if (m.IsStarted()) ++nstarted;
    ++nmembers;
  }
  // Adding a second member to a one-member cluster (etcd's restore procedure).
  if (nstarted == 1 && nmembers == 2) return true;
  return nstarted >= nmembers / 2 + 1;
}

bool IsReadyToRemoveVotingMember(const std::vector<Member>& members, uint64_t id) {
  int nmembers = 0;
  int nstarted = 0;
  for (const Member& m : members) {
    if (m.is_learner || m.id == id) continue;
    if (m.IsStarted()) ++nstarted;
    ++nmembers;
  }
  return nstarted >= nmembers / 2 + 1;
}

bool IsReadyToPromoteMember(const std::vector<Member>& members, uint64_t /*id*/) {
  int nmembers = 1;  // the learner, counted as a future voter ...
  int nstarted = 1;  // ... that has started
  for (const Member& m : members) {
    if (m.is_learner) continue;
    if (m.IsStarted()) ++nstarted;
    ++nmembers;
  }
  return nstarted >= nmembers / 2 + 1;
}

bool IsLearnerCaughtUp(uint64_t learner_match, uint64_t leader_match) {
  // Same float arithmetic as etcd: x/0 is +Inf or NaN, neither below 0.9.
  double ratio = static_cast<double>(learner_match) / static_cast<double>(leader_match);
  return !(ratio < kLearnerReadyPercent);
}

int NumConnectedSince(const std::vector<Member>& members, const ActiveSince& active,
                      Clock::time_point since, uint64_t self) {
  int n = 0;
  for (const Member& m : members) {
    if (m.is_learner) continue;
    if (m.id == self || ConnectedSince(active, since, m.id)) ++n;
  }
  return n;
}

Status MayAddMember(const ReconfigInput& in, bool is_learner) {
  if (!in.strict) return Status::OK();
  if (!is_learner && !IsReadyToAddVotingMember(in.members)) {
    log::Write(log::Level::kWarn, "rejecting member add request; not enough healthy members",
               {{"local-member-id", IdString(in.self)}});
    return NotEnoughStarted();
  }
  int voters = 0;
  for (const Member& m : in.members)
    voters += m.is_learner ? 0 : 1;
  if (NumConnectedSince(in.members, in.active, in.now - kHealthInterval, in.self) != voters) {
    log::Write(log::Level::kWarn,
               "rejecting member add request; local member has not been connected to all "
               "peers, reconfigure breaks active quorum",
               {{"local-member-id", IdString(in.self)}});
    return Unhealthy();
  }
  return Status::OK();
}

Status MayRemoveMember(const ReconfigInput& in, uint64_t id) {
  if (!in.strict) return Status::OK();
  for (const Member& m : in.members) {
    if (m.id == id && m.is_learner) return Status::OK();  // no quorum at stake
  }
  if (!IsReadyToRemoveVotingMember(in.members, id)) {
    log::Write(
        log::Level::kWarn, "rejecting member remove request; not enough healthy members",
        {{"local-member-id", IdString(in.self)}, {"requested-member-remove-id", IdString(id)}});
    return NotEnoughStarted();
  }
  // A member we have no connection to is down: not part of the active quorum.
  if (id != in.self && in.active.find(id) == in.active.end()) return Status::OK();
  int voters = 0;
  for (const Member& m : in.members)
    voters += m.is_learner ? 0 : 1;
  int active = NumConnectedSince(in.members, in.active, in.now - kHealthInterval, in.self);
  if (active - 1 < 1 + (voters - 1) / 2) {
    log::Write(log::Level::kWarn,
               "rejecting member remove request; local member has not been connected to all "
               "peers, reconfigure breaks active quorum",
               {{"local-member-id", IdString(in.self)},
                {"requested-member-remove", IdString(id)},
                {"active-peers", active}});
    return Unhealthy();
  }
  return Status::OK();
}

Status MayPromoteMember(const ReconfigInput& in, uint64_t id, bool is_leader,
                        std::optional<uint64_t> learner_match, uint64_t leader_match) {
  // isLearnerReady runs whatever --strict-reconfig-check says.
  if (!is_leader) return Status::FailedPrecondition(kErrNotLeader);
  if (!learner_match.has_value()) return ErrIDNotFound();
  if (!IsLearnerCaughtUp(*learner_match, leader_match)) {
    log::Write(log::Level::kError, "rejecting promote learner: learner is not ready",
               {{"learner-match", *learner_match}, {"leader-match", leader_match}});
    return Status::FailedPrecondition(kErrLearnerNotReady);
  }
  if (in.strict && !IsReadyToPromoteMember(in.members, id)) {
    log::Write(
        log::Level::kWarn, "rejecting member promote request; not enough healthy members",
        {{"local-member-id", IdString(in.self)}, {"requested-member-remove-id", IdString(id)}});
    return NotEnoughStarted();
  }
  return Status::OK();
}

}  // namespace etcdpp::membership
