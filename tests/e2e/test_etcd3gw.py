#!/usr/bin/python3
"""e2e: Debian's python3-etcd3gw (2.0, a client of the JSON gateway under /v3) against one
member: put/get/delete, prefix reads with sorting, create/replace/raw transactions, leases
(grant, time-to-live, keys, refresh, revoke, expiry), watches (key, prefix, once, prev_kv,
cancel; streamed over the gateway), status and member list, etcd3gw's lock, an error body, and
the /v3beta alias. Skipped only when python3-etcd3gw is not installed (scripts/build.sh
installs it).

etcd3gw relies on gateway details: it parses every HTTP chunk of a watch response as one JSON
document, reads a missing `TTL` in a keepalive result as an expired lease (-1), a missing
`deleted`/`succeeded`/`kvs` as 0/false/empty, and uses the /v3/kv/lease/{revoke,timetolive}
aliases.
E2E_ETCD3GW_CAPTURE=<file>: the client talks through a logging proxy (httpcapture.py) and a
summary of every HTTP request is written to <file> at the end, every exchange as JSON lines
to <file>.jsonl.
"""

import json
import os
import queue
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import httpcapture  # noqa: E402

try:
    import etcd3gw
    import etcd3gw.exceptions
    import etcd3gw.lease
    import etcd3gw.utils
    MISSING = None
except ImportError as e:  # python3-etcd3gw is for /usr/bin/python3 only
    MISSING = "python3-etcd3gw (%s)" % e

CAPTURE = os.environ.get("E2E_ETCD3GW_CAPTURE")
WAIT = 30  # seconds: generous bound for anything asynchronous (watch events, lease expiry)


