// The member's configuration: etcd 3.6's flags, ETCD_* environment variables
// and (later) the YAML config file, parsed into one struct. Parsing never
// touches the data dir; errors come back as a Status whose message is what
// etcd would print (the caller prints it and exits with code 2).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

  // Every flag that was set explicitly (flag name without dashes -> raw value),
  // including flags accepted now but implemented by later issues.
  std::map<std::string, std::string> explicitly_set;
};

// What the command line asked for.
struct ParseOutcome {
  enum class Action { kRun, kPrintVersion, kPrintHelp };
  Action action = Action::kRun;
  ServerConfig config;
  std::vector<std::string> warnings;  // to be logged once logging is set up
};

// Parses argv (argv[0] skipped) and the environment (entries "KEY=VALUE";
// ETCD_* are used). On error: kInvalidArgument with etcd-like text.
Result<ParseOutcome> Parse(const std::vector<std::string>& args,
                           const std::vector<std::string>& env);

// The usage text printed by --help.
std::string HelpText();

}  // namespace etcdpp::config
