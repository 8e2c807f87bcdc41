#include "server/cluster_service.h"

#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "membership/errors.h"
#include "membership/urls.h"
#include "server/ids.h"
#include "server/status_map.h"

namespace etcdpp::server {
namespace {

// Every membership answer carries the member list as this member sees it
// after the change (etcd: cluster.Members()).
template <typename Resp>
void FillMembers(EtcdServer* s, Resp* resp) {
  s->FillHeader(resp->mutable_header());  // Cluster RPCs report revision 0
  for (const auto& m : s->Members())
    *resp->add_members() = membership::ToProto(m);
}

grpc::Status ClientError(const Status& st) {
  return ToGrpcStatus(membership::ToClientError(st));
}

// The completion of a membership call: etcd's client error, or OK with the
// member list.
template <typename Resp>
std::function<void(const Status&)> FinishWithMembers(EtcdServer* s,
                                                     grpc::ServerUnaryReactor* reactor,
                                                     Resp* resp) {
  return [s, reactor, resp](const Status& st) {
    if (!st.ok()) {
      reactor->Finish(ClientError(st));
      return;
    }
    FillMembers(s, resp);
    reactor->Finish(grpc::Status::OK);
  };
}

// etcd refuses every Cluster call on a learner; true if it answered.
bool RejectedAsLearner(EtcdServer* s, grpc::ServerUnaryReactor* reactor) {
  Status st = s->RejectIfLearner();
  if (st.ok()) return false;
  reactor->Finish(ToGrpcStatus(st));
  return true;
}

// The request's peer URLs checked and sorted as etcd does; nullopt when any is
// invalid (etcd answers "given member URLs are invalid").
std::optional<std::vector<std::string>> PeerURLs(
    const google::protobuf::RepeatedPtrField<std::string>& in) {
  auto urls = membership::ParseURLs({in.begin(), in.end()});
  if (!urls.ok()) return std::nullopt;
  return std::move(*urls);
}

}  // namespace

grpc::ServerUnaryReactor* ClusterService::MemberAdd(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::MemberAddRequest* req,
                                                    etcdserverpb::MemberAddResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (RejectedAsLearner(s_, reactor)) return reactor;
  auto urls = PeerURLs(req->peerurls());
  if (!urls) {
    reactor->Finish(ToGrpcStatus(membership::ErrBadURLs()));
    return reactor;
  }
  membership::Member m;
  // etcd: a member added at runtime gets its id from its peer URLs and the
  // current time (computeMemberID with an empty cluster name).
  m.id = ComputeMemberId(*urls, std::to_string(std::time(nullptr)));
  m.peer_urls = *urls;
  m.is_learner = req->islearner();
  *resp->mutable_member() = membership::ToProto(m);  // sent only with OK
  s_->ProposeMemberChange(
      req->islearner() ? raft::ConfChangeType::kAddLearnerNode : raft::ConfChangeType::kAddNode, m,
      FinishWithMembers(s_, reactor, resp));
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::MemberRemove(grpc::CallbackServerContext* ctx,
                                                       const etcdserverpb::MemberRemoveRequest* req,
                                                       etcdserverpb::MemberRemoveResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (RejectedAsLearner(s_, reactor)) return reactor;
  membership::Member m;
  m.id = req->id();
  s_->ProposeMemberChange(raft::ConfChangeType::kRemoveNode, m,
                          FinishWithMembers(s_, reactor, resp));
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::MemberUpdate(grpc::CallbackServerContext* ctx,
                                                       const etcdserverpb::MemberUpdateRequest* req,
                                                       etcdserverpb::MemberUpdateResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (RejectedAsLearner(s_, reactor)) return reactor;
  auto urls = PeerURLs(req->peerurls());
  if (!urls) {
    reactor->Finish(ToGrpcStatus(membership::ErrBadURLs()));
    return reactor;
  }
  membership::Member m;
  m.id = req->id();
  m.peer_urls = *urls;
  s_->ProposeMemberChange(raft::ConfChangeType::kUpdateNode, m,
                          FinishWithMembers(s_, reactor, resp));
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::MemberPromote(
    grpc::CallbackServerContext* ctx, const etcdserverpb::MemberPromoteRequest* req,
    etcdserverpb::MemberPromoteResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (RejectedAsLearner(s_, reactor)) return reactor;
  s_->PromoteMember(req->id(), FinishWithMembers(s_, reactor, resp));
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::MemberList(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::MemberListRequest* req,
                                                     etcdserverpb::MemberListResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (RejectedAsLearner(s_, reactor)) return reactor;
  if (!req->linearizable()) {
    FillMembers(s_, resp);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  s_->WaitLinearizable(FinishWithMembers(s_, reactor, resp));
  return reactor;
}

}  // namespace etcdpp::server
