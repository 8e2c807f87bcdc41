// etcd 3.6's server feature gates (ETCD-FACTS §7): the --feature-gates syntax
// "Name=true,Other=false", the known gates with their defaults and stages, and
// the effective value of every gate (AllAlpha/AllBeta, then explicit settings).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace etcdpp::config {

struct FeatureSpec {
  std::string_view name;
  bool default_value;
  std::string_view stage;  // "ALPHA", "BETA"
};

// The gates etcd 3.6 knows (AllAlpha/AllBeta excluded).
const std::vector<FeatureSpec>& KnownFeatures();

// Parses a --feature-gates value into name -> value. Errors read like etcd's
// featuregate package: "missing bool value for X", "invalid value of X=Y, err:
// strconv.ParseBool: parsing \"Y\": invalid syntax", "unrecognized feature gate: X".
Result<std::map<std::string, bool>> ParseFeatureGates(std::string_view value);

// Effective value of every known gate: defaults, then AllAlpha/AllBeta for gates of that
// stage, then `from_flags` (old --experimental-* booleans), then `explicit_gates`.
std::map<std::string, bool> EffectiveFeatures(const std::map<std::string, bool>& explicit_gates,
                                              const std::map<std::string, bool>& from_flags);

}  // namespace etcdpp::config
