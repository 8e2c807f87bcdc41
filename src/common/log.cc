// zap-compatible JSON lines. A line is formatted completely in memory and then
// handed to each output with one write(2) under a mutex, so lines from
// concurrent threads never interleave (and an O_APPEND file gets whole lines).
#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

namespace etcdpp::log {
namespace {

struct Sink {
  int fd;
  bool owned;  // opened by us (a file path): closed when replaced
};

struct State {
  std::atomic<int> level{static_cast<int>(Level::kInfo)};
  std::mutex mu;
  std::vector<Sink> sinks{{STDERR_FILENO, false}};  // guarded by mu
  std::atomic<bool> console{false};
  std::atomic<bool> has_test_clock{false};  // lets Write skip the mutex for the clock
  std::function<std::chrono::system_clock::time_point()> clock;  // guarded by mu
};

// Leaked on purpose: logging must keep working from static destructors.
State& S() {
  static State* s = new State();
  return *s;
}

void WriteAll(int fd, const std::string& line) {
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report a failing log output
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void AppendTime(std::string* out, std::chrono::system_clock::time_point tp) {
  // etcd 3.6 layout "2006-01-02T15:04:05.000000Z0700", always in UTC here.
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(tp.time_since_epoch()).count();
  int64_t secs = us / 1000000;
  int64_t frac = us % 1000000;
  if (frac < 0) {
    frac += 1000000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm_utc;
  gmtime_r(&t, &tm_utc);
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                        tm_utc.tm_year + 1900, tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour,
                        tm_utc.tm_min, tm_utc.tm_sec, static_cast<int>(frac));
  out->append(buf, static_cast<size_t>(n));
}

// Go's strconv.AppendFloat(f, 'f', -1, 64), NaN/Inf quoted like zap.
void AppendDouble(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("\"NaN\"");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "\"+Inf\"" : "\"-Inf\"");
    return;
  }
  char buf[512];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  out->append(buf, r.ptr);
}

void AppendValue(std::string* out, const Field& f) {
  std::visit(
      [out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          AppendJsonString(out, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          out->append(v ? "true" : "false");
        } else if constexpr (std::is_same_v<T, double>) {
          AppendDouble(out, v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out->push_back('[');
          for (size_t i = 0; i < v.size(); ++i) {
            if (i) out->push_back(',');
            AppendJsonString(out, v[i]);
          }
          out->push_back(']');
        } else {
          out->append(std::to_string(v));
        }
      },
      f.value);
}

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
size_t Utf8Len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid (Go decodes them as RuneError).
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return n;
}

}  // namespace

std::string_view LevelName(Level lvl) {
  switch (lvl) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kPanic:
      return "panic";
    case Level::kFatal:
      return "fatal";
  }
  return "info";
}

Result<Level> ParseLevel(std::string_view name) {
  if (name == "debug" || name == "DEBUG") return Level::kDebug;
  if (name == "info" || name == "INFO" || name.empty()) return Level::kInfo;
  if (name == "warn" || name == "WARN") return Level::kWarn;
  if (name == "error" || name == "ERROR") return Level::kError;
  if (name == "dpanic" || name == "DPANIC" || name == "panic" || name == "PANIC") {
    return Level::kPanic;
  }
  if (name == "fatal" || name == "FATAL") return Level::kFatal;
  return Status::InvalidArgument("unrecognized level: \"" + std::string(name) + "\"");
}

void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c >= 0x20 && c != '\\' && c != '"') {
        out->push_back(static_cast<char>(c));
      } else {
        switch (c) {
          case '\\':
            out->append("\\\\");
            break;
          case '"':
            out->append("\\\"");
            break;
          case '\n':
            out->append("\\n");
            break;
          case '\r':
            out->append("\\r");
            break;
          case '\t':
            out->append("\\t");
            break;
          default:
            out->append("\\u00");
            out->push_back(kHex[c >> 4]);
            out->push_back(kHex[c & 0xF]);
        }
      }
      ++i;
      continue;
    }
    size_t n = Utf8Len(s, i);
    if (n == 0) {
      out->append("\\ufffd");  // one replacement per invalid byte, as zap does
      ++i;
      continue;
    }
    out->append(s.substr(i, n));
    i += n;
  }
  out->push_back('"');
}

std::string_view ShortCaller(std::string_view file) {
  size_t last = file.rfind('/');
  if (last == std::string_view::npos || last == 0) return file;
  size_t prev = file.rfind('/', last - 1);
  if (prev == std::string_view::npos) return file;
  return file.substr(prev + 1);
}

std::string FormatLine(Level lvl, std::string_view msg, std::initializer_list<Field> fields,
                       const std::source_location& loc, std::chrono::system_clock::time_point ts,
                       bool console) {
  return FormatLine(lvl, msg, fields.begin(), fields.size(), loc, ts, console);
}

