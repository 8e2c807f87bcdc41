// --config-file: etcd's YAML configuration (embed.ConfigFromFile). Top-level
// keys are flag names; TLS settings live under client-/peer-transport-security,
// socket options under socket-options, v3 discovery under discovery-config.
// etcd decodes the YAML as JSON into Go structs, hence: durations are integer
// nanoseconds, lists (log-outputs, cipher-suites) are YAML sequences, URL lists
// are comma-separated strings, and unknown keys are ignored.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "config/flag_table.h"
#include "config/go_values.h"
#include "config/parse_state.h"

namespace etcdpp::config::internal {
namespace {

// Flags that have no top-level YAML key in etcd (they live in a nested section,
// have no JSON tag, or only exist on the command line).
const std::set<std::string_view>& NoTopLevelKey() {
  static const auto* s = new std::set<std::string_view>{"cert-file",
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
  return *s;
}

std::string GoTypeName(FlagType t) {
  switch (t) {
    case FlagType::kBool:
      return "bool";
    case FlagType::kUint:
      return "uint";
    case FlagType::kUint32:
      return "uint32";
    case FlagType::kUint64:
      return "uint64";
    case FlagType::kInt:
      return "int";
    case FlagType::kInt64:
      return "int64";
    case FlagType::kDuration:
      return "time.Duration";
    case FlagType::kStrings:
    case FlagType::kUniqueStrings:
      return "[]string";
    default:
      return "string";
  }
}

Status TypeError(const std::string& key, const YAML::Node& node, FlagType t) {
  std::string what = node.IsSequence() ? "array" : node.IsMap() ? "object" : "string";
  if (node.IsScalar()) {
    // JSON would see numbers and bools as such.
    std::string s = node.Scalar();
    if (ParseGoInt(s).ok()) {
      what = "number " + s;
    } else if (s == "true" || s == "false") {
      what = "bool";
    }
  }
  return Status::InvalidArgument(
      "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal " + what +
      " into Go struct field configYAML." + key + " of type " + GoTypeName(t));
}

// Converts one YAML value for flag `def` into flag syntax and parses it.
Status Convert(const std::string& key, const FlagDef& def, const YAML::Node& node, Collected* out) {
  if (node.IsNull()) {
    out->raw[std::string(def.name)] = "";  // JSON null: field left at its default
    return Status::OK();
  }
  std::string raw;
  switch (def.type) {
    case FlagType::kStrings:
    case FlagType::kUniqueStrings:
      if (node.IsSequence()) {
        for (size_t i = 0; i < node.size(); ++i) {
          if (!node[i].IsScalar()) return TypeError(key, node, def.type);
          if (i) raw += ",";
          raw += node[i].Scalar();
        }
      } else if (node.IsScalar()) {
        raw = node.Scalar();  // etcd's string-typed lists (host-whitelist) and leniency
      } else {
        return TypeError(key, node, def.type);
      }
      break;
    case FlagType::kBool: {
      if (!node.IsScalar()) return TypeError(key, node, def.type);
      bool b;
      if (!YAML::convert<bool>::decode(node, b)) return TypeError(key, node, def.type);
      raw = b ? "true" : "false";
      break;
    }
    case FlagType::kDuration: {
      if (!node.IsScalar()) return TypeError(key, node, def.type);
      auto ns = ParseGoInt(node.Scalar());
      if (!ns.ok() || node.Scalar().find_first_not_of("-0123456789") != std::string::npos) {
        return TypeError(key, node, def.type);  // "5s" in YAML: etcd wants nanoseconds
      }
      raw = FormatGoDuration(*ns);
      break;
    }
    case FlagType::kUint:
    case FlagType::kUint32:
    case FlagType::kUint64:
    case FlagType::kInt:
    case FlagType::kInt64: {
      if (!node.IsScalar()) return TypeError(key, node, def.type);
      const std::string& s = node.Scalar();
      if (s.find_first_not_of("-+0123456789") != std::string::npos) {
        return TypeError(key, node, def.type);
      }
      raw = s;
      break;
    }
    default:
      if (!node.IsScalar()) return TypeError(key, node, def.type);
      raw = node.Scalar();
  }
  FlagValue v;
  Status st = ParseFlagValue(def, raw, &v);
  if (!st.ok()) {
    if (def.type == FlagType::kUrls) {
      return Status::InvalidArgument("unexpected error setting up " + key + ": " + st.message());
    }
    if (def.type == FlagType::kFeatureGates) return st;
    if (def.type == FlagType::kChoice) {
      return Status::InvalidArgument("unexpected " + key + " " + GoQuote(raw));
    }
    return TypeError(key, node, def.type);
  }
  out->raw[std::string(def.name)] = raw;
  out->values[std::string(def.name)] = std::move(v);
  return Status::OK();
}

Status ConvertNested(const std::string& section, const YAML::Node& map,
                     const std::map<std::string, std::string>& key_to_flag, Collected* out,
                     Reporter* report) {
  if (!map.IsMap()) {
    if (map.IsNull()) return Status::OK();
    return Status::InvalidArgument("invalid " + section);
  }
  for (const auto& kv : map) {
    std::string k = kv.first.as<std::string>();
    auto it = key_to_flag.find(k);
    if (it == key_to_flag.end()) {
      if (kv.second.IsMap() && (k == "secure" || k == "auth")) {
        // discovery-config.secure / .auth: one more level.
        std::map<std::string, std::string> sub;
        for (const auto& [nk, flag] : key_to_flag) {
          if (nk.rfind(k + ".", 0) == 0) sub[nk.substr(k.size() + 1)] = flag;
        }
        ETCDPP_RETURN_IF_ERROR(ConvertNested(section + "." + k, kv.second, sub, out, report));
        continue;
      }
      report->Warn("unknown key in config file; ignored", {{"key", section + "." + k}});
      continue;
    }
    const FlagDef* def = FindFlag(it->second);
    ETCDPP_RETURN_IF_ERROR(Convert(section + "." + k, *def, kv.second, out));
  }
  return Status::OK();
}

}  // namespace

Status LoadConfigFile(const std::string& path, Collected* out, Reporter* report) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("open " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(ss.str());
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("error converting YAML to JSON: yaml: ") + e.what());
  }
  if (root.IsNull()) return Status::OK();  // an empty file sets nothing
  if (!root.IsMap()) {
    return Status::InvalidArgument(
        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go "
        "value of type embed.configYAML");
  }
  static const std::map<std::string, std::string> kClientTls = {
      {"cert-file", "cert-file"},
      {"key-file", "key-file"},
      {"client-cert-file", "client-cert-file"},
      {"client-key-file", "client-key-file"},
      {"client-cert-auth", "client-cert-auth"},
      {"trusted-ca-file", "trusted-ca-file"},
      {"auto-tls", "auto-tls"},
      {"allowed-hostname", "client-cert-allowed-hostname"},
  };
  static const std::map<std::string, std::string> kPeerTls = {
      {"cert-file", "peer-cert-file"},
      {"key-file", "peer-key-file"},
      {"client-cert-file", "peer-client-cert-file"},
      {"client-key-file", "peer-client-key-file"},
      {"client-cert-auth", "peer-client-cert-auth"},
      {"trusted-ca-file", "peer-trusted-ca-file"},
      {"auto-tls", "peer-auto-tls"},
      {"allowed-cn", "peer-cert-allowed-cn"},
      {"allowed-hostname", "peer-cert-allowed-hostname"},
      {"skip-client-san-verification", "peer-skip-client-san-verification"},
  };
  static const std::map<std::string, std::string> kSocket = {
      {"reuse-port", "socket-reuse-port"},
      {"reuse-address", "socket-reuse-address"},
  };
  static const std::map<std::string, std::string> kDiscovery = {
      {"token", "discovery-token"},
      {"endpoints", "discovery-endpoints"},
      {"dial-timeout", "discovery-dial-timeout"},
      {"request-timeout", "discovery-request-timeout"},
      {"keepalive-time", "discovery-keepalive-time"},
      {"keepalive-timeout", "discovery-keepalive-timeout"},
      {"secure.insecure-transport", "discovery-insecure-transport"},
      {"secure.insecure-skip-tls-verify", "discovery-insecure-skip-tls-verify"},
      {"secure.cert", "discovery-cert"},
      {"secure.key", "discovery-key"},
      {"secure.cacert", "discovery-cacert"},
      {"auth.username", "discovery-user"},
      {"auth.password", "discovery-password"},
  };

