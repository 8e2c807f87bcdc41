// Recovery: torn tails are repaired, corruption is refused with file and
// offset (docs/wal_format.md, "Reading and recovery"). Each case damages real
// files in a temp dir, leveldb log_test.cc style.
#include <random>

#include "alloc_tracker.h"
#include "gtest/gtest.h"
#include "test_util.h"
#include "wal/segment_reader.h"
#include "wal/wal.h"

namespace etcdpp::wal {
namespace {

using testing::FlipByte;
using testing::MakeEntry;
using testing::ReadBack;
using testing::RecordsOf;
using testing::SegmentPaths;
using testing::SetBytes;
using testing::TempDir;

// These tests fake crashes by editing files, so real fsyncs only cost time
// (hundreds of them per test on a busy machine); fault_test.cc covers syncing.
Options Opts(uint64_t segment_bytes = 64 << 10) {
  Options o;
  o.segment_bytes = segment_bytes;
  o.unsafe_no_fsync = true;
  return o;
}

std::vector<raft::Entry> Entries(uint64_t from, uint64_t to, size_t size = 30) {
  std::vector<raft::Entry> v;
  for (uint64_t i = from; i <= to; ++i) {
    std::string d(size, '\0');
    for (size_t k = 0; k < size; ++k)
      d[k] = static_cast<char>('a' + (i * 7 + k) % 26);
    v.push_back(MakeEntry(1, i, d));
  }
  return v;
}

// Writes entries 1..n, one Save (one fsync) each.
void WriteLog(const std::string& dir, uint64_t n, const Options& o, size_t size = 30) {
  auto w = Wal::Create(dir, "meta", o);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (uint64_t i = 1; i <= n; ++i)
    ASSERT_TRUE((*w)->Save({}, Entries(i, i, size)).ok());
  ASSERT_TRUE((*w)->Close().ok());
}

// After a repaired tail the WAL must take appends, and they must read back.
void ExpectAppendable(const std::string& dir, const Options& o, uint64_t last) {
  {
    auto w = Wal::Open(dir, {}, o);
    ASSERT_TRUE(w.ok());
    auto r = (*w)->ReadAll();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->repaired.has_value()) << "repair must be durable";
    ASSERT_TRUE((*w)->Save({}, Entries(last + 1, last + 2)).ok());
  }
  auto r = ReadBack(dir, {}, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->entries, Entries(1, last + 2));
}

bool HasFileAndOffset(const Status& st, const std::string& path, uint64_t offset) {
  return st.message().find(path) != std::string::npos &&
         st.message().find("at offset " + std::to_string(offset)) != std::string::npos;
}

TEST(Recovery, TruncatedLastRecordAtEveryOffset) {
  TempDir tmp;
  const std::string golden = tmp.root() + "/golden";
  WriteLog(golden, 5, Opts());
  auto seg = SegmentPaths(golden).back();
  auto recs = RecordsOf(seg);
  const auto last = recs.back();
  for (uint64_t cut = last.offset; cut < last.offset + last.size; ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const std::string dir = tmp.root() + "/t";
    testing::CopyDir(golden, dir);
    testing::TruncateFile(SegmentPaths(dir).back(), cut);
    auto r = ReadBack(dir, {}, Opts());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->entries, Entries(1, 4));
    EXPECT_EQ(r->repaired.has_value(), cut > last.offset);
    if (r->repaired) {
      EXPECT_EQ(r->repaired->offset, last.offset);
      EXPECT_LE(r->repaired->dropped_bytes, cut - last.offset);
    }
    ExpectAppendable(dir, Opts(), 4);
  }
}

TEST(Recovery, ZeroedTailOfLastRecordAtEveryOffset) {
  // The preallocated file keeps its size; the record's end never reached the disk.
  TempDir tmp;
  const std::string golden = tmp.root() + "/golden";
  WriteLog(golden, 5, Opts());
  const auto last = RecordsOf(SegmentPaths(golden).back()).back();
  for (uint64_t from = last.offset; from < last.offset + last.size; ++from) {
    SCOPED_TRACE("zero from " + std::to_string(from));
    const std::string dir = tmp.root() + "/t";
    testing::CopyDir(golden, dir);
    SetBytes(SegmentPaths(dir).back(), from, std::string(last.offset + last.size - from, '\0'));
    auto r = ReadBack(dir, {}, Opts());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->entries, Entries(1, 4));
    ExpectAppendable(dir, Opts(), 4);
  }
}

