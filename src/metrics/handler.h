// GET /metrics: the registry in the Prometheus text format.
#pragma once

#include "http/http.h"
#include "metrics/metrics.h"

namespace etcdpp::metrics {

// The handler alone (for a router the caller builds itself).
http::Handler MetricsHandler(Registry& r = Default());

// Registers GET /metrics on `router`, serving `r` (the process registry by
// default, with the process_* collector added).
void RegisterHandler(http::Router& router, Registry& r = Default());

}  // namespace etcdpp::metrics
