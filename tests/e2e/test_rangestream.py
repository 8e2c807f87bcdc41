#!/usr/bin/python3
"""e2e: KV.RangeStream (etcd 3.7's streaming range read; docs/rangestream.md).

python3-etcd3 (0.12) predates RangeStream, so the call is built from grpc's generic
`unary_stream` with the client's own RangeRequest/RangeResponse classes; RangeStreamResponse
(field 1 = RangeResponse) is decoded by hand. The contract checked everywhere: merging every
chunk's range_response (protobuf MergeFrom) equals the unary Range for the same request at the
same revision. The member runs with a small --max-request-bytes (the chunk byte budget) so that
a few MiB of data make many byte-bounded chunks.

etcd 3.4 (the reference binary) has no RangeStream: the suite is etcdpp-only.
"""

import os
import random
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import harness  # noqa: E402

import grpc  # noqa: E402  (Debian python3-grpcio, with python3-etcd3: run with /usr/bin/python3)
from etcd3 import etcdrpc  # noqa: E402

BUDGET = 64 * 1024  # --max-request-bytes of the member: the chunk byte budget
TIMEOUT = 60
RR = etcdrpc.RangeRequest


def _varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode_chunk(data):
    """RangeStreamResponse bytes -> (RangeResponse, serialized size of the chunk)."""
    out = etcdrpc.RangeResponse()
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 2:
            n, pos = _varint(data, pos)
            if field == 1:
                out.MergeFromString(data[pos:pos + n])
            pos += n
        elif wire == 0:
            _, pos = _varint(data, pos)
        else:
            raise AssertionError("unexpected wire type %d in RangeStreamResponse" % wire)
    return out, len(data)


def prefix_end(p):
    b = bytearray(p)
    while b and b[-1] == 0xFF:
        b.pop()
    if not b:
        return b"\0"
    b[-1] += 1
    return bytes(b)