TEST(Recovery, FlippedByteInLastRecordAtEveryOffset) {
  TempDir tmp;
  const std::string golden = tmp.root() + "/golden";
  WriteLog(golden, 5, Opts());
  const auto last = RecordsOf(SegmentPaths(golden).back()).back();
  for (uint64_t at = last.offset; at < last.offset + last.size; ++at) {
    for (uint8_t mask : {0x01, 0x80}) {
      SCOPED_TRACE("flip at " + std::to_string(at) + " mask " + std::to_string(mask));
      const std::string dir = tmp.root() + "/t";
      testing::CopyDir(golden, dir);
      FlipByte(SegmentPaths(dir).back(), at, mask);
      auto r = ReadBack(dir, {}, Opts());
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->entries, Entries(1, 4));
      ASSERT_TRUE(r->repaired.has_value());
      EXPECT_EQ(r->repaired->offset, last.offset);
    }
  }
  // One full check that appends work after such a repair.
  const std::string dir = tmp.root() + "/t";
  testing::CopyDir(golden, dir);
  FlipByte(SegmentPaths(dir).back(), last.offset + last.size - 1);
  ASSERT_TRUE(ReadBack(dir, {}, Opts()).ok());
  ExpectAppendable(dir, Opts(), 4);
}

TEST(Recovery, GarbageLengthInLastRecord) {
  TempDir tmp;
  WriteLog(tmp.wal(), 5, Opts());
  auto seg = SegmentPaths(tmp.wal()).back();
  const auto last = RecordsOf(seg).back();
  SetBytes(seg, last.offset, std::string("\xf0\xff\xff\xff", 4));  // ~4 GiB
  testing::StartAllocTracking();
  auto r = ReadBack(tmp.wal(), {}, Opts());
  size_t biggest = testing::StopAllocTracking();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->entries, Entries(1, 4));
  EXPECT_LT(biggest, 1u << 20) << "allocation driven by a length field";
}

TEST(Recovery, HugeLengthMidLogIsCorruptionWithoutHugeAllocation) {
  TempDir tmp;
  WriteLog(tmp.wal(), 5, Opts());
  auto seg = SegmentPaths(tmp.wal()).back();
  const auto rec = RecordsOf(seg)[3];  // entry 2, followed by valid records
  for (std::string len : {std::string("\xf0\xff\xff\xff", 4), std::string("\x00\x00\x00\x10", 4)}) {
    SetBytes(seg, rec.offset, len);
    testing::StartAllocTracking();
    auto r = ReadBack(tmp.wal(), {}, Opts());
    size_t biggest = testing::StopAllocTracking();
    EXPECT_TRUE(r.status().Is(Code::kCorruption)) << r.status().ToString();
    EXPECT_TRUE(HasFileAndOffset(r.status(), seg, rec.offset)) << r.status().ToString();
    EXPECT_LT(biggest, 1u << 20);
  }
}

TEST(Recovery, ZeroedSectorsInsideABigLastRecord) {
  // A 3000-byte record whose middle sector never reached the disk, while its end did.
  TempDir tmp;
  WriteLog(tmp.wal(), 3, Opts(), 3000);
  auto seg = SegmentPaths(tmp.wal()).back();
  const auto last = RecordsOf(seg).back();
  uint64_t s = (last.offset / 512 + 2) * 512;
  ASSERT_LT(s + 512, last.offset + last.size);
  SetBytes(seg, s, std::string(512, '\0'));
  auto r = ReadBack(tmp.wal(), {}, Opts());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->entries, Entries(1, 2, 3000));
  ASSERT_TRUE(r->repaired.has_value());
}

