#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "config/config.h"
#include "config/flag_table.h"

namespace etcdpp::config {
namespace {

using Args = std::vector<std::string>;

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/etcdpp_config_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string Write(const std::string& body) {
    std::string path = dir_ + "/etcd.conf.yml";
    std::ofstream(path) << body;
    return path;
  }
  std::string dir_;
};

// A config using most key kinds: scalars, lists, durations in ns, nested TLS sections.
constexpr const char* kNode1Yaml = R"(
name: node1
data-dir: /var/lib/etcd
listen-client-urls: http://127.0.0.1:2379,http://10.0.0.1:2379
advertise-client-urls: http://10.0.0.1:2379
initial-advertise-peer-urls: http://10.0.0.1:2380
heartbeat-interval: 200
election-timeout: 2000
max-request-bytes: 2097152
quota-backend-bytes: 8589934592
initial-cluster-state: existing
log-outputs: [stdout, /tmp/etcd.log]
log-level: debug
pre-vote: false
grpc-keepalive-interval: 600000000000
feature-gates: "StopGRPCServiceOnDefrag=true"
client-transport-security:
  cert-file: /c.crt
  key-file: /c.key
  client-cert-auth: true
  allowed-hostname: [a.example.com]
peer-transport-security:
  trusted-ca-file: /ca.crt
  allowed-cn: [peer]
  auto-tls: true
socket-options:
  reuse-port: true
)";

