// Structured logging in the shape of etcd's zap JSON lines:
//   {"level":"info","ts":"2026-11-25T04:35:14.123456Z","caller":"server/main.cc:42",
//    "msg":"ready to serve client requests","address":"127.0.0.1:2379"}
// Operators' scripts wait for etcd's milestone messages; we emit the same text.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <source_location>
#include <string>
#include <string_view>
#include <variant>

#include "common/status.h"

namespace etcdpp::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kPanic = 4, kFatal = 5 };

// A structured field; values are strings, integers, doubles or bools.
struct Field {
  std::string_view key;
  std::variant<std::string, int64_t, uint64_t, double, bool> value;
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
};

// level: "debug"|"info"|"warn"|"error"|"panic"|"fatal"; outputs: "default"/"stderr",
// "stdout" or file paths; format "json" (default) or "console".
Status Init(std::string_view level, const std::vector<std::string>& outputs,
            std::string_view format);
bool Enabled(Level lvl);
void Write(Level lvl, std::string_view msg, std::initializer_list<Field> fields,
           std::source_location loc = std::source_location::current());
void Flush();

}  // namespace etcdpp::log

#define ETCDPP_LOG(lvl, msg, ...)                                                        \
  do {                                                                                   \
    if (::etcdpp::log::Enabled(lvl)) ::etcdpp::log::Write(lvl, msg, {__VA_ARGS__});      \
  } while (0)
#define LOG_DEBUG(msg, ...) ETCDPP_LOG(::etcdpp::log::Level::kDebug, msg, __VA_ARGS__)
#define LOG_INFO(msg, ...) ETCDPP_LOG(::etcdpp::log::Level::kInfo, msg, __VA_ARGS__)
#define LOG_WARN(msg, ...) ETCDPP_LOG(::etcdpp::log::Level::kWarn, msg, __VA_ARGS__)
#define LOG_ERROR(msg, ...) ETCDPP_LOG(::etcdpp::log::Level::kError, msg, __VA_ARGS__)