TEST(Recovery, UnsyncedBatchWrittenOutOfOrderIsTorn) {
  // The last Save wrote 20 records; the page holding the first of them never
  // reached the disk but later ones did: still a torn tail (nothing of that
  // batch was acknowledged), everything of the batch is dropped.
  TempDir tmp;
  {
    auto w = Wal::Create(tmp.wal(), "meta", Opts());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Save({}, Entries(1, 5)).ok());
    ASSERT_TRUE((*w)->Save({}, Entries(6, 25)).ok());
  }
  auto seg = SegmentPaths(tmp.wal()).back();
  auto recs = RecordsOf(seg);
  const auto first_of_batch = recs[2 + 5];  // seed, metadata, entries 1..5
  SetBytes(seg, first_of_batch.offset, std::string(2 * first_of_batch.size, '\0'));
  auto r = ReadBack(tmp.wal(), {}, Opts());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->entries, Entries(1, 5));
  ASSERT_TRUE(r->repaired.has_value());
  EXPECT_EQ(r->repaired->offset, first_of_batch.offset);
  ExpectAppendable(tmp.wal(), Opts(), 5);
}

TEST(Recovery, DamageMidLastSegmentIsCorruption) {
  TempDir tmp;
  const std::string golden = tmp.root() + "/golden";
  WriteLog(golden, 6, Opts());
  const auto recs = RecordsOf(SegmentPaths(golden).back());
  const auto victim = recs[4];  // entry 3 of 6
  // Every byte of its header and a few of its payload.
  std::vector<uint64_t> where;
  for (uint64_t i = 0; i < kHeaderSize + 3; ++i)
    where.push_back(victim.offset + i);
  where.push_back(victim.offset + victim.size - 1);
  for (uint64_t at : where) {
    SCOPED_TRACE("flip at " + std::to_string(at));
    const std::string dir = tmp.root() + "/t";
    testing::CopyDir(golden, dir);
    auto seg = SegmentPaths(dir).back();
    FlipByte(seg, at);
    auto r = ReadBack(dir, {}, Opts());
    EXPECT_TRUE(r.status().Is(Code::kCorruption)) << r.status().ToString();
    EXPECT_TRUE(HasFileAndOffset(r.status(), seg, victim.offset)) << r.status().ToString();
  }
}

