#include "config/config.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "config/flag_table.h"

namespace etcdpp::config {
namespace {

using Args = std::vector<std::string>;
using Action = ParseOutcome::Action;

ParseOutcome MustParse(const Args& args, const Args& env = {}) {
  auto r = Parse(args, env);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : ParseOutcome{};
}

std::string ParseError(const Args& args, const Args& env = {}) {
  auto r = Parse(args, env);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  return r.status().message();
}

bool HasWarning(const ParseOutcome& o, std::string_view needle) {
  return std::any_of(o.warnings.begin(), o.warnings.end(),
                     [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

TEST(Config, DefaultsLikeEtcd) {
  ParseOutcome o = MustParse({});
  const ServerConfig& c = o.config;
  EXPECT_EQ(o.action, Action::kRun);
  EXPECT_EQ(c.name, "default");
  EXPECT_EQ(c.data_dir, "default.etcd");
  EXPECT_EQ(c.wal_dir, "");
  EXPECT_EQ(c.listen_client_urls, Args{"http://localhost:2379"});
  EXPECT_EQ(c.advertise_client_urls, Args{"http://localhost:2379"});
  EXPECT_EQ(c.listen_peer_urls, Args{"http://localhost:2380"});
  EXPECT_EQ(c.initial_advertise_peer_urls, Args{"http://localhost:2380"});
  EXPECT_EQ(c.initial_cluster, "default=http://localhost:2380");
  EXPECT_EQ(c.initial_cluster_state, "new");
  EXPECT_EQ(c.initial_cluster_token, "etcd-cluster");
  EXPECT_EQ(c.max_request_bytes, 1572864u);
  EXPECT_EQ(c.max_txn_ops, 128u);
  EXPECT_EQ(c.quota_backend_bytes, 0);
  EXPECT_EQ(c.snapshot_count, 10000u);
  EXPECT_EQ(c.heartbeat_interval_ms, 100u);
  EXPECT_EQ(c.election_timeout_ms, 1000u);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.logger, "zap");
  EXPECT_EQ(c.log_outputs, Args{"default"});
  EXPECT_EQ(c.grpc_keepalive_interval_ns, 7200'000'000'000);
  EXPECT_EQ(c.max_concurrent_streams, 4294967295u);
  EXPECT_TRUE(c.explicitly_set.empty());
  EXPECT_EQ(c.flag_values.at("grpc-keepalive-interval"), "2h0m0s");
  EXPECT_EQ(c.flag_values.at("discovery-fallback"), "exit");
  EXPECT_TRUE(HasWarning(o, "'data-dir' was empty"));
}

// The ServerConfig member defaults must agree with the table's defaults.
TEST(Config, StructDefaultsMatchTable) {
  ServerConfig from_struct;
  ServerConfig from_table;
  for (const FlagDef& d : FlagTable()) {
    if (d.type == FlagType::kIgnored || !d.set) continue;
    FlagValue v;
    ASSERT_TRUE(ParseFlagValue(d, d.def, &v).ok()) << d.name;
    d.set(from_table, v);
  }
  EXPECT_EQ(from_struct.name, from_table.name);
  EXPECT_EQ(from_struct.snapshot_count, from_table.snapshot_count);
  EXPECT_EQ(from_struct.snapshot_catchup_entries, from_table.snapshot_catchup_entries);
  EXPECT_EQ(from_struct.max_request_bytes, from_table.max_request_bytes);
  EXPECT_EQ(from_struct.max_concurrent_streams, from_table.max_concurrent_streams);
  EXPECT_EQ(from_struct.listen_client_urls, from_table.listen_client_urls);
  EXPECT_EQ(from_struct.advertise_client_urls, from_table.advertise_client_urls);
  EXPECT_EQ(from_struct.grpc_keepalive_min_time_ns, from_table.grpc_keepalive_min_time_ns);
  EXPECT_EQ(from_struct.grpc_keepalive_interval_ns, from_table.grpc_keepalive_interval_ns);
  EXPECT_EQ(from_struct.grpc_keepalive_timeout_ns, from_table.grpc_keepalive_timeout_ns);
  EXPECT_EQ(from_struct.compact_hash_check_time_ns, from_table.compact_hash_check_time_ns);
  EXPECT_EQ(from_struct.watch_progress_notify_interval_ns,
            from_table.watch_progress_notify_interval_ns);
  EXPECT_EQ(from_struct.warning_apply_duration_ns, from_table.warning_apply_duration_ns);
  EXPECT_EQ(from_struct.warning_unary_request_duration_ns,
            from_table.warning_unary_request_duration_ns);
  EXPECT_EQ(from_struct.downgrade_check_time_ns, from_table.downgrade_check_time_ns);
  EXPECT_EQ(from_struct.cors, from_table.cors);
  EXPECT_EQ(from_struct.host_whitelist, from_table.host_whitelist);
  EXPECT_EQ(from_struct.tls_min_version, from_table.tls_min_version);
  EXPECT_EQ(from_struct.bcrypt_cost, from_table.bcrypt_cost);
  EXPECT_EQ(from_struct.auth_token_ttl, from_table.auth_token_ttl);
  EXPECT_EQ(from_struct.max_learners, from_table.max_learners);
  EXPECT_EQ(from_struct.pre_vote, from_table.pre_vote);
  EXPECT_EQ(from_struct.enable_grpc_gateway, from_table.enable_grpc_gateway);
}

// Every flag in the table parses when given its own default value, in all forms.
TEST(Config, EveryFlagParsesItsDefault) {
  for (const FlagDef& d : FlagTable()) {
    if (d.name == "version" || d.name == "config-file") continue;
    std::string def(d.def);
    Args forms;
    if (d.type == FlagType::kIgnored) {
      forms = {"--" + std::string(d.name)};
    } else {
      forms = {"--" + std::string(d.name) + "=" + def};
    }
    for (const std::string& f : forms) {
      Args args = {f};
      // An explicit --listen-client-urls needs --advertise-client-urls (etcd rule).
      if (d.name == "listen-client-urls")
        args.push_back("--advertise-client-urls=http://localhost:2379");
      auto r = Parse(args, {});
      EXPECT_TRUE(r.ok()) << f << ": " << r.status().ToString();
      if (r.ok() && d.type != FlagType::kIgnored) {
        EXPECT_EQ(r->config.explicitly_set.at(std::string(d.name)), def) << f;
      }
    }
    // The environment form too.
    std::string key = "ETCD_";
    for (char c : d.name)
      key += c == '-' ? '_' : static_cast<char>(std::toupper(c));
    if (def.empty() || d.type == FlagType::kIgnored) continue;
    Args env = {key + "=" + def};
    if (d.name == "listen-client-urls") env.push_back("ETCD_ADVERTISE_CLIENT_URLS=http://a:1");
    auto r = Parse({}, env);
    EXPECT_TRUE(r.ok()) << key << ": " << r.status().ToString();
  }
}

TEST(Config, FlagForms) {
  ParseOutcome o =
      MustParse({"--name=a", "-data-dir", "/tmp/x", "--wal-dir", "/tmp/w", "-snapshot-count=5",
                 "--pre-vote=false", "--strict-reconfig-check", "-unsafe-no-fsync"});
  EXPECT_EQ(o.config.name, "a");
  EXPECT_EQ(o.config.data_dir, "/tmp/x");
  EXPECT_EQ(o.config.wal_dir, "/tmp/w");
  EXPECT_EQ(o.config.snapshot_count, 5u);
  EXPECT_FALSE(o.config.pre_vote);
  EXPECT_TRUE(o.config.strict_reconfig_check);
  EXPECT_TRUE(o.config.unsafe_no_fsync);
  EXPECT_EQ(o.config.explicitly_set.at("data-dir"), "/tmp/x");
  EXPECT_EQ(o.config.explicitly_set.at("unsafe-no-fsync"), "true");
  // Last value wins; "--" ends the flags.
  o = MustParse({"--name=a", "--name=b", "--"});
  EXPECT_EQ(o.config.name, "b");
  // Numbers like Go: hex, durations, lists.
  o = MustParse({"--max-txn-ops=0x100", "--grpc-keepalive-min-time=1m30s",
                 "--log-outputs=stderr,/tmp/l,stderr", "--cipher-suites=b,a"});
  EXPECT_EQ(o.config.max_txn_ops, 256u);
  EXPECT_EQ(o.config.grpc_keepalive_min_time_ns, 90'000'000'000);
  EXPECT_EQ(o.config.log_outputs, (Args{"/tmp/l", "stderr"}));
  EXPECT_EQ(o.config.cipher_suites, (Args{"b", "a"}));
}

TEST(Config, VersionAndHelp) {
  EXPECT_EQ(MustParse({"--version"}).action, Action::kPrintVersion);
  EXPECT_EQ(MustParse({"-version"}).action, Action::kPrintVersion);
  EXPECT_EQ(MustParse({"--version=false"}).action, Action::kRun);
  EXPECT_EQ(MustParse({"-h"}).action, Action::kPrintHelp);
  EXPECT_EQ(MustParse({"--help"}).action, Action::kPrintHelp);
  EXPECT_EQ(MustParse({"--name=x", "-help", "--bogus"}).action, Action::kPrintHelp);
  // Version is reported before the environment is looked at.
  EXPECT_EQ(MustParse({"--version"}, {"ETCD_NAME=x", "ETCD_VERSION=1"}).action,
            Action::kPrintVersion);
  std::string help = HelpText();
  EXPECT_NE(help.find("  --name 'default'\n    Human-readable name for this member."),
            std::string::npos);
  EXPECT_NE(help.find("  --data-dir '${name}.etcd'"), std::string::npos);
  EXPECT_NE(help.find("  etcd --version"), std::string::npos);
  for (const FlagDef& d : FlagTable()) {
    EXPECT_NE(
        help.find("  --" + std::string(d.name) + (d.type == FlagType::kIgnored ? "\n" : " '")),
        std::string::npos)
        << d.name;
  }
  std::string v = VersionText("3.6.14", "0.1.0", "abc");
  EXPECT_EQ(v.rfind("etcd Version: 3.6.14\n", 0), 0u);
  EXPECT_NE(v.find("etcdpp Version: 0.1.0"), std::string::npos);
}

TEST(Config, FlagErrorsReadLikeGo) {
  EXPECT_EQ(ParseError({"--foo"}), "flag provided but not defined: -foo");
  EXPECT_EQ(ParseError({"-foo=1"}), "flag provided but not defined: -foo");
  EXPECT_EQ(ParseError({"--enable-v2"}), "flag provided but not defined: -enable-v2");
  EXPECT_EQ(ParseError({"--proxy=on"}), "flag provided but not defined: -proxy");
  EXPECT_EQ(ParseError({"--experimental-enable-v2v3=/x"}),
            "flag provided but not defined: -experimental-enable-v2v3");
  EXPECT_EQ(ParseError({"---name=x"}), "bad flag syntax: ---name=x");
  EXPECT_EQ(ParseError({"-=x"}), "bad flag syntax: -=x");
  EXPECT_EQ(ParseError({"--name"}), "flag needs an argument: -name");
  EXPECT_EQ(ParseError({"extra"}), "\"extra\" is not a valid flag");
  EXPECT_EQ(ParseError({"--name=a", "b"}), "\"b\" is not a valid flag");
  // Booleans never take the next argument.
  EXPECT_EQ(ParseError({"--pre-vote", "false"}), "\"false\" is not a valid flag");
  EXPECT_EQ(ParseError({"--pre-vote=maybe"}),
            "invalid boolean value \"maybe\" for -pre-vote: parse error");
  EXPECT_EQ(ParseError({"--max-txn-ops=-1"}),
            "invalid value \"-1\" for flag -max-txn-ops: parse error");
  EXPECT_EQ(ParseError({"--max-request-bytes=-5"}),
            "invalid value \"-5\" for flag -max-request-bytes: parse error");
  EXPECT_EQ(ParseError({"--heartbeat-interval=-100"}),
            "invalid value \"-100\" for flag -heartbeat-interval: parse error");
  EXPECT_EQ(ParseError({"--snapshot-count=99999999999999999999"}),
            "invalid value \"99999999999999999999\" for flag -snapshot-count: value out of range");
  EXPECT_EQ(ParseError({"--grpc-keepalive-timeout=5"}),
            "invalid value \"5\" for flag -grpc-keepalive-timeout: parse error");
  EXPECT_EQ(ParseError({"--grpc-keepalive-timeout=soon"}),
            "invalid value \"soon\" for flag -grpc-keepalive-timeout: parse error");
  EXPECT_EQ(ParseError({"--initial-cluster-state=old"}),
            "invalid value \"old\" for flag -initial-cluster-state: invalid value");
  EXPECT_EQ(ParseError({"--listen-peer-urls=localhost:2380"}),
            "invalid value \"localhost:2380\" for flag -listen-peer-urls: URL scheme must be "
            "http, https, unix, or unixs: localhost:2380");
  EXPECT_EQ(ParseError({"--max-concurrent-streams=4294967296"}),
            "invalid value \"4294967296\" for flag -max-concurrent-streams: "
            "strconv.ParseUint: parsing \"4294967296\": value out of range");
}

TEST(Config, ValidationErrors) {
  EXPECT_EQ(ParseError({"--election-timeout=400"}),
            "--election-timeout[400ms] should be at least as 5 times as "
            "--heartbeat-interval[100ms]");
  EXPECT_EQ(ParseError({"--heartbeat-interval=300", "--election-timeout=1000"}),
            "--election-timeout[1000ms] should be at least as 5 times as "
            "--heartbeat-interval[300ms]");
  MustParse({"--heartbeat-interval=200", "--election-timeout=1000"});
  EXPECT_EQ(ParseError({"--election-timeout=50001"}),
            "--election-timeout[50001ms] is too long, and should be set less than 50000ms");
  MustParse({"--election-timeout=50000"});
  EXPECT_EQ(ParseError({"--heartbeat-interval=0"}), "--heartbeat-interval must be >0 (set to 0ms)");
  EXPECT_EQ(ParseError({"--election-timeout=0"}), "--election-timeout must be >0 (set to 0ms)");
  EXPECT_EQ(ParseError({"--listen-client-urls=http://127.0.0.1:2379"}),
            "--advertise-client-urls is required when --listen-client-urls is set explicitly");
  EXPECT_EQ(ParseError({"--listen-client-urls=http://example.com:2379",
                        "--advertise-client-urls=http://example.com:2379"}),
            "expected IP in URL for binding (http://example.com:2379)");
  EXPECT_EQ(ParseError({"--listen-peer-urls=http://example.com:2380"}),
            "expected IP in URL for binding (http://example.com:2380)");
  MustParse({"--listen-client-urls=http://0.0.0.0:2379,unix://x.sock",
             "--advertise-client-urls=http://example.com:2379"});
  EXPECT_EQ(ParseError({"--initial-advertise-peer-urls=http://:2380"}),
            "--initial-advertise-peer-urls \"http://:2380\" must be \"host:port\" (unexpected "
            "empty host (http://:2380))");
  EXPECT_EQ(ParseError({"--log-level=loud"}), "unrecognized level: \"loud\"");
  EXPECT_EQ(ParseError({"--log-format=xml"}),
            "unknown log format: xml, supported values json, console");
  EXPECT_EQ(ParseError({"--logger=capnslog"}), "--logger=capnslog is removed in v3.5");
  EXPECT_EQ(ParseError({"--logger=glog"}), "unknown logger option \"glog\"");
  EXPECT_EQ(ParseError({"--log-outputs=default,stdout"}),
            "multi logoutput for \"default\" is not supported yet");
  EXPECT_EQ(ParseError({"--auto-compaction-mode=hourly"}),
            "unknown auto-compaction-mode \"hourly\"");
  EXPECT_EQ(ParseError({"--auto-compaction-retention=-1"}),
            "error parsing CompactionRetention: time: missing unit in duration \"-1\"");
  EXPECT_EQ(ParseError({"--auto-compaction-retention=-1h"}),
            "error parsing CompactionRetention: negative retention \"-1h\"");
  MustParse({"--auto-compaction-retention=1h", "--auto-compaction-mode=periodic"});
  MustParse({"--auto-compaction-retention=1000", "--auto-compaction-mode=revision"});
  EXPECT_EQ(ParseError({"--compact-hash-check-time=0s"}),
            "--compact-hash-check-time must be >0 (set to 0s)");
  EXPECT_EQ(ParseError({"--tls-min-version=TLS1.0"}),
            "unexpected TLS version \"TLS1.0\" (must be one of: TLS1.2, TLS1.3)");
  EXPECT_EQ(ParseError({"--tls-min-version=TLS1.3", "--tls-max-version=TLS1.2"}),
            "min version (TLS1.3) is greater than max version (TLS1.2)");
  EXPECT_EQ(ParseError({"--tls-min-version=TLS1.3", "--cipher-suites=X"}),
            "cipher suites cannot be configured when only TLS1.3 is enabled");
  EXPECT_EQ(ParseError({"--discovery-fallback=proxy"}),
            "v2 proxy is deprecated, and --discovery-fallback can't be configured as \"proxy\"");
  EXPECT_EQ(ParseError({"--initial-cluster=a=http://127.0.0.1:2380", "--discovery-srv=x.com"}),
            "multiple discovery or bootstrap flags are set. Choose one of \"initial-cluster\", "
            "\"discovery\", \"discovery-endpoints\" or \"discovery-srv\"");
  EXPECT_EQ(ParseError({"--discovery-token=t"}),
            "both --discovery-token and --discovery-endpoints must be set");
  // Quota: negative disables the quota in etcd, so it is accepted.
  EXPECT_EQ(MustParse({"--quota-backend-bytes=-1"}).config.quota_backend_bytes, -1);
  EXPECT_EQ(MustParse({"--quota-backend-bytes=8589934592"}).config.quota_backend_bytes, 8589934592);
  EXPECT_TRUE(HasWarning(MustParse({"--max-request-bytes=20971520"}),
                         "exceeded recommended request limit"));
}

TEST(Config, DerivedDefaults) {
  ParseOutcome o = MustParse(
      {"--name=n1", "--initial-advertise-peer-urls", "http://10.0.0.2:2380,http://10.0.0.1:2380"});
  EXPECT_EQ(o.config.data_dir, "n1.etcd");
  EXPECT_EQ(o.config.initial_cluster, "n1=http://10.0.0.1:2380,n1=http://10.0.0.2:2380");
  EXPECT_FALSE(HasWarning(o, "default name"));
  o = MustParse({"--name=n1", "--initial-cluster=n1=http://127.0.0.1:2380,n2=http://h:1"});
  EXPECT_EQ(o.config.initial_cluster, "n1=http://127.0.0.1:2380,n2=http://h:1");
  // Discovery clears the default initial cluster instead.
  o = MustParse({"--discovery-srv=example.com"});
  EXPECT_EQ(o.config.initial_cluster, "");
  // --listen-client-urls with --advertise-client-urls.
  o = MustParse(
      {"--listen-client-urls=http://127.0.0.1:0", "--advertise-client-urls=http://127.0.0.1:0"});
  EXPECT_EQ(o.config.listen_client_urls, Args{"http://127.0.0.1:0"});
  EXPECT_EQ(o.config.advertise_client_urls, Args{"http://127.0.0.1:0"});
}

TEST(Config, Environment) {
  ParseOutcome o = MustParse(
      {}, {"ETCD_NAME=envname", "ETCD_MAX_TXN_OPS=7", "ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:1",
           "ETCD_ADVERTISE_CLIENT_URLS=http://127.0.0.1:1", "ETCD_PRE_VOTE=false",
           "ETCD_DATA_DIR=", "PATH=/bin", "ETCDCTL_API=3"});
  EXPECT_EQ(o.config.name, "envname");
  EXPECT_EQ(o.config.data_dir, "envname.etcd");  // empty variables are not used
  EXPECT_EQ(o.config.max_txn_ops, 7u);
  EXPECT_FALSE(o.config.pre_vote);
  EXPECT_EQ(o.config.explicitly_set.at("name"), "envname");
  EXPECT_EQ(o.config.explicitly_set.count("data-dir"), 0u);
  EXPECT_FALSE(HasWarning(o, "unrecognized environment variable"));

  // The etcd rule about advertise URLs applies to the environment too.
  EXPECT_EQ(ParseError({}, {"ETCD_LISTEN_CLIENT_URLS=http://127.0.0.1:1"}),
            "--advertise-client-urls is required when --listen-client-urls is set explicitly");

  o = MustParse({}, {"ETCD_BOGUS=1", "ETCD_VERSION=3"});
  EXPECT_TRUE(
      HasWarning(o, "unrecognized environment variable (environment-variable=ETCD_BOGUS=1)"));
  EXPECT_TRUE(HasWarning(o, "cannot set special environment variable (key=ETCD_VERSION, value=3)"));
  EXPECT_EQ(o.action, Action::kRun);

  EXPECT_EQ(ParseError({"--name=a"}, {"ETCD_NAME=b"}),
            "conflicting environment variable \"ETCD_NAME\" is shadowed by corresponding "
            "command-line flag (either unset environment variable or disable flag)");
  EXPECT_EQ(ParseError({}, {"ETCD_ELECTION_TIMEOUT=abc"}),
            "invalid value \"abc\" for ETCD_ELECTION_TIMEOUT: parse error");
  EXPECT_EQ(ParseError({}, {"ETCD_ELECTION_TIMEOUT=-1"}),
            "invalid value \"-1\" for ETCD_ELECTION_TIMEOUT: parse error");
  // Env keys for every flag are the upper-case names with '_'.
  o = MustParse(
      {}, {"ETCD_EXPERIMENTAL_CORRUPT_CHECK_TIME=3m", "ETCD_FEATURE_GATES=LeaseCheckpoint=true"});
  EXPECT_EQ(o.config.corrupt_check_time_ns, 180'000'000'000);
  EXPECT_EQ(o.config.feature_gates, "LeaseCheckpoint=true");
}

TEST(Config, LegacyFlagsIgnored) {
  ParseOutcome o = MustParse({"--snapshot", "-v", "--config=whatever", "--peer-election-timeout"});
  EXPECT_TRUE(HasWarning(o, "flag \"-snapshot\" is no longer supported - ignoring."));
  EXPECT_EQ(o.config.snapshot_count, 10000u);
  EXPECT_EQ(o.config.config_file, "");
}

TEST(Config, RenamedExperimentalFlags) {
  ParseOutcome o =
      MustParse({"--experimental-compact-hash-check-time=2m",
                 "--experimental-snapshot-catchup-entries=77", "--experimental-memory-mlock"});
  EXPECT_EQ(o.config.compact_hash_check_time_ns, 120'000'000'000);
  EXPECT_EQ(o.config.snapshot_catchup_entries, 77u);
  EXPECT_TRUE(o.config.memory_mlock);
  EXPECT_EQ(o.config.flag_values.at("compact-hash-check-time"), "2m0s");
  EXPECT_TRUE(HasWarning(o,
                         "--experimental-compact-hash-check-time is deprecated in 3.6 and will be "
                         "decommissioned in 3.7. Use '--compact-hash-check-time' instead."));
  EXPECT_TRUE(HasWarning(o, "--experimental-snapshot-catchup-entries is deprecated in v3.6"));

  EXPECT_EQ(ParseError({"--experimental-corrupt-check-time=1m", "--corrupt-check-time=2m"}),
            "cannot set --experimental-corrupt-check-time and --corrupt-check-time at the same "
            "time, please use --corrupt-check-time only");
  EXPECT_EQ(ParseError({"--experimental-warning-unary-request-duration=1s",
                        "--warning-unary-request-duration=2s"}),
            "both --experimental-warning-unary-request-duration and "
            "--warning-unary-request-duration flags are set. Use only "
            "--warning-unary-request-duration");
  EXPECT_EQ(MustParse({"--experimental-warning-unary-request-duration=1s"})
                .config.warning_unary_request_duration_ns,
            1'000'000'000);

  // Boolean experimental flags feed feature gates.
  o = MustParse({"--experimental-initial-corrupt-check=true"});
  EXPECT_EQ(o.config.gates_from_experimental_flags.at("InitialCorruptCheck"), true);
  EXPECT_EQ(ParseError({"--experimental-initial-corrupt-check=true",
                        "--feature-gates=InitialCorruptCheck=false"}),
            "cannot specify both flags: --experimental-initial-corrupt-check=true and "
            "--feature-gates=InitialCorruptCheck=false at the same time, please just use "
            "--feature-gates=InitialCorruptCheck=false");
  // Deprecated (not renamed) flags warn too.
  EXPECT_TRUE(HasWarning(MustParse({"--snapshot-count=100"}), "--snapshot-count is deprecated"));
}

TEST(Config, NotesAreStructuredLikeEtcd) {
  ParseOutcome o = MustParse(
      {}, {"ETCD_NAME=n", "ETCD_DISCOVERY_PASSWORD=hunter2", "ETCD_RAFT_READ_TIMEOUT=1s"});
  auto find = [&](std::string_view msg) -> const Note* {
    for (const Note& n : o.notes) {
      if (n.msg == msg) return &n;
    }
    return nullptr;
  };
  const Note* used = find("recognized and used environment variable");
  ASSERT_NE(used, nullptr);
  EXPECT_EQ(used->level, log::Level::kInfo);
  bool saw_password = false;
  for (const Note& n : o.notes) {
    for (const auto& [k, v] : n.fields) {
      EXPECT_EQ(v.find("hunter2"), std::string::npos) << "secret logged: " << n.msg;
      saw_password |= v == "ETCD_DISCOVERY_PASSWORD";
    }
  }
  EXPECT_TRUE(saw_password);
  const Note* dd = find("'data-dir' was empty; using default");
  ASSERT_NE(dd, nullptr);
  EXPECT_EQ(dd->level, log::Level::kWarn);
  EXPECT_EQ(dd->fields, (std::vector<std::pair<std::string, std::string>>{{"data-dir", "n.etcd"}}));
  EXPECT_NE(find("raft-read-timeout increased to minimum value: 5s"), nullptr);
  EXPECT_EQ(MustParse({"--snapshot-count=0"}).config.snapshot_count, 10000u);
  EXPECT_EQ(o.config.flag_values.at("raft-read-timeout"), "5s");
  // Every warning string has a structured twin.
  size_t warn_notes = 0;
  for (const Note& n : o.notes)
    warn_notes += n.level == log::Level::kWarn;
  EXPECT_EQ(warn_notes, o.warnings.size());
}

TEST(Config, DiscoveryV2AndV3Conflict) {
  EXPECT_EQ(ParseError({"--discovery-proxy=http://p:1", "--discovery-token=t",
                        "--discovery-endpoints=http://d:2379"}),
            "both v2 discovery settings (discovery, discovery-proxy) and v3 discovery settings "
            "(discovery-token, discovery-endpoints, discovery-cert, discovery-key, "
            "discovery-cacert, discovery-user, discovery-password) are set");
  ParseOutcome o =
      MustParse({"--discovery-token=t", "--discovery-endpoints=http://b:1,http://a:1"});
  EXPECT_EQ(o.config.discovery_endpoints, (Args{"http://a:1", "http://b:1"}));
  EXPECT_EQ(o.config.initial_cluster, "");
}

TEST(Config, FeatureGates) {
  ParseOutcome o = MustParse({});
  EXPECT_EQ(o.config.features.size(), 7u);
  EXPECT_TRUE(o.config.FeatureEnabled("TxnModeWriteWithSharedBuffer"));
  EXPECT_FALSE(o.config.FeatureEnabled("StopGRPCServiceOnDefrag"));
  o = MustParse(
      {"--feature-gates=StopGRPCServiceOnDefrag=true, TxnModeWriteWithSharedBuffer=false"});
  EXPECT_TRUE(o.config.FeatureEnabled("StopGRPCServiceOnDefrag"));
  EXPECT_FALSE(o.config.FeatureEnabled("TxnModeWriteWithSharedBuffer"));
  // AllAlpha toggles every alpha gate; explicit settings win.
  o = MustParse(
      {"--feature-gates=AllAlpha=true,CompactHashCheck=false,LeaseCheckpointPersist=true"});
  EXPECT_TRUE(o.config.FeatureEnabled("InitialCorruptCheck"));
  EXPECT_TRUE(o.config.FeatureEnabled("LeaseCheckpoint"));
  EXPECT_FALSE(o.config.FeatureEnabled("CompactHashCheck"));
  EXPECT_TRUE(o.config.FeatureEnabled("TxnModeWriteWithSharedBuffer"));  // beta: untouched
  // Old boolean flags feed the gates.
  o = MustParse({"--experimental-stop-grpc-service-on-defrag"});
  EXPECT_TRUE(o.config.FeatureEnabled("StopGRPCServiceOnDefrag"));
  EXPECT_EQ(
      ParseError({"--feature-gates=Bogus=true"}),
      "invalid value \"Bogus=true\" for flag -feature-gates: unrecognized feature gate: Bogus");
  EXPECT_EQ(ParseError({"--feature-gates=LeaseCheckpoint"}),
            "invalid value \"LeaseCheckpoint\" for flag -feature-gates: missing bool value for "
            "LeaseCheckpoint");
  EXPECT_EQ(ParseError({"--feature-gates=LeaseCheckpoint=yes"}),
            "invalid value \"LeaseCheckpoint=yes\" for flag -feature-gates: invalid value of "
            "LeaseCheckpoint=yes, err: strconv.ParseBool: parsing \"yes\": invalid syntax");
  EXPECT_EQ(ParseError({"--feature-gates=LeaseCheckpointPersist=true"}),
            "enabling feature gate LeaseCheckpointPersist requires enabling feature gate "
            "LeaseCheckpoint");
  EXPECT_TRUE(HasWarning(MustParse({"--feature-gates=LeaseCheckpoint=true"}),
                         "checkpointing is enabled without persistence"));
  EXPECT_EQ(ParseError({}, {"ETCD_FEATURE_GATES=Nope=false"}),
            "invalid value \"Nope=false\" for ETCD_FEATURE_GATES: unrecognized feature gate: Nope");
}

TEST(Config, ValidateIsExposed) {
  ServerConfig c;
  c.data_dir = std::string("x");
  EXPECT_TRUE(Validate(c).ok());
  c.election_timeout_ms = 10;
  EXPECT_FALSE(Validate(c).ok());
}

TEST(Config, MarkdownListsEveryFlag) {
  std::string md = FlagsMarkdown();
  for (const FlagDef& d : FlagTable()) {
    EXPECT_NE(md.find("`--" + std::string(d.name) + "`"), std::string::npos) << d.name;
  }
}

}  // namespace
}  // namespace etcdpp::config
