#include "mvcc/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "temp_dir.h"

namespace etcdpp::mvcc {
namespace {

using etcdpp::testing::TempDir;

// "p" + std::to_string(n) trips GCC 12's -Wrestrict false positive.
template <typename T>
std::string Cat(std::string a, T n) {
  a.append(std::to_string(n));
  return a;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen(Options o = {}) {
    store_.reset();
    auto s = Store::Open(dir_.path() + "/db", o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // One logical txn in its own batch.
  void PutOne(const std::string& k, const std::string& v, int64_t lease = 0) {
    auto b = store_->BeginBatch();
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    auto t = (*b)->BeginTxn();
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE((*t)->Put(k, v, lease).ok());
    ASSERT_TRUE((*t)->End().ok());
    ASSERT_TRUE((*b)->Commit().ok());
  }
  size_t DelOne(const std::string& k, const std::string& end = "") {
    auto b = store_->BeginBatch();
    EXPECT_TRUE(b.ok());
    auto t = (*b)->BeginTxn();
    auto r = (*t)->DeleteRange(k, end);
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE((*t)->End().ok());
    EXPECT_TRUE((*b)->Commit().ok());
    return r.ok() ? r->size() : 0;
  }
  Status CompactTo(int64_t rev) {
    auto b = store_->BeginBatch();
    EXPECT_TRUE(b.ok());
    Status st = (*b)->Compact(rev);
    EXPECT_TRUE((*b)->Commit().ok());
    if (st.ok()) {
      Status rs = store_->RunCompaction();
      EXPECT_TRUE(rs.ok()) << rs.ToString();
    }
    return st;
  }
  Result<RangeResult> Get(const std::string& k, const std::string& end = "", int64_t rev = 0) {
    auto r = store_->Read();
    EXPECT_TRUE(r.ok());
    RangeOptions o;
    o.rev = rev;
    return (*r)->Range(k, end, o);
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, EmptyStoreIsAtRevOne) {
  EXPECT_EQ(store_->CurrentRev(), 1);
  auto r = Get("a");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rev, 1);
  EXPECT_EQ(r->count, 0);
}

TEST_F(StoreTest, RevisionRules) {
  PutOne("a", "1");
  EXPECT_EQ(store_->CurrentRev(), 2);
  PutOne("a", "2", 7);
  PutOne("b", "x");
  auto r = Get("a");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].create_revision(), 2);
  EXPECT_EQ(r->kvs[0].mod_revision(), 3);
  EXPECT_EQ(r->kvs[0].version(), 2);
  EXPECT_EQ(r->kvs[0].lease(), 7);
  EXPECT_EQ(r->kvs[0].value(), "2");
  EXPECT_EQ(r->rev, 4);
  // Deleting nothing does not bump.
  EXPECT_EQ(DelOne("zzz"), 0u);
  EXPECT_EQ(store_->CurrentRev(), 4);
  EXPECT_EQ(DelOne("a", "c"), 2u);
  EXPECT_EQ(store_->CurrentRev(), 5);
  PutOne("a", "new");
  r = Get("a");
  EXPECT_EQ(r->kvs[0].create_revision(), 6);
  EXPECT_EQ(r->kvs[0].version(), 1);
}

TEST_F(StoreTest, TxnSeesOwnWritesAndSharesOneRevision) {
  PutOne("a", "0");
  auto b = store_->BeginBatch();
  ASSERT_TRUE(b.ok());
  auto t = (*b)->BeginTxn();
  EXPECT_EQ((*t)->Rev(), 2);
  ASSERT_TRUE((*t)->Put("x", "1", 0).ok());
  EXPECT_EQ((*t)->Rev(), 3);
  auto prev = (*t)->Put("x", "2", 0);
  ASSERT_TRUE(prev.ok());
  ASSERT_TRUE(prev->has_value());
  EXPECT_EQ((*prev)->value(), "1");
  auto r = (*t)->Range("x", "", {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kvs[0].value(), "2");
  EXPECT_EQ(r->kvs[0].version(), 2);
  auto d = (*t)->DeleteRange("a", "");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->size(), 1u);
  ASSERT_EQ((*t)->Changes().size(), 3u);
  EXPECT_EQ((*t)->Changes()[2].type(), mvccpb::Event::DELETE);
  EXPECT_EQ((*t)->Changes()[2].kv().mod_revision(), 3);
  ASSERT_TRUE((*t)->End().ok());
  // A read-only txn in the same batch bumps nothing.
  auto t2 = (*b)->BeginTxn();
  ASSERT_TRUE((*t2)->Range("a", "", {}).ok());
  ASSERT_TRUE((*t2)->End().ok());
  ASSERT_TRUE((*b)->Commit().ok());
  EXPECT_EQ(store_->CurrentRev(), 3);
  EXPECT_EQ(Get("a")->count, 0);
  EXPECT_EQ(Get("a", "", 2)->count, 1);
}

TEST_F(StoreTest, HistoricReadsAndErrors) {
  for (int i = 0; i < 10; ++i)
    PutOne("k", std::to_string(i));  // revs 2..11
  DelOne("k");                       // rev 12
  for (int rev = 2; rev <= 11; ++rev) {
    auto r = Get("k", "", rev);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->kvs.size(), 1u);
    EXPECT_EQ(r->kvs[0].value(), std::to_string(rev - 2));
    EXPECT_EQ(r->rev, 12);
  }
  EXPECT_EQ(Get("k", "", 12)->count, 0);
  auto f = Get("k", "", 13);
  EXPECT_EQ(f.status().code(), Code::kOutOfRange);
  EXPECT_EQ(f.status().message(), kErrFutureRev);
  ASSERT_TRUE(CompactTo(5).ok());
  auto c = Get("k", "", 4);
  EXPECT_EQ(c.status().message(), kErrCompacted);
  EXPECT_TRUE(Get("k", "", 5).ok());
  EXPECT_EQ(Get("k", "", 5)->kvs[0].value(), "3");
  EXPECT_EQ(CompactTo(5).message(), kErrCompacted);
  EXPECT_EQ(CompactTo(13).message(), kErrFutureRev);
}

TEST_F(StoreTest, CompactionAtTombstoneDropsKey) {
  PutOne("a", "1");  // 2
  PutOne("b", "1");  // 3
  DelOne("a");       // 4
  PutOne("b", "2");  // 5
  ASSERT_TRUE(CompactTo(4).ok());
  EXPECT_EQ(Get("a", "", 4)->count, 0);
  EXPECT_EQ(Get("b", "", 4)->kvs[0].value(), "1");
  EXPECT_EQ(Get("a", std::string(1, '\0'), 5)->count, 1);
  PutOne("a", "again");  // 6
  auto r = Get("a");
  EXPECT_EQ(r->kvs[0].create_revision(), 6);
  EXPECT_EQ(r->kvs[0].version(), 1);
}

TEST_F(StoreTest, EndNulRangesAll) {
  PutOne("a", "1");
  PutOne("b", "1");
  PutOne(std::string("\xff\xff", 2), "1");
  EXPECT_EQ(Get(std::string(1, '\0'), std::string(1, '\0'))->count, 3);
  EXPECT_EQ(Get("b", std::string(1, '\0'))->count, 2);
  EXPECT_EQ(Get("a", "b")->count, 1);
  EXPECT_EQ(Get("b", "a")->count, 0);
}

TEST_F(StoreTest, LongKeysKeepByteOrder) {
  std::mt19937_64 rng(42);
  std::map<std::string, std::string> want;
  std::vector<std::string> keys;
  const std::string shared_prefix(600, 'p');
  for (int i = 0; i < 120; ++i) {
    std::string k;
    switch (i % 4) {
      case 0:  // short
        k = Cat("p", rng() % 1000);
        break;
      case 1:  // long, shared 600-byte prefix (one surrogate run)
        k = shared_prefix + std::to_string(rng());
        break;
      case 2:  // exactly around the boundary
        k = std::string(470 + rng() % 20, 'p') + std::to_string(rng() % 10);
        break;
      default:  // 1 KiB - 100 KiB
        k = std::string(1024 + rng() % (99 * 1024), static_cast<char>('a' + rng() % 26));
        k += std::to_string(i);
        break;
    }
    PutOne(k, Cat("v", i));
    want[k] = Cat("v", i);
  }
  auto check = [&](const std::string& from, const std::string& to) {
    auto r = Get(from, to);
    ASSERT_TRUE(r.ok());
    std::vector<std::string> exp;
    for (auto& [k, v] : want) {
      if (k >= from && (to == std::string(1, '\0') || k < to)) exp.push_back(k);
    }
    ASSERT_EQ(r->kvs.size(), exp.size());
    for (size_t i = 0; i < exp.size(); ++i) {
      ASSERT_EQ(r->kvs[i].key(), exp[i]) << i;
      ASSERT_EQ(r->kvs[i].value(), want[exp[i]]);
    }
  };
  check(std::string(1, '\0'), std::string(1, '\0'));
  check("p", "q");
  check(shared_prefix, shared_prefix + "5");
  check(std::string(475, 'p'), std::string(485, 'p'));
  // Single-key gets and deletes of long keys.
  for (auto& [k, v] : want) {
    auto r = Get(k);
    ASSERT_EQ(r->kvs.size(), 1u);
    EXPECT_EQ(r->kvs[0].value(), v);
  }
  EXPECT_EQ(DelOne(shared_prefix, shared_prefix + "5"), [&] {
    size_t n = 0;
    for (auto it = want.begin(); it != want.end();) {
      if (it->first >= shared_prefix && it->first < shared_prefix + "5") {
        it = want.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }());
  check(std::string(1, '\0'), std::string(1, '\0'));
  ASSERT_TRUE(CompactTo(store_->CurrentRev()).ok());
  Reopen();
  check(std::string(1, '\0'), std::string(1, '\0'));
}

TEST_F(StoreTest, ReopenPreservesEverything) {
  PutOne("a", "1");
  PutOne("b", "2");
  DelOne("a");
  {
    auto b = store_->BeginBatch();
    (*b)->SetConsistentIndex(42, 7);
    ASSERT_TRUE((*b)->Compact(3).ok());
    ASSERT_TRUE((*b)->Commit().ok());
  }
  auto h1 = store_->HashKV(0);
  ASSERT_TRUE(h1.ok());
  Reopen();
  EXPECT_EQ(store_->ConsistentIndex(), 42u);
  EXPECT_EQ(store_->ConsistentTerm(), 7u);
  EXPECT_EQ(store_->CurrentRev(), 4);
  EXPECT_EQ(store_->CompactRev(), 3);
  EXPECT_EQ(Get("a", "", 2).status().message(), kErrCompacted);
  EXPECT_EQ(Get("a", "", 3)->kvs[0].value(), "1");
  // Physical compaction after restart changes nothing logical.
  ASSERT_TRUE(store_->RunCompaction().ok());
  auto h2 = store_->HashKV(0);
  ASSERT_TRUE(h2.ok());
  EXPECT_EQ(h1->hash, h2->hash);
  EXPECT_EQ(h2->compact_rev, 3);
  EXPECT_EQ(h2->hash_rev, 4);
}

TEST_F(StoreTest, HashKVEqualForSameHistory) {
  TempDir other;
  auto s2 = Store::Open(other.path() + "/db");
  ASSERT_TRUE(s2.ok());
  auto apply = [](Store& s, int seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 200; ++i) {
      auto b = s.BeginBatch();
      auto t = (*b)->BeginTxn();
      std::string k = Cat("k", rng() % 30);
      if (rng() % 4 == 0) {
        (void)(*t)->DeleteRange(k, "");
      } else {
        (void)(*t)->Put(k, std::to_string(rng()), 0);
      }
      (void)(*t)->End();
      if (i == 150) (void)(*b)->Compact(100);
      (void)(*b)->Commit();
    }
  };
  apply(*store_, 1);
  apply(**s2, 1);
  ASSERT_TRUE(store_->RunCompaction().ok());  // only one of them compacts physically
  for (int64_t rev : {0, 100, 120, 150}) {
    auto a = store_->HashKV(rev), b = (*s2)->HashKV(rev);
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->hash, b->hash) << rev;
  }
  EXPECT_EQ(store_->HashKV(99).status().message(), kErrCompacted);
  TempDir third;
  auto s3 = Store::Open(third.path() + "/db");
  apply(**s3, 2);
  EXPECT_NE((*s3)->HashKV(0)->hash, store_->HashKV(0)->hash);
}

TEST_F(StoreTest, CompactionFreesSpace) {
  const std::string big(4000, 'x');
  for (int i = 0; i < 400; ++i)
    PutOne(Cat("k", i % 10), big);
  int64_t before = store_->DbSizeInUseBytes();
  ASSERT_TRUE(CompactTo(store_->CurrentRev()).ok());
  // Two more commits let LMDB recycle the pages freed by the compaction.
  PutOne("z", "1");
  PutOne("z", "2");
  int64_t after = store_->DbSizeInUseBytes();
  EXPECT_LT(after * 4, before) << before << " -> " << after;
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(Get(Cat("k", i))->kvs[0].value(), big);
}

TEST_F(StoreTest, MapGrowsThenSpaceExceeded) {
  Options o;
  o.initial_map_size_bytes = 1 << 20;
  o.map_size_bytes = 8 << 20;
  Reopen(o);
  const std::string v(64 * 1024, 'v');
  // ~3 MiB in one batch: needs growth mid-batch (replay).
  {
    auto b = store_->BeginBatch();
    for (int i = 0; i < 48; ++i) {
      auto t = (*b)->BeginTxn();
      ASSERT_TRUE((*t)->Put(Cat("g", i), v, 0).ok()) << i;
      ASSERT_TRUE((*t)->End().ok());
    }
    ASSERT_TRUE((*b)->Commit().ok());
  }
  EXPECT_EQ(store_->CurrentRev(), 49);
  EXPECT_GT(store_->DbSizeBytes(), 1 << 20);
  // Now exceed the maximum: the failing txn errors, earlier ones survive.
  auto b = store_->BeginBatch();
  int ok = 0;
  Status last;
  for (int i = 0; i < 200; ++i) {
    auto t = (*b)->BeginTxn();
    ASSERT_TRUE(t.ok());
    auto p = (*t)->Put(Cat("h", i), v, 0);
    Status e = (*t)->End();
    if (!p.ok()) {
      last = p.status();
      EXPECT_FALSE(e.ok());
      break;
    }
    ++ok;
  }
  EXPECT_EQ(last.code(), Code::kResourceExhausted);
  EXPECT_EQ(last.message(), "etcdserver: mvcc: database space exceeded");
  ASSERT_TRUE((*b)->Commit().ok());
  b->reset();
  EXPECT_EQ(store_->CurrentRev(), 49 + ok);
  EXPECT_EQ(Get("h0", "h\xff")->count, ok);
  EXPECT_EQ(Get("g0")->kvs[0].value(), v);
}

// Readers on other threads keep seeing consistent snapshots while the writer
// commits and grows the map (which waits for them).
TEST_F(StoreTest, ConcurrentReadersDuringGrowth) {
  Options o;
  o.initial_map_size_bytes = 1 << 20;
  o.map_size_bytes = 64 << 20;
  Reopen(o);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, reads{0};
  auto reader = [&] {
    while (!stop.load()) {
      auto r = store_->Read();
      if (!r.ok()) {
        ++bad;
        continue;
      }
      auto res = (*r)->Range("k", "l", {});
      // Every key written in one batch carries that batch's value: a view
      // must never mix two batches.
      if (!res.ok()) {
        ++bad;
        continue;
      }
      for (const auto& kv : res->kvs) {
        if (kv.value() != res->kvs[0].value()) ++bad;
      }
      if (static_cast<int64_t>(res->kvs.size()) != (res->rev == 1 ? 0 : 8)) ++bad;
      ++reads;
    }
  };
  std::thread t1(reader), t2(reader);
  const std::string pad(16 * 1024, 'p');
  for (int batch = 0; batch < 60; ++batch) {
    auto b = store_->BeginBatch();
    ASSERT_TRUE(b.ok());
    for (int i = 0; i < 8; ++i) {
      auto t = (*b)->BeginTxn();
      ASSERT_TRUE((*t)->Put(Cat("k", i), Cat(pad, batch), 0).ok());
      ASSERT_TRUE((*t)->End().ok());
    }
    ASSERT_TRUE((*b)->Commit().ok());
  }
  stop = true;
  t1.join();
  t2.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store_->CurrentRev(), 1 + 60 * 8);
}

