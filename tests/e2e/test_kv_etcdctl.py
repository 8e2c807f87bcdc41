#!/usr/bin/python3
"""e2e: the KV API driven by the real etcdctl (Debian etcd-client 3.4, v3 API).

KvTest shares one member; every test works under its own key prefix. RevisionTest starts a fresh
member per test because it asserts exact revision numbers.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import assert_etcdctl_error, keys_of, kvs_of, revision_of, unb64  # noqa: E402


class KvTest(harness.SharedMemberTestCase):

    def ctl(self, *args, **kw):
        return self.m.etcdctl(*args, **kw)

    def js(self, *args, **kw):
        return self.m.etcdctl_json(*args, **kw)

    def put_all(self, pairs):
        for k, v in pairs:
            self.assertEqual(self.ok("put", k, v).out, "OK\n")

    # ---- put / get / del ----

    def test_put_get_del_single_key(self):
        self.assertEqual(self.ok("put", "single/k", "v1").out, "OK\n")
        self.assertEqual(self.ok("get", "single/k").out, "single/k\nv1\n")
        self.assertEqual(self.ok("get", "single/k", "--print-value-only").out, "v1\n")
        resp = self.js("get", "single/k")
        self.assertEqual(resp["count"], 1)
        key, value, create, mod, version = kvs_of(resp)[0]
        self.assertEqual((key, value, version), (b"single/k", b"v1", 1))
        self.assertEqual(create, mod)
        self.assertNotIn("more", resp)

        self.ok("put", "single/k", "v2")
        key, value, create2, mod2, version2 = kvs_of(self.js("get", "single/k"))[0]
        self.assertEqual((value, create2, version2), (b"v2", create, 2))
        self.assertGreater(mod2, mod)

        self.assertEqual(self.ok("del", "single/k").out, "1\n")
        self.assertEqual(self.ok("get", "single/k").out, "")
        resp = self.js("get", "single/k")
        self.assertNotIn("kvs", resp)
        self.assertNotIn("count", resp)  # zero values are omitted
        self.assertEqual(self.ok("del", "single/k").out, "0\n")

        # Re-creating after a delete starts a new incarnation: version 1, new create_revision.
        self.ok("put", "single/k", "v3")
        _, value, create3, mod3, version3 = kvs_of(self.js("get", "single/k"))[0]
        self.assertEqual((value, version3, create3), (b"v3", 1, mod3))
        self.assertGreater(create3, mod2)

    def test_prefix_get_and_delete(self):
        self.put_all([("pfx/a", "1"), ("pfx/b", "2"), ("pfx/c", "3"), ("pfx0", "x"),
                      ("pf", "y")])
        resp = self.js("get", "--prefix", "pfx/")
        self.assertEqual(keys_of(resp), [b"pfx/a", b"pfx/b", b"pfx/c"])
        self.assertEqual(resp["count"], 3)
        self.assertEqual(self.ok("get", "--prefix", "pfx/").out, "pfx/a\n1\npfx/b\n2\npfx/c\n3\n")
        self.assertEqual(self.ok("del", "--prefix", "pfx/").out, "3\n")
        self.assertNotIn("kvs", self.js("get", "--prefix", "pfx/"))
        self.assertEqual(keys_of(self.js("get", "--prefix", "pf")), [b"pf", b"pfx0"])

    def test_explicit_ranges(self):
        self.put_all([("rng/%s" % c, c) for c in "abcde"])
        self.assertEqual(keys_of(self.js("get", "rng/b", "rng/d")), [b"rng/b", b"rng/c"])
        # An end below the start is an empty range, not an error.
        self.assertNotIn("kvs", self.js("get", "rng/d", "rng/b"))
        self.assertEqual(self.ok("del", "rng/b", "rng/d").out, "2\n")
        self.assertEqual(keys_of(self.js("get", "--prefix", "rng/")),
                         [b"rng/a", b"rng/d", b"rng/e"])

    def test_limit_sets_more_and_count(self):
        self.put_all([("lim/%d" % i, str(i)) for i in range(5)])
        resp = self.js("get", "--prefix", "lim/", "--limit", "2")
        self.assertEqual(keys_of(resp), [b"lim/0", b"lim/1"])
        self.assertIs(resp.get("more"), True)
        self.assertEqual(resp["count"], 5)  # count ignores the limit
        resp = self.js("get", "--prefix", "lim/", "--limit", "5")
        self.assertEqual(len(resp["kvs"]), 5)
        self.assertNotIn("more", resp)

    def test_keys_only(self):
        self.put_all([("ko/a", "value-a"), ("ko/b", "value-b")])
        resp = self.js("get", "--prefix", "ko/", "--keys-only")
        self.assertEqual(keys_of(resp), [b"ko/a", b"ko/b"])
        for kv in resp["kvs"]:
            self.assertNotIn("value", kv)
            self.assertEqual(kv["version"], 1)
        self.assertEqual(self.ok("get", "--prefix", "ko/", "--keys-only").out, "ko/a\n\nko/b\n\n")

    def test_sort_orders_and_targets(self):
        # Written in this order: create revisions c < a < b; b is written twice (version 2, newest
        # mod revision); values sort as a < c < b.
        self.put_all([("srt/c", "2-c"), ("srt/a", "1-a"), ("srt/b", "x"), ("srt/b", "3-b")])

        def order(*opts):
            return keys_of(self.js("get", "--prefix", "srt/", *opts))

        self.assertEqual(order(), [b"srt/a", b"srt/b", b"srt/c"])
        self.assertEqual(order("--order", "DESCEND"), [b"srt/c", b"srt/b", b"srt/a"])
        self.assertEqual(order("--order", "ASCEND", "--sort-by", "KEY"),
                         [b"srt/a", b"srt/b", b"srt/c"])
        self.assertEqual(order("--order", "ASCEND", "--sort-by", "CREATE"),
                         [b"srt/c", b"srt/a", b"srt/b"])
        self.assertEqual(order("--order", "DESCEND", "--sort-by", "CREATE"),
                         [b"srt/b", b"srt/a", b"srt/c"])
        self.assertEqual(order("--order", "DESCEND", "--sort-by", "MODIFY"),
                         [b"srt/b", b"srt/a", b"srt/c"])
        self.assertEqual(order("--order", "ASCEND", "--sort-by", "VALUE"),
                         [b"srt/a", b"srt/c", b"srt/b"])
        self.assertEqual(order("--order", "DESCEND", "--sort-by", "VERSION")[0], b"srt/b")
        # A sort target without an order means ascending on that target.
        self.assertEqual(order("--sort-by", "VALUE"), [b"srt/a", b"srt/c", b"srt/b"])
        # Limit is applied after sorting.
        self.assertEqual(order("--order", "DESCEND", "--sort-by", "VALUE", "--limit", "1"),
                         [b"srt/b"])

    def test_serializable_read(self):
        self.ok("put", "ser/k", "v")
        resp = self.js("get", "ser/k", "--consistency", "s")
        self.assertEqual(kvs_of(resp)[0][1], b"v")
        self.assertEqual(self.ok("get", "ser/k", "--consistency", "l").out, "ser/k\nv\n")

    def test_prev_kv_on_put_and_delete(self):
        # First put: there is no previous value, so only OK.
        self.assertEqual(self.ok("put", "pkv/k", "v1", "--prev-kv").out, "OK\n")
        self.assertEqual(self.ok("put", "pkv/k", "v2", "--prev-kv").out, "OK\npkv/k\nv1\n")
        resp = self.js("put", "pkv/k", "v3", "--prev-kv")
        prev = resp["prev_kv"]
        self.assertEqual((unb64(prev["key"]), unb64(prev["value"]), prev["version"]),
                         (b"pkv/k", b"v2", 2))
        resp = self.js("put", "pkv/k", "v4")
        self.assertNotIn("prev_kv", resp)

        self.ok("put", "pkv/k2", "w")
        self.assertEqual(self.ok("del", "pkv/k", "--prev-kv").out, "1\npkv/k\nv4\n")
        resp = self.js("del", "--prefix", "pkv/", "--prev-kv")
        self.assertEqual(resp["deleted"], 1)
        self.assertEqual([(unb64(kv["key"]), unb64(kv["value"])) for kv in resp["prev_kvs"]],
                         [(b"pkv/k2", b"w")])

    def test_ignore_value_and_ignore_lease(self):
        assert_etcdctl_error(self, self.ctl("put", "ign/missing", "--ignore-value"),
                             "InvalidArgument", "etcdserver: key not found")
        assert_etcdctl_error(self, self.ctl("put", "ign/missing", "v", "--ignore-lease"),
                             "InvalidArgument", "etcdserver: key not found")
        self.ok("put", "ign/k", "orig")
        self.ok("put", "ign/k", "--ignore-value")
        _, value, _, _, version = kvs_of(self.js("get", "ign/k"))[0]
        self.assertEqual((value, version), (b"orig", 2))
        self.ok("put", "ign/k", "new", "--ignore-lease")
        _, value, _, _, version = kvs_of(self.js("get", "ign/k"))[0]
        self.assertEqual((value, version), (b"new", 3))

    def test_empty_key_is_rejected(self):
        for args in (("put", "", "v"), ("get", ""), ("del", "")):
            assert_etcdctl_error(self, self.ctl(*args), "InvalidArgument",
                                 "etcdserver: key is not provided")

    # ---- values ----

    def test_binary_value_via_stdin(self):
        value = bytes(range(256)) * 4 + b"\n"
        self.assertEqual(self.ok("put", "bin/k", input=value).out, "OK\n")
        self.assertEqual(kvs_of(self.js("get", "bin/k"))[0][1], value)
        # --hex renders keys and values as hex in simple output.
        self.assertEqual(self.ok("get", "bin/k", "--hex", "--print-value-only").out.strip(),
                         "".join("\\x%02x" % c for c in value))

    def test_unicode_key_and_value(self):
        key, value = "uni/ключ/日本語/✓", "значение — 値 — 🚀"
        self.ok("put", key, value)
        self.assertEqual(self.ok("get", key).stdout.decode("utf-8"), key + "\n" + value + "\n")
        self.assertEqual(kvs_of(self.js("get", "--prefix", "uni/"))[0][:2],
                         (key.encode(), value.encode()))

    def test_large_value_1mib(self):
        value = (b"0123456789abcdef" * 65536)  # exactly 1 MiB
        self.assertEqual(len(value), 1 << 20)
        self.ok("put", "big/k", input=value)
        got = kvs_of(self.js("get", "big/k"))[0][1]
        self.assertEqual(len(got), len(value))
        self.assertEqual(got, value)

    def test_default_request_size_limits(self):
        # --max-request-bytes defaults to 1.5 MiB; gRPC itself refuses beyond it + 512 KiB.
        ok_value = b"o" * (1536 * 1024 - 4096)
        self.ok("put", "size/ok", input=ok_value)
        self.assertEqual(len(kvs_of(self.js("get", "size/ok"))[0][1]), len(ok_value))
        assert_etcdctl_error(self, self.ctl("put", "size/big", input=b"b" * (1536 * 1024 + 4096)),
                             "InvalidArgument", "etcdserver: request is too large")
        r = self.ctl("put", "size/huge", input=b"h" * (2048 * 1024 + 4096))
        self.assertNotEqual(r.rc, 0, r)
        self.assertIn("code = ResourceExhausted", r.err)
        self.assertEqual(self.ok("get", "size/", "--prefix", "--keys-only").out, "size/ok\n\n")

    # ---- txn ----

    def txn(self, compares, success, failure, json_out=False):
        script = "\n".join(compares) + "\n\n" + "\n".join(success) + "\n\n" + \
            "\n".join(failure) + "\n\n"
        if json_out:
            return self.js("txn", input=script)
        return self.ok("txn", input=script)

    def test_txn_value_compare_branches(self):
        self.ok("put", "txv/k", "v1")
        r = self.txn(['value("txv/k") = "v1"'], ["put txv/k v2", "put txv/other yes"],
                     ["put txv/k failed"])
        self.assertEqual(r.out, "SUCCESS\n\nOK\n\nOK\n")
        self.assertEqual(self.ok("get", "txv/k", "--print-value-only").out, "v2\n")
        r = self.txn(['value("txv/k") = "v1"'], ["put txv/k wrong"],
                     ["put txv/k from-failure", "get txv/other"])
        self.assertEqual(r.out, "FAILURE\n\nOK\n\ntxv/other\nyes\n")
        self.assertEqual(self.ok("get", "txv/k", "--print-value-only").out, "from-failure\n")
        # != and > < on values
        resp = self.txn(['value("txv/k") != "zzz"', 'value("txv/k") > "a"',
                         'value("txv/k") < "g"'], ["get txv/k"], [], json_out=True)
        self.assertIs(resp.get("succeeded"), True)
        # VALUE against a missing key is false, whatever the operator.
        resp = self.txn(['value("txv/missing") != "x"'], ["put txv/s 1"], [], json_out=True)
        self.assertNotIn("succeeded", resp)  # false is omitted in JSON

    def test_txn_version_create_mod_compares(self):
        self.ok("put", "txc/k", "a")
        self.ok("put", "txc/k", "b")
        _, _, create, mod, version = kvs_of(self.js("get", "txc/k"))[0]
        self.assertEqual(version, 2)

        def succeeded(compare):
            resp = self.txn([compare], [], [], json_out=True)
            return resp.get("succeeded", False)

        self.assertTrue(succeeded('version("txc/k") = "2"'))
        self.assertFalse(succeeded('version("txc/k") = "1"'))
        self.assertTrue(succeeded('version("txc/k") > "1"'))
        self.assertTrue(succeeded('create("txc/k") = "%d"' % create))
        self.assertTrue(succeeded('create("txc/k") < "%d"' % mod))
        self.assertTrue(succeeded('mod("txc/k") = "%d"' % mod))
        self.assertFalse(succeeded('mod("txc/k") > "%d"' % mod))
        self.assertTrue(succeeded('mod("txc/k") != "%d"' % create))
        # A missing key compares as zero: the create-if-absent idiom.
        self.assertTrue(succeeded('create("txc/absent") = "0"'))
        self.assertTrue(succeeded('version("txc/absent") = "0"'))
        self.assertTrue(succeeded('mod("txc/absent") = "0"'))
        # Compares are ANDed.
        self.assertFalse(succeeded('version("txc/k") = "2"\nversion("txc/absent") = "1"'))

    def test_txn_ops_results_and_shared_revision(self):
        self.ok("put", "txr/a", "1")
        resp = self.txn(['version("txr/a") = "1"'],
                        ["put txr/a 2", "put txr/b 1", "del txr/nothing", "get txr/a"], [],
                        json_out=True)
        self.assertIs(resp["succeeded"], True)
        rev = revision_of(resp)
        kinds = [list(r["Response"].keys())[0] for r in resp["responses"]]
        self.assertEqual(kinds, ["ResponsePut", "ResponsePut", "ResponseDeleteRange",
                                 "ResponseRange"])
        # The range inside the txn sees the txn's own earlier put.
        rng = resp["responses"][3]["Response"]["ResponseRange"]
        self.assertEqual(kvs_of(rng)[0][1], b"2")
        # Every write of one txn carries the same revision.
        for key in ("txr/a", "txr/b"):
            self.assertEqual(kvs_of(self.js("get", key))[0][3], rev)

    # ---- endpoint ----

    def test_endpoint_status_json(self):
        statuses = self.js("endpoint", "status")
        self.assertEqual(len(statuses), 1)
        self.assertEqual(statuses[0]["Endpoint"], self.m.endpoint)
        st = statuses[0]["Status"]
        if harness.is_reference_34():
            self.assertTrue(st["version"].startswith("3.4."), st)  # ETCD_REFERENCE=3.4
        else:
            self.assertTrue(st["version"].startswith("3.6."), st)
        self.assertGreater(st["dbSize"], 0)
        self.assertIn("dbSizeInUse", st)
        self.assertNotEqual(st["header"]["member_id"], 0)
        self.assertNotEqual(st["header"]["cluster_id"], 0)
        # A single member leads itself.
        self.assertEqual(st["leader"], st["header"]["member_id"])
        self.assertGreater(st["raftIndex"], 0)
        self.assertGreaterEqual(st["raftTerm"], 1)
        self.assertGreater(st["raftAppliedIndex"], 0)
        self.assertNotIn("isLearner", st)
        self.assertNotIn("errors", st)
        # Simple output: endpoint, id, version, db size, is leader, ...
        r = self.ok("endpoint", "status")
        self.assertIn(self.m.endpoint + ", ", r.out)
        self.assertIn(", true, ", r.out)  # is leader

    def test_endpoint_health(self):
        r = self.ok("endpoint", "health")
        self.assertIn("%s is healthy: successfully committed proposal" % self.m.endpoint,
                      r.out + r.err)
        health = self.js("endpoint", "health")
        self.assertEqual(health[0]["endpoint"], self.m.endpoint)
        self.assertIs(health[0]["health"], True)


class RevisionTest(harness.MemberTestCase):
    """Exact revision numbers; a fresh member per test (an empty store is at revision 1)."""

    def setUp(self):
        super().setUp()
        self.m = self.new_member()

    def ok(self, *args, **kw):
        r = self.m.etcdctl(*args, **kw)
        self.assertEqual(r.rc, 0, r)
        return r

    def js(self, *args, **kw):
        return self.m.etcdctl_json(*args, **kw)

    def rev(self):
        return revision_of(self.js("get", "any-key"))

    def test_revision_bumps(self):
        self.assertEqual(self.rev(), 1)
        self.assertEqual(revision_of(self.js("put", "a", "1")), 2)
        self.assertEqual(revision_of(self.js("put", "b", "1")), 3)
        # Deleting nothing does not bump.
        resp = self.js("del", "nothing")
        self.assertEqual(revision_of(resp), 3)
        self.assertNotIn("deleted", resp)
        self.assertEqual(revision_of(self.js("del", "--prefix", "zzz")), 3)
        # Read-only txn and a txn whose chosen branch is empty do not bump.
        self.assertEqual(revision_of(self.js("txn", input='\nget a\n\n\n')), 3)
        self.assertEqual(revision_of(self.js("txn", input='value("a") = "no"\n\nput a 9\n\n\n')), 3)
        # A txn with several writes bumps exactly once.
        resp = self.js("txn", input='\nput a 2\nput b 2\nput c 1\ndel nothing\n\n\n')
        self.assertEqual(revision_of(resp), 4)
        for key in ("a", "b", "c"):
            self.assertEqual(kvs_of(self.js("get", key))[0][3], 4)
        # The failure branch writes bump too.
        self.assertEqual(revision_of(self.js("txn", input='value("a") = "no"\n\n\nput d 1\n\n')), 5)
        # Deleting several keys is one revision.
        resp = self.js("del", "a", "c")  # [a, c) = a, b
        self.assertEqual((revision_of(resp), resp["deleted"]), (6, 2))
        # Reads report the current revision.
        self.assertEqual(self.rev(), 6)
        self.assertEqual(revision_of(self.js("get", "c", "--consistency", "s")), 6)

    def test_historic_reads(self):
        self.ok("put", "k", "v1")  # 2
        self.ok("put", "k", "v2")  # 3
        self.ok("put", "other", "x")  # 4
        self.ok("del", "k")  # 5
        self.ok("put", "k", "v3")  # 6

        def at(rev):
            resp = self.js("get", "k", "--rev", str(rev))
            self.assertEqual(revision_of(resp), 6)  # header = current, even for old reads
            return kvs_of(resp)

        self.assertEqual(at(1), [])
        self.assertEqual(at(2), [(b"k", b"v1", 2, 2, 1)])
        self.assertEqual(at(3), [(b"k", b"v2", 2, 3, 2)])
        self.assertEqual(at(4), [(b"k", b"v2", 2, 3, 2)])
        self.assertEqual(at(5), [])
        self.assertEqual(at(6), [(b"k", b"v3", 6, 6, 1)])
        self.assertEqual(at(0), [(b"k", b"v3", 6, 6, 1)])  # 0 = latest
        resp = self.js("get", "--prefix", "", "--rev", "4")
        self.assertEqual(keys_of(resp), [b"k", b"other"])
        assert_etcdctl_error(self, self.m.etcdctl("get", "k", "--rev", "7"), "OutOfRange",
                             "etcdserver: mvcc: required revision is a future revision")

    def test_compaction(self):
        for i in range(1, 6):
            self.ok("put", "k", "v%d" % i)  # revisions 2..6
        self.ok("put", "gone", "x")  # 7
        self.ok("del", "gone")  # 8
        self.assertEqual(self.ok("compaction", "4").out, "compacted revision 4\n")
        assert_etcdctl_error(self, self.m.etcdctl("get", "k", "--rev", "3"), "OutOfRange",
                             "etcdserver: mvcc: required revision has been compacted")
        # The compacted revision itself is still readable.
        self.assertEqual(kvs_of(self.js("get", "k", "--rev", "4"))[0][1], b"v3")
        self.assertEqual(kvs_of(self.js("get", "k", "--rev", "5"))[0][1], b"v4")
        self.assertEqual(kvs_of(self.js("get", "k"))[0][1:], (b"v5", 2, 6, 5))
        # Compacting at or below the compacted revision, or in the future, fails.
        assert_etcdctl_error(self, self.m.etcdctl("compaction", "4"), "OutOfRange",
                             "etcdserver: mvcc: required revision has been compacted")
        assert_etcdctl_error(self, self.m.etcdctl("compaction", "2"), "OutOfRange",
                             "etcdserver: mvcc: required revision has been compacted")
        assert_etcdctl_error(self, self.m.etcdctl("compaction", "9"), "OutOfRange",
                             "etcdserver: mvcc: required revision is a future revision")
        # Compaction does not create a revision.
        self.assertEqual(self.rev(), 8)
        self.assertEqual(self.ok("compaction", "--physical", "8").out, "compacted revision 8\n")
        self.assertEqual(self.rev(), 8)
        assert_etcdctl_error(self, self.m.etcdctl("get", "k", "--rev", "7"), "OutOfRange",
                             "etcdserver: mvcc: required revision has been compacted")
        self.assertEqual(keys_of(self.js("get", "--prefix", "")), [b"k"])
        # Writes go on after compaction.
        self.assertEqual(revision_of(self.js("put", "k", "v6")), 9)
        _, value, create, mod, version = kvs_of(self.js("get", "k"))[0]
        self.assertEqual((value, create, mod, version), (b"v6", 2, 9, 6))

    def test_from_key(self):
        for k in ("a", "b", "c", "d"):
            self.ok("put", k, k)
        self.assertEqual(keys_of(self.js("get", "--from-key", "b")), [b"b", b"c", b"d"])
        self.assertEqual(keys_of(self.js("get", "--from-key", "b", "--limit", "1")), [b"b"])
        self.assertEqual(self.js("get", "--from-key", "b")["count"], 3)
        self.assertEqual(keys_of(self.js("get", "--from-key", "\x01")), [b"a", b"b", b"c", b"d"])
        self.assertEqual(self.ok("del", "--from-key", "c").out, "2\n")
        self.assertEqual(keys_of(self.js("get", "--from-key", "a")), [b"a", b"b"])


if __name__ == "__main__":
    harness.main()
