// RangeStreamCursor: merged chunks == ReadTxn::Range at the pinned revision,
// on random data (long keys included), with a fresh snapshot per chunk as the
// server takes them; byte bounds; chunk growth; compaction between chunks.
#include "mvcc/range_stream.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "mvcc/index_codec.h"
#include "store_fixture.h"

namespace etcdpp::mvcc {
namespace {

using Kvs = google::protobuf::RepeatedPtrField<mvccpb::KeyValue>;

class RangeStreamTest : public StoreFixture {
 protected:
  // One logical txn per call (one revision), committed at once.
  int64_t Put(const std::vector<std::pair<std::string, std::string>>& items) {
    auto b = Begin();
    auto t = b->BeginTxn();
    EXPECT_TRUE(t.ok());
    for (const auto& [k, v] : items)
      EXPECT_TRUE((*t)->Put(k, v, 0).ok());
    EXPECT_TRUE((*t)->End().ok());
    EXPECT_TRUE(b->Commit().ok());
    return store_->CurrentRev();
  }
  void Delete(const std::string& key, const std::string& end) {
    auto b = Begin();
    auto t = b->BeginTxn();
    EXPECT_TRUE((*t)->DeleteRange(key, end).ok());
    EXPECT_TRUE((*t)->End().ok());
    EXPECT_TRUE(b->Commit().ok());
  }
  void Compact(int64_t rev) {
    auto b = Begin();
    ASSERT_TRUE(b->Compact(rev).ok());
    ASSERT_TRUE(b->Commit().ok());
  }

