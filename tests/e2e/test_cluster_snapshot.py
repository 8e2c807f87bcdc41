#!/usr/bin/python3
"""e2e: a follower that was down while the leader compacted its raft log past it catches up by
a snapshot transfer.

Flags: --snapshot-count 100 on every member; for etcdpp / etcd 3.6 also
--snapshot-catchup-entries 50 (3.6's name; 3.5 called it --experimental-snapshot-catchup-entries).
etcd 3.4 has no such flag: it keeps a fixed 5000 entries behind each snapshot, so against 3.4
the test writes 5000 + 4 x 100 + 100 entries instead (E2E_SNAPSHOT_WRITES overrides the count).
After a snapshot at index S the leader compacts its log to S - catchup, so a follower stopped
before all these writes needs entries that are gone: the leader must send a snapshot.

Log check: etcdpp's restarted follower must log a line containing both "snapshot" and
"receiv" (etcd 3.6 logs "receiving database snapshot" / "received and saved database snapshot"
from rafthttp; 3.4 with --logger zap logs the same two lines, so it is asserted there too)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402

SNAPSHOT_COUNT = 100
CATCHUP_ENTRIES = 50  # etcdpp / 3.6 flag value
ETCD34_CATCHUP_ENTRIES = 5000  # fixed in 3.4


def snapshot_flags():
    flags = ["--snapshot-count", str(SNAPSHOT_COUNT)]
    if not harness.is_reference_34():
        flags += ["--snapshot-catchup-entries", str(CATCHUP_ENTRIES)]
    return flags


def writes_needed():
    if os.environ.get("E2E_SNAPSHOT_WRITES"):
        return int(os.environ["E2E_SNAPSHOT_WRITES"])
    catchup = ETCD34_CATCHUP_ENTRIES if harness.is_reference_34() else CATCHUP_ENTRIES
    # Past the catch-up window plus several snapshot intervals, so that at least one snapshot
    # (and the log compaction after it) happens entirely after the follower stopped.
    return catchup + 4 * SNAPSHOT_COUNT + 100


def put_many(member, prefix, count, in_flight=64, timeout=30):
    """`count` puts with up to `in_flight` outstanding (gRPC futures); returns the keys."""
    from etcd3 import etcdrpc
    c = member.client(timeout=timeout)
    keys = []

    def settle(key, fut):
        # A put that failed (e.g. a leader change on a busy machine) is sent again: the same
        # value, so a retry is harmless for this test, which only checks which keys exist.
        deadline = time.monotonic() + 60
        while True:
            try:
                fut.result()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # pacing between retries
                fut = c.kvstub.Put.future(
                    etcdrpc.PutRequest(key=key.encode(), value=b"v" * 64), timeout)

    try:
        pending = []
        for n in range(count):
            key = "%s%06d" % (prefix, n)
            pending.append((key, c.kvstub.Put.future(
                etcdrpc.PutRequest(key=key.encode(), value=b"v" * 64), timeout)))
            keys.append(key)
            if len(pending) >= in_flight:
                settle(*pending.pop(0))
        for key, fut in pending:
            settle(key, fut)
    finally:
        c.close()
    return keys


class SnapshotCatchUpTest(cluster.ClusterTestCase):

    def test_follower_catches_up_by_snapshot(self):
        c = self.new_cluster(3, extra_flags=snapshot_flags())
        ld = c.wait_leader()
        follower = (ld + 1) % 3
        before = put_many(c.members[ld], "sn/a/", 10)
        cluster.wait_keys(c.members[follower], "sn/a/", before)
        rc = c.stop(follower)
        self.assertIn(rc, (0, -15))

        n = writes_needed()
        t0 = time.monotonic()
        # Through a live member (the leader may change under load; any live member forwards).
        via = ld if c.members[ld].alive() else [i for i in range(3) if i != follower][0]
        keys = put_many(c.members[via], "sn/b/", n)
        sys.stderr.write("snapshot test: %d writes in %.1fs\n" % (n, time.monotonic() - t0))

        m = c.members[follower]
        c.restart(follower)
        cluster.wait_keys(m, "sn/", set(before) | set(keys), serializable=True, timeout=120)
        # And it serves linearizable reads with everything.
        got, _ = cluster.get_keys(m, "sn/")
        self.assertEqual(got, set(before) | set(keys))

        out = m.server_output()
        lines = [line for line in out.splitlines()
                 if "snapshot" in line.lower() and "receiv" in line.lower()]
        sys.stderr.write("snapshot test: follower log lines about receiving a snapshot:\n%s\n"
                         % "\n".join(line[:300] for line in lines[:5]))
        # etcd 3.4 with --logger zap (cluster.py) logs the same rafthttp lines as 3.6.
        if harness.is_etcdpp() or harness.is_reference_34():
            self.assertTrue(lines, "restarted follower's log has no line about receiving a "
                            "snapshot\n" + m.log_tail(80))


if __name__ == "__main__":
    harness.main()
