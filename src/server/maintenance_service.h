// etcdserverpb.Maintenance (docs/maintenance.md): Status, Alarm, Snapshot,
// Defragment, Hash, HashKV and MoveLeader. Downgrade answers UNIMPLEMENTED
// until the cluster-version issue lands.
#pragma once

#include "etcdserverpb/rpc.grpc.pb.h"
#include "server/server.h"

namespace etcdpp::server {

// Snapshot stream chunk size: etcd's snapshotSendBufferSize (32 KiB).
inline constexpr size_t kSnapshotChunkBytes = 32 * 1024;

class MaintenanceService final : public etcdserverpb::Maintenance::CallbackService {
 public:
  // Deletes snapshot temp files a crashed earlier run left in the snap dir.
  explicit MaintenanceService(EtcdServer* s);

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx,
                                   const etcdserverpb::StatusRequest* req,
                                   etcdserverpb::StatusResponse* resp) override;
  grpc::ServerUnaryReactor* Alarm(grpc::CallbackServerContext* ctx,
                                  const etcdserverpb::AlarmRequest* req,
                                  etcdserverpb::AlarmResponse* resp) override;
  grpc::ServerUnaryReactor* MoveLeader(grpc::CallbackServerContext* ctx,
                                       const etcdserverpb::MoveLeaderRequest* req,
                                       etcdserverpb::MoveLeaderResponse* resp) override;
  // The store as one LMDB file (a compacting copy taken in a read txn:
  // writers never wait), in 32 KiB blobs with remaining_bytes, then the
  // SHA-256 of all of them as the last blob; `version` = storage version on
  // every message; no header (etcd 3.6). NOT a bbolt file: etcdutl cannot
  // read it; etcdpp-utl can.
  grpc::ServerWriteReactor<etcdserverpb::SnapshotResponse>* Snapshot(
      grpc::CallbackServerContext* ctx, const etcdserverpb::SnapshotRequest* req) override;
  grpc::ServerUnaryReactor* Defragment(grpc::CallbackServerContext* ctx,
                                       const etcdserverpb::DefragmentRequest* req,
                                       etcdserverpb::DefragmentResponse* resp) override;
  grpc::ServerUnaryReactor* Hash(grpc::CallbackServerContext* ctx,
                                 const etcdserverpb::HashRequest* req,
                                 etcdserverpb::HashResponse* resp) override;
  grpc::ServerUnaryReactor* HashKV(grpc::CallbackServerContext* ctx,
                                   const etcdserverpb::HashKVRequest* req,
                                   etcdserverpb::HashKVResponse* resp) override;

 private:
  EtcdServer* s_;
};

}  // namespace etcdpp::server
