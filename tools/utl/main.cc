// etcdpp-utl: the offline tool (etcdutl's commands, flags, output formats and
// error texts; docs/etcdpp-utl.md).
#include <sys/stat.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "mvcc/store.h"
#include "server/ids.h"
#include "server/version.h"
#include "tools/utl/defrag.h"
#include "tools/utl/printer.h"
#include "tools/utl/restore.h"
#include "tools/utl/status.h"

namespace {

using etcdpp::Status;
namespace utl = etcdpp::utl;

// cobrautl exit codes.
constexpr int kExitError = 1;
constexpr int kExitBadFeature = 4;
constexpr int kExitBadArgs = 128;

[[noreturn]] void ExitWithError(int code, const std::string& msg) {
  std::fprintf(stderr, "Error: %s\n", msg.c_str());
  std::exit(code);
}

// A log line on stderr in the shape of etcdutl's console logger.
void LogInfo(const std::string& msg, const std::vector<std::pair<std::string, std::string>>& kv) {
  char ts[32];
  time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string fields;
  for (const auto& [k, v] : kv)
    fields += (fields.empty() ? "" : ", ") + ("\"" + k + "\": \"" + v + "\"");
  std::fprintf(stderr, "%s\tinfo\t%s\t{%s}\n", ts, msg.c_str(), fields.c_str());
}

const char* kUsage = R"(An administrative command line tool for etcdpp (etcdutl's role).

Usage:
  etcdpp-utl [command]

Available Commands:
  defrag      Defragments the storage of the etcd
  hashkv      Prints the KV history hash of a given file
  help        Help about any command
  snapshot    Manages etcd node snapshots
  version     Prints the version of etcdutl

Flags:
  -h, --help               help for etcdpp-utl
  -w, --write-out string   set the output format (fields, json, protobuf, simple, table) (default "simple")

snapshot status <filename>
snapshot restore <filename> --data-dir {output dir} [--wal-dir --name --initial-cluster
    --initial-cluster-token --initial-advertise-peer-urls --skip-hash-check
    --initial-memory-map-size --bump-revision N --mark-compacted]
    <filename> may be an etcdpp snapshot or an etcd (bbolt) snapshot: the latter is imported.
defrag --data-dir <dir>
hashkv <member/snap/db dir or data dir> [--rev N]
)";

// cobra/pflag-style parsing: --name=value, --name value, -w value, boolean
// flags with an optional =true/false; flags and arguments may interleave.
struct Parsed {
  std::vector<std::string> args;
  std::map<std::string, std::string> values;
};

struct FlagSpec {
  bool boolean = false;
  std::string def;
};

