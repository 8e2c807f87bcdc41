// Peer/client URL checks with etcd's rules (client/pkg/types.NewURLs).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace etcdpp::membership {

// Trims each URL and checks it as etcd's types.NewURLs does; returns the URLs
// sorted (etcd keeps URLs sorted). Errors (InvalidArgument, etcd's texts):
//   empty list                  "no valid URLs given"
//   other scheme                "URL scheme must be http, https, unix, or unixs: <url>"
//   http(s) without host:port   "URL address does not have the form \"host:port\": <url>"
//   http(s) with a path         "URL must not contain a path: <url>"
// MemberAdd/MemberUpdate answer any of these with ErrBadURLs() (errors.h).
Result<std::vector<std::string>> ParseURLs(const std::vector<std::string>& urls);

// etcd netutil.URLStringsEqual without DNS: equal as sorted, trimmed lists.
// (etcd also resolves host names to compare IPs; we compare the strings.)
bool URLStringsEqual(std::vector<std::string> a, std::vector<std::string> b);

}  // namespace etcdpp::membership
