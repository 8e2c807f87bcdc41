#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.h"

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
