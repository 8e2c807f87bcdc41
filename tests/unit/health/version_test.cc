#include "health/version.h"

#include <gtest/gtest.h>

#include "metrics/fake_writer.h"

namespace etcdpp::health {
namespace {

TEST(VersionTest, GoFieldOrderPlusOurs) {
  VersionInfo v{"3.6.14", [] { return std::string("3.6.0"); }, [] { return std::string("3.6.0"); },
                "0.1.0"};
  http::Router router;
  RegisterVersionHandler(router, v);
  testing::FakeWriter w = testing::Serve(router, "GET", "/version");
  EXPECT_EQ(w.status, 200);
  EXPECT_EQ(w.body,
            "{\"etcdserver\":\"3.6.14\",\"etcdcluster\":\"3.6.0\",\"storage\":\"3.6.0\","
            "\"etcdpp\":\"0.1.0\"}");
  ASSERT_NE(w.Header("Content-Type"), nullptr);
  EXPECT_EQ(*w.Header("Content-Type"), "application/json");
}

TEST(VersionTest, UndecidedAndUnknown) {
  VersionInfo v{"3.6.14", [] { return std::string(); }, nullptr, "0.1.0"};
  EXPECT_EQ(VersionJson(v),
            "{\"etcdserver\":\"3.6.14\",\"etcdcluster\":\"not_decided\",\"storage\":\"unknown\","
            "\"etcdpp\":\"0.1.0\"}");
}

TEST(VersionTest, OnlyGet) {
  http::Router router;
  RegisterVersionHandler(router, VersionInfo{"3.6.14", nullptr, nullptr, "0.1.0"});
  testing::FakeWriter w = testing::Serve(router, "POST", "/version");
  EXPECT_EQ(w.status, 405);
  EXPECT_EQ(w.body, "Method Not Allowed\n");
  ASSERT_NE(w.Header("Allow"), nullptr);
  EXPECT_EQ(*w.Header("Allow"), "GET");
}

}  // namespace
}  // namespace etcdpp::health
