// Range/Put/DeleteRange/Txn execution with etcd v3.6's semantics
// (server/etcdserver/txn/*.go, observed behaviour in ETCD-FACTS.md §5).
#include "apply/kv_apply.h"

#include <algorithm>
#include <vector>

#include "apply/errors.h"

namespace etcdpp::apply {

namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RequestOp;

void SetRev(etcdserverpb::ResponseHeader* h, int64_t rev) {
  h->set_revision(rev);
}

// ------------------------------------------------------------------ Range

bool Less(const mvccpb::KeyValue& a, const mvccpb::KeyValue& b, RangeRequest::SortTarget t) {
  switch (t) {
    case RangeRequest::KEY:
      return a.key() < b.key();
    case RangeRequest::VERSION:
      return a.version() < b.version();
    case RangeRequest::CREATE:
      return a.create_revision() < b.create_revision();
    case RangeRequest::MOD:
      return a.mod_revision() < b.mod_revision();
    case RangeRequest::VALUE:
      return a.value() < b.value();
    default:
      return false;
  }
}

Status DoRange(mvcc::ReadView& view, const RangeRequest& r, etcdserverpb::RangeResponse* out) {
  const bool filtered = r.min_mod_revision() != 0 || r.max_mod_revision() != 0 ||
                        r.min_create_revision() != 0 || r.max_create_revision() != 0;
  mvcc::RangeOptions ro;
  ro.rev = r.revision();
  ro.count_only = r.count_only();
  // Sorting and filters need everything; otherwise fetch one extra for `more`.
  ro.limit = (r.sort_order() != RangeRequest::NONE || filtered) ? 0 : r.limit();
  if (ro.limit > 0) ++ro.limit;
  if (ro.limit < 0) ro.limit = 0;  // etcd: a negative limit means none
  auto rr = view.Range(r.key(), r.range_end(), ro);
  if (!rr.ok()) return rr.status();
  std::vector<mvccpb::KeyValue>& kvs = rr->kvs;
  auto prune = [&kvs](auto pred) {
    kvs.erase(std::remove_if(kvs.begin(), kvs.end(), pred), kvs.end());
  };
  if (r.max_mod_revision() != 0) {
    prune([&](const mvccpb::KeyValue& kv) { return kv.mod_revision() > r.max_mod_revision(); });
  }
  if (r.min_mod_revision() != 0) {
    prune([&](const mvccpb::KeyValue& kv) { return kv.mod_revision() < r.min_mod_revision(); });
  }
  if (r.max_create_revision() != 0) {
    prune(
        [&](const mvccpb::KeyValue& kv) { return kv.create_revision() > r.max_create_revision(); });
  }
  if (r.min_create_revision() != 0) {
    prune(
        [&](const mvccpb::KeyValue& kv) { return kv.create_revision() < r.min_create_revision(); });
  }
  auto order = r.sort_order();
  const auto target = r.sort_target();
  if (target != RangeRequest::KEY && order == RangeRequest::NONE) {
    order = RangeRequest::ASCEND;  // results come in key order; other targets sort ascending
  } else if (target == RangeRequest::KEY && order == RangeRequest::ASCEND) {
    order = RangeRequest::NONE;  // already in key order
  }
  // Stable: ties keep key order (etcd's sort.Sort leaves ties unspecified).
  if (order == RangeRequest::ASCEND) {
    std::stable_sort(kvs.begin(), kvs.end(),
                     [&](const auto& a, const auto& b) { return Less(a, b, target); });
  } else if (order == RangeRequest::DESCEND) {
    std::stable_sort(kvs.begin(), kvs.end(),
                     [&](const auto& a, const auto& b) { return Less(b, a, target); });
  }
  if (r.limit() > 0 && static_cast<int64_t>(kvs.size()) > r.limit()) {
    kvs.resize(static_cast<size_t>(r.limit()));
    out->set_more(true);
  }
  SetRev(out->mutable_header(), rr->rev);
  out->set_count(rr->count);
  for (auto& kv : kvs) {
    if (r.keys_only()) kv.clear_value();
    *out->add_kvs() = std::move(kv);
  }
  return Status::OK();
}

// ------------------------------------------------------------------ writes

// The put itself, after the lease check (etcd txn.go put()).
Status DoPut(mvcc::TxnWrite& txn, const etcdserverpb::PutRequest& p,
             etcdserverpb::PutResponse* out) {
  std::string value = p.value();
  int64_t lease = p.lease();
  if (p.ignore_value() || p.ignore_lease()) {
    auto rr = txn.Range(p.key(), "", {});
    if (!rr.ok()) return rr.status();
    if (rr->kvs.empty()) return Status::InvalidArgument(kErrKeyNotFound);
    if (p.ignore_value()) value = rr->kvs[0].value();
    if (p.ignore_lease()) lease = rr->kvs[0].lease();
  }
  auto prev = txn.Put(p.key(), value, lease);
  if (!prev.ok()) return prev.status();
  if (p.prev_kv() && prev->has_value()) *out->mutable_prev_kv() = std::move(**prev);
  SetRev(out->mutable_header(), txn.Rev());
  return Status::OK();
}

Status DoDelete(mvcc::TxnWrite& txn, const etcdserverpb::DeleteRangeRequest& d,
                etcdserverpb::DeleteRangeResponse* out) {
  auto prev = txn.DeleteRange(d.key(), d.range_end());
  if (!prev.ok()) return prev.status();
  out->set_deleted(static_cast<int64_t>(prev->size()));
  if (d.prev_kv()) {
    for (auto& kv : *prev)
      *out->add_prev_kvs() = std::move(kv);
  }
  SetRev(out->mutable_header(), txn.Rev());
  return Status::OK();
}

// ------------------------------------------------------------------ Txn

int Cmp(int64_t a, int64_t b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

bool CompareKV(const Compare& c, const mvccpb::KeyValue& kv) {
  int result = 0;
  switch (c.target()) {
    case Compare::VALUE: {
      const std::string& v = c.target_union_case() == Compare::kValue ? c.value() : std::string();
      result = kv.value().compare(v);
      result = result < 0 ? -1 : (result > 0 ? 1 : 0);
      break;
    }
    case Compare::CREATE:
      result = Cmp(kv.create_revision(),
                   c.target_union_case() == Compare::kCreateRevision ? c.create_revision() : 0);
      break;
    case Compare::MOD:
      result = Cmp(kv.mod_revision(),
                   c.target_union_case() == Compare::kModRevision ? c.mod_revision() : 0);
      break;
    case Compare::VERSION:
      result = Cmp(kv.version(), c.target_union_case() == Compare::kVersion ? c.version() : 0);
      break;
    case Compare::LEASE:
      result = Cmp(kv.lease(), c.target_union_case() == Compare::kLease ? c.lease() : 0);
      break;
    default:
      break;
  }
  switch (c.result()) {
    case Compare::EQUAL:
      return result == 0;
    case Compare::NOT_EQUAL:
      return result != 0;
    case Compare::GREATER:
      return result > 0;
    case Compare::LESS:
      return result < 0;
    default:
      return true;
  }
}

bool ApplyCompare(mvcc::ReadView& view, const Compare& c) {
  auto rr = view.Range(c.key(), c.range_end(), {});
  if (!rr.ok()) return false;
  if (rr->kvs.empty()) {
    // A missing key has no value to compare; other targets compare as 0.
    if (c.target() == Compare::VALUE) return false;
    return CompareKV(c, mvccpb::KeyValue());
  }
  for (const auto& kv : rr->kvs) {
    if (!CompareKV(c, kv)) return false;
  }
  return true;
}

// All compares of the txn tree are evaluated first, on the state before the
// txn (etcd compareToPath): path holds one bool per txn on the taken path,
// in pre-order.
void ComputePath(mvcc::ReadView& view, const etcdserverpb::TxnRequest& r, std::vector<bool>* path) {
  bool ok = true;
  for (const auto& c : r.compare()) {
    if (!ApplyCompare(view, c)) {
      ok = false;
      break;
    }
  }
  path->push_back(ok);
  for (const auto& op : ok ? r.success() : r.failure()) {
    if (op.request_case() == RequestOp::kRequestTxn) ComputePath(view, op.request_txn(), path);
  }
}

// Pre-execution checks on the taken path (etcd checkRequests): puts with
// ignore_value/ignore_lease need the key, leases must exist; ranges with a
// revision must be readable.
Status CheckPath(mvcc::ReadView& view, const Context* ctx, const etcdserverpb::TxnRequest& r,
                 const std::vector<bool>& path, size_t* pos) {
  bool ok = path[(*pos)++];
  for (const auto& op : ok ? r.success() : r.failure()) {
    switch (op.request_case()) {
      case RequestOp::kRequestPut: {
        if (ctx == nullptr) break;
        const auto& p = op.request_put();
        if (p.ignore_value() || p.ignore_lease()) {
          auto rr = view.Range(p.key(), "", {});
          if (!rr.ok()) return rr.status();
          if (rr->kvs.empty()) return Status::InvalidArgument(kErrKeyNotFound);
        }
        if (p.lease() != 0 && ctx->lease_exists && !ctx->lease_exists(p.lease())) {
          return Status::NotFound(kErrLeaseNotFound);
        }
        break;
      }
      case RequestOp::kRequestRange: {
        if (ctx != nullptr) break;  // ranges are checked in the second pass
        const int64_t rev = op.request_range().revision();
        // etcd compares with FirstRev(), which is -1 before any compaction.
        const int64_t first = view.CompactRev() == 0 ? -1 : view.CompactRev();
        if (rev == 0) break;
        if (rev > view.Rev()) return Status::OutOfRange(mvcc::kErrFutureRev);
        if (rev < first) return Status::OutOfRange(mvcc::kErrCompacted);
        break;
      }
      case RequestOp::kRequestTxn:
        ETCDPP_RETURN_IF_ERROR(CheckPath(view, ctx, op.request_txn(), path, pos));
        break;
      default:
        break;
    }
  }
  return Status::OK();
}

// Executes the taken path. txn is null for a read-only txn.
Status Execute(mvcc::ReadView& view, mvcc::TxnWrite* txn, const etcdserverpb::TxnRequest& r,
               const std::vector<bool>& path, size_t* pos, etcdserverpb::TxnResponse* out) {
  bool ok = path[(*pos)++];
  out->set_succeeded(ok);
  out->mutable_header();  // nested txn responses carry an empty header, like etcd
  for (const auto& op : ok ? r.success() : r.failure()) {
    auto* resp = out->add_responses();
    switch (op.request_case()) {
      case RequestOp::kRequestRange:
        ETCDPP_RETURN_IF_ERROR(DoRange(view, op.request_range(), resp->mutable_response_range()));
        break;
      case RequestOp::kRequestPut:
        if (txn == nullptr) return Status::Internal("apply: put in a read-only txn");
        ETCDPP_RETURN_IF_ERROR(DoPut(*txn, op.request_put(), resp->mutable_response_put()));
        break;
      case RequestOp::kRequestDeleteRange:
        if (txn == nullptr) return Status::Internal("apply: delete in a read-only txn");
        ETCDPP_RETURN_IF_ERROR(
            DoDelete(*txn, op.request_delete_range(), resp->mutable_response_delete_range()));
        break;
      case RequestOp::kRequestTxn:
        ETCDPP_RETURN_IF_ERROR(
            Execute(view, txn, op.request_txn(), path, pos, resp->mutable_response_txn()));
        break;
      default:
        break;
    }
  }
  return Status::OK();
}

Status RunTxn(mvcc::ReadView& view, mvcc::TxnWrite* txn, const Context* ctx,
              const etcdserverpb::TxnRequest& r, etcdserverpb::TxnResponse* out) {
  std::vector<bool> path;
  ComputePath(view, r, &path);
  size_t pos = 0;
  if (txn != nullptr) ETCDPP_RETURN_IF_ERROR(CheckPath(view, ctx, r, path, &pos));
  pos = 0;
  ETCDPP_RETURN_IF_ERROR(CheckPath(view, nullptr, r, path, &pos));
  pos = 0;
  Status st = Execute(view, txn, r, path, &pos, out);
  if (!st.ok()) {
    // Only possible when an earlier op of this txn invalidated a later one
    // (e.g. a nested delete removes a key an ignore_lease put needs); etcd
    // panics here. We keep the txn atomic: no partial writes, no revision.
    out->Clear();
    if (txn != nullptr) ETCDPP_RETURN_IF_ERROR(txn->Abort());
    return st;
  }
  SetRev(out->mutable_header(), view.Rev());  // with changes: the txn's new revision
  return Status::OK();
}

}  // namespace

Status Range(mvcc::ReadView& view, const etcdserverpb::RangeRequest& r,
             etcdserverpb::RangeResponse* out) {
  return DoRange(view, r, out);
}

Status Put(mvcc::TxnWrite& txn, const Context& ctx, const etcdserverpb::PutRequest& r,
           etcdserverpb::PutResponse* out) {
  if (r.lease() != 0 && ctx.lease_exists && !ctx.lease_exists(r.lease())) {
    return Status::NotFound(kErrLeaseNotFound);
  }
  return DoPut(txn, r, out);
}

Status DeleteRange(mvcc::TxnWrite& txn, const etcdserverpb::DeleteRangeRequest& r,
                   etcdserverpb::DeleteRangeResponse* out) {
  return DoDelete(txn, r, out);
}

Status Txn(mvcc::TxnWrite& txn, const Context& ctx, const etcdserverpb::TxnRequest& r,
           etcdserverpb::TxnResponse* out) {
  return RunTxn(txn, IsReadOnly(r) ? nullptr : &txn, &ctx, r, out);
}

Status TxnReadOnly(mvcc::ReadView& view, const etcdserverpb::TxnRequest& r,
                   etcdserverpb::TxnResponse* out) {
  if (!IsReadOnly(r)) return Status::Internal("apply: TxnReadOnly with writes");
  return RunTxn(view, nullptr, nullptr, r, out);
}

}  // namespace etcdpp::apply
