// The subcommands. Each declares its flags on a FlagSet (beside the global ones) and runs
// against the connections; Run* returns the process exit code (0 ok, 1 usage or setup
// failure, 2 when any request failed).
#pragma once

#include <cstdint>
#include <string>

#include "conns.h"
#include "flags.h"
#include "loop.h"
#include "report.h"

namespace etcdpp::bench {

struct Subcommand {
  const char* name;
  const char* usage;  // e.g. "range KEY [END]"
  const char* help;
  void (*declare)(FlagSet& flags);
  int (*run)(const FlagSet& flags, const GlobalOptions& opts);
};

void DeclarePut(FlagSet& f);
int RunPut(const FlagSet& f, const GlobalOptions& o);
void DeclareRange(FlagSet& f);
int RunRange(const FlagSet& f, const GlobalOptions& o);
void DeclareTxnPut(FlagSet& f);
int RunTxnPut(const FlagSet& f, const GlobalOptions& o);
void DeclareMixed(FlagSet& f);
int RunMixed(const FlagSet& f, const GlobalOptions& o);
void DeclareTxnMixed(FlagSet& f);
int RunTxnMixed(const FlagSet& f, const GlobalOptions& o);
void DeclareWatch(FlagSet& f);
int RunWatch(const FlagSet& f, const GlobalOptions& o);
void DeclareLeaseKeepalive(FlagSet& f);
int RunLeaseKeepalive(const FlagSet& f, const GlobalOptions& o);
void DeclareWaitReady(FlagSet& f);
int RunWaitReady(const FlagSet& f, const GlobalOptions& o);
void DeclareMockServer(FlagSet& f);
int RunMockServer(const FlagSet& f, const GlobalOptions& o);

// ---- helpers shared by the workloads ----

// etcd's benchmark keys: the zig-zag varint of n (encoding/binary.PutVarint) at the start of
// a zero-filled key of `key_size` bytes.
std::string VarintKey(int64_t n, int key_size);
// A fast deterministic hash of a request number (splitmix64): per-request randomness that
// needs no shared generator between threads.
uint64_t Mix(uint64_t x);
std::string RandomBytes(size_t n);

// Opens the connections or prints the error; nullptr on failure.
std::unique_ptr<Connections> OpenOrReport(const GlobalOptions& o);

// Prints one result (human or JSON per --json) and returns the exit code for it.
// `extra_json` are extra `"key": value` pairs for the JSON object; `human_extra` is printed
// after the human summary.
int Emit(const GlobalOptions& o, const std::string& title, const Summary& s, uint64_t total,
         double cpu_s, const std::string& extra_json = "", const std::string& human_extra = "");

}  // namespace etcdpp::bench