std::string FormatLine(Level lvl, std::string_view msg, const Field* fields, size_t n_fields,
                       const std::source_location& loc, std::chrono::system_clock::time_point ts,
                       bool console) {
  const Field* fields_end = fields + n_fields;
  std::string out;
  out.reserve(160 + msg.size());
  std::string caller(ShortCaller(loc.file_name()));
  caller.push_back(':');
  caller.append(std::to_string(loc.line()));
  if (console) {
    // zap's console encoder: ts, level, caller, msg tab-separated, fields as JSON.
    AppendTime(&out, ts);
    out.push_back('\t');
    out.append(LevelName(lvl));
    out.push_back('\t');
    out.append(caller);
    out.push_back('\t');
    out.append(msg);
    if (n_fields > 0) {
      out.append("\t{");
      bool first = true;
      for (const Field* f_it = fields; f_it != fields_end; ++f_it) {
        const Field& f = *f_it;
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(&out, f.key);
        out.push_back(':');
        AppendValue(&out, f);
      }
      out.push_back('}');
    }
    out.push_back('\n');
    return out;
  }
  out.append("{\"level\":\"");
  out.append(LevelName(lvl));
  out.append("\",\"ts\":\"");
  AppendTime(&out, ts);
  out.append("\",\"caller\":");
  AppendJsonString(&out, caller);
  out.append(",\"msg\":");
  AppendJsonString(&out, msg);
  for (const Field* f_it = fields; f_it != fields_end; ++f_it) {
    const Field& f = *f_it;
    out.push_back(',');
    AppendJsonString(&out, f.key);
    out.push_back(':');
    AppendValue(&out, f);
  }
  out.append("}\n");
  return out;
}

Status Init(std::string_view level, const std::vector<std::string>& outputs,
            std::string_view format) {
  ETCDPP_ASSIGN_OR_RETURN(Level lvl, ParseLevel(level));
  bool console;
  if (format == "json" || format.empty()) {
    console = false;
  } else if (format == "console") {
    console = true;
  } else {
    return Status::InvalidArgument("unknown log format: " + std::string(format) +
                                   ", supported values json, console");
  }
  std::vector<Sink> sinks;
  auto close_owned = [&sinks] {
    for (const Sink& s : sinks) {
      if (s.owned) ::close(s.fd);
    }
  };
  for (const std::string& o : outputs) {
    // "systemd/journal": no journald client here; stderr reaches the journal under systemd.
    if (o == "default" || o == "stderr" || o == "systemd/journal") {
      sinks.push_back({STDERR_FILENO, false});
    } else if (o == "stdout") {
      sinks.push_back({STDOUT_FILENO, false});
    } else {
      int fd = ::open(o.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) {
        Status st = Status::IOError("open " + o + ": " + std::strerror(errno));
        close_owned();
        return st;
      }
      sinks.push_back({fd, true});
    }
  }
  if (sinks.empty()) sinks.push_back({STDERR_FILENO, false});
  State& s = S();
  {
    std::lock_guard<std::mutex> g(s.mu);
    sinks.swap(s.sinks);
    s.console.store(console, std::memory_order_relaxed);
    s.level.store(static_cast<int>(lvl), std::memory_order_relaxed);
  }
  close_owned();  // the previous sinks, now swapped out
  return Status::OK();
}

bool Enabled(Level lvl) {
  return static_cast<int>(lvl) >= S().level.load(std::memory_order_relaxed);
}

namespace {

void Emit(Level lvl, std::string_view msg, const Field* fields, size_t n,
          const std::source_location& loc) {
  State& s = S();
  std::chrono::system_clock::time_point now;
  if (s.has_test_clock.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> g(s.mu);
    now = s.clock ? s.clock() : std::chrono::system_clock::now();
  } else {
    now = std::chrono::system_clock::now();
  }
  // Format outside the lock; only the write(2) calls are serialized.
  std::string line =
      FormatLine(lvl, msg, fields, n, loc, now, s.console.load(std::memory_order_relaxed));
  std::lock_guard<std::mutex> g(s.mu);
  for (const Sink& sink : s.sinks)
    WriteAll(sink.fd, line);
}

}  // namespace

void Write(Level lvl, std::string_view msg, std::initializer_list<Field> fields,
           std::source_location loc) {
  Emit(lvl, msg, fields.begin(), fields.size(), loc);
}

void WriteFields(Level lvl, std::string_view msg, const std::vector<Field>& fields,
                 std::source_location loc) {
  if (!Enabled(lvl)) return;
  Emit(lvl, msg, fields.data(), fields.size(), loc);
}

void Flush() {
  // Lines go straight to the kernel with write(2); nothing is buffered here.
  // fsync is deliberately not done: etcd's zap outputs are not synced either.
}

void SetClockForTesting(std::function<std::chrono::system_clock::time_point()> clock) {
  State& s = S();
  std::lock_guard<std::mutex> g(s.mu);
  s.has_test_clock.store(clock != nullptr, std::memory_order_release);
  s.clock = std::move(clock);
}

void ExitAfterFatal() {
  Flush();
  std::exit(1);
}

}  // namespace etcdpp::log
