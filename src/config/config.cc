// Command line and environment parsing with the exact rules of etcd 3.6
// (Go's flag package + etcd's pkg/flags + etcdmain/config.go), then the
// derived defaults and embed.Config.Validate's checks.
#include "config/config.h"

#include <algorithm>

#include "common/log.h"
#include "config/feature_gates.h"
#include "config/flag_table.h"
#include "config/go_values.h"
#include "config/parse_state.h"

namespace etcdpp::config {
namespace {

using internal::Collected;

std::string EnvKey(std::string_view flag) {
  std::string key = "ETCD_";
  for (char c : flag) {
    if (c == '-') {
      key += '_';
    } else if (c >= 'a' && c <= 'z') {
      key += static_cast<char>(c - 32);
    } else {
      key += c;
    }
  }
  return key;
}

struct CmdLine {
  Collected set;
  bool help = false;
  std::vector<std::string> positional;
};

// Go's flag.FlagSet.Parse (etcd's flag set uses ContinueOnError).
Status ParseCommandLine(const std::vector<std::string>& args, CmdLine* out) {
  size_t i = 0;
  while (i < args.size()) {
    const std::string& s = args[i];
    if (s.size() < 2 || s[0] != '-') break;  // first non-flag argument ends flag parsing
    size_t minuses = 1;
    if (s[1] == '-') {
      minuses = 2;
      if (s.size() == 2) {  // "--" terminates the flags
        ++i;
        break;
      }
    }
    std::string name = s.substr(minuses);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
      return Status::InvalidArgument("bad flag syntax: " + s);
    }
    ++i;
    bool has_value = false;
    std::string value;
    size_t eq = name.find('=', 1);
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const FlagDef* def = FindFlag(name);
    if (def == nullptr) {
      if (name == "help" || name == "h") {
        out->help = true;
        return Status::OK();
      }
      return Status::InvalidArgument("flag provided but not defined: -" + name);
    }
    FlagValue v;
    bool boolish = def->type == FlagType::kBool || def->type == FlagType::kIgnored;
    if (boolish) {
      // Boolean flags never consume the next argument: "-flag false" is a positional "false".
      if (!has_value) value = "true";
      Status st = ParseFlagValue(*def, value, &v);
      if (!st.ok()) {
        return Status::InvalidArgument("invalid boolean value " + GoQuote(value) + " for -" + name +
                                       ": " + st.message());
      }
    } else {
      if (!has_value) {
        if (i >= args.size()) return Status::InvalidArgument("flag needs an argument: -" + name);
        value = args[i++];
      }
      Status st = ParseFlagValue(*def, value, &v);
      if (!st.ok()) {
        return Status::InvalidArgument("invalid value " + GoQuote(value) + " for flag -" + name +
                                       ": " + st.message());
      }
    }
    // Repeating a flag is allowed; the last value wins (Go semantics).
    out->set.raw[name] = value;
    out->set.values[name] = std::move(v);
  }
  for (; i < args.size(); ++i)
    out->positional.push_back(args[i]);
  return Status::OK();
}

std::map<std::string, std::string> EnvMap(const std::vector<std::string>& env) {
  std::map<std::string, std::string> m;
  for (const std::string& kv : env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    m.emplace(kv.substr(0, eq), kv.substr(eq + 1));  // first occurrence wins, like getenv
  }
  return m;
}

// etcd's flags.SetFlagsFromEnv + verifyEnv.
Status ApplyEnv(const std::map<std::string, std::string>& env, Collected* set,
                internal::Reporter* report) {
  std::map<std::string, bool> used;
  Status first_error;
  for (const FlagDef& def : FlagTable()) {
    if (def.name == "version") continue;  // ETCD_VERSION is special (below)
    std::string key = EnvKey(def.name);
    auto it = env.find(key);
    if (it == env.end()) continue;
    if (set->raw.count(std::string(def.name))) {
      return Status::InvalidArgument(
          "conflicting environment variable \"" + key +
          "\" is shadowed by corresponding command-line flag (either unset environment variable "
          "or disable flag)");
    }
    if (it->second.empty()) continue;  // empty variables are not used
    used[key] = true;
    FlagValue v;
    Status st = ParseFlagValue(def, it->second, &v);
    if (!st.ok()) {
      if (first_error.ok()) {
        first_error = Status::InvalidArgument("invalid value " + GoQuote(it->second) + " for " +
                                              key + ": " + st.message());
      }
      continue;
    }
    set->raw[std::string(def.name)] = it->second;
    set->values[std::string(def.name)] = std::move(v);
    // Secrets stay out of the log (etcd prints them; RELIABILITY.md says no).
    bool secret = def.name.find("password") != std::string_view::npos;
    report->Info("recognized and used environment variable",
                 {{"variable-name", key}, {"variable-value", secret ? "***" : it->second}});
  }
  for (const auto& [key, val] : env) {
    if (key.rfind("ETCD_", 0) != 0 || used.count(key)) continue;
    if (key == "ETCD_VERSION") {
      if (!val.empty()) {
        report->Warn("cannot set special environment variable",
                     {{"key", "ETCD_VERSION"}, {"value", val}});
      }
      continue;
    }
    bool known = false;
    for (const FlagDef& def : FlagTable()) {
      if (EnvKey(def.name) == key) known = true;
    }
    if (!known) {
      report->Warn("unrecognized environment variable",
                   {{"environment-variable", key + "=" + val}});
    }
  }
  return first_error;
}

std::string DeprecationWarning(const FlagDef& def) {
  std::string n(def.name);
  if (n == "experimental-compact-hash-check-enabled") {
    return "--experimental-compact-hash-check-enabled is deprecated in 3.6 and will be "
           "decommissioned in 3.7. Use '--feature-gates=CompactHashCheck=true' instead.";
  }
  if (n == "experimental-compact-hash-check-time") {
    return "--experimental-compact-hash-check-time is deprecated in 3.6 and will be "
           "decommissioned in 3.7. Use '--compact-hash-check-time' instead.";
  }
  if (n == "experimental-txn-mode-write-with-shared-buffer") {
    return "--experimental-txn-mode-write-with-shared-buffer is deprecated in v3.6 and will be "
           "decommissioned in v3.7. Use '--feature-gates=TxnModeWriteWithSharedBuffer=true' "
           "instead.";
  }
  if (n == "experimental-warning-unary-request-duration") {
    return "--experimental-warning-unary-request-duration is deprecated, and will be "
           "decommissioned in v3.7. Use --warning-unary-request-duration instead.";
  }
  if (!def.gate.empty()) {
    return "--" + n +
           " is deprecated in v3.6 and will be decommissioned in v3.7. Use "
           "'--feature-gates=" +
           std::string(def.gate) + "=true' instead.";
  }
  return "--" + n + " is deprecated in v3.6 and will be decommissioned in v3.7. Use '--" +
         std::string(def.renamed_to) + "' instead.";
}

// The value the --feature-gates string gives `gate` (or its 3.6 default).
bool GateValue(std::string_view gates, std::string_view gate) {
  bool value = gate == "TxnModeWriteWithSharedBuffer";
  for (const std::string& kv : SplitList(gates, false)) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    std::string_view k = std::string_view(kv).substr(0, eq);
    while (!k.empty() && k.front() == ' ')
      k.remove_prefix(1);
    while (!k.empty() && k.back() == ' ')
      k.remove_suffix(1);
    if (k != gate) continue;
    auto b = ParseGoBool(kv.substr(eq + 1));
    if (b.ok()) value = *b;
  }
  return value;
}

