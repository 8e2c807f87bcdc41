#!/usr/bin/python3
"""e2e: 10,000 watchers on one member (issue 6). 200 Watch streams over 8 gRPC connections, 50
watches each: 9,900 single-key watches spread over 100 keys and 100 prefix watches. Then 200 puts
(every key twice) and a 3-put txn. Every watch must get exactly its events, each once, in
revision order, a txn's events in one response. The server's RSS is printed before and after the
watches and must stay under RSS_LIMIT_MB (etcdpp measured about 60 MB; see docs/watch_lease.md).

E2E_WATCHERS_STREAMS / E2E_WATCHES_PER_STREAM change the shape (defaults 200 x 50)."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from test_watch_raw import RawWatch  # noqa: E402

STREAMS = int(os.environ.get("E2E_WATCHERS_STREAMS", "200"))
PER_STREAM = int(os.environ.get("E2E_WATCHES_PER_STREAM", "50"))
CHANNELS = 8
KEYS = 100
PREFIX_EVERY = 100  # one watch in 100 is a prefix watch
RSS_LIMIT_MB = 1024
PREFIX = b"scale/"


def key(i):
    return PREFIX + b"k%03d" % i


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


class WatchScaleTest(harness.MemberTestCase):

    def test_ten_thousand_watchers(self):
        import grpc
        m = self.new_member()
        pid = m.proc.pid
        rss_before = rss_mb(pid)
        channels = [grpc.insecure_channel(m.endpoint) for _ in range(CHANNELS)]
        for ch in channels:
            self.addCleanup(ch.close)

        # watch spec per (stream, index): a key index, or None for a prefix watch.
        specs = []
        lock = threading.Lock()
        got = {}  # (stream, watch_id) -> [(rev, key)]
        created = {}  # stream -> [watch_id in creation order]
        resp_revs = {}  # (stream, watch_id) -> [set of revisions per response]

        def on_response(s):
            def cb(r):
                with lock:
                    if r.created:
                        created.setdefault(s, []).append((r.watch_id, r.canceled))
                    if r.events:
                        lst = got.setdefault((s, r.watch_id), [])
                        lst.extend((e.kv.mod_revision, e.kv.key) for e in r.events)
                        resp_revs.setdefault((s, r.watch_id), []).append(
                            {e.kv.mod_revision for e in r.events})
            return cb

        streams = []
        t0 = time.monotonic()
        for s in range(STREAMS):
            w = RawWatch(channels[s % CHANNELS], on_response=on_response(s))
            streams.append(w)
            self.addCleanup(w.close)
            row = []
            for j in range(PER_STREAM):
                n = s * PER_STREAM + j
                if n % PREFIX_EVERY == 0:
                    row.append(None)
                    w.create(PREFIX, range_end=PREFIX[:-1] + bytes([PREFIX[-1] + 1]))
                else:
                    row.append(n % KEYS)
                    w.create(key(n % KEYS))
            specs.append(row)
        total = STREAMS * PER_STREAM
        deadline = time.monotonic() + 120
        while True:
            with lock:
                n_created = sum(len(v) for v in created.values())
            if n_created == total:
                break
            self.assertLess(time.monotonic(), deadline,
                            "only %d of %d watches created" % (n_created, total))
            time.sleep(0.2)  # polling interval
        t_created = time.monotonic() - t0
        with lock:
            for s in range(STREAMS):
                self.assertEqual([c for _, c in created[s]], [False] * PER_STREAM)
                # Auto-assigned ids count from 0 on each stream, in request order.
                self.assertEqual([i for i, _ in created[s]], list(range(PER_STREAM)))
        rss_watching = rss_mb(pid)

        # Writes: every key twice, then one txn of three puts (one revision).
        cl = m.client()
        self.addCleanup(cl.close)
        expected_by_key = {i: [] for i in range(KEYS)}
        all_events = []
        t1 = time.monotonic()
        for rnd in range(2):
            for i in range(KEYS):
                rev = cl.put(key(i), b"v%d" % rnd).header.revision
                expected_by_key[i].append((rev, key(i)))
                all_events.append((rev, key(i)))
        ok, _ = cl.transaction(compare=[], success=[
            cl.transactions.put(key(1), b"t"), cl.transactions.put(key(2), b"t"),
            cl.transactions.put(key(3), b"t")], failure=[])
        self.assertTrue(ok)
        # Nobody else writes to this member: the txn is the next revision (python3-etcd3's
        # transaction() does not return the header).
        txn_rev = all_events[-1][0] + 1
        for i in (1, 2, 3):
            expected_by_key[i].append((txn_rev, key(i)))
            all_events.append((txn_rev, key(i)))

        def expected(s, j):
            spec = specs[s][j]
            return all_events if spec is None else expected_by_key[spec]

        want_total = sum(len(expected(s, j)) for s in range(STREAMS) for j in range(PER_STREAM))
        deadline = time.monotonic() + 120
        while True:
            with lock:
                n = sum(len(v) for v in got.values())
            if n >= want_total:
                break
            self.assertLess(time.monotonic(), deadline,
                            "only %d of %d events delivered" % (n, want_total))
            time.sleep(0.2)  # polling interval
        t_events = time.monotonic() - t1
        # A moment for stray duplicates to arrive would only hide nothing: duplicates would make
        # the count exceed want_total, which the equality below catches when they came first.
        rss_after = rss_mb(pid)
        with lock:
            for s in range(STREAMS):
                for j in range(PER_STREAM):
                    self.assertEqual(got.get((s, j), []), expected(s, j),
                                     "stream %d watch %d (%r)" % (s, j, specs[s][j]))
                    for revs in resp_revs.get((s, j), []):
                        self.assertEqual(len(revs), 1, "one revision per live response")
            self.assertEqual(sum(len(v) for v in got.values()), want_total)
        for w in streams:
            self.assertIsNone(w.error)
        sys.stderr.write(
            "\nwatch scale: %d watches on %d streams created in %.1fs, %d events delivered in "
            "%.1fs; server RSS %.0f MB idle, %.0f MB watching, %.0f MB after the events\n" % (
                total, STREAMS, t_created, want_total, t_events, rss_before, rss_watching,
                rss_after))
        self.assertLess(rss_after, RSS_LIMIT_MB)


if __name__ == "__main__":
    harness.main()