@harness.skip_unless_etcdpp("RangeStream is etcd 3.7; the reference etcd 3.4 lacks it")
class RangeStreamTest(harness.MemberTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.m = cls.new_class_member(extra_args=["--max-request-bytes", str(BUDGET)])
        # No BDP probing: the client's HTTP/2 window stays small (64 KiB), so a client that
        # stops reading stalls the server after a chunk or two (what the slow-reader and
        # compaction tests rely on; grpc would otherwise grow the window to several MiB).
        cls.channel = grpc.insecure_channel(cls.m.endpoint, options=[
            ("grpc.max_receive_message_length", -1), ("grpc.http2.bdp_probe", 0)])
        cls.kv = etcdrpc.KVStub(cls.channel)
        cls.stream_call = cls.channel.unary_stream(
            "/etcdserverpb.KV/RangeStream",
            request_serializer=RR.SerializeToString,
            response_deserializer=decode_chunk)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        super().tearDownClass()

    # ---- helpers ----

    def put(self, key, value):
        return self.kv.Put(etcdrpc.PutRequest(key=key, value=value), TIMEOUT)

    def put_many(self, items):
        """Puts (key, value) pairs, many per Txn (one revision per txn), within the budget."""
        batch, size = [], 0
        for k, v in items:
            if batch and (len(batch) == 100 or size + len(k) + len(v) > BUDGET // 2):
                self._txn_put(batch)
                batch, size = [], 0
            batch.append((k, v))
            size += len(k) + len(v) + 16
        if batch:
            self._txn_put(batch)

    def _txn_put(self, batch):
        ops = [etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=k, value=v)) for k, v in batch]
        self.kv.Txn(etcdrpc.TxnRequest(success=ops), TIMEOUT)

    def stream(self, **fields):
        """(merged RangeResponse, [(chunk, size)])."""
        chunks = list(self.stream_call(RR(**fields), timeout=TIMEOUT))
        merged = etcdrpc.RangeResponse()
        for c, _ in chunks:
            merged.MergeFrom(c)
        return merged, chunks

    def check_layout(self, chunks):
        """etcd 3.7's layout: kvs disjoint and ascending; header/count/more on the last chunk only;
        every chunk within max(budget, one kv) bytes."""
        self.assertGreaterEqual(len(chunks), 1)
        prev = None
        for i, (c, size) in enumerate(chunks):
            last = i == len(chunks) - 1
            self.assertEqual(c.HasField("header"), last, "header on chunk %d of %d" % (
                i, len(chunks)))
            if not last:
                self.assertEqual((c.count, c.more), (0, False))
            biggest = max([kv.ByteSize() for kv in c.kvs] or [0])
            self.assertLessEqual(size, max(BUDGET, biggest) + 64, "chunk %d too big" % i)
            for kv in c.kvs:
                if prev is not None:
                    self.assertLess(prev, kv.key)
                prev = kv.key
        self.assertLessEqual(len(chunks[0][0].kvs), 10, "etcd 3.7 starts with 10 kvs")

    def assert_same_as_range(self, fields):
        merged, chunks = self.stream(**fields)
        self.check_layout(chunks)
        unary_fields = dict(fields)
        if unary_fields.get("revision", 0) <= 0:
            # The stream pinned its first snapshot's revision (= header.revision).
            unary_fields["revision"] = merged.header.revision
        unary = self.kv.Range(RR(**unary_fields), TIMEOUT)
        self.assertEqual(merged, unary, "request %r: %d chunks" % (fields, len(chunks)))
        return merged, chunks

    def assertRpcError(self, code, fn, message=None):
        with self.assertRaises(grpc.RpcError) as cm:
            fn()
        self.assertEqual(cm.exception.code(), code, cm.exception)
        if message is not None:
            self.assertEqual(cm.exception.details(), message)

    # ---- tests ----

    def test_random_requests_match_range(self):
        rnd = random.Random(int(os.environ.get("E2E_SEED", "1010")))
        p = b"rnd/"
        keys = [p + ("%04d" % rnd.randrange(3000)).encode() + rnd.choice([b"", b"x", b"\xff"])
                for _ in range(400)]
        keys = sorted(set(keys))
        revs = []
        for round_ in range(3):  # overwrites and deletes make history for `revision`
            items = []
            for k in keys:
                if rnd.random() < 0.6:
                    size = rnd.choice([0, 5, 50, 500, 5000, 20000])
                    items.append((k, bytes([65 + round_]) * size))
            self.put_many(items)
            for k in rnd.sample(keys, 30):
                self.kv.DeleteRange(etcdrpc.DeleteRangeRequest(key=k), TIMEOUT)
            revs.append(self.kv.Range(RR(key=b"x"), TIMEOUT).header.revision)

        def random_range():
            a, b = sorted(rnd.sample(keys, 2))
            return rnd.choice([
                dict(key=rnd.choice(keys)),                      # one existing key
                dict(key=p + b"nope"),                           # one missing key
                dict(key=a, range_end=b),
                dict(key=b, range_end=a),                        # empty: end < key
                dict(key=p, range_end=prefix_end(p)),            # the prefix
                dict(key=p + b"1", range_end=prefix_end(p + b"1")),
                dict(key=p + b"2", range_end=b"\0"),             # from key
                dict(key=p + b"zzz", range_end=prefix_end(p + b"zzz")),  # empty prefix
            ])

        for i in range(150):
            fields = random_range()
            fields["limit"] = rnd.choice([0, 0, 0, 1, 3, 10, 11, 57, 300, 10000, -1])
            if rnd.random() < 0.3:
                fields["keys_only"] = True
            if rnd.random() < 0.15:
                fields["count_only"] = True
            if rnd.random() < 0.4:
                fields["revision"] = rnd.choice(revs)
            if rnd.random() < 0.3:
                fields["serializable"] = True
            if rnd.random() < 0.2:
                fields["sort_order"], fields["sort_target"] = RR.ASCEND, RR.KEY
            elif rnd.random() < 0.1:
                fields["sort_target"] = RR.KEY  # NONE + KEY: the default
            with self.subTest(i=i, fields=fields):
                self.assert_same_as_range(fields)

    def test_empty_and_one_chunk_results(self):
        merged, chunks = self.assert_same_as_range(dict(key=b"empty/", range_end=b"empty0"))
        self.assertEqual(len(chunks), 1)
        self.assertEqual((merged.count, len(merged.kvs), merged.more), (0, 0, False))
        self.assertGreater(merged.header.revision, 1)
        self.assertNotEqual(merged.header.cluster_id, 0)

        self.put_many([(b"one/%d" % i, b"v") for i in range(3)])
        merged, chunks = self.assert_same_as_range(dict(key=b"one/", range_end=b"one0"))
        self.assertEqual((len(chunks), merged.count), (1, 3))
        # Exactly the first chunk's 10 kvs, with and without a limit at that boundary.
        self.put_many([(b"ten/%02d" % i, b"v") for i in range(10)])
        merged, chunks = self.assert_same_as_range(dict(key=b"ten/", range_end=b"ten0"))
        self.assertEqual(merged.count, 10)
        merged, chunks = self.assert_same_as_range(dict(key=b"ten/", range_end=b"ten0", limit=10))
        self.assertFalse(merged.more)
        merged, chunks = self.assert_same_as_range(dict(key=b"ten/", range_end=b"ten0", limit=9))
        self.assertTrue(merged.more)
        self.assertEqual(merged.count, 10)

    def test_chunks_grow_and_stay_byte_bounded(self):
        self.put_many([(b"small/%05d" % i, b"s" * 20) for i in range(4000)])
        merged, chunks = self.assert_same_as_range(dict(key=b"small/", range_end=b"small0"))
        sizes = [len(c.kvs) for c, _ in chunks]
        self.assertEqual(sum(sizes), 4000)
        self.assertLessEqual(sizes[0], 10)
        self.assertGreater(max(sizes), 100, "chunks grow toward the byte budget: %s" % sizes)

        big = [(b"big/%03d" % i, bytes([i % 256]) * (BUDGET // 3)) for i in range(40)]
        for k, v in big:
            self.put(k, v)
        merged, chunks = self.assert_same_as_range(dict(key=b"big/", range_end=b"big0"))
        self.assertGreaterEqual(len(chunks), 40 // 3)
        for c, size in chunks:
            self.assertLessEqual(size, BUDGET + 64)
        # A kv larger than the budget still goes out, alone in its chunk.
        self.put(b"huge/1", b"h" * (BUDGET - 1024))
        self.put(b"huge/2", b"h" * (BUDGET - 1024))
        merged, chunks = self.assert_same_as_range(dict(key=b"huge/", range_end=b"huge0"))
        self.assertEqual([len(c.kvs) for c, _ in chunks if c.kvs], [1, 1])

    def test_errors(self):
        code = grpc.StatusCode
        self.assertRpcError(code.INVALID_ARGUMENT, lambda: self.stream(key=b""),
                            "etcdserver: key is not provided")
        for fields in (dict(sort_order=RR.DESCEND), dict(sort_order=RR.ASCEND,
                                                         sort_target=RR.MOD),
                       dict(min_mod_revision=1), dict(max_mod_revision=5),
                       dict(min_create_revision=1), dict(max_create_revision=5)):
            with self.subTest(fields=fields):
                self.assertRpcError(code.UNIMPLEMENTED,
                                    lambda: self.stream(key=b"a", range_end=b"b", **fields))
        # sort_order NONE passes whatever the target (etcd 3.7's IsDefaultOrdering) and streams
        # in key order, where unary Range would sort ascending by the target.
        for i in (3, 1, 2):  # one revision each: mod order 3, 1, 2
            self.put(b"sortnone/%d" % i, b"v")
        merged, _ = self.stream(key=b"sortnone/", range_end=b"sortnone0", sort_target=RR.MOD)
        self.assertEqual([kv.key for kv in merged.kvs],
                         [b"sortnone/1", b"sortnone/2", b"sortnone/3"])
        cur = self.kv.Range(RR(key=b"x"), TIMEOUT).header.revision
        self.assertRpcError(code.OUT_OF_RANGE, lambda: self.stream(key=b"a", revision=cur + 100),
                            "etcdserver: mvcc: required revision is a future revision")

    def test_cancel_mid_stream(self):
        self.put_many([(b"cancel/%04d" % i, b"c" * 2000) for i in range(1500)])
        for _ in range(20):
            it = self.stream_call(RR(key=b"cancel/", range_end=b"cancel0"), timeout=TIMEOUT)
            next(it)
            it.cancel()
            with self.assertRaises(grpc.RpcError) as cm:
                for _ in it:
                    pass
            self.assertEqual(cm.exception.code(), grpc.StatusCode.CANCELLED)
        # Nothing was left pinned: writes, a compaction and full streams still work.
        rev = self.put(b"cancel/after", b"1").header.revision
        self.kv.Compact(etcdrpc.CompactionRequest(revision=rev, physical=True), TIMEOUT)
        merged, _ = self.assert_same_as_range(dict(key=b"cancel/", range_end=b"cancel0"))
        self.assertEqual(merged.count, 1501)

    def test_slow_reader_and_concurrent_writes(self):
        """A reader that stops reading holds no server resource that blocks writers, and the
        whole stream stays pinned to its first revision while writes land mid-stream."""
        self.put_many([(b"slow/%04d" % i, b"s" * 3000) for i in range(2000)])
        it = self.stream_call(RR(key=b"slow/", range_end=b"slow0"), timeout=TIMEOUT)
        first, _ = next(it)
        # The client reads nothing more for now: flow control stalls the server's stream.
        # Writes into the very range being streamed must go on meanwhile.
        done = threading.Event()
        errors = []

        def writer():
            try:
                for i in range(300):
                    self.put(b"slow/%04d" % (i * 7), b"new")
                self.kv.DeleteRange(etcdrpc.DeleteRangeRequest(key=b"slow/1", range_end=b"slow/2"),
                                    TIMEOUT)
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)
            finally:
                done.set()

        t = threading.Thread(target=writer)
        t.start()
        self.assertTrue(done.wait(TIMEOUT), "writes blocked by a stalled RangeStream")
        t.join()
        self.assertEqual(errors, [])
        merged = etcdrpc.RangeResponse()
        merged.MergeFrom(first)
        for c, _ in it:
            merged.MergeFrom(c)
        unary = self.kv.Range(RR(key=b"slow/", range_end=b"slow0",
                                 revision=merged.header.revision), TIMEOUT)
        # Range's header.revision is the current one (etcd, even for an older revision); the
        # stream's is its pinned first snapshot's, from before the writes.
        self.assertLess(merged.header.revision, unary.header.revision)
        unary.header.revision = merged.header.revision
        self.assertEqual(merged, unary)
        self.assertEqual(merged.count, 2000)
        self.assertTrue(all(kv.value == b"s" * 3000 for kv in merged.kvs))

    def test_compaction_past_pinned_revision(self):
        """etcd 3.7: a compaction past the pinned revision fails the stream with ErrCompacted.
        Each chunk reads its own snapshot, so the first chunk read after the compaction fails;
        chunks already in gRPC's flow-control window may still arrive before the error."""
        self.put_many([(b"cmp/%04d" % i, b"z" * 8000) for i in range(1200)])  # ~10 MB
        it = self.stream_call(RR(key=b"cmp/", range_end=b"cmp0"), timeout=TIMEOUT)
        next(it)
        rev = self.put(b"cmp-other", b"1").header.revision
        self.kv.Compact(etcdrpc.CompactionRequest(revision=rev, physical=True), TIMEOUT)
        n = 1
        with self.assertRaises(grpc.RpcError) as cm:
            for _ in it:
                n += 1
        self.assertEqual(cm.exception.code(), grpc.StatusCode.OUT_OF_RANGE, cm.exception)
        self.assertEqual(cm.exception.details(),
                         "etcdserver: mvcc: required revision has been compacted")
        # ~150 chunks of 64 KiB in all: the error came mid-stream, not at the end.
        self.assertLess(n, 50, "chunks received before the compacted error")
        # A stream at a compacted revision fails at once; at the compact revision it works.
        self.assertRpcError(grpc.StatusCode.OUT_OF_RANGE,
                            lambda: self.stream(key=b"cmp/", range_end=b"cmp0", revision=rev - 1),
                            "etcdserver: mvcc: required revision has been compacted")
        self.assert_same_as_range(dict(key=b"cmp/", range_end=b"cmp0", revision=rev, limit=5))



@harness.skip_unless_etcdpp("RangeStream is etcd 3.7; the reference etcd 3.4 lacks it")
class RangeStreamLearnerTest(cluster.ClusterTestCase):
    """A learner treats RangeStream as Range: it refuses the linearizable one (etcd 3.6:
    FailedPrecondition, `etcdserver: rpc not supported for learner`) and serves the
    serializable one from its own state."""

    def test_learner(self):
        c = self.new_cluster(1, proxy=False)
        ch0 = grpc.insecure_channel(c.members[0].endpoint)
        self.addCleanup(ch0.close)
        kv0 = etcdrpc.KVStub(ch0)
        for i in range(30):
            kv0.Put(etcdrpc.PutRequest(key=b"ln/%02d" % i, value=b"v"), TIMEOUT)
        m1, _ = c.add_member("m1", learner=True)
        cluster.wait_keys(m1, "ln/", {"ln/%02d" % i for i in range(30)})
        ch1 = grpc.insecure_channel(m1.endpoint)
        self.addCleanup(ch1.close)
        call = ch1.unary_stream("/etcdserverpb.KV/RangeStream",
                                request_serializer=RR.SerializeToString,
                                response_deserializer=decode_chunk)
        with self.assertRaises(grpc.RpcError) as cm:
            list(call(RR(key=b"ln/", range_end=b"ln0"), timeout=TIMEOUT))
        self.assertEqual(cm.exception.code(), grpc.StatusCode.FAILED_PRECONDITION, cm.exception)
        self.assertEqual(cm.exception.details(), "etcdserver: rpc not supported for learner")
        chunks = list(call(RR(key=b"ln/", range_end=b"ln0", serializable=True), timeout=TIMEOUT))
        merged = etcdrpc.RangeResponse()
        for chunk, _ in chunks:
            merged.MergeFrom(chunk)
        self.assertEqual(merged.count, 30)
        self.assertEqual([kv.key for kv in merged.kvs], [b"ln/%02d" % i for i in range(30)])
        self.assertGreater(len(chunks), 1)  # 10 kvs first


if __name__ == "__main__":
    harness.main()