// Turns what was set into a ServerConfig, applying etcd's derived defaults.
Result<ServerConfig> Build(const Collected& set, bool from_file, internal::Reporter* report) {
  ServerConfig cfg;
  // Defaults go through the same setters, so the table is the single source of truth.
  for (const FlagDef& def : FlagTable()) {
    if (def.type == FlagType::kIgnored) continue;
    FlagValue v;
    Status st = ParseFlagValue(def, def.def, &v);
    assert(st.ok() && "bad default in flag table");
    if (!st.ok()) return st;
    if (def.set) def.set(cfg, v);
    cfg.flag_values[std::string(def.name)] = CanonicalValue(def, v);
  }
  auto is_set = [&set](std::string_view n) { return set.raw.count(std::string(n)) > 0; };

  for (const auto& [name, v] : set.values) {
    const FlagDef* def = FindFlag(name);
    if (def == nullptr || !def->renamed_to.empty() || !def->gate.empty()) continue;
    if (def->type == FlagType::kIgnored) {
      report->Warn("flag \"-" + name + "\" is no longer supported - ignoring.");
      continue;
    }
    if (def->set) def->set(cfg, v);
    cfg.flag_values[name] = CanonicalValue(*def, v);
  }

  // Renamed --experimental-X flags: the old name still works, both is an error.
  for (const auto& [name, v] : set.values) {
    const FlagDef* def = FindFlag(name);
    if (def == nullptr || def->renamed_to.empty()) continue;
    if (is_set(def->renamed_to)) {
      if (name == "experimental-warning-unary-request-duration") {
        return Status::InvalidArgument(
            "both --experimental-warning-unary-request-duration and "
            "--warning-unary-request-duration flags are set. Use only "
            "--warning-unary-request-duration");
      }
      return Status::InvalidArgument(
          "cannot set --" + name + " and --" + std::string(def->renamed_to) +
          " at the same time, please use --" + std::string(def->renamed_to) + " only");
    }
    const FlagDef* target = FindFlag(def->renamed_to);
    assert(target != nullptr);
    if (target->set) target->set(cfg, v);
    cfg.flag_values[std::string(target->name)] = CanonicalValue(*target, v);
    cfg.flag_values[name] = CanonicalValue(*def, v);
    report->Warn(DeprecationWarning(*def));
  }

  // Boolean --experimental-X flags that became feature gates.
  for (const auto& [name, v] : set.values) {
    const FlagDef* def = FindFlag(name);
    if (def == nullptr || def->gate.empty()) continue;
    if (cfg.feature_gates.find(def->gate) != std::string::npos) {
      // etcd uses a substring test here, so we do too.
      std::string fg = std::string(def->gate) + "=" +
                       (GateValue(cfg.feature_gates, def->gate) ? "true" : "false");
      return Status::InvalidArgument("cannot specify both flags: --" + name + "=" +
                                     (v.b ? "true" : "false") + " and --feature-gates=" + fg +
                                     " at the same time, please just use --feature-gates=" + fg);
    }
    cfg.gates_from_experimental_flags[std::string(def->gate)] = v.b;
    cfg.flag_values[name] = v.b ? "true" : "false";
    report->Warn(DeprecationWarning(*def));
  }

  {
    auto gates = ParseFeatureGates(cfg.feature_gates);
    if (!gates.ok()) return gates.status();  // validated already; defensive
    cfg.features = EffectiveFeatures(*gates, cfg.gates_from_experimental_flags);
    if (cfg.FeatureEnabled("LeaseCheckpoint") && !cfg.FeatureEnabled("LeaseCheckpointPersist")) {
      report->Warn(
          "Detected that checkpointing is enabled without persistence. Consider enabling feature "
          "gate LeaseCheckpointPersist");
    }
  }

  if (is_set("snapshot-count")) {
    report->Warn("--snapshot-count is deprecated in 3.6 and will be decommissioned in 3.7.");
  }
  if (is_set("max-snapshots")) {
    report->Warn("--max-snapshots is deprecated in 3.6 and will be decommissioned in 3.7.");
  }
  if (is_set("v2-deprecation")) {
    report->Warn(
        "--v2-deprecation is deprecated and scheduled for removal in v3.8. The default value is "
        "enforced, ignoring user input.");
  }

  // etcdmain: an explicit --listen-client-urls disables the default advertise URL.
  if (!from_file && is_set("listen-client-urls") && !is_set("advertise-client-urls")) {
    cfg.advertise_client_urls.clear();
  }
  bool discovery =
      !cfg.discovery.empty() || !cfg.discovery_srv.empty() || !cfg.discovery_endpoints.empty();
  if (!is_set("initial-cluster")) {
    if (discovery) {
      cfg.initial_cluster.clear();
    } else {
      // "<name>=<url>" for every advertised peer URL (etcd: InitialClusterFromName).
      std::string ic;
      for (const std::string& u : cfg.initial_advertise_peer_urls) {
        if (!ic.empty()) ic += ",";
        ic += (cfg.name.empty() ? "default" : cfg.name) + "=" + u;
      }
      cfg.initial_cluster = ic;
    }
    cfg.flag_values["initial-cluster"] = cfg.initial_cluster;
  }
  // etcdserver replaces a zero snapshot count with the default.
  if (cfg.snapshot_count == 0) {
    cfg.snapshot_count = 10000;
    report->Info("updated SnapshotCount to default",
                 {{"given-snapshot-count", "0"}, {"updated-snapshot-count", "10000"}});
  }
  // rafthttp raises read/write timeouts below its default to the default.
  for (const char* t : {"raft-read-timeout", "raft-write-timeout"}) {
    auto d = ParseGoDuration(cfg.flag_values[t]);
    if (d.ok() && *d < 5'000'000'000) {
      cfg.flag_values[t] = "5s";
      report->Info(std::string(t) + " increased to minimum value: 5s");
    }
  }
  if (cfg.data_dir.empty()) {
    cfg.data_dir = cfg.name + ".etcd";
    report->Warn("'data-dir' was empty; using default", {{"data-dir", cfg.data_dir}});
  }
  if (cfg.max_request_bytes > 10 * 1024 * 1024) {
    report->Warn("exceeded recommended request limit",
                 {{"max-request-bytes", std::to_string(cfg.max_request_bytes)},
                  {"recommended-request-bytes", "10485760"}});
  }
  if (cfg.name == "default") {
    report->Warn(
        "it isn't recommended to use default name, please set a value for --name. Note that "
        "etcd might run into issue when multiple members have the same default name",
        {{"name", cfg.name}});
  }
  if (cfg.listen_client_http_urls.empty()) {
    report->Warn(
        "Running http and grpc server on single port. This is not recommended for production.");
  }
  for (const auto& [k, v] : set.raw)
    cfg.explicitly_set[k] = v;
  return cfg;
}

