#!/usr/bin/python3
"""e2e: the HTTP observability surface on the client URL, with urllib: /health (body, exclude,
serializable, GET only), /livez and /readyz (verbose, exclude, per-check paths), /version and
/metrics (Prometheus text format, etcd's names and types, values that follow the member); and a
member of a 3-member cluster whose two peers are stopped: alive but not ready, /health false with
RAFT NO LEADER.

Validated against etcd 3.4 (ETCDPP_BIN=/usr/bin/etcd): 3.4 has no /livez and /readyz, no storage
field in /version and none of the 3.6-only metrics; those assertions are skipped there."""

import json
import os
import re
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402

HTTP_TIMEOUT = 30  # per request; a readyz without a leader answers after the request timeout
TEXT_PLAIN = "text/plain; charset=utf-8"


def http(member, path, method="GET"):
    """(status, headers as a lower-cased dict, body text) of one request to the client URL."""
    req = urllib.request.Request(member.client_url + path, method=method)
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """{family: {"type": t, "help": h, "samples": [(name, {labels}, float)]}}; asserts the
    text format's line grammar on the way."""
    fams = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            fams.setdefault(name, {"type": None, "help": help_text, "samples": []})
            continue
        if line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            fams.setdefault(name, {"type": None, "help": "", "samples": []})["type"] = typ
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = dict(LABEL.findall(m.group(3) or ""))
        name = m.group(1)
        fam = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[:-len(suffix)] in fams:
                fam = name[:-len(suffix)]
        fams.setdefault(fam, {"type": None, "help": "", "samples": []})
        fams[fam]["samples"].append((name, labels, float(m.group(4))))
    return fams


def value(fams, metric, **labels):
    fam = fams.get(metric)
    for suffix in ("_bucket", "_sum", "_count"):
        if fam is None and metric.endswith(suffix):
            fam = fams.get(metric[:-len(suffix)])
    if fam is None:
        return None
    for n, l, v in fam["samples"]:
        if n == metric and l == labels:
            return v
    return None


