#include "http/request_parser.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace etcdpp::http {
namespace {

bool IsTokenChar(unsigned char c) {
  // RFC 7230 tchar.
  if (std::isalnum(c)) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Comma-separated tokens of a header value contain `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) {
  size_t i = 0;
  while (i <= value.size()) {
    size_t comma = value.find(',', i);
    if (comma == std::string_view::npos) comma = value.size();
    if (Lower(Trim(value.substr(i, comma - i))) == token) return true;
    i = comma + 1;
  }
  return false;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Go's ParseHTTPVersion: "HTTP/<digit>.<digit>" only.
bool ParseVersion(std::string_view v, int* major, int* minor) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.') return false;
  if (!std::isdigit(static_cast<unsigned char>(v[5])) ||
      !std::isdigit(static_cast<unsigned char>(v[7]))) {
    return false;
  }
  *major = v[5] - '0';
  *minor = v[7] - '0';
  return true;
}

// Splits the request target into path (decoded) and raw query, as Go's
// url.ParseRequestURI: origin form "/p?q", absolute form "http://h/p?q", "*".
bool ParseTarget(std::string_view target, Request* r) {
  for (char c : target) {
    // Go: "net/url: invalid control character in URL".
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  if (target == "*") {
    r->path.assign(1, '*');
    return true;
  }
  std::string_view rest = target;
  if (rest.empty()) return false;
  if (rest.front() != '/') {
    size_t sep = rest.find("://");
    if (sep == std::string_view::npos || sep == 0) return false;
    for (char c : rest.substr(0, sep)) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
        return false;
      }
    }
    rest.remove_prefix(sep + 3);
    size_t slash = rest.find_first_of("/?");
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  }
  size_t q = rest.find('?');
  std::string_view raw_path = rest.substr(0, q);
  if (q != std::string_view::npos) r->query = std::string(rest.substr(q + 1));
  if (size_t hash = r->query.find('#'); hash != std::string::npos) r->query.resize(hash);
  auto path = DecodePath(raw_path.empty() ? std::string_view("/") : raw_path);
  if (!path) return false;
  r->path = std::move(*path);
  return true;
}

}  // namespace

std::optional<std::string> DecodePath(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

size_t FindHeadEnd(std::string_view buf) {
  size_t i = 0;
  while ((i = buf.find('\n', i)) != std::string_view::npos) {
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
    i++;
  }
  return std::string_view::npos;
}

RequestHead ParseRequestHead(std::string_view head, ParseError* err) {
  RequestHead h;
  Request& r = h.request;
  auto fail = [&](int status, std::string detail = "") {
    err->status = status;
    err->detail = std::move(detail);
    return h;
  };
  *err = ParseError{};

  std::vector<std::string_view> lines;
  size_t i = 0;
  while (i < head.size()) {
    size_t nl = head.find('\n', i);
    if (nl == std::string_view::npos) nl = head.size();
    std::string_view line = head.substr(i, nl - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the blank line ends the head
    lines.push_back(line);
    i = nl + 1;
  }
  if (lines.empty()) return fail(400);

  // Request line: METHOD SP TARGET SP VERSION (Go cuts at the first two spaces).
  std::string_view rl = lines[0];
  size_t sp1 = rl.find(' ');
  if (sp1 == std::string_view::npos) return fail(400);
  size_t sp2 = rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400);
  std::string_view method = rl.substr(0, sp1);
  std::string_view target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  int major = 0, minor = 0;
  if (!ParseVersion(rl.substr(sp2 + 1), &major, &minor)) return fail(400);
  if (!IsToken(method)) return fail(400);
  if (major != 1) return fail(505, "unsupported protocol version");
  h.minor_version = minor >= 1 ? 1 : 0;
  r.method = std::string(method);
  r.target = std::string(target);
  if (!ParseTarget(target, &r)) return fail(400);

  std::vector<std::string_view> content_lengths;
  int host_count = 0;
  std::string transfer_encoding;
  bool has_te = false;
  for (size_t k = 1; k < lines.size(); k++) {
    std::string_view line = lines[k];
    size_t colon = line.find(':');
    // No folded lines, no space before the colon (Go: "malformed MIME header line").
    if (colon == std::string_view::npos || !IsToken(line.substr(0, colon))) return fail(400);
    std::string_view value = Trim(line.substr(colon + 1));
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return fail(400);
    }
    std::string name = Lower(line.substr(0, colon));
    if (name == "content-length") content_lengths.push_back(value);
    if (name == "host") host_count++;
    if (name == "transfer-encoding") {
      if (has_te) return fail(501);  // Go: only one Transfer-Encoding line
      has_te = true;
      transfer_encoding = Lower(value);
    }
    r.headers.emplace_back(std::move(name), std::string(value));
  }
  if (h.minor_version == 1 && host_count == 0) {
    return fail(400, "missing required Host header");
  }
  if (host_count > 1) return fail(400, "too many Host headers");
  if (const std::string* host = r.Header("host")) {
    for (char c : *host)
      if (c == ' ' || c == '\t') return fail(400, "malformed Host header");
  }

  // Go ignores Transfer-Encoding on HTTP/1.0 and supports only "chunked".
  if (has_te && h.minor_version == 1) {
    if (transfer_encoding != "chunked") return fail(501);
    h.chunked = true;  // Content-Length is then ignored, as Go does
  }
  if (!h.chunked && !content_lengths.empty()) {
    for (std::string_view cl : content_lengths) {
      if (cl != content_lengths[0]) return fail(400);
    }
    std::string_view cl = content_lengths[0];
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(cl.data(), cl.data() + cl.size(), n);
    if (cl.empty() || ec != std::errc() || ptr != cl.data() + cl.size()) return fail(400);
    h.content_length = n;
  }

  const std::string* conn = r.Header("connection");
  if (h.minor_version == 0) {
    h.keep_alive = conn != nullptr && HasToken(*conn, "keep-alive");
  } else {
    h.keep_alive = conn == nullptr || !HasToken(*conn, "close");
  }
  if (const std::string* expect = r.Header("expect")) {
    if (HasToken(*expect, "100-continue")) {
      h.expect_continue = h.minor_version == 1 && (h.chunked || h.content_length > 0);
    } else if (!expect->empty()) {
      return fail(417);
    }
  }
  return h;
}

ChunkedDecoder::State ChunkedDecoder::Feed(std::string_view in, size_t* consumed, std::string* body,
                                           size_t max_body_bytes) {
  size_t pos = 0;
  auto line_end = [&]() { return in.find('\n', pos); };
  for (;;) {
    switch (phase_) {
      case Phase::kSize: {
        size_t nl = line_end();
        if (nl == std::string_view::npos) {
          *consumed = pos;
          // A size line longer than this is garbage (Go caps it at 4 KiB).
          return in.size() - pos > 4096 ? State::kError : State::kMore;
        }
        std::string_view line = in.substr(pos, nl - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (size_t semi = line.find(';'); semi != std::string_view::npos) {
          line = line.substr(0, semi);  // chunk extensions are ignored
        }
        line = Trim(line);
        if (line.empty() || line.size() > 16) return State::kError;
        uint64_t n = 0;
        for (char c : line) {
          int v = HexValue(c);
          if (v < 0) return State::kError;
          n = n * 16 + static_cast<uint64_t>(v);
        }
        pos = nl + 1;
        if (n == 0) {
          phase_ = Phase::kTrailer;
        } else {
          if (n > max_body_bytes || body->size() + n > max_body_bytes) return State::kTooLarge;
          remaining_ = n;
          phase_ = Phase::kData;
        }
        break;
      }
      case Phase::kData: {
        size_t take = std::min<uint64_t>(remaining_, in.size() - pos);
        body->append(in.substr(pos, take));
        pos += take;
        remaining_ -= take;
        if (remaining_ > 0) {
          *consumed = pos;
          return State::kMore;
        }
        phase_ = Phase::kDataEnd;
        break;
      }
      case Phase::kDataEnd: {
        // The CRLF after a chunk's data.
        if (pos < in.size() && in[pos] == '\r') {
          if (pos + 1 >= in.size()) {
            *consumed = pos;
            return State::kMore;
          }
          if (in[pos + 1] != '\n') return State::kError;
          pos += 2;
        } else if (pos < in.size() && in[pos] == '\n') {
          pos += 1;
        } else if (pos >= in.size()) {
          *consumed = pos;
          return State::kMore;
        } else {
          return State::kError;
        }
        phase_ = Phase::kSize;
        break;
      }
      case Phase::kTrailer: {
        // Trailer lines up to an empty line; their content is dropped.
        size_t nl = line_end();
        if (nl == std::string_view::npos) {
          *consumed = pos;
          return in.size() - pos > 4096 ? State::kError : State::kMore;
        }
        std::string_view line = in.substr(pos, nl - pos);
        pos = nl + 1;
        if (line.empty() || line == "\r") {
          *consumed = pos;
          return State::kDone;
        }
        break;
      }
    }
  }
}

}  // namespace etcdpp::http
