#include "raft/storage.h"

#include <gtest/gtest.h>

namespace etcdpp::raft {
namespace {

Entry E(uint64_t index, uint64_t term, std::string data = "") {
  return Entry{term, index, EntryType::kNormal, std::move(data)};
}

// Storage with a snapshot at 3 (term 3) and entries 4..5.
MemoryStorage Make() {
  MemoryStorage s;
  Snapshot snap;
  snap.metadata.index = 3;
  snap.metadata.term = 3;
  EXPECT_TRUE(s.ApplySnapshot(snap).ok());
  EXPECT_TRUE(s.Append({E(4, 4), E(5, 5)}).ok());
  return s;
}

TEST(MemoryStorage, Term_rangeAndErrors) {
  MemoryStorage s = Make();
  EXPECT_TRUE(IsCompacted(s.Term(2).status()));
  EXPECT_EQ(*s.Term(3), 3u);  // the snapshot's (dummy) entry
  EXPECT_EQ(*s.Term(5), 5u);
  EXPECT_TRUE(IsUnavailable(s.Term(6).status()));
  EXPECT_EQ(*s.FirstIndex(), 4u);
  EXPECT_EQ(*s.LastIndex(), 5u);
}

TEST(MemoryStorage, Entries_limitsAndErrors) {
  MemoryStorage s = Make();
  EXPECT_TRUE(IsCompacted(s.Entries(3, 5, UINT64_MAX).status()));
  EXPECT_TRUE(IsUnavailable(s.Entries(4, 7, UINT64_MAX).status()));
  EXPECT_EQ(s.Entries(4, 6, UINT64_MAX)->size(), 2u);
  EXPECT_EQ(s.Entries(4, 6, 0)->size(), 1u);  // at least one entry
}

TEST(MemoryStorage, Append_truncatesConflictingSuffix) {
  MemoryStorage s = Make();
  ASSERT_TRUE(s.Append({E(5, 6), E(6, 6)}).ok());
  EXPECT_EQ(*s.Term(5), 6u);
  EXPECT_EQ(*s.LastIndex(), 6u);
  // Entries already compacted are ignored.
  ASSERT_TRUE(s.Append({E(2, 1), E(3, 3), E(4, 4)}).ok());
  EXPECT_EQ(*s.LastIndex(), 4u);
}

TEST(MemoryStorage, Compact_andCreateSnapshot) {
  MemoryStorage s = Make();
  ASSERT_TRUE(s.Append({E(6, 5), E(7, 5)}).ok());
  ConfState cs;
  cs.voters = {1, 2, 3};
  auto snap = s.CreateSnapshot(6, &cs, "data");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->metadata.index, 6u);
  EXPECT_EQ(snap->metadata.term, 5u);
  EXPECT_TRUE(IsSnapOutOfDate(s.CreateSnapshot(5, &cs, "x").status()));
  ASSERT_TRUE(s.Compact(6).ok());
  EXPECT_EQ(*s.FirstIndex(), 7u);
  EXPECT_EQ(*s.Term(6), 5u);
  EXPECT_TRUE(IsCompacted(s.Compact(5)));
  EXPECT_EQ(s.InitialState()->conf_state.voters, cs.voters);
}

TEST(MemoryStorage, ApplySnapshot_rejectsOlder) {
  MemoryStorage s = Make();
  Snapshot old;
  old.metadata.index = 2;
  old.metadata.term = 2;
  EXPECT_TRUE(IsSnapOutOfDate(s.ApplySnapshot(old)));
  Snapshot newer;
  newer.metadata.index = 10;
  newer.metadata.term = 7;
  ASSERT_TRUE(s.ApplySnapshot(newer).ok());
  EXPECT_EQ(*s.FirstIndex(), 11u);
  EXPECT_EQ(*s.LastIndex(), 10u);
}

}  // namespace
}  // namespace etcdpp::raft