class HealthEndpointsTest(harness.SharedMemberTestCase):

    def test_health_ok(self):
        status, headers, body = http(self.m, "/health")
        self.assertEqual(status, 200, body)
        if harness.is_reference_34():
            self.assertEqual(body, '{"health":"true"}')  # 3.4: no reason field
        else:
            self.assertEqual(body, '{"health":"true","reason":""}')  # no trailing newline
        self.assertEqual(headers.get("content-type"), TEXT_PLAIN)

    def test_health_exclude_and_serializable(self):
        for q in ("?exclude=NOSPACE", "?exclude=NOSPACE&exclude=CORRUPT", "?serializable=true",
                  "?serializable=false"):
            status, _, body = http(self.m, "/health" + q)
            self.assertEqual(status, 200, q + ": " + body)
            self.assertEqual(json.loads(body)["health"], "true")

    def test_only_get(self):
        paths = ["/health"]
        if not harness.is_reference_34():
            paths += ["/livez", "/readyz", "/livez/serializable_read", "/readyz/non_learner",
                      "/version"]
        for path in paths:
            for method in ("POST", "PUT", "DELETE"):
                status, headers, body = http(self.m, path, method)
                self.assertEqual(status, 405, "%s %s: %s" % (method, path, body))
                self.assertEqual(headers.get("allow"), "GET")
                self.assertEqual(body, "Method Not Allowed\n")

    @unittest.skipIf(harness.is_reference_34(), "etcd 3.4 has no /livez and /readyz")
    def test_livez_readyz(self):
        for path in ("/livez", "/readyz", "/livez/serializable_read", "/readyz/data_corruption",
                     "/readyz/serializable_read", "/readyz/linearizable_read",
                     "/readyz/non_learner", "/readyz?exclude=linearizable_read",
                     "/readyz?exclude=no_such_check"):
            status, headers, body = http(self.m, path)
            self.assertEqual(status, 200, path + ": " + body)
            self.assertEqual(body, "ok\n", path)
            self.assertEqual(headers.get("content-type"), TEXT_PLAIN)
            self.assertEqual(headers.get("x-content-type-options"), "nosniff")
        # verbose: one line per check (etcd's order is map order: compare as sets), then ok.
        status, _, body = http(self.m, "/readyz?verbose")
        self.assertEqual(status, 200)
        lines = body.split("\n")
        self.assertEqual(lines[-2:], ["ok", ""])
        self.assertEqual(sorted(lines[:-2]), [
            "[+]data_corruption ok", "[+]linearizable_read ok", "[+]non_learner ok",
            "[+]serializable_read ok"])
        status, _, body = http(self.m, "/livez?verbose")
        self.assertEqual(body, "[+]serializable_read ok\nok\n")
        status, _, body = http(self.m, "/readyz?verbose&exclude=linearizable_read&exclude=non_learner")
        self.assertEqual(sorted(body.split("\n")[:-2]),
                         ["[+]data_corruption ok", "[+]serializable_read ok"])
        self.assertEqual(http(self.m, "/readyz/non_learner?verbose")[2], "[+]non_learner ok\nok\n")
        # Unknown checks have no path.
        self.assertEqual(http(self.m, "/readyz/leader")[0], 404)
        self.assertEqual(http(self.m, "/livez/linearizable_read")[0], 404)

    def test_version(self):
        status, headers, body = http(self.m, "/version")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("content-type"), "application/json")
        v = json.loads(body)
        if harness.is_reference_34():
            self.assertTrue(v["etcdserver"].startswith("3.4."), v)
            self.assertEqual(v["etcdcluster"], "3.4.0")
            return
        self.assertEqual(list(v.keys())[:3], ["etcdserver", "etcdcluster", "storage"])
        self.assertRegex(v["etcdserver"], r"^3\.6\.\d+$")
        self.assertEqual(v["etcdcluster"], "3.6.0")
        self.assertEqual(v["storage"], "3.6.0")
        if harness.is_etcdpp():
            self.assertRegex(v.get("etcdpp", ""), r"^\d+\.\d+\.\d+")

    def test_metrics(self):
        def scrape():
            status, headers, body = http(self.m, "/metrics")
            self.assertEqual(status, 200)
            self.assertTrue(headers.get("content-type", "").startswith("text/plain"), headers)
            return parse_metrics(body)

        self.ok("put", "metrics/warmup", "v")
        before = scrape()
        self.ok("put", "metrics/a", "1")
        self.ok("put", "metrics/b", "2")
        self.ok("get", "metrics/a")
        after = scrape()

        types = {
            "etcd_server_has_leader": "gauge", "etcd_server_is_leader": "gauge",
            "etcd_server_leader_changes_seen_total": "counter",
            "etcd_server_proposals_committed_total": "gauge",
            "etcd_server_proposals_applied_total": "gauge",
            "etcd_server_proposals_pending": "gauge",
            "etcd_server_proposals_failed_total": "counter",
            "etcd_server_slow_apply_total": "counter",
            "etcd_disk_wal_fsync_duration_seconds": "histogram",
            "etcd_disk_backend_commit_duration_seconds": "histogram",
            "etcd_mvcc_db_total_size_in_bytes": "gauge",
            "etcd_mvcc_db_total_size_in_use_in_bytes": "gauge",
            "etcd_debugging_mvcc_keys_total": "gauge",
            "etcd_mvcc_put_total": "counter", "etcd_mvcc_range_total": "counter",
            "etcd_mvcc_delete_total": "counter", "etcd_mvcc_txn_total": "counter",
            "etcd_server_id": "gauge", "etcd_server_version": "gauge",
            "grpc_server_started_total": "counter", "grpc_server_handled_total": "counter",
            "process_resident_memory_bytes": "gauge", "process_cpu_seconds_total": "counter",
            "process_open_fds": "gauge", "process_max_fds": "gauge",
            "process_start_time_seconds": "gauge", "process_virtual_memory_bytes": "gauge",
            "etcd_server_health_success": "counter", "etcd_server_health_failures": "counter",
        }
        if not harness.is_reference_34():
            types.update({"etcd_server_is_learner": "gauge", "etcd_cluster_version": "gauge",
                          "etcd_server_feature_enabled": "gauge"})
        for name, typ in types.items():
            self.assertIn(name, after, name)
            self.assertEqual(after[name]["type"], typ, name)

        self.assertEqual(value(after, "etcd_server_has_leader"), 1)
        self.assertEqual(value(after, "etcd_server_is_leader"), 1)
        self.assertGreaterEqual(value(after, "etcd_server_leader_changes_seen_total"), 1)
        self.assertEqual(value(after, "etcd_server_proposals_pending"), 0)
        self.assertGreaterEqual(value(after, "etcd_server_proposals_committed_total") -
                                value(before, "etcd_server_proposals_committed_total"), 2)
        self.assertGreaterEqual(value(after, "etcd_server_proposals_applied_total"),
                                value(before, "etcd_server_proposals_committed_total") + 2)
        self.assertEqual(value(after, "etcd_mvcc_put_total") -
                         value(before, "etcd_mvcc_put_total"), 2)
        self.assertGreater(value(after, "etcd_mvcc_db_total_size_in_bytes"), 0)
        self.assertGreater(value(after, "etcd_mvcc_db_total_size_in_use_in_bytes"), 0)
        self.assertGreaterEqual(value(after, "etcd_debugging_mvcc_keys_total"), 3)
        # The disk histograms: etcd's buckets (1 ms .. 8.192 s, then +Inf), and they move.
        for h in ("etcd_disk_wal_fsync_duration_seconds",
                  "etcd_disk_backend_commit_duration_seconds"):
            les = [l["le"] for n, l, _ in after[h]["samples"] if n == h + "_bucket"]
            self.assertEqual(les, ["0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064",
                                   "0.128", "0.256", "0.512", "1.024", "2.048", "4.096", "8.192",
                                   "+Inf"])
            # The backend commits in batches (etcd: every 100 ms): poll for the next one.
            deadline = time.monotonic() + 10
            latest = after
            while value(latest, h + "_count") <= value(before, h + "_count"):
                self.assertLess(time.monotonic(), deadline, h + " never observed")
                time.sleep(0.1)  # polling interval
                latest = scrape()
        # gRPC by method and code.
        put_ok = dict(grpc_code="OK", grpc_method="Put", grpc_service="etcdserverpb.KV",
                      grpc_type="unary")
        self.assertEqual(value(after, "grpc_server_handled_total", **put_ok) -
                         value(before, "grpc_server_handled_total", **put_ok), 2)
        self.assertEqual(value(after, "grpc_server_handled_total",
                               **dict(put_ok, grpc_method="Compact")), 0)  # zero at start
        # The process collector's numbers are plausible.
        self.assertGreater(value(after, "process_resident_memory_bytes"), 1 << 20)
        self.assertGreater(value(after, "process_open_fds"), 3)
        self.assertLess(abs(value(after, "process_start_time_seconds") - time.time()), 86400)
        if not harness.is_reference_34():
            self.assertEqual(value(after, "etcd_cluster_version", cluster_version="3.6"), 1)
            self.assertEqual(value(after, "etcd_server_feature_enabled",
                                   name="TxnModeWriteWithSharedBuffer", stage="BETA"), 1)
            self.assertEqual(value(after, "etcd_server_feature_enabled",
                                   name="StopGRPCServiceOnDefrag", stage="ALPHA"), 0)
            self.assertEqual(value(after, "etcd_server_is_learner"), 0)

    def test_health_counters(self):
        def count(name):
            return value(parse_metrics(http(self.m, "/metrics")[2]), name)
        ok_before = count("etcd_server_health_success")
        http(self.m, "/health")
        http(self.m, "/health")
        self.assertEqual(count("etcd_server_health_success") - ok_before, 2)


