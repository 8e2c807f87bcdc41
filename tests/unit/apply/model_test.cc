// Random operation sequences through src/apply + src/mvcc, checked against
// the naive Model after every operation and at every historic revision.
// Reproduce a failure with ETCDPP_MODEL_SEED=<seed> (printed on failure).
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>

#include "apply/kv_apply.h"
#include "model.h"
#include "mvcc/temp_dir.h"

namespace etcdpp::apply {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::Model;

// The system under test, as the server would drive it: writes go through an
// applier batch holding several logical txns; reads through a committed
// ReadTxn or from inside the batch.
class Real {
 public:
  Real(std::string dir, mvcc::Options o) : dir_(std::move(dir)), opts_(o) { Open(); }

  void Open() {
    auto s = mvcc::Store::Open(dir_, opts_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void Reopen() {
    Flush();
    store_.reset();
    Open();
  }
  void Flush() {
    if (batch_) {
      Status st = batch_->Commit();
      ASSERT_TRUE(st.ok()) << st.ToString();
      batch_.reset();
    }
  }
  template <typename F>
  Status Write(F fn, bool commit) {
    if (!batch_) {
      auto b = store_->BeginBatch();
      EXPECT_TRUE(b.ok());
      batch_ = std::move(*b);
    }
    auto t = batch_->BeginTxn();
    EXPECT_TRUE(t.ok());
    Status st = fn(**t);
    Status end = (*t)->End();
    EXPECT_TRUE(end.ok()) << end.ToString();
    if (commit) Flush();
    return st;
  }
  template <typename F>
  Status Read(F fn, bool in_batch) {
    if (in_batch && batch_) return Write(fn, false);
    Flush();
    auto r = store_->Read();
    EXPECT_TRUE(r.ok());
    return fn(**r);
  }
  Status Compact(int64_t rev, bool physical) {
    Flush();
    auto b = store_->BeginBatch();
    Status st = (*b)->Compact(rev);
    EXPECT_TRUE((*b)->Commit().ok());
    b->reset();
    if (st.ok() && physical) {
      EXPECT_TRUE(store_->RunCompaction().ok());
    }
    return st;
  }
  mvcc::Store& store() { return *store_; }

 private:
  std::string dir_;
  mvcc::Options opts_;
  std::unique_ptr<mvcc::Store> store_;
  std::unique_ptr<mvcc::Batch> batch_;
};

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {
    const std::string long_prefix(600, 'm');
    keys_ = {"a",
             "ab",
             "b",
             "c",
             "d",
             std::string("e\xff", 2),
             "f",
             "g",
             long_prefix + "1",
             long_prefix + "2",
             std::string(2000, 'm'),
             std::string(480, 'm'),
             std::string(481, 'm')};
  }
  uint64_t U(uint64_t n) { return rng_() % n; }
  bool P(int pct) { return static_cast<int>(U(100)) < pct; }
  std::string Key() { return keys_[U(keys_.size())]; }
  std::string End(const std::string& key) {
    switch (U(6)) {
      case 0:
      case 1:
        return "";
      case 2:
        return std::string(1, '\0');
      case 3: {  // prefix end
        std::string e = key;
        while (!e.empty() && static_cast<unsigned char>(e.back()) == 0xff)
          e.pop_back();
        if (e.empty()) return std::string(1, '\0');
        e.back() = static_cast<char>(e.back() + 1);
        return e;
      }
      default:
        return Key();
    }
  }
  std::string Value() {
    return P(10) ? std::string() : std::string("v").append(std::to_string(U(5)));
  }

  etcdserverpb::RangeRequest Range(int64_t rev, int64_t compacted) {
    etcdserverpb::RangeRequest r;
    r.set_key(P(10) ? std::string(1, '\0') : Key());
    r.set_range_end(End(r.key()));
    if (P(30)) r.set_limit(static_cast<int64_t>(U(4)) - (P(10) ? 2 : 0));
    if (P(30))
      r.set_revision(std::max<int64_t>(compacted - 1, 0) +
                     static_cast<int64_t>(U(rev - compacted + 3)));
    if (P(30)) r.set_sort_order(static_cast<etcdserverpb::RangeRequest::SortOrder>(U(3)));
    if (P(30)) r.set_sort_target(static_cast<etcdserverpb::RangeRequest::SortTarget>(U(5)));
    if (P(10)) r.set_min_mod_revision(static_cast<int64_t>(U(rev + 1)));
    if (P(10)) r.set_max_mod_revision(static_cast<int64_t>(U(rev + 1)));
    if (P(10)) r.set_min_create_revision(static_cast<int64_t>(U(rev + 1)));
    if (P(10)) r.set_max_create_revision(static_cast<int64_t>(U(rev + 1)));
    r.set_keys_only(P(15));
    r.set_count_only(P(10));
    return r;
  }
  etcdserverpb::PutRequest Put() {
    etcdserverpb::PutRequest p;
    p.set_key(Key());
    p.set_prev_kv(P(50));
    if (P(10)) {
      p.set_ignore_value(true);
    } else {
      p.set_value(Value());
    }
    if (P(10)) {
      p.set_ignore_lease(true);
    } else if (P(30)) {
      p.set_lease(static_cast<int64_t>(U(4)));  // 3 does not exist
    }
    return p;
  }
  etcdserverpb::DeleteRangeRequest Delete() {
    etcdserverpb::DeleteRangeRequest d;
    d.set_key(Key());
    d.set_range_end(P(50) ? "" : End(d.key()));
    d.set_prev_kv(P(50));
    return d;
  }
  etcdserverpb::Compare Compare(int64_t rev) {
    using C = etcdserverpb::Compare;
    C c;
    c.set_key(Key());
    if (P(20)) c.set_range_end(End(c.key()));
    c.set_result(static_cast<C::CompareResult>(U(4)));
    c.set_target(static_cast<C::CompareTarget>(U(5)));
    switch (P(10) ? U(5) : static_cast<uint64_t>(c.target())) {  // mismatched union sometimes
      case C::VERSION:
        c.set_version(static_cast<int64_t>(U(4)));
        break;
      case C::CREATE:
        c.set_create_revision(static_cast<int64_t>(U(rev + 1)));
        break;
      case C::MOD:
        c.set_mod_revision(static_cast<int64_t>(U(rev + 1)));
        break;
      case C::VALUE:
        c.set_value(Value());
        break;
      default:
        c.set_lease(static_cast<int64_t>(U(3)));
        break;
    }
    if (P(5)) c.clear_target_union();
    return c;
  }
  etcdserverpb::TxnRequest Txn(int64_t rev, int64_t compacted, int depth) {
    etcdserverpb::TxnRequest t;
    for (uint64_t i = U(3); i > 0; --i)
      *t.add_compare() = Compare(rev);
    for (auto* branch : {t.mutable_success(), t.mutable_failure()}) {
      for (uint64_t i = U(4); i > 0; --i) {
        auto* op = branch->Add();
        switch (U(depth < 2 ? 4 : 3)) {
          case 0:
            *op->mutable_request_range() = Range(rev, compacted);
            break;
          case 1:
            *op->mutable_request_put() = Put();
            break;
          case 2:
            *op->mutable_request_delete_range() = Delete();
            break;
          default:
            *op->mutable_request_txn() = Txn(rev, compacted, depth + 1);
            break;
        }
      }
    }
    return t;
  }

 private:
  std::mt19937_64 rng_;
  std::vector<std::string> keys_;
};

template <typename M>
void ExpectSame(const Status& got_st, const M& got, const Status& want_st, const M& want,
                const char* what, int step) {
  ASSERT_EQ(got_st.code(), want_st.code())
      << what << " step " << step << ": " << got_st.ToString() << " vs " << want_st.ToString();
  ASSERT_EQ(got_st.message(), want_st.message()) << what << " step " << step;
  if (!got_st.ok()) return;
  ASSERT_TRUE(MessageDifferencer::Equals(got, want))
      << what << " step " << step << "\n got: " << got.ShortDebugString()
      << "\nwant: " << want.ShortDebugString();
}

// Every revision in [from, current] reads the same through both.
void CheckHistory(Real& real, const Model& model, int64_t from, int step) {
  etcdserverpb::RangeRequest all;
  all.set_key(std::string(1, '\0'));
  all.set_range_end(std::string(1, '\0'));
  from = std::max(from, std::max<int64_t>(model.CompactRev(), 1));
  ASSERT_EQ(real.store().CurrentRev(), model.Rev()) << "step " << step;
  for (int64_t rev = from; rev <= model.Rev(); ++rev) {
    all.set_revision(rev);
    etcdserverpb::RangeResponse got, want;
    Status gs = real.Read([&](mvcc::ReadView& v) { return Range(v, all, &got); }, false);
    Status ws = model.Range(all, &want);
    ExpectSame(gs, got, ws, want, "history", step);
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "at revision " << rev;
      return;
    }
  }
  if (model.CompactRev() > 1) {
    all.set_revision(model.CompactRev() - 1);
    etcdserverpb::RangeResponse got;
    Status gs = real.Read([&](mvcc::ReadView& v) { return Range(v, all, &got); }, false);
    ASSERT_EQ(gs.message(), mvcc::kErrCompacted);
  }
}

void RunSeed(uint64_t seed, int steps, uint64_t initial_map = 256ull << 20) {
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with ETCDPP_MODEL_SEED=" + std::to_string(seed) + ")");
  etcdpp::testing::TempDir dir;
  mvcc::Options opts;
  opts.unsafe_no_fsync = true;  // speed: durability is not what this test checks
  opts.initial_map_size_bytes = initial_map;
  Real real(dir.path() + "/db", opts);
  Model model;
  Gen g(seed);
  Context ctx;
  ctx.lease_exists = [](int64_t id) { return id >= 1 && id <= 2; };
  Limits limits;
  int skipped = 0;
  for (int step = 0; step < steps; ++step) {
    const bool commit = g.P(40);
    const uint64_t kind = g.U(100);
    if (kind < 30) {
      auto r = g.Put();
      if (!CheckPut(r).ok()) {
        ++skipped;
        continue;
      }
      etcdserverpb::PutResponse got, want;
      Status gs = real.Write([&](mvcc::TxnWrite& t) { return Put(t, ctx, r, &got); }, commit);
      Status ws = model.Put(r, &want);
      ExpectSame(gs, got, ws, want, "put", step);
    } else if (kind < 40) {
      auto r = g.Delete();
      etcdserverpb::DeleteRangeResponse got, want;
      Status gs = real.Write([&](mvcc::TxnWrite& t) { return DeleteRange(t, r, &got); }, commit);
      Status ws = model.DeleteRange(r, &want);
      ExpectSame(gs, got, ws, want, "delete", step);
    } else if (kind < 60) {
      auto r = g.Range(model.Rev(), model.CompactRev());
      if (!CheckRange(r).ok()) continue;
      etcdserverpb::RangeResponse got, want;
      Status gs = real.Read([&](mvcc::ReadView& v) { return Range(v, r, &got); }, g.P(50));
      Status ws = model.Range(r, &want);
      ExpectSame(gs, got, ws, want, "range", step);
    } else if (kind < 92) {
      auto r = g.Txn(model.Rev(), model.CompactRev(), 0);
      if (!CheckTxn(r, limits).ok()) {
        ++skipped;
        continue;
      }
      etcdserverpb::TxnResponse got, want;
      Status gs;
      if (IsReadOnly(r) && g.P(50)) {
        gs = real.Read([&](mvcc::ReadView& v) { return TxnReadOnly(v, r, &got); }, false);
      } else {
        gs = real.Write([&](mvcc::TxnWrite& t) { return Txn(t, ctx, r, &got); }, commit);
      }
      Status ws = model.Txn(r, &want);
      if (std::getenv("ETCDPP_MODEL_DEBUG") &&
          step == std::atoi(std::getenv("ETCDPP_MODEL_DEBUG"))) {
        std::cerr << r.ShortDebugString() << "\n"
                  << gs.ToString() << " " << got.ShortDebugString() << "\n";
      }
      ExpectSame(gs, got, ws, want, "txn", step);
    } else if (kind < 97) {
      // Mostly keep ~100 revisions of history; sometimes anything (errors).
      const int64_t span = model.Rev() - model.CompactRev() + 2;
      int64_t rev =
          g.P(30) ? model.CompactRev() - 1 + static_cast<int64_t>(g.U(static_cast<uint64_t>(span)))
                  : model.Rev() - 100 - static_cast<int64_t>(g.U(50));
      if (rev < 1) continue;
      Status gs = real.Compact(rev, g.P(70));
      Status ws = model.Compact(rev);
      ASSERT_EQ(gs.message(), ws.message()) << "compact " << rev << " step " << step;
    } else {
      real.Reopen();
    }
    if (::testing::Test::HasFatalFailure()) return;
    if (std::getenv("ETCDPP_MODEL_DEBUG")) {
      real.Flush();
      ASSERT_EQ(real.store().CurrentRev(), model.Rev()) << "step " << step << " kind " << kind;
    }
    if (step % 100 == 99) {
      real.Flush();
      CheckHistory(real, model, model.Rev() - 150, step);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  real.Flush();
  CheckHistory(real, model, 0, steps);
  if (::testing::Test::HasFatalFailure()) return;
  // Reopen: the whole history (from the compacted revision) survives.
  real.Reopen();
  CheckHistory(real, model, 0, steps);
  EXPECT_LT(skipped, steps / 2);
  std::cout << "seed " << seed << ": " << steps << " steps, final rev " << model.Rev()
            << ", compacted " << model.CompactRev() << ", skipped " << skipped << "\n";
}

TEST(ModelTest, RandomSequencesMatchModel) {
  if (const char* s = std::getenv("ETCDPP_MODEL_SEED")) {
    RunSeed(std::strtoull(s, nullptr, 10), 3000);
    return;
  }
  for (uint64_t seed : {1, 2, 3, 4, 5, 6, 7, 8}) {
    RunSeed(seed, 2500);
    if (::testing::Test::HasFailure()) return;
  }
}

// A tiny initial map: growth (abort + replay of the batch) happens mid-batch.
TEST(ModelTest, RandomSequencesWithMapGrowth) {
  RunSeed(99, 2500, 64 << 10);
}

}  // namespace
}  // namespace etcdpp::apply
