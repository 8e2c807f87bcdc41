// etcdserverpb.KV on gRPC's callback API: no gRPC thread ever waits on disk
// or on the raft loop. Writes are validated, proposed and completed by the
// applier; reads run on an LMDB read transaction, after a ReadIndex wait
// unless serializable. RangeStream (etcd 3.7) writes one chunk at a time,
// the next only after gRPC reports the previous one written (flow control is
// the back-pressure), each chunk from its own short LMDB read txn at the
// pinned revision (docs/rangestream.md).
#pragma once

#include "etcdserverpb/rpc.grpc.pb.h"
#include "server/server.h"

namespace etcdpp::server {

class KvService final : public etcdserverpb::KV::CallbackService {
 public:
  explicit KvService(EtcdServer* s) : s_(s) {}

  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* ctx,
                                  const etcdserverpb::RangeRequest* req,
                                  etcdserverpb::RangeResponse* resp) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx,
                                const etcdserverpb::PutRequest* req,
                                etcdserverpb::PutResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteRange(grpc::CallbackServerContext* ctx,
                                        const etcdserverpb::DeleteRangeRequest* req,
                                        etcdserverpb::DeleteRangeResponse* resp) override;
  grpc::ServerUnaryReactor* Txn(grpc::CallbackServerContext* ctx,
                                const etcdserverpb::TxnRequest* req,
                                etcdserverpb::TxnResponse* resp) override;
  grpc::ServerWriteReactor<etcdserverpb::RangeStreamResponse>* RangeStream(
      grpc::CallbackServerContext* ctx, const etcdserverpb::RangeRequest* req) override;
  grpc::ServerUnaryReactor* Compact(grpc::CallbackServerContext* ctx,
                                    const etcdserverpb::CompactionRequest* req,
                                    etcdserverpb::CompactionResponse* resp) override;

 private:
  EtcdServer* s_;
};

}  // namespace etcdpp::server
