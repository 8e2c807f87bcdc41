#!/usr/bin/python3
"""e2e, membership changes on a 3-member cluster: add a voter (started with
--initial-cluster-state existing and the ETCD_INITIAL_CLUSTER printed by `etcdctl member add`),
remove it, add a learner (what it refuses and serves), promote it, and etcd's errors for
promoting a voter, removing an unknown ID, a duplicate peer URL and a second learner
(--max-learners defaults to 1 in 3.4 and 3.6).

etcd 3.4 vs 3.6: a learner refuses requests with `etcdserver: rpc not supported for learner`
with gRPC code Unavailable in 3.4 and FailedPrecondition in 3.6 (ETCD-FACTS.md); only the code
differs. etcdctl retries Unavailable reads until its command timeout, so the learner's
linearizable read is given a short --command-timeout.

etcdctl prints IDs with "%16x" (`Member  6a37663401986 added ...`: space-padded when the ID
has leading zero nibbles); the regexes allow that."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402
from harness import assert_etcdctl_error  # noqa: E402


def member_list(c, i):
    """{name: member} of `member list` through member i; a member that has not published its
    name yet (just added or started) is listed under "<unstarted hex ID>"."""
    return {m.get("name") or "<unstarted %x>" % m["ID"]: m
            for m in c.etcdctl_json(i, "member", "list")["members"]}


def wait_list(c, i, pred, timeout=30):
    """member list through i once pred(list) holds (or the last one after timeout). Needed
    when the change was made through another member: each member answers from its own
    applied state."""
    deadline = time.monotonic() + timeout
    while True:
        lst = member_list(c, i)
        if pred(lst) or time.monotonic() > deadline:
            return lst
        time.sleep(0.1)  # polling interval


def wait_published(c, i, name, timeout=30):
    """member list through i, once member `name` has published its name and client URLs."""
    return wait_list(c, i, lambda lst: name in lst and lst[name].get("clientURLs"), timeout)


class MembershipTest(cluster.ClusterTestCase):

    def ok(self, c, i, *args, **kw):
        r = c.etcdctl_retry(i, *args, **kw)
        self.assertEqual(r.rc, 0, r)
        return r

    def wait_exit(self, m, timeout=60):
        try:
            return m.proc.wait(timeout)
        except Exception:
            self.fail("member %s still running %.0fs after its removal\n%s" % (
                m.name, timeout, m.log_tail(40)))

    def test_add_remove_voter_then_learner_promote_and_errors(self):
        c = self.new_cluster(3)
        for i in range(20):
            self.ok(c, i % 3, "put", "mb/%02d" % i, "v%d" % i)

        # ---- add a voter ----
        m3, r = c.add_member("m3")
        self.assertRegex(r.out, r"^Member +[0-9a-f]+ added to cluster +[0-9a-f]+\n", r)
        env = cluster.parse_member_add_env(r.out)
        self.assertEqual(env["ETCD_NAME"], "m3")
        self.assertEqual(env["ETCD_INITIAL_ADVERTISE_PEER_URLS"], m3.adv_peer_url)
        self.assertEqual(env["ETCD_INITIAL_CLUSTER_STATE"], "existing")
        self.assertEqual(sorted(env["ETCD_INITIAL_CLUSTER"].split(",")),
                         sorted("%s=%s" % (m.name, m.adv_peer_url) for m in c.members))
        self.assertEqual(self.ok(c, 3, "get", "mb/19").out, "mb/19\nv19\n")
        self.ok(c, 3, "put", "mb/from-m3", "x")
        # The new member published its name and client URLs (through raft).
        lst = wait_published(c, 0, "m3")
        self.assertEqual(sorted(lst), ["m0", "m1", "m2", "m3"], lst)
        self.assertEqual(lst["m3"]["clientURLs"], [m3.client_url], lst)
        self.assertEqual(lst["m3"]["peerURLs"], [m3.adv_peer_url], lst)
        self.assertFalse(lst["m3"].get("isLearner", False), lst)
        m3_id = lst["m3"]["ID"]

        # ---- remove it: it leaves the list and the removed process stops by itself ----
        r = c.etcdctl(1, "member", "remove", "%x" % m3_id)  # not idempotent: no retry
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.out, r"^Member +%x removed from cluster +[0-9a-f]+\n" % m3_id)
        m3.removed = True
        lst = wait_list(c, 0, lambda lst: "m3" not in lst)
        self.assertEqual(sorted(lst), ["m0", "m1", "m2"])
        # etcd (3.4 and 3.6) exits with status 0 once it learns it was removed.
        self.assertEqual(self.wait_exit(m3), 0, m3.log_tail(40))
        self.assertIn("the member has been permanently removed from the cluster",
                      m3.server_output())
        r = c.etcdctl(0, "member", "remove", "%x" % m3_id)
        assert_etcdctl_error(self, r, "NotFound", "etcdserver: member not found")

        # ---- errors ----
        ids = {name: m["ID"] for name, m in member_list(c, 0).items()}
        r = c.etcdctl(0, "member", "remove", "1234abcd")
        assert_etcdctl_error(self, r, "NotFound", "etcdserver: member not found")
        r = c.etcdctl(0, "member", "promote", "%x" % ids["m1"])
        assert_etcdctl_error(self, r, "FailedPrecondition",
                             "etcdserver: can only promote a learner member")
        r = c.etcdctl(2, "member", "add", "dup", "--peer-urls=" + c.members[1].adv_peer_url)
        assert_etcdctl_error(self, r, "FailedPrecondition", "etcdserver: Peer URLs already exists")
        r = c.etcdctl(2, "member", "add", "bad", "--peer-urls=not-a-url")
        self.assertNotEqual(r.rc, 0, r)  # rejected (by etcdctl's own URL parsing in 3.4)

        # ---- learner ----
        m4, r = c.add_member("m4", learner=True)
        self.assertRegex(r.out, r"^Member +[0-9a-f]+ added to cluster +[0-9a-f]+\n", r)
        lst = wait_published(c, 0, "m4")
        self.assertIs(lst["m4"].get("isLearner"), True, lst)
        learner_code = "Unavailable" if harness.is_reference_34() else "FailedPrecondition"
        r = c.etcdctl(4, "put", "mb/learner", "x", "--command-timeout=3s")
        assert_etcdctl_error(self, r, learner_code, "etcdserver: rpc not supported for learner")
        r = c.etcdctl(4, "get", "mb/19", "--command-timeout=3s")
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("etcdserver: rpc not supported for learner", r.err, r)
        # Serializable reads are served by the learner (once it has caught up).
        cluster.wait_keys(m4, "mb/", {"mb/%02d" % i for i in range(20)} | {"mb/from-m3"})
        self.assertEqual(self.ok(c, 4, "get", "mb/19", "--consistency=s").out, "mb/19\nv19\n")
        st = c.etcdctl_json(4, "endpoint", "status")[0]["Status"]
        self.assertIs(st.get("isLearner"), True, st)

        r = c.etcdctl(0, "member", "add", "l2", "--learner", "--peer-urls=http://127.0.0.1:1")
        assert_etcdctl_error(self, r, "FailedPrecondition",
                             "etcdserver: too many learner members in cluster")

        # ---- promote: may say "not in sync" until the learner caught up; retry that ----
        learner_id = lst["m4"]["ID"]
        deadline = time.monotonic() + 60
        while True:
            r = c.etcdctl(1, "member", "promote", "%x" % learner_id)
            if r.rc == 0 or time.monotonic() > deadline or \
                    "which is in sync with leader" not in r.err:
                break
            time.sleep(0.2)  # polling interval
        self.assertEqual(r.rc, 0, r)
        self.assertRegex(r.out, r"^Member +%x promoted in cluster +[0-9a-f]+\n" % learner_id)
        m4.learner = False
        # member list is served from the member's applied state: m0 may apply the promotion a
        # moment after the member that answered the promote request.
        lst = wait_list(c, 0, lambda lst: not lst["m4"].get("isLearner", False))
        self.assertFalse(lst["m4"].get("isLearner", False), lst)
        self.assertEqual(len(lst), 4)
        # Now a voter: it takes writes and linearizable reads.
        self.ok(c, 4, "put", "mb/promoted", "y")
        self.assertEqual(self.ok(c, 4, "get", "mb/promoted").out, "mb/promoted\ny\n")
        r = c.etcdctl(0, "member", "promote", "%x" % learner_id)
        assert_etcdctl_error(self, r, "FailedPrecondition",
                             "etcdserver: can only promote a learner member")


if __name__ == "__main__":
    harness.main()
