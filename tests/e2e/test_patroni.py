#!/usr/bin/python3
"""e2e acceptance: Patroni (Debian's `patroni` 3.0.x, etcd3 DCS, which speaks the JSON gateway
under /v3) runs real PostgreSQL 15 against a 3-member cluster of the server under test.

- bootstrap: one Patroni node initialises a primary; its leader key `/service/<scope>/leader`
  holds the node name, is attached to a lease that Patroni keeps alive (the key outlives the
  lease TTL with the same lease, and the lease never runs out), `patronictl list` shows the
  Leader; a clean stop (SIGTERM) of Patroni deletes the leader key.
- failover: primary + replica (pg_basebackup, streaming); after kill -9 of the primary's Patroni
  and all its PostgreSQL processes the lease expires, the leader key goes away, and the replica
  takes the leader key and is promoted (patronictl, the leader key, pg_is_in_recovery(), data
  written before the crash, a new write).

Timings: ttl 10, loop_wait 1, retry_timeout 4 (pgha.py). Skipped only when Patroni or
PostgreSQL 15 is not installed (scripts/build.sh installs them).
E2E_PATRONI_CAPTURE=<file>: Patroni talks to the members through logging proxies
(httpcapture.py, `use_proxies: true`) and a summary of every HTTP request it made is written to
<file> at the end, every exchange as JSON lines to <file>.jsonl.
"""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402
import httpcapture  # noqa: E402
import pgha  # noqa: E402

MISSING = pgha.missing_prerequisites()
CAPTURE = os.environ.get("E2E_PATRONI_CAPTURE")


