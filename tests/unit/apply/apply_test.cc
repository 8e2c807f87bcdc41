#include "apply/kv_apply.h"

#include <gtest/gtest.h>

#include "mvcc/temp_dir.h"

namespace etcdpp::apply {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;

const std::string kNul(1, '\0');

class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mvcc::Options o;
    o.unsafe_no_fsync = true;
    auto s = mvcc::Store::Open(dir_.path() + "/db", o);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    ctx_.lease_exists = [](int64_t id) { return id == 5; };
  }
  template <typename F>
  Status Write(F fn) {
    auto b = store_->BeginBatch();
    auto t = (*b)->BeginTxn();
    Status st = fn(**t);
    EXPECT_TRUE((*t)->End().ok());
    EXPECT_TRUE((*b)->Commit().ok());
    return st;
  }
  Status PutKV(const std::string& k, const std::string& v, int64_t lease = 0,
               etcdserverpb::PutResponse* out = nullptr) {
    etcdserverpb::PutRequest r;
    r.set_key(k);
    r.set_value(v);
    r.set_lease(lease);
    etcdserverpb::PutResponse tmp;
    return Write([&](mvcc::TxnWrite& t) { return Put(t, ctx_, r, out ? out : &tmp); });
  }
  etcdserverpb::RangeResponse Get(const RangeRequest& r, Status* st = nullptr) {
    auto v = store_->Read();
    etcdserverpb::RangeResponse out;
    Status s = Range(**v, r, &out);
    if (st)
      *st = s;
    else
      EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  etcdserverpb::TxnResponse RunTxn(const etcdserverpb::TxnRequest& r, Status* st = nullptr) {
    etcdserverpb::TxnResponse out;
    Status s = Write([&](mvcc::TxnWrite& t) { return Txn(t, ctx_, r, &out); });
    if (st)
      *st = s;
    else
      EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  etcdpp::testing::TempDir dir_;
  std::unique_ptr<mvcc::Store> store_;
  Context ctx_;
};

void ExpectErr(const Status& st, Code code, const std::string& msg) {
  EXPECT_EQ(st.code(), code) << st.ToString();
  EXPECT_EQ(st.message(), msg);
}

TEST(CheckTest, RangeAndPutAndDelete) {
  RangeRequest r;
  ExpectErr(CheckRange(r), Code::kInvalidArgument, "etcdserver: key is not provided");
  r.set_key("a");
  EXPECT_TRUE(CheckRange(r).ok());
  r.set_sort_order(static_cast<RangeRequest::SortOrder>(7));
  ExpectErr(CheckRange(r), Code::kInvalidArgument, "etcdserver: invalid sort option");
  r.set_sort_order(RangeRequest::DESCEND);
  r.set_sort_target(static_cast<RangeRequest::SortTarget>(9));
  ExpectErr(CheckRange(r), Code::kInvalidArgument, "etcdserver: invalid sort option");

  etcdserverpb::PutRequest p;
  ExpectErr(CheckPut(p), Code::kInvalidArgument, "etcdserver: key is not provided");
  p.set_key("a");
  p.set_ignore_value(true);
  p.set_value("x");
  ExpectErr(CheckPut(p), Code::kInvalidArgument, "etcdserver: value is provided");
  p.clear_value();
  p.set_ignore_lease(true);
  p.set_lease(3);
  ExpectErr(CheckPut(p), Code::kInvalidArgument, "etcdserver: lease is provided");
  p.clear_lease();
  EXPECT_TRUE(CheckPut(p).ok());

  etcdserverpb::DeleteRangeRequest d;
  ExpectErr(CheckDeleteRange(d), Code::kInvalidArgument, "etcdserver: key is not provided");
}

etcdserverpb::RequestOp PutOp(const std::string& k) {
  etcdserverpb::RequestOp op;
  op.mutable_request_put()->set_key(k);
  return op;
}
etcdserverpb::RequestOp DelOp(const std::string& k, const std::string& end = "") {
  etcdserverpb::RequestOp op;
  op.mutable_request_delete_range()->set_key(k);
  op.mutable_request_delete_range()->set_range_end(end);
  return op;
}

TEST(CheckTest, TxnLimitsAndDuplicates) {
  Limits lim;
  lim.max_txn_ops = 3;
  etcdserverpb::TxnRequest t;
  for (int i = 0; i < 4; ++i)
    *t.add_success() = PutOp(std::string(1, static_cast<char>('a' + i)));
  ExpectErr(CheckTxn(t, lim), Code::kInvalidArgument,
            "etcdserver: too many operations in txn request");
  t.mutable_success()->RemoveLast();
  EXPECT_TRUE(CheckTxn(t, lim).ok());
  // Nested: the inner txn only gets what is left (3 - 3 = 0).
  etcdserverpb::RequestOp nested;
  *nested.mutable_request_txn()->add_success() = PutOp("z");
  t.mutable_success()->RemoveLast();
  *t.add_success() = nested;
  ExpectErr(CheckTxn(t, lim), Code::kInvalidArgument,
            "etcdserver: too many operations in txn request");
  lim.max_txn_ops = 4;
  EXPECT_TRUE(CheckTxn(t, lim).ok());

  lim.max_txn_ops = 128;
  etcdserverpb::TxnRequest c;
  c.add_compare();
  ExpectErr(CheckTxn(c, lim), Code::kInvalidArgument, "etcdserver: key is not provided");
  etcdserverpb::TxnRequest e;
  e.add_success();  // empty RequestOp
  ExpectErr(CheckTxn(e, lim), Code::kInvalidArgument, "etcdserver: key not found");

  auto dup = [&](std::vector<etcdserverpb::RequestOp> ops, bool in_failure = false) {
    etcdserverpb::TxnRequest x;
    for (auto& op : ops)
      *(in_failure ? x.add_failure() : x.add_success()) = op;
    return CheckTxn(x, lim);
  };
  const std::string kDup = "etcdserver: duplicate key given in txn request";
  ExpectErr(dup({PutOp("a"), PutOp("a")}), Code::kInvalidArgument, kDup);
  ExpectErr(dup({PutOp("a"), PutOp("a")}, true), Code::kInvalidArgument, kDup);
  ExpectErr(dup({DelOp("a", "c"), PutOp("b")}), Code::kInvalidArgument, kDup);
  ExpectErr(dup({PutOp("a"), DelOp("a")}), Code::kInvalidArgument, kDup);
  EXPECT_TRUE(dup({DelOp("a", "c"), DelOp("b", "d")}).ok());  // overlapping deletes are fine
  EXPECT_TRUE(dup({DelOp("a", "c"), PutOp("c")}).ok());
  EXPECT_TRUE(dup({PutOp("a"), PutOp("b")}).ok());
  // then/else of a nested txn may put the same key...
  etcdserverpb::RequestOp n2;
  *n2.mutable_request_txn()->add_success() = PutOp("k");
  *n2.mutable_request_txn()->add_failure() = PutOp("k");
  EXPECT_TRUE(dup({n2}).ok());
  // ...but not a key the outer level also puts, or one it deletes.
  ExpectErr(dup({n2, PutOp("k")}), Code::kInvalidArgument, kDup);
  ExpectErr(dup({n2, DelOp("j", "l")}), Code::kInvalidArgument, kDup);
  // Success and failure are checked separately.
  etcdserverpb::TxnRequest sf;
  *sf.add_success() = PutOp("a");
  *sf.add_failure() = PutOp("a");
  EXPECT_TRUE(CheckTxn(sf, lim).ok());
}

TEST_F(ApplyTest, PutFlagsAndLeases) {
  etcdserverpb::PutRequest p;
  p.set_key("a");
  p.set_ignore_value(true);
  etcdserverpb::PutResponse out;
  ExpectErr(Write([&](mvcc::TxnWrite& t) { return Put(t, ctx_, p, &out); }), Code::kInvalidArgument,
            "etcdserver: key not found");
  ExpectErr(PutKV("a", "1", 9), Code::kNotFound, "etcdserver: requested lease not found");
  EXPECT_EQ(store_->CurrentRev(), 1);
  ASSERT_TRUE(PutKV("a", "1", 5).ok());
  // ignore_value keeps the value, ignore_lease the lease.
  p.set_lease(0);
  p.set_prev_kv(true);
  ASSERT_TRUE(Write([&](mvcc::TxnWrite& t) { return Put(t, ctx_, p, &out); }).ok());
  EXPECT_EQ(out.prev_kv().value(), "1");
  EXPECT_EQ(out.header().revision(), 3);
  RangeRequest r;
  r.set_key("a");
  auto got = Get(r);
  EXPECT_EQ(got.kvs(0).value(), "1");
  EXPECT_EQ(got.kvs(0).lease(), 0);
  etcdserverpb::PutRequest q;
  q.set_key("a");
  q.set_value("2");
  q.set_ignore_lease(true);
  out.Clear();
  ASSERT_TRUE(Write([&](mvcc::TxnWrite& t) { return Put(t, ctx_, q, &out); }).ok());
  EXPECT_FALSE(out.has_prev_kv());
  EXPECT_EQ(Get(r).kvs(0).value(), "2");
}

TEST_F(ApplyTest, RangeOptions) {
  // revs: a=2, b=3, c=4, a=5 (version 2)
  ASSERT_TRUE(PutKV("a", "z").ok());
  ASSERT_TRUE(PutKV("b", "y").ok());
  ASSERT_TRUE(PutKV("c", "x").ok());
  ASSERT_TRUE(PutKV("a", "w").ok());
  RangeRequest r;
  r.set_key("a");
  r.set_range_end(kNul);
  auto keys = [](const etcdserverpb::RangeResponse& o) {
    std::string s;
    for (const auto& kv : o.kvs())
      s += kv.key();
    return s;
  };
  EXPECT_EQ(keys(Get(r)), "abc");
  EXPECT_EQ(Get(r).header().revision(), 5);
  r.set_limit(2);
  auto o = Get(r);
  EXPECT_EQ(keys(o), "ab");
  EXPECT_TRUE(o.more());
  EXPECT_EQ(o.count(), 3);
  r.set_sort_order(RangeRequest::DESCEND);
  EXPECT_EQ(keys(Get(r)), "cb");
  r.set_limit(0);
  r.set_sort_order(RangeRequest::NONE);
  r.set_sort_target(RangeRequest::VALUE);  // NONE + non-key target = ASCEND
  EXPECT_EQ(keys(Get(r)), "acb");
  r.set_sort_target(RangeRequest::MOD);
  r.set_sort_order(RangeRequest::DESCEND);
  EXPECT_EQ(keys(Get(r)), "acb");
  r.set_sort_target(RangeRequest::CREATE);
  EXPECT_EQ(keys(Get(r)), "cba");
  r.set_sort_target(RangeRequest::VERSION);
  r.set_sort_order(RangeRequest::ASCEND);
  EXPECT_EQ(keys(Get(r)), "bca");
  r.set_sort_order(RangeRequest::NONE);
  r.set_sort_target(RangeRequest::KEY);
  r.set_min_mod_revision(3);
  r.set_max_mod_revision(4);
  o = Get(r);
  EXPECT_EQ(keys(o), "bc");
  EXPECT_EQ(o.count(), 3);  // count ignores filters
  r.clear_min_mod_revision();
  r.clear_max_mod_revision();
  r.set_min_create_revision(3);
  EXPECT_EQ(keys(Get(r)), "bc");
  r.set_max_create_revision(3);
  EXPECT_EQ(keys(Get(r)), "b");
  r.clear_min_create_revision();
  r.clear_max_create_revision();
  r.set_limit(1);
  r.set_min_create_revision(3);  // limit applied after filters
  o = Get(r);
  EXPECT_EQ(keys(o), "b");
  EXPECT_TRUE(o.more());
  r.clear_min_create_revision();
  r.set_limit(-1);  // etcd: negative = no limit
  EXPECT_EQ(keys(Get(r)), "abc");
  r.set_limit(0);
  r.set_keys_only(true);
  o = Get(r);
  EXPECT_EQ(o.kvs(0).value(), "");
  EXPECT_EQ(o.kvs(0).mod_revision(), 5);
  r.set_keys_only(false);
  r.set_count_only(true);
  o = Get(r);
  EXPECT_EQ(o.kvs_size(), 0);
  EXPECT_EQ(o.count(), 3);
  EXPECT_FALSE(o.more());
  r.set_count_only(false);
  r.set_revision(3);
  o = Get(r);
  EXPECT_EQ(keys(o), "ab");
  EXPECT_EQ(o.kvs(0).value(), "z");
  EXPECT_EQ(o.header().revision(), 5);
  Status st;
  r.set_revision(6);
  Get(r, &st);
  ExpectErr(st, Code::kOutOfRange, "etcdserver: mvcc: required revision is a future revision");
  r.set_range_end("b");
  r.set_revision(0);
  EXPECT_EQ(keys(Get(r)), "a");
  r.set_range_end("");
  r.set_key("b");
  EXPECT_EQ(keys(Get(r)), "b");
}

TEST_F(ApplyTest, TxnComparesAndNesting) {
  ASSERT_TRUE(PutKV("a", "1").ok());     // 2
  ASSERT_TRUE(PutKV("b", "1").ok());     // 3
  ASSERT_TRUE(PutKV("b", "2", 5).ok());  // 4
  auto cmp = [](const std::string& k, Compare::CompareTarget t, Compare::CompareResult res) {
    Compare c;
    c.set_key(k);
    c.set_target(t);
    c.set_result(res);
    return c;
  };
  auto succeeded = [&](std::vector<Compare> cs) {
    etcdserverpb::TxnRequest t;
    for (auto& c : cs)
      *t.add_compare() = c;
    return RunTxn(t).succeeded();
  };
  Compare c = cmp("a", Compare::VERSION, Compare::EQUAL);
  c.set_version(1);
  EXPECT_TRUE(succeeded({c}));
  c = cmp("zz", Compare::CREATE, Compare::EQUAL);  // missing key compares as 0
  c.set_create_revision(0);
  EXPECT_TRUE(succeeded({c}));
  c = cmp("zz", Compare::VALUE, Compare::NOT_EQUAL);  // VALUE vs missing: false
  c.set_value("x");
  EXPECT_FALSE(succeeded({c}));
  c = cmp("a", Compare::MOD, Compare::LESS);
  c.set_mod_revision(3);
  EXPECT_TRUE(succeeded({c}));
  c = cmp("b", Compare::LEASE, Compare::EQUAL);
  c.set_lease(5);
  EXPECT_TRUE(succeeded({c}));
  c = cmp("a", Compare::VALUE, Compare::GREATER);
  c.set_value("0");
  EXPECT_TRUE(succeeded({c}));
  // range compare: every key must match.
  c = cmp("a", Compare::VALUE, Compare::EQUAL);
  c.set_range_end("c");
  c.set_value("1");
  EXPECT_FALSE(succeeded({c}));
  c = cmp("a", Compare::CREATE, Compare::GREATER);
  c.set_range_end("c");
  c.set_create_revision(1);
  EXPECT_TRUE(succeeded({c}));
  EXPECT_EQ(store_->CurrentRev(), 4);  // read-only txns bump nothing

  // One revision per txn, responses in op order, nested txn.
  etcdserverpb::TxnRequest t;
  *t.add_success() = PutOp("x");
  etcdserverpb::RequestOp rop;
  rop.mutable_request_range()->set_key("x");
  *t.add_success() = rop;
  etcdserverpb::RequestOp n;
  Compare nc = cmp("x", Compare::VERSION, Compare::EQUAL);  // evaluated before the txn: x missing
  nc.set_version(0);
  *n.mutable_request_txn()->add_compare() = nc;
  *n.mutable_request_txn()->add_success() = DelOp("a");
  *n.mutable_request_txn()->add_failure() = PutOp("never");
  *t.add_success() = n;
  auto out = RunTxn(t);
  EXPECT_TRUE(out.succeeded());
  EXPECT_EQ(out.header().revision(), 5);
  ASSERT_EQ(out.responses_size(), 3);
  EXPECT_EQ(out.responses(0).response_put().header().revision(), 5);
  EXPECT_EQ(out.responses(1).response_range().kvs(0).mod_revision(), 5);
  EXPECT_EQ(out.responses(1).response_range().header().revision(), 5);
  const auto& nested = out.responses(2).response_txn();
  EXPECT_TRUE(nested.succeeded());
  EXPECT_EQ(nested.header().revision(), 0);
  EXPECT_EQ(nested.responses(0).response_delete_range().deleted(), 1);
  EXPECT_EQ(store_->CurrentRev(), 5);

  // Errors found before any write: nothing changes.
  etcdserverpb::TxnRequest bad;
  *bad.add_success() = PutOp("y");
  etcdserverpb::RequestOp lp = PutOp("z");
  lp.mutable_request_put()->set_lease(99);
  *bad.add_success() = lp;
  Status st;
  RunTxn(bad, &st);
  ExpectErr(st, Code::kNotFound, "etcdserver: requested lease not found");
  etcdserverpb::TxnRequest bad2;
  etcdserverpb::RequestOp iv = PutOp("nokey");
  iv.mutable_request_put()->set_ignore_value(true);
  *bad2.add_success() = iv;
  RunTxn(bad2, &st);
  ExpectErr(st, Code::kInvalidArgument, "etcdserver: key not found");
  etcdserverpb::TxnRequest bad3;
  etcdserverpb::RequestOp fr;
  fr.mutable_request_range()->set_key("a");
  fr.mutable_request_range()->set_revision(100);
  *bad3.add_success() = PutOp("q");
  *bad3.add_success() = fr;
  RunTxn(bad3, &st);
  ExpectErr(st, Code::kOutOfRange, "etcdserver: mvcc: required revision is a future revision");
  EXPECT_EQ(store_->CurrentRev(), 5);

  // A read-only txn on a ReadTxn.
  etcdserverpb::TxnRequest ro;
  *ro.add_success() = rop;
  auto v = store_->Read();
  etcdserverpb::TxnResponse rout;
  ASSERT_TRUE(TxnReadOnly(**v, ro, &rout).ok());
  EXPECT_EQ(rout.header().revision(), 5);
  EXPECT_EQ(rout.responses(0).response_range().count(), 1);
  EXPECT_TRUE(IsReadOnly(ro));
  EXPECT_FALSE(IsReadOnly(t));
}

TEST_F(ApplyTest, DeleteRangePrevKvAndRevision) {
  ASSERT_TRUE(PutKV("a", "1").ok());
  ASSERT_TRUE(PutKV("b", "2").ok());
  etcdserverpb::DeleteRangeRequest d;
  d.set_key("x");
  etcdserverpb::DeleteRangeResponse out;
  ASSERT_TRUE(Write([&](mvcc::TxnWrite& t) { return DeleteRange(t, d, &out); }).ok());
  EXPECT_EQ(out.deleted(), 0);
  EXPECT_EQ(out.header().revision(), 3);
  d.set_key("a");
  d.set_range_end(kNul);
  d.set_prev_kv(true);
  out.Clear();
  ASSERT_TRUE(Write([&](mvcc::TxnWrite& t) { return DeleteRange(t, d, &out); }).ok());
  EXPECT_EQ(out.deleted(), 2);
  EXPECT_EQ(out.prev_kvs_size(), 2);
  EXPECT_EQ(out.prev_kvs(1).value(), "2");
  EXPECT_EQ(out.header().revision(), 4);
}

}  // namespace
}  // namespace etcdpp::apply

