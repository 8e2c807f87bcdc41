#!/usr/bin/python3
"""e2e, 3-member clusters under faults: kill -9 of the leader during writes, and a symmetric
network partition of the leader through the fault proxies (faultproxy.py).

Relies on: --heartbeat-interval 50 --election-timeout 500 (cluster.py defaults), check-quorum
(always on in etcd: an isolated leader steps down after an election timeout without a quorum),
pre-vote (3.6 default; cluster.py passes --pre-vote=true to etcd 3.4, whose default is off)."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402

# "A few election timeouts" on a busy 2-core machine: generous.
ELECTION_BOUND = max(10.0, 20 * cluster.ELECTION_MS / 1000.0)


class LeaderMonitor(threading.Thread):
    """Polls Status of every member and records who was leader in which term; two different
    members leading the same term is a split brain.

    Status.raftTerm is not the raft term itself: etcd (3.4 and 3.6) reports the term of the last
    APPLIED entry, so a just-elected leader of term T+1 reports (leader=self, term=T) until its
    first entry of T+1 is applied. A claim (X leads T) is therefore only confirmed when X is
    seen leading T and then seen as not leading (stepped down), or still leading T when the
    monitor stops; a claim is dropped when X is next seen leading a higher term without having
    been seen as a non-leader in between (that was the applied-term lag)."""

    def __init__(self, c):
        super().__init__(daemon=True, name="leader-monitor")
        self.c = c
        self.claims = {}  # term -> set of member IDs confirmed as its leader
        self.pending = {}  # member ID -> term it is currently seen leading (not yet confirmed)
        self.samples = 0
        self.trace = []  # (time, member ID, leader, term), for the failure message
        self._stop_ev = threading.Event()

    def _confirm(self, mid):
        term = self.pending.pop(mid, None)
        if term is not None:
            self.claims.setdefault(term, set()).add(mid)

    def run(self):
        t0 = time.monotonic()
        while not self._stop_ev.is_set():
            for m in list(self.c.members):
                s = m.status(timeout=1)
                if s is None:
                    continue
                self.samples += 1
                mid = s.header.member_id
                self.trace.append((round(time.monotonic() - t0, 3), mid, s.leader, s.raftTerm))
                if s.leader != 0 and s.leader == mid:
                    if self.pending.get(mid, s.raftTerm) < s.raftTerm:
                        del self.pending[mid]  # the lag described above, not a real claim
                    self.pending[mid] = s.raftTerm
                else:
                    self._confirm(mid)
            self._stop_ev.wait(0.05)  # polling interval

    def stop(self):
        self._stop_ev.set()
        self.join(30)
        for mid in list(self.pending):
            self._confirm(mid)

    def violations(self):
        return {t: ids for t, ids in self.claims.items() if len(ids) > 1}

    def report(self):
        return "claims %r\ntrace (s, member, its leader, term):\n%s" % (
            self.claims, "\n".join(repr(t) for t in self.trace[-300:]))


class FailoverTest(cluster.ClusterTestCase):

    def test_kill9_leader_during_writes(self):
        c = self.new_cluster(3)
        old = c.wait_leader()
        via = (old + 1) % 3
        w = cluster.Writer(c.members[via], prefix="fo/")
        w.start()
        try:
            w.wait_acked(30)
            t0 = time.monotonic()
            c.kill9(old)
            new = c.wait_leader(timeout=60, exclude=(old,))
            elapsed = time.monotonic() - t0
            self.assertLess(elapsed, ELECTION_BOUND, "new leader after %.1fs" % elapsed)
            self.assertNotEqual(new, old)
            # Writes through the same follower resume under the new leader.
            w.wait_acked(len(w.acked) + 30)
        finally:
            acked = set(w.stop())
        survivors = [i for i in range(3) if i != old]
        for i in survivors:
            keys, _ = cluster.get_keys(c.members[i], "fo/")  # linearizable
            missing = acked - keys
            self.assertFalse(missing, "member %d lacks %d acknowledged keys, e.g. %r" % (
                i, len(missing), sorted(missing)[:5]))
        # The killed member restarts (same flags and data dir) and catches up: its local
        # (serializable) read eventually returns every acknowledged key.
        c.restart(old)
        cluster.wait_keys(c.members[old], "fo/", acked, serializable=True)

    def test_five_members_survive_two_failures(self):
        """5 members: kill -9 the leader and one follower; the other three elect a leader and
        keep every acknowledged write; the two restart and catch up."""
        c = self.new_cluster(5, proxy=False)
        old = c.wait_leader()
        via = (old + 2) % 5
        for i in range(10):
            self.assertEqual(c.etcdctl_retry(via, "put", "five/a%d" % i, "x").rc, 0)
        other = (old + 1) % 5
        c.kill9(old)
        c.kill9(other)
        c.wait_leader(timeout=60, exclude=(old, other))
        for i in range(10):
            self.assertEqual(c.etcdctl_retry(via, "put", "five/b%d" % i, "y").rc, 0)
        expected = {"five/a%d" % i for i in range(10)} | {"five/b%d" % i for i in range(10)}
        for i in range(5):
            if i in (old, other):
                continue
            keys, _ = cluster.get_keys(c.members[i], "five/")  # linearizable
            self.assertEqual(keys, expected, "member %d" % i)
        c.restart(old)
        c.restart(other)
        for i in (old, other):
            cluster.wait_keys(c.members[i], "five/", expected, serializable=True)

    def test_partitioned_leader_steps_down_and_converges(self):
        c = self.new_cluster(3, proxy=True)
        old = c.wait_leader()
        c.learn_ids()
        mon = LeaderMonitor(c)
        mon.start()
        try:
            for i in range(10):
                r = c.etcdctl_retry(old, "put", "pt/before/%d" % i, "x")
                self.assertEqual(r.rc, 0, r)

            old_term = c.members[old].status().raftTerm
            c.isolate(old)
            t0 = time.monotonic()
            majority = [i for i in range(3) if i != old]
            new = c.wait_leader(timeout=60, exclude=(old,), indexes=majority)
            elapsed = time.monotonic() - t0
            self.assertLess(elapsed, ELECTION_BOUND, "new leader after %.1fs" % elapsed)

            # The majority accepts writes, through both of its members.
            for i in range(10):
                r = c.etcdctl_retry(majority[i % 2], "put", "pt/during/%d" % i, "y")
                self.assertEqual(r.rc, 0, r)

            # A new term (Status reports the term of the last applied entry: after the puts above
            # that is the new leader's term).
            self.assertGreater(c.members[new].status().raftTerm, old_term)

            # check-quorum: the isolated old leader steps down by itself.
            deadline = time.monotonic() + 30
            while True:
                s = c.members[old].status()
                if s is not None and s.leader != s.header.member_id:
                    break
                self.assertLess(time.monotonic(), deadline,
                                "isolated leader did not step down: %r" % s)
                time.sleep(0.05)  # polling interval

            # Linearizable reads and writes through the isolated member fail; serializable reads
            # are served locally (the old data, none of the majority's writes).
            r = c.etcdctl(old, "get", "--prefix", "pt/", "--command-timeout=3s")
            self.assertNotEqual(r.rc, 0, r)
            r = c.etcdctl(old, "put", "pt/isolated", "z", "--command-timeout=3s")
            self.assertNotEqual(r.rc, 0, r)
            r = c.etcdctl(old, "get", "--prefix", "pt/", "--keys-only", "--consistency=s")
            self.assertEqual(r.rc, 0, r)
            local = {line for line in r.out.splitlines() if line}
            self.assertEqual(local, {"pt/before/%d" % i for i in range(10)}, r)

            # Every peer connection was attributed to a member process (else the partition
            # could leak through an unattributed connection).
            self.assertEqual([m.proxy.unresolved for m in c.members], [0, 0, 0],
                             [repr(m.proxy) for m in c.members])
            c.heal()
            expected = {"pt/before/%d" % i for i in range(10)} | \
                {"pt/during/%d" % i for i in range(10)}
            # Convergence: same key set (no pt/isolated: it was never committed) and the same
            # revision on every member, read locally.
            deadline = time.monotonic() + 60
            while True:
                views = {}
                for i in range(3):
                    try:
                        keys, header = cluster.get_keys(c.members[i], "pt/", serializable=True)
                        views[i] = (frozenset(keys), header.revision)
                    except Exception as e:
                        views[i] = repr(e)
                distinct = set(views.values())
                if len(distinct) == 1 and not isinstance(views[0], str) and \
                        views[0][0] == expected:
                    break
                self.assertLess(time.monotonic(), deadline, "members did not converge: %r" % {
                    i: (sorted(v[0]), v[1]) if not isinstance(v, str) else v
                    for i, v in views.items()})
                time.sleep(0.1)  # polling interval
            ld = c.wait_leader()
            self.assertNotEqual(c.members[ld].status().raftTerm, 0)
            s_old = c.members[old].status()
            self.assertNotEqual(s_old.leader, s_old.header.member_id)
            # After healing, the old leader serves linearizable requests again.
            r = c.etcdctl_retry(old, "put", "pt/after", "w")
            self.assertEqual(r.rc, 0, r)
        finally:
            mon.stop()
        self.assertGreater(mon.samples, 10)
        self.assertEqual(mon.violations(), {}, "two leaders in one term: " + mon.report())
        # The isolated old leader was seen leading its term, the new one a later term.
        self.assertGreaterEqual(len(mon.claims), 2, mon.report())

    def test_slow_peer_network_still_commits(self):
        # 40 ms each way on every peer connection (well under the 500 ms election timeout).
        c = self.new_cluster(3, proxy=True)
        c.wait_leader()
        for m in c.members:
            m.proxy.set_mode("delay", delay_ms=40)
        t0 = time.monotonic()
        for i in range(10):
            r = c.etcdctl_retry(i % 3, "put", "slow/%d" % i, "v")
            self.assertEqual(r.rc, 0, r)
        # A commit needs at least one round trip leader <-> follower through a proxy; the
        # followers also forward their puts to the leader.
        self.assertGreater(time.monotonic() - t0, 10 * 0.08)
        c.heal()
        expected = {"slow/%d" % i for i in range(10)}
        for m in c.members:
            cluster.wait_keys(m, "slow/", expected)


if __name__ == "__main__":
    harness.main()
