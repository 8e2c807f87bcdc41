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
  resp->set_leader(s_->Leader());
  resp->set_raftindex(s_->CommitIndex());
  resp->set_raftterm(s_->Term());
  resp->set_raftappliedindex(s_->AppliedIndex());
  resp->set_islearner(s_->IsLearner());
  if (s_->Leader() == 0) resp->add_errors("etcdserver: no leader");
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

grpc::ServerUnaryReactor* MaintenanceService::MoveLeader(grpc::CallbackServerContext* ctx,
                                                         const etcdserverpb::MoveLeaderRequest* req,
                                                         etcdserverpb::MoveLeaderResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  s_->MoveLeader(req->targetid(), [this, reactor, resp](const etcdpp::Status& st) {
    if (!st.ok()) {
      reactor->Finish(ToGrpcStatus(st));
      return;
    }
    s_->FillHeader(resp->mutable_header());
    resp->mutable_header()->set_revision(s_->store()->CurrentRev());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace etcdpp::server
