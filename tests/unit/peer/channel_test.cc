#include "peer/channel.h"

#include <gtest/gtest.h>

namespace etcdpp::peer {
namespace {

TEST(ChannelTest, PeerUrlToTarget) {
  EXPECT_EQ(*PeerUrlToTarget("http://127.0.0.1:2380"), "127.0.0.1:2380");
  EXPECT_EQ(*PeerUrlToTarget("http://localhost:2380/"), "127.0.0.1:2380");
  EXPECT_EQ(*PeerUrlToTarget("http://[::1]:2380"), "[::1]:2380");
  EXPECT_EQ(*PeerUrlToTarget("http://node-1.example:12380"), "node-1.example:12380");
  for (const char* bad : {"https://127.0.0.1:2380", "127.0.0.1:2380", "http://127.0.0.1",
                          "http://127.0.0.1:0", "http://127.0.0.1:70000", "http://h:1/path",
                          "http://::1:2380", "http://:2380", "unix://x"}) {
    auto r = PeerUrlToTarget(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_TRUE(r.status().Is(Code::kInvalidArgument)) << bad;
    }
  }
}

TEST(ChannelTest, HexIds) {
  EXPECT_EQ(IdToHex(0x8e9e05c52164694dULL), "8e9e05c52164694d");
  EXPECT_EQ(IdToHex(1), "0000000000000001");
  EXPECT_EQ(*ParseHexId("8E9E05C52164694D"), 0x8e9e05c52164694dULL);
  EXPECT_EQ(*ParseHexId("1"), 1u);
  EXPECT_EQ(*ParseHexId(IdToHex(~0ULL)), ~0ULL);
  EXPECT_FALSE(ParseHexId(""));
  EXPECT_FALSE(ParseHexId("12345678901234567"));
  EXPECT_FALSE(ParseHexId("xyz"));
  EXPECT_FALSE(ParseHexId("12 "));
}

}  // namespace
}  // namespace etcdpp::peer
