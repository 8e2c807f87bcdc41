#!/usr/bin/python3
"""e2e: the data dir's file system fills up while writes are going on.

The data dir lives on a small tmpfs (needs root and permission to mount; skipped otherwise).
Writes go on until the server refuses one or dies. Then: the failure must be explained in the
log ("no space left on device"), and after the file system is grown and the server restarted
(killed first if it still runs), every acknowledged write is there and new writes work.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402

from etcd3 import etcdrpc  # noqa: E402

TMPFS_MB = 160  # above the 64 MiB WAL segment preallocation, small enough to fill quickly
VALUE_BYTES = 512 * 1024


def mount_tmpfs(path, size_mb, remount=False):
    opts = "size=%dm" % size_mb
    if remount:
        opts = "remount," + opts
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path],
                          capture_output=True, text=True)


class DiskFullTest(harness.MemberTestCase):

    def test_disk_full_keeps_acknowledged_writes(self):
        m = self.new_member(start=False)
        mnt = os.path.join(m.root, "mnt")
        os.makedirs(mnt)
        r = mount_tmpfs(mnt, TMPFS_MB) if os.geteuid() == 0 else None
        if r is None or r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: %s" % (r.stderr.strip() if r else "not root"))

        def unmount():
            m.kill9()
            subprocess.run(["umount", "-l", mnt], capture_output=True)

        self.addCleanup(unmount)
        m.data_dir = os.path.join(mnt, "data")
        m.start()

        acked = {}
        failure = None
        c = m.client(timeout=60)
        try:
            for i in range(4 * TMPFS_MB * (1 << 20) // VALUE_BYTES):
                key = b"full/%05d" % i
                value = (b"%05d" % i) * (VALUE_BYTES // 5)
                try:
                    c.kvstub.Put(etcdrpc.PutRequest(key=key, value=value), 60)
                except Exception as e:
                    failure = e
                    break
                acked[key] = value
        finally:
            c.close()
        self.assertIsNotNone(failure, "%d MiB written to a %d MiB file system without an error"
                             % (len(acked) * VALUE_BYTES >> 20, TMPFS_MB))
        # The server may refuse writes and stay up (an error of its own, "etcdserver: ..."), or
        # exit (etcd does: the call then fails on the broken connection); either way it must
        # say why.
        server_exited = not (failure.details() or "").startswith("etcdserver:")
        if server_exited:
            try:
                rc = m.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.fail("write failed with %s: %s, but the server neither exited nor answered "
                          "with an error of its own\n%s" % (failure.code(), failure.details(),
                                                             m.log_tail()))
            self.assertGreater(rc, 0, "died of a signal, not a clean exit\n" + m.log_tail())
        said = (m.server_output() + "\n" + (failure.details() or "")).lower()
        self.assertTrue("no space left on device" in said or "enospc" in said,
                        "the log or the error must name the cause\n" + m.log_tail())
        if not server_exited:
            # Reads still work while the disk is full.
            c = m.client(timeout=60)
            try:
                resp = c.kvstub.Range(etcdrpc.RangeRequest(key=b"full/00000"), 60)
                self.assertEqual(resp.kvs[0].value, acked[b"full/00000"])
            finally:
                c.close()
        m.kill9()

        r = mount_tmpfs(mnt, TMPFS_MB * 4, remount=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        m.start(new_ports=False)
        sys.stderr.write("disk full after %d acknowledged writes of %d KiB (%s)\n" % (
            len(acked), VALUE_BYTES >> 10, "server exited" if server_exited else
            "server refused with %s: %s" % (failure.code(), failure.details())))
        c = m.client(timeout=60)
        try:
            # One key per call: the client accepts replies of at most 4 MiB.
            lost = []
            for k in acked:
                resp = c.kvstub.Range(etcdrpc.RangeRequest(key=k), 60)
                if not resp.kvs or resp.kvs[0].value != acked[k]:
                    lost.append(k)
            self.assertEqual(lost[:10], [], "%d acknowledged writes lost (of %d)" % (
                len(lost), len(acked)))
            c.kvstub.Put(etcdrpc.PutRequest(key=b"after", value=b"works"), 60)
            self.assertEqual(c.get("after")[0], b"works")
        finally:
            c.close()


if __name__ == "__main__":
    harness.main()
