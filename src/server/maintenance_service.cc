#include "server/maintenance_service.h"

#include "server/status_map.h"
#include "server/version.h"

namespace etcdpp::server {
namespace {
constexpr int64_t kDefaultQuotaBytes = 2ll << 30;  // etcd: quota 0 means 2 GiB
}

grpc::ServerUnaryReactor* MaintenanceService::Status(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::StatusRequest*,
                                                     etcdserverpb::StatusResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  s_->FillHeader(resp->mutable_header());
  resp->mutable_header()->set_revision(s_->store()->CurrentRev());
  // The server binary version clients gate features on (ETCD-FACTS §5.11).
  resp->set_version(kEtcdVersion);
  resp->set_dbsize(s_->store()->DbSizeBytes());
  resp->set_dbsizeinuse(s_->store()->DbSizeInUseBytes());
  resp->set_leader(s_->MemberId());  // single member: always its own leader
  resp->set_raftindex(s_->CommitIndex());
  resp->set_raftterm(s_->Term());
  resp->set_raftappliedindex(s_->AppliedIndex());
  resp->set_islearner(false);
  resp->set_storageversion(kStorageVersion);
  int64_t quota = s_->config().quota_backend_bytes;
  resp->set_dbsizequota(quota > 0 ? quota : kDefaultQuotaBytes);
  resp->mutable_downgradeinfo();  // always present, empty: no downgrade job
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* MaintenanceService::Alarm(grpc::CallbackServerContext* ctx,
                                                    const etcdserverpb::AlarmRequest* req,
                                                    etcdserverpb::AlarmResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  // No alarm can be raised yet (quota/corruption checks are a later issue):
  // GET lists none and DEACTIVATE has nothing to clear.
  if (req->action() == etcdserverpb::AlarmRequest::ACTIVATE) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "alarm activation"));
    return reactor;
  }
  s_->FillHeader(resp->mutable_header());
  resp->mutable_header()->set_revision(s_->store()->CurrentRev());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ClusterService::MemberList(grpc::CallbackServerContext* ctx,
                                                     const etcdserverpb::MemberListRequest*,
                                                     etcdserverpb::MemberListResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  s_->FillHeader(resp->mutable_header());  // Cluster RPCs report revision 0
  auto* m = resp->add_members();
  m->set_id(s_->MemberId());
  m->set_name(s_->config().name);
  for (const auto& u : s_->config().initial_advertise_peer_urls)
    m->add_peerurls(u);
  for (const auto& u : s_->config().advertise_client_urls)
    m->add_clienturls(u);
  m->set_islearner(false);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace etcdpp::server