  struct Streamed {
    Status status;
    std::vector<mvccpb::KeyValue> kvs;
    std::vector<size_t> chunk_sizes;  // kvs per chunk
    std::vector<size_t> chunk_bytes;
    RangeStreamChunk last;
  };
  // `between(i)` runs after chunk i, before the next chunk's snapshot.
  Streamed Stream(const RangeStreamOptions& o,
                  const std::function<void(size_t)>& between = nullptr) {
    Streamed out;
    RangeStreamCursor cur(o);
    for (size_t i = 0;; ++i) {
      auto txn = store_->Read();
      EXPECT_TRUE(txn.ok());
      Kvs kvs;
      auto c = cur.Next(**txn, &kvs);
      txn->reset();
      if (!c.ok()) {
        out.status = c.status();
        return out;
      }
      out.chunk_sizes.push_back(kvs.size());
      out.chunk_bytes.push_back(c->bytes);
      for (auto& kv : kvs)
        out.kvs.push_back(kv);
      if (c->last) {
        out.last = *c;
        return out;
      }
      EXPECT_LT(i, 100000u) << "no progress";
      if (between) between(i);
    }
  }
  Result<RangeResult> Unary(const RangeStreamOptions& o, int64_t rev) {
    auto txn = store_->Read();
    EXPECT_TRUE(txn.ok());
    RangeOptions ro;
    ro.rev = rev;
    ro.count_only = o.count_only;
    ro.limit = o.limit > 0 ? o.limit : 0;
    return (**txn).Range(o.key, o.end, ro);
  }
};

std::string RandomKey(std::mt19937& rng) {
  static const char* kPrefixes[] = {"a", "ab", "b", "b\xff", "c/"};
  std::string k = kPrefixes[rng() % 5];
  k += std::to_string(rng() % 500);
  if (rng() % 20 == 0) k += std::string(kShortKeyMax + rng() % 40, 'L');  // a long key
  if (rng() % 20 == 0) k += std::to_string(rng() % 3);
  return k;
}

TEST_F(RangeStreamTest, MergedChunksEqualRangeOnRandomData) {
  std::mt19937 rng(20261125);
  std::vector<std::string> keys;
  for (int i = 0; i < 600; ++i)
    keys.push_back(RandomKey(rng));
  std::vector<int64_t> revs;
  for (int round = 0; round < 4; ++round) {
    std::vector<std::pair<std::string, std::string>> items;
    for (const auto& k : keys) {
      if (rng() % 3 != 0) items.emplace_back(k, std::string(rng() % 3000, char('A' + round)));
    }
    for (size_t i = 0; i < items.size(); i += 100) {
      std::vector<std::pair<std::string, std::string>> part(
          items.begin() + i, items.begin() + std::min(items.size(), i + 100));
      Put(part);
    }
    for (int d = 0; d < 20; ++d)
      Delete(keys[rng() % keys.size()], "");
    Delete("b5", "b6");
    revs.push_back(store_->CurrentRev());
  }
  Compact(revs[0]);

  for (int i = 0; i < 300; ++i) {
    RangeStreamOptions o;
    std::string a = keys[rng() % keys.size()], b = keys[rng() % keys.size()];
    if (b < a) std::swap(a, b);
    switch (rng() % 6) {
      case 0:
        o.key = a;
        break;  // one key
      case 1:
        o.key = a;
        o.end = b;
        break;
      case 2:
        o.key = "b";
        o.end = "c";
        break;
      case 3:
        o.key = a;
        o.end = std::string(1, '\0');
        break;
      case 4:
        o.key = std::string(1, '\0');
        o.end = std::string(1, '\0');
        break;
      default:
        o.key = b;
        o.end = a;
        break;  // empty unless a == b
    }
    const int64_t limits[] = {0, 0, 1, 2, 10, 11, 99, 100000, -3};
    o.limit = limits[rng() % 9];
    o.keys_only = rng() % 4 == 0;
    o.count_only = rng() % 8 == 0;
    o.rev = rng() % 2 ? 0 : revs[rng() % revs.size()];
    o.byte_budget = (rng() % 2) ? 1572864 : 4096 + rng() % 20000;
    o.first_chunk_kvs = 10;
    if (rng() % 3 == 0) {  // resume at arbitrary points, also while only counting
      o.first_call_visits = 1 + rng() % 20;
      o.visits_per_call = 1 + rng() % 300;
    }

    SCOPED_TRACE("request " + std::to_string(i) + " limit " + std::to_string(o.limit) + " rev " +
                 std::to_string(o.rev) + " budget " + std::to_string(o.byte_budget));
    Streamed s = Stream(o);
    ASSERT_TRUE(s.status.ok()) << s.status.ToString();
    auto u = Unary(o, o.rev);
    ASSERT_TRUE(u.ok());
    EXPECT_EQ(s.last.header_rev, u->rev);
    EXPECT_EQ(s.last.count, u->count);
    const int64_t lim = o.limit > 0 ? o.limit : 0;
    EXPECT_EQ(s.last.more, !o.count_only && lim > 0 && u->count > lim);
    ASSERT_EQ(s.kvs.size(), u->kvs.size());
    for (size_t j = 0; j < s.kvs.size(); ++j) {
      mvccpb::KeyValue want = u->kvs[j];
      if (o.keys_only) want.clear_value();
      EXPECT_EQ(s.kvs[j].SerializeAsString(), want.SerializeAsString()) << "kv " << j;
    }
    ASSERT_FALSE(s.chunk_sizes.empty());
    EXPECT_LE(s.chunk_sizes[0], 10u);
    for (size_t j = 0; j < s.chunk_bytes.size(); ++j) {
      if (s.chunk_sizes[j] > 1) {
        EXPECT_LE(s.chunk_bytes[j], o.byte_budget) << "chunk " << j;
      }
    }
  }
}

TEST_F(RangeStreamTest, ChunksGrowFromTenAndAreByteBounded) {
  std::vector<std::pair<std::string, std::string>> items;
  for (int i = 0; i < 5000; ++i) {
    char k[16];
    std::snprintf(k, sizeof k, "k%05d", i);
    items.emplace_back(k, "v");
  }
  for (size_t i = 0; i < items.size(); i += 500) {
    Put({items.begin() + i, items.begin() + i + 500});
  }
  RangeStreamOptions o;
  o.key = "k";
  o.end = "l";
  Streamed s = Stream(o);
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.kvs.size(), 5000u);
  EXPECT_EQ(s.chunk_sizes[0], 10u);
  EXPECT_EQ(s.chunk_sizes[1], 20u);  // doubled: the first chunk was far below the budget
  EXPECT_EQ(s.last.count, 5000);

  // Values of 3000 bytes under a 10000-byte budget: 3 per chunk, never more.
  Put({{"big/1", std::string(3000, 'x')},
       {"big/2", std::string(3000, 'x')},
       {"big/3", std::string(3000, 'x')},
       {"big/4", std::string(3000, 'x')},
       {"big/5", std::string(3000, 'x')},
       {"big/6", std::string(3000, 'x')},
       {"big/7", std::string(3000, 'x')}});
  o.key = "big/";
  o.end = "big0";
  o.byte_budget = 10000;
  s = Stream(o);
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.chunk_sizes, (std::vector<size_t>{3, 3, 1}));
  // A kv above the budget still goes out, alone.
  o.byte_budget = 1000;
  s = Stream(o);
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.chunk_sizes, (std::vector<size_t>(7, 1)));
}

