// Membership error texts, exactly etcd's, and their client-facing mapping.
//
// Internal errors (etcd server/etcdserver/api/membership/errors.go) are what
// Cluster returns from validating/applying a conf change; the applier hands
// them to the waiting client call, whose gRPC layer passes them through
// ToClientError (etcd api/v3rpc/util.go toGRPCErrorMap + rpctypes/error.go).
#pragma once

#include <string_view>

#include "common/status.h"

namespace etcdpp::membership {

// --- internal (membership package) texts; carried as FailedPrecondition ---
inline constexpr std::string_view kErrIDRemoved = "membership: ID removed";
inline constexpr std::string_view kErrIDExists = "membership: ID exists";
inline constexpr std::string_view kErrIDNotFound = "membership: ID not found";
inline constexpr std::string_view kErrPeerURLExists = "membership: peerURL exists";
inline constexpr std::string_view kErrMemberNotLearner =
    "membership: can only promote a learner member";
inline constexpr std::string_view kErrTooManyLearners =
    "membership: too many learner members in cluster";

// --- etcdserver texts (server/etcdserver/errors) used by the reconfig checks ---
inline constexpr std::string_view kErrNotEnoughStartedMembers =
    "etcdserver: re-configuration failed due to not enough started members";
inline constexpr std::string_view kErrUnhealthy = "etcdserver: unhealthy cluster";
inline constexpr std::string_view kErrLearnerNotReady =
    "etcdserver: can only promote a learner member which is in sync with leader";
inline constexpr std::string_view kErrNotLeader = "etcdserver: not leader";

// --- client-facing (rpctypes) texts ---
inline constexpr std::string_view kErrGRPCMemberExist = "etcdserver: member ID already exist";
inline constexpr std::string_view kErrGRPCPeerURLExist = "etcdserver: Peer URLs already exists";
inline constexpr std::string_view kErrGRPCMemberNotFound = "etcdserver: member not found";
inline constexpr std::string_view kErrGRPCMemberBadURLs =
    "etcdserver: given member URLs are invalid";
inline constexpr std::string_view kErrGRPCMemberNotLearner =
    "etcdserver: can only promote a learner member";
inline constexpr std::string_view kErrGRPCTooManyLearners =
    "etcdserver: too many learner members in cluster";

// Status constructors for the internal errors.
inline Status ErrIDRemoved() {
  return Status::FailedPrecondition(kErrIDRemoved);
}
inline Status ErrIDExists() {
  return Status::FailedPrecondition(kErrIDExists);
}
inline Status ErrIDNotFound() {
  return Status::FailedPrecondition(kErrIDNotFound);
}
inline Status ErrPeerURLExists() {
  return Status::FailedPrecondition(kErrPeerURLExists);
}
inline Status ErrMemberNotLearner() {
  return Status::FailedPrecondition(kErrMemberNotLearner);
}
inline Status ErrTooManyLearners() {
  return Status::FailedPrecondition(kErrTooManyLearners);
}
// MemberAdd/MemberUpdate with URLs that do not parse (etcd: before proposing).
inline Status ErrBadURLs() {
  return Status::InvalidArgument(kErrGRPCMemberBadURLs);
}

// Maps a membership/reconfig error to what etcd's gRPC layer returns:
//   ID removed, ID not found       -> NotFound "etcdserver: member not found"
//   ID exists                      -> FailedPrecondition "etcdserver: member ID already exist"
//   peerURL exists                 -> FailedPrecondition "etcdserver: Peer URLs already exists"
//   can only promote a learner     -> FailedPrecondition "etcdserver: can only promote a learner
//   member" too many learners              -> FailedPrecondition "etcdserver: too many learner
//   members in cluster" not enough started members     -> FailedPrecondition (same text) learner
//   not in sync            -> FailedPrecondition (same text) unhealthy cluster              ->
//   Unavailable "etcdserver: unhealthy cluster" not leader                     ->
//   FailedPrecondition "etcdserver: not leader" bad URLs                       -> InvalidArgument
//   "etcdserver: given member URLs are invalid"
// Anything else is returned unchanged.
Status ToClientError(const Status& st);

}  // namespace etcdpp::membership
