// etcd's KV request semantics on top of src/mvcc: validation (with etcd's
// exact errors), Range (sort, filters, limit, count, keys_only, count_only),
// Put (prev_kv, ignore_value, ignore_lease), DeleteRange, Txn (compares incl.
// range_end, nested txns, duplicate-key rule), Compact. ETCD-FACTS.md §4-§5.
//
// The caller (src/server) fills response headers except `revision`, which is
// set here as etcd does (writes: the resulting revision; reads: the current).
#pragma once

#include <cstdint>
#include <functional>

#include "common/status.h"
#include "etcdserverpb/rpc.pb.h"
#include "mvcc/store.h"

namespace etcdpp::apply {

struct Limits {
  int64_t max_txn_ops = 128;
};

// Up-front checks (etcd's v3rpc checks, before a request is proposed).
// InvalidArgument with etcd's strings: "etcdserver: key is not provided",
// "etcdserver: too many operations in txn request", "etcdserver: duplicate key
// given in txn request", "etcdserver: invalid sort option", ...
Status CheckRange(const etcdserverpb::RangeRequest& r);
Status CheckPut(const etcdserverpb::PutRequest& r);
Status CheckDeleteRange(const etcdserverpb::DeleteRangeRequest& r);
Status CheckTxn(const etcdserverpb::TxnRequest& r, const Limits& limits);

// True if a txn (recursively) contains no writes: it can run on a ReadView.
bool IsReadOnly(const etcdserverpb::TxnRequest& r);

// Hooks into other stores (leases arrive in a later issue). Null = accept all.
struct Context {
  std::function<bool(int64_t lease_id)> lease_exists;
};

Status Range(mvcc::ReadView& view, const etcdserverpb::RangeRequest& r,
             etcdserverpb::RangeResponse* out);
Status Put(mvcc::TxnWrite& txn, const Context& ctx, const etcdserverpb::PutRequest& r,
           etcdserverpb::PutResponse* out);
Status DeleteRange(mvcc::TxnWrite& txn, const etcdserverpb::DeleteRangeRequest& r,
                   etcdserverpb::DeleteRangeResponse* out);
// Runs a whole txn inside `txn` (one revision). A read-only txn may be run
// through TxnReadOnly on any ReadView instead.
Status Txn(mvcc::TxnWrite& txn, const Context& ctx, const etcdserverpb::TxnRequest& r,
           etcdserverpb::TxnResponse* out);
Status TxnReadOnly(mvcc::ReadView& view, const etcdserverpb::TxnRequest& r,
                   etcdserverpb::TxnResponse* out);

}  // namespace etcdpp::apply
