#include "server/kv_service.h"

#include <atomic>

#include "apply/kv_apply.h"
#include "mvcc/range_stream.h"
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

// etcd 3.7 checkRangeStreamRequest: Range's checks, then only the default
// key order (sort_order NONE, whatever the target, or ASCEND by KEY) and no
// min/max mod/create revision filters; both refusals are Unimplemented, which
// clients take as "use the unary Range". Message texts are ours (unverified).
Status CheckRangeStream(const etcdserverpb::RangeRequest& r) {
  ETCDPP_RETURN_IF_ERROR(apply::CheckRange(r));
  using RR = etcdserverpb::RangeRequest;
  if (r.sort_order() != RR::NONE && !(r.sort_order() == RR::ASCEND && r.sort_target() == RR::KEY)) {
    return Status::Unimplemented("etcdserver: RangeStream does not support custom sort orders");
  }
  if (r.min_mod_revision() != 0 || r.max_mod_revision() != 0 || r.min_create_revision() != 0 ||
      r.max_create_revision() != 0) {
    return Status::Unimplemented("etcdserver: RangeStream does not support revision filters");
  }
  return Status::OK();
}

mvcc::RangeStreamOptions StreamOptionsOf(const EtcdServer& s, const etcdserverpb::RangeRequest& r) {
  mvcc::RangeStreamOptions o;
  o.key = r.key();
  o.end = r.range_end();
  o.rev = r.revision();
  o.limit = r.limit();
  o.keys_only = r.keys_only();
  o.count_only = r.count_only();
  // A chunk near --max-request-bytes (etcd's target), so one chunk never
  // exceeds max(max-request-bytes, one kv): any client that could write a kv
  // can receive the chunk holding it.
  o.byte_budget = static_cast<size_t>(s.config().max_request_bytes);
  return o;
}

// One RangeStream call. Lifetime: gRPC owns it from RangeStream() until
// OnDone (after Finish). Exactly one of {Start's read, WriteNext from
// OnWriteDone} runs at a time, so only `cancelled_` is shared across threads.
// Memory: one chunk (msg_) at a time; no LMDB txn is held between chunks.
class RangeStreamReactor final
    : public grpc::ServerWriteReactor<etcdserverpb::RangeStreamResponse> {
 public:
  RangeStreamReactor(EtcdServer* s, const etcdserverpb::RangeRequest& req)
      : s_(s), cursor_(StreamOptionsOf(*s, req)) {}

  void Start(bool serializable) {
    // Auth hook: when src/auth exists, the same permission check as Range
    // (read permission on [key, range_end); etcd IsRangePermitted) goes here,
    // before any read, finishing with its error (PermissionDenied, ...).
    if (serializable) {
      WriteNext();
      return;
    }
    // Linearizable as Range: ReadIndex, then wait for apply (a learner is
    // refused there, as for Range). The pinned revision is read after it.
    s_->WaitLinearizable([this](const Status& st) {
      if (!st.ok()) {
        Finish(ToGrpcStatus(st));
        return;
      }
      WriteNext();
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {  // the client went away (cancel, deadline, broken connection)
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "etcdserver: request canceled"));
      return;
    }
    if (last_written_) {
      Finish(grpc::Status::OK);
      return;
    }
    WriteNext();
  }

  void OnCancel() override { cancelled_.store(true, std::memory_order_relaxed); }
  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    if (cancelled_.load(std::memory_order_relaxed)) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "etcdserver: request canceled"));
      return;
    }
    msg_.Clear();
    etcdserverpb::RangeResponse* rr = msg_.mutable_range_response();
    // One read txn per chunk, ended with the lambda (before the write waits
    // on the client): a slow client must not pin LMDB pages or hold off map
    // growth.
    auto chunk = [&]() -> Result<mvcc::RangeStreamChunk> {
      auto txn = s_->store()->Read();
      if (!txn.ok()) return txn.status();
      return cursor_.Next(**txn, rr->mutable_kvs());
    }();
    if (!chunk.ok()) {
      Finish(ToGrpcStatus(chunk.status()));
      return;
    }
    if (chunk->last) {
      // etcd 3.7: header, count and more travel in the final chunk only.
      s_->FillHeader(rr->mutable_header());
      rr->mutable_header()->set_revision(chunk->header_rev);
      rr->set_count(chunk->count);
      rr->set_more(chunk->more);
      last_written_ = true;
    }
    StartWrite(&msg_);
  }

  EtcdServer* s_;
  mvcc::RangeStreamCursor cursor_;
  etcdserverpb::RangeStreamResponse msg_;  // the chunk being written (alive until OnWriteDone)
  bool last_written_ = false;
  std::atomic<bool> cancelled_{false};
};

}  // namespace

grpc::ServerWriteReactor<etcdserverpb::RangeStreamResponse>* KvService::RangeStream(
    grpc::CallbackServerContext* /*ctx*/, const etcdserverpb::RangeRequest* req) {
  auto* reactor = new RangeStreamReactor(s_, *req);
  if (Status st = CheckRangeStream(*req); !st.ok()) {
    reactor->Finish(ToGrpcStatus(st));
    return reactor;
  }
  reactor->Start(req->serializable());
  return reactor;
}

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