  std::map<std::string, std::string> explicit_keys;
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    const YAML::Node& node = kv.second;
    explicit_keys[key] = node.IsScalar() ? node.Scalar() : "";
    if (key == "client-transport-security") {
      ETCDPP_RETURN_IF_ERROR(ConvertNested(key, node, kClientTls, out, report));
      continue;
    }
    if (key == "peer-transport-security") {
      if (!node.IsMap() && !node.IsNull()) {
        return Status::InvalidArgument("invalid peer-transport-security");
      }
      ETCDPP_RETURN_IF_ERROR(ConvertNested(key, node, kPeerTls, out, report));
      continue;
    }
    if (key == "socket-options") {
      ETCDPP_RETURN_IF_ERROR(ConvertNested(key, node, kSocket, out, report));
      continue;
    }
    if (key == "discovery-config") {
      ETCDPP_RETURN_IF_ERROR(ConvertNested(key, node, kDiscovery, out, report));
      continue;
    }
    std::string flag = key;
    // etcd 3.6 reads this misspelled key as experimental-snapshot-catchup-entries.
    if (key == "experimental-snapshot-catch-up-entries")
      flag = "experimental-snapshot-catchup-entries";
    const FlagDef* def = FindFlag(flag);
    if (def == nullptr || def->type == FlagType::kIgnored || NoTopLevelKey().count(flag)) {
      report->Warn("unknown key in config file; ignored", {{"key", key}});
      continue;
    }
    ETCDPP_RETURN_IF_ERROR(Convert(key, *def, node, out));
  }
  // explicitly_set mirrors etcd's FlagsExplicitlySet for files: every top-level key,
  // with the converted values for known flags.
  for (const auto& [k, v] : explicit_keys) {
    if (!out->raw.count(k)) out->raw[k] = v;
  }
  return Status::OK();
}

}  // namespace etcdpp::config::internal