TEST_F(StoreTest, EventsReplayHistory) {
  PutOne("a", "1");  // 2
  PutOne("b", "1");  // 3
  {
    auto b = store_->BeginBatch();
    auto t = (*b)->BeginTxn();
    ASSERT_TRUE((*t)->Put("a", "2", 0).ok());
    ASSERT_TRUE((*t)->DeleteRange("b", "").ok());
    ASSERT_TRUE((*t)->End().ok());
    ASSERT_TRUE((*b)->Commit().ok());
  }                  // 4
  PutOne("c", "1");  // 5
  auto r = store_->Read();
  auto all = (*r)->Events(1, 0, 0, true);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->events.size(), 5u);
  EXPECT_EQ(all->next_rev, 6);
  const auto& e = all->events;
  EXPECT_EQ(e[0].type(), mvccpb::Event::PUT);
  EXPECT_FALSE(e[0].has_prev_kv());
  EXPECT_EQ(e[2].kv().value(), "2");
  EXPECT_EQ(e[2].prev_kv().value(), "1");
  EXPECT_EQ(e[3].type(), mvccpb::Event::DELETE);
  EXPECT_EQ(e[3].kv().key(), "b");
  EXPECT_EQ(e[3].kv().mod_revision(), 4);
  EXPECT_EQ(e[3].prev_kv().mod_revision(), 3);
  // max_events never splits a revision.
  auto part = (*r)->Events(3, 0, 2, false);
  ASSERT_EQ(part->events.size(), 3u);
  EXPECT_EQ(part->next_rev, 5);
  auto rest = (*r)->Events(part->next_rev, 0, 2, false);
  ASSERT_EQ(rest->events.size(), 1u);
  EXPECT_EQ(rest->next_rev, 6);
  EXPECT_EQ((*r)->Events(6, 0, 0, false)->events.size(), 0u);
  r->reset();
  ASSERT_TRUE(CompactTo(4).ok());
  r = store_->Read();
  EXPECT_EQ((*r)->Events(3, 0, 0, false).status().message(), kErrCompacted);
  auto after = (*r)->Events(4, 0, 0, true);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->events.size(), 2u);           // a@4 (b's tombstone at 4 is compacted away), c@5
  EXPECT_FALSE(after->events[0].has_prev_kv());  // rev 3 is compacted
}

