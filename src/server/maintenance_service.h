// etcdserverpb.Maintenance (docs/maintenance.md): Status, Alarm, Snapshot,
// Defragment, Hash, HashKV and MoveLeader. Downgrade answers UNIMPLEMENTED
// until the cluster-version issue lands.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>

#include "etcdserverpb/rpc.grpc.pb.h"
#include "server/server.h"

namespace etcdpp::server {

// Snapshot stream chunk size: etcd's snapshotSendBufferSize (32 KiB).
inline constexpr size_t kSnapshotChunkBytes = 32 * 1024;

// Work threads still running (snapshot streams, hashes): the service's
// destructor waits for them, so none touches the store after it is closed.
class InFlight {
 public:
  void Add() {
    std::lock_guard<std::mutex> lock(mu_);
    n_++;
  }
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;  // guarded by mu_
};

class MaintenanceService final : public etcdserverpb::Maintenance::CallbackService {
 public:
  // Deletes snapshot temp files a crashed earlier run left in the snap dir.
  explicit MaintenanceService(EtcdServer* s);
  ~MaintenanceService() override { inflight_->Wait(); }

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
  std::shared_ptr<InFlight> inflight_ = std::make_shared<InFlight>();
};

}  // namespace etcdpp::server
