#!/usr/bin/python3
"""e2e: the KV and Maintenance APIs driven by the real python3-etcd3 (0.12) client.

Where python3-etcd3 has no wrapper for a request field (count_only, min/max revision filters,
limit, ...), the request is sent raw through the client's own generated gRPC stubs.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

import etcd3  # noqa: E402  (Debian python3-etcd3: run with /usr/bin/python3)
import grpc  # noqa: E402
from etcd3 import etcdrpc  # noqa: E402


class GrpcErrorMixin:
    def assertGrpcError(self, code, message, fn, *args, **kw):
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, **kw)
        self.assertEqual(cm.exception.code(), code, cm.exception)
        self.assertEqual(cm.exception.details(), message)


class PythonClientTest(GrpcErrorMixin, harness.MemberTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.m = cls.new_class_member()
        cls.c = cls.m.client()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        super().tearDownClass()

    def raw_range(self, **fields):
        return self.c.kvstub.Range(etcdrpc.RangeRequest(**fields), 30)

    # ---- put / get / delete ----

    def test_put_and_get(self):
        c = self.c
        resp = c.put("py/k", "v1")
        rev = resp.header.revision
        self.assertGreater(rev, 1)
        self.assertNotEqual(resp.header.cluster_id, 0)
        self.assertNotEqual(resp.header.member_id, 0)
        self.assertGreaterEqual(resp.header.raft_term, 1)
        self.assertFalse(resp.HasField("prev_kv"))
        value, meta = c.get("py/k")
        self.assertEqual(value, b"v1")
        self.assertEqual((meta.key, meta.create_revision, meta.mod_revision, meta.version,
                          meta.lease_id), (b"py/k", rev, rev, 1, 0))
        self.assertEqual(c.get("py/missing"), (None, None))
        value, meta = c.get("py/k", serializable=True)
        self.assertEqual(value, b"v1")
        # bytes in, bytes out: not UTF-8 values survive.
        c.put(b"py/bin\xff\x00", b"\x00\x01\xfe\xff")
        self.assertEqual(c.get(b"py/bin\xff\x00")[0], b"\x00\x01\xfe\xff")

    def test_put_prev_kv(self):
        c = self.c
        self.assertFalse(c.put("pyp/k", "a", prev_kv=True).HasField("prev_kv"))
        resp = c.put("pyp/k", "b", prev_kv=True)
        self.assertEqual((resp.prev_kv.key, resp.prev_kv.value, resp.prev_kv.version),
                         (b"pyp/k", b"a", 1))
        self.assertEqual(resp.header.revision, resp.prev_kv.mod_revision + 1)

    def test_get_prefix_sorted_and_keys_only(self):
        c = self.c
        for k, v in (("pyg/b", "2"), ("pyg/a", "3"), ("pyg/c", "1"), ("pyh", "x")):
            c.put(k, v)
        self.assertEqual([m.key for _, m in c.get_prefix("pyg/")],
                         [b"pyg/a", b"pyg/b", b"pyg/c"])
        self.assertEqual([v for v, _ in c.get_prefix("pyg/", sort_order="descend")],
                         [b"1", b"2", b"3"])
        self.assertEqual([v for v, _ in c.get_prefix("pyg/", sort_order="ascend",
                                                     sort_target="value")],
                         [b"1", b"2", b"3"])
        self.assertEqual([m.key for _, m in c.get_prefix("pyg/", sort_order="ascend",
                                                         sort_target="create")],
                         [b"pyg/b", b"pyg/a", b"pyg/c"])
        values = [v for v, _ in c.get_prefix("pyg/", keys_only=True)]
        self.assertEqual(values, [b"", b"", b""])
        self.assertEqual([m.key for _, m in c.get_range("pyg/b", "pyh")], [b"pyg/b", b"pyg/c"])

    def test_delete_and_delete_prefix(self):
        c = self.c
        c.put("pyd/a", "1")
        c.put("pyd/b", "2")
        c.put("pyd/c", "3")
        self.assertTrue(c.delete("pyd/a"))
        self.assertFalse(c.delete("pyd/a"))
        resp = c.delete("pyd/b", prev_kv=True, return_response=True)
        self.assertEqual(resp.deleted, 1)
        self.assertEqual([(kv.key, kv.value) for kv in resp.prev_kvs], [(b"pyd/b", b"2")])
        c.put("pyd/d", "4")
        resp = c.delete_prefix("pyd/")
        self.assertEqual(resp.deleted, 2)
        self.assertEqual(list(c.get_prefix("pyd/")), [])
        # Deleting nothing does not create a revision.
        before = c.get_prefix_response("pyd/").header.revision
        self.assertEqual(c.delete_prefix("pyd/").header.revision, before)

    def test_replace_and_put_if_not_exists(self):
        c = self.c
        self.assertTrue(c.put_if_not_exists("pyr/k", "v1"))
        self.assertFalse(c.put_if_not_exists("pyr/k", "other"))
        self.assertTrue(c.replace("pyr/k", "v1", "v2"))
        self.assertFalse(c.replace("pyr/k", "v1", "v3"))
        self.assertEqual(c.get("pyr/k")[0], b"v2")
        self.assertFalse(c.replace("pyr/missing", "", "x"))

    # ---- transactions ----

    def test_transaction_compares_and_branches(self):
        c = self.c
        t = c.transactions
        c.put("pyt/k", "v1")
        c.put("pyt/k", "v2")
        _, meta = c.get("pyt/k")
        ok, responses = c.transaction(
            compare=[t.value("pyt/k") == "v2", t.version("pyt/k") == 2,
                     t.create("pyt/k") == meta.create_revision,
                     t.mod("pyt/k") == meta.mod_revision, t.version("pyt/absent") == 0],
            success=[t.put("pyt/k", "v3"), t.get("pyt/k"), t.delete("pyt/none")],
            failure=[t.put("pyt/k", "failed")])
        self.assertTrue(ok)
        self.assertEqual(len(responses), 3)
        self.assertEqual(responses[1][0][0], b"v3")  # the range sees the txn's own put
        self.assertEqual(responses[2].response_delete_range.deleted, 0)

        ok, responses = c.transaction(
            compare=[t.mod("pyt/k") < meta.mod_revision],
            success=[t.put("pyt/k", "wrong")],
            failure=[t.put("pyt/k", "from-failure", prev_kv=True), t.get("pyt/k")])
        self.assertFalse(ok)
        self.assertEqual(responses[0].response_put.prev_kv.value, b"v3")
        self.assertEqual(responses[1][0][0], b"from-failure")
        self.assertEqual(c.get("pyt/k")[0], b"from-failure")

        ok, _ = c.transaction(compare=[t.value("pyt/k") != "x", t.version("pyt/k") > 3,
                                       t.create("pyt/k") > 0], success=[], failure=[])
        self.assertTrue(ok)

    def test_transaction_range_compare_and_nested(self):
        c = self.c
        t = c.transactions
        for k in ("pyn/a", "pyn/b", "pyn/c"):
            c.put(k, "same")
        c.put("pyn/c", "same")  # version 2
        # A compare with a range_end must hold for every key in the range.
        ok, _ = c.transaction(compare=[etcd3.transactions.Value("pyn/a", "pyn/d") == "same"],
                              success=[], failure=[])
        self.assertTrue(ok)
        ok, _ = c.transaction(compare=[etcd3.transactions.Version("pyn/a", "pyn/d") == 1],
                              success=[], failure=[])
        self.assertFalse(ok)
        ok, _ = c.transaction(compare=[etcd3.transactions.Version("pyn/a", "pyn/c") == 1],
                              success=[], failure=[])
        self.assertTrue(ok)

        # Nested txn: every compare, nested ones included, is evaluated against the store as it
        # was before the txn, so the inner compare does not see the outer put. All writes share
        # one revision.
        ok, responses = c.transaction(
            compare=[t.version("pyn/a") == 1],
            success=[t.put("pyn/outer", "1"),
                     t.txn(compare=[t.value("pyn/outer") == "1"],
                           success=[t.put("pyn/inner", "saw-outer")],
                           failure=[t.put("pyn/inner", "before-outer")])],
            failure=[])
        self.assertTrue(ok)
        inner = responses[1].response_txn
        self.assertFalse(inner.succeeded)
        _, outer_meta = c.get("pyn/outer")
        value, inner_meta = c.get("pyn/inner")
        self.assertEqual(value, b"before-outer")
        self.assertEqual(inner_meta.mod_revision, outer_meta.mod_revision)

    def test_raw_compare_edge_cases(self):
        c = self.c
        c.put("cmp/empty", b"")
        c.put("cmp/x", b"x")
        C = etcdrpc.Compare

        def succeeded(*compares):
            return c.kvstub.Txn(etcdrpc.TxnRequest(compare=list(compares)), 30).succeeded

        # An unset target value compares as zero / empty.
        self.assertTrue(succeeded(C(key=b"cmp/empty", target=C.VALUE, result=C.EQUAL)))
        self.assertFalse(succeeded(C(key=b"cmp/x", target=C.VALUE, result=C.EQUAL)))
        self.assertTrue(succeeded(C(key=b"cmp/x", target=C.VALUE, result=C.GREATER)))
        self.assertTrue(succeeded(C(key=b"cmp/missing", target=C.VERSION, result=C.EQUAL)))
        # LEASE: a key without a lease, and a missing key, compare as lease 0.
        self.assertTrue(succeeded(C(key=b"cmp/x", target=C.LEASE, result=C.EQUAL, lease=0)))
        self.assertTrue(succeeded(C(key=b"cmp/missing", target=C.LEASE, result=C.EQUAL,
                                    lease=0)))
        self.assertFalse(succeeded(C(key=b"cmp/x", target=C.LEASE, result=C.GREATER, lease=0)))
        # With a range_end every key in the range must match ("\0": every key >= key).
        self.assertTrue(succeeded(C(key=b"cmp/", range_end=b"cmp0", target=C.VERSION,
                                    result=C.EQUAL, version=1)))
        self.assertFalse(succeeded(C(key=b"cmp/", range_end=b"\0", target=C.CREATE,
                                     result=C.LESS, create_revision=1)))
        # VALUE over a range compares every key that exists in it.
        self.assertTrue(succeeded(C(key=b"cmp/e", range_end=b"cmp/f", target=C.VALUE,
                                    result=C.EQUAL, value=b"")))

    def test_transaction_errors(self):
        c = self.c
        t = c.transactions
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT,
                             "etcdserver: duplicate key given in txn request",
                             c.transaction, compare=[],
                             success=[t.put("pye/k", "1"), t.put("pye/k", "2")], failure=[])
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT,
                             "etcdserver: duplicate key given in txn request",
                             c.transaction, compare=[],
                             success=[t.delete("pye/a", "pye/z"), t.put("pye/k", "2")],
                             failure=[])
        # Overlapping deletes are allowed; so are duplicate puts in different branches.
        ok, _ = c.transaction(compare=[], success=[t.delete("pye/a", "pye/z"),
                                                   t.delete("pye/k")], failure=[])
        self.assertTrue(ok)
        ok, _ = c.transaction(compare=[], success=[t.put("pye/k", "1")],
                              failure=[t.put("pye/k", "2")])
        self.assertTrue(ok)
        # Nested txn: the two inner branches may write the same key.
        ok, _ = c.transaction(compare=[], success=[
            t.txn(compare=[], success=[t.put("pye/n", "1")], failure=[t.put("pye/n", "2")])],
            failure=[])
        self.assertTrue(ok)
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided",
                             c.transaction, compare=[], success=[t.put("", "1")], failure=[])

    # ---- long keys (longer than LMDB's 511-byte key limit) ----

    def test_long_keys_keep_byte_order(self):
        c = self.c
        base = b"lk/" + b"a" * 600
        keys = [base, base + b"\x00", base + b"b", b"lk/" + b"a" * 599 + b"b",
                b"lk/" + b"a" * 2000, b"lk/" + b"\xff" * 700, b"lk/" + b"a" * 100000,
                b"lk/" + b"a" * 600 + b"\x00" * 10, b"lk/short"]
        for i, k in enumerate(keys):
            c.put(k, b"v%d" % i)
        want = {k: b"v%d" % i for i, k in enumerate(keys)}

        def rng(key, end, **kw):
            resp = self.raw_range(key=key, range_end=end, **kw)
            return [kv.key for kv in resp.kvs], resp.count

        got, count = rng(b"lk/", b"lk0")
        self.assertEqual(got, sorted(keys))
        self.assertEqual(count, len(keys))
        for k in keys:
            self.assertEqual(c.get(k)[0], want[k], k[:20])
        # A prefix longer than 511 bytes.
        prefix_end = base[:-1] + b"b"
        self.assertEqual(rng(base, prefix_end)[0], sorted(k for k in keys if k.startswith(base)))
        # Ranges that start or end inside a run of long keys.
        lo, hi = base + b"\x00", b"lk/" + b"a" * 599 + b"b"
        self.assertEqual(rng(lo, hi)[0], sorted(k for k in keys if lo <= k < hi))
        self.assertEqual(rng(lo, b"\0")[0][:3], sorted(k for k in keys if k >= lo)[:3])
        self.assertEqual(rng(b"lk/", b"lk0", limit=3, sort_order=etcdrpc.RangeRequest.DESCEND)[0],
                         sorted(keys, reverse=True)[:3])
        # Versions, history and deletes work on long keys like on short ones.
        rev = c.put(base, b"second").header.revision
        value, meta = c.get(base)
        self.assertEqual((value, meta.version, meta.mod_revision), (b"second", 2, rev))
        old = self.raw_range(key=base, revision=rev - 1)
        self.assertEqual(old.kvs[0].value, want[base])
        resp = c.kvstub.DeleteRange(etcdrpc.DeleteRangeRequest(key=base, range_end=prefix_end), 30)
        self.assertEqual(resp.deleted, len([k for k in keys if k.startswith(base)]))
        self.assertEqual(rng(b"lk/", b"lk0")[0],
                         sorted(k for k in keys if not k.startswith(base)))
        ok, _ = c.transaction(compare=[c.transactions.version(keys[3]) == 1],
                              success=[c.transactions.put(keys[3], "txn")], failure=[])
        self.assertTrue(ok)
        self.assertEqual(c.get(keys[3])[0], b"txn")

    # ---- raw range options ----

    def test_raw_range_count_only_limit_and_filters(self):
        c = self.c
        revs = []
        for i in range(5):
            revs.append(c.put("pyq/%d" % i, "v%d" % i).header.revision)
        c.put("pyq/0", "again")  # mod revision of pyq/0 is now the newest
        prefix = dict(key=b"pyq/", range_end=b"pyq0")
        resp = self.raw_range(count_only=True, **prefix)
        self.assertEqual((resp.count, len(resp.kvs), resp.more), (5, 0, False))
        resp = self.raw_range(limit=2, **prefix)
        self.assertEqual(([kv.key for kv in resp.kvs], resp.count, resp.more),
                         ([b"pyq/0", b"pyq/1"], 5, True))
        # A negative limit means no limit.
        self.assertEqual(len(self.raw_range(limit=-1, **prefix).kvs), 5)
        # Filters: count stays the full range count, kvs are filtered.
        resp = self.raw_range(min_create_revision=revs[2], **prefix)
        self.assertEqual([kv.key for kv in resp.kvs], [b"pyq/2", b"pyq/3", b"pyq/4"])
        self.assertEqual(resp.count, 5)
        resp = self.raw_range(max_create_revision=revs[1], **prefix)
        self.assertEqual([kv.key for kv in resp.kvs], [b"pyq/0", b"pyq/1"])
        resp = self.raw_range(min_mod_revision=revs[4], **prefix)
        self.assertEqual([kv.key for kv in resp.kvs], [b"pyq/0", b"pyq/4"])
        resp = self.raw_range(max_mod_revision=revs[3], min_mod_revision=revs[2], **prefix)
        self.assertEqual([kv.key for kv in resp.kvs], [b"pyq/2", b"pyq/3"])
        # Historic read at a revision: the header shows the current revision.
        resp = self.raw_range(revision=revs[2], **prefix)
        self.assertEqual([kv.key for kv in resp.kvs], [b"pyq/0", b"pyq/1", b"pyq/2"])
        self.assertEqual(resp.kvs[0].value, b"v0")
        self.assertGreater(resp.header.revision, revs[4])
        # A negative revision means the latest, like 0.
        resp = self.raw_range(revision=-5, **prefix)
        self.assertEqual(resp.kvs[0].value, b"again")
        # range_end below key: empty, not an error.
        resp = self.raw_range(key=b"pyq/3", range_end=b"pyq/1")
        self.assertEqual((len(resp.kvs), resp.count), (0, 0))
        # range_end "\0" = every key >= key.
        resp = self.raw_range(key=b"pyq/3", range_end=b"\0", keys_only=True)
        self.assertEqual([kv.key for kv in resp.kvs][:2], [b"pyq/3", b"pyq/4"])
        self.assertEqual(resp.kvs[0].value, b"")

    def test_raw_errors(self):
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided",
                             self.raw_range, key=b"")
        if not harness.is_reference_34():  # etcd 3.4 does not validate the sort enums
            self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT,
                                 "etcdserver: invalid sort option",
                                 self.raw_range, key=b"a", sort_order=7)
            self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT,
                                 "etcdserver: invalid sort option",
                                 self.raw_range, key=b"a", sort_target=9)
        current = self.raw_range(key=b"a").header.revision
        self.assertGrpcError(grpc.StatusCode.OUT_OF_RANGE,
                             "etcdserver: mvcc: required revision is a future revision",
                             self.raw_range, key=b"a", revision=current + 1000)
        self.assertGrpcError(grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided",
                             self.c.put, "", "v")
        self.assertGrpcError(grpc.StatusCode.NOT_FOUND, "etcdserver: requested lease not found",
                             self.c.put, "pyl/k", "v", lease=0x1234)

    # ---- maintenance ----

    def test_status(self):
        st = self.c.maintenancestub.Status(etcdrpc.StatusRequest(), 30)
        if harness.is_reference_34():
            self.assertTrue(st.version.startswith("3.4."), st.version)  # ETCD_REFERENCE=3.4
        else:
            self.assertTrue(st.version.startswith("3.6."), st.version)
        # python3-etcd3 0.12's proto knows only these fields (the rest: test_kv_etcdctl).
        self.assertGreater(st.dbSize, 0)
        self.assertEqual(st.leader, st.header.member_id)
        self.assertGreater(st.raftIndex, 0)
        self.assertGreaterEqual(st.raftTerm, 1)
        self.assertEqual(st.raftTerm, st.header.raft_term)

    def test_client_status_and_members(self):
        # python3-etcd3's status() calls MemberList to find the leader.
        try:
            members = list(self.c.members)
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.UNIMPLEMENTED:
                self.skipTest("Cluster.MemberList not implemented yet")
            raise
        self.assertEqual(len(members), 1)
        self.assertEqual(members[0].name, self.m.name)
        self.assertEqual(list(members[0].peer_urls), [self.m.peer_url])
        self.assertEqual(list(members[0].client_urls), [self.m.client_url])
        st = self.c.status()
        self.assertEqual(st.leader.id, members[0].id)
        self.assertGreater(st.db_size, 0)
        self.assertGreater(st.raft_index, 0)
        self.assertGreaterEqual(st.raft_term, 1)


class PythonFreshMemberTest(GrpcErrorMixin, harness.MemberTestCase):
    """Whole-keyspace and exact-revision checks on a fresh member."""

    def setUp(self):
        super().setUp()
        self.m = self.new_member()
        self.c = self.m.client()
        self.addCleanup(self.c.close)

    def test_get_all_sorted(self):
        c = self.c
        for k, v in (("b", "3"), ("a", "2"), ("c", "1"), ("a", "22")):
            c.put(k, v)
        self.assertEqual([m.key for _, m in c.get_all()], [b"a", b"b", b"c"])
        self.assertEqual([m.key for _, m in c.get_all(sort_order="descend")], [b"c", b"b", b"a"])
        self.assertEqual([v for v, _ in c.get_all(sort_order="ascend", sort_target="value")],
                         [b"1", b"22", b"3"])
        self.assertEqual([m.key for _, m in c.get_all(sort_order="descend",
                                                      sort_target="version")][0], b"a")
        self.assertEqual([m.key for _, m in c.get_all(sort_order="descend", sort_target="mod")],
                         [b"a", b"c", b"b"])
        self.assertEqual([v for v, _ in c.get_all(keys_only=True)], [b"", b"", b""])

    def test_paginated_list_at_pinned_revision(self):
        # Kubernetes' list: pages of `limit` keys at one pinned revision, each page continuing at
        # the last key + "\0", while the keyspace changes underneath.
        c = self.c
        n = 1000
        for start in range(0, n, 100):
            ops = [etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(
                key=b"pods/%04d" % i, value=b"v1-%d" % i)) for i in range(start, start + 100)]
            self.assertTrue(c.kvstub.Txn(etcdrpc.TxnRequest(success=ops), 60).succeeded)
        pinned = c.kvstub.Range(etcdrpc.RangeRequest(key=b"pods/"), 30).header.revision
        self.assertEqual(pinned, 1 + n // 100)
        # Changes after the pinned revision: deletes, updates, inserts between existing keys.
        c.kvstub.DeleteRange(etcdrpc.DeleteRangeRequest(key=b"pods/0100", range_end=b"pods/0200"),
                             30)
        for i in range(0, n, 7):
            c.put(b"pods/%04d" % i, b"v2")
            c.put(b"pods/%04d-new" % i, b"new")
        got, pages, key = [], 0, b"pods/"
        while True:
            resp = c.kvstub.Range(etcdrpc.RangeRequest(key=key, range_end=b"pods0", limit=97,
                                                       revision=pinned), 30)
            pages += 1
            self.assertEqual(resp.count, n - len(got), "count = keys left at the pinned revision")
            got += [(kv.key, kv.value, kv.mod_revision) for kv in resp.kvs]
            if not resp.more:
                break
            self.assertEqual(len(resp.kvs), 97)
            key = resp.kvs[-1].key + b"\0"
        self.assertEqual(pages, (n + 96) // 97)
        self.assertEqual([k for k, _, _ in got], [b"pods/%04d" % i for i in range(n)])
        self.assertEqual([v for _, v, _ in got], [b"v1-%d" % i for i in range(n)])
        self.assertTrue(all(rev <= pinned for _, _, rev in got))
        # The latest view has every change.
        latest = c.kvstub.Range(etcdrpc.RangeRequest(key=b"pods/", range_end=b"pods0",
                                                     count_only=True), 30)
        expected = {b"pods/%04d" % i for i in range(n) if not 100 <= i < 200}
        expected |= {b"pods/%04d" % i for i in range(0, n, 7)}
        expected |= {b"pods/%04d-new" % i for i in range(0, n, 7)}
        self.assertEqual(latest.count, len(expected))

    def test_revisions_and_compaction(self):
        c = self.c
        self.assertEqual(c.put("k", "1").header.revision, 2)
        self.assertEqual(c.put("k", "2").header.revision, 3)
        ok, _ = c.transaction(compare=[], success=[c.transactions.put("k", "3"),
                                                   c.transactions.put("j", "1")], failure=[])
        self.assertTrue(ok)
        self.assertEqual(c.get("k")[1].mod_revision, 4)
        self.assertEqual(c.get("j")[1].mod_revision, 4)
        c.compact(3)
        self.assertGrpcError(grpc.StatusCode.OUT_OF_RANGE,
                             "etcdserver: mvcc: required revision has been compacted",
                             c.kvstub.Range, etcdrpc.RangeRequest(key=b"k", revision=2), 30)
        resp = c.kvstub.Range(etcdrpc.RangeRequest(key=b"k", revision=3), 30)
        self.assertEqual(resp.kvs[0].value, b"2")
        self.assertGrpcError(grpc.StatusCode.OUT_OF_RANGE,
                             "etcdserver: mvcc: required revision has been compacted",
                             c.compact, 3)
        self.assertGrpcError(grpc.StatusCode.OUT_OF_RANGE,
                             "etcdserver: mvcc: required revision is a future revision",
                             c.compact, 5)
        c.compact(4, physical=True)
        self.assertEqual(c.get("k")[0], b"3")


if __name__ == "__main__":
    harness.main()
