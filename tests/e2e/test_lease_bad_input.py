#!/usr/bin/python3
"""e2e: etcd's answers to bad lease input (raw gRPC, so nothing is hidden by a client library):
- LeaseGrant with a negative or zero TTL: granted with the minimum TTL (lessor.Grant raises any
  TTL below it; there is no error);
- LeaseKeepAlive of an unknown lease: {ID, TTL 0}, no error, and the stream goes on;
- LeaseTimeToLive of an unknown lease: TTL -1, no error; LeaseRevoke of one: NotFound
  "etcdserver: requested lease not found";
- LeaseKeepAlive of a lease whose time is up but whose revoke is not applied yet: etcd's
  lessor.Renew waits for the revoke, then answers TTL 0, so by then the lease's keys are gone.
  Made observable with a 3-member cluster whose peer traffic is delayed (the revoke takes a
  while to commit) and a keep-alive sent just after the expiry.
All validated against etcd 3.4, which behaves the same."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402
from test_watch_raw import channel_to, keepalive_request, keepalive_stream  # noqa: E402

NOT_FOUND = "etcdserver: requested lease not found"


def lease_stub(ch):
    from etcd3 import etcdrpc
    return etcdrpc.LeaseStub(ch)


class LeaseBadInputTest(harness.SharedMemberTestCase):

    def setUp(self):
        super().setUp()
        self.ch = channel_to(self.m)
        self.addCleanup(self.ch.close)
        self.stub = lease_stub(self.ch)

    def test_negative_and_zero_ttl_get_the_minimum(self):
        from etcd3 import etcdrpc
        for ttl in (-5, 0, -(1 << 62)):
            r = self.stub.LeaseGrant(etcdrpc.LeaseGrantRequest(TTL=ttl), timeout=30)
            self.assertEqual(r.error, "")
            self.assertGreater(r.ID, 0)
            # The minimum with the default 1 s election timeout: ceil(1.5 s) = 2 s.
            self.assertEqual(r.TTL, 2, "TTL %d" % ttl)
            t = self.stub.LeaseTimeToLive(etcdrpc.LeaseTimeToLiveRequest(ID=r.ID), timeout=30)
            self.assertEqual(t.grantedTTL, 2)
            self.assertLessEqual(t.TTL, 2)

    def test_keepalive_timetolive_and_revoke_of_unknown_lease(self):
        import grpc
        from etcd3 import etcdrpc
        good = self.stub.LeaseGrant(etcdrpc.LeaseGrantRequest(TTL=30), timeout=30).ID
        ka = keepalive_stream(self.ch)
        self.addCleanup(ka.close)
        for lid in (0x1234abcd, good, -3, good):
            ka.send(keepalive_request(lid))
        ka.wait_for(lambda rs: len(rs) >= 4)
        self.assertEqual([(r.ID, r.TTL) for r in ka.responses],
                         [(0x1234abcd, 0), (good, 30), (-3, 0), (good, 30)])
        self.assertIsNone(ka.error)
        self.assertGreater(ka.responses[0].header.revision, 0)
        t = self.stub.LeaseTimeToLive(etcdrpc.LeaseTimeToLiveRequest(ID=0x1234abcd, keys=True),
                                      timeout=30)
        self.assertEqual((t.ID, t.TTL, t.grantedTTL, list(t.keys)), (0x1234abcd, -1, 0, []))
        with self.assertRaises(grpc.RpcError) as cm:
            self.stub.LeaseRevoke(etcdrpc.LeaseRevokeRequest(ID=0x1234abcd), timeout=30)
        self.assertEqual((cm.exception.code(), cm.exception.details()),
                         (grpc.StatusCode.NOT_FOUND, NOT_FOUND))


class ExpiredLeaseKeepAliveTest(cluster.ClusterTestCase):

    # Each peer message is held this long: a revoke takes >= 2 x DELAY_MS to commit.
    DELAY_MS = 120

    def test_keepalive_of_expired_lease_waits_for_the_revoke(self):
        from etcd3 import etcdrpc
        # Heartbeat 100 ms / election 2 s: the delayed peer network keeps its leader.
        c = self.new_cluster(3, heartbeat_ms=100, election_ms=2000)
        leader = c.wait_leader()
        m = c.members[leader]
        for mem in c.members:
            mem.proxy.set_mode("delay", delay_ms=self.DELAY_MS)
        ch = channel_to(m)
        self.addCleanup(ch.close)
        stub = lease_stub(ch)
        kv = etcdrpc.KVStub(ch)
        ttl = 3  # the minimum with a 2 s election timeout
        tries = 0
        while True:
            tries += 1
            self.assertLess(tries, 6, "never caught the lease between expiry and revoke")
            grant = stub.LeaseGrant(etcdrpc.LeaseGrantRequest(TTL=ttl), timeout=60)
            # The grant was applied on the leader before it answered: it expires by then + ttl.
            expires = time.monotonic() + grant.TTL
            key = b"exp/k%d" % tries
            kv.Put(etcdrpc.PutRequest(key=key, value=b"v", lease=grant.ID), timeout=60)
            ka = keepalive_stream(ch)
            self.addCleanup(ka.close)
            time.sleep(max(0.0, expires + 0.05 - time.monotonic()))  # just after the expiry
            ka.send(keepalive_request(grant.ID))
            ka.wait_for(lambda rs: len(rs) >= 1, timeout=60)
            answered = time.monotonic()
            r = ka.responses[0]
            if r.TTL != 0:
                continue  # renewed: this member's clock had not expired it yet; try again
            # TTL 0 means revoked: the key must be gone on the leader already.
            got = kv.Range(etcdrpc.RangeRequest(key=key, serializable=True), timeout=60)
            self.assertEqual(list(got.kvs), [],
                             "keep-alive answered TTL 0 before the revoke was applied")
            sys.stderr.write("\nexpired lease: keep-alive answered %.2fs after the expiry\n" % (
                answered - expires))
            break
        c.heal()


if __name__ == "__main__":
    harness.main()