@unittest.skipIf(MISSING, "not installed: " + ", ".join(MISSING))
class PatroniTest(harness.MemberTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.etcd = cluster.Cluster(3, proxy=False)
        cls.proxies = []
        try:
            cls.etcd.start()
            cls._check_version_endpoint()
            if CAPTURE:
                cls.proxies = [httpcapture.CaptureProxy(m.client_port) for m in cls.etcd.members]
        except BaseException:
            cls._teardown_etcd()
            raise

    @classmethod
    def _check_version_endpoint(cls):
        """Fails at once (instead of Patroni waiting on etcd for minutes) when the server does
        not answer GET /version as Patroni needs it: JSON with dotted-integer versions."""
        url = cls.etcd.members[0].client_url + "/version"
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                v = json.loads(r.read())
            for k in ("etcdserver", "etcdcluster"):
                tuple(int(x) for x in v[k].split("."))
        except Exception as e:
            raise AssertionError("GET %s does not give what Patroni needs (JSON with numeric "
                                 "etcdserver and etcdcluster): %r" % (url, e))

    @classmethod
    def _teardown_etcd(cls):
        for p in cls.proxies:
            p.close()
        if CAPTURE and cls.proxies:
            with open(CAPTURE, "w") as f:
                f.write(httpcapture.summarize(cls.proxies, limit=600) + "\n")
            httpcapture.dump_jsonl(cls.proxies, CAPTURE + ".jsonl")
            sys.stderr.write("e2e: Patroni's HTTP requests written to %s\n" % CAPTURE)
        cls.proxies = []
        cls.etcd.cleanup()

    @classmethod
    def tearDownClass(cls):
        cls._teardown_etcd()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.tmpdir = tempfile.mkdtemp(prefix="etcdpp-e2e-patroni-")
        uid, gid = pgha.run_as()
        os.chown(self.tmpdir, uid, gid)
        self.nodes = []
        # Cleanups run last-in first-out: nodes are killed before their directory goes.
        self.addCleanup(shutil.rmtree, self.tmpdir, ignore_errors=True)
        self.addCleanup(self._cleanup_nodes)

    def _cleanup_nodes(self):
        for n in self.nodes:
            self._log_snapshots.append(n.log_tail(80))
            n.cleanup()
        self._log_snapshots.append(self.etcd.log_tails(40))

    # ---- helpers ----

    def new_node(self, name, scope):
        if self.proxies:
            hosts, use_proxies = [p.hostport for p in self.proxies], True
        else:
            hosts, use_proxies = [m.endpoint for m in self.etcd.members], False
        n = pgha.PatroniNode(self.tmpdir, name, scope, hosts, use_proxies=use_proxies)
        self.nodes.append(n)
        return n

    def get_key(self, key):
        """(value, lease) of key read with etcdctl through any member, or (None, None)."""
        r = self.etcd.etcdctl_retry(0, "get", key, "-w", "json",
                                    endpoints=self.etcd.endpoints())
        self.assertEqual(r.rc, 0, r)
        kvs = json.loads(r.stdout).get("kvs", [])
        if not kvs:
            return None, None
        return harness.unb64(kvs[0].get("value")).decode(), kvs[0].get("lease", 0)

    def lease_ttl(self, lease):
        """(remaining ttl, granted ttl) of a lease via `etcdctl lease timetolive`."""
        r = self.etcd.etcdctl_retry(0, "lease", "timetolive", "%x" % lease, "-w", "json",
                                    endpoints=self.etcd.endpoints())
        self.assertEqual(r.rc, 0, r)
        j = json.loads(r.stdout)
        return j.get("ttl", 0), j.get("granted-ttl", 0)

    def wait_leader_key(self, scope, name, timeout=90):
        key = "/service/%s/leader" % scope
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.get_key(key)
            if last[0] == name:
                return last
            time.sleep(0.2)  # polling interval
        self.fail("leader key %s is %r, not %r, after %ds" % (key, last, name, timeout))

    def patronictl_members(self, node):
        """`patronictl list -f json` as {member name: row}."""
        r = node.patronictl("list", "-f", "json")
        self.assertEqual(r.rc, 0, r)
        return {row["Member"]: row for row in json.loads(r.stdout)}

    def wait_patronictl(self, node, pred, what, timeout=60):
        deadline = time.monotonic() + timeout
        rows = None
        while time.monotonic() < deadline:
            rows = self.patronictl_members(node)
            if pred(rows):
                return rows
            time.sleep(0.5)  # polling interval (each patronictl run is a Python start-up)
        self.fail("patronictl list: %s not seen after %ds; last: %r" % (what, timeout, rows))

    def wait_sql(self, node, sql, expected, timeout=60):
        deadline = time.monotonic() + timeout
        r = None
        while time.monotonic() < deadline:
            r = node.psql(sql)
            if r.rc == 0 and r.out.strip() == expected:
                return
            time.sleep(0.2)  # polling interval
        self.fail("%s on %s: wanted %r, last %r" % (sql, node.name, expected, r))

    # ---- tests ----

    def test_bootstrap_leader_key_kept_alive_and_patronictl_list(self):
        scope = "e2e-boot-%d" % os.getpid()
        a = self.new_node("a", scope).start()
        a.wait_role(("master", "primary"))
        value, lease = self.wait_leader_key(scope, "a")
        self.assertNotEqual(lease, 0, "the leader key must be attached to a lease")

        # Kept alive: for longer than the lease TTL the key stays, with the same lease, whose
        # remaining TTL never reaches 0 (Patroni refreshes it every loop_wait; without that it
        # would have expired after `granted` seconds).
        remaining, granted = self.lease_ttl(lease)
        self.assertEqual(granted, pgha.TTL)
        self.assertGreater(remaining, 0)
        start = time.monotonic()
        while time.monotonic() - start < granted + 2:
            self.assertEqual(self.get_key("/service/%s/leader" % scope), ("a", lease))
            remaining, _ = self.lease_ttl(lease)
            self.assertGreater(remaining, 0)
            time.sleep(0.3)  # polling interval

        # The other keys Patroni keeps in the DCS.
        self.assertIsNotNone(self.get_key("/service/%s/initialize" % scope)[0])
        member, member_lease = self.get_key("/service/%s/members/a" % scope)
        self.assertEqual(json.loads(member)["role"] in ("master", "primary"), True, member)
        self.assertEqual(member_lease, lease)
        config, _ = self.get_key("/service/%s/config" % scope)
        self.assertEqual(json.loads(config)["ttl"], pgha.TTL)

        rows = self.patronictl_members(a)
        self.assertEqual(rows["a"]["Role"], "Leader", rows)
        self.assertEqual(rows["a"]["State"], "running", rows)
        self.assertEqual(rows["a"]["Cluster"], scope, rows)
        r = a.patronictl("list")  # the human table, as an operator sees it
        self.assertEqual(r.rc, 0, r)
        self.assertIn("| a ", r.out)
        self.assertIn("Leader", r.out)

        r = a.psql("create table boot(x int); insert into boot values (1); select count(*) "
                   "from boot")
        self.assertEqual((r.rc, r.out.strip()), (0, "1"), r)

        # A clean stop of the primary releases the leader key at once (a txn: compare the key's
        # mod revision, delete it), without waiting for the lease to expire.
        self.assertEqual(a.stop(), 0, a.log_tail())
        self.assertEqual(self.get_key("/service/%s/leader" % scope), (None, None))

    def test_failover_after_kill9_of_the_primary(self):
        scope = "e2e-fail-%d" % os.getpid()
        a = self.new_node("a", scope).start()
        a.wait_role(("master", "primary"))
        self.wait_leader_key(scope, "a")
        b = self.new_node("b", scope).start()
        b.wait_role("replica")
        r = a.psql("create table t(x int); insert into t select generate_series(1, 100)")
        self.assertEqual(r.rc, 0, r)
        self.wait_sql(b, "select count(*) from t", "100")
        self.wait_sql(b, "select pg_is_in_recovery()", "t")
        self.wait_patronictl(
            b, lambda rows: rows.get("a", {}).get("Role") == "Leader" and
            rows.get("b", {}).get("Role") == "Replica" and
            rows.get("b", {}).get("State") in ("running", "streaming"),
            "a Leader and b Replica")
        _, old_lease = self.get_key("/service/%s/leader" % scope)

        killed_at = time.monotonic()
        a.kill9()
        # The old leader's lease expires (nobody keeps it alive any more); b takes the key.
        value, new_lease = self.wait_leader_key(scope, "b", timeout=120)
        took = time.monotonic() - killed_at
        self.assertNotEqual(new_lease, old_lease)
        self.assertNotEqual(new_lease, 0)
        b.wait_role(("master", "primary"), timeout=120)
        self.wait_sql(b, "select pg_is_in_recovery()", "f")
        self.wait_sql(b, "select count(*) from t", "100")
        r = b.psql("insert into t values (101); select count(*) from t")
        self.assertEqual((r.rc, r.out.strip()), (0, "101"), r)
        rows = self.wait_patronictl(
            b, lambda rows: rows.get("b", {}).get("Role") == "Leader" and
            rows.get("b", {}).get("State") == "running", "b Leader")
        # a's member key was on the expired lease too: a is no longer listed.
        self.assertNotIn("a", rows)
        # The old lease is gone: etcd reports a revoked/expired lease with ttl -1.
        remaining, _ = self.lease_ttl(old_lease)
        self.assertEqual(remaining, -1)
        sys.stderr.write("e2e: failover took %.1fs after kill -9 (ttl %d)\n" % (took, pgha.TTL))


if __name__ == "__main__":
    harness.main()