TEST_F(ConfigFileTest, KeysAreFlagNames) {
  std::string path = Write(std::string(kNode1Yaml) + R"(discovery-config:
  token: t
  endpoints: [http://d:2379]
  secure:
    insecure-transport: false
some-unknown-key: 1
)");
  auto r = Parse({"--config-file", path}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.discovery_token, "t");
  EXPECT_EQ(r->config.discovery_endpoints, Args{"http://d:2379"});
  EXPECT_EQ(r->config.flag_values.at("discovery-insecure-transport"), "false");
  EXPECT_EQ(r->config.initial_cluster, "");  // discovery replaces the default initial cluster
  // Without discovery the initial cluster is derived from the name and peer URLs.
  path = Write(std::string(kNode1Yaml) + "some-unknown-key: 1\n");
  r = Parse({"--config-file=" + path}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ServerConfig& c = r->config;
  EXPECT_EQ(c.config_file, path);
  EXPECT_EQ(c.name, "node1");
  EXPECT_EQ(c.data_dir, "/var/lib/etcd");
  EXPECT_EQ(c.listen_client_urls, (Args{"http://10.0.0.1:2379", "http://127.0.0.1:2379"}));
  EXPECT_EQ(c.advertise_client_urls, Args{"http://10.0.0.1:2379"});
  EXPECT_EQ(c.initial_cluster, "node1=http://10.0.0.1:2380");
  EXPECT_EQ(c.heartbeat_interval_ms, 200u);
  EXPECT_EQ(c.election_timeout_ms, 2000u);
  EXPECT_EQ(c.max_request_bytes, 2097152u);
  EXPECT_EQ(c.quota_backend_bytes, 8589934592);
  EXPECT_EQ(c.initial_cluster_state, "existing");
  EXPECT_EQ(c.log_outputs, (Args{"/tmp/etcd.log", "stdout"}));
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_FALSE(c.pre_vote);
  EXPECT_EQ(c.grpc_keepalive_interval_ns, 600'000'000'000);
  EXPECT_EQ(c.flag_values.at("grpc-keepalive-interval"), "10m0s");
  EXPECT_EQ(c.feature_gates, "StopGRPCServiceOnDefrag=true");
  EXPECT_EQ(c.client_tls.cert_file, "/c.crt");
  EXPECT_EQ(c.client_tls.key_file, "/c.key");
  EXPECT_TRUE(c.client_tls.client_cert_auth);
  EXPECT_EQ(c.client_tls.allowed_hostnames, Args{"a.example.com"});
  EXPECT_EQ(c.peer_tls.trusted_ca_file, "/ca.crt");
  EXPECT_EQ(c.peer_tls.allowed_cns, Args{"peer"});
  EXPECT_TRUE(c.peer_tls.auto_tls);
  EXPECT_TRUE(c.socket_reuse_port);
  EXPECT_EQ(c.explicitly_set.count("some-unknown-key"), 1u);
  EXPECT_EQ(c.explicitly_set.count("name"), 1u);
  bool warned = false;
  for (const auto& w : r->warnings)
    warned |= w.find("some-unknown-key") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST_F(ConfigFileTest, FileWinsOverFlagsAndEnv) {
  std::string path = Write("name: fromfile\n");
  // Other flags and the environment are ignored, even conflicting or invalid ones.
  auto r = Parse({"--config-file", path, "--name=fromflag", "--election-timeout=1"},
                 {"ETCD_NAME=fromenv", "ETCD_MAX_TXN_OPS=bogus"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.name, "fromfile");
  EXPECT_EQ(r->config.election_timeout_ms, 1000u);
  EXPECT_EQ(r->config.max_txn_ops, 128u);
  ASSERT_FALSE(r->notes.empty());
  EXPECT_EQ(r->notes[0].msg,
            "loaded server configuration, other configuration command line flags and environment "
            "variables will be ignored if provided");
  EXPECT_EQ(r->notes[0].fields[0], (std::pair<std::string, std::string>{"path", path}));
  // LogNotes writes them as zap lines.
  std::string log_path = dir_ + "/parse.log";
  ASSERT_TRUE(log::Init("info", {log_path}, "json").ok());
  LogNotes(*r);
  ASSERT_TRUE(log::Init("info", {"default"}, "json").ok());
  std::ifstream in(log_path);
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first.rfind("{\"level\":\"info\",\"ts\":\"", 0), 0u) << first;
  EXPECT_NE(
      first.find("\"msg\":\"loaded server configuration, other configuration command "
                 "line flags and environment variables will be ignored if provided\",\"path\":\"" +
                 path + "\"}"),
      std::string::npos)
      << first;
  // ETCD_CONFIG_FILE works the same way.
  r = Parse({}, {"ETCD_CONFIG_FILE=" + path, "ETCD_NAME=fromenv"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.name, "fromfile");
  EXPECT_EQ(r->config.data_dir, "fromfile.etcd");
  // Unknown flags are still rejected by the flag parser first.
  EXPECT_EQ(Parse({"--config-file", path, "--nope"}, {}).status().message(),
            "flag provided but not defined: -nope");
  // A file that sets listen-client-urls alone keeps the default advertise URL (etcd).
  path = Write("listen-client-urls: http://127.0.0.1:1\n");
  r = Parse({"--config-file", path}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.advertise_client_urls, Args{"http://localhost:2379"});
}

TEST_F(ConfigFileTest, Errors) {
  auto err = [&](const std::string& body) {
    auto r = Parse({"--config-file", Write(body)}, {});
    EXPECT_FALSE(r.ok()) << body;
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_EQ(err("grpc-keepalive-interval: 5s\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go "
            "struct field configYAML.grpc-keepalive-interval of type time.Duration");
  EXPECT_EQ(err("max-txn-ops: -1\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number -1 into "
            "Go struct field configYAML.max-txn-ops of type uint");
  EXPECT_EQ(err("heartbeat-interval: fast\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go "
            "struct field configYAML.heartbeat-interval of type uint");
  EXPECT_EQ(err("listen-peer-urls: localhost:2380\n"),
            "unexpected error setting up listen-peer-urls: URL scheme must be http, https, unix, "
            "or unixs: localhost:2380");
  EXPECT_EQ(err("election-timeout: 100\n"),
            "--election-timeout[100ms] should be at least as 5 times as "
            "--heartbeat-interval[100ms]");
  EXPECT_EQ(err("compact-hash-check-time: 60000000000\n"
                "experimental-compact-hash-check-time: 60000000000\n"),
            "cannot set --experimental-compact-hash-check-time and --compact-hash-check-time at "
            "the same time, please use --compact-hash-check-time only");
  EXPECT_EQ(err("peer-transport-security: 3\n"), "invalid peer-transport-security");
  EXPECT_EQ(err("feature-gates: \"X=true\"\n"), "unrecognized feature gate: X");
  EXPECT_NE(err("name: [unterminated\n").find("yaml"), std::string::npos);
  EXPECT_EQ(err("- a\n- b\n"),
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go "
            "value of type embed.configYAML");
  auto r = Parse({"--config-file", dir_ + "/missing.yml"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "open " + dir_ + "/missing.yml: No such file or directory");
}

TEST_F(ConfigFileTest, ExperimentalKeysAndEmptyFile) {
  auto r = Parse({"--config-file", Write("experimental-snapshot-catch-up-entries: 42\n")}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.snapshot_catchup_entries, 42u);
  r = Parse({"--config-file", Write("")}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->config.name, "default");
  r = Parse({"--config-file", Write("experimental-initial-corrupt-check: true\n")}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->config.gates_from_experimental_flags.at("InitialCorruptCheck"));
}

}  // namespace
}  // namespace etcdpp::config

namespace etcdpp::config {
namespace {

// Flags with no top-level key in etcd's config file (embed.configYAML): they
// live in a nested section (next test) or exist on the command line only.
const std::set<std::string> kNotTopLevel = {"cert-file",
                                            "key-file",
                                            "client-cert-auth",
                                            "client-cert-file",
                                            "client-key-file",
                                            "client-crl-file",
                                            "client-cert-allowed-hostname",
                                            "trusted-ca-file",
                                            "auto-tls",
                                            "peer-cert-file",
                                            "peer-key-file",
                                            "peer-client-cert-auth",
                                            "peer-client-cert-file",
                                            "peer-client-key-file",
                                            "peer-trusted-ca-file",
                                            "peer-cert-allowed-cn",
                                            "peer-cert-allowed-hostname",
                                            "peer-auto-tls",
                                            "peer-crl-file",
                                            "peer-skip-client-san-verification",
                                            "socket-reuse-port",
                                            "socket-reuse-address",
                                            "discovery-endpoints",
                                            "discovery-token",
                                            "discovery-dial-timeout",
                                            "discovery-request-timeout",
                                            "discovery-keepalive-time",
                                            "discovery-keepalive-timeout",
                                            "discovery-insecure-transport",
                                            "discovery-insecure-skip-tls-verify",
                                            "discovery-cert",
                                            "discovery-key",
                                            "discovery-cacert",
                                            "discovery-user",
                                            "discovery-password",
                                            "discovery-fallback",
                                            "raft-read-timeout",
                                            "raft-write-timeout",
                                            "config-file",
                                            "version"};

// A non-default YAML value for `f` and the canonical flag value it must give.
std::pair<std::string, std::string> SampleValue(const FlagDef& f) {
  switch (f.type) {
    case FlagType::kBool:
      return f.def == "true" ? std::pair<std::string, std::string>{"false", "false"}
                             : std::pair<std::string, std::string>{"true", "true"};
    case FlagType::kUint:
    case FlagType::kUint32:
    case FlagType::kUint64:
    case FlagType::kInt:
    case FlagType::kInt64:
      return {"12345", "12345"};
    case FlagType::kDuration:
      return {"3000000000", "3s"};  // nanoseconds in the file
    case FlagType::kUrls:
      return {"http://10.0.0.9:2999", "http://10.0.0.9:2999"};
    case FlagType::kCors:
      return {"http://a.example", "http://a.example"};
    case FlagType::kStrings:
    case FlagType::kUniqueStrings:
      return {"[a.example, b.example]", "a.example,b.example"};
    case FlagType::kChoice: {
      std::string choices(f.choices);
      size_t bar = choices.find('|');
      std::string first = choices.substr(0, bar);
      std::string second = bar == std::string::npos ? first : choices.substr(bar + 1);
      second = second.substr(0, second.find('|'));
      std::string pick = first == f.def ? second : first;
      return {pick, pick};
    }
    case FlagType::kFeatureGates:
      return {"\"StopGRPCServiceOnDefrag=true\"", "StopGRPCServiceOnDefrag=true"};
    default:
      return {"sample-value", "sample-value"};
  }
}

// Keys whose generic sample would fail etcd's validation, or that need a
// specific kind of value: YAML value -> canonical value.
const std::map<std::string, std::pair<std::string, std::string>>& Overrides() {
  static const auto* m = new std::map<std::string, std::pair<std::string, std::string>>{
      {"heartbeat-interval", {"150", "150"}},
      {"election-timeout", {"1500", "1500"}},
      {"log-outputs", {"[stdout]", "stdout"}},
      {"log-level", {"warn", "warn"}},
      {"initial-cluster", {"default=http://localhost:2380", "default=http://localhost:2380"}},
      {"listen-client-urls", {"http://127.0.0.1:2999", "http://127.0.0.1:2999"}},
      {"listen-peer-urls", {"http://127.0.0.1:2998", "http://127.0.0.1:2998"}},
      {"listen-client-http-urls", {"http://127.0.0.1:2997", "http://127.0.0.1:2997"}},
      {"listen-metrics-urls", {"http://127.0.0.1:2996", "http://127.0.0.1:2996"}},
      {"initial-advertise-peer-urls", {"http://localhost:2380", "http://localhost:2380"}},
      {"auto-compaction-retention", {"1h", "1h"}},
      {"auto-compaction-mode", {"revision", "revision"}},
      {"cors", {"\"*\"", "*"}},
      {"tls-min-version", {"TLS1.2", "TLS1.2"}},
      {"tls-max-version", {"TLS1.3", "TLS1.3"}},
      {"logger", {"zap", "zap"}},
      {"log-format", {"console", "console"}},
      // Needs LeaseCheckpoint too (the next line of the file).
      {"experimental-enable-lease-checkpoint-persist",
       {"true\nexperimental-enable-lease-checkpoint: true", "true"}},
      {"cipher-suites",
       {"[TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}},
  };
  return *m;
}

TEST(ConfigFileKeysTest, EveryTopLevelKeySetsItsFlag) {
  char tmpl[] = "/tmp/etcdpp_config_keys_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/etcd.conf.yml";
  int checked = 0;
  for (const FlagDef& f : FlagTable()) {
    std::string name(f.name);
    if (kNotTopLevel.count(name) || f.type == FlagType::kIgnored) continue;
    auto sample = SampleValue(f);
    if (auto it = Overrides().find(name); it != Overrides().end()) sample = it->second;
    SCOPED_TRACE(name + ": " + sample.first);
    std::ofstream(path, std::ios::trunc) << name << ": " << sample.first << "\n";
    auto r = Parse({"--config-file", path}, {});
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      continue;
    }
    // A renamed --experimental-X key sets X (and old/new both would be an error).
    std::string target = f.renamed_to.empty() ? name : std::string(f.renamed_to);
    if (!f.gate.empty()) {
      EXPECT_EQ(r->config.gates_from_experimental_flags.at(std::string(f.gate)),
                sample.second == "true");
    } else {
      EXPECT_EQ(r->config.flag_values.count(target), 1u);
      if (r->config.flag_values.count(target)) {
        EXPECT_EQ(r->config.flag_values.at(target), sample.second);
      }
    }
    EXPECT_EQ(r->config.explicitly_set.count(name), 1u);
    checked++;
  }
  std::remove(path.c_str());
  rmdir(tmpl);
  EXPECT_GT(checked, 80);
}

TEST(ConfigFileKeysTest, EveryNestedKeySetsItsFlag) {
  struct Row {
    const char* yaml;
    const char* flag;
    const char* value;
  };
  const Row rows[] = {
      {"client-transport-security: {cert-file: /c.crt}", "cert-file", "/c.crt"},
      {"client-transport-security: {key-file: /c.key}", "key-file", "/c.key"},
      {"client-transport-security: {client-cert-file: /cc.crt}", "client-cert-file", "/cc.crt"},
      {"client-transport-security: {client-key-file: /cc.key}", "client-key-file", "/cc.key"},
      {"client-transport-security: {client-cert-auth: true}", "client-cert-auth", "true"},
      {"client-transport-security: {trusted-ca-file: /ca}", "trusted-ca-file", "/ca"},
      {"client-transport-security: {auto-tls: true}", "auto-tls", "true"},
      {"client-transport-security: {allowed-hostname: [h]}", "client-cert-allowed-hostname", "h"},
      {"peer-transport-security: {cert-file: /p.crt}", "peer-cert-file", "/p.crt"},
      {"peer-transport-security: {key-file: /p.key}", "peer-key-file", "/p.key"},
      {"peer-transport-security: {client-cert-file: /pc.crt}", "peer-client-cert-file", "/pc.crt"},
      {"peer-transport-security: {client-key-file: /pc.key}", "peer-client-key-file", "/pc.key"},
      {"peer-transport-security: {client-cert-auth: true}", "peer-client-cert-auth", "true"},
      {"peer-transport-security: {trusted-ca-file: /pca}", "peer-trusted-ca-file", "/pca"},
      {"peer-transport-security: {auto-tls: true}", "peer-auto-tls", "true"},
      {"peer-transport-security: {allowed-cn: [cn]}", "peer-cert-allowed-cn", "cn"},
      {"peer-transport-security: {allowed-hostname: [ph]}", "peer-cert-allowed-hostname", "ph"},
      {"peer-transport-security: {skip-client-san-verification: true}",
       "peer-skip-client-san-verification", "true"},
      {"socket-options: {reuse-port: true}", "socket-reuse-port", "true"},
      {"socket-options: {reuse-address: true}", "socket-reuse-address", "true"},
      {"discovery-config: {token: t, endpoints: [http://d:2379]}", "discovery-token", "t"},
      {"discovery-config: {token: t, endpoints: [http://d:2379]}", "discovery-endpoints",
       "http://d:2379"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], dial-timeout: 3000000000}",
       "discovery-dial-timeout", "3s"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], request-timeout: 3000000000}",
       "discovery-request-timeout", "3s"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], keepalive-time: 3000000000}",
       "discovery-keepalive-time", "3s"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], keepalive-timeout: 3000000000}",
       "discovery-keepalive-timeout", "3s"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], secure: "
       "{insecure-transport: false}}",
       "discovery-insecure-transport", "false"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], secure: "
       "{insecure-skip-tls-verify: true}}",
       "discovery-insecure-skip-tls-verify", "true"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], secure: {cert: /d.crt}}",
       "discovery-cert", "/d.crt"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], secure: {key: /d.key}}",
       "discovery-key", "/d.key"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], secure: {cacert: /d.ca}}",
       "discovery-cacert", "/d.ca"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], auth: {username: u}}",
       "discovery-user", "u"},
      {"discovery-config: {token: t, endpoints: [http://d:2379], auth: {password: pw}}",
       "discovery-password", "pw"},
  };
  char tmpl[] = "/tmp/etcdpp_config_keys_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/etcd.conf.yml";
  for (const Row& row : rows) {
    SCOPED_TRACE(row.yaml);
    std::ofstream(path, std::ios::trunc) << row.yaml << "\n";
    auto r = Parse({"--config-file", path}, {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->config.flag_values.count(row.flag), 1u);
    EXPECT_EQ(r->config.flag_values.at(row.flag), row.value);
  }
  std::remove(path.c_str());
  rmdir(tmpl);
}

}  // namespace
}  // namespace etcdpp::config
