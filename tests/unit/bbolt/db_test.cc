// bbolt page-format reader: hand-built files (meta pages, a root leaf with an
// inline bucket, a branch page, an overflow page) and damaged ones.
#include "bbolt/db.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace etcdpp::bbolt {
namespace {

constexpr uint32_t kPs = 4096;

void Put16(std::string& b, size_t off, uint16_t v) {
  for (int i = 0; i < 2; i++)
    b[off + i] = static_cast<char>(v >> (8 * i));
}
void Put32(std::string& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; i++)
    b[off + i] = static_cast<char>(v >> (8 * i));
}
void Put64(std::string& b, size_t off, uint64_t v) {
  for (int i = 0; i < 8; i++)
    b[off + i] = static_cast<char>(v >> (8 * i));
}

uint64_t Fnv(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

struct Elem {
  std::string key, value;
  uint32_t flags = 0;  // leaf: 1 = bucket; branch: unused
  uint64_t child = 0;  // branch only
};

// Writes a page header and elements (keys/values after the element array)
// into `b` at `off` (the page's first byte).
void WritePage(std::string& b, size_t off, uint64_t id, uint16_t flags,
               const std::vector<Elem>& elems, uint32_t overflow = 0) {
  Put64(b, off, id);
  Put16(b, off + 8, flags);
  Put16(b, off + 10, static_cast<uint16_t>(elems.size()));
  Put32(b, off + 12, overflow);
  size_t data = off + 16 + 16 * elems.size();
  for (size_t i = 0; i < elems.size(); i++) {
    const size_t e = off + 16 + 16 * i;
    const auto& el = elems[i];
    if (flags == 0x01) {
      Put32(b, e, static_cast<uint32_t>(data - e));
      Put32(b, e + 4, static_cast<uint32_t>(el.key.size()));
      Put64(b, e + 8, el.child);
    } else {
      Put32(b, e, el.flags);
      Put32(b, e + 4, static_cast<uint32_t>(data - e));
      Put32(b, e + 8, static_cast<uint32_t>(el.key.size()));
      Put32(b, e + 12, static_cast<uint32_t>(el.value.size()));
    }
    std::memcpy(&b[data], el.key.data(), el.key.size());
    data += el.key.size();
    std::memcpy(&b[data], el.value.data(), el.value.size());
    data += el.value.size();
  }
}

void WriteMeta(std::string& b, uint64_t page, uint64_t root, uint64_t pgid, uint64_t txid) {
  const size_t off = page * kPs;
  Put64(b, off, page);
  Put16(b, off + 8, 0x04);
  const size_t m = off + 16;
  Put32(b, m, kMagic);
  Put32(b, m + 4, kVersion);
  Put32(b, m + 8, kPs);
  Put64(b, m + 16, root);
  Put64(b, m + 32, 2);  // freelist page
  Put64(b, m + 40, pgid);
  Put64(b, m + 48, txid);
  Put64(b, m + 56, Fnv(b.substr(m, 56)));
}

std::string BucketValue(uint64_t root) {
  std::string v(16, '\0');
  Put64(v, 0, root);
  return v;
}

std::string InlineBucket(const std::vector<Elem>& elems) {
  std::string v(16 + 16 + 16 * elems.size(), '\0');
  size_t extra = 0;
  for (const auto& e : elems)
    extra += e.key.size() + e.value.size();
  v.resize(v.size() + extra);
  WritePage(v, 16, 0, 0x02, elems);
  return v;
}

// Pages: 0,1 meta; 2 freelist; 3 root leaf {big: bucket@4, small: inline};
// 4 branch -> 5, 6; 5 leaf {a, b}; 6-7 leaf {c: 6000-byte value} (overflow 1).
std::string SampleFile() {
  std::string b(8 * kPs, '\0');
  WriteMeta(b, 0, 3, 8, 4);
  WriteMeta(b, 1, 3, 8, 5);
  Put64(b, 2 * kPs, 2);
  Put16(b, 2 * kPs + 8, 0x10);
  WritePage(b, 3 * kPs, 3, 0x02,
            {{"big", BucketValue(4), 1}, {"small", InlineBucket({{"x", "1"}, {"y", "2"}}), 1}});
  WritePage(b, 4 * kPs, 4, 0x01, {{"a", "", 0, 5}, {"c", "", 0, 6}});
  WritePage(b, 5 * kPs, 5, 0x02, {{"a", "va"}, {"b", "vb"}});
  WritePage(b, 6 * kPs, 6, 0x02, {{"c", std::string(6000, 'c')}}, 1);
  return b;
}

std::vector<std::pair<std::string, std::string>> All(const Db& db, std::string_view bucket) {
  std::vector<std::pair<std::string, std::string>> out;
  Status st = db.ForEach(bucket, [&](std::string_view k, std::string_view v, bool) {
    out.emplace_back(k, v);
    return Status::OK();
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(BboltDb, Open_readsNewestMetaAndWalksBuckets) {
  std::string f = SampleFile();
  ASSERT_TRUE(LooksLikeBbolt(f));
  auto db = Db::Open(f);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(db->meta().txid, 5u);
  EXPECT_EQ(db->SizeBytes(), 8u * kPs);
  auto names = db->Buckets();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"big", "small"}));
  auto big = All(*db, "big");
  ASSERT_EQ(big.size(), 3u);
  EXPECT_EQ(big[0], std::make_pair(std::string("a"), std::string("va")));
  EXPECT_EQ(big[1], std::make_pair(std::string("b"), std::string("vb")));
  EXPECT_EQ(big[2].first, "c");
  EXPECT_EQ(big[2].second, std::string(6000, 'c'));  // spans the overflow page
  auto small = All(*db, "small");
  ASSERT_EQ(small.size(), 2u);
  EXPECT_EQ(small[1], std::make_pair(std::string("y"), std::string("2")));
  auto v = db->Get("small", "x");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "1");
  EXPECT_EQ(db->ForEach("nope", [](auto, auto, bool) { return Status::OK(); }).code(),
            Code::kNotFound);
}

