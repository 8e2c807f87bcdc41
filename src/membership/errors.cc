#include "membership/errors.h"

namespace etcdpp::membership {

Status ToClientError(const Status& st) {
  if (st.ok()) return st;
  const std::string& m = st.message();
  if (m == kErrIDRemoved || m == kErrIDNotFound || m == kErrGRPCMemberNotFound) {
    return Status::NotFound(kErrGRPCMemberNotFound);
  }
  if (m == kErrIDExists || m == kErrGRPCMemberExist) {
    return Status::FailedPrecondition(kErrGRPCMemberExist);
  }
  if (m == kErrPeerURLExists || m == kErrGRPCPeerURLExist) {
    return Status::FailedPrecondition(kErrGRPCPeerURLExist);
  }
  if (m == kErrMemberNotLearner) return Status::FailedPrecondition(kErrGRPCMemberNotLearner);
  if (m == kErrTooManyLearners) return Status::FailedPrecondition(kErrGRPCTooManyLearners);
  if (m == kErrNotEnoughStartedMembers || m == kErrLearnerNotReady || m == kErrNotLeader) {
    return Status::FailedPrecondition(m);
  }
  if (m == kErrUnhealthy) return Status::Unavailable(kErrUnhealthy);
  if (m == kErrGRPCMemberBadURLs) return Status::InvalidArgument(kErrGRPCMemberBadURLs);
  return st;
}

}  // namespace etcdpp::membership
