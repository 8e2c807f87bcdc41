#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "metrics/etcd_metrics.h"
#include "metrics/fake_writer.h"
#include "metrics/handler.h"
#include "metrics/parse.h"

namespace etcdpp::metrics {
namespace {

TEST(MetricsTest, CounterGaugeHistogramBasics) {
  Registry r;
  Counter& c = r.Counter("c_total", "a counter");
  c.Inc();
  c.Inc(4);
  EXPECT_EQ(c.Value(), 5u);
  EXPECT_EQ(&r.Counter("c_total", "a counter"), &c);  // idempotent by name

  Gauge& g = r.Gauge("g", "a gauge");
  g.Set(3.5);
  g.Add(-1);
  g.Inc();
  g.Dec();
  EXPECT_DOUBLE_EQ(g.Value(), 2.5);

  Histogram& h = r.Histogram("h_seconds", "a histogram", {0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 50.0})
    h.Observe(v);
  Histogram::Snapshot s = h.Take();
  // `le` is inclusive: 0.1 falls in the first bucket, 1.0 in the second.
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 4, 5, 6}));
  EXPECT_EQ(s.count, 6u);
  EXPECT_DOUBLE_EQ(s.sum, 56.65);
}

TEST(MetricsTest, ExponentialBucketsMatchGo) {
  std::vector<double> b = ExponentialBuckets(0.001, 2, 14);
  ASSERT_EQ(b.size(), 14u);
  EXPECT_DOUBLE_EQ(b.front(), 0.001);
  EXPECT_DOUBLE_EQ(b.back(), 8.192);
}

TEST(MetricsTest, LabelledChildrenAreStable) {
  Registry r;
  CounterFamily& f = r.CounterVec("req_total", "requests", {"method", "code"});
  Counter& a = f.With({"GET", "200"});
  Counter& b = f.With({"GET", "500"});
  EXPECT_NE(&a, &b);
  EXPECT_EQ(&f.With({"GET", "200"}), &a);
  a.Inc();
  EXPECT_EQ(f.Children().size(), 2u);
}

TEST(MetricsTest, ConcurrentIncrementsAreExact) {
  Registry r;
  Counter& c = r.Counter("n_total", "n");
  Gauge& g = r.Gauge("g", "g");
  Histogram& h = r.Histogram("h", "h", ExponentialBuckets(1, 2, 4));
  CounterFamily& f = r.CounterVec("l_total", "l", {"k"});
  constexpr int kThreads = 8, kEach = 50'000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&, t] {
      Counter& mine = f.With({t % 2 == 0 ? "even" : "odd"});
      for (int i = 0; i < kEach; i++) {
        c.Inc();
        g.Add(1);
        h.Observe(static_cast<double>(i % 10));
        mine.Inc();
      }
    });
  }
  // A concurrent scrape must not disturb the writers (nor crash).
  std::string text;
  for (int i = 0; i < 20; i++)
    text = r.Expose();
  for (auto& t : ts)
    t.join();
  EXPECT_EQ(c.Value(), uint64_t{kThreads} * kEach);
  EXPECT_DOUBLE_EQ(g.Value(), double{kThreads} * kEach);
  EXPECT_EQ(h.Take().count, uint64_t{kThreads} * kEach);
  EXPECT_EQ(f.With({"even"}).Value() + f.With({"odd"}).Value(), uint64_t{kThreads} * kEach);
  EXPECT_TRUE(testing::ParseExposition(text).ok);
}

TEST(MetricsTest, CollectorRunsAtScrapeUntilUnregistered) {
  Registry r;
  int calls = 0;
  {
    Registration reg = r.AddCollector([&calls](Sink& s) {
      calls++;
      s.Gauge("dyn_value", "computed", 42, {{"who", "me"}});
    });
    std::string text = r.Expose();
    EXPECT_NE(text.find("dyn_value{who=\"me\"} 42\n"), std::string::npos) << text;
    EXPECT_EQ(calls, 1);
  }
  EXPECT_EQ(r.Expose().find("dyn_value"), std::string::npos);
  EXPECT_EQ(calls, 1);
}

TEST(MetricsTest, CollectorMayRefreshARegisteredGauge) {
  Registry r;
  Gauge& g = r.Gauge("applied", "applied index");
  Registration reg = r.AddCollector([&g](Sink&) { g.Set(7); });
  EXPECT_NE(r.Expose().find("applied 7\n"), std::string::npos);
}