class NoLeaderTest(cluster.ClusterTestCase):

    def test_member_without_leader_is_alive_but_not_ready(self):
        c = self.new_cluster(3)
        c.wait_leader()
        survivor = c.members[0]
        self.assertEqual(http(survivor, "/health")[0], 200)
        c.stop(1)
        c.stop(2)
        # The survivor loses its leader (a follower's pre-vote, or a leader's check-quorum,
        # after an election timeout); /health says so. Until then a read may time out instead
        # ("RANGE ERROR:etcdserver: request timed out"): keep asking.
        deadline = time.monotonic() + 60
        while True:
            status, headers, body = http(survivor, "/health")
            if status == 503 and "RANGE ERROR" not in body:
                break
            self.assertLess(time.monotonic(), deadline, "no RAFT NO LEADER yet: " + body)
            time.sleep(0.2)  # polling interval
        if harness.is_reference_34():
            self.assertEqual(body, '{"health":"false"}\n')  # 3.4: no reason field
        else:
            self.assertEqual(body, '{"health":"false","reason":"RAFT NO LEADER"}\n')
        self.assertEqual(headers.get("content-type"), TEXT_PLAIN)
        # A local read still works.
        status, _, body = http(survivor, "/health?serializable=true")
        if not harness.is_reference_34():  # 3.4 has no serializable parameter
            self.assertEqual(status, 200, body)
        fams = parse_metrics(http(survivor, "/metrics")[2])
        self.assertEqual(value(fams, "etcd_server_has_leader"), 0)
        self.assertEqual(value(fams, "etcd_server_is_leader"), 0)
        self.assertGreaterEqual(value(fams, "etcd_server_health_failures"), 1)
        if harness.is_reference_34():
            return
        # Alive...
        status, _, body = http(survivor, "/livez?verbose")
        self.assertEqual((status, body), (200, "[+]serializable_read ok\nok\n"))
        # ...but not ready: the linearizable read fails (after the request timeout).
        status, headers, body = http(survivor, "/readyz")
        self.assertEqual(status, 503, body)
        self.assertEqual(headers.get("content-type"), TEXT_PLAIN)
        self.assertTrue(body.endswith("\n\n"), repr(body))
        lines = sorted(body[:-2].split("\n"))  # "[+]" sorts before "[-]"
        self.assertEqual(lines[:3], ["[+]data_corruption ok", "[+]non_learner ok",
                                     "[+]serializable_read ok"])
        self.assertTrue(lines[3].startswith("[-]linearizable_read failed: "), lines)
        self.assertEqual(http(survivor, "/readyz?exclude=linearizable_read")[0:3:2],
                         (200, "ok\n"))
        status, _, body = http(survivor, "/readyz/linearizable_read")
        self.assertEqual(status, 503)
        self.assertTrue(body.startswith("[-]linearizable_read failed: "), body)
        fams = parse_metrics(http(survivor, "/metrics")[2])
        self.assertEqual(value(fams, "etcd_server_healthcheck", name="linearizable_read",
                               type="readyz"), 0)
        self.assertGreaterEqual(value(fams, "etcd_server_healthchecks_total",
                                      name="linearizable_read", status="error", type="readyz"), 2)


if __name__ == "__main__":
    harness.main()
