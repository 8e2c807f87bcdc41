// Programmer errors and broken invariants (e.g. a committed entry about to be overwritten)
// abort: continuing could violate safety. Tests/simulator may install a handler (that throws
// or records) to report the failure with context; it must not return.
#pragma once

namespace etcdpp::raft {

using FatalHandler = void (*)(const char* msg);
// Installs a process-wide handler; nullptr restores the default (print + abort).
void SetFatalHandler(FatalHandler h);
[[noreturn]] void Fatal(const char* msg);

}  // namespace etcdpp::raft