TEST(MetricsTest, HandlerServesTextFormat) {
  Registry r;
  r.Counter("hits_total", "hits").Inc(3);
  http::Router router;
  RegisterHandler(router, r);
  testing::FakeWriter w = testing::Serve(router, "GET", "/metrics");
  EXPECT_EQ(w.status, 200);
  ASSERT_NE(w.Header("Content-Type"), nullptr);
  EXPECT_EQ(*w.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  testing::Parsed p = testing::ParseExposition(w.body);
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_EQ(p.Value("hits_total"), "3");
  // The process collector comes with the handler.
  EXPECT_NE(p.Value("process_resident_memory_bytes"), "");
  EXPECT_NE(p.Value("process_start_time_seconds"), "");
}

TEST(MetricsTest, EtcdCatalogIsExposedAtZero) {
  EtcdMetrics& m = Etcd();
  EXPECT_EQ(&m, &Etcd());
  testing::Parsed p = testing::ParseExposition(Default().Expose());
  ASSERT_TRUE(p.ok) << p.error;
  for (const char* gauge :
       {"etcd_server_has_leader", "etcd_server_is_leader", "etcd_server_proposals_committed_total",
        "etcd_server_proposals_applied_total", "etcd_server_proposals_pending",
        "etcd_mvcc_db_total_size_in_bytes", "etcd_mvcc_db_total_size_in_use_in_bytes",
        "etcd_debugging_mvcc_keys_total"}) {
    ASSERT_TRUE(p.families.count(gauge)) << gauge;
    EXPECT_EQ(p.families.at(gauge).type, "gauge") << gauge;
  }
  for (const char* counter :
       {"etcd_server_leader_changes_seen_total", "etcd_server_proposals_failed_total",
        "etcd_server_slow_apply_total", "etcd_mvcc_put_total", "etcd_mvcc_delete_total",
        "etcd_mvcc_range_total", "etcd_mvcc_txn_total", "etcd_server_health_success",
        "etcd_server_health_failures"}) {
    ASSERT_TRUE(p.families.count(counter)) << counter;
    EXPECT_EQ(p.families.at(counter).type, "counter") << counter;
  }
  for (const char* hist :
       {"etcd_disk_wal_fsync_duration_seconds", "etcd_disk_backend_commit_duration_seconds"}) {
    ASSERT_TRUE(p.families.count(hist)) << hist;
    EXPECT_EQ(p.families.at(hist).type, "histogram");
    EXPECT_EQ(p.families.at(hist).samples.size(), 14u + 1 + 2);  // buckets, +Inf, sum, count
  }
  EXPECT_EQ(p.Value("etcd_disk_wal_fsync_duration_seconds_bucket", {{"le", "8.192"}}), "0");
}

TEST(MetricsTest, RaftStateCountsNewLeadersOnly) {
  EtcdMetrics& m = Etcd();
  uint64_t before = m.leader_changes_seen_total.Value();
  m.OnRaftState(0, 0, false, false);  // no leader yet
  EXPECT_EQ(m.has_leader.Value(), 0);
  m.OnRaftState(5, 0, true, false);  // elected
  EXPECT_EQ(m.has_leader.Value(), 1);
  EXPECT_EQ(m.is_leader.Value(), 1);
  m.OnRaftState(5, 5, true, false);   // same leader, republished
  m.OnRaftState(0, 5, false, false);  // lost: not a change
  m.OnRaftState(7, 0, false, true);   // another leader; we are a learner
  EXPECT_EQ(m.leader_changes_seen_total.Value() - before, 2u);
  EXPECT_EQ(m.is_learner.Value(), 1);
  EXPECT_EQ(m.is_leader.Value(), 0);
  m.OnRaftState(0, 0, false, false);  // leave the process-wide gauges as found
}

TEST(MetricsTest, SlowApplyCountsAboveTheWarningDuration) {
  EtcdMetrics& m = Etcd();
  uint64_t before = m.slow_apply_total.Value();
  m.OnApplied(std::chrono::milliseconds(1));
  m.OnApplied(std::chrono::milliseconds(150));
  EXPECT_EQ(m.slow_apply_total.Value() - before, 1u);
  EXPECT_EQ(IdLabel(0x8e9e05c52164694d), "8e9e05c52164694d");
  EXPECT_EQ(IdLabel(0xa), "a");
}

}  // namespace
}  // namespace etcdpp::metrics