TEST(BboltDb, Open_fallsBackToTheOtherMetaWhenOneIsDamaged) {
  std::string f = SampleFile();
  f[kPs + 16 + 48] ^= 1;  // txid of meta 1 changes: its checksum fails
  auto db = Db::Open(f);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(db->meta().txid, 4u);
  f[16] ^= 1;  // and meta 0's magic
  EXPECT_EQ(Db::Open(f).status().code(), Code::kCorruption);
}

TEST(BboltDb, Walk_damagedPagesAreCorruptionNotCrashes) {
  const std::string good = SampleFile();
  {
    std::string f = good;
    Put64(f, 4 * kPs + 16 + 8, 99);  // branch child beyond the high-water mark
    auto db = Db::Open(f);
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(db->ForEach("big", [](auto, auto, bool) { return Status::OK(); }).code(),
              Code::kCorruption);
  }
  {
    std::string f = good;
    Put32(f, 5 * kPs + 16 + 12, 1u << 20);  // value size beyond the page
    auto db = Db::Open(f);
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(db->ForEach("big", [](auto, auto, bool) { return Status::OK(); }).code(),
              Code::kCorruption);
  }
  {
    std::string f = good;
    Put64(f, 4 * kPs + 16 + 8, 4);  // branch pointing at itself: a cycle
    auto db = Db::Open(f);
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(db->ForEach("big", [](auto, auto, bool) { return Status::OK(); }).code(),
              Code::kCorruption);
  }
  {
    std::string f = good.substr(0, 5 * kPs);  // truncated below the high-water mark
    EXPECT_EQ(Db::Open(f).status().code(), Code::kCorruption);
  }
  // Every single-byte flip in the data pages: an answer or an error, never a crash.
  for (size_t off = 3 * kPs; off < 8 * kPs; off += 7) {
    std::string f = good;
    f[off] ^= 0x5a;
    auto db = Db::Open(f);
    if (!db.ok()) continue;
    (void)db->ForEachRoot([&](std::string_view k, std::string_view, bool is_bucket) {
      if (is_bucket) (void)db->ForEach(k, [](auto, auto, bool) { return Status::OK(); });
      return Status::OK();
    });
  }
}

TEST(BboltDb, LooksLikeBbolt_rejectsOtherFiles) {
  EXPECT_FALSE(LooksLikeBbolt(std::string(64, '\0')));
  EXPECT_FALSE(LooksLikeBbolt("short"));
}

}  // namespace
}  // namespace etcdpp::bbolt
