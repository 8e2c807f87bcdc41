#include "membership/cluster.h"

#include <gtest/gtest.h>

#include "../mvcc/temp_dir.h"
#include "membership/errors.h"

namespace etcdpp::membership {
namespace {

using etcdpp::testing::TempDir;

Member M(uint64_t id, std::string url, bool learner = false, std::string name = "") {
  return Member{id, std::move(name), {std::move(url)}, {}, learner};
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    auto s = mvcc::Store::Open(dir_.path() + "/db");
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // Applies one conf change in its own batch; publishes after commit.
  Status Apply(Cluster& c, const raft::ConfChange& cc) {
    auto b = store_->BeginBatch();
    EXPECT_TRUE(b.ok());
    auto ch = c.ApplyConfChange(**b, cc);
    if (!ch.ok()) return ch.status();
    Status st = (*b)->Commit();
    if (!st.ok()) return st;
    c.Publish(*ch);
    return Status::OK();
  }
  Status Load(Cluster& c) {
    auto r = store_->Read();
    EXPECT_TRUE(r.ok());
    return c.Load(**r);
  }
  // Three voters 1..3.
  void Bootstrap(Cluster& c) {
    for (uint64_t id = 1; id <= 3; ++id) {
      ASSERT_TRUE(
          Apply(c, MakeAddConfChange(M(id, "http://h" + std::to_string(id) + ":2380"))).ok());
    }
  }

  TempDir dir_;
  std::unique_ptr<mvcc::Store> store_;
};

TEST_F(ClusterTest, AddPersistsAndLoadsAfterReopen) {
  Cluster c;
  Bootstrap(c);
  EXPECT_EQ(c.VoterCount(), 3u);
  ASSERT_TRUE(Apply(c, MakeAddConfChange(M(9, "http://h9:2380", true))).ok());
  EXPECT_EQ(c.LearnerCount(), 1u);

  Reopen();
  Cluster c2;
  ASSERT_TRUE(Load(c2).ok());
  auto ms = c2.Members();
  ASSERT_EQ(ms.size(), 4u);
  EXPECT_EQ(ms[0].id, 1u);
  EXPECT_EQ(ms[3].id, 9u);
  EXPECT_TRUE(ms[3].is_learner);
  EXPECT_EQ(c2.VoterIds(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(c2.Members(), c.Members());
}

TEST_F(ClusterTest, ViewChangesOnlyOnPublish) {
  Cluster c;
  Bootstrap(c);
  {
    auto b = store_->BeginBatch();
    ASSERT_TRUE(b.ok());
    auto ch = c.ApplyConfChange(**b, MakeRemoveConfChange(2));
    ASSERT_TRUE(ch.ok());
    EXPECT_EQ(ch->kind, ChangeKind::kRemoved);
    EXPECT_TRUE(c.GetMember(2).has_value());  // not yet
    // batch dropped: aborted; the Change is discarded
  }
  EXPECT_TRUE(c.GetMember(2).has_value());
  EXPECT_FALSE(c.IsRemoved(2));
  Cluster fresh;
  ASSERT_TRUE(Load(fresh).ok());
  EXPECT_EQ(fresh.Members().size(), 3u);
}

TEST_F(ClusterTest, SeveralChangesInOneBatchSeeEachOther) {
  Cluster c;
  Bootstrap(c);
  auto b = store_->BeginBatch();
  ASSERT_TRUE(b.ok());
  auto add = c.ApplyConfChange(**b, MakeAddConfChange(M(4, "http://h4:2380", true)));
  ASSERT_TRUE(add.ok());
  // Same URL again inside the same batch: seen through the batch's tables.
  auto dup = c.ApplyConfChange(**b, MakeAddConfChange(M(5, "http://h4:2380", true)));
  EXPECT_EQ(dup.status().message(), kErrPeerURLExists);
  auto promote = c.ApplyConfChange(**b, MakePromoteConfChange(4));
  ASSERT_TRUE(promote.ok()) << promote.status().ToString();
  EXPECT_EQ(promote->kind, ChangeKind::kPromoted);
  ASSERT_TRUE((*b)->Commit().ok());
  c.Publish(*add);
  c.Publish(*promote);
  auto m4 = c.GetMember(4);
  ASSERT_TRUE(m4.has_value());
  EXPECT_FALSE(m4->is_learner);
  EXPECT_EQ(c.VoterCount(), 4u);
}

TEST_F(ClusterTest, ValidationErrors) {
  Cluster c;
  Bootstrap(c);
  // Existing id.
  EXPECT_EQ(Apply(c, MakeAddConfChange(M(1, "http://new:2380", true))).message(), kErrIDExists);
  EXPECT_EQ(Apply(c, MakeAddConfChange(M(1, "http://new:2380"))).message(), kErrIDExists);
  // Peer URL used by another member.
  EXPECT_EQ(Apply(c, MakeAddConfChange(M(7, "http://h2:2380"))).message(), kErrPeerURLExists);
  // Promote of a voter / of an unknown id.
  EXPECT_EQ(Apply(c, MakePromoteConfChange(1)).message(), kErrMemberNotLearner);
  EXPECT_EQ(Apply(c, MakePromoteConfChange(77)).message(), kErrIDNotFound);
  // Remove / update unknown.
  EXPECT_EQ(Apply(c, MakeRemoveConfChange(77)).message(), kErrIDNotFound);
  EXPECT_EQ(Apply(c, MakeUpdateConfChange(77, {"http://x:1"})).message(), kErrIDNotFound);
  // Update to another member's URL.
  EXPECT_EQ(Apply(c, MakeUpdateConfChange(1, {"http://h3:2380"})).message(), kErrPeerURLExists);
  // Too many learners (max 1).
  ASSERT_TRUE(Apply(c, MakeAddConfChange(M(8, "http://h8:2380", true))).ok());
  EXPECT_EQ(Apply(c, MakeAddConfChange(M(9, "http://h9:2380", true))).message(),
            kErrTooManyLearners);
  // A voter add is not limited by max-learners.
  EXPECT_TRUE(Apply(c, MakeAddConfChange(M(9, "http://h9:2380"))).ok());
  // Removed ids never come back, whatever the change.
  ASSERT_TRUE(Apply(c, MakeRemoveConfChange(2)).ok());
  EXPECT_TRUE(c.IsRemoved(2));
  EXPECT_FALSE(c.GetMember(2).has_value());
  EXPECT_EQ(Apply(c, MakeRemoveConfChange(2)).message(), kErrIDRemoved);
  EXPECT_EQ(Apply(c, MakeAddConfChange(M(2, "http://h2:2380"))).message(), kErrIDRemoved);
  EXPECT_EQ(Apply(c, MakeUpdateConfChange(2, {"http://x:1"})).message(), kErrIDRemoved);
  // The removed member's URL is free again.
  EXPECT_TRUE(Apply(c, MakeAddConfChange(M(10, "http://h2:2380"))).ok());
  // Same checks on the published view.
  EXPECT_EQ(c.ValidateConfChange(MakeRemoveConfChange(2), std::nullopt).message(), kErrIDRemoved);
  EXPECT_TRUE(c.ValidateConfChange(MakeRemoveConfChange(3), std::nullopt).ok());
  Reopen();
  Cluster c2;
  ASSERT_TRUE(Load(c2).ok());
  EXPECT_TRUE(c2.IsRemoved(2));
  EXPECT_EQ(c2.Members(), c.Members());
}

TEST_F(ClusterTest, MaxLearnersParameter) {
  Cluster c(2);
  Bootstrap(c);
  EXPECT_TRUE(Apply(c, MakeAddConfChange(M(8, "http://h8:2380", true))).ok());
  EXPECT_TRUE(Apply(c, MakeAddConfChange(M(9, "http://h9:2380", true))).ok());
  EXPECT_EQ(Apply(c, MakeAddConfChange(M(10, "http://h10:2380", true))).message(),
            kErrTooManyLearners);
  // Promoting frees a learner slot.
  EXPECT_TRUE(Apply(c, MakePromoteConfChange(8)).ok());
  EXPECT_TRUE(Apply(c, MakeAddConfChange(M(10, "http://h10:2380", true))).ok());
}

TEST_F(ClusterTest, UpdateChangesPeerURLsOnly) {
  Cluster c;
  Bootstrap(c);
  internalpb::MemberAttrSetRequest attr;
  attr.set_member_id(1);
  attr.set_name("infra1");
  attr.add_client_urls("http://h1:2379");
  {
    auto b = store_->BeginBatch();
    auto ch = c.ApplyAttrSet(**b, attr);
    ASSERT_TRUE(ch.ok());
    EXPECT_EQ(ch->kind, ChangeKind::kAttrSet);
    ASSERT_TRUE((*b)->Commit().ok());
    c.Publish(*ch);
  }
  ASSERT_TRUE(Apply(c, MakeUpdateConfChange(1, {"http://h1new:2380", "http://h1b:2380"})).ok());
  auto m = c.GetMember(1);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->name, "infra1");
  EXPECT_EQ(m->client_urls, (std::vector<std::string>{"http://h1:2379"}));
  EXPECT_EQ(m->peer_urls, (std::vector<std::string>{"http://h1new:2380", "http://h1b:2380"}));
  EXPECT_FALSE(m->is_learner);
  // The old URL is free now.
  EXPECT_TRUE(Apply(c, MakeAddConfChange(M(5, "http://h1:2380"))).ok());
}

TEST_F(ClusterTest, AttrSetOfUnknownOrRemovedIsIgnored) {
  Cluster c;
  Bootstrap(c);
  ASSERT_TRUE(Apply(c, MakeRemoveConfChange(3)).ok());
  for (uint64_t id : {3ull, 99ull}) {
    internalpb::MemberAttrSetRequest attr;
    attr.set_member_id(id);
    attr.set_name("x");
    auto b = store_->BeginBatch();
    auto ch = c.ApplyAttrSet(**b, attr);
    ASSERT_TRUE(ch.ok());
    EXPECT_EQ(ch->kind, ChangeKind::kNone);
    ASSERT_TRUE((*b)->Commit().ok());
    c.Publish(*ch);
  }
  EXPECT_EQ(c.Members().size(), 2u);
}

TEST_F(ClusterTest, ListenersSeeEveryPublishedChange) {
  Cluster c;
  std::vector<std::pair<uint64_t, ChangeKind>> seen;
  c.OnChange([&](const Member& m, ChangeKind k) { seen.emplace_back(m.id, k); });
  Bootstrap(c);
  ASSERT_TRUE(Apply(c, MakeAddConfChange(M(4, "http://h4:2380", true))).ok());
  ASSERT_TRUE(Apply(c, MakePromoteConfChange(4)).ok());
  ASSERT_TRUE(Apply(c, MakeRemoveConfChange(1)).ok());
  EXPECT_FALSE(Apply(c, MakeRemoveConfChange(1)).ok());  // rejected: no event
  const std::vector<std::pair<uint64_t, ChangeKind>> want = {
      {1, ChangeKind::kAdded}, {2, ChangeKind::kAdded},    {3, ChangeKind::kAdded},
      {4, ChangeKind::kAdded}, {4, ChangeKind::kPromoted}, {1, ChangeKind::kRemoved}};
  EXPECT_EQ(seen, want);
}

TEST_F(ClusterTest, GarbageContextIsCorruption) {
  Cluster c;
  raft::ConfChange cc;
  cc.type = raft::ConfChangeType::kAddNode;
  cc.node_id = 5;
  cc.context = std::string("\xff\xff\xff", 3);
  auto b = store_->BeginBatch();
  auto ch = c.ApplyConfChange(**b, cc);
  ASSERT_FALSE(ch.ok());
  EXPECT_EQ(ch.status().code(), Code::kCorruption);
}

TEST_F(ClusterTest, LoadRejectsGarbageRow) {
  {
    auto b = store_->BeginBatch();
    ASSERT_TRUE((*b)->PutMember(1, std::string("\xff\xff\xff", 3)).ok());
    ASSERT_TRUE((*b)->Commit().ok());
  }
  Cluster c;
  Status st = Load(c);
  EXPECT_EQ(st.code(), Code::kCorruption);
}

TEST_F(ClusterTest, ClusterId) {
  Cluster c;
  EXPECT_EQ(c.cluster_id(), 0u);
  c.SetClusterId(0xcdf818194e3a8c32ull);
  EXPECT_EQ(c.cluster_id(), 0xcdf818194e3a8c32ull);
}

}  // namespace
}  // namespace etcdpp::membership
