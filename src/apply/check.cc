// Up-front request checks (etcd v3rpc/key.go): empty keys, sort options,
// ignore_value/ignore_lease flags, txn op limits and the duplicate-key rule.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "apply/errors.h"
#include "apply/kv_apply.h"

namespace etcdpp::apply {

Status CheckRange(const etcdserverpb::RangeRequest& r) {
  if (r.key().empty()) return Status::InvalidArgument(kErrEmptyKey);
  if (!etcdserverpb::RangeRequest_SortOrder_IsValid(r.sort_order()) ||
      !etcdserverpb::RangeRequest_SortTarget_IsValid(r.sort_target())) {
    return Status::InvalidArgument(kErrInvalidSortOption);
  }
  return Status::OK();
}

Status CheckPut(const etcdserverpb::PutRequest& r) {
  if (r.key().empty()) return Status::InvalidArgument(kErrEmptyKey);
  if (r.ignore_value() && !r.value().empty()) return Status::InvalidArgument(kErrValueProvided);
  if (r.ignore_lease() && r.lease() != 0) return Status::InvalidArgument(kErrLeaseProvided);
  return Status::OK();
}

Status CheckDeleteRange(const etcdserverpb::DeleteRangeRequest& r) {
  if (r.key().empty()) return Status::InvalidArgument(kErrEmptyKey);
  return Status::OK();
}

namespace {

Status CheckTxnOps(const etcdserverpb::TxnRequest& r, int64_t max_ops);

Status CheckOp(const etcdserverpb::RequestOp& op, int64_t max_ops) {
  switch (op.request_case()) {
    case etcdserverpb::RequestOp::kRequestRange:
      return CheckRange(op.request_range());
    case etcdserverpb::RequestOp::kRequestPut:
      return CheckPut(op.request_put());
    case etcdserverpb::RequestOp::kRequestDeleteRange:
      return CheckDeleteRange(op.request_delete_range());
    case etcdserverpb::RequestOp::kRequestTxn:
      return CheckTxnOps(op.request_txn(), max_ops);
    default:
      return Status::InvalidArgument(kErrKeyNotFound);  // empty RequestOp (etcd's choice)
  }
}

// The largest of len(compare), len(success), len(failure) counts; nested txns
// get what is left (etcd checkTxnRequest).
Status CheckTxnOps(const etcdserverpb::TxnRequest& r, int64_t max_ops) {
  int64_t opc =
      std::max<int64_t>(r.compare_size(), std::max<int64_t>(r.success_size(), r.failure_size()));
  if (opc > max_ops) return Status::InvalidArgument(kErrTooManyOps);
  for (const auto& c : r.compare()) {
    if (c.key().empty()) return Status::InvalidArgument(kErrEmptyKey);
  }
  for (const auto& op : r.success())
    ETCDPP_RETURN_IF_ERROR(CheckOp(op, max_ops - opc));
  for (const auto& op : r.failure())
    ETCDPP_RETURN_IF_ERROR(CheckOp(op, max_ops - opc));
  return Status::OK();
}

// Deleted intervals of one branch, as etcd's adt interval tree sees them: a
// delete without range_end is the point [k, k+"\0"); with range_end it is
// [key, range_end) compared bytewise, so a range_end of "\0" (all keys >= key)
// or one below key is an empty interval and never conflicts (etcd does the
// same: its affine strings treat only "" as infinity).
struct Dels {
  struct Iv {
    std::string lo, hi;
  };
  std::vector<Iv> ivs;
  bool Contains(const std::string& k) const {
    for (const Iv& iv : ivs) {
      if (iv.lo <= k && k < iv.hi) return true;
    }
    return false;
  }
};

// etcd checkIntervals: returns the branch's puts and deletes (children merged).
Status CheckIntervals(const google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>& reqs,
                      std::set<std::string>* puts, Dels* dels) {
  for (const auto& op : reqs) {
    if (op.request_case() != etcdserverpb::RequestOp::kRequestDeleteRange) continue;
    const auto& d = op.request_delete_range();
    if (d.range_end().empty()) {
      dels->ivs.push_back({d.key(), d.key() + std::string(1, '\0')});
    } else {
      dels->ivs.push_back({d.key(), d.range_end()});
    }
  }
  std::vector<Dels> child_dels;
  for (const auto& op : reqs) {
    if (op.request_case() != etcdserverpb::RequestOp::kRequestTxn) continue;
    std::set<std::string> puts_then, puts_else;
    Dels dels_then, dels_else;
    ETCDPP_RETURN_IF_ERROR(CheckIntervals(op.request_txn().success(), &puts_then, &dels_then));
    ETCDPP_RETURN_IF_ERROR(CheckIntervals(op.request_txn().failure(), &puts_else, &dels_else));
    for (const auto& k : puts_then) {
      if (puts->count(k) || dels->Contains(k)) return Status::InvalidArgument(kErrDuplicateKey);
      puts->insert(k);
    }
    for (const auto& k : puts_else) {
      // then/else are exclusive: a key put by both branches is fine.
      if (puts->count(k) && !puts_then.count(k)) return Status::InvalidArgument(kErrDuplicateKey);
      if (dels->Contains(k)) return Status::InvalidArgument(kErrDuplicateKey);
      puts->insert(k);
    }
    for (auto& iv : dels_then.ivs)
      dels->ivs.push_back(std::move(iv));
    for (auto& iv : dels_else.ivs)
      dels->ivs.push_back(std::move(iv));
  }
  for (const auto& op : reqs) {
    if (op.request_case() != etcdserverpb::RequestOp::kRequestPut) continue;
    const std::string& k = op.request_put().key();
    if (puts->count(k) || dels->Contains(k)) return Status::InvalidArgument(kErrDuplicateKey);
    puts->insert(k);
  }
  return Status::OK();
}

}  // namespace

Status CheckTxn(const etcdserverpb::TxnRequest& r, const Limits& limits) {
  ETCDPP_RETURN_IF_ERROR(CheckTxnOps(r, limits.max_txn_ops));
  // Checked after the op limits so that the interval check stays bounded.
  {
    std::set<std::string> puts;
    Dels dels;
    ETCDPP_RETURN_IF_ERROR(CheckIntervals(r.success(), &puts, &dels));
  }
  std::set<std::string> puts;
  Dels dels;
  return CheckIntervals(r.failure(), &puts, &dels);
}

bool IsReadOnly(const etcdserverpb::TxnRequest& r) {
  for (const auto* branch : {&r.success(), &r.failure()}) {
    for (const auto& op : *branch) {
      switch (op.request_case()) {
        case etcdserverpb::RequestOp::kRequestPut:
        case etcdserverpb::RequestOp::kRequestDeleteRange:
          return false;
        case etcdserverpb::RequestOp::kRequestTxn:
          if (!IsReadOnly(op.request_txn())) return false;
          break;
        default:
          break;
      }
    }
  }
  return true;
}

}  // namespace etcdpp::apply
