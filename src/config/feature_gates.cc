#include "config/feature_gates.h"

#include "config/go_values.h"

namespace etcdpp::config {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

const std::vector<FeatureSpec>& KnownFeatures() {
  static const auto* specs = new std::vector<FeatureSpec>{
      {"CompactHashCheck", false, "ALPHA"},
      {"InitialCorruptCheck", false, "ALPHA"},
      {"LeaseCheckpoint", false, "ALPHA"},
      {"LeaseCheckpointPersist", false, "ALPHA"},
      {"SetMemberLocalAddr", false, "ALPHA"},
      {"StopGRPCServiceOnDefrag", false, "ALPHA"},
      {"TxnModeWriteWithSharedBuffer", true, "BETA"},
  };
  return *specs;
}

Result<std::map<std::string, bool>> ParseFeatureGates(std::string_view value) {
  std::map<std::string, bool> out;
  for (const std::string& item : SplitList(value, false)) {
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string k(Trim(std::string_view(item).substr(0, eq)));
    if (eq == std::string::npos) return Status::InvalidArgument("missing bool value for " + k);
    std::string v(Trim(std::string_view(item).substr(eq + 1)));
    auto b = ParseGoBool(v);
    if (!b.ok()) {
      return Status::InvalidArgument("invalid value of " + k + "=" + v +
                                     ", err: strconv.ParseBool: parsing " + GoQuote(v) +
                                     ": invalid syntax");
    }
    out[k] = *b;
  }
  // Unknown names are checked after the whole list parsed, as SetFromMap does.
  for (const auto& [k, v] : out) {
    if (k == "AllAlpha" || k == "AllBeta") continue;
    bool known = false;
    for (const FeatureSpec& s : KnownFeatures())
      known |= s.name == k;
    if (!known) return Status::InvalidArgument("unrecognized feature gate: " + k);
  }
  return out;
}

std::map<std::string, bool> EffectiveFeatures(const std::map<std::string, bool>& explicit_gates,
                                              const std::map<std::string, bool>& from_flags) {
  std::map<std::string, bool> out;
  auto all = [&](std::string_view meta) -> const bool* {
    auto it = explicit_gates.find(std::string(meta));
    return it == explicit_gates.end() ? nullptr : &it->second;
  };
  const bool* all_alpha = all("AllAlpha");
  const bool* all_beta = all("AllBeta");
  for (const FeatureSpec& s : KnownFeatures()) {
    bool v = s.default_value;
    if (s.stage == "ALPHA" && all_alpha) v = *all_alpha;
    if (s.stage == "BETA" && all_beta) v = *all_beta;
    std::string name(s.name);
    if (auto it = from_flags.find(name); it != from_flags.end()) v = it->second;
    if (auto it = explicit_gates.find(name); it != explicit_gates.end()) v = it->second;
    out[name] = v;
  }
  return out;
}

}  // namespace etcdpp::config
