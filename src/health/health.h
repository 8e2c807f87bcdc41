// etcd 3.6's health endpoints (ETCD-FACTS §8), over a small probe interface
// so they are testable without a server:
//
//   /health   JSON {"health":"true","reason":""}; ?exclude=<ALARM> (repeatable),
//             ?serializable=true; checks alarms, then the leader, then a Range.
//   /livez    check serializable_read
//   /readyz   checks data_corruption, serializable_read, linearizable_read,
//             non_learner; ?exclude=<check> (repeatable), ?verbose
//   /livez/<check>, /readyz/<check>   one check alone
//
// GET only (405 otherwise). Metrics: etcd_server_health_success/_failures,
// etcd_server_healthcheck{type,name}, etcd_server_healthchecks_total{type,name,status}.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "etcdserverpb/rpc.pb.h"
#include "http/http.h"

namespace etcdpp::health {

// What the checks ask the member. Every function must be set; each may be
// called concurrently from several HTTP threads.
struct Probes {
  // Alarms raised in the cluster (empty when none).
  std::function<std::vector<etcdserverpb::AlarmMember>()> alarms;
  // The leader's member id as this member knows it; 0 when there is none.
  std::function<uint64_t()> leader;
  std::function<bool()> is_learner;
  // A keys-only, limit-1 Range as root: local when `serializable`, else
  // linearizable (ReadIndex). Must give up after `timeout`. The error's
  // message is shown to the client as is (etcd's error text, e.g.
  // "etcdserver: request timed out").
  std::function<Status(bool serializable, std::chrono::milliseconds timeout)> range;
  // etcd's request timeout (5 s + 2 × election timeout): bounds every read
  // check (etcd bounds /health's by it; /readyz's by the request, which a
  // probe client's own timeout ends).
  std::chrono::milliseconds request_timeout{7000};
};

// Registers /health, /livez, /readyz and the per-check paths.
void RegisterHandlers(http::Router& router, Probes probes);

// --- pieces, exposed for tests ---

// Go's encoding/json string literal (with quotes): escapes `"`, `\`, control
// characters, and <, >, &, U+2028, U+2029 as json.Marshal does.
std::string GoJsonString(std::string_view s);

// http.Error's answer: `status`, text/plain, nosniff, body `text` + "\n".
void WriteGoError(http::ResponseWriter& w, int status, std::string_view text,
                  http::Headers extra = {});

}  // namespace etcdpp::health
