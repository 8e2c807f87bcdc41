// The member's configuration: etcd 3.6's flags, ETCD_* environment variables
// and (later) the YAML config file, parsed into one struct. Parsing never
// touches the data dir; errors come back as a Status whose message is what
// etcd would print (the caller prints it and exits with code 2).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/log.h"
#include "common/status.h"

namespace etcdpp::config {

struct ServerConfig {
  // Member and raft
  std::string name = "default";
  std::string data_dir;  // default: "<name>.etcd"
  std::string wal_dir;   // default: "" (= <data-dir>/member/wal)
  uint64_t snapshot_count = 10000;
  uint64_t snapshot_catchup_entries = 5000;
  uint64_t heartbeat_interval_ms = 100;
  uint64_t election_timeout_ms = 1000;
  bool pre_vote = true;
  int max_learners = 1;
  bool strict_reconfig_check = true;

  // Listeners (URLs as given, e.g. "http://localhost:2379")
  std::vector<std::string> listen_client_urls = {"http://localhost:2379"};
  std::vector<std::string> advertise_client_urls = {"http://localhost:2379"};
  std::vector<std::string> listen_peer_urls = {"http://localhost:2380"};
  std::vector<std::string> initial_advertise_peer_urls = {"http://localhost:2380"};
  std::vector<std::string> listen_client_http_urls;
  std::vector<std::string> listen_metrics_urls;

  // Bootstrap
  std::string initial_cluster;  // default: "<name>=<initial-advertise-peer-urls>"
  std::string initial_cluster_state = "new";
  std::string initial_cluster_token = "etcd-cluster";

  // Storage and limits
  uint64_t max_request_bytes = 1572864;  // 1.5 MiB
  uint64_t max_txn_ops = 128;
  int64_t quota_backend_bytes = 0;  // 0 = 2 GiB
  uint64_t max_concurrent_streams = 4294967295u;
  bool unsafe_no_fsync = false;

  // Logging
  std::string logger = "zap";
  std::string log_level = "info";
  std::string log_format = "json";
  std::vector<std::string> log_outputs = {"default"};

  std::string feature_gates;

  // --- Added fields (flags stored now, implemented by later issues) ---
  std::string config_file;  // the YAML file used, if any
  bool initial_election_tick_advance = true;
  uint64_t max_snapshots = 5;
  uint64_t max_wals = 5;
  bool force_new_cluster = false;
  bool enable_grpc_gateway = true;
  int64_t grpc_keepalive_min_time_ns = 5'000'000'000;
  int64_t grpc_keepalive_interval_ns = 7200'000'000'000;
  int64_t grpc_keepalive_timeout_ns = 20'000'000'000;
  bool socket_reuse_port = false;
  bool socket_reuse_address = false;
  std::string auto_compaction_mode = "periodic";
  std::string auto_compaction_retention = "0";
  std::string discovery;  // v2 discovery URL
  std::string discovery_srv;
  std::vector<std::string> discovery_endpoints;
  std::string discovery_token;

  struct Tls {
    std::string cert_file, key_file, client_cert_file, client_key_file, trusted_ca_file, crl_file;
    bool client_cert_auth = false;
    bool auto_tls = false;
    bool skip_client_san_verification = false;
    std::vector<std::string> allowed_cns, allowed_hostnames;
    bool Empty() const { return cert_file.empty() && key_file.empty(); }
  };
  Tls client_tls, peer_tls;
  uint64_t self_signed_cert_validity = 1;
  std::vector<std::string> cipher_suites;
  std::string tls_min_version = "TLS1.2";
  std::string tls_max_version;
  std::vector<std::string> cors = {"*"};
  std::vector<std::string> host_whitelist = {"*"};

  std::string auth_token = "simple";
  uint64_t bcrypt_cost = 10;
  uint64_t auth_token_ttl = 300;
  bool enable_pprof = false;
  std::string metrics = "basic";

