// etcdpp-bench: a load generator with the subcommands and flags of etcd's tools/benchmark.
//   etcdpp-bench [global flags] <subcommand> [flags] [args]
// See docs/benchmarks.md for the commands behind the published figures.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "workloads.h"

namespace etcdpp::bench {
namespace {

const Subcommand kSubcommands[] = {
    {"put", "put", "Benchmark put", DeclarePut, RunPut},
    {"range", "range KEY [END]", "Benchmark range (--stream: the KV/RangeStream RPC)", DeclareRange,
     RunRange},
    {"txn-put", "txn-put", "Benchmark txn-put", DeclareTxnPut, RunTxnPut},
    {"watch", "watch", "Benchmark watch (creation and event delivery latency)", DeclareWatch,
     RunWatch},
    {"lease-keepalive", "lease-keepalive", "Benchmark lease keepalive", DeclareLeaseKeepalive,
     RunLeaseKeepalive},
    {"mixed", "mixed", "Benchmark a mixed load of ranges and puts (--rw-ratio)", DeclareMixed,
     RunMixed},
    {"txn-mixed", "txn-mixed", "Benchmark a mixed load of txn-put & txn-range", DeclareTxnMixed,
     RunTxnMixed},
    {"wait-ready", "wait-ready",
     "Poll a linearizable Range on the first endpoint until it succeeds; print the time taken",
     DeclareWaitReady, RunWaitReady},
    {"mock-server", "mock-server [--listen host:port]",
     "Serve KV/Lease/Maintenance from memory (to show the tool is not the bottleneck)",
     DeclareMockServer, RunMockServer},
};

void PrintUsage(FILE* out) {
  FlagSet global;
  GlobalOptions::Declare(global);
  std::fprintf(out,
               "etcdpp-bench: a low-level benchmark tool for etcd v3 servers (etcdpp and etcd).\n"
               "It drives the gRPC API directly, with etcd's benchmark flags.\n\n"
               "Usage: etcdpp-bench [global flags] <subcommand> [flags]\n\nSubcommands:\n");
  for (const auto& s : kSubcommands)
    std::fprintf(out, "  %-18s %s\n", s.name, s.help);
  std::fprintf(out, "\nGlobal flags:\n%s\n'etcdpp-bench <subcommand> --help' lists its flags.\n",
               global.Usage().c_str());
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  FlagSet global;
  GlobalOptions::Declare(global);
  // The subcommand is the first word that is neither a flag nor a global flag's value.
  int sub_index = -1;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help" || a == "help") break;
    if (a.rfind("-", 0) == 0) {
      std::string name = a.substr(a.find_first_not_of('-'));
      if (name.find('=') == std::string::npos && global.TakesValue(name)) ++i;
      continue;
    }
    sub_index = static_cast<int>(i);
    break;
  }
  if (sub_index < 0) {
    bool asked = argc > 1;
    PrintUsage(asked ? stdout : stderr);
    return asked ? 0 : 1;
  }
  const Subcommand* sub = nullptr;
  for (const auto& s : kSubcommands) {
    if (args[sub_index] == s.name) sub = &s;
  }
  if (!sub) {
    std::fprintf(stderr, "etcdpp-bench: unknown subcommand \"%s\"\n\n", args[sub_index].c_str());
    PrintUsage(stderr);
    return 1;
  }
  args.erase(args.begin() + sub_index);
  FlagSet flags;
  GlobalOptions::Declare(flags);
  sub->declare(flags);
  flags.Bool("help", false, "help for " + std::string(sub->name));
  std::string error;
  if (!flags.Parse(args, &error)) {
    std::fprintf(stderr, "etcdpp-bench %s: %s\n", sub->name, error.c_str());
    return 1;
  }
  if (flags.GetBool("help")) {
    FlagSet own;
    sub->declare(own);
    std::printf("%s\n\nUsage: etcdpp-bench [global flags] %s [flags]\n\nFlags:\n%s", sub->help,
                sub->usage, own.Usage().c_str());
    return 0;
  }
  GlobalOptions opts;
  if (!opts.Load(flags, &error)) {
    std::fprintf(stderr, "etcdpp-bench: %s\n", error.c_str());
    return 1;
  }
  return sub->run(flags, opts);
}

}  // namespace
}  // namespace etcdpp::bench

int main(int argc, char** argv) {
  return etcdpp::bench::Main(argc, argv);
}
