#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace etcdpp {
namespace {

// Check values from RFC 3720 (iSCSI) B.4 and the well-known "123456789" vector.
TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c::Value("123456789"), 0xE3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::Value(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c::Value(ones), 0x62A8AB43u);
  std::string inc(32, '\0');
  for (int i = 0; i < 32; ++i)
    inc[i] = static_cast<char>(i);
  EXPECT_EQ(crc32c::Value(inc), 0x46DD794Eu);
}

TEST(Crc32c, ExtendEqualsWhole) {
  std::string s = "hello, etcdpp: a write-ahead log record";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t a = crc32c::Extend(0, s.data(), cut);
    a = crc32c::Extend(a, s.data() + cut, s.size() - cut);
    EXPECT_EQ(a, crc32c::Value(s)) << cut;
  }
}

}  // namespace
}  // namespace etcdpp