namespace etcdpp::apply {
namespace {

// etcd: a range_end that sorts before the key is not an error; the range is
// empty, and a DeleteRange over it removes nothing and bumps no revision.
TEST_F(ApplyTest, RangeEndBeforeKeyIsEmptyNotAnError) {
  ASSERT_TRUE(PutKV("a", "1").ok());
  ASSERT_TRUE(PutKV("b", "2").ok());
  ASSERT_TRUE(PutKV("c", "3").ok());
  const int64_t rev = store_->CurrentRev();

  RangeRequest r;
  r.set_key("c");
  r.set_range_end("a");
  EXPECT_TRUE(CheckRange(r).ok());
  auto out = Get(r);
  EXPECT_EQ(out.kvs_size(), 0);
  EXPECT_EQ(out.count(), 0);
  EXPECT_FALSE(out.more());
  EXPECT_EQ(out.header().revision(), rev);

  etcdserverpb::DeleteRangeRequest d;
  d.set_key("c");
  d.set_range_end("a");
  d.set_prev_kv(true);
  EXPECT_TRUE(CheckDeleteRange(d).ok());
  etcdserverpb::DeleteRangeResponse dout;
  Status st = Write([&](mvcc::TxnWrite& t) { return DeleteRange(t, d, &dout); });
  EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(dout.deleted(), 0);
  EXPECT_EQ(dout.prev_kvs_size(), 0);
  EXPECT_EQ(store_->CurrentRev(), rev);
  r.set_key("a");
  r.set_range_end(kNul);
  EXPECT_EQ(Get(r).count(), 3);
}

}  // namespace
}  // namespace etcdpp::apply
