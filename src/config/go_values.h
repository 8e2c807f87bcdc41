// Value syntax exactly as etcd's Go flag package accepts it: booleans
// (strconv.ParseBool), integers (strconv.ParseInt/ParseUint with base 0),
// durations (time.ParseDuration) and URL lists (etcd's types.NewURLs).
// Errors carry Go's own wording so the messages match etcd's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace etcdpp::config {

// Go's strconv.ParseBool: 1 t T TRUE true True 0 f F FALSE false False.
Result<bool> ParseGoBool(std::string_view s);

// strconv.Parse{Int,Uint}(s, 0, bits): decimal, 0x/0o/0b/leading-0 octal and '_' separators
// after a base prefix. Errors: "parse error" (bad syntax) or "value out of range".
Result<int64_t> ParseGoInt(std::string_view s, int bits = 64);
Result<uint64_t> ParseGoUint(std::string_view s, int bits = 64);

// time.ParseDuration; returns nanoseconds. Errors read like Go's:
// `time: invalid duration "x"`, `time: missing unit in duration "1"`, ...
Result<int64_t> ParseGoDuration(std::string_view s);

// time.Duration.String(): "0s", "100ms", "1m30s", "2h0m0s", "1.5µs".
std::string FormatGoDuration(int64_t ns);

// strconv.Quote for the strings that appear in messages.
std::string GoQuote(std::string_view s);

// types.NewURLs on a comma-separated list: each URL trimmed, scheme http/https/unix/unixs,
// http(s) with "host:port" and no path. Result sorted and de-duplicated like etcd's
// UniqueURLs. An empty string gives an empty list.
Result<std::vector<std::string>> ParseUrlList(std::string_view s);

// A single URL split into parts (only for URLs that passed ParseUrlList).
struct UrlParts {
  std::string scheme;
  std::string host;      // "host:port" or, for unix URLs, whatever followed "scheme://"
  std::string hostname;  // host without port and brackets
  std::string port;
};
UrlParts SplitUrl(std::string_view url);

// Comma-separated strings: `unique` sorts and de-duplicates (etcd's UniqueStringsValue),
// otherwise order is kept (StringsValue). Empty input gives an empty list.
std::vector<std::string> SplitList(std::string_view s, bool unique);

// net.ParseIP (IPv4 dotted quad or IPv6, brackets stripped by the caller).
bool IsIpLiteral(std::string_view host);

}  // namespace etcdpp::config
