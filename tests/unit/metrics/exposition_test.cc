#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "metrics/metrics.h"
#include "metrics/parse.h"

namespace etcdpp::metrics {
namespace {

TEST(ExpositionTest, FormatValueMatchesGoFormatFloat) {
  // strconv.FormatFloat(v, 'g', -1, 64) as client_golang writes values.
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(1), "1");
  EXPECT_EQ(FormatValue(-1), "-1");
  EXPECT_EQ(FormatValue(0.5), "0.5");
  EXPECT_EQ(FormatValue(0.001), "0.001");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
  EXPECT_EQ(FormatValue(0.00001), "1e-05");
  EXPECT_EQ(FormatValue(8.192), "8.192");
  EXPECT_EQ(FormatValue(52.4288), "52.4288");
  EXPECT_EQ(FormatValue(123.456), "123.456");
  EXPECT_EQ(FormatValue(100000), "100000");
  EXPECT_EQ(FormatValue(651543), "651543");
  EXPECT_EQ(FormatValue(1e6), "1e+06");
  EXPECT_EQ(FormatValue(1234567), "1.234567e+06");
  EXPECT_EQ(FormatValue(2.5769803776e10), "2.5769803776e+10");
  EXPECT_EQ(FormatValue(5.09946143e+08), "5.09946143e+08");
  EXPECT_EQ(FormatValue(1.5e300), "1.5e+300");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(ExpositionTest, Escaping) {
  EXPECT_EQ(EscapeHelp("a\\b\nc\"d"), "a\\\\b\\nc\"d");  // quotes stay in HELP
  EXPECT_EQ(EscapeLabelValue("a\\b\nc\"d"), "a\\\\b\\nc\\\"d");
}

TEST(ExpositionTest, SortedFamiliesSeriesAndLabels) {
  Registry r;
  r.Gauge("zeta", "last").Set(1);
  r.Counter("alpha_total", "first").Inc();
  GaugeFamily& f = r.GaugeVec("mid", "labelled", {"z", "a"});  // label names unsorted
  f.With({"2", "x"}).Set(2);
  f.With({"1", "y"}).Set(1);
  f.With({"1", "x"}).Set(3);
  r.CounterVec("empty_total", "never used", {"k"});  // no child: not exposed
  std::string text = r.Expose();
  testing::Parsed p = testing::ParseExposition(text);
  ASSERT_TRUE(p.ok) << p.error << "\n" << text;
  EXPECT_EQ(p.order, (std::vector<std::string>{"alpha_total", "mid", "zeta"}));
  EXPECT_EQ(p.families["alpha_total"].type, "counter");
  EXPECT_EQ(p.families["mid"].type, "gauge");
  // Label pairs sorted by name; series by label values in that order.
  EXPECT_NE(text.find("mid{a=\"x\",z=\"1\"} 3\nmid{a=\"x\",z=\"2\"} 2\nmid{a=\"y\",z=\"1\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("empty_total"), std::string::npos);
}

TEST(ExpositionTest, EscapedLabelValuesRoundTrip) {
  Registry r;
  r.GaugeVec("weird", "help with \\ and\nnewline", {"v"}).With({"q\"uo\\te\nnl"}).Set(1);
  std::string text = r.Expose();
  EXPECT_NE(text.find("# HELP weird help with \\\\ and\\nnewline\n"), std::string::npos) << text;
  testing::Parsed p = testing::ParseExposition(text);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.Value("weird", {{"v", "q\"uo\\te\nnl"}}), "1");
}

TEST(ExpositionTest, HistogramLayout) {
  Registry r;
  HistogramFamily& f = r.HistogramVec("rtt_seconds", "rtt", {"To"}, {0.001, 0.002, 0.004});
  f.With({"b"}).Observe(0.0015);
  f.With({"a"}).Observe(0.001);
  f.With({"a"}).Observe(1);
  std::string text = r.Expose();
  const char* want =
      "# HELP rtt_seconds rtt\n"
      "# TYPE rtt_seconds histogram\n"
      "rtt_seconds_bucket{To=\"a\",le=\"0.001\"} 1\n"
      "rtt_seconds_bucket{To=\"a\",le=\"0.002\"} 1\n"
      "rtt_seconds_bucket{To=\"a\",le=\"0.004\"} 1\n"
      "rtt_seconds_bucket{To=\"a\",le=\"+Inf\"} 2\n"
      "rtt_seconds_sum{To=\"a\"} 1.001\n"
      "rtt_seconds_count{To=\"a\"} 2\n"
      "rtt_seconds_bucket{To=\"b\",le=\"0.001\"} 0\n"
      "rtt_seconds_bucket{To=\"b\",le=\"0.002\"} 1\n"
      "rtt_seconds_bucket{To=\"b\",le=\"0.004\"} 1\n"
      "rtt_seconds_bucket{To=\"b\",le=\"+Inf\"} 1\n"
      "rtt_seconds_sum{To=\"b\"} 0.0015\n"
      "rtt_seconds_count{To=\"b\"} 1\n";
  EXPECT_EQ(text, want);
  EXPECT_TRUE(testing::ParseExposition(text).ok);
}

TEST(ExpositionTest, UnlabelledHistogram) {
  Registry r;
  r.Histogram("d", "d", {1}).Observe(0.5);
  EXPECT_EQ(r.Expose(),
            "# HELP d d\n# TYPE d histogram\nd_bucket{le=\"1\"} 1\nd_bucket{le=\"+Inf\"} 1\n"
            "d_sum 0.5\nd_count 1\n");
}

}  // namespace
}  // namespace etcdpp::metrics