TEST(Recovery, DamageInOlderSegmentIsCorruption) {
  TempDir tmp;
  const std::string golden = tmp.root() + "/golden";
  WriteLog(golden, 200, Opts(4096));
  ASSERT_GT(SegmentPaths(golden).size(), 2u);
  const auto older = SegmentPaths(golden)[1];
  const auto recs = RecordsOf(older);
  struct Case {
    std::string name;
    uint64_t offset;
    std::function<void(const std::string&)> damage;
  };
  const auto mid = recs[recs.size() / 2];
  const auto last = recs.back();  // the tail of an older segment is no torn write
  std::vector<Case> cases = {
      {"flip mid", mid.offset, [&](const std::string& p) { FlipByte(p, mid.offset + 12); }},
      {"flip last", last.offset,
       [&](const std::string& p) { FlipByte(p, last.offset + last.size - 1); }},
      {"zero last", last.offset,
       [&](const std::string& p) {
         SetBytes(p, last.offset + last.size - 5, std::string(5, '\0'));
       }},
      {"truncated", last.offset,
       [&](const std::string& p) { testing::TruncateFile(p, last.offset + 5); }},
      {"seed", 0, [&](const std::string& p) { FlipByte(p, 10); }},
      {"metadata", recs[1].offset, [&](const std::string& p) { FlipByte(p, recs[1].offset + 9); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string dir = tmp.root() + "/t";
    testing::CopyDir(golden, dir);
    const std::string p = SegmentPaths(dir)[1];
    c.damage(p);
    auto r = ReadBack(dir, {}, Opts(4096));
    EXPECT_TRUE(r.status().Is(Code::kCorruption)) << r.status().ToString();
    EXPECT_TRUE(HasFileAndOffset(r.status(), p, c.offset)) << r.status().ToString();
  }
}

TEST(Recovery, MissingMiddleSegmentIsCorruption) {
  TempDir tmp;
  WriteLog(tmp.wal(), 200, Opts(4096));
  auto paths = SegmentPaths(tmp.wal());
  ASSERT_GT(paths.size(), 2u);
  std::filesystem::remove(paths[1]);
  auto r = ReadBack(tmp.wal(), {}, Opts(4096));
  EXPECT_TRUE(r.status().Is(Code::kCorruption)) << r.status().ToString();
}

TEST(Recovery, LastSegmentHeaderDamageIsCorruption) {
  TempDir tmp;
  WriteLog(tmp.wal(), 3, Opts());
  auto seg = SegmentPaths(tmp.wal()).back();
  FlipByte(seg, kHeaderSize + kCrcSeedBytes + 9);  // the metadata payload
  auto r = ReadBack(tmp.wal(), {}, Opts());
  EXPECT_TRUE(r.status().Is(Code::kCorruption)) << r.status().ToString();
}

// Power loss during a Save: any subset of the batch's 512-byte sectors may
// have reached the disk, in any order, while the sector where the batch starts
// may also keep its previous (synced) version. Recovery must never refuse to
// start, must keep every acknowledged entry, and may only return a prefix.
// `start_in_sector` places the first record of the batch at that offset within
// its sector (near the end: the header straddles two sectors).
void PowerLoss(const std::string& root, uint64_t start_in_sector, int iterations,
               bool two_saves = false) {
  SCOPED_TRACE("batch starts at sector offset " + std::to_string(start_in_sector) +
               (two_saves ? ", two saves" : ""));
  std::string mid_bytes;
  const std::string before_dir = root + "/before";
  const std::string after_dir = root + "/after";
  std::filesystem::remove_all(before_dir);
  std::vector<raft::Entry> batch;
  for (uint64_t i = 2; i <= 41; ++i) {
    batch.push_back(MakeEntry(2, i, std::string(10 + (i * 53) % 400, static_cast<char>(i))));
  }
  // seed 13 + metadata 13 + entry (26 + pad) + hard state 33 = 85 + pad.
  const uint64_t pad = (start_in_sector + 2 * 512 - 85) % 512;
  const auto first = std::vector<raft::Entry>{MakeEntry(1, 1, std::string(pad, 'p'))};
  {
    auto w = Wal::Create(before_dir, "meta", Opts());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Save({1, 1, 1}, first).ok());
  }
  testing::CopyDir(before_dir, after_dir);
  {
    auto w = Wal::Open(after_dir, {}, Opts());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->ReadAll().ok());
    if (two_saves) {
      // An unsynced Save (raft's MustSync false), then the interrupted one: a
      // sector may hold either Save's version.
      std::vector<raft::Entry> part(batch.begin(), batch.begin() + 15);
      ASSERT_TRUE((*w)->Save({2, 1, 1}, part, /*sync=*/false).ok());
      mid_bytes = testing::ReadFileBytes(SegmentPaths(after_dir).back());
      part.assign(batch.begin() + 15, batch.end());
      ASSERT_TRUE((*w)->Save({2, 1, 1}, part).ok());
    } else {
      ASSERT_TRUE((*w)->Save({2, 1, 1}, batch).ok());  // the Save the power loss interrupts
    }
  }
  const std::string old_bytes = testing::ReadFileBytes(SegmentPaths(before_dir).back());
  const std::string new_bytes = testing::ReadFileBytes(SegmentPaths(after_dir).back());
  ASSERT_EQ(old_bytes.size(), new_bytes.size());
  const auto old_recs = RecordsOf(SegmentPaths(before_dir).back());
  const auto new_recs = RecordsOf(SegmentPaths(after_dir).back());
  const uint64_t a = old_recs.back().offset + old_recs.back().size;
  const uint64_t b = new_recs.back().offset + new_recs.back().size;
  ASSERT_EQ(a % 512, start_in_sector);
  std::vector<raft::Entry> all = first;
  all.insert(all.end(), batch.begin(), batch.end());

  std::mt19937_64 rng(6368 + start_in_sector);
  int complete = 0, partial = 0;
  for (int iter = 0; iter < iterations; ++iter) {
    std::string disk = old_bytes;
    // Either a prefix of sectors (in-order write-back) or a random subset;
    // the first two iterations: everything written, nothing written.
    const bool in_order = iter % 3 == 0 || iter < 2;
    uint64_t cut = a / 512 + rng() % ((b + 511) / 512 - a / 512 + 1);
    if (iter == 0) cut = b / 512 + 1;
    if (iter == 1) cut = 0;
    for (uint64_t s = a / 512 * 512; s < b; s += 512) {
      bool written = in_order ? s / 512 < cut : rng() % 2 == 0;
      if (written) {
        disk.replace(s, 512, new_bytes.substr(s, 512));
      } else if (two_saves && !in_order && rng() % 2 == 0) {
        disk.replace(s, 512, mid_bytes.substr(s, 512));
      }
    }
    const std::string dir = root + "/t";
    testing::CopyDir(before_dir, dir);
    testing::WriteFileBytes(SegmentPaths(dir).back(), disk);
    auto r = ReadBack(dir, {}, Opts());
    ASSERT_TRUE(r.ok()) << "iteration " << iter << ": " << r.status().ToString();
    ASSERT_GE(r->entries.size(), 1u);
    ASSERT_LE(r->entries.size(), all.size());
    ASSERT_TRUE(std::equal(r->entries.begin(), r->entries.end(), all.begin()));
    if (r->entries.size() == all.size()) {
      ++complete;
    } else {
      ++partial;
    }
  }
  EXPECT_GT(complete, 0);
  EXPECT_GT(partial, 0);
}

