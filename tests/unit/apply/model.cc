#include "model.h"

#include <algorithm>

namespace etcdpp::apply::testing {

namespace {
constexpr std::string_view kCompacted = "etcdserver: mvcc: required revision has been compacted";
constexpr std::string_view kFuture = "etcdserver: mvcc: required revision is a future revision";
}  // namespace

bool InRange(const std::string& k, const std::string& key, const std::string& end) {
  if (end.empty()) return k == key;
  if (end == std::string(1, '\0')) return k >= key;
  return k >= key && k < end;
}

bool Model::LeaseOk(int64_t id) const {
  return std::find(leases.begin(), leases.end(), id) != leases.end();
}

Status Model::RangeIn(const State& cur, int64_t cur_rev, const etcdserverpb::RangeRequest& r,
                      etcdserverpb::RangeResponse* out) const {
  if (r.revision() > cur_rev) return Status::OutOfRange(kFuture);
  int64_t rev = r.revision() <= 0 ? cur_rev : r.revision();
  if (rev < compacted_) return Status::OutOfRange(kCompacted);
  // cur_rev may be a txn's own pending revision: read its working state.
  const State& s = rev == cur_rev ? cur : StateAt(rev);
  std::vector<mvccpb::KeyValue> kvs;
  for (const auto& [k, kv] : s) {
    if (InRange(k, r.key(), r.range_end())) kvs.push_back(kv);
  }
  out->set_count(static_cast<int64_t>(kvs.size()));
  out->mutable_header()->set_revision(cur_rev);
  if (r.count_only()) return Status::OK();
  std::vector<mvccpb::KeyValue> f;
  for (auto& kv : kvs) {
    if (r.min_mod_revision() && kv.mod_revision() < r.min_mod_revision()) continue;
    if (r.max_mod_revision() && kv.mod_revision() > r.max_mod_revision()) continue;
    if (r.min_create_revision() && kv.create_revision() < r.min_create_revision()) continue;
    if (r.max_create_revision() && kv.create_revision() > r.max_create_revision()) continue;
    f.push_back(kv);
  }
  using RR = etcdserverpb::RangeRequest;
  auto key_of = [&](const mvccpb::KeyValue& kv) -> std::string {
    char buf[32];
    switch (r.sort_target()) {
      case RR::VERSION:
        snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(kv.version()));
        return buf;
      case RR::CREATE:
        snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(kv.create_revision()));
        return buf;
      case RR::MOD:
        snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(kv.mod_revision()));
        return buf;
      case RR::VALUE:
        return kv.value();
      default:
        return kv.key();
    }
  };
  const bool filtered = r.min_mod_revision() || r.max_mod_revision() || r.min_create_revision() ||
                        r.max_create_revision();
  if (r.sort_order() == RR::NONE && !filtered && r.limit() > 0 &&
      static_cast<int64_t>(f.size()) > r.limit() + 1) {
    // etcd fetches limit+1 keys (key order) before an implicit ASCEND sort
    // by a non-key target, so that sort only sees those.
    f.resize(static_cast<size_t>(r.limit() + 1));
  }
  bool sort = r.sort_order() != RR::NONE || r.sort_target() != RR::KEY;
  bool desc = r.sort_order() == RR::DESCEND;
  if (sort) {
    // Ties keep key order (both directions), as documented in kv_apply.cc.
    std::stable_sort(f.begin(), f.end(), [&](const auto& a, const auto& b) {
      return desc ? key_of(a) > key_of(b) : key_of(a) < key_of(b);
    });
  }
  if (r.limit() > 0 && static_cast<int64_t>(f.size()) > r.limit()) {
    f.resize(static_cast<size_t>(r.limit()));
    out->set_more(true);
  }
  for (auto& kv : f) {
    if (r.keys_only()) kv.clear_value();
    *out->add_kvs() = kv;
  }
  return Status::OK();
}

Status Model::Range(const etcdserverpb::RangeRequest& r, etcdserverpb::RangeResponse* out) const {
  return RangeIn(states_.back(), Rev(), r, out);
}

Status Model::PutIn(Work* w, const etcdserverpb::PutRequest& r,
                    etcdserverpb::PutResponse* out) const {
  const int64_t rev = Rev() + 1;
  auto it = w->state.find(r.key());
  if ((r.ignore_value() || r.ignore_lease()) && it == w->state.end()) {
    return Status::InvalidArgument("etcdserver: key not found");
  }
  mvccpb::KeyValue kv;
  kv.set_key(r.key());
  kv.set_value(r.ignore_value() ? it->second.value() : r.value());
  kv.set_lease(r.ignore_lease() ? it->second.lease() : r.lease());
  kv.set_mod_revision(rev);
  if (it != w->state.end()) {
    if (r.prev_kv()) *out->mutable_prev_kv() = it->second;
    kv.set_create_revision(it->second.create_revision());
    kv.set_version(it->second.version() + 1);
  } else {
    kv.set_create_revision(rev);
    kv.set_version(1);
  }
  w->state[r.key()] = kv;
  w->changed = true;
  out->mutable_header()->set_revision(rev);
  return Status::OK();
}

