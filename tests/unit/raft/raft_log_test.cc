#include "raft/raft_log.h"

#include <gtest/gtest.h>

namespace etcdpp::raft {
namespace {

Entry E(uint64_t index, uint64_t term) {
  return Entry{term, index, EntryType::kNormal, ""};
}

TEST(RaftLog, FindConflict) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append({E(1, 1), E(2, 2), E(3, 3)});
  EXPECT_EQ(log.FindConflict({}), 0u);
  EXPECT_EQ(log.FindConflict({E(1, 1), E(2, 2)}), 0u);
  EXPECT_EQ(log.FindConflict({E(2, 2), E(3, 3), E(4, 4)}), 4u);  // new entries
  EXPECT_EQ(log.FindConflict({E(2, 2), E(3, 4)}), 3u);           // term mismatch
}

TEST(RaftLog, MaybeAppend_consistencyCheckAndCommit) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append({E(1, 1), E(2, 2), E(3, 3)});
  EXPECT_FALSE(log.MaybeAppend(3, 2, 3, {E(4, 4)}).has_value());  // wrong prev term
  EXPECT_FALSE(log.MaybeAppend(4, 3, 3, {}).has_value());         // prev beyond log
  auto last = log.MaybeAppend(2, 2, 10, {E(3, 4), E(4, 4)});      // replaces 3
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 4u);
  EXPECT_EQ(log.committed(), 4u);  // min(leader commit, last new)
  EXPECT_EQ(*log.Term(3), 4u);
}

TEST(RaftLog, FindConflictByTerm_skipsWholeTerms) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append({E(1, 1), E(2, 2), E(3, 2), E(4, 5), E(5, 5)});
  EXPECT_EQ(log.FindConflictByTerm(5, 3).first, 3u);  // largest index with term <= 3
  EXPECT_EQ(log.FindConflictByTerm(5, 5).first, 5u);
  EXPECT_EQ(log.FindConflictByTerm(5, 0).first, 0u);
}

TEST(RaftLog, IsUpToDate) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append({E(1, 1), E(2, 2), E(3, 3)});
  EXPECT_TRUE(log.IsUpToDate(3, 3));
  EXPECT_TRUE(log.IsUpToDate(1, 4));   // higher last term wins even if shorter
  EXPECT_FALSE(log.IsUpToDate(2, 3));  // same term, shorter
  EXPECT_FALSE(log.IsUpToDate(10, 2));
}

TEST(RaftLog, StableTo_ignoresReplacedEntries) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append({E(1, 1), E(2, 1)});
  log.Append({E(2, 2)});  // replaced before being persisted
  log.StableTo(2, 1);     // stale acknowledgement: nothing becomes stable
  EXPECT_EQ(log.UnstableEntries().size(), 2u);
  ASSERT_TRUE(s.Append(log.UnstableEntries()).ok());
  log.StableTo(2, 2);
  EXPECT_TRUE(log.UnstableEntries().empty());
  EXPECT_EQ(*log.Term(2), 2u);
}

TEST(RaftLog, MaybeCommit_onlyCurrentTerm) {
  MemoryStorage s;
  RaftLog log(&s, UINT64_MAX);
  log.Append({E(1, 1), E(2, 2)});
  EXPECT_FALSE(log.MaybeCommit(2, 3, false));  // entry of term 2, leader in term 3
  EXPECT_TRUE(log.MaybeCommit(2, 2, false));
  EXPECT_EQ(log.committed(), 2u);
}

}  // namespace
}  // namespace etcdpp::raft
