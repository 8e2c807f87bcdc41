#include "metrics/handler.h"

#include "metrics/etcd_metrics.h"
#include "metrics/process.h"

namespace etcdpp::metrics {

http::Handler MetricsHandler(Registry& r) {
  RegisterProcessCollector(r);
  // etcd's families are visible (at zero) from the first scrape on.
  if (&r == &Default()) Etcd();
  return [&r](const http::Request& req, http::ResponseWriter& w) {
    // promhttp answers any method; so do we (scrapers only GET).
    w.Send(200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}, r.Expose());
  };
}

void RegisterHandler(http::Router& router, Registry& r) {
  router.Handle("/metrics", MetricsHandler(r));
}

}  // namespace etcdpp::metrics
