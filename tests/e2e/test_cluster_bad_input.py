#!/usr/bin/python3
"""e2e: bad cluster bootstrap input, and --force-new-cluster.

Expected behaviour (checked against etcd 3.4.23; the texts come from etcd code that 3.6 keeps):
  * joining with --initial-cluster-state existing while not added (`member add`) first, or with
    an --initial-cluster whose member count differs from the cluster's: exit non-zero, log
    `member count is unequal` (etcd: "error validating peerURLs {...}: member count is unequal")
  * added first, but --initial-cluster gives another member a wrong peer URL: exit non-zero, log
    `PeerURLs: no match found for existing member`
  * --initial-cluster-state new with the right members but a wrong --initial-cluster-token: the
    process keeps running but is refused by the cluster (different cluster ID): it never serves
    a linearizable read, and `cluster ID mismatch` is logged (by it or by the members)
  * --initial-cluster naming this member twice (x=A,x=B while advertising A): exit non-zero with
    `--initial-cluster has x=... but missing from --initial-advertise-peer-urls=...`
  * two names with the same peer URL: exit non-zero with `has duplicate url`
  * --force-new-cluster on the last survivor of 3 members: a 1-member cluster with all the data
"""

import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402


class ClusterBadInputTest(cluster.ClusterTestCase):

    def exits(self, m, timeout=60):
        """Spawns m and waits for it to exit by itself; returns (exit code, its output)."""
        shutil.rmtree(m.data_dir, ignore_errors=True)
        m.spawn()
        try:
            rc = m.proc.wait(timeout)
        except Exception:
            self.fail("%s still running after %.0fs; expected a refusal\n%s" % (
                m.name, timeout, m.log_tail(40)))
        m._reap()
        return rc, m.server_output()

    def test_join_with_wrong_initial_cluster_is_refused(self):
        c = self.new_cluster(3)
        c.wait_leader()
        x = c._new_member("x3")
        x.initial_state = "existing"

        # Not added first: the cluster has 3 members, our --initial-cluster lists 4.
        x.initial_cluster = c.initial_cluster()
        rc, out = self.exits(x)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("member count is unequal", out)

        # Mismatching list (fewer members than the cluster).
        x.initial_cluster = "m0=%s,x3=%s" % (c.members[0].adv_peer_url, x.adv_peer_url)
        rc, out = self.exits(x)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("member count is unequal", out)

        # Added, but our list has a wrong peer URL for m1.
        x.removed = True  # keep it out of c.initial_cluster() below
        r = c.etcdctl(0, "member", "add", "x3", "--peer-urls=" + x.adv_peer_url)
        deadline = time.monotonic() + 60
        while r.rc != 0 and "unhealthy cluster" in r.err and time.monotonic() < deadline:
            time.sleep(0.2)  # polling interval (strict reconfig check right after start)
            r = c.etcdctl(0, "member", "add", "x3", "--peer-urls=" + x.adv_peer_url)
        self.assertEqual(r.rc, 0, r)
        c.wait_listed(x.adv_peer_url)
        wrong = "http://127.0.0.1:%d" % harness.free_port()
        x.initial_cluster = ",".join("%s=%s" % (m.name, wrong if m.name == "m1" else
                                                m.adv_peer_url) for m in c.members)
        rc, out = self.exits(x)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("PeerURLs: no match found for existing member", out)

        # The cluster is unharmed: x3 is still only "unstarted", the rest serves.
        lst = c.etcdctl_json(0, "member", "list")["members"]
        self.assertEqual(len(lst), 4, lst)
        self.assertEqual(sorted(m["name"] for m in lst if m.get("name")), ["m0", "m1", "m2"])
        self.assertEqual(c.etcdctl_retry(1, "put", "still", "ok").rc, 0)

    def test_wrong_token_is_refused_by_the_cluster(self):
        c = self.new_cluster(3)
        c.wait_leader()
        x = c._new_member("x3")
        x.initial_state = "new"
        x.token = "not-" + c.token
        x.initial_cluster = c.initial_cluster()
        x.spawn()
        deadline = time.monotonic() + 60
        logs = ""
        while time.monotonic() < deadline:
            logs = x.server_output() + "".join(m.server_output() for m in c.members[:3])
            if "cluster ID mismatch" in logs:
                break
            self.assertTrue(x.alive() or x.proc.returncode != 0, x.log_tail(40))
            time.sleep(0.1)  # polling interval
        self.assertIn("cluster ID mismatch", logs)
        # Refused: no leader for it, so no linearizable read (or it already exited non-zero).
        if x.alive():
            self.assertIsNotNone(x.probe())
        else:
            self.assertNotEqual(x.proc.returncode, 0)
        x.kill9()
        # The cluster still has its 3 members and serves.
        lst = c.etcdctl_json(0, "member", "list")["members"]
        self.assertEqual(sorted(m["name"] for m in lst), ["m0", "m1", "m2"])
        self.assertEqual(c.etcdctl_retry(2, "put", "still", "ok").rc, 0)

    def test_duplicate_name_or_url_in_initial_cluster_fails(self):
        c = cluster.Cluster(1)
        self._clusters.append(c)
        m = c.members[0]
        other = "http://127.0.0.1:%d" % harness.free_port()
        m.initial_cluster = "m0=%s,m0=%s" % (m.adv_peer_url, other)
        rc, out = self.exits(m)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("but missing from --initial-advertise-peer-urls", out)
        self.assertIn("--initial-cluster has m0=", out)

        m.initial_cluster = "m0=%s,zz=%s" % (m.adv_peer_url, m.adv_peer_url)
        rc, out = self.exits(m)
        self.assertNotEqual(rc, 0, out)
        self.assertIn("has duplicate url", out)

    def test_force_new_cluster_on_last_survivor(self):
        c = self.new_cluster(3)
        for i in range(20):
            self.assertEqual(c.etcdctl_retry(i % 3, "put", "fnc/%02d" % i, "v%d" % i).rc, 0)
        before = c.etcdctl_json(0, "get", "--prefix", "fnc/")
        old_ids = {m["ID"] for m in c.etcdctl_json(0, "member", "list")["members"]}
        c.kill9(1)
        c.kill9(2)
        c.stop(0)
        m0 = c.members[0]
        m0.extra_args.append("--force-new-cluster")
        c.restart(0)
        lst = c.etcdctl_json(0, "member", "list")["members"]
        self.assertEqual([m["name"] for m in lst], ["m0"], lst)
        self.assertIn(lst[0]["ID"], old_ids)  # keeps its member ID
        after = c.etcdctl_json(0, "get", "--prefix", "fnc/")
        self.assertEqual(after["kvs"], before["kvs"])
        self.assertEqual(c.etcdctl_retry(0, "put", "fnc/new", "x").rc, 0)
        # And it stays a 1-member cluster when restarted without the flag.
        m0.extra_args.remove("--force-new-cluster")
        c.restart(0)
        lst = c.etcdctl_json(0, "member", "list")["members"]
        self.assertEqual([m["name"] for m in lst], ["m0"], lst)
        self.assertEqual(c.etcdctl(0, "get", "fnc/new", "--print-value-only").out, "x\n")


if __name__ == "__main__":
    harness.main()
