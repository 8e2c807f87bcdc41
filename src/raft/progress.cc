#include "raft/progress.h"

#include <algorithm>
#include <cassert>
#include <cstdio>

namespace etcdpp::raft {

const char* ProgressStateName(ProgressState s) {
  switch (s) {
    case ProgressState::kProbe:
      return "StateProbe";
    case ProgressState::kReplicate:
      return "StateReplicate";
    case ProgressState::kSnapshot:
      return "StateSnapshot";
  }
  return "?";
}

void Inflights::Add(uint64_t index, uint64_t bytes) {
  assert(!Full());
  items_.push_back({index, bytes});
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t to) {
  while (!items_.empty() && items_.front().index <= to) {
    bytes_ -= items_.front().bytes;
    items_.pop_front();
  }
}

void Progress::ResetState(ProgressState s) {
  msg_app_flow_paused = false;
  pending_snapshot = 0;
  state = s;
  inflights.Reset();
}

void Progress::BecomeProbe() {
  // Coming back from a snapshot: resume right after the snapshot (or match, if further).
  if (state == ProgressState::kSnapshot) {
    uint64_t pending = pending_snapshot;
    ResetState(ProgressState::kProbe);
    next = std::max(match + 1, pending + 1);
  } else {
    ResetState(ProgressState::kProbe);
    next = match + 1;
  }
}

void Progress::BecomeReplicate() {
  ResetState(ProgressState::kReplicate);
  next = match + 1;
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  ResetState(ProgressState::kSnapshot);
  pending_snapshot = snapshot_index;
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    msg_app_flow_paused = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // Stale rejection (we already know a higher match): ignore.
    if (rejected <= match) return false;
    next = match + 1;  // probe from the last known match
    return true;
  }
  // Probe/Snapshot: only the rejection of the probe we sent (next-1) counts.
  if (next - 1 != rejected) return false;
  next = std::max(std::min(rejected, match_hint + 1), match + 1);
  msg_app_flow_paused = false;
  return true;
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe:
      return msg_app_flow_paused;
    case ProgressState::kReplicate:
      return inflights.Full();
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

std::string Progress::ToString() const {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%s match=%llu next=%llu%s%s", ProgressStateName(state),
                static_cast<unsigned long long>(match), static_cast<unsigned long long>(next),
                is_learner ? " learner" : "", msg_app_flow_paused ? " paused" : "");
  std::string s = buf;
  if (state == ProgressState::kSnapshot) s += " pending_snap=" + std::to_string(pending_snapshot);
  if (inflights.Count() > 0) s += " inflight=" + std::to_string(inflights.Count());
  return s;
}

Progress* ProgressTracker::Get(uint64_t id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

bool ProgressTracker::IsVoter(uint64_t id) const {
  auto it = progress_.find(id);
  return it != progress_.end() && !it->second.is_learner;
}

std::vector<uint64_t> ProgressTracker::Voters() const {
  std::vector<uint64_t> out;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_learner) out.push_back(id);
  }
  return out;
}

std::vector<uint64_t> ProgressTracker::Learners() const {
  std::vector<uint64_t> out;
  for (const auto& [id, pr] : progress_) {
    if (pr.is_learner) out.push_back(id);
  }
  return out;
}

ConfState ProgressTracker::GetConfState() const {
  ConfState cs;
  cs.voters = Voters();
  cs.learners = Learners();
  return cs;
}

void ProgressTracker::AddNode(uint64_t id, bool learner, uint64_t next) {
  auto it = progress_.find(id);
  if (it != progress_.end()) {
    // Promotion learner -> voter keeps the progress; a voter is never demoted here.
    if (!learner) it->second.is_learner = false;
    return;
  }
  Progress pr(max_inflight_, max_inflight_bytes_);
  pr.next = next;
  pr.is_learner = learner;
  // A new node counts as active so CheckQuorum does not step the leader down right away.
  pr.recent_active = true;
  progress_.emplace(id, std::move(pr));
}

uint64_t ProgressTracker::Committed() const {
  std::vector<uint64_t> matches;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_learner) matches.push_back(pr.match);
  }
  if (matches.empty()) return UINT64_MAX;  // no voters: nothing constrains commit (as etcd)
  std::sort(matches.begin(), matches.end(), std::greater<uint64_t>());
  return matches[matches.size() / 2];  // the majority-th highest
}

bool ProgressTracker::QuorumActive() const {
  std::map<uint64_t, bool> acks;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_learner) acks[id] = pr.recent_active;
  }
  return QuorumOf(acks) == VoteResult::kWon;
}

void ProgressTracker::RecordVote(uint64_t id, bool granted) {
  votes_.emplace(id, granted);  // first answer wins
}

VoteResult ProgressTracker::TallyVotes() const {
  return QuorumOf(votes_);
}

VoteResult ProgressTracker::QuorumOf(const std::map<uint64_t, bool>& acks) const {
  size_t voters = 0;
  size_t yes = 0;
  size_t missing = 0;
  for (const auto& [id, pr] : progress_) {
    if (pr.is_learner) continue;
    ++voters;
    auto it = acks.find(id);
    if (it == acks.end()) {
      ++missing;
    } else if (it->second) {
      ++yes;
    }
  }
  if (voters == 0) return VoteResult::kWon;
  size_t q = voters / 2 + 1;
  if (yes >= q) return VoteResult::kWon;
  if (yes + missing >= q) return VoteResult::kPending;
  return VoteResult::kLost;
}

}  // namespace etcdpp::raft
