#include "metrics/process.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

namespace etcdpp::metrics {
namespace {

TEST(ProcessTest, ReadsOwnProcess) {
  auto s = ReadProcessStats();
  ASSERT_TRUE(s.has_value());
  EXPECT_GT(s->resident_bytes, 0);
  EXPECT_GT(s->virtual_bytes, s->resident_bytes);
  EXPECT_GT(s->open_fds, 2);  // stdin/out/err at least
  EXPECT_GT(s->max_fds, 0);
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Started before now, and not days ago (generous: clock tick rounding).
  EXPECT_LE(s->start_time_seconds, now + 1);
  EXPECT_GT(s->start_time_seconds, now - 86400);
  EXPECT_GE(s->cpu_seconds, 0);
}

TEST(ProcessTest, ParsesAFakeProcTree) {
  char tmpl[] = "/tmp/etcdpp-proc-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::filesystem::path root(tmpl);
  std::filesystem::create_directories(root / "42" / "fd");
  for (const char* fd : {"0", "1", "2", "7"})
    std::ofstream(root / "42" / "fd" / fd) << "";
  std::ofstream(root / "stat") << "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n";
  // comm with spaces and parens; utime=200 stime=100 ticks, starttime=500,
  // vsize=123456789, rss=1000 pages.
  std::ofstream(root / "42" / "stat")
      << "42 (etc d) (x)) S 1 42 42 0 -1 4194304 100 0 0 0 200 100 0 0 20 0 9 0 500 123456789 "
         "1000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
  std::ofstream(root / "42" / "limits")
      << "Limit                     Soft Limit           Hard Limit           Units\n"
         "Max address space         unlimited            unlimited            bytes\n"
         "Max open files            1024                 524288               files\n";
  auto s = ReadProcessStats(root.string(), "42");
  ASSERT_TRUE(s.has_value());
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 300 / ticks);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1700000000 + 500 / ticks);
  EXPECT_DOUBLE_EQ(s->virtual_bytes, 123456789);
  EXPECT_DOUBLE_EQ(s->resident_bytes, 1000 * static_cast<double>(sysconf(_SC_PAGESIZE)));
  EXPECT_DOUBLE_EQ(s->max_fds, 1024);
  EXPECT_DOUBLE_EQ(s->virtual_max_bytes, -1);
  EXPECT_DOUBLE_EQ(s->open_fds, 4);
  EXPECT_FALSE(ReadProcessStats(root.string(), "43").has_value());
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace etcdpp::metrics
