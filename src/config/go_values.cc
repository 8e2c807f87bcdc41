#include "config/go_values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>

namespace etcdpp::config {
namespace {

Status ParseError() {
  return Status::InvalidArgument("parse error");
}
Status RangeError() {
  return Status::InvalidArgument("value out of range");
}

// Digits of `s` (no sign) in Go's base-0 syntax; false on bad syntax, *overflow on overflow.
bool ParseMagnitude(std::string_view s, uint64_t* out, bool* overflow) {
  *overflow = false;
  if (s.empty()) return false;
  int base = 10;
  bool prefixed = false;
  if (s[0] == '0' && s.size() > 1) {
    char p = static_cast<char>(s[1] | 0x20);
    if (p == 'x') {
      base = 16;
      s.remove_prefix(2);
      prefixed = true;
    } else if (p == 'b') {
      base = 2;
      s.remove_prefix(2);
      prefixed = true;
    } else if (p == 'o') {
      base = 8;
      s.remove_prefix(2);
      prefixed = true;
    } else {
      base = 8;
      s.remove_prefix(1);
      prefixed = true;  // "0" prefix: octal, underscores allowed (Go's underscoreOK)
    }
  }
  // Go's underscoreOK: '_' only with a base prefix, and only between digits
  // (or between the prefix and a digit).
  uint64_t v = 0;
  bool any = false;
  char prev = prefixed ? 'p' : 0;
  for (char c : s) {
    if (c == '_') {
      if (!prefixed || (prev != 'd' && prev != 'p')) return false;
      prev = '_';
      continue;
    }
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'z') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'Z') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    if (d >= base) return false;
    if (v > (std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(d)) /
                static_cast<uint64_t>(base)) {
      *overflow = true;
    } else {
      v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    }
    any = true;
    prev = 'd';
  }
  if (prev == '_' || !any) return false;
  *out = v;
  return true;
}

bool IsSchemeChar(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  if (first) return false;
  return (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' ||
                        s.front() == '\r' || s.front() == '\v' || s.front() == '\f')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' ||
                        s.back() == '\r' || s.back() == '\v' || s.back() == '\f')) {
    s.remove_suffix(1);
  }
  return s;
}

// net.SplitHostPort: true when `hostport` is "host:port" or "[v6]:port".
bool SplitHostPort(std::string_view hostport, std::string* host, std::string* port) {
  if (hostport.empty()) return false;
  size_t colon = hostport.rfind(':');
  if (colon == std::string_view::npos) return false;  // missing port
  std::string_view h = hostport.substr(0, colon);
  if (!h.empty() && h.front() == '[') {
    size_t end = h.find(']');
    if (end == std::string_view::npos || end != h.size() - 1) return false;
    h = h.substr(1, end - 1);
  } else if (h.find(':') != std::string_view::npos || h.find('[') != std::string_view::npos ||
             h.find(']') != std::string_view::npos) {
    return false;  // too many colons / stray brackets
  }
  *host = std::string(h);
  *port = std::string(hostport.substr(colon + 1));
  return true;
}

}  // namespace

Result<bool> ParseGoBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return false;
  }
  return ParseError();
}

Result<uint64_t> ParseGoUint(std::string_view s, int bits) {
  if (s.empty() || s[0] == '-' || s[0] == '+') return ParseError();
  uint64_t v;
  bool overflow;
  if (!ParseMagnitude(s, &v, &overflow)) return ParseError();
  if (overflow) return RangeError();
  if (bits < 64 && v > ((uint64_t{1} << bits) - 1)) return RangeError();
  return v;
}

Result<int64_t> ParseGoInt(std::string_view s, int bits) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return ParseError();
  uint64_t v;
  bool overflow;
  if (!ParseMagnitude(s, &v, &overflow)) return ParseError();
  uint64_t limit = uint64_t{1} << (bits - 1);  // |min|
  if (overflow) return RangeError();
  if (!neg && v >= limit) return RangeError();
  if (neg && v > limit) return RangeError();
  if (neg) return static_cast<int64_t>(0 - v);
  return static_cast<int64_t>(v);
}

