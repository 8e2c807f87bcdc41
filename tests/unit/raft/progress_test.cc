#include "raft/progress.h"

#include <gtest/gtest.h>

namespace etcdpp::raft {
namespace {

TEST(Inflights, LimitsByCountAndBytes) {
  Inflights in(3, 100);
  in.Add(1, 10);
  in.Add(2, 10);
  EXPECT_FALSE(in.Full());
  in.Add(3, 10);
  EXPECT_TRUE(in.Full());  // count
  in.FreeLE(2);
  EXPECT_EQ(in.Count(), 1u);
  in.Add(4, 95);
  EXPECT_TRUE(in.Full());  // bytes
  in.FreeFirstOne();
  EXPECT_EQ(in.Count(), 1u);
  EXPECT_FALSE(in.Full());
}

TEST(Progress, MaybeDecrTo_probeOnlyAcceptsRejectionOfTheProbe) {
  Progress pr(8, 0);
  pr.match = 3;
  pr.next = 10;
  EXPECT_FALSE(pr.MaybeDecrTo(5, 4));  // not the probe we sent (next-1 = 9): stale
  EXPECT_TRUE(pr.MaybeDecrTo(9, 6));
  EXPECT_EQ(pr.next, 7u);  // the follower's hint + 1
  EXPECT_TRUE(pr.MaybeDecrTo(6, 0));
  EXPECT_EQ(pr.next, 4u);  // never below match + 1
}

TEST(Progress, MaybeDecrTo_replicateFallsBackToMatch) {
  Progress pr(8, 0);
  pr.BecomeReplicate();
  pr.match = 5;
  pr.next = 12;
  EXPECT_FALSE(pr.MaybeDecrTo(4, 0));  // below match: stale
  EXPECT_TRUE(pr.MaybeDecrTo(8, 7));
  EXPECT_EQ(pr.next, 6u);
}

TEST(Progress, PausedPerState) {
  Progress pr(1, 0);
  EXPECT_FALSE(pr.IsPaused());
  pr.msg_app_flow_paused = true;
  EXPECT_TRUE(pr.IsPaused());  // probe in flight
  pr.BecomeReplicate();
  EXPECT_FALSE(pr.IsPaused());
  pr.inflights.Add(3, 1);
  EXPECT_TRUE(pr.IsPaused());  // window full
  pr.BecomeSnapshot(9);
  EXPECT_TRUE(pr.IsPaused());
  pr.match = 9;
  pr.BecomeProbe();
  EXPECT_EQ(pr.next, 10u);
}

TEST(ProgressTracker, CommittedIgnoresLearners) {
  ProgressTracker t(8, 0);
  t.AddNode(1, false, 1);
  t.AddNode(2, false, 1);
  t.AddNode(3, false, 1);
  t.AddNode(4, true, 1);
  t.Get(1)->match = 10;
  t.Get(2)->match = 7;
  t.Get(3)->match = 2;
  t.Get(4)->match = 100;
  EXPECT_EQ(t.Committed(), 7u);
  t.AddNode(4, false, 1);  // promotion keeps progress
  EXPECT_FALSE(t.Get(4)->is_learner);
  // 4 voters {100, 10, 7, 2}: a majority (3) holds index 7.
  EXPECT_EQ(t.Committed(), 7u);
}

TEST(ProgressTracker, VotesAndQuorumActive) {
  ProgressTracker t(8, 0);
  for (uint64_t id : {1, 2, 3})
    t.AddNode(id, false, 1);
  t.RecordVote(1, true);
  EXPECT_EQ(t.TallyVotes(), VoteResult::kPending);
  t.RecordVote(2, false);
  EXPECT_EQ(t.TallyVotes(), VoteResult::kPending);
  t.RecordVote(3, true);
  EXPECT_EQ(t.TallyVotes(), VoteResult::kWon);
  for (auto& [id, pr] : t.progress())
    pr.recent_active = id == 1;
  EXPECT_FALSE(t.QuorumActive());
  t.Get(3)->recent_active = true;
  EXPECT_TRUE(t.QuorumActive());
}

}  // namespace
}  // namespace etcdpp::raft
