// The receiving half of a Transport: the etcdpp.peerpb.Peer gRPC service (sync API; each
// incoming stream holds one server thread for its lifetime, one per peer).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>

#include <grpcpp/grpcpp.h>

#include "etcdpp/peer.grpc.pb.h"
#include "peer/shared.h"

namespace etcdpp::peer {

class PeerService final : public peerpb::Peer::Service {
 public:
  explicit PeerService(Shared* shared) : shared_(shared) {}

  grpc::Status Stream(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<peerpb::StreamAck, peerpb::MessageBatch>* stream) override;
  grpc::Status Snapshot(grpc::ServerContext* ctx, grpc::ServerReader<peerpb::SnapshotChunk>* reader,
                        peerpb::SnapshotAck* ack) override;
  grpc::Status Members(grpc::ServerContext* ctx, const peerpb::MembersRequest* req,
                       peerpb::MembersResponse* resp) override;

  // Refuses new calls (UNAVAILABLE), cancels the active ones and waits until every handler
  // has returned (so no Handler method runs afterwards). Idempotent.
  void Stop();

 private:
  class CallGuard;
  // The metadata checks of transport.h; sets *from to the sender's id.
  grpc::Status CheckMetadata(grpc::ServerContext* ctx, uint64_t* from);
  grpc::Status ReceiveSnapshot(grpc::ServerContext* ctx,
                               grpc::ServerReader<peerpb::SnapshotChunk>* reader, uint64_t from);

  Shared* const shared_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::set<grpc::ServerContext*> active_;
  std::set<uint64_t> receiving_indexes_;  // snapshots being received, by raft index
};

}  // namespace etcdpp::peer