TEST(Recovery, PowerLossKeepsAcknowledgedEntries) {
  TempDir tmp;
  // Header inside one sector, and every way it can straddle a sector boundary.
  for (uint64_t at : {0, 1, 100, 400, 502, 503, 504, 505, 506, 507, 508, 509, 510, 511}) {
    PowerLoss(tmp.root(), at, at == 100 ? 300 : 40);
  }
  for (uint64_t at : {0, 300, 505, 509}) {
    PowerLoss(tmp.root(), at, 100, /*two_saves=*/true);
  }
}

// Random damage to random records never crashes and either reads a prefix of
// what was written or reports corruption (older segments must never "repair").
TEST(Recovery, FuzzRandomFlips) {
  TempDir tmp;
  const std::string golden = tmp.root() + "/golden";
  const Options o = Opts(2048);
  {
    auto w = Wal::Create(golden, "meta", o);
    ASSERT_TRUE(w.ok());
    for (uint64_t i = 1; i <= 60; i += 4)
      ASSERT_TRUE((*w)->Save({1, 1, i}, Entries(i, i + 3)).ok());
  }
  const auto all = Entries(1, 64);
  std::mt19937_64 rng(20261125);
  int repaired = 0, corrupt = 0;
  for (int iter = 0; iter < 300; ++iter) {
    const std::string dir = tmp.root() + "/t";
    testing::CopyDir(golden, dir);
    auto paths = SegmentPaths(dir);
    size_t si = rng() % paths.size();
    auto recs = RecordsOf(paths[si]);
    auto rec = recs[rng() % recs.size()];
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      FlipByte(paths[si], rec.offset + rng() % rec.size, static_cast<uint8_t>(1 + rng() % 255));
    }
    if (rng() % 4 == 0) testing::TruncateFile(paths[si], rec.offset + rng() % rec.size);
    if (testing::ReadFileBytes(paths[si]) == testing::ReadFileBytes(SegmentPaths(golden)[si])) {
      continue;  // the flips cancelled out
    }
    auto r = ReadBack(dir, {}, o);
    if (!r.ok()) {
      EXPECT_TRUE(r.status().Is(Code::kCorruption)) << r.status().ToString();
      ++corrupt;
      continue;
    }
    EXPECT_EQ(si, paths.size() - 1) << "an older segment was repaired";
    ASSERT_LE(r->entries.size(), all.size());
    EXPECT_TRUE(std::equal(r->entries.begin(), r->entries.end(), all.begin()));
    if (r->repaired) ++repaired;
  }
  EXPECT_GT(repaired, 0);
  EXPECT_GT(corrupt, 0);
}

}  // namespace
}  // namespace etcdpp::wal
