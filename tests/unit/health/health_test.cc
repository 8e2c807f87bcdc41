#include "health/health.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "metrics/etcd_metrics.h"
#include "metrics/fake_writer.h"

namespace etcdpp::health {
namespace {

using testing::FakeWriter;

// A member whose state each test sets; records how reads were asked for.
struct FakeMember {
  std::mutex mu;
  std::vector<etcdserverpb::AlarmType> alarms;
  uint64_t leader = 1;
  bool learner = false;
  Status serializable_error, linearizable_error;
  int serializable_calls = 0, linearizable_calls = 0;
  std::chrono::milliseconds last_timeout{0};

  Probes MakeProbes() {
    Probes p;
    p.alarms = [this] {
      std::lock_guard<std::mutex> l(mu);
      std::vector<etcdserverpb::AlarmMember> out;
      for (auto t : alarms) {
        etcdserverpb::AlarmMember a;
        a.set_memberid(7);
        a.set_alarm(t);
        out.push_back(a);
      }
      return out;
    };
    p.leader = [this] {
      std::lock_guard<std::mutex> l(mu);
      return leader;
    };
    p.is_learner = [this] {
      std::lock_guard<std::mutex> l(mu);
      return learner;
    };
    p.range = [this](bool serializable, std::chrono::milliseconds timeout) {
      std::lock_guard<std::mutex> l(mu);
      last_timeout = timeout;
      if (serializable) {
        serializable_calls++;
        return serializable_error;
      }
      linearizable_calls++;
      return linearizable_error;
    };
    p.request_timeout = std::chrono::milliseconds(7000);
    return p;
  }
};

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override { RegisterHandlers(router_, member_.MakeProbes()); }
  FakeWriter Get(const std::string& target) { return testing::Serve(router_, "GET", target); }
  void ExpectGoError(const FakeWriter& w, int status, const std::string& body) {
    EXPECT_EQ(w.status, status);
    EXPECT_EQ(w.body, body);
    ASSERT_NE(w.Header("Content-Type"), nullptr);
    EXPECT_EQ(*w.Header("Content-Type"), "text/plain; charset=utf-8");
    ASSERT_NE(w.Header("X-Content-Type-Options"), nullptr);
    EXPECT_EQ(*w.Header("X-Content-Type-Options"), "nosniff");
  }
  void ExpectOk(const FakeWriter& w, const std::string& body) {
    EXPECT_EQ(w.status, 200);
    EXPECT_EQ(w.body, body);
    ASSERT_NE(w.Header("Content-Type"), nullptr);
    EXPECT_EQ(*w.Header("Content-Type"), "text/plain; charset=utf-8");
    ASSERT_NE(w.Header("X-Content-Type-Options"), nullptr);
    EXPECT_EQ(*w.Header("X-Content-Type-Options"), "nosniff");
  }
  FakeMember member_;
  http::Router router_;
};

// ------------------------------------------------------------------ /health

TEST_F(HealthTest, HealthOk) {
  metrics::EtcdMetrics& m = metrics::Etcd();
  uint64_t ok_before = m.health_success.Value(), bad_before = m.health_failures.Value();
  FakeWriter w = Get("/health");
  EXPECT_EQ(w.status, 200);
  EXPECT_EQ(w.body, "{\"health\":\"true\",\"reason\":\"\"}");  // no newline
  ASSERT_NE(w.Header("Content-Type"), nullptr);
  EXPECT_EQ(*w.Header("Content-Type"), "text/plain; charset=utf-8");  // Go sniffs it
  EXPECT_EQ(member_.linearizable_calls, 1);
  EXPECT_EQ(member_.serializable_calls, 0);
  EXPECT_EQ(member_.last_timeout, std::chrono::milliseconds(7000));
  EXPECT_EQ(m.health_success.Value() - ok_before, 1u);
  EXPECT_EQ(m.health_failures.Value(), bad_before);
}

TEST_F(HealthTest, HealthAlarmReasons) {
  metrics::EtcdMetrics& m = metrics::Etcd();
  uint64_t bad_before = m.health_failures.Value();
  member_.alarms = {etcdserverpb::NOSPACE};
  ExpectGoError(Get("/health"), 503, "{\"health\":\"false\",\"reason\":\"ALARM NOSPACE\"}\n");
  EXPECT_EQ(m.health_failures.Value() - bad_before, 1u);
  member_.alarms = {etcdserverpb::CORRUPT};
  ExpectGoError(Get("/health"), 503, "{\"health\":\"false\",\"reason\":\"ALARM CORRUPT\"}\n");
  member_.alarms = {etcdserverpb::NONE};
  ExpectGoError(Get("/health"), 503, "{\"health\":\"false\",\"reason\":\"ALARM UNKNOWN\"}\n");
  // Alarms come before the leader and the read.
  member_.alarms = {etcdserverpb::NOSPACE};
  member_.leader = 0;
  ExpectGoError(Get("/health"), 503, "{\"health\":\"false\",\"reason\":\"ALARM NOSPACE\"}\n");
}

TEST_F(HealthTest, HealthExcludeAlarms) {
  member_.alarms = {etcdserverpb::NOSPACE};
  EXPECT_EQ(Get("/health?exclude=NOSPACE").status, 200);
  member_.alarms = {etcdserverpb::NOSPACE, etcdserverpb::CORRUPT};
  ExpectGoError(Get("/health?exclude=NOSPACE"), 503,
                "{\"health\":\"false\",\"reason\":\"ALARM CORRUPT\"}\n");
  EXPECT_EQ(Get("/health?exclude=NOSPACE&exclude=CORRUPT").status, 200);
  EXPECT_EQ(Get("/health?exclude=&exclude=NOSPACE&exclude=CORRUPT").status, 200);
  // Names are case-sensitive, as Go's map lookup.
  EXPECT_EQ(Get("/health?exclude=nospace&exclude=CORRUPT").status, 503);
}

TEST_F(HealthTest, HealthNoLeader) {
  member_.leader = 0;
  ExpectGoError(Get("/health"), 503, "{\"health\":\"false\",\"reason\":\"RAFT NO LEADER\"}\n");
  EXPECT_EQ(member_.linearizable_calls, 0);
  ExpectGoError(Get("/health?serializable=false"), 503,
                "{\"health\":\"false\",\"reason\":\"RAFT NO LEADER\"}\n");
  // Only the exact value "true" (the first one) makes it serializable.
  EXPECT_EQ(Get("/health?serializable=TRUE").status, 503);
  EXPECT_EQ(Get("/health?serializable=1").status, 503);
  EXPECT_EQ(Get("/health?serializable=false&serializable=true").status, 503);
  FakeWriter w = Get("/health?serializable=true");
  EXPECT_EQ(w.status, 200);
  EXPECT_EQ(w.body, "{\"health\":\"true\",\"reason\":\"\"}");
  EXPECT_EQ(member_.serializable_calls, 1);
  EXPECT_EQ(member_.linearizable_calls, 0);
}

TEST_F(HealthTest, HealthRangeError) {
  member_.linearizable_error = Status::Unavailable("etcdserver: request timed out");
  ExpectGoError(
      Get("/health"), 503,
      "{\"health\":\"false\",\"reason\":\"RANGE ERROR:etcdserver: request timed out\"}\n");
  // serializable=true reads locally (and that read works here).
  EXPECT_EQ(Get("/health?serializable=true").status, 200);
  member_.serializable_error = Status::Internal("boom");
  ExpectGoError(Get("/health?serializable=true"), 503,
                "{\"health\":\"false\",\"reason\":\"RANGE ERROR:boom\"}\n");
}

TEST_F(HealthTest, HealthReasonIsJsonEscapedAsGo) {
  member_.linearizable_error = Status::Internal("bad \"x\" <y> & \\z\n");
  FakeWriter w = Get("/health");
  EXPECT_EQ(w.body,
            "{\"health\":\"false\",\"reason\":\"RANGE ERROR:bad \\\"x\\\" \\u003cy\\u003e "
            "\\u0026 \\\\z\\n\"}\n");
}

TEST_F(HealthTest, OnlyGet) {
  for (const char* path : {"/health", "/livez", "/readyz", "/livez/serializable_read",
                           "/readyz/linearizable_read", "/readyz/non_learner"}) {
    for (const char* method : {"POST", "PUT", "DELETE", "HEAD"}) {
      FakeWriter w = testing::Serve(router_, method, path);
      ExpectGoError(w, 405, "Method Not Allowed\n");
      ASSERT_NE(w.Header("Allow"), nullptr) << path;
      EXPECT_EQ(*w.Header("Allow"), "GET");
    }
  }
  EXPECT_EQ(member_.linearizable_calls + member_.serializable_calls, 0);
}

// ------------------------------------------------------------------- /livez

TEST_F(HealthTest, LivezOkAndVerbose) {
  ExpectOk(Get("/livez"), "ok\n");
  ExpectOk(Get("/livez?verbose"), "[+]serializable_read ok\nok\n");
  ExpectOk(Get("/livez?verbose=false"), "[+]serializable_read ok\nok\n");  // presence only
  ExpectOk(Get("/livez/serializable_read"), "ok\n");
  ExpectOk(Get("/livez/serializable_read?verbose"), "[+]serializable_read ok\nok\n");
  EXPECT_EQ(member_.linearizable_calls, 0);
}

TEST_F(HealthTest, LivezIgnoresLeaderAndAlarms) {
  // A member without a leader (or with NOSPACE) is alive.
  member_.leader = 0;
  member_.alarms = {etcdserverpb::NOSPACE, etcdserverpb::CORRUPT};
  ExpectOk(Get("/livez"), "ok\n");
}

TEST_F(HealthTest, LivezFailure) {
  member_.serializable_error = Status::Internal("mvcc: database closed");
  ExpectGoError(Get("/livez"), 503, "[-]serializable_read failed: mvcc: database closed\n\n");
  // Failures always list the checks, verbose or not.
  ExpectGoError(Get("/livez?verbose"), 503,
                "[-]serializable_read failed: mvcc: database closed\n\n");
  ExpectGoError(Get("/livez/serializable_read"), 503,
                "[-]serializable_read failed: mvcc: database closed\n\n");
  // Excluded: nothing runs, so it passes.
  ExpectOk(Get("/livez?exclude=serializable_read"), "ok\n");
  ExpectOk(Get("/livez?exclude=serializable_read&verbose"), "ok\n");
}

TEST_F(HealthTest, LivezUnknownPathsAreNotRouted) {
  EXPECT_EQ(Get("/livez/").status, 404);
  EXPECT_EQ(Get("/livez/linearizable_read").status, 404);
  EXPECT_EQ(Get("/readyz/").status, 404);
  EXPECT_EQ(Get("/readyz/leader").status, 404);
}

// ------------------------------------------------------------------ /readyz

TEST_F(HealthTest, ReadyzOkAndVerbose) {
  ExpectOk(Get("/readyz"), "ok\n");
  ExpectOk(Get("/readyz?verbose"),
           "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n"
           "[+]non_learner ok\nok\n");
  for (const char* c :
       {"data_corruption", "serializable_read", "linearizable_read", "non_learner"}) {
    ExpectOk(Get(std::string("/readyz/") + c), "ok\n");
    ExpectOk(Get(std::string("/readyz/") + c + "?verbose"), std::string("[+]") + c + " ok\nok\n");
  }
}

TEST_F(HealthTest, ReadyzWithoutLeaderIsNotReadyButAlive) {
  member_.leader = 0;
  member_.linearizable_error = Status::Unavailable("etcdserver: request timed out");
  ExpectGoError(Get("/readyz"), 503,
                "[+]data_corruption ok\n[+]serializable_read ok\n"
                "[-]linearizable_read failed: etcdserver: request timed out\n"
                "[+]non_learner ok\n\n");
  ExpectGoError(Get("/readyz/linearizable_read"), 503,
                "[-]linearizable_read failed: etcdserver: request timed out\n\n");
  ExpectOk(Get("/readyz/serializable_read"), "ok\n");
  ExpectOk(Get("/readyz?exclude=linearizable_read"), "ok\n");
  ExpectOk(Get("/readyz?exclude=linearizable_read&verbose"),
           "[+]data_corruption ok\n[+]serializable_read ok\n[+]non_learner ok\nok\n");
  ExpectOk(Get("/livez"), "ok\n");
}

TEST_F(HealthTest, ReadyzCorruptAndLearner) {
  member_.alarms = {etcdserverpb::NOSPACE};
  ExpectOk(Get("/readyz"), "ok\n");  // only CORRUPT matters here
  member_.alarms = {etcdserverpb::CORRUPT};
  member_.learner = true;
  ExpectGoError(Get("/readyz"), 503,
                "[-]data_corruption failed: alarm activated: CORRUPT\n[+]serializable_read ok\n"
                "[+]linearizable_read ok\n[-]non_learner failed: not supported for learner\n\n");
  ExpectGoError(Get("/readyz/data_corruption"), 503,
                "[-]data_corruption failed: alarm activated: CORRUPT\n\n");
  ExpectGoError(Get("/readyz/non_learner"), 503,
                "[-]non_learner failed: not supported for learner\n\n");
  ExpectGoError(Get("/readyz?exclude=data_corruption"), 503,
                "[+]serializable_read ok\n[+]linearizable_read ok\n"
                "[-]non_learner failed: not supported for learner\n\n");
  ExpectOk(Get("/readyz?exclude=data_corruption&exclude=non_learner"), "ok\n");
}

TEST_F(HealthTest, ReadyzUnknownExcludeIsIgnored) {
  ExpectOk(Get("/readyz?exclude=nonexistent&verbose"),
           "[+]data_corruption ok\n[+]serializable_read ok\n[+]linearizable_read ok\n"
           "[+]non_learner ok\nok\n");
  ExpectOk(Get("/readyz?exclude=data_corruption&exclude=serializable_read&exclude="
               "linearizable_read&exclude=non_learner&verbose"),
           "ok\n");
  EXPECT_EQ(member_.linearizable_calls, 1);
}

TEST_F(HealthTest, CheckMetrics) {
  metrics::EtcdMetrics& m = metrics::Etcd();
  auto& ok_count = m.healthchecks_total.With({"readyz", "linearizable_read", "success"});
  auto& err_count = m.healthchecks_total.With({"readyz", "linearizable_read", "error"});
  uint64_t ok_before = ok_count.Value(), err_before = err_count.Value();
  Get("/readyz");
  EXPECT_EQ(m.healthcheck.With({"readyz", "linearizable_read"}).Value(), 1);
  member_.linearizable_error = Status::Unavailable("etcdserver: request timed out");
  Get("/readyz/linearizable_read");
  EXPECT_EQ(m.healthcheck.With({"readyz", "linearizable_read"}).Value(), 0);
  EXPECT_EQ(ok_count.Value() - ok_before, 1u);
  EXPECT_EQ(err_count.Value() - err_before, 1u);
  uint64_t live_before =
      m.healthchecks_total.With({"livez", "serializable_read", "success"}).Value();
  Get("/livez");
  EXPECT_EQ(m.healthchecks_total.With({"livez", "serializable_read", "success"}).Value(),
            live_before + 1);
  EXPECT_EQ(m.healthcheck.With({"livez", "serializable_read"}).Value(), 1);
  std::string text = metrics::Default().Expose();
  EXPECT_NE(text.find("etcd_server_healthcheck{name=\"linearizable_read\",type=\"readyz\"} 0\n"),
            std::string::npos)
      << text;
}

TEST(GoJsonTest, Strings) {
  EXPECT_EQ(GoJsonString(""), "\"\"");
  EXPECT_EQ(GoJsonString("a\tb\r\x01"), "\"a\\tb\\r\\u0001\"");
  EXPECT_EQ(GoJsonString("\xE2\x80\xA8x\xE2\x80\xA9"), "\"\\u2028x\\u2029\"");
  EXPECT_EQ(GoJsonString("h\xC3\xA9"), "\"h\xC3\xA9\"");  // UTF-8 passes through
}

}  // namespace
}  // namespace etcdpp::health
