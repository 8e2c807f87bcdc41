#include "common/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

namespace etcdpp::log {
namespace {

using namespace std::chrono;

// A minimal strict JSON checker: one object whose values are strings, numbers,
// true/false/null, arrays or objects. Returns the top-level keys in order.
class JsonChecker {
 public:
  explicit JsonChecker(std::string_view s) : s_(s) {}
  bool Object(std::vector<std::string>* keys) {
    Ws();
    if (!Eat('{')) return false;
    Ws();
    if (Eat('}')) return Done();
    while (true) {
      std::string k;
      Ws();
      if (!String(&k)) return false;
      if (keys) keys->push_back(k);
      Ws();
      if (!Eat(':')) return false;
      if (!Value()) return false;
      Ws();
      if (Eat('}')) return Done();
      if (!Eat(',')) return false;
    }
  }

 private:
  bool Done() {
    Ws();
    return i_ == s_.size();
  }
  void Ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n'))
      ++i_;
  }
  bool Eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    while (i_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return true;
      if (c < 0x20) return false;  // raw control characters are not JSON
      if (c == '\\') {
        if (i_ >= s_.size()) return false;
        char e = s_[i_++];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k) {
            if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_++]))) {
              return false;
            }
          }
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
        continue;
      }
      out->push_back(static_cast<char>(c));
    }
    return false;
  }
  bool Value() {
    Ws();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '"') {
      std::string ignored;
      return String(&ignored);
    }
    if (c == '[') {
      ++i_;
      Ws();
      if (Eat(']')) return true;
      while (true) {
        if (!Value()) return false;
        Ws();
        if (Eat(']')) return true;
        if (!Eat(',')) return false;
      }
    }
    for (std::string_view lit : {"true", "false", "null"}) {
      if (s_.substr(i_, lit.size()) == lit) {
        i_ += lit.size();
        return true;
      }
    }
    size_t start = i_;
    if (c == '-') ++i_;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || s_[i_] == '.' ||
                              s_[i_] == 'e' || s_[i_] == 'E' || s_[i_] == '+' || s_[i_] == '-')) {
      ++i_;
    }
    return i_ > start;
  }
  std::string_view s_;
  size_t i_ = 0;
};

bool IsJsonObject(std::string_view line, std::vector<std::string>* keys = nullptr) {
  return JsonChecker(line).Object(keys);
}

system_clock::time_point FixedTime() {
  // 2026-11-25T04:35:14.123456Z
  return system_clock::time_point(seconds(1795581314) + microseconds(123456));
}

std::source_location Here() {
  return std::source_location::current();
}

TEST(Log, ExactZapLine) {
  auto loc = Here();
  std::string line =
      FormatLine(Level::kInfo, "ready to serve client requests",
                 {{"address", "127.0.0.1:2379"}, {"n", 3}, {"ok", true}}, loc, FixedTime());
  std::string caller = "common/log_test.cc:" + std::to_string(loc.line());
  EXPECT_EQ(line,
            "{\"level\":\"info\",\"ts\":\"2026-11-25T04:35:14.123456Z\",\"caller\":\"" + caller +
                "\",\"msg\":\"ready to serve client requests\",\"address\":\"127.0.0.1:2379\","
                "\"n\":3,\"ok\":true}\n");
  std::vector<std::string> keys;
  ASSERT_TRUE(IsJsonObject(line, &keys)) << line;
  EXPECT_EQ(keys, (std::vector<std::string>{"level", "ts", "caller", "msg", "address", "n", "ok"}));
}

TEST(Log, ValueTypes) {
  std::vector<std::string> urls = {"http://a:1", "http://b:2"};
  std::string line = FormatLine(Level::kWarn, "m",
                                {{"i", int64_t{-5}},
                                 {"u", uint64_t{18446744073709551615u}},
                                 {"d", 1.5},
                                 {"whole", 2.0},
                                 {"nan", std::nan("")},
                                 {"inf", std::numeric_limits<double>::infinity()},
                                 {"urls", urls},
                                 {"f", false}},
                                Here(), FixedTime());
  EXPECT_NE(line.find("\"level\":\"warn\""), std::string::npos);
  EXPECT_NE(line.find(",\"i\":-5,\"u\":18446744073709551615,\"d\":1.5,\"whole\":2,"
                      "\"nan\":\"NaN\",\"inf\":\"+Inf\",\"urls\":[\"http://a:1\",\"http://b:2\"],"
                      "\"f\":false}"),
            std::string::npos)
      << line;
  EXPECT_TRUE(IsJsonObject(line)) << line;
}

