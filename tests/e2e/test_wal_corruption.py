#!/usr/bin/python3
"""e2e (etcdpp-specific): damaged WAL files, per docs/wal_format.md (branch `wal`).

* A torn tail (damage after the last acknowledged record of the last segment: a partial record,
  a damaged copy of a record, garbage in the preallocated zero space) is repaired at start: the
  server starts and every acknowledged write is there.
* Damage in the middle of the log (a record followed by valid ones in the last segment, or any
  damage in an older segment) is corruption: the server refuses to start, names the file, and
  leaves the file untouched.

The damage is always placed where no acknowledged write lives, or the test expects a refusal,
so no test depends on which acknowledged write a repair may drop. Skipped for real etcd (its WAL
format differs). WalHelpersTest checks the file helpers on a synthetic segment and always runs.
"""

import hashlib
import os
import random
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
import walfile  # noqa: E402

from etcd3 import etcdrpc  # noqa: E402

ETCDPP_ONLY = harness.skip_unless_etcdpp("etcdpp's WAL format (docs/wal_format.md)")
# No raft snapshot during the test, so recovery reads every segment from the first.
SERVER_ARGS = ["--snapshot-count", "100000"]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class WalTestBase(harness.MemberTestCase):

    def write_keys(self, m, n, prefix="wal/", value_size=100):
        c = m.client()
        written = {}
        try:
            for i in range(n):
                key = ("%s%04d" % (prefix, i)).encode()
                value = (b"%04d-" % i) * (value_size // 5 + 1)
                c.kvstub.Put(etcdrpc.PutRequest(key=key, value=value[:value_size]), 60)
                written[key] = value[:value_size]
        finally:
            c.close()
        return written

    def check_keys(self, m, written):
        c = m.client()
        try:
            resp = c.kvstub.Range(etcdrpc.RangeRequest(key=b"\0", range_end=b"\0"), 60)
        finally:
            c.close()
        got = {kv.key: kv.value for kv in resp.kvs}
        missing = [k for k in written if got.get(k) != written[k]]
        self.assertEqual(missing[:10], [], "%d acknowledged writes lost or wrong" % len(missing))
        return resp.header.revision

    def last_segment(self, m):
        segs = walfile.segments(m.data_dir)
        self.assertTrue(segs, "no WAL segments in %s" % walfile.wal_dir(m.data_dir))
        # The server was idle when killed, but tolerate a torn record it may have been writing.
        records, end = walfile.read_segment(segs[-1], allow_torn_tail=True)
        entries = [r for r in records if r.type == walfile.TYPE_ENTRY]
        self.assertTrue(entries, "no entry records in %s" % segs[-1])
        return segs[-1], records, end, entries

    def expect_refusal(self, m, path):
        """Starts the server and expects it to exit non-zero naming `path`'s file, with the file
        left byte for byte as it was."""
        before = sha256(path)
        m.spawn()
        try:
            rc = m.proc.wait(60)
        except subprocess.TimeoutExpired:
            m.kill9()
            self.fail("server still running on a corrupt WAL\n" + m.log_tail())
        m._reap()
        # A refusal is a normal exit with an error code; dying of a signal (abort, segfault)
        # is not a clear refusal.
        self.assertGreater(rc, 0, "exit status %d on a corrupt WAL\n%s" % (rc, m.log_tail()))
        self.assertIn(os.path.basename(path), m.server_output(),
                      "the refusal must name the damaged file\n" + m.log_tail())
        self.assertEqual(sha256(path), before, "a refused WAL must not be modified")


@ETCDPP_ONLY
class WalTornTailTest(WalTestBase):
    """The last segment gets damage after its last record; every record before it was
    acknowledged, the damaged bytes never were."""

    def setUp(self):
        super().setUp()
        self.m = self.new_member(extra_args=SERVER_ARGS)
        self.written = self.write_keys(self.m, 30)
        self.rev = self.check_keys(self.m, self.written)
        self.m.kill9()
        self.seg, self.records, self.end, self.entries = self.last_segment(self.m)

    def restart_and_verify(self):
        self.m.restart()
        self.assertEqual(self.check_keys(self.m, self.written), self.rev)
        # The repaired log takes new writes, and they survive another crash.
        more = self.write_keys(self.m, 5, prefix="wal/after/")
        self.written.update(more)
        self.m.kill9()
        walfile.read_segment(walfile.segments(self.m.data_dir)[-1])  # a clean chain again
        self.m.restart()
        self.assertEqual(self.check_keys(self.m, self.written), self.rev + 5)

    def test_partial_record_at_tail(self):
        # A torn write: the first part of an entry record (header + part of the payload).
        last = self.entries[-1]
        raw = last.raw()
        walfile.patch(self.seg, self.end, raw[:walfile.HEADER_SIZE + max(1, last.length // 2)])
        self.restart_and_verify()

    def test_partial_header_at_tail(self):
        walfile.patch(self.seg, self.end, self.entries[-1].raw()[:5])
        self.restart_and_verify()

    def test_bitflipped_record_at_tail(self):
        # A whole record-shaped write after the last record, one payload byte flipped.
        last = self.entries[-1]
        raw = bytearray(last.raw())
        raw[walfile.HEADER_SIZE + last.length // 2] ^= 0x01
        walfile.patch(self.seg, self.end, bytes(raw))
        self.restart_and_verify()

    def test_garbage_in_preallocated_space(self):
        # Non-zero bytes in the zero-filled preallocated region beyond the end of the log.
        size = os.path.getsize(self.seg)
        offset = (self.end + 65536) & ~4095
        if offset + 64 > size:
            offset = self.end + 4096  # not preallocated: write past the end (a hole before it)
        walfile.patch(self.seg, offset, bytes(random.Random(7).randrange(1, 256)
                                              for _ in range(64)))
        self.restart_and_verify()


@ETCDPP_ONLY
class WalCorruptionTest(WalTestBase):

    def test_corrupt_record_in_middle_of_last_segment_refuses_start(self):
        m = self.new_member(extra_args=SERVER_ARGS)
        self.write_keys(m, 30)
        m.kill9()
        seg, records, end, entries = self.last_segment(m)
        victim = entries[len(entries) // 2]
        self.assertLess(victim.end, end, "valid records must follow the damaged one")
        walfile.flip_byte(seg, victim.payload_offset + victim.length // 2)
        self.expect_refusal(m, seg)

    def test_corrupt_length_in_middle_of_last_segment_refuses_start(self):
        m = self.new_member(extra_args=SERVER_ARGS)
        self.write_keys(m, 30)
        m.kill9()
        seg, records, end, entries = self.last_segment(m)
        victim = entries[len(entries) // 2]
        walfile.patch(seg, victim.offset, struct.pack("<I", victim.length + 3))
        self.expect_refusal(m, seg)

    def test_corrupt_byte_in_older_segment_refuses_start(self):
        # Big values fill the first segment (64 MiB by default) quickly.
        m = self.new_member(extra_args=SERVER_ARGS + ["--max-request-bytes", str(8 << 20)])
        c = m.client()
        written = 0
        try:
            value = os.urandom(4 << 20)
            while len(walfile.segments(m.data_dir)) < 2:
                if written >= 64:  # 256 MiB: far beyond any sane segment size
                    self.skipTest("no second WAL segment after %d MiB" % (written * 4))
                c.kvstub.Put(etcdrpc.PutRequest(key=b"big/%03d" % written, value=value), 120)
                written += 1
            c.kvstub.Put(etcdrpc.PutRequest(key=b"small", value=b"x"), 60)
        finally:
            c.close()
        m.kill9()
        segs = walfile.segments(m.data_dir)
        old = segs[0]
        records, end = walfile.read_segment(old)
        entries = [r for r in records if r.type == walfile.TYPE_ENTRY]
        self.assertTrue(entries, "no entry in %s" % old)
        victim = entries[len(entries) // 2]
        walfile.flip_byte(old, victim.payload_offset + victim.length // 2)
        self.expect_refusal(m, old)


class WalHelpersTest(harness.MemberTestCase):
    """The helpers above, on a synthetic segment written per docs/wal_format.md."""

    def test_crc32c_known_value(self):
        self.assertEqual(walfile.crc32c_extend(0, b"123456789"), 0xE3069283)
        self.assertEqual(walfile.crc32c_extend(walfile.crc32c_extend(0, b"1234"), b"56789"),
                         0xE3069283)

    def test_parse_synthetic_segment_and_damage(self):
        d = tempfile.mkdtemp(prefix="etcdpp-e2e-wal-")
        self.addCleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
        os.makedirs(os.path.join(d, "member", "wal"))
        seg = os.path.join(d, "member", "wal", "0000000000000000-0000000000000000.wal")
        entry = struct.pack("<QQB", 1, 1, 0) + b"hi"
        hard_state = struct.pack("<QQQ", 1, 1, 0)
        walfile.build_segment(seg, [(walfile.TYPE_METADATA, b"m1"), (walfile.TYPE_ENTRY, entry),
                                    (walfile.TYPE_HARD_STATE, hard_state)])
        records, end = walfile.read_segment(seg)
        # The offsets of the worked example in docs/wal_format.md.
        self.assertEqual([(r.offset, r.type) for r in records], [(0, 5), (13, 1), (24, 2), (52, 3)])
        self.assertEqual(end, 85)
        self.assertEqual(walfile.segments(d), [seg])
        walfile.flip_byte(seg, records[2].payload_offset + 3)
        with self.assertRaises(walfile.WalLayoutError):
            walfile.read_segment(seg)
        records2, end2 = walfile.read_segment(seg, verify_crc=False)
        self.assertEqual(end2, end)
        # A damaged last record is the end of the scan with allow_torn_tail.
        walfile.flip_byte(seg, records[2].payload_offset + 3)  # undo
        walfile.flip_byte(seg, records[3].payload_offset + 1)
        records3, end3 = walfile.read_segment(seg, allow_torn_tail=True)
        self.assertEqual((len(records3), end3), (3, 52))
        # A partial header after the data, as a torn write leaves it.
        walfile.flip_byte(seg, records[3].payload_offset + 1)  # undo
        walfile.patch(seg, end, b"\x13\x00\x00\x00\x99")
        self.assertEqual(walfile.read_segment(seg, allow_torn_tail=True)[1], end)
        with self.assertRaises(walfile.WalLayoutError):
            walfile.read_segment(seg)


if __name__ == "__main__":
    harness.main()
