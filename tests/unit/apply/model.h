// A deliberately naive in-memory reference of etcd's KV semantics: the whole
// keyspace is copied at every revision, so historic reads and compaction are
// trivially right. Used to check src/mvcc + src/apply with random operations.
// Requests are assumed to have passed apply::Check* already.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "etcdserverpb/rpc.pb.h"

namespace etcdpp::apply::testing {

class Model {
 public:
  using State = std::map<std::string, mvccpb::KeyValue>;

  Model() {
    states_.emplace_back();
    states_.emplace_back();
  }  // revs 0 (unused) and 1

  int64_t Rev() const { return static_cast<int64_t>(states_.size()) - 1; }
  int64_t CompactRev() const { return compacted_; }
  const State& StateAt(int64_t rev) const { return states_[static_cast<size_t>(rev)]; }

  Status Range(const etcdserverpb::RangeRequest& r, etcdserverpb::RangeResponse* out) const;
  Status Put(const etcdserverpb::PutRequest& r, etcdserverpb::PutResponse* out);
  Status DeleteRange(const etcdserverpb::DeleteRangeRequest& r,
                     etcdserverpb::DeleteRangeResponse* out);
  Status Txn(const etcdserverpb::TxnRequest& r, etcdserverpb::TxnResponse* out);
  Status Compact(int64_t rev);

  // Leases that exist (Put with another non-zero lease -> lease not found).
  std::vector<int64_t> leases = {0, 1, 2};

 private:
  // A write in progress: the working state and whether anything changed.
  struct Work {
    State state;
    bool changed = false;
  };
  Status RangeIn(const State& cur, int64_t cur_rev, const etcdserverpb::RangeRequest& r,
                 etcdserverpb::RangeResponse* out) const;
  Status PutIn(Work* w, const etcdserverpb::PutRequest& r, etcdserverpb::PutResponse* out) const;
  void DeleteIn(Work* w, const etcdserverpb::DeleteRangeRequest& r,
                etcdserverpb::DeleteRangeResponse* out) const;
  bool Compares(const State& s, const etcdserverpb::TxnRequest& r) const;
  Status CheckTxnPath(const State& s, const etcdserverpb::TxnRequest& r) const;
  Status ExecTxn(const State& before, Work* w, const etcdserverpb::TxnRequest& r,
                 etcdserverpb::TxnResponse* out) const;
  void Commit(Work* w);
  bool LeaseOk(int64_t id) const;

  std::vector<State> states_;
  int64_t compacted_ = 0;
};

// Keys in [key, end) with etcd's end rules.
bool InRange(const std::string& k, const std::string& key, const std::string& end);

}  // namespace etcdpp::apply::testing
