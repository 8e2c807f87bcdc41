// The cluster's membership: persisted only in the mvcc store (tables
// `members` and `members_removed`, written in the applier's LMDB transaction)
// plus a thread-safe in-memory view for readers (MemberList, the transport,
// reconfig checks).
//
// Applying a committed change is split in two so that the view never shows
// what LMDB might still drop (the applier's batch can fail or be aborted):
//   1. ApplyConfChange / ApplyAttrSet(batch, ...) validate against the
//      batch's own view of the tables (so several changes in one batch see
//      each other), write the tables and return a Change; the view is untouched.
//   2. After batch.Commit() returned OK, the applier calls Publish(change) for
//      each Change, in apply order; Publish updates the view and calls the
//      listeners. If the batch is dropped, the Changes are simply discarded.
//
// Conf change encoding (raft::ConfChange, etcd semantics):
//   kAddNode / kAddLearnerNode  context = Encode(member) (id = node_id)
//   promote                     kAddNode on an existing learner (context may be
//                               empty: MakePromoteConfChange)
//   kRemoveNode                 context empty
//   kUpdateNode                 context = Encode(member); only peer URLs are used
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "common/status.h"
#include "etcdpp/internal.pb.h"
#include "membership/member.h"
#include "mvcc/store.h"
#include "raft/types.h"

namespace etcdpp::membership {

enum class ChangeKind {
  kNone = 0,  // validated but changes nothing (e.g. attributes of a removed member)
  kAdded,     // new voter or learner
  kRemoved,
  kPromoted,  // learner -> voter
  kUpdated,   // peer URLs changed
  kAttrSet,   // name / client URLs published
};
const char* ChangeKindName(ChangeKind k);

struct Change {
  ChangeKind kind = ChangeKind::kNone;
  Member member;  // the member after the change (kRemoved: as it was before)
};

// Members and removed ids: the state validations run against.
struct MembershipState {
  std::map<uint64_t, Member> members;
  std::set<uint64_t> removed;
};

// etcd RaftCluster.ValidateConfigurationChange over `state` (first match wins):
//   id in removed                                  -> ErrIDRemoved
//   add/add-learner, id exists as learner, kAddNode -> OK (promote)
//   add/add-learner, id exists (promote of voter)  -> ErrMemberNotLearner if the
//                                                      context is empty, else ErrIDExists
//   add/add-learner, id unknown, no member         -> ErrIDNotFound (promote of unknown)
//   add/add-learner, a peer URL used by a member   -> ErrPeerURLExists
//   add-learner beyond max_learners                -> ErrTooManyLearners
//   remove/update of an unknown id                 -> ErrIDNotFound
//   update to a peer URL of another member         -> ErrPeerURLExists
// `m` is the decoded context (nullopt when empty).
Status ValidateConfChange(const MembershipState& state, const raft::ConfChange& cc,
                          const std::optional<Member>& m, size_t max_learners);

// Helpers for the proposing side.
raft::ConfChange MakeAddConfChange(const Member& m);  // kAddLearnerNode if m.is_learner
raft::ConfChange MakePromoteConfChange(uint64_t id);
raft::ConfChange MakeRemoveConfChange(uint64_t id);
raft::ConfChange MakeUpdateConfChange(uint64_t id, const std::vector<std::string>& peer_urls);

class Cluster {
 public:
  using Listener = std::function<void(const Member&, ChangeKind)>;

  explicit Cluster(size_t max_learners = 1) : max_learners_(max_learners) {}
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Replaces the view with the tables as `txn` sees them (at start, and after
  // restoring a snapshot). kCorruption on an unparsable member row.
  Status Load(mvcc::ReadTxn& txn);

  void SetClusterId(uint64_t id);
  uint64_t cluster_id() const;
  size_t max_learners() const { return max_learners_; }

  // Copies; Members() sorted by id.
  std::vector<Member> Members() const;
  std::optional<Member> GetMember(uint64_t id) const;
  bool IsRemoved(uint64_t id) const;
  size_t VoterCount() const;
  size_t LearnerCount() const;
  std::vector<uint64_t> VoterIds() const;  // sorted
  MembershipState State() const;

  // ValidateConfChange against the published view (e.g. before proposing).
  Status ValidateConfChange(const raft::ConfChange& cc, const std::optional<Member>& m) const;

  // Validates against the batch's tables and writes them (no view change; see
  // the header comment). Membership errors (errors.h) leave the batch
  // untouched: etcd then applies the entry to raft as a no-op (node id 0) and
  // returns the error to the proposer. kCorruption when the context does not
  // decode; storage errors from the batch pass through.
  Result<Change> ApplyConfChange(mvcc::Batch& batch, const raft::ConfChange& cc) const;

  // A started member publishes name + client URLs. Unknown or removed id:
  // logged and ignored (Change kNone), as etcd (which panics on unknown ids).
  Result<Change> ApplyAttrSet(mvcc::Batch& batch,
                              const internalpb::MemberAttrSetRequest& req) const;

  // After the batch holding `c` committed: updates the view, then calls the
  // listeners (outside the lock; in registration order). kNone: no-op.
  void Publish(const Change& c);

  // Register before the applier starts (listeners are never removed).
  void OnChange(Listener fn);

 private:
  const size_t max_learners_;
  mutable std::mutex mu_;
  MembershipState state_;  // guarded by mu_
  uint64_t cluster_id_ = 0;
  std::vector<Listener> listeners_;  // guarded by mu_
};

}  // namespace etcdpp::membership