std::string GoQuote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

Result<int64_t> ParseGoDuration(std::string_view orig) {
  auto invalid = [&] { return Status::InvalidArgument("time: invalid duration " + GoQuote(orig)); };
  std::string_view s = orig;
  uint64_t d = 0;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return int64_t{0};
  if (s.empty()) return invalid();
  constexpr uint64_t kMaxMag = uint64_t{1} << 63;
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return invalid();
    // Integer part.
    uint64_t v = 0;
    size_t i = 0;
    bool overflow = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (v > (kMaxMag - 1) / 10) overflow = true;
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kMaxMag) overflow = true;
      ++i;
    }
    if (overflow) return invalid();
    bool pre = i > 0;
    s.remove_prefix(i);
    // Fraction.
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool f_overflow = false;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
        if (!f_overflow) {
          if (f > (kMaxMag - 1) / 10) {
            f_overflow = true;  // Go ignores further digits
          } else {
            f = f * 10 + static_cast<uint64_t>(s[j] - '0');
            scale *= 10;
          }
        }
        ++j;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return invalid();
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !(s[u] >= '0' && s[u] <= '9'))
      ++u;
    if (u == 0) {
      return Status::InvalidArgument("time: missing unit in duration " + GoQuote(orig));
    }
    std::string_view unit_s = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit;
    if (unit_s == "ns") {
      unit = 1;
    } else if (unit_s == "us" || unit_s == "\xC2\xB5s" || unit_s == "\xCE\xBCs") {
      unit = 1000;
    } else if (unit_s == "ms") {
      unit = 1000000;
    } else if (unit_s == "s") {
      unit = 1000000000;
    } else if (unit_s == "m") {
      unit = 60ull * 1000000000;
    } else if (unit_s == "h") {
      unit = 3600ull * 1000000000;
    } else {
      return Status::InvalidArgument("time: unknown unit " + GoQuote(unit_s) + " in duration " +
                                     GoQuote(orig));
    }
    if (v > kMaxMag / unit) return invalid();
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kMaxMag) return invalid();
    }
    d += v;
    if (d > kMaxMag) return invalid();
  }
  if (neg) return static_cast<int64_t>(0 - d);
  if (d > kMaxMag - 1) return invalid();
  return static_cast<int64_t>(d);
}

std::string FormatGoDuration(int64_t ns) {
  if (ns == 0) return "0s";
  bool neg = ns < 0;
  uint64_t u = neg ? 0 - static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  // Fractional formatting: value/10^prec with trailing zeros trimmed.
  auto frac = [](uint64_t v, int prec) {
    uint64_t p10 = 1;
    for (int i = 0; i < prec; ++i)
      p10 *= 10;
    std::string whole = std::to_string(v / p10);
    uint64_t rem = v % p10;
    if (rem == 0) return whole;
    std::string digits = std::to_string(rem);
    digits.insert(0, static_cast<size_t>(prec) - digits.size(), '0');
    while (!digits.empty() && digits.back() == '0')
      digits.pop_back();
    return whole + "." + digits;
  };
  std::string out;
  if (u < 1000000000ull) {
    if (u < 1000) {
      out = std::to_string(u) + "ns";
    } else if (u < 1000000) {
      out = frac(u, 3) + "\xC2\xB5s";
    } else {
      out = frac(u, 6) + "ms";
    }
  } else {
    uint64_t secs_ns = u % (60ull * 1000000000);
    uint64_t mins_total = u / (60ull * 1000000000);
    std::string sec = frac(secs_ns, 9) + "s";
    if (mins_total == 0) {
      out = sec;
    } else {
      uint64_t h = mins_total / 60;
      uint64_t m = mins_total % 60;
      out = std::to_string(m) + "m" + sec;
      if (h > 0) out = std::to_string(h) + "h" + out;
    }
  }
  return neg ? "-" + out : out;
}