Status CheckBindUrls(const std::vector<std::string>& urls) {
  for (const std::string& u : urls) {
    UrlParts p = SplitUrl(u);
    if (p.scheme == "unix" || p.scheme == "unixs") continue;
    if (p.hostname == "localhost") continue;
    if (!IsIpLiteral(p.hostname)) {
      return Status::InvalidArgument("expected IP in URL for binding (" + u + ")");
    }
  }
  return Status::OK();
}

Status CheckHostUrls(const std::vector<std::string>& urls) {
  for (const std::string& u : urls) {
    UrlParts p = SplitUrl(u);
    if (p.scheme == "unix" || p.scheme == "unixs") continue;
    if (p.hostname.empty()) return Status::InvalidArgument("unexpected empty host (" + u + ")");
  }
  return Status::OK();
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ",";
    out += v[i];
  }
  return out;
}

Result<int> TlsVersion(const std::string& v) {
  if (v.empty()) return 0;
  if (v == "TLS1.2") return 12;
  if (v == "TLS1.3") return 13;
  return Status::InvalidArgument("unexpected TLS version " + GoQuote(v) +
                                 " (must be one of: TLS1.2, TLS1.3)");
}

}  // namespace

namespace internal {

namespace {
std::string Render(const std::string& msg, const NoteFields& fields) {
  if (fields.empty()) return msg;
  std::string out = msg + " (";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ", ";
    out += fields[i].first + "=" + fields[i].second;
  }
  return out + ")";
}
}  // namespace

