#include "membership/urls.h"

#include <algorithm>
#include <string_view>

namespace etcdpp::membership {
namespace {

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\n\r\v\f";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// Go net.SplitHostPort's acceptance: "host:port" or "[v6]:port" (port may be empty).
bool IsHostPort(std::string_view hp) {
  if (!hp.empty() && hp.front() == '[') {
    size_t close = hp.find(']');
    if (close == std::string_view::npos) return false;
    if (close + 1 >= hp.size() || hp[close + 1] != ':') return false;
    return hp.find_first_of("[]", close + 1) == std::string_view::npos;
  }
  return std::count(hp.begin(), hp.end(), ':') == 1;
}

Status CheckURL(std::string_view in) {
  size_t sep = in.find("://");
  std::string_view scheme = sep == std::string_view::npos ? std::string_view{} : in.substr(0, sep);
  if (scheme != "http" && scheme != "https" && scheme != "unix" && scheme != "unixs") {
    return Status::InvalidArgument("URL scheme must be http, https, unix, or unixs: " +
                                   std::string(in));
  }
  if (scheme == "unix" || scheme == "unixs") return Status::OK();
  std::string_view rest = in.substr(sep + 3);
  size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority = authority.substr(at + 1);  // userinfo is not part of the host
  }
  if (!IsHostPort(authority)) {
    return Status::InvalidArgument("URL address does not have the form \"host:port\": " +
                                   std::string(in));
  }
  if (end != std::string_view::npos && rest[end] == '/') {
    return Status::InvalidArgument("URL must not contain a path: " + std::string(in));
  }
  return Status::OK();
}

}  // namespace

Result<std::vector<std::string>> ParseURLs(const std::vector<std::string>& urls) {
  if (urls.empty()) return Status::InvalidArgument("no valid URLs given");
  std::vector<std::string> out;
  out.reserve(urls.size());
  for (const std::string& u : urls) {
    std::string_view t = Trim(u);
    ETCDPP_RETURN_IF_ERROR(CheckURL(t));
    out.emplace_back(t);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool URLStringsEqual(std::vector<std::string> a, std::vector<std::string> b) {
  if (a.size() != b.size()) return false;
  for (auto* v : {&a, &b}) {
    for (auto& s : *v)
      s = std::string(Trim(s));
    std::sort(v->begin(), v->end());
  }
  return a == b;
}

}  // namespace etcdpp::membership
