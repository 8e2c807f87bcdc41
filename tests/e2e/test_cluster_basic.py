#!/usr/bin/python3
"""e2e, 3-member clusters: reads and writes through every member, member list, endpoint
status/health --cluster, response headers; full-cluster restart (SIGTERM) and kill -9 of every
member during writes. Flags: see cluster.py (no extra ones)."""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402
from harness import unb64  # noqa: E402


class ClusterBasicTest(cluster.ClusterTestCase):

    def ok(self, c, i, *args, **kw):
        r = c.etcdctl_retry(i, *args, **kw)
        self.assertEqual(r.rc, 0, r)
        return r

    def test_reads_and_writes_through_every_member(self):
        c = self.new_cluster(3)
        for i in range(3):
            self.assertEqual(self.ok(c, i, "put", "rw/k%d" % i, "v%d" % i).out, "OK\n")
        expected = "".join("rw/k%d\nv%d\n" % (i, i) for i in range(3))
        for i in range(3):
            # Linearizable first: afterwards member i has applied every put, so its serializable
            # (local) read must see them too.
            self.assertEqual(self.ok(c, i, "get", "--prefix", "rw/").out, expected)
            self.assertEqual(self.ok(c, i, "get", "--prefix", "rw/", "--consistency=s").out,
                             expected)
        # Same revision everywhere once idle: 3 puts after the same starting revision.
        revs = set()
        for i in range(3):
            resp = c.etcdctl_json(i, "get", "rw/k0")
            revs.add(resp["header"]["revision"])
        self.assertEqual(len(revs), 1, revs)

    def test_move_leader(self):
        """etcdctl move-leader (Maintenance.MoveLeader on the leader): leadership goes to the
        named voter in a new term; an unknown member is etcd's bad transferee."""
        c = self.new_cluster(3)
        old = c.wait_leader()
        c.learn_ids()
        old_term = c.members[old].status().raftTerm
        target = (old + 1) % 3
        tid = "%x" % c.members[target].member_id
        r = c.etcdctl(0, "move-leader", tid, endpoints=c.endpoints())
        self.assertEqual(r.rc, 0, r)
        self.assertIn("Leadership transferred from %x to %s" % (c.members[old].member_id, tid),
                      r.out, r)
        deadline = time.monotonic() + 30
        while c.leader() != target:
            self.assertLess(time.monotonic(), deadline, "leader did not move to %d" % target)
            time.sleep(0.05)  # polling interval
        # The new leader's first entry is applied in its own (higher) term.
        self.ok(c, target, "put", "ml/after", "x")
        self.assertGreater(c.members[target].status().raftTerm, old_term)
        r = c.etcdctl(0, "move-leader", "123456789abcdef", endpoints=c.endpoints())
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("etcdserver: bad leader transferee", r.err, r)

    def test_member_list_status_health_and_headers(self):
        c = self.new_cluster(3)
        deadline = time.monotonic() + 30
        while True:
            lst = c.etcdctl_json(1, "member", "list")
            published = [m for m in lst["members"] if m.get("name") and m.get("clientURLs")]
            if len(published) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # polling interval
        members = sorted(lst["members"], key=lambda m: m["name"])
        self.assertEqual([m["name"] for m in members], ["m0", "m1", "m2"], lst)
        for m, cm in zip(members, c.members):
            self.assertEqual(m["peerURLs"], [cm.adv_peer_url], lst)
            self.assertEqual(m["clientURLs"], [cm.client_url], lst)
            self.assertFalse(m.get("isLearner", False), lst)
        ids = {m["ID"] for m in members}
        self.assertEqual(len(ids), 3)
        # Simple format: "<hex id>, started, <name>, <peer urls>, <client urls>, <is learner>"
        lines = sorted(self.ok(c, 0, "member", "list").out.splitlines(),
                       key=lambda line: line.split(", ")[2])
        self.assertEqual(len(lines), 3, lines)
        for line, cm in zip(lines, c.members):
            fields = line.split(", ")
            self.assertEqual(fields[1:], ["started", cm.name, cm.adv_peer_url, cm.client_url,
                                          "false"], line)
            self.assertIn(int(fields[0], 16), ids)

        # endpoint status --cluster: every member answers (endpoints from member list), one
        # leader that all agree on, equal terms. A spurious election on a busy machine can make
        # one poll disagree, so poll until stable.
        deadline = time.monotonic() + 30
        while True:
            r = c.etcdctl(0, "endpoint", "status", "--cluster", "-w", "json")
            self.assertEqual(r.rc, 0, r)
            st = json.loads(r.stdout)
            self.assertEqual(sorted(e["Endpoint"] for e in st),
                             sorted(cm.client_url for cm in c.members), st)
            leaders = {e["Status"]["leader"] for e in st}
            terms = {e["Status"]["raftTerm"] for e in st}
            if (len(leaders) == 1 and len(terms) == 1) or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # polling interval
        self.assertEqual(len(leaders), 1, st)
        self.assertEqual(len(terms), 1, st)
        leaders_seen = leaders.pop()
        self.assertIn(leaders_seen, ids)
        self.assertEqual(len({e["Status"]["header"]["cluster_id"] for e in st}), 1, st)
        self.assertEqual({e["Status"]["header"]["member_id"] for e in st}, ids, st)
        for e in st:
            self.assertEqual(e["Status"]["header"]["raft_term"], e["Status"]["raftTerm"], e)
            version = e["Status"]["version"]
            self.assertTrue(version.startswith("3.4." if harness.is_reference_34() else "3.6."),
                            version)

        # The harness's two leader views agree (gRPC Status, etcdctl endpoint status).
        c.learn_ids()
        self.assertEqual(c.leader_etcdctl(1), c.member_index(leaders_seen))

        r = self.ok(c, 2, "endpoint", "health", "--cluster")
        healthy = [line for line in r.out.splitlines() + r.err.splitlines()
                   if "is healthy" in line]
        self.assertEqual(len(healthy), 3, r)
        for cm in c.members:
            self.assertIn(cm.client_url + " is healthy: successfully committed proposal",
                          r.out + r.err)

        # Response headers of a KV call: same cluster_id, distinct member_id.
        headers = [c.etcdctl_json(i, "get", "nothing")["header"] for i in range(3)]
        self.assertEqual(len({h["cluster_id"] for h in headers}), 1, headers)
        self.assertEqual({h["member_id"] for h in headers}, ids, headers)
        self.assertEqual(headers[0]["cluster_id"], lst["header"]["cluster_id"])

    def test_stop_all_and_restart_keeps_data(self):
        c = self.new_cluster(3)
        for i in range(30):
            self.ok(c, i % 3, "put", "rs/%02d" % i, "v%d" % i)
        before = c.etcdctl_json(0, "get", "--prefix", "rs/")
        for i in range(3):
            rc = c.stop(i)
            self.assertIn(rc, (0, -15), "member %d exit code %r" % (i, rc))
        c.start()  # all again, same flags and data dirs
        c.wait_leader()
        for i in range(3):
            after = c.etcdctl_json(i, "get", "--prefix", "rs/")
            self.assertEqual([(unb64(kv["key"]), unb64(kv["value"]), kv["mod_revision"])
                              for kv in after["kvs"]],
                             [(unb64(kv["key"]), unb64(kv["value"]), kv["mod_revision"])
                              for kv in before["kvs"]])
            self.assertEqual(after["header"]["cluster_id"], before["header"]["cluster_id"])
        self.ok(c, 1, "put", "rs/after", "x")

    def test_kill9_all_during_writes_keeps_acknowledged(self):
        c = self.new_cluster(3)
        writers = [cluster.Writer(c.members[i], prefix="k9/%d/" % i) for i in range(3)]
        for w in writers:
            w.start()
        for w in writers:
            w.wait_acked(20)
        for i in range(3):
            c.kill9(i)
        acked = set()
        for w in writers:
            acked |= set(w.stop())
        c.start()  # all again, same flags and data dirs
        c.wait_leader()
        for i in range(3):
            keys, _ = cluster.get_keys(c.members[i], "k9/")
            missing = acked - keys
            self.assertFalse(missing, "member %d lost %d acknowledged keys, e.g. %r" % (
                i, len(missing), sorted(missing)[:5]))
            # Nothing nobody wrote: only keys of attempted writes.
            for k in keys:
                w = int(k.split("/")[1])
                self.assertLess(int(k.split("/")[2]), writers[w].attempts, k)


if __name__ == "__main__":
    harness.main()
