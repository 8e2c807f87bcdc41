#include "membership/initial_cluster.h"

#include <gtest/gtest.h>

namespace etcdpp::membership {
namespace {

// Stand-in for ComputeMemberId(urls, token): deterministic, distinct per URL set.
uint64_t FakeId(const std::vector<std::string>& urls) {
  std::string j;
  for (const auto& u : urls)
    j += u + ",";
  return std::hash<std::string>{}(j) | 1;
}

TEST(InitialClusterTest, ParsesSeveralURLsPerName) {
  auto r = ParseInitialCluster("b=http://h2:2380,a=http://h1:2380,,a=http://h1b:2380");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0], (NamedURLs{"a", {"http://h1:2380", "http://h1b:2380"}}));
  EXPECT_EQ((*r)[1], (NamedURLs{"b", {"http://h2:2380"}}));
  EXPECT_EQ(InitialClusterString(*r), "a=http://h1:2380,a=http://h1b:2380,b=http://h2:2380");
  EXPECT_TRUE(CheckHasLocalMember(*r, "a").ok());
  EXPECT_EQ(CheckHasLocalMember(*r, "c").message(),
            "couldn't find local name \"c\" in the initial cluster configuration");
}

TEST(InitialClusterTest, BadURL) {
  auto r = ParseInitialCluster("a=http://h1:2380,b=h2:2380");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "URL scheme must be http, https, unix, or unixs: h2:2380");
  r = ParseInitialCluster("a");  // no '=': empty URL
  EXPECT_FALSE(r.ok());
}

TEST(InitialClusterTest, EmptyName) {
  auto r = ParseInitialCluster("=http://h1:2380");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "initial cluster has a member with an empty name");
}

TEST(InitialClusterTest, DuplicateURLAcrossMembers) {
  auto r = ParseInitialCluster("a=http://h1:2380,b=http://h1:2380");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "initial cluster a=http://h1:2380,b=http://h1:2380 has duplicate url");
  r = ParseInitialCluster("a=http://h1:2380,a=http://h1:2380");
  EXPECT_FALSE(r.ok());
}

TEST(InitialClusterTest, BuildAssignsIdsSortedById) {
  auto r = ParseInitialCluster("a=http://h1:2380,b=http://h2:2380,c=http://h3:2380");
  ASSERT_TRUE(r.ok());
  auto ms = BuildInitialMembers(*r, FakeId);
  ASSERT_TRUE(ms.ok()) << ms.status().ToString();
  ASSERT_EQ(ms->size(), 3u);
  for (size_t i = 0; i < ms->size(); ++i) {
    const Member& m = (*ms)[i];
    EXPECT_EQ(m.id, FakeId(m.peer_urls));
    EXPECT_FALSE(m.is_learner);
    EXPECT_TRUE(m.client_urls.empty());
    if (i > 0) {
      EXPECT_LT((*ms)[i - 1].id, m.id);
    }
  }
}

TEST(InitialClusterTest, IdenticalIds) {
  auto r = ParseInitialCluster("a=http://h1:2380,b=http://h2:2380");
  ASSERT_TRUE(r.ok());
  auto ms = BuildInitialMembers(*r, [](const std::vector<std::string>&) { return 42; });
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().message().rfind("member exists with identical ID ", 0), 0u)
      << ms.status().message();
  ms = BuildInitialMembers({{"a", {"http://h1:2380"}}},
                           [](const std::vector<std::string>&) { return 0; });
  ASSERT_FALSE(ms.ok());
  EXPECT_EQ(ms.status().message(), "cannot use 0 as member id");
}

TEST(InitialClusterTest, ValidateAgainstExistingAssignsRemoteIds) {
  std::vector<Member> local = {{1, "a", {"http://h1:2380"}, {}, false},
                               {2, "b", {"http://h2:2380", "http://h2b:2380"}, {}, false}};
  std::vector<Member> existing = {{0xaa, "", {"http://h2b:2380", "http://h2:2380"}, {}, false},
                                  {0xbb, "a", {"http://h1:2380"}, {}, false}};
  auto r = ValidateClusterAndAssignIDs(local, existing);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].id, 0xaau);
  EXPECT_EQ((*r)[0].name, "b");
  EXPECT_EQ((*r)[1].id, 0xbbu);
  EXPECT_EQ((*r)[1].name, "a");
}

TEST(InitialClusterTest, ValidateAgainstExistingMismatch) {
  std::vector<Member> local = {{1, "a", {"http://h1:2380"}, {}, false}};
  std::vector<Member> two = {{0xaa, "", {"http://h1:2380"}, {}, false},
                             {0xbb, "", {"http://h2:2380"}, {}, false}};
  auto r = ValidateClusterAndAssignIDs(local, two);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "member count is unequal");
  std::vector<Member> other = {{0xaa, "", {"http://h9:2380"}, {}, false}};
  r = ValidateClusterAndAssignIDs(local, other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "PeerURLs: no match found for existing member (aa, [http://h9:2380]), last resolver "
            "error (<nil>)");
}

}  // namespace
}  // namespace etcdpp::membership