TEST(Log, EscapingLikeZap) {
  auto esc = [](std::string_view s) {
    std::string out;
    AppendJsonString(&out, s);
    return out;
  };
  EXPECT_EQ(esc("plain"), "\"plain\"");
  EXPECT_EQ(esc("q\"b\\"), "\"q\\\"b\\\\\"");
  EXPECT_EQ(esc("a\nb\rc\td"), "\"a\\nb\\rc\\td\"");
  EXPECT_EQ(esc(std::string_view("\x00\x01\x1f\b\f", 5)),
            "\"\\u0000\\u0001\\u001f\\u0008\\u000c\"");
  EXPECT_EQ(esc("\x7f<>&"), "\"\x7f<>&\"");  // zap leaves these alone
  EXPECT_EQ(esc("h\xC3\xA9llo \xE2\x82\xAC"), "\"h\xC3\xA9llo \xE2\x82\xAC\"");  // valid UTF-8 kept
  EXPECT_EQ(esc("bad\xff\xfe"), "\"bad\\ufffd\\ufffd\"");       // invalid bytes replaced one by one
  EXPECT_EQ(esc("\xC3"), "\"\\ufffd\"");                        // truncated sequence
  EXPECT_EQ(esc("\xC0\xAF"), "\"\\ufffd\\ufffd\"");             // overlong
  EXPECT_EQ(esc("\xED\xA0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // surrogate
  std::string line =
      FormatLine(Level::kError, "weird \"msg\"\n\x01\xff", {{"k\"ey", "v\\"}}, Here(), FixedTime());
  EXPECT_TRUE(IsJsonObject(line)) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1);  // exactly one line
}

TEST(Log, CallerAndLevels) {
  EXPECT_EQ(ShortCaller("/work/src/server/main.cc"), "server/main.cc");
  EXPECT_EQ(ShortCaller("main.cc"), "main.cc");
  EXPECT_EQ(ShortCaller("/main.cc"), "/main.cc");
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("warn"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("fatal"), Level::kFatal);
  EXPECT_EQ(ParseLevel("verbose").status().message(), "unrecognized level: \"verbose\"");
  for (Level l :
       {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kPanic, Level::kFatal}) {
    EXPECT_EQ(*ParseLevel(LevelName(l)), l);
  }
}

TEST(Log, TimestampFormat) {
  std::string line =
      FormatLine(Level::kInfo, "m", {}, Here(), system_clock::time_point(seconds(0)));
  EXPECT_NE(line.find("\"ts\":\"1970-01-01T00:00:00.000000Z\""), std::string::npos) << line;
  std::string console =
      FormatLine(Level::kInfo, "m", {{"k", 1}}, Here(), FixedTime(), /*console=*/true);
  EXPECT_EQ(console.rfind("2026-11-25T04:35:14.123456Z\tinfo\tcommon/log_test.cc:", 0), 0u)
      << console;
  EXPECT_NE(console.find("\tm\t{\"k\":1}\n"), std::string::npos) << console;
}

class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/etcdpp_log_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/etcd.log";
  }
  void TearDown() override {
    ASSERT_TRUE(Init("info", {"default"}, "json").ok());
    SetClockForTesting(nullptr);
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::vector<std::string> Lines() {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);)
      out.push_back(l);
    return out;
  }
  std::string dir_, path_;
};

TEST_F(LogFileTest, LevelFilterAndFileOutput) {
  ASSERT_TRUE(Init("warn", {path_}, "json").ok());
  SetClockForTesting(FixedTime);
  EXPECT_FALSE(Enabled(Level::kInfo));
  EXPECT_TRUE(Enabled(Level::kWarn));
  LOG_DEBUG("hidden");
  LOG_INFO("hidden", {"a", 1});
  LOG_WARN("shown", {"a", 1});
  LOG_ERROR("also shown");
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("{\"level\":\"warn\",\"ts\":\"2026-11-25T04:35:14.123456Z\","
                           "\"caller\":\"common/log_test.cc:",
                           0),
            0u)
      << lines[0];
  EXPECT_NE(lines[0].find("\"msg\":\"shown\",\"a\":1}"), std::string::npos);
  EXPECT_NE(lines[1].find("\"level\":\"error\""), std::string::npos);
  // Re-initialising appends to the same file.
  ASSERT_TRUE(Init("debug", {path_}, "json").ok());
  LOG_DEBUG("more");
  EXPECT_EQ(Lines().size(), 3u);
}

TEST_F(LogFileTest, WriteFieldsAtRunTime) {
  ASSERT_TRUE(Init("info", {path_}, "json").ok());
  SetClockForTesting(FixedTime);
  std::vector<std::string> keys = {"a", "b"};
  std::vector<Field> fields;
  for (const std::string& k : keys)
    fields.emplace_back(k, k + "-value");
  WriteFields(Level::kInfo, "dynamic", fields);
  WriteFields(Level::kDebug, "filtered", fields);
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"msg\":\"dynamic\",\"a\":\"a-value\",\"b\":\"b-value\"}"),
            std::string::npos)
      << lines[0];
}

TEST_F(LogFileTest, InitErrors) {
  EXPECT_EQ(Init("loud", {"stderr"}, "json").message(), "unrecognized level: \"loud\"");
  EXPECT_EQ(Init("info", {"stderr"}, "xml").message(),
            "unknown log format: xml, supported values json, console");
  Status st = Init("info", {dir_ + "/no/such/dir/x.log"}, "json");
  EXPECT_EQ(st.code(), Code::kIOError);
  EXPECT_NE(st.message().find("No such file or directory"), std::string::npos);
  EXPECT_TRUE(Init("info", {"stdout", "stderr"}, "console").ok());
}

TEST_F(LogFileTest, ConcurrentLinesNeverInterleave) {
  ASSERT_TRUE(Init("info", {path_}, "json").ok());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      std::string payload(100 + t * 50, static_cast<char>('a' + t));
      for (int i = 0; i < kPerThread; ++i)
        LOG_INFO("concurrent", {"t", t}, {"i", i}, {"p", payload});
    });
  }
  for (auto& th : threads)
    th.join();
  auto lines = Lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const std::string& l : lines)
    ASSERT_TRUE(IsJsonObject(l)) << l;
}

}  // namespace
}  // namespace etcdpp::log