// Compaction in steps, interleaved with batches and a newer Compact, ends in
// the same logical state as a compaction done at once.
TEST_F(StoreTest, CompactionStepsInterleaveWithWrites) {
  TempDir other_dir;
  Options o;
  o.unsafe_no_fsync = true;
  Reopen(o);
  auto other = Store::Open(other_dir.path() + "/db", o);
  ASSERT_TRUE(other.ok());
  auto write = [](Store& s, int from, int to, const std::string& v) {
    auto b = s.BeginBatch();
    for (int i = from; i < to; ++i) {
      auto t = (*b)->BeginTxn();
      ASSERT_TRUE((*t)->Put(Cat("k", i), v, 0).ok());
      ASSERT_TRUE((*t)->End().ok());
    }
    ASSERT_TRUE((*b)->Commit().ok());
  };
  auto compact = [](Store& s, int64_t rev) {
    auto b = s.BeginBatch();
    ASSERT_TRUE((*b)->Compact(rev).ok());
    ASSERT_TRUE((*b)->Commit().ok());
  };
  for (Store* s : {store_.get(), other->get()}) {
    write(*s, 0, 2500, "v1");  // revs 2..2501
    write(*s, 0, 2500, "v2");  // revs 2502..5001
    compact(*s, 2000);
  }
  auto step = store_->CompactionStep();
  ASSERT_TRUE(step.ok());
  EXPECT_FALSE(*step);  // 2500 keys: more than one chunk
  EXPECT_EQ(store_->CompactionStep().status().code(), Code::kOk);
  {
    auto b = store_->BeginBatch();
    EXPECT_EQ(store_->CompactionStep().status().code(), Code::kFailedPrecondition);
  }
  for (Store* s : {store_.get(), other->get()}) {
    write(*s, 0, 100, "v3");
    compact(*s, 4000);
  }
  ASSERT_TRUE(store_->RunCompaction().ok());
  ASSERT_TRUE((*other)->RunCompaction().ok());
  EXPECT_EQ(store_->HashKV(0)->hash, (*other)->HashKV(0)->hash);
  EXPECT_EQ(store_->HashKV(4500)->hash, (*other)->HashKV(4500)->hash);
  auto r = Get("k", "l", 4000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count, 2500);
  // k_i got v2 at revision 2502 + i.
  EXPECT_EQ(Get("k1498", "", 4000)->kvs[0].value(), "v2");
  EXPECT_EQ(Get("k1499", "", 4000)->kvs[0].value(), "v1");
  EXPECT_EQ(Get("k1499", "", 4000)->kvs[0].mod_revision(), 1501);
  EXPECT_EQ(Get("k0")->kvs[0].value(), "v3");
  EXPECT_EQ(Get("k0")->kvs[0].version(), 3);
}

