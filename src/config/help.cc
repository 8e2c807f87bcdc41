// --help and --version texts, laid out like etcd's (help.go): a usage block,
// then one "  --flag 'default'\n    help" entry per flag, grouped.
#include <string>

#include "config/config.h"
#include "config/flag_table.h"

namespace etcdpp::config {

std::string UsageText() {
  return "Usage:\n"
         "\n"
         "  etcd [flags]\n"
         "    Start an etcd server.\n"
         "\n"
         "  etcd --version\n"
         "    Show the version of etcd.\n"
         "\n"
         "  etcd -h | --help\n"
         "    Show the help information about etcd.\n"
         "\n"
         "  etcd --config-file\n"
         "    Path to the server configuration file. Note that if a configuration file is "
         "provided, other command line flags and environment variables will be ignored.\n";
}

std::string HelpText() {
  std::string out = UsageText();
  std::string_view group;
  for (const FlagDef& d : FlagTable()) {
    if (d.group != group) {
      group = d.group;
      out += "\n";
      out += group;
      out += ":\n";
    }
    out += "  --";
    out += d.name;
    if (d.type != FlagType::kIgnored) {
      out += " '";
      out += d.name == "data-dir" ? std::string_view("${name}.etcd") : d.def;
      out += "'";
    }
    out += "\n    ";
    out += d.help;
    out += "\n";
  }
  out +=
      "\nCAUTIOUS with unsafe flag! It may break the guarantees given by the consensus "
      "protocol!\n";
  return out;
}

std::string VersionText(std::string_view etcd_version, std::string_view etcdpp_version,
                        std::string_view git_sha) {
  std::string out = "etcd Version: ";
  out += etcd_version;
  out += "\nGit SHA: ";
  out += git_sha.empty() ? std::string_view("unknown") : git_sha;
  out += "\netcdpp Version: ";
  out += etcdpp_version;
  out += "\n";
  return out;
}

}  // namespace etcdpp::config
