#include "health/health.h"

#include <memory>
#include <set>

#include "common/log.h"
#include "metrics/etcd_metrics.h"

namespace etcdpp::health {
namespace {

constexpr const char* kTextPlain = "text/plain; charset=utf-8";

// A check of /livez or /readyz: OK, or the error printed after "failed: ".
using Check = std::function<Status()>;

struct NamedCheck {
  std::string name;
  Check run;
};

// Go's url.Values: "exclude" values, empty ones skipped (etcd getQuerySet).
std::set<std::string> QuerySet(const http::Request& r, const std::string& key) {
  std::set<std::string> out;
  auto params = r.QueryParams();
  if (auto it = params.find(key); it != params.end()) {
    for (const auto& v : it->second)
      if (!v.empty()) out.insert(v);
  }
  return out;
}

bool RejectNonGet(const http::Request& r, http::ResponseWriter& w) {
  if (r.method == "GET") return false;
  WriteGoError(w, 405, "Method Not Allowed", {{"Allow", "GET"}});
  LOG_WARN("Health request error", {"path", r.path}, {"status-code", 405});
  return true;
}

const char* AlarmReason(etcdserverpb::AlarmType t) {
  switch (t) {
    case etcdserverpb::NOSPACE:
      return "ALARM NOSPACE";
    case etcdserverpb::CORRUPT:
      return "ALARM CORRUPT";
    default:
      return "ALARM UNKNOWN";
  }
}

// /health: alarms, then the leader, then a Range; the first failure is the
// reason (etcd api/etcdhttp/health.go).
std::string HealthReason(const Probes& p, const std::set<std::string>& excluded,
                         bool serializable) {
  for (const auto& a : p.alarms()) {
    if (excluded.count(etcdserverpb::AlarmType_Name(a.alarm()))) continue;
    LOG_WARN("serving /health false due to an alarm",
             {"alarm", etcdserverpb::AlarmType_Name(a.alarm())});
    return AlarmReason(a.alarm());
  }
  if (!serializable && p.leader() == 0) {
    LOG_WARN("serving /health false; no leader", {"serializable", serializable});
    return "RAFT NO LEADER";
  }
  Status st = p.range(serializable, p.request_timeout);
  if (!st.ok()) {
    LOG_WARN("serving /health false; Range fails", {"error", st.message()});
    return "RANGE ERROR:" + st.message();  // no space after the colon, as etcd
  }
  return "";
}

void ServeHealth(const Probes& p, const http::Request& r, http::ResponseWriter& w) {
  if (RejectNonGet(r, w)) return;
  auto params = r.QueryParams();
  // Go's Query().Get: the first value.
  bool serializable = false;
  if (auto it = params.find("serializable"); it != params.end() && !it->second.empty()) {
    serializable = it->second.front() == "true";
  }
  std::string reason = HealthReason(p, QuerySet(r, "exclude"), serializable);
  bool ok = reason.empty();
  std::string body = std::string("{\"health\":") + (ok ? "\"true\"" : "\"false\"") +
                     ",\"reason\":" + GoJsonString(reason) + "}";
  if (ok) {
    metrics::Etcd().health_success.Inc();
    // Go sniffs the JSON body's type as text/plain; no trailing newline.
    w.Send(200, {{"Content-Type", kTextPlain}}, std::move(body));
    return;
  }
  metrics::Etcd().health_failures.Inc();
  WriteGoError(w, 503, body);
}

// Runs `checks` in order, recording each one's metrics; returns whether all
// passed and the "[+]name ok\n" / "[-]name failed: err\n" lines.
bool RunChecks(const std::string& type, const std::vector<const NamedCheck*>& checks,
               std::string* lines) {
  bool ok = true;
  metrics::EtcdMetrics& m = metrics::Etcd();
  for (const NamedCheck* c : checks) {
    Status st = c->run();
    const char* status = st.ok() ? "success" : "error";
    if (st.ok()) {
      *lines += "[+]" + c->name + " ok\n";
    } else {
      ok = false;
      *lines += "[-]" + c->name + " failed: " + st.message() + "\n";
    }
    m.healthcheck.With({type, c->name}).Set(st.ok() ? 1 : 0);
    m.healthchecks_total.With({type, c->name, status}).Inc();
  }
  return ok;
}

void Answer(const http::Request& r, http::ResponseWriter& w, bool ok, const std::string& lines) {
  if (!ok) {
    // Failures always list every check run, then http.Error's newline.
    LOG_ERROR("Health check error", {"path", r.path}, {"reason", lines}, {"status-code", 503});
    WriteGoError(w, 503, lines);
    return;
  }
  bool verbose = r.QueryParams().count("verbose") > 0;  // presence only
  w.Send(200, {{"Content-Type", kTextPlain}, {"X-Content-Type-Options", "nosniff"}},
         (verbose ? lines : std::string()) + "ok\n");
}

void RegisterRegistry(http::Router& router, const std::string& type,
                      std::shared_ptr<const std::vector<NamedCheck>> checks) {
  const std::string root = "/" + type;
  router.Handle(root, [type, checks](const http::Request& r, http::ResponseWriter& w) {
    if (RejectNonGet(r, w)) return;
    std::set<std::string> excluded = QuerySet(r, "exclude");
    std::vector<const NamedCheck*> run;
    for (const auto& c : *checks) {
      if (excluded.erase(c.name) > 0) continue;
      run.push_back(&c);
    }
    if (!excluded.empty()) {
      // Unknown names do not fail the request (version compatibility).
      std::vector<std::string> missing(excluded.begin(), excluded.end());
      LOG_WARN("some health checks cannot be excluded", {"missing-health-checks", missing});
    }
    std::string lines;
    bool ok = RunChecks(type, run, &lines);
    Answer(r, w, ok, lines);
  });
  for (const auto& c : *checks) {
    const NamedCheck* one = &c;
    router.Handle(root + "/" + c.name,
                  [type, checks, one](const http::Request& r, http::ResponseWriter& w) {
                    if (RejectNonGet(r, w)) return;
                    std::string lines;
                    bool ok = RunChecks(type, {one}, &lines);
                    Answer(r, w, ok, lines);
                  });
  }
}

}  // namespace

std::string GoJsonString(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
      continue;
    }
    // U+2028 / U+2029 (E2 80 A8 / E2 80 A9) break JavaScript; Go escapes them.
    if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
      continue;
    }
    out.push_back(static_cast<char>(c));
  }
  out += "\"";
  return out;
}

