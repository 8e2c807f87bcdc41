#include "membership/reconfig.h"

#include <gtest/gtest.h>

#include "membership/errors.h"

namespace etcdpp::membership {
namespace {

Member V(uint64_t id, bool started = true) {
  std::string name;
  if (started) name.append("m").append(std::to_string(id));  // not "m" + ...: GCC 12 -Wrestrict
  return Member{id, name, {}, {}, false};
}
Member L(uint64_t id) {
  return Member{id, "l", {}, {}, true};
}

TEST(ReconfigTest, ReadyToAddVotingMember) {
  EXPECT_TRUE(IsReadyToAddVotingMember({V(1)}));                             // 1 -> 2 special case
  EXPECT_FALSE(IsReadyToAddVotingMember({V(1, false)}));                     // 0 of 2 started
  EXPECT_TRUE(IsReadyToAddVotingMember({V(1), V(2)}));                       // 2 of 3
  EXPECT_FALSE(IsReadyToAddVotingMember({V(1), V(2, false)}));               // 1 of 3
  EXPECT_FALSE(IsReadyToAddVotingMember({V(1), V(2, false), V(3, false)}));  // 1 of 4
  // Learners do not count.
  EXPECT_TRUE(IsReadyToAddVotingMember({V(1), L(9)}));
}

TEST(ReconfigTest, ReadyToAddCountsQuorumOfNewSize) {
  // 3 voters, 2 started: with the new one 4 members, quorum 3 > 2 started.
  EXPECT_FALSE(IsReadyToAddVotingMember({V(1), V(2), V(3, false)}));
  // 3 voters, all started: 3 of 4.
  EXPECT_TRUE(IsReadyToAddVotingMember({V(1), V(2), V(3)}));
}

TEST(ReconfigTest, ReadyToRemoveAndPromote) {
  std::vector<Member> ms = {V(1), V(2), V(3, false)};
  EXPECT_TRUE(IsReadyToRemoveVotingMember(ms, 3));   // 2 started of 2
  EXPECT_FALSE(IsReadyToRemoveVotingMember(ms, 1));  // 1 started of 2 (quorum 2)
  std::vector<Member> one = {V(1)};
  EXPECT_FALSE(IsReadyToRemoveVotingMember(one, 1));  // 0 of 0 left: quorum 1 > 0
  // Promote: learner counted as a started voter.
  EXPECT_TRUE(IsReadyToPromoteMember({V(1), L(9)}, 9));
  EXPECT_TRUE(IsReadyToPromoteMember({V(1), V(2, false), L(9)}, 9));                // 2 of 3
  EXPECT_FALSE(IsReadyToPromoteMember({V(1, false), V(2, false), V(3), L(9)}, 9));  // 2 of 4
}

TEST(ReconfigTest, LearnerCaughtUp) {
  EXPECT_TRUE(IsLearnerCaughtUp(90, 100));
  EXPECT_FALSE(IsLearnerCaughtUp(89, 100));
  EXPECT_TRUE(IsLearnerCaughtUp(9, 10));
  EXPECT_TRUE(IsLearnerCaughtUp(100, 100));
  EXPECT_TRUE(IsLearnerCaughtUp(0, 0));  // NaN: not below the threshold (as etcd)
  EXPECT_TRUE(IsLearnerCaughtUp(5, 0));
  EXPECT_FALSE(IsLearnerCaughtUp(0, 1));
}

class MayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in_.now = Clock::time_point{} + std::chrono::hours(1);
    in_.self = 1;
    in_.members = {V(1), V(2), V(3)};
  }
  void Connect(uint64_t id, std::chrono::seconds ago) { in_.active[id] = in_.now - ago; }
  ReconfigInput in_;
};

TEST_F(MayTest, AddNeedsFullConnectivity) {
  Connect(2, std::chrono::seconds(10));
  EXPECT_EQ(MayAddMember(in_, false).message(), kErrUnhealthy);
  EXPECT_EQ(MayAddMember(in_, false).code(), Code::kUnavailable);
  Connect(3, std::chrono::seconds(2));  // connected too recently (< 5 s)
  EXPECT_EQ(MayAddMember(in_, true).message(), kErrUnhealthy);
  Connect(3, std::chrono::seconds(6));
  EXPECT_TRUE(MayAddMember(in_, false).ok());
  EXPECT_TRUE(MayAddMember(in_, true).ok());
}

TEST_F(MayTest, AddNotEnoughStarted) {
  in_.members = {V(1), V(2, false), V(3, false)};
  Connect(2, std::chrono::seconds(10));
  Connect(3, std::chrono::seconds(10));
  EXPECT_EQ(MayAddMember(in_, false).message(), kErrNotEnoughStartedMembers);
  EXPECT_TRUE(MayAddMember(in_, true).ok());  // learners skip the quorum check
  in_.strict = false;
  EXPECT_TRUE(MayAddMember(in_, false).ok());
}

TEST_F(MayTest, Remove) {
  // A learner: always.
  in_.members.push_back(L(9));
  EXPECT_TRUE(MayRemoveMember(in_, 9).ok());
  // A voter that is down (no connection): allowed.
  Connect(2, std::chrono::seconds(10));
  EXPECT_TRUE(MayRemoveMember(in_, 3).ok());
  // Removing a connected voter while the other is down: active 2 (self, 2),
  // 2-1 < 1 + (3-1)/2 = 2 -> unhealthy.
  EXPECT_EQ(MayRemoveMember(in_, 2).message(), kErrUnhealthy);
  Connect(3, std::chrono::seconds(10));
  EXPECT_TRUE(MayRemoveMember(in_, 2).ok());
  // Removing self counts self as active.
  EXPECT_TRUE(MayRemoveMember(in_, 1).ok());
  // Not enough started among the rest.
  in_.members = {V(1), V(2, false), V(3)};
  EXPECT_EQ(MayRemoveMember(in_, 3).message(), kErrNotEnoughStartedMembers);
  in_.strict = false;
  EXPECT_TRUE(MayRemoveMember(in_, 3).ok());
}

TEST_F(MayTest, Promote) {
  in_.members.push_back(L(9));
  EXPECT_EQ(MayPromoteMember(in_, 9, false, 100, 100).message(), kErrNotLeader);
  EXPECT_EQ(MayPromoteMember(in_, 9, true, std::nullopt, 100).message(), kErrIDNotFound);
  EXPECT_EQ(MayPromoteMember(in_, 9, true, 50, 100).message(), kErrLearnerNotReady);
  in_.strict = false;  // the sync check is not part of strict-reconfig-check
  EXPECT_EQ(MayPromoteMember(in_, 9, true, 50, 100).message(), kErrLearnerNotReady);
  in_.strict = true;
  EXPECT_TRUE(MayPromoteMember(in_, 9, true, 95, 100).ok());
  in_.members = {V(1), V(2, false), V(3, false), V(4, false), L(9)};  // 2 of 5
  EXPECT_EQ(MayPromoteMember(in_, 9, true, 95, 100).message(), kErrNotEnoughStartedMembers);
}

}  // namespace
}  // namespace etcdpp::membership
