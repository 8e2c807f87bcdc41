#include "config/go_values.h"

#include <gtest/gtest.h>

namespace etcdpp::config {
namespace {

TEST(GoValues, Bool) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"})
    EXPECT_TRUE(*ParseGoBool(t)) << t;
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) {
    EXPECT_FALSE(*ParseGoBool(f)) << f;
  }
  for (const char* bad : {"", "yes", "tRUE", "2", " true"}) {
    EXPECT_FALSE(ParseGoBool(bad).ok()) << bad;
  }
}

TEST(GoValues, Uint) {
  EXPECT_EQ(*ParseGoUint("0"), 0u);
  EXPECT_EQ(*ParseGoUint("1572864"), 1572864u);
  EXPECT_EQ(*ParseGoUint("0x10"), 16u);
  EXPECT_EQ(*ParseGoUint("010"), 8u);
  EXPECT_EQ(*ParseGoUint("0b101"), 5u);
  EXPECT_EQ(*ParseGoUint("0o17"), 15u);
  EXPECT_EQ(*ParseGoUint("0x_1F"), 31u);
  EXPECT_EQ(*ParseGoUint("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseGoUint("18446744073709551616").status().message(), "value out of range");
  EXPECT_EQ(ParseGoUint("4294967296", 32).status().message(), "value out of range");
  EXPECT_EQ(*ParseGoUint("4294967295", 32), 4294967295u);
  for (const char* bad : {"", "-1", "+1", "1_000", "08", "0x", "1e3", "12a", " 1", "0_"}) {
    EXPECT_EQ(ParseGoUint(bad).status().message(), "parse error") << bad;
  }
}

TEST(GoValues, Int) {
  EXPECT_EQ(*ParseGoInt("-1"), -1);
  EXPECT_EQ(*ParseGoInt("+7"), 7);
  EXPECT_EQ(*ParseGoInt("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(*ParseGoInt("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(ParseGoInt("9223372036854775808").status().message(), "value out of range");
  EXPECT_EQ(ParseGoInt("-").status().message(), "parse error");
  EXPECT_EQ(ParseGoInt("abc").status().message(), "parse error");
}

TEST(GoValues, Duration) {
  EXPECT_EQ(*ParseGoDuration("0"), 0);
  EXPECT_EQ(*ParseGoDuration("100ms"), 100'000'000);
  EXPECT_EQ(*ParseGoDuration("5s"), 5'000'000'000);
  EXPECT_EQ(*ParseGoDuration("2h"), 7200'000'000'000);
  EXPECT_EQ(*ParseGoDuration("1m30s"), 90'000'000'000);
  EXPECT_EQ(*ParseGoDuration("1.5s"), 1'500'000'000);
  EXPECT_EQ(*ParseGoDuration(".5s"), 500'000'000);
  EXPECT_EQ(*ParseGoDuration("-3us"), -3000);
  EXPECT_EQ(*ParseGoDuration("1\xC2\xB5s"), 1000);
  EXPECT_EQ(*ParseGoDuration("10ns"), 10);
  EXPECT_EQ(ParseGoDuration("5").status().message(), "time: missing unit in duration \"5\"");
  EXPECT_EQ(ParseGoDuration("abc").status().message(), "time: invalid duration \"abc\"");
  EXPECT_EQ(ParseGoDuration("5x").status().message(),
            "time: unknown unit \"x\" in duration \"5x\"");
  EXPECT_EQ(ParseGoDuration("").status().message(), "time: invalid duration \"\"");
  EXPECT_EQ(ParseGoDuration(".s").status().message(), "time: invalid duration \".s\"");
  EXPECT_FALSE(ParseGoDuration("9999999999h").ok());
}

TEST(GoValues, FormatDuration) {
  EXPECT_EQ(FormatGoDuration(0), "0s");
  EXPECT_EQ(FormatGoDuration(1), "1ns");
  EXPECT_EQ(FormatGoDuration(1500), "1.5\xC2\xB5s");
  EXPECT_EQ(FormatGoDuration(100'000'000), "100ms");
  EXPECT_EQ(FormatGoDuration(5'000'000'000), "5s");
  EXPECT_EQ(FormatGoDuration(1'500'000'000), "1.5s");
  EXPECT_EQ(FormatGoDuration(60'000'000'000), "1m0s");
  EXPECT_EQ(FormatGoDuration(90'000'000'000), "1m30s");
  EXPECT_EQ(FormatGoDuration(7200'000'000'000), "2h0m0s");
  EXPECT_EQ(FormatGoDuration(-5'000'000'000), "-5s");
  for (const char* s : {"1h2m3.5s", "10m0s", "20s", "6s", "999ms"}) {
    EXPECT_EQ(FormatGoDuration(*ParseGoDuration(s)), s);
  }
}

TEST(GoValues, UrlList) {
  auto r =
      ParseUrlList("http://127.0.0.1:2379, https://[::1]:2379,unix://sock,http://127.0.0.1:2379");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(
      *r, (std::vector<std::string>{"http://127.0.0.1:2379", "https://[::1]:2379", "unix://sock"}));
  EXPECT_TRUE(ParseUrlList("")->empty());
  EXPECT_TRUE(ParseUrlList("unixs://a/b/c").ok());
  EXPECT_EQ(ParseUrlList("ftp://a:1").status().message(),
            "URL scheme must be http, https, unix, or unixs: ftp://a:1");
  EXPECT_EQ(ParseUrlList("localhost:2379").status().message(),
            "URL scheme must be http, https, unix, or unixs: localhost:2379");
  EXPECT_EQ(ParseUrlList("http://localhost").status().message(),
            "URL address does not have the form \"host:port\": http://localhost");
  EXPECT_EQ(ParseUrlList("http://localhost:2379/x").status().message(),
            "URL must not contain a path: http://localhost:2379/x");
  EXPECT_EQ(ParseUrlList("127.0.0.1:2379").status().message(),
            "parse \"127.0.0.1:2379\": first path segment in URL cannot contain colon");
  EXPECT_EQ(ParseUrlList("http://h:abc").status().message(),
            "parse \"http://h:abc\": invalid port \":abc\" after host");
  EXPECT_FALSE(ParseUrlList("http://a:1:2").ok());
}

TEST(GoValues, SplitUrl) {
  UrlParts p = SplitUrl("https://[::1]:2379");
  EXPECT_EQ(p.scheme, "https");
  EXPECT_EQ(p.hostname, "::1");
  EXPECT_EQ(p.port, "2379");
  p = SplitUrl("http://user@10.0.0.1:80");
  EXPECT_EQ(p.hostname, "10.0.0.1");
}

TEST(GoValues, Lists) {
  EXPECT_EQ(SplitList("b,a,b", true), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(SplitList("b,a,b", false), (std::vector<std::string>{"b", "a", "b"}));
  EXPECT_TRUE(SplitList("", false).empty());
  EXPECT_TRUE(IsIpLiteral("127.0.0.1"));
  EXPECT_TRUE(IsIpLiteral("::1"));
  EXPECT_FALSE(IsIpLiteral("example.com"));
  EXPECT_EQ(GoQuote("a\"b\n"), "\"a\\\"b\\n\"");
}

}  // namespace
}  // namespace etcdpp::config