Parsed ParseFlags(const std::vector<std::string>& in, const std::map<std::string, FlagSpec>& spec) {
  Parsed p;
  for (const auto& [name, s] : spec)
    p.values[name] = s.def;
  for (size_t i = 0; i < in.size(); i++) {
    const std::string& a = in[i];
    if (a == "--") {
      for (size_t j = i + 1; j < in.size(); j++)
        p.args.push_back(in[j]);
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      p.args.push_back(a);
      continue;
    }
    std::string name, value;
    bool has_value = false;
    if (a.rfind("--", 0) == 0) {
      name = a.substr(2);
    } else {
      name = a.substr(1);
      if (name == "w") name = "write-out";
      if (name == "h") name = "help";
    }
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (name == "help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    auto it = spec.find(name);
    if (it == spec.end()) {
      ExitWithError(
          kExitError,
          (a.rfind("--", 0) == 0 ? "unknown flag: --" : "unknown shorthand flag: ") + name);
    }
    if (it->second.boolean) {
      if (!has_value) value = "true";
      if (value != "true" && value != "false") {
        ExitWithError(kExitError, "invalid argument \"" + value + "\" for \"--" + name +
                                      "\" flag: strconv.ParseBool: parsing \"" + value +
                                      "\": invalid syntax");
      }
    } else if (!has_value) {
      if (i + 1 >= in.size()) ExitWithError(kExitError, "flag needs an argument: --" + name);
      value = in[++i];
    }
    p.values[name] = value;
  }
  return p;
}

uint64_t ParseUint(const std::string& name, const std::string& v) {
  char* end = nullptr;
  errno = 0;
  unsigned long long x = std::strtoull(v.c_str(), &end, 0);
  if (v.empty() || *end != '\0' || errno != 0 || v[0] == '-') {
    ExitWithError(kExitError, "invalid argument \"" + v + "\" for \"--" + name +
                                  "\" flag: strconv.ParseUint: parsing \"" + v +
                                  "\": invalid syntax");
  }
  return x;
}

std::map<std::string, FlagSpec> WithGlobal(std::map<std::string, FlagSpec> m) {
  m["write-out"] = FlagSpec{false, "simple"};
  return m;
}

int SnapshotStatus(const std::vector<std::string>& argv) {
  Parsed p = ParseFlags(argv, WithGlobal({}));
  if (p.args.size() != 1) {
    ExitWithError(kExitBadArgs, "snapshot status requires exactly one argument");
  }
  const std::string& fmt = p.values["write-out"];
  if (fmt != "simple" && fmt != "json" && fmt != "table" && fmt != "fields" && fmt != "protobuf") {
    ExitWithError(kExitBadFeature, "unsupported output format");
  }
  auto ds = utl::SnapshotStatus(p.args[0]);
  if (!ds.ok()) ExitWithError(kExitError, ds.status().message());
  auto out = utl::FormatDbStatus(*ds, fmt);
  if (!out.ok()) ExitWithError(kExitBadFeature, out.status().message());
  std::fputs(out->c_str(), stdout);
  return 0;
}

int SnapshotRestore(const std::vector<std::string>& argv) {
  Parsed p = ParseFlags(argv, WithGlobal({
                                  {"data-dir", {}},
                                  {"wal-dir", {}},
                                  {"initial-cluster", {false, "default=http://localhost:2380"}},
                                  {"initial-cluster-token", {false, "etcd-cluster"}},
                                  {"initial-advertise-peer-urls", {false, "http://localhost:2380"}},
                                  {"name", {false, "default"}},
                                  {"skip-hash-check", {true, "false"}},
                                  {"initial-memory-map-size", {false, "0"}},
                                  {"bump-revision", {false, "0"}},
                                  {"mark-compacted", {true, "false"}},
                              }));
  if (p.values["data-dir"].empty()) {
    ExitWithError(kExitError, "required flag(s) \"data-dir\" not set");
  }
  if (p.args.size() != 1) {
    ExitWithError(kExitBadArgs, "snapshot restore requires exactly one argument");
  }
  utl::RestoreConfig cfg;
  cfg.snapshot_path = p.args[0];
  cfg.data_dir = p.values["data-dir"];
  cfg.wal_dir = p.values["wal-dir"];
  cfg.initial_cluster = p.values["initial-cluster"];
  cfg.initial_cluster_token = p.values["initial-cluster-token"];
  cfg.initial_advertise_peer_urls = p.values["initial-advertise-peer-urls"];
  cfg.name = p.values["name"];
  cfg.skip_hash_check = p.values["skip-hash-check"] == "true";
  cfg.mark_compacted = p.values["mark-compacted"] == "true";
  cfg.bump_revision = ParseUint("bump-revision", p.values["bump-revision"]);
  // LMDB grows its map on demand: --initial-memory-map-size is accepted and ignored.
  (void)ParseUint("initial-memory-map-size", p.values["initial-memory-map-size"]);
  if ((cfg.bump_revision == 0 && cfg.mark_compacted) ||
      (cfg.bump_revision > 0 && !cfg.mark_compacted)) {
    ExitWithError(kExitBadArgs, "--mark-compacted required if --revision-bump > 0");
  }
  LogInfo("restoring snapshot",
          {{"path", cfg.snapshot_path},
           {"wal-dir", cfg.wal_dir.empty() ? cfg.data_dir + "/member/wal" : cfg.wal_dir},
           {"data-dir", cfg.data_dir},
           {"snap-dir", cfg.data_dir + "/member/snap"}});
  auto r = utl::Restore(cfg);
  if (!r.ok()) ExitWithError(kExitError, r.status().message());
  if (r->format == utl::SnapshotFormat::kBbolt) {
    std::string raw;
    for (const auto& t : r->import.raw_tables)
      raw += (raw.empty() ? "" : ",") + t;
    LogInfo("imported etcd (bbolt) snapshot",
            {{"key-rows", std::to_string(r->import.key_rows)},
             {"tombstones", std::to_string(r->import.tombstones)},
             {"leases", std::to_string(r->import.leases)},
             {"compact-revision", std::to_string(r->import.compact_rev)},
             {"raw-tables", raw}});
  }
  LogInfo("restored snapshot", {{"path", cfg.snapshot_path},
                                {"format", utl::FormatName(r->format)},
                                {"wal-dir", r->wal_dir},
                                {"data-dir", r->data_dir},
                                {"member-id", etcdpp::server::IdToHex(r->member_id)},
                                {"cluster-id", etcdpp::server::IdToHex(r->cluster_id)},
                                {"revision", std::to_string(r->revision)},
                                {"consistent-index", std::to_string(r->consistent_index)}});
  return 0;
}

int Snapshot(const std::vector<std::string>& argv) {
  if (argv.empty()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::vector<std::string> rest(argv.begin() + 1, argv.end());
  if (argv[0] == "status") return SnapshotStatus(rest);
  if (argv[0] == "restore") return SnapshotRestore(rest);
  if (argv[0] == "save") {
    ExitWithError(kExitBadArgs, "In order to download snapshot use: `etcdctl snapshot save ...`");
  }
  ExitWithError(kExitError, "unknown command \"" + argv[0] + "\" for \"etcdpp-utl snapshot\"");
}

int Defrag(const std::vector<std::string>& argv) {
  Parsed p = ParseFlags(argv, WithGlobal({{"data-dir", {}}}));
  const std::string dir = p.values["data-dir"];
  if (dir.empty()) ExitWithError(kExitError, "required flag(s) \"data-dir\" not set");
  auto r = utl::DefragDataDir(dir);
  if (!r.ok()) {
    ExitWithError(kExitError,
                  "Failed to defragment etcd data[" + dir + "] (" + r.status().message() + ")");
  }
  LogInfo(
      "finished defragmenting directory",
      {{"path", dir + "/member/snap/db"},
       {"current-db-size-bytes-diff", std::to_string(r->size_after_bytes - r->size_before_bytes)},
       {"current-db-size-bytes", std::to_string(r->size_after_bytes)},
       {"current-db-size", utl::HumanizeBytes(static_cast<uint64_t>(r->size_after_bytes))}});
  return 0;
}

// etcdutl hashkv <db>: the KV history hash (Maintenance.HashKV's) of a
// stopped member's store; <db> is its member/snap/db directory or the data dir.
int HashKV(const std::vector<std::string>& argv) {
  Parsed p = ParseFlags(argv, WithGlobal({{"rev", {false, "0"}}}));
  if (p.args.size() != 1) {
    ExitWithError(kExitError, "accepts 1 arg(s), received " + std::to_string(p.args.size()));
  }
  const std::string& fmt = p.values["write-out"];
  std::string dir = p.args[0];
  struct stat st {};
  if (::stat((dir + "/member/snap/db/data.mdb").c_str(), &st) == 0) dir += "/member/snap/db";
  if (::stat((dir + "/data.mdb").c_str(), &st) != 0) {
    ExitWithError(kExitError, "open " + p.args[0] + ": no etcdpp store found");
  }
  auto store = etcdpp::mvcc::Store::Open(dir);
  if (!store.ok()) ExitWithError(kExitError, store.status().message());
  auto h = (*store)->HashKV(static_cast<int64_t>(ParseUint("rev", p.values["rev"])));
  if (!h.ok()) ExitWithError(kExitError, h.status().message());
  auto out = utl::FormatHashKV({h->hash, h->hash_rev, h->compact_rev}, fmt);
  if (!out.ok()) ExitWithError(kExitBadFeature, out.status().message());
  std::fputs(out->c_str(), stdout);
  return 0;
}

int Version() {
  std::string api = etcdpp::server::kEtcdVersion;
  api = api.substr(0, api.rfind('.'));  // "3.6.14" -> "3.6"
  std::printf("etcdutl version: %s\n", etcdpp::server::kEtcdVersion);
  std::printf("API version: %s\n", api.c_str());
  std::printf("etcdpp version: %s (git %s)\n", etcdpp::server::kEtcdppVersion,
              etcdpp::server::kGitSha);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  // Global flags may come before the command.
  std::vector<std::string> pre;
  while (!args.empty() && !args[0].empty() && args[0][0] == '-') {
    if (args[0] == "-h" || args[0] == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    pre.push_back(args[0]);
    args.erase(args.begin());
    const std::string& f = pre.back();
    if ((f == "-w" || f == "--write-out") && !args.empty()) {
      pre.push_back(args[0]);
      args.erase(args.begin());
    }
  }
  if (args.empty() || args[0] == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  rest.insert(cmd == "snapshot" && !rest.empty() ? rest.begin() + 1 : rest.begin(), pre.begin(),
              pre.end());
  if (cmd == "snapshot") return Snapshot(rest);
  if (cmd == "defrag") return Defrag(rest);
  if (cmd == "version") return Version();
  if (cmd == "hashkv") return HashKV(rest);
  ExitWithError(kExitError, "unknown command \"" + cmd + "\" for \"etcdpp-utl\"");
}