TEST_F(RangeStreamTest, VisitBudgetBoundsEachCallEvenWhileOnlyCounting) {
  std::vector<std::pair<std::string, std::string>> items;
  for (int i = 0; i < 3000; ++i)
    items.emplace_back("n/" + std::to_string(10000 + i), "v");
  for (size_t i = 0; i < items.size(); i += 500) {
    Put({items.begin() + i, items.begin() + i + 500});
  }
  RangeStreamOptions o;
  o.key = "n/";
  o.end = "n0";
  o.count_only = true;
  o.first_call_visits = 7;
  o.visits_per_call = 1000;
  Streamed s = Stream(o);
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.chunk_sizes, (std::vector<size_t>(4, 0)));  // 7, 1000, 1000, 993
  EXPECT_EQ(s.last.count, 3000);
  EXPECT_FALSE(s.last.more);

  o.count_only = false;
  o.limit = 3;
  s = Stream(o);
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.chunk_sizes, (std::vector<size_t>{3, 0, 0, 0}));
  EXPECT_EQ(s.kvs.size(), 3u);
  EXPECT_EQ(s.last.count, 3000);
  EXPECT_TRUE(s.last.more);
}

TEST_F(RangeStreamTest, PinnedRevisionUnderWritesBetweenChunks) {
  std::vector<std::pair<std::string, std::string>> items;
  for (int i = 0; i < 200; ++i)
    items.emplace_back("p/" + std::to_string(1000 + i), "old");
  const int64_t rev = Put(items);
  RangeStreamOptions o;
  o.key = "p/";
  o.end = "p0";
  o.first_chunk_kvs = 7;
  int writes = 0;
  Streamed s = Stream(o, [&](size_t i) {
    Put({{"p/" + std::to_string(1000 + i * 3), "new"}, {"p/" + std::to_string(5000 + i), "n"}});
    if (i == 2) Delete("p/1100", "p/1150");
    ++writes;
  });
  ASSERT_TRUE(s.status.ok());
  EXPECT_GT(writes, 3);
  EXPECT_EQ(s.last.header_rev, rev);
  EXPECT_EQ(s.last.count, 200);
  ASSERT_EQ(s.kvs.size(), 200u);
  for (const auto& kv : s.kvs)
    EXPECT_EQ(kv.value(), "old") << kv.key();
}

TEST_F(RangeStreamTest, CompactionPastThePinnedRevisionFailsTheNextChunk) {
  std::vector<std::pair<std::string, std::string>> items;
  for (int i = 0; i < 100; ++i)
    items.emplace_back("c/" + std::to_string(100 + i), "v");
  Put(items);
  RangeStreamOptions o;
  o.key = "c/";
  o.end = "c0";
  Streamed s = Stream(o, [&](size_t i) {
    if (i == 1) Compact(Put({{"other", "x"}}));
  });
  EXPECT_EQ(s.status.code(), Code::kOutOfRange);
  EXPECT_EQ(s.status.message(), kErrCompacted);
  EXPECT_EQ(s.kvs.size(), 10u + 20u);  // two chunks went out before it

  // A compaction AT the pinned revision is fine (== is allowed, as Range).
  const int64_t rev = Put({{"other", "y"}});  // the revision the next stream pins
  s = Stream(o, [&](size_t i) {
    if (i == 0) {
      Put({{"other", "z"}});
      Compact(rev);
    }
  });
  EXPECT_TRUE(s.status.ok()) << s.status.ToString();
  EXPECT_EQ(s.kvs.size(), 100u);

  o.rev = rev - 1;  // below the compacted revision: fails at once
  s = Stream(o);
  EXPECT_EQ(s.status.message(), kErrCompacted);
  o.rev = store_->CurrentRev() + 1;  // the future
  s = Stream(o);
  EXPECT_EQ(s.status.message(), kErrFutureRev);
}

TEST_F(RangeStreamTest, EmptyRangeIsOneFinalChunk) {
  Put({{"x", "1"}});
  RangeStreamOptions o;
  o.key = "y";
  o.end = "z";
  Streamed s = Stream(o);
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.chunk_sizes, (std::vector<size_t>{0}));
  EXPECT_EQ(s.last.count, 0);
  EXPECT_FALSE(s.last.more);
  EXPECT_EQ(s.last.header_rev, store_->CurrentRev());
}

}  // namespace
}  // namespace etcdpp::mvcc