TEST_F(StoreTest, DroppedTxnWriteIsDiscarded) {
  PutOne("a", "1");
  auto b = store_->BeginBatch();
  {
    auto t = (*b)->BeginTxn();
    ASSERT_TRUE((*t)->Put("a", "2", 0).ok());
    ASSERT_TRUE((*t)->Put("b", "2", 0).ok());
  }  // no End()
  auto t = (*b)->BeginTxn();
  ASSERT_TRUE((*t)->Put("c", "3", 0).ok());
  ASSERT_TRUE((*t)->End().ok());
  ASSERT_TRUE((*b)->Commit().ok());
  EXPECT_EQ(store_->CurrentRev(), 3);
  EXPECT_EQ(Get("a")->kvs[0].value(), "1");
  EXPECT_EQ(Get("b")->count, 0);
  EXPECT_EQ(Get("c")->kvs[0].mod_revision(), 3);
}

TEST_F(StoreTest, DirIsCreated0700AndFileIsRejected) {
  struct stat st;
  ASSERT_EQ(::stat((dir_.path() + "/db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  std::string f = dir_.path() + "/file";
  FILE* fp = fopen(f.c_str(), "w");
  fclose(fp);
  EXPECT_FALSE(Store::Open(f).ok());
  // The same dir twice at once is refused.
  auto again = Store::Open(dir_.path() + "/db");
  EXPECT_EQ(again.status().code(), Code::kUnavailable) << again.status().ToString();
}

}  // namespace
}  // namespace etcdpp::mvcc