UrlParts SplitUrl(std::string_view url) {
  UrlParts p;
  size_t colon = url.find(':');
  if (colon == std::string_view::npos) return p;
  p.scheme = std::string(url.substr(0, colon));
  std::transform(p.scheme.begin(), p.scheme.end(), p.scheme.begin(),
                 [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  std::string_view rest = url.substr(colon + 1);
  if (rest.substr(0, 2) == "//") {
    rest.remove_prefix(2);
    size_t end = rest.find_first_of("/?#");
    std::string_view auth = rest.substr(0, end);
    size_t at = auth.rfind('@');
    if (at != std::string_view::npos) auth.remove_prefix(at + 1);
    p.host = std::string(auth);
  }
  std::string h, port;
  if (SplitHostPort(p.host, &h, &port)) {
    p.hostname = h;
    p.port = port;
  } else {
    p.hostname = p.host;
  }
  return p;
}

Result<std::vector<std::string>> ParseUrlList(std::string_view s) {
  std::set<std::string> out;
  if (s.empty()) return std::vector<std::string>{};
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    std::string_view in = TrimSpace(
        s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    std::string in_s(in);
    // url.Parse: a scheme is letters followed by [a-zA-Z0-9+.-] and ':'.
    size_t colon = in.find(':');
    bool has_scheme = colon != std::string_view::npos && colon > 0;
    for (size_t i = 0; has_scheme && i < colon; ++i) {
      if (!IsSchemeChar(in[i], i == 0)) has_scheme = false;
    }
    if (!has_scheme && colon != std::string_view::npos) {
      size_t slash = in.find('/');
      if (colon == 0)
        return Status::InvalidArgument("parse " + GoQuote(in) + ": missing protocol scheme");
      if (slash == std::string_view::npos || colon < slash) {
        return Status::InvalidArgument("parse " + GoQuote(in) +
                                       ": first path segment in URL cannot contain colon");
      }
    }
    for (char c : in) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        return Status::InvalidArgument("parse " + GoQuote(in) +
                                       ": net/url: invalid control character in URL");
      }
    }
    UrlParts parts = has_scheme ? SplitUrl(in) : UrlParts{};
    if (parts.scheme == "http" || parts.scheme == "https") {
      std::string host, port;
      // url.Parse validates the port digits before etcd sees the URL.
      size_t pc = parts.host.rfind(':');
      if (pc != std::string::npos && parts.host.find(']', pc) == std::string::npos) {
        std::string_view pstr = std::string_view(parts.host).substr(pc + 1);
        for (char c : pstr) {
          if (c < '0' || c > '9') {
            return Status::InvalidArgument("parse " + GoQuote(in) + ": invalid port " +
                                           GoQuote(parts.host.substr(pc)) + " after host");
          }
        }
      }
      if (!SplitHostPort(parts.host, &host, &port)) {
        return Status::InvalidArgument("URL address does not have the form \"host:port\": " + in_s);
      }
      std::string_view after = in.substr(parts.scheme.size() + 3);
      size_t path_at = after.find_first_of("/?#");
      if (path_at != std::string_view::npos && after[path_at] == '/') {
        std::string_view path = after.substr(path_at);
        path = path.substr(0, path.find_first_of("?#"));
        if (!path.empty()) return Status::InvalidArgument("URL must not contain a path: " + in_s);
      }
    } else if (parts.scheme == "unix" || parts.scheme == "unixs") {
      // any address is a socket path
    } else {
      return Status::InvalidArgument("URL scheme must be http, https, unix, or unixs: " + in_s);
    }
    out.insert(in_s);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return std::vector<std::string>(out.begin(), out.end());
}

std::vector<std::string> SplitList(std::string_view s, bool unique) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    out.emplace_back(
        s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (unique) {
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  return out;
}

bool IsIpLiteral(std::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

}  // namespace etcdpp::config
