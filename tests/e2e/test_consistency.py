#!/usr/bin/python3
"""e2e: reads against concurrent writes on one key (a register), checked in real time.

One writer puts 1, 2, 3, ... and notes when each put was sent and when it was acknowledged;
readers on their own connections read the key over and over. A linearizable read that starts
after put i was acknowledged must return at least i, and can only return a value whose put was
sent before the read finished. Every reader sees values and header revisions that never go back.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

from etcd3 import etcdrpc  # noqa: E402

WRITES = 300
READERS = 3


class RegisterTest(harness.MemberTestCase):

    def test_linearizable_register(self):
        m = self.new_member()
        sent, acked = {}, {}
        done = threading.Event()
        reads = [[] for _ in range(READERS + 1)]  # the last reader is serializable
        errors = []

        def writer():
            c = m.client()
            try:
                for i in range(1, WRITES + 1):
                    sent[i] = time.monotonic()
                    c.kvstub.Put(etcdrpc.PutRequest(key=b"reg", value=b"%d" % i), 30)
                    acked[i] = time.monotonic()
            except Exception as e:
                errors.append(repr(e))
            finally:
                done.set()
                c.close()

        def reader(n, serializable):
            c = m.client()
            try:
                while not done.is_set():
                    t0 = time.monotonic()
                    resp = c.kvstub.Range(etcdrpc.RangeRequest(key=b"reg",
                                                               serializable=serializable), 30)
                    t1 = time.monotonic()
                    value = int(resp.kvs[0].value) if resp.kvs else 0
                    mod = resp.kvs[0].mod_revision if resp.kvs else 0
                    reads[n].append((t0, t1, value, resp.header.revision, mod))
            except Exception as e:
                errors.append(repr(e))
            finally:
                c.close()

        threads = [threading.Thread(target=writer)]
        threads += [threading.Thread(target=reader, args=(n, n == READERS))
                    for n in range(READERS + 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
            self.assertFalse(t.is_alive(), "a client thread hung")
        self.assertEqual(errors, [])
        self.assertEqual(len(acked), WRITES)

        sys.stderr.write("%d writes; reads per reader: %s\n" % (WRITES, [len(r) for r in reads]))
        acked_items = sorted(acked.items(), key=lambda kv: kv[1])
        for n, rs in enumerate(reads):
            self.assertTrue(rs, "reader %d made no reads" % n)
            last_value, last_rev = 0, 0
            for t0, t1, value, rev, mod in rs:
                self.assertGreaterEqual(value, last_value, "reader %d went back in time" % n)
                self.assertGreaterEqual(rev, last_rev, "reader %d: header revision decreased" % n)
                last_value, last_rev = value, rev
                if value:
                    self.assertLess(sent[value], t1, "read a value before it was written")
                    self.assertLessEqual(mod, rev)
                if n == READERS:
                    continue  # serializable: no real-time guarantee promised
                floor = 0
                for i, t in acked_items:
                    if t >= t0:
                        break
                    floor = i
                self.assertGreaterEqual(value, floor, "stale linearizable read: put %d was "
                                        "acknowledged before the read started" % floor)
        # Each put is one revision: value i has mod revision i + 1 on a fresh member.
        final = max(r[2] for rs in reads for r in rs)
        for rs in reads:
            for _, _, value, _, mod in rs:
                if value:
                    self.assertEqual(mod, value + 1)
        self.assertGreater(final, 0)


if __name__ == "__main__":
    harness.main()
