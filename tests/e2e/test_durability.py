#!/usr/bin/python3
"""e2e: durability across kill -9 and clean restarts.

Concurrent writers put distinct keys (and one writer puts key pairs in txns); every acknowledged
write is recorded. The server is killed with SIGKILL once a (seeded) random number of writes has
been acknowledged, i.e. while writes are in flight, then restarted on the same data dir. Every
acknowledged write must be there with its value; unacknowledged ones may or may not be, but a txn
is all or nothing and revisions have no gaps.

E2E_SEED=<n> reproduces the kill points of a run (the seed is printed).
"""

import os
import random
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

from etcd3 import etcdrpc  # noqa: E402

ROUNDS = int(os.environ.get("E2E_DURABILITY_ROUNDS", "5"))
PUT_THREADS = 4


class Writers:
    """PUT_THREADS threads putting distinct keys plus one thread putting key pairs in txns."""

    def __init__(self, member, round_no, rng):
        self.member = member
        self.round_no = round_no
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = {}  # key -> value, for acknowledged writes only
        self.attempted = {}  # key -> value, for every write that was sent
        self.acked_txns = []  # (key_a, key_b, value)
        self.attempted_txns = []
        self.errors = []
        self.progress = threading.Condition(self.lock)
        self.salt = rng.getrandbits(32)
        self.threads = [threading.Thread(target=self._put_loop, args=(t,), daemon=True)
                        for t in range(PUT_THREADS)]
        self.threads.append(threading.Thread(target=self._txn_loop, daemon=True))

    def start(self):
        for t in self.threads:
            t.start()

    def acked_count(self):
        with self.lock:
            return len(self.acked) + len(self.acked_txns)

    def wait_for_acks(self, n, timeout=120):
        with self.progress:
            ok = self.progress.wait_for(
                lambda: len(self.acked) + len(self.acked_txns) >= n or self.errors, timeout)
        return ok and not self.errors

    def stop_and_join(self, timeout=120):
        self.stop.set()
        for t in self.threads:
            t.join(timeout)
            if t.is_alive():
                raise AssertionError("writer thread did not finish")

    def _client(self):
        return self.member.client(timeout=30)

    def _put_loop(self, t):
        c = self._client()
        try:
            i = 0
            while not self.stop.is_set():
                key = "dur/r%d/t%d/%06d" % (self.round_no, t, i)
                value = "v-%d-%d-%d-%08x" % (self.round_no, t, i, self.salt)
                with self.lock:
                    self.attempted[key] = value
                try:
                    c.kvstub.Put(etcdrpc.PutRequest(key=key.encode(), value=value.encode()), 30)
                except Exception:
                    return  # the server went away: this write is unacknowledged
                with self.progress:
                    self.acked[key] = value
                    self.progress.notify_all()
                i += 1
        except BaseException as e:  # a bug in the test itself
            with self.progress:
                self.errors.append(repr(e))
                self.progress.notify_all()
        finally:
            c.close()

    def _txn_loop(self):
        c = self._client()
        try:
            i = 0
            while not self.stop.is_set():
                ka = "dur/r%d/txn/%06d/a" % (self.round_no, i)
                kb = "dur/r%d/txn/%06d/b" % (self.round_no, i)
                value = "tx-%d-%d-%08x" % (self.round_no, i, self.salt)
                with self.lock:
                    self.attempted_txns.append((ka, kb, value))
                req = etcdrpc.TxnRequest(
                    compare=[etcdrpc.Compare(key=ka.encode(), target=etcdrpc.Compare.VERSION,
                                             result=etcdrpc.Compare.EQUAL, version=0)],
                    success=[etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(
                        key=k.encode(), value=value.encode())) for k in (ka, kb)])
                try:
                    resp = c.kvstub.Txn(req, 30)
                except Exception:
                    return
                if not resp.succeeded:
                    raise AssertionError("create-if-absent txn failed for a new key %s" % ka)
                with self.progress:
                    self.acked_txns.append((ka, kb, value))
                    self.progress.notify_all()
                i += 1
        except BaseException as e:
            with self.progress:
                self.errors.append(repr(e))
                self.progress.notify_all()
        finally:
            c.close()


