#include "server/ids.h"

#include <gtest/gtest.h>

#include <set>

#include "server/bootstrap.h"

namespace etcdpp::server {
namespace {

// The well-known ids of a default `etcd` (no flags): etcdctl member list
// prints 8e9e05c52164694d; the cluster id is cdf818194e3a8c32.
TEST(Ids, DefaultMemberMatchesEtcd) {
  uint64_t m = ComputeMemberId({"http://localhost:2380"}, "etcd-cluster");
  EXPECT_EQ(IdToHex(m), "8e9e05c52164694d");
  EXPECT_EQ(IdToHex(ComputeClusterId({m})), "cdf818194e3a8c32");
}

TEST(Ids, PeerUrlOrderDoesNotMatter) {
  EXPECT_EQ(ComputeMemberId({"http://b:2380", "http://a:2380"}, "t"),
            ComputeMemberId({"http://a:2380", "http://b:2380"}, "t"));
  EXPECT_NE(ComputeMemberId({"http://a:2380"}, "t1"), ComputeMemberId({"http://a:2380"}, "t2"));
  EXPECT_EQ(ComputeClusterId({1, 2, 3}), ComputeClusterId({3, 1, 2}));
}

TEST(Ids, HexHasNoLeadingZeros) {
  EXPECT_EQ(IdToHex(0x0abc), "abc");
}

TEST(Ids, GeneratorNeverRepeatsAndEmbedsMember) {
  IdGenerator g(0x8e9e05c52164694dull, 1'700'000'000'000ull);
  std::set<uint64_t> seen;
  for (int i = 0; i < 10000; i++) {
    uint64_t id = g.Next();
    EXPECT_EQ(id >> 48, 0x694dull);
    EXPECT_TRUE(seen.insert(id).second);
  }
  // A later incarnation (later start time) does not reuse earlier ids.
  IdGenerator later(0x8e9e05c52164694dull, 1'700'000'000'001ull);
  EXPECT_GT(later.Next(), *seen.begin());
}

TEST(Bootstrap, DefaultConfigGivesEtcdIds) {
  config::ServerConfig cfg;
  auto id = BootstrapIdentity(cfg);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(IdToHex(id->member_id), "8e9e05c52164694d");
  EXPECT_EQ(IdToHex(id->cluster_id), "cdf818194e3a8c32");
}

TEST(Bootstrap, InitialClusterMustListThisMember) {
  config::ServerConfig cfg;
  cfg.initial_cluster = "other=http://localhost:2380";
  EXPECT_EQ(BootstrapIdentity(cfg).status().code(), Code::kInvalidArgument);
  cfg.initial_cluster = "default=http://10.0.0.1:2380";
  EXPECT_EQ(BootstrapIdentity(cfg).status().code(), Code::kInvalidArgument);
  cfg.initial_cluster = "default=http://localhost:2380";
  EXPECT_TRUE(BootstrapIdentity(cfg).ok());
}

TEST(Bootstrap, ParseInitialClusterGroupsUrls) {
  auto m = ParseInitialCluster("a=http://1:2380,b=http://2:2380,a=http://3:2380");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), 2u);
  EXPECT_EQ(m->at("a").size(), 2u);
  EXPECT_FALSE(ParseInitialCluster("a").ok());
  EXPECT_FALSE(ParseInitialCluster("=http://x:1").ok());
}

}  // namespace
}  // namespace etcdpp::server