  int64_t corrupt_check_time_ns = 0;
  int64_t compact_hash_check_time_ns = 60'000'000'000;
  int64_t compaction_batch_limit = 0;        // 0: the store's default (1000)
  int64_t compaction_sleep_interval_ns = 0;  // 0: the store's default (10ms)
  int64_t watch_progress_notify_interval_ns = 600'000'000'000;
  int64_t downgrade_check_time_ns = 5'000'000'000;
  int64_t warning_apply_duration_ns = 100'000'000;
  int64_t warning_unary_request_duration_ns = 300'000'000;
  bool memory_mlock = false;
  uint64_t bootstrap_defrag_threshold_megabytes = 0;

  // Old boolean --experimental-* flags that became feature gates (3.6), when set
  // explicitly: gate name (e.g. "InitialCorruptCheck") -> value. The feature-gate
  // module applies them under feature_gates (which wins only if it names the gate;
  // naming both is already rejected here).
  std::map<std::string, bool> gates_from_experimental_flags;
  // The effective value of every etcd 3.6 server feature gate (defaults, AllAlpha/
  // AllBeta, the old flags above, then --feature-gates), e.g. "StopGRPCServiceOnDefrag".
  std::map<std::string, bool> features;
  bool FeatureEnabled(const std::string& gate) const {
    auto it = features.find(gate);
    return it != features.end() && it->second;
  }

  // The effective value of every known flag (name -> etcd-syntax string: the
  // default, the command line/env value, or the config-file value converted,
  // durations in Go syntax). For flags without a typed field above.
  std::map<std::string, std::string> flag_values;

  // Every flag that was set explicitly (flag name without dashes -> raw value),
  // including flags accepted now but implemented by later issues. With a config
  // file: every top-level key (and "peer-<key>" for peer-transport-security keys).
  std::map<std::string, std::string> explicitly_set;
};

// One line etcd logs while it reads its configuration: level, etcd's message
// text, and its fields (values as strings).
struct Note {
  log::Level level = log::Level::kWarn;
  std::string msg;
  std::vector<std::pair<std::string, std::string>> fields;
};

// What the command line asked for.
struct ParseOutcome {
  enum class Action { kRun, kPrintVersion, kPrintHelp };
  Action action = Action::kRun;
  ServerConfig config;
  // Warnings as single strings (message, then "(key=value, ...)"), to be logged
  // once logging is set up.
  std::vector<std::string> warnings;
  // The same warnings plus etcd's info lines ("recognized and used environment
  // variable", "loaded server configuration, ..."), structured, in order.
  // LogNotes() writes them exactly as etcd would; use it instead of `warnings`.
  std::vector<Note> notes;
};

// Logs outcome.notes through common/log (call after log::Init).
void LogNotes(const ParseOutcome& outcome);

// Parses the command-line arguments after the program name (argv[1..argc)) and
// the environment (entries "KEY=VALUE"; ETCD_* are used), like etcd 3.6:
// flags first (Go flag syntax), then --help/-h, stray arguments, --version;
// then either the --config-file/ETCD_CONFIG_FILE YAML (all other flags and
// variables ignored) or the ETCD_* variables; then derived defaults and
// validation. On error: kInvalidArgument whose message is the one line etcd
// prints (e.g. "flag provided but not defined: -foo"); the caller prints it
// (optionally followed by UsageText()) and exits with code 2. Never touches
// the file system except to read the config file.
Result<ParseOutcome> Parse(const std::vector<std::string>& args,
                           const std::vector<std::string>& env);

// The usage text printed by --help (etcd's usage line followed by the flag list).
std::string HelpText();
// etcd's short usage block (printed after a flag error, like Go's flag package).
std::string UsageText();

// The lines `etcdpp --version` prints: "etcd Version: 3.6.x", "Git SHA: ...",
// then etcdpp's own version. (Values given by the caller's build.)
std::string VersionText(std::string_view etcd_version, std::string_view etcdpp_version,
                        std::string_view git_sha);

// Validates a ServerConfig the way etcd's embed.Config.Validate does (URLs,
// election vs heartbeat, logging options, bootstrap conflicts, TLS versions...).
// Parse already calls it; exposed for configs built in code (tests, tools).
Status Validate(const ServerConfig& cfg);

}  // namespace etcdpp::config
