#include "config/flag_table.h"

#include <unordered_map>

#include "config/feature_gates.h"
#include "config/go_values.h"

namespace etcdpp::config {
namespace {

void Assign(std::string& f, const FlagValue& v) {
  f = v.str;
}
void Assign(bool& f, const FlagValue& v) {
  f = v.b;
}
void Assign(uint64_t& f, const FlagValue& v) {
  f = v.u;
}
void Assign(int64_t& f, const FlagValue& v) {
  f = v.i;
}
void Assign(int& f, const FlagValue& v) {
  f = static_cast<int>(v.i);
}
void Assign(std::vector<std::string>& f, const FlagValue& v) {
  f = v.list;
}

// A setter writing the parsed value into ServerConfig::field.
#define TO(field) +[](ServerConfig& c, const FlagValue& v) { Assign(c.field, v); }

constexpr Support kImpl = Support::kImplemented;
constexpr Support kStore = Support::kStored;
constexpr Support kIgn = Support::kIgnored;
using T = FlagType;

constexpr std::string_view kMember = "Member";
constexpr std::string_view kCluster = "Clustering";
constexpr std::string_view kSecurity = "Security";
constexpr std::string_view kAuth = "Auth";
constexpr std::string_view kMonitor = "Profiling and Monitoring";
constexpr std::string_view kLogging = "Logging";
constexpr std::string_view kTracing = "Distributed tracing";
constexpr std::string_view kExperimental = "Experimental feature";
constexpr std::string_view kUnsafe = "Unsafe feature";
constexpr std::string_view kOther = "Other";
constexpr std::string_view kLegacy = "Legacy v2 flags (accepted and ignored)";

constexpr std::string_view kDefaultLogRotation =
    R"({"maxsize": 100, "maxage": 0, "maxbackups": 0, "localtime": false, "compress": false})";

std::vector<FlagDef> BuildTable() {
  return {
      // Member
      {"name", T::kString, "default", "Human-readable name for this member.", kMember, kImpl,
       TO(name)},
      {"data-dir", T::kString, "", "Path to the data directory (default '${name}.etcd').", kMember,
       kImpl, TO(data_dir)},
      {"wal-dir", T::kString, "", "Path to the dedicated wal directory.", kMember, kImpl,
       TO(wal_dir)},
      {"snapshot-count", T::kUint64, "10000",
       "Number of committed transactions to trigger a snapshot to disk. Deprecated in v3.6 and "
       "will be decommissioned in v3.7.",
       kMember, kImpl, TO(snapshot_count)},
      {"heartbeat-interval", T::kUint, "100", "Time (in milliseconds) of a heartbeat interval.",
       kMember, kImpl, TO(heartbeat_interval_ms)},
      {"election-timeout", T::kUint, "1000",
       "Time (in milliseconds) for an election to timeout. See tuning documentation for details.",
       kMember, kImpl, TO(election_timeout_ms)},
      {"initial-election-tick-advance", T::kBool, "true",
       "Whether to fast-forward initial election ticks on boot for faster election.", kMember,
       kStore, TO(initial_election_tick_advance)},
      {"listen-peer-urls", T::kUrls, "http://localhost:2380",
       "List of URLs to listen on for peer traffic.", kMember, kImpl, TO(listen_peer_urls)},
      {"listen-client-urls", T::kUrls, "http://localhost:2379",
       "List of URLs to listen on for client grpc traffic and http as long as "
       "--listen-client-http-urls is not specified.",
       kMember, kImpl, TO(listen_client_urls)},
      {"listen-client-http-urls", T::kUrls, "",
       "List of URLs to listen on for http only client traffic. Enabling this flag removes http "
       "services from --listen-client-urls.",
       kMember, kStore, TO(listen_client_http_urls)},
      {"max-snapshots", T::kUint, "5",
       "Maximum number of snapshot files to retain (0 is unlimited). Deprecated in v3.6 and will "
       "be decommissioned in v3.7.",
       kMember, kStore, TO(max_snapshots)},
      {"max-wals", T::kUint, "5", "Maximum number of wal files to retain (0 is unlimited).",
       kMember, kStore, TO(max_wals)},
      {"quota-backend-bytes", T::kInt64, "0",
       "Sets the maximum size (in bytes) that the etcd backend database may consume. Exceeding "
       "this triggers an alarm and puts etcd in read-only mode. Set to 0 to use the default 2GiB "
       "limit.",
       kMember, kImpl, TO(quota_backend_bytes)},
      {"backend-bbolt-freelist-type", T::kString, "map",
       "BackendFreelistType specifies the type of freelist that boltdb backend uses (array and "
       "map are supported types).",
       kMember, kIgn},
      {"backend-batch-interval", T::kDuration, "0s",
       "BackendBatchInterval is the maximum time before commit the backend transaction.", kMember,
       kStore},
      {"backend-batch-limit", T::kInt, "0",
       "BackendBatchLimit is the maximum operations before commit the backend transaction.",
       kMember, kStore},
      {"max-txn-ops", T::kUint, "128", "Maximum number of operations permitted in a transaction.",
       kMember, kImpl, TO(max_txn_ops)},
      {"max-request-bytes", T::kUint, "1572864",
       "Maximum client request size in bytes the server will accept.", kMember, kImpl,
       TO(max_request_bytes)},
      {"max-concurrent-streams", T::kUint32, "4294967295",
       "Maximum concurrent streams that each client can open at a time.", kMember, kStore,
       TO(max_concurrent_streams)},
      {"enable-grpc-gateway", T::kBool, "true", "Enable GRPC gateway.", kMember, kStore,
       TO(enable_grpc_gateway)},
      {"grpc-keepalive-min-time", T::kDuration, "5s",
       "Minimum interval duration that a client should wait before pinging server.", kMember,
       kStore, TO(grpc_keepalive_min_time_ns)},
      {"grpc-keepalive-interval", T::kDuration, "2h0m0s",
       "Frequency duration of server-to-client ping to check if a connection is alive (0 to "
       "disable).",
       kMember, kStore, TO(grpc_keepalive_interval_ns)},
      {"grpc-keepalive-timeout", T::kDuration, "20s",
       "Additional duration of wait before closing a non-responsive connection (0 to disable).",
       kMember, kStore, TO(grpc_keepalive_timeout_ns)},
      {"socket-reuse-port", T::kBool, "false",
       "Enable to set socket option SO_REUSEPORT on listeners allowing rebinding of a port "
       "already in use.",
       kMember, kStore, TO(socket_reuse_port)},
      {"socket-reuse-address", T::kBool, "false",
       "Enable to set socket option SO_REUSEADDR on listeners allowing binding to an address in "
       "TIME_WAIT state.",
       kMember, kStore, TO(socket_reuse_address)},
      {"raft-read-timeout", T::kDuration, "5s",
       "Read timeout set on each rafthttp connection (values below 5s are raised to 5s).", kMember,
       kStore},
      {"raft-write-timeout", T::kDuration, "5s",
       "Write timeout set on each rafthttp connection (values below 5s are raised to 5s).", kMember,
       kStore},

      // Clustering
      {"initial-advertise-peer-urls", T::kUrls, "http://localhost:2380",
       "List of this member's peer URLs to advertise to the rest of the cluster.", kCluster, kImpl,
       TO(initial_advertise_peer_urls)},
      {"initial-cluster", T::kString, "default=http://localhost:2380",
       "Initial cluster configuration for bootstrapping.", kCluster, kImpl, TO(initial_cluster)},
      {"initial-cluster-state", T::kChoice, "new",
       "Initial cluster state ('new' when bootstrapping a new cluster or 'existing' when adding "
       "new members to an existing cluster). After successful initialization (bootstrapping or "
       "adding), flag is ignored on restarts.",
       kCluster, kImpl, TO(initial_cluster_state), "new|existing"},
      {"initial-cluster-token", T::kString, "etcd-cluster",
       "Initial cluster token for the etcd cluster during bootstrap.", kCluster, kImpl,
       TO(initial_cluster_token)},
      {"advertise-client-urls", T::kUrls, "http://localhost:2379",
       "List of this member's client URLs to advertise to the public.", kCluster, kImpl,
       TO(advertise_client_urls)},
      {"discovery", T::kString, "",
       "Discovery URL used to bootstrap the cluster for v2 discovery. Will be deprecated in v3.7, "
       "and be decommissioned in v3.8.",
       kCluster, kStore, TO(discovery)},
      {"discovery-fallback", T::kChoice, "exit",
       "Expected behavior ('exit') when discovery services fails. Note that v2 proxy is removed.",
       kCluster, kStore, nullptr, "exit|proxy"},
      {"discovery-proxy", T::kString, "",
       "HTTP proxy to use for traffic to discovery service. Will be deprecated in v3.7, and be "
       "decommissioned in v3.8.",
       kCluster, kStore},
      {"discovery-srv", T::kString, "", "DNS domain used to bootstrap initial cluster.", kCluster,
       kStore, TO(discovery_srv)},
      {"discovery-srv-name", T::kString, "", "Service name to query when using DNS discovery.",
       kCluster, kStore},
      {"discovery-endpoints", T::kUniqueStrings, "",
       "V3 discovery: List of gRPC endpoints of the discovery service.", kCluster, kStore,
       TO(discovery_endpoints)},
      {"discovery-token", T::kString, "",
       "V3 discovery: discovery token for the etcd cluster to be bootstrapped.", kCluster, kStore,
       TO(discovery_token)},
      {"discovery-dial-timeout", T::kDuration, "2s",
       "V3 discovery: dial timeout for client connections.", kCluster, kStore},
      {"discovery-request-timeout", T::kDuration, "5s",
       "V3 discovery: timeout for discovery requests (excluding dial timeout).", kCluster, kStore},
      {"discovery-keepalive-time", T::kDuration, "2s",
       "V3 discovery: keepalive time for client connections.", kCluster, kStore},
      {"discovery-keepalive-timeout", T::kDuration, "6s",
       "V3 discovery: keepalive timeout for client connections.", kCluster, kStore},
      {"discovery-insecure-transport", T::kBool, "true",
       "V3 discovery: disable transport security for client connections.", kCluster, kStore},
      {"discovery-insecure-skip-tls-verify", T::kBool, "false",
       "V3 discovery: skip server certificate verification (CAUTION: this option should be "
       "enabled only for testing purposes).",
       kCluster, kStore},
      {"discovery-cert", T::kString, "",
       "V3 discovery: identify secure client using this TLS certificate file.", kCluster, kStore},
      {"discovery-key", T::kString, "",
       "V3 discovery: identify secure client using this TLS key file.", kCluster, kStore},
      {"discovery-cacert", T::kString, "",
       "V3 discovery: verify certificates of TLS-enabled secure servers using this CA bundle.",
       kCluster, kStore},
      {"discovery-user", T::kString, "",
       "V3 discovery: username[:password] for authentication (prompt if password is not "
       "supplied).",
       kCluster, kStore},
      {"discovery-password", T::kString, "",
       "V3 discovery: password for authentication (if this option is used, --user option "
       "shouldn't include password).",
       kCluster, kStore},
      {"strict-reconfig-check", T::kBool, "true",
       "Reject reconfiguration requests that would cause quorum loss.", kCluster, kStore,
       TO(strict_reconfig_check)},
      {"pre-vote", T::kBool, "true",
       "Enable the raft Pre-Vote algorithm to prevent disruption when a node that has been "
       "partitioned away rejoins the cluster.",
       kCluster, kStore, TO(pre_vote)},
      {"auto-compaction-retention", T::kString, "0",
       "Auto compaction retention length. 0 means disable auto compaction.", kCluster, kStore,
       TO(auto_compaction_retention)},
      {"auto-compaction-mode", T::kString, "periodic",
       "Interpret 'auto-compaction-retention' one of: periodic|revision. 'periodic' for duration "
       "based retention, defaulting to hours if no time unit is provided (e.g. '5m'). 'revision' "
       "for revision number based retention.",
       kCluster, kStore, TO(auto_compaction_mode)},
      {"v2-deprecation", T::kChoice, "write-only",
       "v2store deprecation stage. Deprecated and scheduled for removal in v3.8. The default "
       "value is enforced, ignoring user input.",
       kCluster, kIgn, nullptr, "write-only|write-only-drop-data|gone"},

      // Security
      {"cert-file", T::kString, "", "Path to the client server TLS cert file.", kSecurity, kStore,
       TO(client_tls.cert_file)},
      {"key-file", T::kString, "", "Path to the client server TLS key file.", kSecurity, kStore,
       TO(client_tls.key_file)},
      {"client-cert-auth", T::kBool, "false", "Enable client cert authentication.", kSecurity,
       kStore, TO(client_tls.client_cert_auth)},
      {"client-cert-file", T::kString, "",
       "Path to an explicit peer client TLS cert file otherwise cert file will be used when "
       "client auth is required.",
       kSecurity, kStore, TO(client_tls.client_cert_file)},
      {"client-key-file", T::kString, "",
       "Path to an explicit peer client TLS key file otherwise key file will be used when client "
       "auth is required.",
       kSecurity, kStore, TO(client_tls.client_key_file)},
      {"client-crl-file", T::kString, "", "Path to the client certificate revocation list file.",
       kSecurity, kStore, TO(client_tls.crl_file)},
      {"client-cert-allowed-hostname", T::kStrings, "",
       "Comma-separated list of allowed SAN hostnames for client cert authentication.", kSecurity,
       kStore, TO(client_tls.allowed_hostnames)},
      {"trusted-ca-file", T::kString, "", "Path to the client server TLS trusted CA cert file.",
       kSecurity, kStore, TO(client_tls.trusted_ca_file)},
      {"auto-tls", T::kBool, "false", "Client TLS using generated certificates.", kSecurity, kStore,
       TO(client_tls.auto_tls)},
      {"peer-cert-file", T::kString, "", "Path to the peer server TLS cert file.", kSecurity,
       kStore, TO(peer_tls.cert_file)},
      {"peer-key-file", T::kString, "", "Path to the peer server TLS key file.", kSecurity, kStore,
       TO(peer_tls.key_file)},
      {"peer-client-cert-auth", T::kBool, "false", "Enable peer client cert authentication.",
       kSecurity, kStore, TO(peer_tls.client_cert_auth)},
      {"peer-client-cert-file", T::kString, "",
       "Path to an explicit peer client TLS cert file otherwise peer cert file will be used when "
       "client auth is required.",
       kSecurity, kStore, TO(peer_tls.client_cert_file)},
      {"peer-client-key-file", T::kString, "",
       "Path to an explicit peer client TLS key file otherwise peer key file will be used when "
       "client auth is required.",
       kSecurity, kStore, TO(peer_tls.client_key_file)},
      {"peer-trusted-ca-file", T::kString, "", "Path to the peer server TLS trusted CA file.",
       kSecurity, kStore, TO(peer_tls.trusted_ca_file)},
      {"peer-cert-allowed-cn", T::kStrings, "",
       "Comma-separated list of allowed CNs for inter-peer TLS authentication.", kSecurity, kStore,
       TO(peer_tls.allowed_cns)},
      {"peer-cert-allowed-hostname", T::kStrings, "",
       "Comma-separated list of allowed SAN hostnames for inter-peer TLS authentication.",
       kSecurity, kStore, TO(peer_tls.allowed_hostnames)},
      {"peer-auto-tls", T::kBool, "false",
       "Peer TLS using self-generated certificates if --peer-key-file and --peer-cert-file are "
       "not provided.",
       kSecurity, kStore, TO(peer_tls.auto_tls)},
      {"peer-crl-file", T::kString, "", "Path to the peer certificate revocation list file.",
       kSecurity, kStore, TO(peer_tls.crl_file)},
      {"peer-skip-client-san-verification", T::kBool, "false",
       "Skip verification of SAN field in client certificate for peer connections.", kSecurity,
       kStore, TO(peer_tls.skip_client_san_verification)},
      {"experimental-peer-skip-client-san-verification",
       T::kBool,
       "false",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use "
       "--peer-skip-client-san-verification instead.",
       kSecurity,
       kStore,
       nullptr,
       {},
       "peer-skip-client-san-verification"},
      {"self-signed-cert-validity", T::kUint, "1",
       "The validity period of the client and peer certificates that are automatically generated "
       "by etcd when you specify ClientAutoTLS and PeerAutoTLS, the unit is year, and the default "
       "is 1.",
       kSecurity, kStore, TO(self_signed_cert_validity)},
      {"cipher-suites", T::kStrings, "",
       "Comma-separated list of supported TLS cipher suites between client/server and peers "
       "(empty will be auto-populated by Go).",
       kSecurity, kStore, TO(cipher_suites)},
      {"cors", T::kCors, "*",
       "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty "
       "or * means allow all).",
       kSecurity, kStore, TO(cors)},
      {"host-whitelist", T::kUniqueStrings, "*",
       "Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means "
       "allow all).",
       kSecurity, kStore, TO(host_whitelist)},
      {"tls-min-version", T::kString, "TLS1.2",
       "Minimum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3.", kSecurity, kStore,
       TO(tls_min_version)},
      {"tls-max-version", T::kString, "",
       "Maximum TLS version supported by etcd. Possible values: TLS1.2, TLS1.3 (empty defers to "
       "Go).",
       kSecurity, kStore, TO(tls_max_version)},

      // Auth
      {"auth-token", T::kString, "simple",
       "Specify a v3 authentication token type and token specific options, especially for JWT. "
       "Its format is \"type,var1=val1,var2=val2,...\".",
       kAuth, kStore, TO(auth_token)},
      {"bcrypt-cost", T::kUint, "10",
       "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords. Valid "
       "values are between 4 and 31.",
       kAuth, kStore, TO(bcrypt_cost)},
      {"auth-token-ttl", T::kUint, "300", "Time (in seconds) of the auth-token-ttl.", kAuth, kStore,
       TO(auth_token_ttl)},

      // Profiling and monitoring
      {"enable-pprof", T::kBool, "false",
       "Enable runtime profiling data via HTTP server. Address is at client URL + "
       "\"/debug/pprof/\"",
       kMonitor, kStore, TO(enable_pprof)},
      {"metrics", T::kString, "basic",
       "Set level of detail for exported metrics, specify 'extensive' to include server side grpc "
       "histogram metrics.",
       kMonitor, kStore, TO(metrics)},
      {"listen-metrics-urls", T::kUrls, "",
       "List of URLs to listen on for the /metrics and /health endpoints. For https, the client "
       "URL TLS info is used.",
       kMonitor, kStore, TO(listen_metrics_urls)},

      // Logging
      {"logger", T::kString, "zap", "Currently only supports 'zap' for structured logging.",
       kLogging, kImpl, TO(logger)},
      {"log-outputs", T::kUniqueStrings, "default",
       "Specify 'stdout' or 'stderr' to skip journald logging even when running under systemd, or "
       "list of comma separated output targets.",
       kLogging, kImpl, TO(log_outputs)},
      {"log-level", T::kString, "info",
       "Configures log level. Only supports debug, info, warn, error, panic, or fatal.", kLogging,
       kImpl, TO(log_level)},
      {"log-format", T::kString, "json", "Configures log format. Only supports json, console.",
       kLogging, kImpl, TO(log_format)},
      {"enable-log-rotation", T::kBool, "false",
       "Enable log rotation of a single log-outputs file target.", kLogging, kStore},
      {"log-rotation-config-json", T::kString, kDefaultLogRotation,
       "Configures log rotation if enabled with a JSON logger config. MaxSize(MB), "
       "MaxAge(days,0=no "
       "limit), MaxBackups(0=no limit), LocalTime(use computers local time), Compress(gzip)",
       kLogging, kStore},

      // Distributed tracing
      {"enable-distributed-tracing", T::kBool, "false",
       "Enable distributed tracing using OpenTelemetry Tracing.", kTracing, kStore},
      {"distributed-tracing-address", T::kString, "localhost:4317",
       "Address for distributed tracing used for OpenTelemetry Tracing (if enabled with "
       "enable-distributed-tracing flag).",
       kTracing, kStore},
      {"distributed-tracing-service-name", T::kString, "etcd",
       "Configures service name for distributed tracing to be used to define service name for "
       "OpenTelemetry Tracing (if enabled with enable-distributed-tracing flag). 'etcd' is the "
       "default service name. Use the same service name for all instances of etcd.",
       kTracing, kStore},
      {"distributed-tracing-instance-id", T::kString, "",
       "Configures service instance ID for distributed tracing to be used to define service "
       "instance ID key for OpenTelemetry Tracing (if enabled with enable-distributed-tracing "
       "flag). There is no default value set. This ID must be unique per etcd instance.",
       kTracing, kStore},
      {"distributed-tracing-sampling-rate", T::kInt, "0",
       "Number of samples to collect per million spans for OpenTelemetry Tracing (if enabled with "
       "enable-distributed-tracing flag).",
       kTracing, kStore},
      {"experimental-enable-distributed-tracing",
       T::kBool,
       "false",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use --enable-distributed-tracing "
       "instead.",
       kTracing,
       kStore,
       nullptr,
       {},
       "enable-distributed-tracing"},
      {"experimental-distributed-tracing-address",
       T::kString,
       "localhost:4317",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use --distributed-tracing-address "
       "instead.",
       kTracing,
       kStore,
       nullptr,
       {},
       "distributed-tracing-address"},
      {"experimental-distributed-tracing-service-name",
       T::kString,
       "etcd",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use "
       "--distributed-tracing-service-name instead.",
       kTracing,
       kStore,
       nullptr,
       {},
       "distributed-tracing-service-name"},
      {"experimental-distributed-tracing-instance-id",
       T::kString,
       "",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use "
       "--distributed-tracing-instance-id instead.",
       kTracing,
       kStore,
       nullptr,
       {},
       "distributed-tracing-instance-id"},
      {"experimental-distributed-tracing-sampling-rate",
       T::kInt,
       "0",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use "
       "--distributed-tracing-sampling-rate instead.",
       kTracing,
       kStore,
       nullptr,
       {},
       "distributed-tracing-sampling-rate"},

      // Former experimental features (3.6 names) and their deprecated spellings
      {"corrupt-check-time", T::kDuration, "0s",
       "Duration of time between cluster corruption check passes.", kExperimental, kStore,
       TO(corrupt_check_time_ns)},
      {"experimental-corrupt-check-time",
       T::kDuration,
       "0s",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use --corrupt-check-time instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "corrupt-check-time"},
      {"compact-hash-check-time", T::kDuration, "1m0s",
       "Duration of time between leader checks followers compaction hashes.", kExperimental, kStore,
       TO(compact_hash_check_time_ns)},
      {"experimental-compact-hash-check-time",
       T::kDuration,
       "1m0s",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use --compact-hash-check-time "
       "instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "compact-hash-check-time"},
      {"compaction-batch-limit", T::kInt, "0",
       "Sets the maximum revisions deleted in each compaction batch.", kExperimental, kStore,
       TO(compaction_batch_limit)},
      {"experimental-compaction-batch-limit",
       T::kInt,
       "0",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use --compaction-batch-limit "
       "instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "compaction-batch-limit"},
      {"compaction-sleep-interval", T::kDuration, "0s",
       "Sets the sleep interval between each compaction batch.", kExperimental, kStore,
       TO(compaction_sleep_interval_ns)},
      {"experimental-compaction-sleep-interval",
       T::kDuration,
       "0s",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use --compaction-sleep-interval "
       "instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "compaction-sleep-interval"},
      {"watch-progress-notify-interval", T::kDuration, "10m0s",
       "Duration of periodic watch progress notifications.", kExperimental, kStore,
       TO(watch_progress_notify_interval_ns)},
      {"experimental-watch-progress-notify-interval",
       T::kDuration,
       "10m0s",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use "
       "--watch-progress-notify-interval instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "watch-progress-notify-interval"},
      {"downgrade-check-time", T::kDuration, "5s",
       "Duration of time between two downgrade status checks.", kExperimental, kStore,
       TO(downgrade_check_time_ns)},
      {"experimental-downgrade-check-time",
       T::kDuration,
       "5s",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use --downgrade-check-time "
       "instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "downgrade-check-time"},
      {"warning-apply-duration", T::kDuration, "100ms",
       "Time duration after which a warning is generated if watch progress takes more time.",
       kExperimental, kStore, TO(warning_apply_duration_ns)},
      {"experimental-warning-apply-duration",
       T::kDuration,
       "100ms",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use --warning-apply-duration "
       "instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "warning-apply-duration"},
      {"warning-unary-request-duration", T::kDuration, "300ms",
       "Time duration after which a warning is generated if a unary request takes more time.",
       kExperimental, kStore, TO(warning_unary_request_duration_ns)},
      {"experimental-warning-unary-request-duration",
       T::kDuration,
       "0s",
       "Deprecated, and will be decommissioned in v3.7. Use --warning-unary-request-duration "
       "instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "warning-unary-request-duration"},
      {"memory-mlock", T::kBool, "false",
       "Enable to enforce etcd pages (in particular bbolt) to stay in RAM.", kExperimental, kStore,
       TO(memory_mlock)},
      {"experimental-memory-mlock",
       T::kBool,
       "false",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use --memory-mlock instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "memory-mlock"},
      {"bootstrap-defrag-threshold-megabytes", T::kUint, "0",
       "Enable the defrag during etcd server bootstrap on condition that it will free at least "
       "the provided threshold of disk space. Needs to be set to non-zero value to take effect.",
       kExperimental, kStore, TO(bootstrap_defrag_threshold_megabytes)},
      {"experimental-bootstrap-defrag-threshold-megabytes",
       T::kUint,
       "0",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use "
       "--bootstrap-defrag-threshold-megabytes instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "bootstrap-defrag-threshold-megabytes"},
      {"max-learners", T::kInt, "1",
       "Sets the maximum number of learners that can be available in the cluster membership.",
       kExperimental, kStore, TO(max_learners)},
      {"snapshot-catchup-entries", T::kUint64, "5000",
       "Number of entries for a slow follower to catch up after compacting the raft storage "
       "entries.",
       kExperimental, kStore, TO(snapshot_catchup_entries)},
      {"experimental-snapshot-catchup-entries",
       T::kUint64,
       "5000",
       "Deprecated in v3.6 and will be decommissioned in v3.7. Use --snapshot-catchup-entries "
       "instead.",
       kExperimental,
       kStore,
       nullptr,
       {},
       "snapshot-catchup-entries"},
      // Boolean experimental flags that became feature gates in 3.6.
      {"experimental-initial-corrupt-check",
       T::kBool,
       "false",
       "Enable to check data corruption before serving any client/peer traffic. Deprecated: use "
       "'--feature-gates=InitialCorruptCheck=true'.",
       kExperimental,
       kStore,
       nullptr,
       {},
       {},
       "InitialCorruptCheck"},
      {"experimental-compact-hash-check-enabled",
       T::kBool,
       "false",
       "Enable leader to periodically check followers compaction hashes. Deprecated: use "
       "'--feature-gates=CompactHashCheck=true'.",
       kExperimental,
       kStore,
       nullptr,
       {},
       {},
       "CompactHashCheck"},
      {"experimental-enable-lease-checkpoint",
       T::kBool,
       "false",
       "Enable leader to send regular checkpoints to other members to prevent reset of remaining "
       "TTL on leader change. Deprecated: use '--feature-gates=LeaseCheckpoint=true'.",
       kExperimental,
       kStore,
       nullptr,
       {},
       {},
       "LeaseCheckpoint"},
      {"experimental-enable-lease-checkpoint-persist",
       T::kBool,
       "false",
       "Enable persisting remainingTTL to prevent indefinite auto-renewal of long lived leases. "
       "Deprecated: use '--feature-gates=LeaseCheckpointPersist=true'.",
       kExperimental,
       kStore,
       nullptr,
       {},
       {},
       "LeaseCheckpointPersist"},
      {"experimental-txn-mode-write-with-shared-buffer",
       T::kBool,
       "true",
       "Enable the write transaction to use a shared buffer in its readonly check operations. "
       "Deprecated: use '--feature-gates=TxnModeWriteWithSharedBuffer=true'.",
       kExperimental,
       kStore,
       nullptr,
       {},
       {},
       "TxnModeWriteWithSharedBuffer"},
      {"experimental-stop-grpc-service-on-defrag",
       T::kBool,
       "false",
       "Enable etcd gRPC service to stop serving client requests on defragmentation. "
       "Deprecated: use '--feature-gates=StopGRPCServiceOnDefrag=true'.",
       kExperimental,
       kStore,
       nullptr,
       {},
       {},
       "StopGRPCServiceOnDefrag"},

      // Unsafe
      {"force-new-cluster", T::kBool, "false", "Force to create a new one-member cluster.", kUnsafe,
       kStore, TO(force_new_cluster)},
      {"unsafe-no-fsync", T::kBool, "false", "Disables fsync, unsafe, will cause data loss.",
       kUnsafe, kStore, TO(unsafe_no_fsync)},

      // Other
      {"feature-gates", T::kFeatureGates, "",
       "A set of key=value pairs that describe server level feature gates for alpha/experimental "
       "features. Options are: AllAlpha=true|false (ALPHA - default=false), AllBeta=true|false "
       "(BETA - default=false), CompactHashCheck=true|false (ALPHA - default=false), "
       "InitialCorruptCheck=true|false (ALPHA - default=false), LeaseCheckpoint=true|false (ALPHA "
       "- default=false), LeaseCheckpointPersist=true|false (ALPHA - default=false), "
       "SetMemberLocalAddr=true|false (ALPHA - default=false), "
       "StopGRPCServiceOnDefrag=true|false (ALPHA - default=false), "
       "TxnModeWriteWithSharedBuffer=true|false (BETA - default=true)",
       kOther, kStore, TO(feature_gates)},
      {"config-file", T::kString, "",
       "Path to the server configuration file. Note that if a configuration file is provided, "
       "other command line flags and environment variables will be ignored.",
       kOther, kImpl, TO(config_file)},
      {"version", T::kBool, "false", "Print the version and exit.", kOther, kImpl},

      // Legacy v2 names: accepted and ignored (etcd's IgnoredFlag, boolean-style).
      {"cluster-active-size", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"cluster-remove-delay", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"cluster-sync-interval", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"config", T::kIgnored, "", "Ignored (not the config file flag: see --config-file).", kLegacy,
       kIgn},
      {"force", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"max-result-buffer", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"max-retry-attempts", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"peer-heartbeat-interval", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"peer-election-timeout", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"retry-interval", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"snapshot", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"v", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
      {"vv", T::kIgnored, "", "Ignored.", kLegacy, kIgn},
  };
}

#undef TO

std::string_view TypeName(FlagType t) {
  switch (t) {
    case T::kString:
      return "string";
    case T::kBool:
      return "bool";
    case T::kUint:
      return "uint";
    case T::kUint32:
      return "uint32";
    case T::kUint64:
      return "uint64";
    case T::kInt:
      return "int";
    case T::kInt64:
      return "int64";
    case T::kDuration:
      return "duration";
    case T::kUrls:
      return "URL list";
    case T::kCors:
      return "URL list or *";
    case T::kStrings:
      return "string list";
    case T::kUniqueStrings:
      return "string list (unique)";
    case T::kChoice:
      return "choice";
    case T::kFeatureGates:
      return "feature gates";
    case T::kIgnored:
      return "ignored";
  }
  return "?";
}

}  // namespace

const std::vector<FlagDef>& FlagTable() {
  static const std::vector<FlagDef>* table = new std::vector<FlagDef>(BuildTable());
  return *table;
}

const FlagDef* FindFlag(std::string_view name) {
  static const auto* index = [] {
    auto* m = new std::unordered_map<std::string_view, const FlagDef*>();
    for (const FlagDef& d : FlagTable())
      (*m)[d.name] = &d;
    return m;
  }();
  auto it = index->find(name);
  return it == index->end() ? nullptr : it->second;
}

Status ParseFlagValue(const FlagDef& def, std::string_view raw, FlagValue* out) {
  out->str = std::string(raw);
  switch (def.type) {
    case T::kString:
    case T::kIgnored:
      return Status::OK();
    case T::kFeatureGates: {
      ETCDPP_ASSIGN_OR_RETURN(auto gates, ParseFeatureGates(raw));
      (void)gates;
      return Status::OK();
    }
    case T::kBool: {
      ETCDPP_ASSIGN_OR_RETURN(out->b, ParseGoBool(raw));
      return Status::OK();
    }
    case T::kUint:
    case T::kUint64: {
      ETCDPP_ASSIGN_OR_RETURN(out->u, ParseGoUint(raw, 64));
      return Status::OK();
    }
    case T::kUint32: {
      // etcd's Uint32Value returns strconv's own error text.
      auto r = ParseGoUint(raw, 32);
      if (!r.ok()) {
        std::string why =
            r.status().message() == "parse error" ? "invalid syntax" : "value out of range";
        return Status::InvalidArgument("strconv.ParseUint: parsing " + GoQuote(raw) + ": " + why);
      }
      out->u = *r;
      return Status::OK();
    }
    case T::kInt:
    case T::kInt64: {
      ETCDPP_ASSIGN_OR_RETURN(out->i, ParseGoInt(raw, 64));
      return Status::OK();
    }
    case T::kDuration: {
      // Go's flag package hides time.ParseDuration's text behind "parse error".
      auto r = ParseGoDuration(raw);
      if (!r.ok()) return Status::InvalidArgument("parse error");
      out->i = *r;
      return Status::OK();
    }
    case T::kUrls: {
      ETCDPP_ASSIGN_OR_RETURN(out->list, ParseUrlList(raw));
      return Status::OK();
    }
    case T::kCors: {
      std::vector<std::string> items = SplitList(raw, true);
      std::vector<std::string> urls;
      for (const std::string& it : items) {
        if (it == "*") continue;
        ETCDPP_ASSIGN_OR_RETURN(auto one, ParseUrlList(it));
        urls.insert(urls.end(), one.begin(), one.end());
      }
      out->list = items;
      return Status::OK();
    }
    case T::kStrings:
      out->list = SplitList(raw, false);
      return Status::OK();
    case T::kUniqueStrings:
      out->list = SplitList(raw, true);
      return Status::OK();
    case T::kChoice: {
      std::string_view c = def.choices;
      while (!c.empty()) {
        size_t bar = c.find('|');
        if (c.substr(0, bar) == raw) return Status::OK();
        if (bar == std::string_view::npos) break;
        c.remove_prefix(bar + 1);
      }
      return Status::InvalidArgument("invalid value");
    }
  }
  return Status::OK();
}

std::string CanonicalValue(const FlagDef& def, const FlagValue& v) {
  switch (def.type) {
    case T::kBool:
      return v.b ? "true" : "false";
    case T::kUint:
    case T::kUint32:
    case T::kUint64:
      return std::to_string(v.u);
    case T::kInt:
    case T::kInt64:
      return std::to_string(v.i);
    case T::kDuration:
      return FormatGoDuration(v.i);
    case T::kUrls:
    case T::kCors:
    case T::kStrings:
    case T::kUniqueStrings: {
      std::string out;
      for (size_t i = 0; i < v.list.size(); ++i) {
        if (i) out += ",";
        out += v.list[i];
      }
      return out;
    }
    default:
      return v.str;
  }
}

std::string FlagsMarkdown() {
  std::string out = "| Flag | Type | Default | etcdpp | Notes |\n|---|---|---|---|---|\n";
  for (const FlagDef& d : FlagTable()) {
    std::string_view sup = d.support == Support::kImplemented ? "implemented"
                           : d.support == Support::kStored    ? "stored"
                                                              : "ignored";
    std::string notes;
    if (!d.renamed_to.empty()) notes = "deprecated name of `--" + std::string(d.renamed_to) + "`";
    if (!d.gate.empty()) notes = "deprecated: feature gate `" + std::string(d.gate) + "`";
    if (d.type == T::kChoice) notes = "one of `" + std::string(d.choices) + "`";
    std::string def(d.def);
    for (size_t p = 0; (p = def.find('|', p)) != std::string::npos; p += 2)
      def.replace(p, 1, "\\|");
    out += "| `--" + std::string(d.name) + "` | " + std::string(TypeName(d.type)) + " | " +
           (def.empty() ? "" : "`" + def + "`") + " | " + std::string(sup) + " | " + notes + " |\n";
  }
  return out;
}

}  // namespace etcdpp::config
