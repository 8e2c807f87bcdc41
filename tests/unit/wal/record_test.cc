#include "wal/record.h"

#include "gtest/gtest.h"
#include "test_util.h"
#include "wal/segment_name.h"

namespace etcdpp::wal {
namespace {

TEST(Record, EntryRoundTrip) {
  raft::Entry e{7, 42, raft::EntryType::kConfChangeV2, std::string("a\0b", 3)};
  raft::Entry d;
  ASSERT_TRUE(DecodeEntry(EncodeEntry(e), &d));
  EXPECT_EQ(d, e);
  raft::Entry empty{1, 1, raft::EntryType::kNormal, ""};
  ASSERT_TRUE(DecodeEntry(EncodeEntry(empty), &d));
  EXPECT_EQ(d, empty);
  EXPECT_FALSE(DecodeEntry(std::string(16, '\0'), &d));  // shorter than the fixed part
  std::string bad_type = EncodeEntry(e);
  bad_type[16] = 9;
  EXPECT_FALSE(DecodeEntry(bad_type, &d));
}

TEST(Record, HardStateSnapshotSeedRoundTrip) {
  raft::HardState hs{3, 2, 99}, hs2;
  ASSERT_TRUE(DecodeHardState(EncodeHardState(hs), &hs2));
  EXPECT_EQ(hs, hs2);
  EXPECT_FALSE(DecodeHardState(EncodeHardState(hs) + "x", &hs2));
  uint64_t i = 0, t = 0;
  ASSERT_TRUE(DecodeSnapshot(EncodeSnapshot(10, 4), &i, &t));
  EXPECT_EQ(i, 10u);
  EXPECT_EQ(t, 4u);
  uint32_t c = 0;
  ASSERT_TRUE(DecodeCrcSeed(EncodeCrcSeed(0xdeadbeef), &c));
  EXPECT_EQ(c, 0xdeadbeefu);
}

TEST(Record, FramingIsLittleEndianAndChained) {
  std::string out;
  uint32_t c1 = AppendRecord(&out, 0, RecordType::kMetadata, "m1");
  ASSERT_EQ(out.size(), kHeaderSize + 2);
  RecordHeader h = DecodeHeader(out.data());
  EXPECT_EQ(h.length, 2u);
  EXPECT_EQ(h.crc, c1);
  EXPECT_EQ(h.type, 1);
  EXPECT_EQ(out.substr(0, 4), std::string("\x02\x00\x00\x00", 4));
  // Same record, other chain position: other crc.
  EXPECT_NE(RecordCrc(1, RecordType::kMetadata, "m1"), c1);
  EXPECT_EQ(RecordCrc(0, RecordType::kMetadata, "m1"), c1);
  // The crc covers the type.
  EXPECT_NE(RecordCrc(0, RecordType::kEntry, "m1"), c1);
}

TEST(Record, EntryRecordInPlaceMatchesGenericEncoding) {
  for (const auto& e :
       {raft::Entry{1, 2, raft::EntryType::kNormal, ""},
        raft::Entry{9, 1ull << 40, raft::EntryType::kConfChange, std::string(3000, '\x7f')}}) {
    std::string a = "prefix", b = "prefix";
    uint32_t ca = AppendEntryRecord(&a, 0x1234, e);
    uint32_t cb = AppendRecord(&b, 0x1234, RecordType::kEntry, EncodeEntry(e));
    EXPECT_EQ(ca, cb);
    EXPECT_EQ(a, b);
    EXPECT_EQ(a.size() - 6, EntryRecordBytes(e));
  }
}

TEST(SegmentName, FormatAndParse) {
  EXPECT_EQ(SegmentName({0, 0}), "0000000000000000-0000000000000000.wal");
  EXPECT_EQ(SegmentName({0x1a, 0xff}), "000000000000001a-00000000000000ff.wal");
  auto id = ParseSegmentName("000000000000001a-00000000000000ff.wal");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, (SegmentId{0x1a, 0xff}));
  EXPECT_FALSE(ParseSegmentName("000000000000001A-00000000000000ff.wal"));
  EXPECT_FALSE(ParseSegmentName("000000000000001a-00000000000000ff.wal.tmp"));
  EXPECT_FALSE(ParseSegmentName("0-0.wal"));
}

// The worked example of docs/wal_format.md, byte for byte where it is exact.
TEST(Record, WorkedExampleOfTheSpec) {
  testing::TempDir tmp;
  auto w = Wal::Create(tmp.wal(), "m1");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE((*w)->Save({1, 1, 0}, {testing::MakeEntry(1, 1, "hi")}).ok());
  ASSERT_TRUE((*w)->Close().ok());
  auto paths = testing::SegmentPaths(tmp.wal());
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(paths[0], tmp.wal() + "/0000000000000000-0000000000000000.wal");
  auto recs = testing::RecordsOf(paths[0]);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].offset, 0u);
  EXPECT_EQ(recs[0].type, 5);
  EXPECT_EQ(recs[1].offset, 13u);
  EXPECT_EQ(recs[1].type, 1);
  EXPECT_EQ(recs[2].offset, 24u);
  EXPECT_EQ(recs[2].type, 2);
  EXPECT_EQ(recs[3].offset, 52u);
  EXPECT_EQ(recs[3].type, 3);
  EXPECT_EQ(recs[3].offset + recs[3].size, 85u);
  std::string b = testing::ReadFileBytes(paths[0]);
  EXPECT_EQ(b.size(), Options{}.segment_bytes);  // preallocated (tmp file systems do fallocate)
  EXPECT_EQ(b.substr(33, 19), std::string("\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0\0hi", 19));
  // crc0 is chained from the seed's prev_crc 0 over 04 00 00 00 05 00 00 00 00.
  EXPECT_EQ(DecodeHeader(b.data()).crc, RecordCrc(0, RecordType::kCrcSeed, EncodeCrcSeed(0)));
}

}  // namespace
}  // namespace etcdpp::wal