void Reporter::Warn(std::string msg, NoteFields fields) {
  out_->warnings.push_back(Render(msg, fields));
  out_->notes.push_back(Note{log::Level::kWarn, std::move(msg), std::move(fields)});
}

void Reporter::Info(std::string msg, NoteFields fields) {
  out_->notes.push_back(Note{log::Level::kInfo, std::move(msg), std::move(fields)});
}

}  // namespace internal

void LogNotes(const ParseOutcome& outcome) {
  for (const Note& n : outcome.notes) {
    std::vector<log::Field> fields;
    fields.reserve(n.fields.size());
    for (const auto& [k, v] : n.fields)
      fields.emplace_back(k, v);
    log::WriteFields(n.level, n.msg, fields);
  }
}

Status Validate(const ServerConfig& cfg) {
  // Logging (embed.Config.setupLogging).
  if (cfg.logger == "capnslog") {
    return Status::InvalidArgument("--logger=capnslog is removed in v3.5");
  }
  if (cfg.logger != "zap") {
    return Status::InvalidArgument("unknown logger option " + GoQuote(cfg.logger));
  }
  if (cfg.log_outputs.size() > 1) {
    for (const std::string& o : cfg.log_outputs) {
      if (o == "default") {
        return Status::InvalidArgument("multi logoutput for \"default\" is not supported yet");
      }
    }
  }
  if (auto lvl = log::ParseLevel(cfg.log_level); !lvl.ok()) return lvl.status();
  if (cfg.log_format != "json" && cfg.log_format != "console" && !cfg.log_format.empty()) {
    return Status::InvalidArgument("unknown log format: " + cfg.log_format +
                                   ", supported values json, console");
  }

  ETCDPP_RETURN_IF_ERROR(CheckBindUrls(cfg.listen_peer_urls));
  ETCDPP_RETURN_IF_ERROR(CheckBindUrls(cfg.listen_client_urls));
  ETCDPP_RETURN_IF_ERROR(CheckBindUrls(cfg.listen_client_http_urls));
  ETCDPP_RETURN_IF_ERROR(CheckBindUrls(cfg.listen_metrics_urls));
  if (Status st = CheckHostUrls(cfg.initial_advertise_peer_urls); !st.ok()) {
    return Status::InvalidArgument("--initial-advertise-peer-urls " +
                                   GoQuote(Join(cfg.initial_advertise_peer_urls)) +
                                   " must be \"host:port\" (" + st.message() + ")");
  }
  if (Status st = CheckHostUrls(cfg.advertise_client_urls); !st.ok()) {
    return Status::InvalidArgument("--advertise-client-urls " +
                                   GoQuote(Join(cfg.advertise_client_urls)) +
                                   " must be \"host:port\" (" + st.message() + ")");
  }

  int n_bootstrap = (!cfg.discovery.empty()) + (!cfg.initial_cluster.empty()) +
                    (!cfg.discovery_srv.empty()) + (!cfg.discovery_endpoints.empty());
  if (cfg.initial_cluster_state != "new" && cfg.initial_cluster_state != "existing") {
    return Status::InvalidArgument("unexpected clusterState " + GoQuote(cfg.initial_cluster_state));
  }
  if (n_bootstrap > 1) {
    return Status::InvalidArgument(
        "multiple discovery or bootstrap flags are set. Choose one of \"initial-cluster\", "
        "\"discovery\", \"discovery-endpoints\" or \"discovery-srv\"");
  }
  auto fv = [&cfg](const char* k) {
    auto it = cfg.flag_values.find(k);
    return it == cfg.flag_values.end() ? std::string() : it->second;
  };
  bool v2_discovery = !fv("discovery-proxy").empty();
  bool v3_discovery = !cfg.discovery_endpoints.empty() || !cfg.discovery_token.empty() ||
                      !fv("discovery-cert").empty() || !fv("discovery-key").empty() ||
                      !fv("discovery-cacert").empty() || !fv("discovery-user").empty() ||
                      !fv("discovery-password").empty();
  if (v2_discovery && v3_discovery) {
    return Status::InvalidArgument(
        "both v2 discovery settings (discovery, discovery-proxy) and v3 discovery settings "
        "(discovery-token, discovery-endpoints, discovery-cert, discovery-key, discovery-cacert, "
        "discovery-user, discovery-password) are set");
  }
  if (!cfg.discovery_token.empty() != !cfg.discovery_endpoints.empty()) {
    return Status::InvalidArgument("both --discovery-token and --discovery-endpoints must be set");
  }

  if (cfg.heartbeat_interval_ms == 0) {
    return Status::InvalidArgument("--heartbeat-interval must be >0 (set to 0ms)");
  }
  if (cfg.election_timeout_ms == 0) {
    return Status::InvalidArgument("--election-timeout must be >0 (set to 0ms)");
  }
  // Overflow-safe form of 5*heartbeat > election.
  if (cfg.heartbeat_interval_ms > cfg.election_timeout_ms / 5 ||
      5 * cfg.heartbeat_interval_ms > cfg.election_timeout_ms) {
    return Status::InvalidArgument("--election-timeout[" + std::to_string(cfg.election_timeout_ms) +
                                   "ms] should be at least as 5 times as --heartbeat-interval[" +
                                   std::to_string(cfg.heartbeat_interval_ms) + "ms]");
  }
  if (cfg.election_timeout_ms > 50000) {
    return Status::InvalidArgument("--election-timeout[" + std::to_string(cfg.election_timeout_ms) +
                                   "ms] is too long, and should be set less than 50000ms");
  }

  if (!cfg.listen_client_urls.empty() && cfg.advertise_client_urls.empty()) {
    return Status::InvalidArgument(
        "--advertise-client-urls is required when --listen-client-urls is set explicitly");
  }

  if (cfg.auto_compaction_mode.empty()) {
    return Status::InvalidArgument("undefined auto-compaction-mode");
  }
  if (cfg.auto_compaction_mode != "periodic" && cfg.auto_compaction_mode != "revision") {
    return Status::InvalidArgument("unknown auto-compaction-mode " +
                                   GoQuote(cfg.auto_compaction_mode));
  }
  {
    // embed's parseCompactionRetention: a non-negative integer, or a Go duration.
    const std::string& r = cfg.auto_compaction_retention;
    auto n = ParseGoInt(r, 64);
    bool plain = n.ok() && *n >= 0 && r.find_first_not_of("0123456789") == std::string::npos;
    if (!plain) {
      auto d = ParseGoDuration(r);
      if (!d.ok()) {
        return Status::InvalidArgument("error parsing CompactionRetention: " +
                                       d.status().message());
      }
      if (*d < 0) {
        return Status::InvalidArgument("error parsing CompactionRetention: negative retention " +
                                       GoQuote(r));
      }
    }
  }

  if (auto it = cfg.flag_values.find("enable-distributed-tracing");
      it != cfg.flag_values.end() && it->second == "true") {
    auto rate = ParseGoInt(cfg.flag_values.at("distributed-tracing-sampling-rate"));
    if (rate.ok() && *rate < 0) {
      return Status::InvalidArgument(
          "distributed tracing configurition is not valid: (tracing sampling rate must be "
          "positive)");
    }
    if (rate.ok() && *rate > 1000000) {
      return Status::InvalidArgument(
          "distributed tracing configurition is not valid: (tracing sampling rate must be less "
          "than 1000000)");
    }
  }

  if (cfg.FeatureEnabled("LeaseCheckpointPersist") && !cfg.FeatureEnabled("LeaseCheckpoint")) {
    return Status::InvalidArgument(
        "enabling feature gate LeaseCheckpointPersist requires enabling feature gate "
        "LeaseCheckpoint");
  }
  if (cfg.compact_hash_check_time_ns <= 0) {
    return Status::InvalidArgument("--compact-hash-check-time must be >0 (set to " +
                                   FormatGoDuration(cfg.compact_hash_check_time_ns) + ")");
  }

  ETCDPP_ASSIGN_OR_RETURN(int min_v, TlsVersion(cfg.tls_min_version));
  ETCDPP_ASSIGN_OR_RETURN(int max_v, TlsVersion(cfg.tls_max_version));
  if (max_v != 0 && min_v > max_v) {
    return Status::InvalidArgument("min version (" + cfg.tls_min_version +
                                   ") is greater than max version (" + cfg.tls_max_version + ")");
  }
  if (min_v == 13 && !cfg.cipher_suites.empty()) {
    return Status::InvalidArgument(
        "cipher suites cannot be configured when only TLS1.3 is enabled");
  }
  if (auto it = cfg.flag_values.find("discovery-fallback");
      it != cfg.flag_values.end() && it->second == "proxy") {
    return Status::InvalidArgument(
        "v2 proxy is deprecated, and --discovery-fallback can't be configured as \"proxy\"");
  }
  return Status::OK();
}

