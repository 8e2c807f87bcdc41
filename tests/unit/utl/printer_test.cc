// etcdutl's output formats for snapshot status.
#include "tools/utl/printer.h"

#include <gtest/gtest.h>

namespace etcdpp::utl {
namespace {

TEST(Printer, HumanizeBytes_likeGoHumanize) {
  EXPECT_EQ(HumanizeBytes(0), "0 B");
  EXPECT_EQ(HumanizeBytes(82), "82 B");
  EXPECT_EQ(HumanizeBytes(20480), "20 kB");
  EXPECT_EQ(HumanizeBytes(2100000), "2.1 MB");
  EXPECT_EQ(HumanizeBytes(1000), "1.0 kB");
}

TEST(Printer, FormatDbStatus_allFormats) {
  DbStatus ds{0x1f0afe53, 6, 10, 20480, "3.6.0"};
  EXPECT_EQ(*FormatDbStatus(ds, "simple"), "1f0afe53, 6, 10, 20 kB, 3.6.0\n");
  EXPECT_EQ(*FormatDbStatus(ds, "json"),
            "{\"hash\":520814163,\"revision\":6,\"totalKey\":10,\"totalSize\":20480,"
            "\"version\":\"3.6.0\"}\n");
  // etcdctl 3.4's table for the same numbers, plus 3.6's VERSION column.
  EXPECT_EQ(*FormatDbStatus(ds, "table"),
            "+----------+----------+------------+------------+---------+\n"
            "|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE | VERSION |\n"
            "+----------+----------+------------+------------+---------+\n"
            "| 1f0afe53 |        6 |         10 |      20 kB |   3.6.0 |\n"
            "+----------+----------+------------+------------+---------+\n");
  EXPECT_EQ(FormatDbStatus(ds, "fields").status().message(),
            "fields not supported as output format");
  EXPECT_FALSE(FormatDbStatus(ds, "xml").ok());
}

TEST(Printer, FormatHashKV_allFormats) {
  HashKVStatus h{3014599718u, 12, 5};
  EXPECT_EQ(*FormatHashKV(h, "simple"), "3014599718, 12, 5\n");
  EXPECT_EQ(*FormatHashKV(h, "json"),
            "{\"hash\":3014599718,\"hashRevision\":12,\"compactRevision\":5}\n");
  EXPECT_EQ(*FormatHashKV(h, "table"),
            "+------------+---------------+------------------+\n"
            "|    HASH    | HASH REVISION | COMPACT REVISION |\n"
            "+------------+---------------+------------------+\n"
            "| 3014599718 |            12 |                5 |\n"
            "+------------+---------------+------------------+\n");
}

}  // namespace
}  // namespace etcdpp::utl
