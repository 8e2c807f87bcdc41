// Structured logging in the shape of etcd's zap JSON lines:
//   {"level":"info","ts":"2026-11-25T04:35:14.123456Z","caller":"server/main.cc:42",
//    "msg":"ready to serve client requests","address":"127.0.0.1:2379"}
// Operators' scripts wait for etcd's milestone messages; we emit the same text.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <source_location>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace etcdpp::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kPanic = 4, kFatal = 5 };

// A structured field; values are strings, integers, doubles, bools or string
// arrays (zap.Strings, e.g. "advertise-client-urls":["http://127.0.0.1:2379"]).
struct Field {
  std::string_view key;
  std::variant<std::string, int64_t, uint64_t, double, bool, std::vector<std::string>> value;
  Field(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, long long v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, unsigned v) : key(k), value(static_cast<uint64_t>(v)) {}
  Field(std::string_view k, unsigned long v) : key(k), value(static_cast<uint64_t>(v)) {}
  Field(std::string_view k, unsigned long long v) : key(k), value(static_cast<uint64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, const std::vector<std::string>& v) : key(k), value(v) {}
};

// level: "debug"|"info"|"warn"|"error"|"panic"|"fatal"; outputs: "default"/"stderr",
// "stdout" or file paths; format "json" (default) or "console".
Status Init(std::string_view level, const std::vector<std::string>& outputs,
            std::string_view format);
bool Enabled(Level lvl);
void Write(Level lvl, std::string_view msg, std::initializer_list<Field> fields,
           std::source_location loc = std::source_location::current());
// Write with a field list built at run time (Enabled is checked inside).
void WriteFields(Level lvl, std::string_view msg, const std::vector<Field>& fields,
                 std::source_location loc = std::source_location::current());
void Flush();

// --- Helpers (also used by tests and by code that emits JSON by hand) ---

// "debug", "info", "warn", "error", "panic", "fatal".
std::string_view LevelName(Level lvl);
// Accepts the names above (and "dpanic" as panic); anything else is
// kInvalidArgument `unrecognized level: "x"` like zap.
Result<Level> ParseLevel(std::string_view name);
// Appends `s` as a JSON string literal (with quotes), escaping exactly like zap:
// `"` `\` \n \r \t as such, other bytes < 0x20 as \u00xx, invalid UTF-8 as \ufffd.
void AppendJsonString(std::string* out, std::string_view s);
// "server/main.cc" from "/any/path/src/server/main.cc" (zap's ShortCallerEncoder).
std::string_view ShortCaller(std::string_view file);
// One complete line (with trailing '\n') as Write would emit it in `format`.
std::string FormatLine(Level lvl, std::string_view msg, std::initializer_list<Field> fields,
                       const std::source_location& loc, std::chrono::system_clock::time_point ts,
                       bool console = false);
std::string FormatLine(Level lvl, std::string_view msg, const Field* fields, size_t n_fields,
                       const std::source_location& loc, std::chrono::system_clock::time_point ts,
                       bool console = false);
// Replaces the clock used for "ts" (nullptr restores the real clock). Tests only.
void SetClockForTesting(std::function<std::chrono::system_clock::time_point()> clock);

}  // namespace etcdpp::log

#define ETCDPP_LOG(lvl, msg, ...)                                                   \
  do {                                                                              \
    if (::etcdpp::log::Enabled(lvl)) ::etcdpp::log::Write(lvl, msg, {__VA_ARGS__}); \
  } while (0)
#define LOG_DEBUG(msg, ...) ETCDPP_LOG(::etcdpp::log::Level::kDebug, msg, __VA_ARGS__)
#define LOG_INFO(msg, ...) ETCDPP_LOG(::etcdpp::log::Level::kInfo, msg, __VA_ARGS__)
#define LOG_WARN(msg, ...) ETCDPP_LOG(::etcdpp::log::Level::kWarn, msg, __VA_ARGS__)
#define LOG_ERROR(msg, ...) ETCDPP_LOG(::etcdpp::log::Level::kError, msg, __VA_ARGS__)
// Like zap's Fatal: logs (always, whatever the level) and exits with status 1.
#define LOG_FATAL(msg, ...)                                                 \
  do {                                                                      \
    ::etcdpp::log::Write(::etcdpp::log::Level::kFatal, msg, {__VA_ARGS__}); \
    ::etcdpp::log::ExitAfterFatal();                                        \
  } while (0)

namespace etcdpp::log {
[[noreturn]] void ExitAfterFatal();
}  // namespace etcdpp::log