void Model::DeleteIn(Work* w, const etcdserverpb::DeleteRangeRequest& r,
                     etcdserverpb::DeleteRangeResponse* out) const {
  int64_t n = 0;
  for (auto it = w->state.begin(); it != w->state.end();) {
    if (InRange(it->first, r.key(), r.range_end())) {
      if (r.prev_kv()) *out->add_prev_kvs() = it->second;
      it = w->state.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  out->set_deleted(n);
  if (n > 0) w->changed = true;
  out->mutable_header()->set_revision(w->changed ? Rev() + 1 : Rev());
}

void Model::Commit(Work* w) {
  if (w->changed) states_.push_back(std::move(w->state));
}

Status Model::Put(const etcdserverpb::PutRequest& r, etcdserverpb::PutResponse* out) {
  if (!LeaseOk(r.lease())) return Status::NotFound("etcdserver: requested lease not found");
  Work w{states_.back(), false};
  ETCDPP_RETURN_IF_ERROR(PutIn(&w, r, out));
  Commit(&w);
  return Status::OK();
}

Status Model::DeleteRange(const etcdserverpb::DeleteRangeRequest& r,
                          etcdserverpb::DeleteRangeResponse* out) {
  Work w{states_.back(), false};
  DeleteIn(&w, r, out);
  Commit(&w);
  return Status::OK();
}

bool Model::Compares(const State& s, const etcdserverpb::TxnRequest& r) const {
  using C = etcdserverpb::Compare;
  for (const auto& c : r.compare()) {
    std::vector<mvccpb::KeyValue> kvs;
    for (const auto& [k, kv] : s) {
      if (InRange(k, c.key(), c.range_end())) kvs.push_back(kv);
    }
    if (kvs.empty()) {
      if (c.target() == C::VALUE) return false;
      kvs.emplace_back();
    }
    for (const auto& kv : kvs) {
      int res = 0;
      auto cmp = [](auto a, auto b) { return a < b ? -1 : (a > b ? 1 : 0); };
      switch (c.target()) {
        case C::VERSION:
          res = cmp(kv.version(), c.target_union_case() == C::kVersion ? c.version() : 0);
          break;
        case C::CREATE:
          res = cmp(kv.create_revision(),
                    c.target_union_case() == C::kCreateRevision ? c.create_revision() : 0);
          break;
        case C::MOD:
          res = cmp(kv.mod_revision(),
                    c.target_union_case() == C::kModRevision ? c.mod_revision() : 0);
          break;
        case C::VALUE:
          res = cmp(kv.value(), c.target_union_case() == C::kValue ? c.value() : std::string());
          break;
        case C::LEASE:
          res = cmp(kv.lease(), c.target_union_case() == C::kLease ? c.lease() : 0);
          break;
        default:
          break;
      }
      bool ok = c.result() == C::EQUAL       ? res == 0
                : c.result() == C::NOT_EQUAL ? res != 0
                : c.result() == C::GREATER   ? res > 0
                                             : res < 0;
      if (!ok) return false;
    }
  }
  return true;
}

Status Model::CheckTxnPath(const State& s, const etcdserverpb::TxnRequest& r) const {
  // Same order as etcd: every put on the taken path first, then every range.
  std::vector<const etcdserverpb::RequestOp*> ops;
  std::vector<const etcdserverpb::TxnRequest*> stack = {&r};
  std::vector<const etcdserverpb::RequestOp*> ranges;
  auto walk = [&](auto&& self, const etcdserverpb::TxnRequest& t) -> void {
    for (const auto& op : Compares(s, t) ? t.success() : t.failure()) {
      ops.push_back(&op);
      if (op.has_request_txn()) self(self, op.request_txn());
    }
  };
  walk(walk, r);
  for (const auto* op : ops) {
    if (!op->has_request_put()) continue;
    const auto& p = op->request_put();
    if ((p.ignore_value() || p.ignore_lease()) && !s.count(p.key())) {
      return Status::InvalidArgument("etcdserver: key not found");
    }
    if (!LeaseOk(p.lease())) return Status::NotFound("etcdserver: requested lease not found");
  }
  for (const auto* op : ops) {
    if (!op->has_request_range()) continue;
    int64_t rev = op->request_range().revision();
    int64_t first = compacted_ == 0 ? -1 : compacted_;
    if (rev == 0) continue;
    if (rev > Rev()) return Status::OutOfRange(kFuture);
    if (rev < first) return Status::OutOfRange(kCompacted);
  }
  return Status::OK();
}

Status Model::ExecTxn(const State& before, Work* w, const etcdserverpb::TxnRequest& r,
                      etcdserverpb::TxnResponse* out) const {
  bool ok = Compares(before, r);
  out->set_succeeded(ok);
  out->mutable_header();
  for (const auto& op : ok ? r.success() : r.failure()) {
    auto* resp = out->add_responses();
    if (op.has_request_range()) {
      ETCDPP_RETURN_IF_ERROR(RangeIn(w->state, w->changed ? Rev() + 1 : Rev(), op.request_range(),
                                     resp->mutable_response_range()));
    } else if (op.has_request_put()) {
      ETCDPP_RETURN_IF_ERROR(PutIn(w, op.request_put(), resp->mutable_response_put()));
    } else if (op.has_request_delete_range()) {
      DeleteIn(w, op.request_delete_range(), resp->mutable_response_delete_range());
    } else if (op.has_request_txn()) {
      ETCDPP_RETURN_IF_ERROR(ExecTxn(before, w, op.request_txn(), resp->mutable_response_txn()));
    }
  }
  return Status::OK();
}

Status Model::Txn(const etcdserverpb::TxnRequest& r, etcdserverpb::TxnResponse* out) {
  const State& before = states_.back();
  ETCDPP_RETURN_IF_ERROR(CheckTxnPath(before, r));
  Work w{before, false};
  ETCDPP_RETURN_IF_ERROR(ExecTxn(before, &w, r, out));
  out->mutable_header()->set_revision(w.changed ? Rev() + 1 : Rev());
  Commit(&w);
  return Status::OK();
}

Status Model::Compact(int64_t rev) {
  if (rev <= compacted_) return Status::OutOfRange(kCompacted);
  if (rev > Rev()) return Status::OutOfRange(kFuture);
  compacted_ = rev;
  return Status::OK();
}

}  // namespace etcdpp::apply::testing
