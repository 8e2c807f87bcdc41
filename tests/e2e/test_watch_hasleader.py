#!/usr/bin/python3
"""e2e: the `hasleader` metadata (clientv3 WithRequireLeader; etcdctl watch and every clientv3
keepalive stream set it) on Watch and LeaseKeepAlive streams, as etcd's v3rpc stream interceptor
and monitorLeader handle it. In a 3-member cluster whose two other members are stopped:
- a `hasleader` watch stream and a `hasleader` keepalive stream end with Unavailable
  "etcdserver: no leader" once the member has had no leader for 3 election timeouts;
- a watch stream without the metadata stays open;
- a new `hasleader` stream is refused with the same error;
- after the members return, `hasleader` streams are served again.
Validated against etcd 3.4, which behaves the same."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402
from test_watch_raw import RawWatch, channel_to, keepalive_request, keepalive_stream  # noqa: E402

HASLEADER = (("hasleader", "true"),)
NO_LEADER = "etcdserver: no leader"


class HasLeaderTest(cluster.ClusterTestCase):

    def test_streams_without_leader(self):
        import grpc
        c = self.new_cluster(3, proxy=False)
        leader = c.wait_leader()
        x = (leader + 1) % 3
        others = [i for i in range(3) if i != x]
        m = c.members[x]
        lease = c.etcdctl_json(x, "lease", "grant", "100")["ID"]
        ch = channel_to(m)
        self.addCleanup(ch.close)

        strict = RawWatch(ch, metadata=HASLEADER)
        self.addCleanup(strict.close)
        plain = RawWatch(ch)
        self.addCleanup(plain.close)
        for w in (strict, plain):
            w.create("hl/k")
            w.wait_for(lambda rs: len(rs) >= 1)
            self.assertTrue(w.responses[0].created)
        ka = keepalive_stream(ch, metadata=HASLEADER)
        self.addCleanup(ka.close)
        ka.send(keepalive_request(lease))
        ka.wait_for(lambda rs: len(rs) >= 1)
        self.assertEqual(ka.responses[0].TTL, 100)

        t0 = time.monotonic()
        for i in others:
            c.stop(i)
        # etcd: cancelled after 3 checks (one per election timeout) without a leader.
        for s in (strict, ka):
            self.assertTrue(s.done.wait(30), "hasleader stream still open without a leader")
            self.assertEqual(s.status(), (grpc.StatusCode.UNAVAILABLE, NO_LEADER))
        took = time.monotonic() - t0
        # The stream without the metadata is left alone.
        self.assertFalse(plain.done.is_set(), plain.status())
        # New hasleader streams are refused at once.
        for s in (RawWatch(ch, metadata=HASLEADER), keepalive_stream(ch, metadata=HASLEADER)):
            self.addCleanup(s.close)
            self.assertTrue(s.done.wait(10))
            self.assertEqual(s.status(), (grpc.StatusCode.UNAVAILABLE, NO_LEADER))
        sys.stderr.write("\nhasleader streams cancelled %.1fs after the others stopped\n" % took)

        # A leader again: served again, and the plain watch still delivers.
        for i in others:
            c.restart(i, wait=False)
        c.wait_ready(others)
        c.wait_leader()
        again = RawWatch(ch, metadata=HASLEADER)
        self.addCleanup(again.close)
        deadline = time.monotonic() + 30
        again.create("hl/k")
        while True:
            again.wait_for(lambda rs: rs or again.done.is_set(), timeout=30)
            if again.responses:
                break
            # Refused while the member had not yet learned the new leader: retry.
            self.assertLess(time.monotonic(), deadline, again.status())
            time.sleep(0.2)  # pacing retries
            again = RawWatch(ch, metadata=HASLEADER)
            self.addCleanup(again.close)
            again.create("hl/k")
        self.assertTrue(again.responses[0].created)
        r = c.etcdctl_retry(x, "put", "hl/k", "v")
        self.assertEqual(r.rc, 0, r)
        for w in (again, plain):
            w.wait_for(lambda rs: any(resp.events for resp in rs))


if __name__ == "__main__":
    harness.main()