Result<ParseOutcome> Parse(const std::vector<std::string>& args,
                           const std::vector<std::string>& env) {
  ParseOutcome outcome;
  CmdLine cl;
  ETCDPP_RETURN_IF_ERROR(ParseCommandLine(args, &cl));
  if (cl.help) {
    outcome.action = ParseOutcome::Action::kPrintHelp;
    return outcome;
  }
  if (!cl.positional.empty()) {
    return Status::InvalidArgument(GoQuote(cl.positional[0]) + " is not a valid flag");
  }
  if (auto it = cl.set.values.find("version"); it != cl.set.values.end() && it->second.b) {
    outcome.action = ParseOutcome::Action::kPrintVersion;
    return outcome;
  }

  std::map<std::string, std::string> envm = EnvMap(env);
  // The config file is looked up first: with one, flags and environment are ignored.
  std::string config_file;
  if (auto it = cl.set.raw.find("config-file"); it != cl.set.raw.end()) config_file = it->second;
  if (config_file.empty()) {
    if (auto it = envm.find("ETCD_CONFIG_FILE"); it != envm.end()) config_file = it->second;
  }

  internal::Reporter report(&outcome);
  Collected set;
  bool from_file = !config_file.empty();
  if (from_file) {
    ETCDPP_RETURN_IF_ERROR(internal::LoadConfigFile(config_file, &set, &report));
    report.Info(
        "loaded server configuration, other configuration command line flags and environment "
        "variables will be ignored if provided",
        {{"path", config_file}});
  } else {
    set = std::move(cl.set);
    ETCDPP_RETURN_IF_ERROR(ApplyEnv(envm, &set, &report));
  }
  ETCDPP_ASSIGN_OR_RETURN(outcome.config, Build(set, from_file, &report));
  if (from_file) outcome.config.config_file = config_file;
  ETCDPP_RETURN_IF_ERROR(Validate(outcome.config));
  return outcome;
}

}  // namespace etcdpp::config
