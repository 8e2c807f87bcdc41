// Internal: what the command line, the environment or the config file set,
// before it is turned into a ServerConfig. Shared by config.cc and config_file.cc.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "config/flag_table.h"

namespace etcdpp::config::internal {

struct Collected {
  std::map<std::string, std::string> raw;   // explicitly set: flag name -> raw text
  std::map<std::string, FlagValue> values;  // explicitly set and known: parsed value
};

using NoteFields = std::vector<std::pair<std::string, std::string>>;

// Collects warnings/infos into a ParseOutcome (both `warnings` and `notes`).
class Reporter {
 public:
  explicit Reporter(ParseOutcome* out) : out_(out) {}
  void Warn(std::string msg, NoteFields fields = {});
  void Info(std::string msg, NoteFields fields = {});

 private:
  ParseOutcome* out_;
};

// Reads the YAML file at `path` into `out` (keys converted to flag names).
Status LoadConfigFile(const std::string& path, Collected* out, Reporter* report);

}  // namespace etcdpp::config::internal