@unittest.skipIf(MISSING, "not installed: %s" % MISSING)
class Etcd3gwTest(harness.SharedMemberTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.proxy = httpcapture.CaptureProxy(cls.m.client_port) if CAPTURE else None

    @classmethod
    def tearDownClass(cls):
        if cls.proxy:
            cls.proxy.close()
            with open(CAPTURE, "w") as f:
                f.write(httpcapture.summarize([cls.proxy], limit=600) + "\n")
            httpcapture.dump_jsonl([cls.proxy], CAPTURE + ".jsonl")
            sys.stderr.write("e2e: etcd3gw's HTTP requests written to %s\n" % CAPTURE)
        super().tearDownClass()

    def client(self, api_path="/v3/"):
        port = self.proxy.port if self.proxy else self.m.client_port
        c = etcd3gw.client(host="127.0.0.1", port=port, timeout=WAIT)
        c.api_path = api_path  # etcd3gw.client() has no api_path; the default is /v3alpha/
        self.addCleanup(c.session.close)
        return c

    def setUp(self):
        super().setUp()
        self.c = self.client()

    # ---- helpers ----

    def watch_events(self, it):
        """Moves the events of a watch iterator into a queue (the iterator blocks forever)."""
        q = queue.Queue()

        def pump():
            for ev in it:
                q.put(ev)
        threading.Thread(target=pump, daemon=True).start()
        return q

    def next_event(self, q):
        try:
            return q.get(timeout=WAIT)
        except queue.Empty:
            self.fail("no watch event within %ds" % WAIT)

    def revision(self):
        return int(self.c.status()["header"]["revision"])

    # ---- KV ----

    def test_put_get_delete(self):
        c = self.c
        self.assertTrue(c.put("gw/kv/a", "va"))
        self.assertEqual(c.get("gw/kv/a"), [b"va"])
        value, meta = c.get("gw/kv/a", metadata=True)[0]
        self.assertEqual(value, b"va")
        self.assertEqual(meta["key"], b"gw/kv/a")
        # int64 as decimal strings; version 1 after the first put.
        self.assertEqual(meta["version"], "1")
        self.assertEqual(meta["create_revision"], meta["mod_revision"])
        self.assertGreater(int(meta["mod_revision"]), 0)
        self.assertNotIn("lease", meta)  # zero fields are omitted

        self.assertTrue(c.put("gw/kv/a", "vb"))
        value, meta2 = c.get("gw/kv/a", metadata=True)[0]
        self.assertEqual((value, meta2["version"]), (b"vb", "2"))
        self.assertEqual(meta2["create_revision"], meta["create_revision"])
        self.assertGreater(int(meta2["mod_revision"]), int(meta["mod_revision"]))

        binary = bytes(range(256))
        self.assertTrue(c.put(b"gw/kv/bin\x00\xff", binary))
        self.assertEqual(c.get(b"gw/kv/bin\x00\xff"), [binary])
        self.assertTrue(c.put("gw/kv/empty", ""))
        self.assertEqual(c.get("gw/kv/empty"), [b""])  # empty value: "value" omitted

        self.assertEqual(c.get("gw/kv/missing"), [])  # no "kvs" key
        self.assertTrue(c.delete("gw/kv/a"))
        self.assertEqual(c.get("gw/kv/a"), [])
        self.assertFalse(c.delete("gw/kv/a"))  # deleted 0: the key is omitted

        # Cross-check through gRPC (etcdctl).
        r = self.ok("get", "gw/kv/empty", "-w", "json")
        self.assertEqual(len(json.loads(r.stdout)["kvs"]), 1)

    def test_prefix_get_sort_and_delete_prefix(self):
        c = self.c
        for k in ("c", "a", "e", "b", "d"):
            c.put("gw/px/" + k, "v" + k)
        c.put("gw/px0", "outside")
        c.put("gw/p", "outside")
        got = c.get_prefix("gw/px/")
        self.assertEqual([m["key"] for _, m in got], [b"gw/px/" + k.encode() for k in "abcde"])
        self.assertEqual([v for v, _ in got], [b"va", b"vb", b"vc", b"vd", b"ve"])
        got = c.get_prefix("gw/px/", sort_order="descend")
        self.assertEqual([v for v, _ in got], [b"ve", b"vd", b"vc", b"vb", b"va"])
        got = c.get_prefix("gw/px/", sort_order="ascend", sort_target="mod")
        self.assertEqual([v for v, _ in got], [b"vc", b"va", b"ve", b"vb", b"vd"])
        # Extra Range fields pass through: limit (count and more come back).
        got = c.get("gw/px/a", metadata=True, range_end=etcd3gw.utils._encode(b"gw/px0"),
                    limit=2)
        self.assertEqual([m["key"] for _, m in got], [b"gw/px/a", b"gw/px/b"])

        self.assertTrue(c.delete_prefix("gw/px/"))
        self.assertEqual(c.get_prefix("gw/px/"), [])
        self.assertEqual(c.get("gw/px0"), [b"outside"])
        self.assertEqual(c.get("gw/p"), [b"outside"])

    def test_create_replace_and_transactions(self):
        c = self.c
        self.assertTrue(c.create("gw/txn/k", "one"))
        self.assertFalse(c.create("gw/txn/k", "two"))  # succeeded false: the key is omitted
        self.assertEqual(c.get("gw/txn/k"), [b"one"])
        self.assertFalse(c.replace("gw/txn/k", "wrong", "three"))
        self.assertTrue(c.replace("gw/txn/k", "one", "three"))
        self.assertEqual(c.get("gw/txn/k"), [b"three"])

        enc = etcd3gw.utils._encode
        # A raw txn: enums by name, int64 as a string, success runs put + range.
        txn = {
            "compare": [{"key": enc("gw/txn/k"), "result": "EQUAL", "target": "VERSION",
                         "version": "2"}],
            "success": [{"request_put": {"key": enc("gw/txn/k2"), "value": enc("x")}},
                        {"request_range": {"key": enc("gw/txn/k")}}],
            "failure": [{"request_range": {"key": enc("gw/txn/k2")}}],
        }
        r = c.transaction(txn)
        self.assertTrue(r.get("succeeded"), r)
        self.assertEqual(len(r["responses"]), 2, r)
        self.assertIn("response_put", r["responses"][0])
        kvs = r["responses"][1]["response_range"]["kvs"]
        self.assertEqual(etcd3gw.utils._decode(kvs[0]["value"]), b"three")
        rev = int(r["header"]["revision"])
        self.assertEqual(int(r["responses"][0]["response_put"]["header"]["revision"]), rev)

        # Same compare now fails (version 2 still, but compare GREATER): failure branch.
        txn["compare"][0]["result"] = "GREATER"
        r = c.transaction(txn)
        self.assertNotIn("succeeded", r)
        self.assertEqual(etcd3gw.utils._decode(
            r["responses"][0]["response_range"]["kvs"][0]["value"]), b"x")
        # Enums as numbers work too (etcd3gw's get() sends sort_order/sort_target so).
        txn["compare"][0].update(result=0, target=0, version=2)  # EQUAL, VERSION
        self.assertTrue(c.transaction(txn).get("succeeded"))

    # ---- leases ----

    def test_lease_grant_ttl_keys_refresh_revoke(self):
        c = self.c
        lease = c.lease(ttl=60)
        self.assertGreater(lease.id, 0)
        self.assertTrue(0 < lease.ttl() <= 60)
        self.assertTrue(c.put("gw/lease/k1", "v", lease=lease))
        self.assertTrue(c.create("gw/lease/k2", "v", lease=lease))
        self.assertEqual(sorted(lease.keys()), [b"gw/lease/k1", b"gw/lease/k2"])
        _, meta = c.get("gw/lease/k1", metadata=True)[0]
        self.assertEqual(int(meta["lease"]), lease.id)
        self.assertEqual(lease.refresh(), 60)  # one keepalive over the streaming endpoint
        self.assertTrue(lease.revoke())
        self.assertEqual(c.get_prefix("gw/lease/"), [])
        # A keepalive for a lease that is gone answers without TTL: etcd3gw (and Patroni) read
        # that as "expired".
        self.assertEqual(lease.refresh(), -1)
        self.assertEqual(lease.ttl(), -1)
        self.assertEqual(lease.keys(), [])

    def test_lease_expiry_deletes_keys(self):
        c = self.c
        lease = c.lease(ttl=2)
        c.put("gw/expire/k", "v", lease=lease)
        self.assertEqual(c.get("gw/expire/k"), [b"v"])
        deadline = time.monotonic() + WAIT
        while c.get("gw/expire/k"):
            self.assertLess(time.monotonic(), deadline, "leased key not deleted on expiry")
            time.sleep(0.1)  # polling interval
        self.assertEqual(lease.ttl(), -1)

    def test_put_with_unknown_lease_is_an_error_with_code_and_message(self):
        with self.assertRaises(etcd3gw.exceptions.Etcd3Exception) as cm:
            self.c.put("gw/err/k", "v", lease=etcd3gw.lease.Lease(0x1234567, self.c))
        body = json.loads(cm.exception.detail_text)
        self.assertEqual(body.get("code"), 5, body)  # NotFound
        self.assertEqual(body.get("message"), "etcdserver: requested lease not found", body)
        # etcd up to 3.5 also sent "error" (Patroni 3.0 reads it); etcdpp sends both.
        self.assertEqual(body.get("error"), "etcdserver: requested lease not found", body)

    # ---- watches ----

    def test_watch_key_put_and_delete(self):
        c = self.c
        start = self.revision() + 1
        it, cancel = c.watch("gw/w/k", start_revision=start)
        self.addCleanup(cancel)
        q = self.watch_events(it)
        c.put("gw/w/k", "v1")
        c.put("gw/w/other", "x")  # not watched
        c.delete("gw/w/k")
        ev = self.next_event(q)
        self.assertNotIn("type", ev)  # PUT is the zero enum value: omitted
        self.assertEqual((ev["kv"]["key"], ev["kv"]["value"]), (b"gw/w/k", b"v1"))
        self.assertEqual(int(ev["kv"]["mod_revision"]), start)
        ev = self.next_event(q)
        self.assertEqual(ev.get("type"), "DELETE")
        self.assertEqual(ev["kv"]["key"], b"gw/w/k")
        self.assertNotIn("value", ev["kv"])
        self.assertEqual(int(ev["kv"]["mod_revision"]), start + 2)

    def test_watch_prefix_with_prev_kv_then_cancel(self):
        c = self.c
        c.put("gw/wp/a", "old")
        start = self.revision() + 1
        it, cancel = c.watch_prefix("gw/wp/", start_revision=start, prev_kv=True)
        q = self.watch_events(it)
        c.put("gw/wp/a", "new")
        c.put("gw/wp/b", "vb")
        c.put("gw/wq", "outside")  # not in the prefix
        c.put("gw/wp/c", "vc")
        ev = self.next_event(q)
        self.assertEqual(ev["kv"]["value"], b"new")
        self.assertEqual(etcd3gw.utils._decode(ev["prev_kv"]["value"]), b"old")
        ev = self.next_event(q)
        self.assertEqual(ev["kv"]["key"], b"gw/wp/b")
        self.assertNotIn("prev_kv", ev)  # no previous version
        ev = self.next_event(q)
        self.assertEqual(ev["kv"]["key"], b"gw/wp/c")
        self.assertEqual(int(ev["kv"]["mod_revision"]), start + 3)
        cancel()
        c.put("gw/wp/d", "after cancel")
        # The pump thread ends once the cancelled iterator is exhausted.
        self.assertTrue(all(e["kv"]["key"] != b"gw/wp/d" for e in list(q.queue)))

    def test_watch_from_history_and_watch_once(self):
        c = self.c
        c.put("gw/wh/k", "1")
        rev = self.revision()
        c.put("gw/wh/k", "2")
        # start_revision in the past: history is replayed first.
        ev = c.watch_once("gw/wh/k", timeout=WAIT, start_revision=rev)
        self.assertEqual((ev["kv"]["value"], int(ev["kv"]["mod_revision"])), (b"1", rev))
        ev = c.watch_prefix_once("gw/wh/", timeout=WAIT, start_revision=rev + 1)
        self.assertEqual(ev["kv"]["value"], b"2")
        # No event: etcd3gw's own timeout.
        with self.assertRaises(etcd3gw.exceptions.WatchTimedOut):
            c.watch_once("gw/wh/none", timeout=0.5)

    def test_many_watch_events_one_json_document_per_chunk(self):
        """etcd3gw json-decodes every HTTP chunk on its own: 100 events in quick succession,
        also a txn's several events in one revision, must each arrive intact."""
        c = self.c
        start = self.revision() + 1
        it, cancel = c.watch_prefix("gw/wm/", start_revision=start)
        self.addCleanup(cancel)
        q = self.watch_events(it)
        for i in range(100):
            c.put("gw/wm/%03d" % i, "v%d" % i)
        enc = etcd3gw.utils._encode
        c.transaction({"compare": [], "success": [
            {"request_put": {"key": enc("gw/wm/t1"), "value": enc("a")}},
            {"request_put": {"key": enc("gw/wm/t2"), "value": enc("b")}}]})
        got = [self.next_event(q) for _ in range(102)]
        self.assertEqual([e["kv"]["key"] for e in got[:100]],
                         [b"gw/wm/%03d" % i for i in range(100)])
        self.assertEqual([int(e["kv"]["mod_revision"]) for e in got[:100]],
                         list(range(start, start + 100)))
        self.assertEqual([(e["kv"]["key"], int(e["kv"]["mod_revision"])) for e in got[100:]],
                         [(b"gw/wm/t1", start + 100), (b"gw/wm/t2", start + 100)])

    # ---- cluster and maintenance ----

    def test_status_and_members(self):
        st = self.c.status()
        self.assertTrue(st["version"].startswith("3.4." if harness.is_reference_34() else "3.6."),
                        st)
        self.assertGreater(int(st["dbSize"]), 0)
        self.assertEqual(st["leader"], st["header"]["member_id"])  # one member: itself
        self.assertGreater(int(st["raftIndex"]), 0)
        self.assertGreater(int(st["raftTerm"]), 0)
        for k in ("cluster_id", "member_id", "revision", "raft_term"):
            self.assertIsInstance(st["header"][k], str, k)  # (u)int64 as decimal strings
        members = self.c.members()
        self.assertEqual(len(members), 1, members)
        self.assertEqual(members[0]["name"], self.m.name)
        self.assertEqual(members[0]["clientURLs"], [self.m.client_url])
        self.assertEqual(members[0]["peerURLs"], [self.m.peer_url])
        self.assertEqual(members[0]["ID"], st["header"]["member_id"])
        self.assertNotIn("isLearner", members[0])

    # ---- etcd3gw's lock (txn on /locks/<name> with a leased key) ----

    def test_lock(self):
        c = self.c
        l1 = c.lock("gw-lock", ttl=60)
        self.assertTrue(l1.acquire())
        self.assertTrue(l1.is_acquired())
        l2 = c.lock("gw-lock", ttl=60)
        self.assertFalse(l2.acquire())  # failure branch (a request_range)
        self.assertFalse(l2.is_acquired())
        self.assertEqual(l1.refresh(), 60)
        self.assertTrue(l1.release())
        self.assertFalse(l1.release())
        with c.lock("gw-lock", ttl=60) as l3:
            self.assertTrue(l3.is_acquired())
        self.assertEqual(c.get("/locks/gw-lock"), [])
        l2.lease.revoke()
        l1.lease.revoke()

    # ---- the /v3beta alias (Patroni uses it until it has read /version) ----

    def test_v3beta_alias(self):
        beta = self.client("/v3beta/")
        self.assertTrue(beta.put("gw/beta/k", "v"))
        self.assertEqual(self.c.get("gw/beta/k"), [b"v"])
        self.assertEqual(beta.get("gw/beta/k"), [b"v"])
        self.assertEqual(beta.members()[0]["name"], self.m.name)


if __name__ == "__main__":
    harness.main()