class DurabilityTest(harness.MemberTestCase):

    def all_kvs(self, m):
        c = m.client()
        try:
            resp = c.kvstub.Range(etcdrpc.RangeRequest(key=b"\0", range_end=b"\0"), 60)
            return {kv.key.decode(): kv for kv in resp.kvs}, resp.header.revision
        finally:
            c.close()

    def check_revisions_contiguous(self, kvs, current):
        # Only new keys were ever written (no overwrites or deletes), so the mod revisions of all
        # keys must be exactly 2..current: no gap, nothing applied twice, nothing lost from the
        # middle.
        revs = sorted({kv.mod_revision for kv in kvs.values()})
        self.assertEqual(revs, list(range(2, current + 1)),
                         "revisions have gaps or extras after recovery")

    def test_kill9_during_writes_loses_nothing_acknowledged(self):
        seed = int(os.environ.get("E2E_SEED", random.randrange(1 << 30)))
        sys.stderr.write("test_durability: E2E_SEED=%d\n" % seed)
        rng = random.Random(seed)
        m = self.new_member()
        acked, acked_txns, attempted = {}, [], {}
        for round_no in range(ROUNDS):
            w = Writers(m, round_no, rng)
            w.start()
            kill_after = rng.randrange(50, 400)
            self.assertTrue(w.wait_for_acks(kill_after),
                            "writers made no progress (round %d, errors %r)" % (round_no, w.errors))
            m.kill9()  # writes are in flight right now
            w.stop_and_join()
            self.assertEqual(w.errors, [])
            acked.update(w.acked)
            acked_txns.extend(w.acked_txns)
            attempted.update(w.attempted)
            for ka, kb, value in w.attempted_txns:
                attempted[ka] = attempted[kb] = value

            m.restart()
            kvs, current = self.all_kvs(m)
            sys.stderr.write("round %d: killed after %d acks; %d acked so far, %d keys recovered, "
                             "revision %d\n" % (round_no, kill_after, len(acked) + len(acked_txns),
                                                 len(kvs), current))
            missing = [k for k in acked if k not in kvs]
            self.assertEqual(missing[:20], [], "%d acknowledged keys lost in round %d (seed %d)" %
                             (len(missing), round_no, seed))
            wrong = [k for k, v in acked.items() if kvs[k].value.decode() != v]
            self.assertEqual(wrong[:20], [], "acknowledged keys with a wrong value")
            for ka, kb, value in acked_txns:
                self.assertEqual((kvs[ka].value.decode(), kvs[kb].value.decode()), (value, value))
            # Unacknowledged writes may have survived, but only whole and with their value.
            for k, kv in kvs.items():
                self.assertIn(k, attempted, "a key nobody wrote appeared")
                self.assertEqual(kv.value.decode(), attempted[k])
            for ka, kb, _ in w.attempted_txns:
                self.assertEqual(ka in kvs, kb in kvs, "txn applied partially: %s" % ka)
                if ka in kvs:
                    self.assertEqual(kvs[ka].mod_revision, kvs[kb].mod_revision)
            self.check_revisions_contiguous(kvs, current)
            # The recovered member accepts writes at the next revision.
            c = m.client()
            try:
                resp = c.kvstub.Put(etcdrpc.PutRequest(key=b"dur/after/%d" % round_no,
                                                       value=b"x"), 30)
                self.assertEqual(resp.header.revision, current + 1)
                attempted["dur/after/%d" % round_no] = "x"
                acked["dur/after/%d" % round_no] = "x"
            finally:
                c.close()

    def test_sigterm_during_writes(self):
        # A graceful stop while clients keep writing: the server must exit by itself within the
        # grace period (no SIGKILL needed), and what it acknowledged must survive.
        seed = int(os.environ.get("E2E_SEED", random.randrange(1 << 30)))
        rng = random.Random(seed + 1)
        m = self.new_member()
        w = Writers(m, 0, rng)
        w.start()
        self.assertTrue(w.wait_for_acks(rng.randrange(50, 300)), w.errors)
        rc = m.stop(timeout=30)
        w.stop_and_join()
        self.assertEqual(w.errors, [])
        self.assertIn(rc, (0, -signal.SIGTERM), "no clean exit within 30 s of SIGTERM under load "
                      "(seed %d)\n%s" % (seed, m.log_tail()))
        m.restart()
        kvs, current = self.all_kvs(m)
        for k, v in w.acked.items():
            self.assertIn(k, kvs)
            self.assertEqual(kvs[k].value.decode(), v)
        for ka, kb, value in w.acked_txns:
            self.assertEqual((kvs[ka].value.decode(), kvs[kb].value.decode()), (value, value))
        self.check_revisions_contiguous(kvs, current)

    def test_compaction_at_tombstone_then_kill9(self):
        # etcd #17780: compacting at a revision that is a delete, then crashing, made the
        # revision go back after restart. The revision must never decrease.
        m = self.new_member()
        for args in (("put", "a", "1"), ("put", "b", "1"), ("del", "a"), ("del", "b")):
            r = m.etcdctl(*args)
            self.assertEqual(r.rc, 0, r)
        self.assertEqual(harness.revision_of(m.etcdctl_json("get", "a")), 5)
        r = m.etcdctl("compaction", "--physical", "5")
        self.assertEqual(r.rc, 0, r)
        m.kill9()
        m.restart()
        resp = m.etcdctl_json("get", "--prefix", "")
        self.assertEqual(harness.revision_of(resp), 5)
        self.assertNotIn("kvs", resp)
        harness.assert_etcdctl_error(self, m.etcdctl("get", "a", "--rev", "4"), "OutOfRange",
                                     "etcdserver: mvcc: required revision has been compacted")
        self.assertEqual(harness.revision_of(m.etcdctl_json("put", "c", "1")), 6)
        m.kill9()
        m.restart()
        self.assertEqual(harness.kvs_of(m.etcdctl_json("get", "c")), [(b"c", b"1", 6, 6, 1)])

    def test_clean_restart_keeps_data_and_revision(self):
        m = self.new_member()
        r = m.etcdctl("put", "k1", "v1")
        self.assertEqual(r.rc, 0, r)
        m.etcdctl("put", "k2", "v2")
        m.etcdctl("put", "k1", "v1b")
        m.etcdctl("del", "k2")
        self.assertEqual(m.etcdctl("compaction", "3").rc, 0)
        before = m.etcdctl_json("get", "--prefix", "k")
        self.assertEqual(harness.revision_of(before), 5)
        # etcd re-raises SIGTERM after its shutdown handlers, so it "dies" of the signal; exit
        # code 0 is fine as well. Anything else (a crash, or SIGKILL after the grace period) is not.
        self.assertIn(m.stop(), (0, -signal.SIGTERM), "SIGTERM must shut down cleanly\n" +
                      m.log_tail())
        m.restart()
        after = m.etcdctl_json("get", "--prefix", "k")
        self.assertEqual(harness.revision_of(after), 5)
        self.assertEqual(harness.kvs_of(after), harness.kvs_of(before))
        self.assertEqual(harness.kvs_of(after), [(b"k1", b"v1b", 2, 4, 2)])
        # History and the compaction survive the restart.
        old = m.etcdctl_json("get", "k2", "--rev", "4")
        self.assertEqual(harness.kvs_of(old), [(b"k2", b"v2", 3, 3, 1)])
        harness.assert_etcdctl_error(self, m.etcdctl("get", "k1", "--rev", "2"), "OutOfRange",
                                     "etcdserver: mvcc: required revision has been compacted")
        # Revisions continue where they were.
        self.assertEqual(harness.revision_of(m.etcdctl_json("put", "k3", "v3")), 6)
        # Status still reports the same member and cluster.
        self.assertEqual(before["header"]["member_id"], after["header"]["member_id"])
        self.assertEqual(before["header"]["cluster_id"], after["header"]["cluster_id"])
        # A second clean restart right after a write.
        self.assertIn(m.stop(), (0, -signal.SIGTERM))
        m.restart()
        self.assertEqual(harness.kvs_of(m.etcdctl_json("get", "k3"))[0][:2], (b"k3", b"v3"))


if __name__ == "__main__":
    harness.main()