void WriteGoError(http::ResponseWriter& w, int status, std::string_view text, http::Headers extra) {
  http::Headers h = std::move(extra);
  h.emplace_back("Content-Type", kTextPlain);
  h.emplace_back("X-Content-Type-Options", "nosniff");
  std::string body(text);
  body.push_back('\n');  // http.Error uses Fprintln
  w.Send(status, std::move(h), std::move(body));
}

void RegisterHandlers(http::Router& router, Probes probes) {
  auto p = std::make_shared<const Probes>(std::move(probes));
  router.Handle("/health",
                [p](const http::Request& r, http::ResponseWriter& w) { ServeHealth(*p, r, w); });

  auto serializable_read = [p]() { return p->range(true, p->request_timeout); };
  auto livez = std::make_shared<const std::vector<NamedCheck>>(
      std::vector<NamedCheck>{{"serializable_read", serializable_read}});
  RegisterRegistry(router, "livez", livez);

  auto readyz = std::make_shared<const std::vector<NamedCheck>>(std::vector<NamedCheck>{
      {"data_corruption",
       [p]() {
         for (const auto& a : p->alarms()) {
           if (a.alarm() == etcdserverpb::CORRUPT) {
             return Status(Code::kDataLoss, "alarm activated: CORRUPT");
           }
         }
         return Status::OK();
       }},
      // Both reads: a local failure and a consensus failure read differently.
      {"serializable_read", serializable_read},
      {"linearizable_read", [p]() { return p->range(false, p->request_timeout); }},
      {"non_learner",
       [p]() {
         return p->is_learner() ? Status::Unavailable("not supported for learner") : Status::OK();
       }},
  });
  RegisterRegistry(router, "readyz", readyz);
}

}  // namespace etcdpp::health
