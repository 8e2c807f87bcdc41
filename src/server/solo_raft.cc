#include "server/solo_raft.h"

#include <cassert>
#include <utility>

namespace etcdpp::server {

SoloRaft::SoloRaft(uint64_t id, raft::HardState hs, uint64_t last_index, uint64_t last_term)
    : id_(id), hs_(hs), persisted_hs_(hs), last_index_(last_index) {
  assert(id != 0);
  // With one voter every persisted entry is committed (it is on a quorum: us),
  // even if the hard state record of its batch did not survive a crash.
  hs_.commit = last_index;
  if (hs_.term < last_term) hs_.term = last_term;  // never go below the log's term
}

Status SoloRaft::Campaign() {
  if (leader_) return Status::OK();
  hs_.term += 1;
  hs_.vote = id_;
  leader_ = true;
  // A new leader appends an empty entry of its term (raft §5.4.2: it commits
  // entries of earlier terms only through one of its own).
  return Propose(std::string());
}

Status SoloRaft::Propose(std::string data) {
  if (!leader_) return Status::Unavailable("raft proposal dropped");
  raft::Entry e;
  e.term = hs_.term;
  e.index = ++last_index_;
  e.type = raft::EntryType::kNormal;
  e.data = std::move(data);
  unstable_.push_back(std::move(e));
  return Status::OK();
}

bool SoloRaft::HasReady() const {
  if (in_ready_) return false;
  return !unstable_.empty() || hs_.term != persisted_hs_.term || hs_.vote != persisted_hs_.vote;
}

Ready SoloRaft::Ready() {
  assert(!in_ready_);
  in_ready_ = true;
  server::Ready rd;
  rd.must_sync =
      !unstable_.empty() || hs_.term != persisted_hs_.term || hs_.vote != persisted_hs_.vote;
  // Commit covers exactly what this Ready persists (see the header comment).
  hs_.commit = last_index_;
  rd.hard_state = hs_;
  rd.entries = std::move(unstable_);
  unstable_.clear();
  rd.committed_entries = rd.entries;
  return rd;
}

void SoloRaft::Advance(const server::Ready& rd) {
  assert(in_ready_);
  in_ready_ = false;
  if (!rd.hard_state.empty()) persisted_hs_ = rd.hard_state;
}

}  // namespace etcdpp::server
