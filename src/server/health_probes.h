// What the HTTP observability endpoints need from a running member:
// the probes of /health, /livez and /readyz, the /version info, and the
// member's state as metrics (computed at scrape time).
//
// Wiring (the lead's http routes; `s` outlives the routers and the handle):
//   health::RegisterHandlers(router, server::MakeHealthProbes(s));
//   health::RegisterVersionHandler(router, server::MakeVersionInfo(s));
//   metrics::RegisterHandler(router);
//   metrics::Registration m = server::RegisterServerMetrics(s);  // keep while s lives
#pragma once

#include "health/health.h"
#include "health/version.h"
#include "metrics/metrics.h"

namespace etcdpp::server {

class EtcdServer;

health::Probes MakeHealthProbes(EtcdServer* s);
health::VersionInfo MakeVersionInfo(EtcdServer* s);

// Registers the member-state collector in metrics::Default() (commit and
// applied index, pending proposals, db sizes, revisions, keys, watchers,
// quota, known peers, learner) and sets the constant series once
// (etcd_server_id, etcd_server_version, etcd_cluster_version,
// etcd_server_feature_enabled, the slow-apply threshold). Unregistered when
// the returned handle dies: drop it before `s` is destroyed.
[[nodiscard]] metrics::Registration RegisterServerMetrics(EtcdServer* s);

}  // namespace etcdpp::server
