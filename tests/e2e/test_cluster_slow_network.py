#!/usr/bin/python3
"""e2e: linearizable reads over a slow peer network.

Every peer message is held DELAY_MS by the fault proxies, so one ReadIndex round trip takes
longer than the member's ReadIndex retry interval (500 ms). A retried round must be re-sent
under the same request context, as etcd does: the answer to the first send, merely late, then
completes the reads. (Re-sending under a new context and dropping late answers made every
read time out here.)"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402


class SlowNetworkReadTest(cluster.ClusterTestCase):

    DELAY_MS = 400  # one way: a round trip of 800 ms > the 500 ms retry

    def test_linearizable_reads_complete_when_round_trips_exceed_the_retry(self):
        import grpc
        from etcd3 import etcdrpc
        # Election 5 s: the delayed heartbeats keep the leader.
        c = self.new_cluster(3, heartbeat_ms=100, election_ms=5000)
        leader = c.wait_leader()
        follower = next(i for i in range(3) if i != leader)
        c.client(leader).put("slow/k", "v1")
        for mem in c.members:
            mem.proxy.set_mode("delay", delay_ms=self.DELAY_MS)
        for who in (follower, leader):
            ch = grpc.insecure_channel(c.members[who].endpoint)
            self.addCleanup(ch.close)
            kv = etcdrpc.KVStub(ch)
            for n in range(3):
                start = time.monotonic()
                got = kv.Range(etcdrpc.RangeRequest(key=b"slow/k"), timeout=30)
                took = time.monotonic() - start
                self.assertEqual([x.value for x in got.kvs], [b"v1"])
                sys.stderr.write("member %d read %d: %.2fs\n" % (who, n, took))
        c.heal()


if __name__ == "__main__":
    harness.main()
