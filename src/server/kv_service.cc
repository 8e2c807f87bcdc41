#include "server/kv_service.h"

#include "apply/kv_apply.h"
#include "server/status_map.h"

namespace etcdpp::server {
namespace {

apply::Limits LimitsOf(const EtcdServer& s) {
  apply::Limits l;
  l.max_txn_ops = static_cast<int64_t>(s.config().max_txn_ops);
  return l;
}

// Reads `fn(view)` on a fresh LMDB read txn and finishes the call.
template <typename Resp, typename Fn>
void ReadAndFinish(EtcdServer* s, grpc::ServerUnaryReactor* reactor, Resp* resp, Fn fn) {
  auto txn = s->store()->Read();
  if (!txn.ok()) {
    reactor->Finish(ToGrpcStatus(txn.status()));
    return;
  }
  Status st = fn(**txn);
  if (st.ok()) s->FillHeader(resp->mutable_header());  // revision set by apply::
  reactor->Finish(ToGrpcStatus(st));
}

// A Txn may be served locally iff it only reads, and every range it reads is
// serializable (etcd isTxnSerializable).
bool TxnSerializable(const etcdserverpb::TxnRequest& r) {
  auto ops_ok = [](const auto& ops) {
    for (const auto& op : ops) {
      if (op.has_request_range()) {
        if (!op.request_range().serializable()) return false;
      } else if (op.has_request_txn()) {
        if (!TxnSerializable(op.request_txn())) return false;
      } else {
        return false;
      }
    }
    return true;
  };
  return ops_ok(r.success()) && ops_ok(r.failure());
}

// Proposes `ir` and finishes the call from the applier with the response that
// `take` moves out of the InternalResponse.
// The client's deadline bounds how long the proposal may wait for a leader:
// a request the client gave up on must not be committed later (etcd: the
// proposal lives in the request's context).
template <typename Resp, typename Take>
void ProposeAndFinish(EtcdServer* s, grpc::CallbackServerContext* ctx,
                      grpc::ServerUnaryReactor* reactor, Resp* resp, internalpb::InternalRequest ir,
                      Take take) {
  s->Propose(
      std::move(ir),
      [reactor, resp, take](const Status& st, internalpb::InternalResponse* r) {
        if (st.ok()) take(r, resp);
        reactor->Finish(ToGrpcStatus(st));
      },
      ctx->deadline());
}

// Runs `read` at once for a serializable request, or once the ReadIndex seam
// says the applied state covers every write committed before this request.
template <typename Read>
void ReadConsistently(EtcdServer* s, grpc::ServerUnaryReactor* reactor, bool serializable,
                      Read read) {
  if (serializable) {
    read();
    return;
  }
  s->WaitLinearizable([reactor, read](const Status& st) {
    if (!st.ok()) {
      reactor->Finish(ToGrpcStatus(st));
      return;
    }
    read();
  });
}

}  // namespace

grpc::ServerUnaryReactor* KvService::Range(grpc::CallbackServerContext* ctx,
                                           const etcdserverpb::RangeRequest* req,
                                           etcdserverpb::RangeResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (Status st = apply::CheckRange(*req); !st.ok()) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  auto read = [s = s_, reactor, req, resp] {
    ReadAndFinish(s, reactor, resp, [&](mvcc::ReadView& v) { return apply::Range(v, *req, resp); });
  };
  ReadConsistently(s_, reactor, req->serializable(), read);
  return reactor;
}

grpc::ServerUnaryReactor* KvService::Put(grpc::CallbackServerContext* ctx,
                                         const etcdserverpb::PutRequest* req,
                                         etcdserverpb::PutResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (Status st = apply::CheckPut(*req); !st.ok()) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  internalpb::InternalRequest ir;
  *ir.mutable_put() = *req;
  ProposeAndFinish(s_, ctx, reactor, resp, std::move(ir),
                   [](internalpb::InternalResponse* r, etcdserverpb::PutResponse* out) {
                     out->Swap(r->mutable_put());
                   });
  return reactor;
}

grpc::ServerUnaryReactor* KvService::DeleteRange(grpc::CallbackServerContext* ctx,
                                                 const etcdserverpb::DeleteRangeRequest* req,
                                                 etcdserverpb::DeleteRangeResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (Status st = apply::CheckDeleteRange(*req); !st.ok()) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  internalpb::InternalRequest ir;
  *ir.mutable_delete_range() = *req;
  ProposeAndFinish(s_, ctx, reactor, resp, std::move(ir),
                   [](internalpb::InternalResponse* r, etcdserverpb::DeleteRangeResponse* out) {
                     out->Swap(r->mutable_delete_range());
                   });
  return reactor;
}

grpc::ServerUnaryReactor* KvService::Txn(grpc::CallbackServerContext* ctx,
                                         const etcdserverpb::TxnRequest* req,
                                         etcdserverpb::TxnResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  if (Status st = apply::CheckTxn(*req, LimitsOf(*s_)); !st.ok()) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  if (apply::IsReadOnly(*req)) {
    // Read-only txns never go through the log (etcd: no proposal).
    auto read = [s = s_, reactor, req, resp] {
      ReadAndFinish(s, reactor, resp,
                    [&](mvcc::ReadView& v) { return apply::TxnReadOnly(v, *req, resp); });
    };
    ReadConsistently(s_, reactor, TxnSerializable(*req), read);
    return reactor;
  }
  internalpb::InternalRequest ir;
  *ir.mutable_txn() = *req;
  ProposeAndFinish(s_, ctx, reactor, resp, std::move(ir),
                   [](internalpb::InternalResponse* r, etcdserverpb::TxnResponse* out) {
                     out->Swap(r->mutable_txn());
                   });
  return reactor;
}

grpc::ServerUnaryReactor* KvService::Compact(grpc::CallbackServerContext* ctx,
                                             const etcdserverpb::CompactionRequest* req,
                                             etcdserverpb::CompactionResponse* resp) {
  auto* reactor = ctx->DefaultReactor();
  internalpb::InternalRequest ir;
  *ir.mutable_compaction() = *req;
  ProposeAndFinish(s_, ctx, reactor, resp, std::move(ir),
                   [](internalpb::InternalResponse* r, etcdserverpb::CompactionResponse* out) {
                     out->Swap(r->mutable_compaction());
                   });
  return reactor;
}

}  // namespace etcdpp::server
