// The single table of etcd 3.6 server flags: name, value type, default (as etcd
// prints it), help line, help group, whether etcdpp implements it yet, and where
// the value lands in ServerConfig (or only in flag_values/explicitly_set).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "config/config.h"

namespace etcdpp::config {

enum class FlagType {
  kString,
  kBool,
  kUint,    // Go uint (64-bit)
  kUint32,  // etcd's Uint32Value (max-concurrent-streams)
  kUint64,
  kInt,  // Go int (64-bit)
  kInt64,
  kDuration,       // Go time.Duration syntax; YAML: integer nanoseconds
  kUrls,           // comma-separated URLs, sorted and de-duplicated
  kCors,           // like kUrls but "*" allowed
  kStrings,        // comma-separated, order kept
  kUniqueStrings,  // comma-separated, sorted and de-duplicated
  kChoice,         // one of `choices` ("a|b")
  kFeatureGates,   // "Name=bool,..." with known gate names
  kIgnored,        // legacy v2 flag: accepted (boolean-style) and ignored
};

enum class Support {
  kImplemented,  // etcdpp acts on it
  kStored,       // parsed, validated and stored; acted on by a later issue
  kIgnored,      // accepted and ignored, as etcd does
};

struct FlagValue {
  std::string str;  // the raw text (string/choice flags use this)
  bool b = false;
  uint64_t u = 0;
  int64_t i = 0;  // signed ints and durations (ns)
  std::vector<std::string> list;
};

using FlagSetter = void (*)(ServerConfig&, const FlagValue&);

struct FlagDef {
  std::string_view name;
  FlagType type;
  std::string_view def;  // default in flag syntax
  std::string_view help;
  std::string_view group;
  Support support;
  FlagSetter set = nullptr;          // nullptr: stored only in flag_values / explicitly_set
  std::string_view choices = {};     // kChoice: "new|existing"
  std::string_view renamed_to = {};  // old --experimental-X: the new flag name
  std::string_view gate = {};        // old boolean --experimental-X: the feature gate
};

const std::vector<FlagDef>& FlagTable();
const FlagDef* FindFlag(std::string_view name);

// Parses `raw` for `def` into `out`. The error message is Go's error text for the
// value alone ("parse error", "URL scheme must be ...") for the caller to wrap.
Status ParseFlagValue(const FlagDef& def, std::string_view raw, FlagValue* out);

// The value in canonical flag syntax (durations via FormatGoDuration, lists joined by ",").
std::string CanonicalValue(const FlagDef& def, const FlagValue& v);

// Markdown table of all flags (docs/configuration.md is generated from it).
std::string FlagsMarkdown();

}  // namespace etcdpp::config
